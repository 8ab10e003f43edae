"""The shared-memory protocol (thesis §2.3, eqs. 2.4-2.6): inconsistent reads, lock-free writes,
J(t) and Delta from the trace, replay bit-identical to simulate."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim import Budget, Cluster, ConstantSpeed, ExponentialSpeed, Network, PersistentSlow, WorkerSpec, replay, \
    simulate, staleness_stats
from sim.protocols.shared_memory import SharedMemory
from sim.trace import MESSAGE, Trace
from toy_roles import SharedQuadratic


class LoggedQuadratic(SharedQuadratic):
    """SharedQuadratic that logs every read it is handed and every write it applies."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.reads: list[tuple[int, np.ndarray]] = []
        self.writes: list[tuple[np.ndarray, np.ndarray]] = []

    def work(self, p, w_hat, rng):
        self.reads.append((p, w_hat.copy()))
        return super().work(p, w_hat, rng)

    def apply(self, p, msg):
        idx = np.arange(self.d) if msg.index is None else msg.index
        self.writes.append((idx, msg.payload.copy()))
        super().apply(p, msg)


def _cluster(speeds, *, latency=0.1, per_byte=0.01, channels=None):
    return Cluster(tuple(WorkerSpec(ConstantSpeed(s)) for s in speeds),
                   network=Network(latency=latency, per_byte=per_byte, channels=channels))


def _brute_force(trace: Trace, roles: LoggedQuadratic, r: float):
    """For each message row: the read w_hat it must have had, and J(t), from first principles.

    Coordinate i of a read starting at t0 is read at t0 + i r / d and sees exactly the writes
    committed at or before that moment (applied in commit order from w = 0); write j is missed when a
    coordinate it wrote was read before it committed, or when it committed after the read ended.
    """
    d = roles.d
    rows = np.flatnonzero(trace.kind == MESSAGE)
    commits = trace.t_arrival[rows]
    expected_reads, expected_missed = {}, {}
    for row in rows:
        t0, t = trace.t_read[row], int(trace.version_applied[row]) - 1
        w_hat = np.empty(d)
        for i in range(d):
            moment = t0 + i * r / d
            w = np.zeros(d)
            for j in range(t):
                if commits[j] <= moment:
                    idx, val = roles.writes[j]
                    w[idx] -= val
            w_hat[i] = w[i]
        expected_reads[row] = w_hat
        missed = []
        for j in range(t):
            idx, _ = roles.writes[j]
            read_at = t0 + idx * r / d
            if commits[j] > t0 + r or np.any(read_at < commits[j]):
                if commits[j] > t0:
                    missed.append(j)
        expected_missed[row] = missed
    return expected_reads, expected_missed


def test_two_threads_exact_scenario():
    """Rule: a write committing during a read is missed on the coordinates read before it (eq. 2.6).

    d = 4, read time r = 0.1 + 0.01 * 32 = 0.42, write time 0.1 + 0.01 * 32 = 0.42, work 1 per
    update; thread 0 computes in 0.5, thread 1 in 1.3. Thread 0 reads [0, 0.42], computes to
    0.92, writes to 1.34 (write 0). Thread 1 reads [0, 0.42] (write 0 not yet), computes to 1.72,
    writes to 2.14 (write 1): it missed write 0 entirely (committed after its read ended).
    Thread 0's second read [1.34, 1.76] sees write 0; write 1 commits at 2.14, after that read.
    """
    roles = LoggedQuadratic(2, d=4, coords=None, noise=0.0)
    res = simulate(roles, _cluster([0.5, 1.3]), seed=0, budget=Budget(max_updates=3))
    tr = res.trace
    msgs = np.flatnonzero(tr.kind == MESSAGE)
    assert tr.worker[msgs].tolist() == [0, 1, 0]
    np.testing.assert_allclose(tr.t_arrival[msgs], [1.34, 2.14, 2.68])
    assert tr.version_read[msgs].tolist() == [0, 0, 1]
    assert tr.version_seen[msgs].tolist() == [0, 0, 1]
    assert [SharedMemory.missed(tr, int(i))[0].tolist() for i in msgs] == [[], [0], [1]]
    assert staleness_stats(tr).max == 1


def test_a_write_during_a_read_is_seen_only_on_coordinates_read_after_it():
    """Rule: coordinate i of a read starting at t0 is read at t0 + i r / d (eq. 2.6, one coordinate at
    a time). d = 4, r = 0.42. Thread 1 writes at 1.32 (write 0) and reads again over [1.32, 1.74];
    thread 0's write 1 commits at 1.42, when only coordinate 0 has been read (cut q = ceil(0.1 * 4 /
    0.42) = 1): the read holds write 0's value at coordinate 0 and write 1's at coordinates 1..3."""
    roles = LoggedQuadratic(2, d=4, coords=None, noise=0.0)
    cl = Cluster((WorkerSpec(ConstantSpeed(0.58)), WorkerSpec(ConstantSpeed(0.48))),
                 network=Network(latency=0.1, per_byte=0.01))
    res = simulate(roles, cl, seed=0, budget=Budget(max_updates=3))
    tr = res.trace
    msgs = np.flatnonzero(tr.kind == MESSAGE)
    assert tr.worker[msgs].tolist() == [1, 0, 1]
    np.testing.assert_allclose(tr.t_arrival[msgs], [1.32, 1.42, 2.64])
    third = int(msgs[2])
    assert (tr.version_read[third], tr.version_seen[third]) == (1, 2)
    writes, cuts = SharedMemory.missed(tr, third)
    assert writes.tolist() == [1] and cuts.tolist() == [1]
    after0 = -roles.writes[0][1]
    after1 = after0 - roles.writes[1][1]
    expected = np.concatenate(([after0[0]], after1[1:]))
    second_read_of_thread1 = [w for p, w in roles.reads if p == 1][1]
    np.testing.assert_array_equal(second_read_of_thread1, expected)
    assert staleness_stats(tr).max == 1


@settings(max_examples=40)
@given(P=st.integers(1, 5), d=st.integers(2, 7), coords=st.one_of(st.none(), st.integers(1, 2)),
       R=st.one_of(st.none(), st.integers(1, 6)), channels=st.one_of(st.none(), st.integers(1, 3)),
       speeds=st.lists(st.floats(0.3, 3.0), min_size=5, max_size=5), per_byte=st.floats(0.0, 0.05),
       seed=st.integers(0, 10_000))
def test_reads_and_missed_writes_match_first_principles(P, d, coords, R, channels, speeds, per_byte, seed):
    """Every w_hat a thread is handed equals the coordinate-by-coordinate read of eq. 2.6, and the
    trace's J(t) is exactly the set of earlier writes the read missed, all within the Delta the trace
    reports; replay reproduces the run bit for bit."""
    coords = None if coords is None else min(coords, d)
    speeds = [s + 0.0137 * k for k, s in enumerate(speeds[:P])]  # keep event times apart
    cl = _cluster(speeds, latency=0.1, per_byte=per_byte, channels=channels)
    roles = LoggedQuadratic(P, d=d, coords=coords, round_length=R, noise=0.5, seed=seed)
    res = simulate(roles, cl, seed=seed, budget=Budget(max_updates=25))
    tr = res.trace
    tr.validate()
    r = 0.1 + per_byte * 8 * d
    reads, missed = _brute_force(tr, roles, r)
    msgs = np.flatnonzero(tr.kind == MESSAGE)
    handed = {}
    for p in range(P):  # the k-th read handed to thread p belongs to its k-th row (message or in flight)
        rows_p = np.flatnonzero((tr.worker == p) & (tr.kind != 1))
        reads_p = [w for q, w in roles.reads if q == p]
        handed.update(dict(zip(rows_p.tolist(), reads_p)))
    delta = staleness_stats(tr).max
    for row in msgs.tolist():
        np.testing.assert_array_equal(handed[row], reads[row])
        J = SharedMemory.missed(tr, row)[0].tolist()
        assert J == missed[row]
        t = int(tr.version_applied[row]) - 1
        assert all(1 <= t - j <= delta for j in J)
    if channels == 1:  # one transfer at a time: no write can land during a read
        assert np.all(tr.version_read == tr.version_seen)
    again = replay(tr, SharedQuadratic(P, d=d, coords=coords, round_length=R, noise=0.5, seed=seed), seed=seed)
    assert np.array_equal(again.params, res.params) and again.records == res.records


@settings(max_examples=25)
@given(P=st.integers(1, 6), R=st.one_of(st.none(), st.integers(2, 9)), channels=st.one_of(st.none(), st.integers(1, 3)),
       seed=st.integers(0, 10_000), stop=st.sampled_from(["time", "epochs", "target"]))
def test_replay_equals_simulate_on_random_clusters(P, R, channels, seed, stop):
    """Random speeds, stragglers, latencies and every kind of stop: replay is bit-identical."""
    rng = np.random.default_rng(seed)
    workers = tuple(WorkerSpec(ExponentialSpeed(float(rng.uniform(0.2, 2.0))),
                               straggler=PersistentSlow(4.0) if k == 0 else None) for k in range(P))
    cl = Cluster(workers, network=Network(latency=ExponentialSpeed(0.1), per_byte=0.002, channels=channels))
    budget = {"time": Budget(max_time=30.0), "epochs": Budget(max_epochs=9.5),
              "target": Budget(max_updates=400, target=("objective", 0.05))}[stop]
    make = lambda: SharedQuadratic(P, d=8, coords=3, round_length=R, barrier_work=0.7, seed=seed)  # noqa: E731
    res = simulate(make(), cl, seed=seed, budget=budget, record_every=3)
    again = replay(res.trace, make(), seed=seed, record_every=3, target=budget.target)
    assert np.array_equal(again.params, res.params) and again.records == res.records
    assert (again.status, again.step) == (res.status, res.step)
    loaded = res.trace
    assert staleness_stats(loaded).max <= (R - 1 if R else np.inf)


def test_a_straggling_thread_is_one_line_and_reads_staler_values(tmp_path):
    """PersistentSlow on thread 0 (one line) makes its writes the stalest; the trace survives save/load."""
    workers = (WorkerSpec(ConstantSpeed(1.0), straggler=PersistentSlow(8.0)),) + (WorkerSpec(ConstantSpeed(1.0)),) * 3
    cl = Cluster(workers, network=Network(latency=0.01))
    res = simulate(SharedQuadratic(4, d=10, coords=4), cl, seed=1, budget=Budget(max_updates=300))
    st_ = staleness_stats(res.trace)
    assert st_.per_worker[0].mean > 3 * max(st_.per_worker[k].mean for k in (1, 2, 3))
    res.trace.save(tmp_path / "t.npz")
    back = Trace.load(tmp_path / "t.npz")
    assert back.meta == {"d": 10} and np.array_equal(back.arrays["missed_cut"], res.trace.arrays["missed_cut"])
    again = replay(back, SharedQuadratic(4, d=10, coords=4), seed=1)
    assert np.array_equal(again.params, res.params)


def test_one_thread_with_instantaneous_reads_is_a_serial_loop():
    """P = 1, reads and writes taking no time: every read is the current vector, J(t) is empty."""
    roles = LoggedQuadratic(1, d=5, coords=2, round_length=4)
    simulate(roles, Cluster.homogeneous(1, speed=ConstantSpeed(1.0)), seed=2, budget=Budget(max_updates=12))
    ref = SharedQuadratic(1, d=5, coords=2, round_length=4)
    from algorithms.roles import worker_streams
    rng = worker_streams(2, 1)[0]
    for k in range(12):
        if k % 4 == 0:
            ref.barrier()
        np.testing.assert_array_equal(roles.reads[k][1], ref.shared)
        ref.apply(0, ref.work(0, ref.read(), rng))
    assert np.array_equal(roles.shared, ref.shared)


def _trace(P=3, R=None):
    cl = _cluster([0.5, 0.7, 1.1][:P], latency=0.1, per_byte=0.01)
    return simulate(SharedQuadratic(P, d=4, coords=None, round_length=R), cl, seed=0,
                    budget=Budget(max_updates=12)).trace


def _with(trace, **arrays):
    return Trace(trace.columns, K=trace.K, protocol=trace.protocol, round_length=trace.round_length,
                 t_end=trace.t_end, arrays={**trace.arrays, **arrays}, meta=trace.meta)


def test_validate_rejects_impossible_missed_sets():
    """A trace whose J(t) lists a later write, a bad cut, or leaves out a write after the read is refused."""
    tr = _trace()
    tr.validate()
    w = tr.arrays["missed_write"].copy()
    assert w.size > 0
    bad = w.copy()
    bad[0] = 10_000
    with pytest.raises(ValueError, match="missed write 10000"):
        _with(tr, missed_write=bad).validate()
    cut = tr.arrays["missed_cut"].copy()
    cut[0] = 0
    with pytest.raises(ValueError, match="cut in \\[1, d=4\\]"):
        _with(tr, missed_cut=cut).validate()
    ptr = tr.arrays["missed_ptr"].copy()
    row = int(np.flatnonzero(np.diff(ptr) > 0)[0])
    keep = np.ones(w.size, dtype=bool)
    keep[ptr[row]] = False
    shorter = ptr.copy()
    shorter[row + 1:] -= 1
    with pytest.raises(ValueError, match="must be listed as missed|missed write"):
        _with(tr, missed_ptr=shorter, missed_write=w[keep], missed_cut=tr.arrays["missed_cut"][keep]).validate()
    with pytest.raises(ValueError, match="needs meta\\['d'\\]"):
        Trace(tr.columns, K=tr.K, protocol=tr.protocol, round_length=None, t_end=tr.t_end, arrays=tr.arrays).validate()


def test_shared_memory_roles_must_expose_the_shared_vector():
    class NoShared(SharedQuadratic):
        shared = None

    with pytest.raises(ValueError, match="roles.shared must be the shared parameter vector"):
        simulate(NoShared(2), Cluster.homogeneous(2), seed=0, budget=Budget(max_updates=3))


@pytest.mark.parametrize("coords", [None, 1, 5])
def test_one_thread_with_instantaneous_reads_is_bit_identical_to_serial_svrg(coords):
    """Shared-AsySVRG (Alg. 1) with P = 1 and reads, writes taking no time is serial SVRG: the
    same iterates bit for bit as algorithms.asysvrg.svrg with the thread's own stream."""
    from algorithms.asysvrg import SharedAsySVRG, svrg
    from algorithms.problems import LogisticProblem
    from algorithms.roles import worker_streams

    rng = np.random.default_rng(3)
    X = rng.standard_normal((80, 12))
    y = np.where(X @ rng.standard_normal(12) > 0, 1.0, -1.0)
    problem = LogisticProblem(X, y, 0.01)
    m, epochs = 15, 4
    roles = SharedAsySVRG(problem, 1, eta=0.2, batch=4, m=m, coords=coords)
    res = simulate(roles, Cluster.homogeneous(1, speed=ConstantSpeed(1e-3)), seed=11,
                   budget=Budget(max_updates=epochs * m))
    ref = svrg(problem, eta=0.2, batch=4, m=m, epochs=epochs, rng=worker_streams(11, 1)[0], coords=coords)
    assert res.step == epochs * m and staleness_stats(res.trace).max == 0
    assert np.array_equal(res.params, ref.w)
