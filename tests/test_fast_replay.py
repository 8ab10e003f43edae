"""Reads that cost what they touch (copy-on-write reads of the parameter-server protocol) and the
fast replay engine: both must give the numbers of the plain path bit for bit."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from algorithms.dfsdca import DisDfSDCA
from algorithms.problems import RidgeProblem
from algorithms.roles import worker_streams
from sim import Budget, Cluster, ExponentialSpeed, Network, ThesisStraggler, replay, simulate
from sim.cluster import ConstantSpeed, WorkerSpec
from sim.trace import BARRIER
from sim.records import EveryMessages, Geometric, RecordSchedule


class CopyingDisDfSDCA(DisDfSDCA):
    """The same roles without work_now: the protocol copies every read (the path before lazy reads)."""

    work_now = None


def _ridge(sparse: bool, n: int = 300, d: int = 12, seed: int = 0) -> RidgeProblem:
    r = np.random.default_rng(seed)
    X = sp.random(n, d, density=0.25, format="csr", random_state=seed) if sparse else r.standard_normal((n, d))
    return RidgeProblem(X, r.standard_normal(n), lam=0.1)


def _clusters(K: int):
    # constant speeds: many updates land at the same instant as other workers' grants (ties)
    yield Cluster(tuple(WorkerSpec(ConstantSpeed(1.0 + (k % 2))) for k in range(K)), Network(0.5, 0.0))
    yield Cluster.homogeneous(K, speed=ExponentialSpeed(1.0), network=Network(ExponentialSpeed(0.05)),
                              straggler=ThesisStraggler())


@pytest.mark.parametrize("sparse", [False, True])
def test_copy_on_write_reads_equal_copied_reads(sparse):
    problem = _ridge(sparse)
    for K, H, T in ((4, 5, 6), (3, 1, 4), (5, 8, None)):
        for cluster in _clusters(K):
            kw = dict(eta=0.02, H=H, T=T or 10 ** 6)
            lazy, copying = DisDfSDCA(problem, K, **kw), CopyingDisDfSDCA(problem, K, **kw)
            budget = Budget(max_updates=120)
            a = simulate(lazy, cluster, seed=7, budget=budget, record_every=13)
            b = simulate(copying, cluster, seed=7, budget=budget, record_every=13)
            assert a.records == b.records and np.array_equal(a.params, b.params)
            assert np.array_equal(lazy.alpha, copying.alpha)
            for name in a.trace.columns:
                assert np.array_equal(a.trace.columns[name], b.trace.columns[name], equal_nan=True), name
            # replay (which always reads lazily) reproduces both
            c = replay(a.trace, DisDfSDCA(problem, K, **kw), seed=7, record_every=13)
            assert c.records == a.records and np.array_equal(c.params, a.params)


def test_reads_are_copied_when_the_server_moves_before_the_worker_computes(monkeypatch):
    """Force every worker to resume one zero-time event late, so that with constant speeds other
    updates land between a read's grant and its computation: the protocol must then copy the read."""
    from sim.protocols import base, parameter_server as ps

    def late_grant(self, k):
        got = yield from base.GatedProcesses.wait_for_grant(self, k)
        if got is not None:
            yield self.env.timeout(0.0)
            yield self.env.timeout(0.0)
        return got

    copies = []
    materialise = ps.AsyncProcesses._materialise

    def counting(self):
        copies.append(len(self.unread))
        materialise(self)

    monkeypatch.setattr(ps.AsyncProcesses, "wait_for_grant", late_grant)
    monkeypatch.setattr(ps.AsyncProcesses, "_materialise", counting)
    problem = _ridge(True)
    cluster = Cluster(tuple(WorkerSpec(ConstantSpeed(1.0)) for _ in range(4)), Network(0.0, 0.0))
    kw = dict(eta=0.02, H=4, T=10 ** 6)
    lazy, copying = DisDfSDCA(problem, 4, **kw), CopyingDisDfSDCA(problem, 4, **kw)
    a = simulate(lazy, cluster, seed=3, budget=Budget(max_updates=60), record_every=7)
    n_copies = sum(copies)
    b = simulate(copying, cluster, seed=3, budget=Budget(max_updates=60), record_every=7)
    assert n_copies > 0  # the copy-on-write path ran
    assert a.records == b.records and np.array_equal(a.params, b.params) and np.array_equal(lazy.alpha, copying.alpha)
    assert np.array_equal(a.trace.version_read, b.trace.version_read)


def _random_cluster(K: int, r: np.random.Generator) -> Cluster:
    means = r.uniform(0.2, 3.0, size=K)
    return Cluster(tuple(WorkerSpec(ExponentialSpeed(float(mu))) for mu in means),
                   Network(ExponentialSpeed(float(r.uniform(0.01, 0.5)))))


@pytest.mark.parametrize("sparse", [False, True])
def test_fast_replay_equals_simulate_on_random_clusters(sparse):
    problem = _ridge(sparse, n=240, d=9, seed=2)
    r = np.random.default_rng(11)
    for trial in range(6):
        K = int(r.integers(1, 6))
        H = int(r.integers(2, 12))
        T = int(r.choice([3, 7, 10 ** 6]))
        every = int(r.integers(1, 30))
        cluster = _random_cluster(K, r) if trial % 2 else Cluster.homogeneous(
            K, speed=ExponentialSpeed(1.0), network=Network(ExponentialSpeed(0.05)), straggler=ThesisStraggler())
        kw = dict(eta=float(r.uniform(0.005, 0.05)), H=H, T=T)
        seed = int(r.integers(100))
        sim = simulate(DisDfSDCA(problem, K, **kw), cluster, seed=seed, budget=Budget(max_updates=150),
                       record_every=every)
        fast = replay(sim.trace, DisDfSDCA(problem, K, **kw), seed=seed, record_every=every, engine="fast")
        slow = replay(sim.trace, DisDfSDCA(problem, K, **kw), seed=seed, record_every=every)
        assert fast.records == sim.records == slow.records
        assert np.array_equal(fast.params, sim.params) and fast.step == sim.step
        assert (fast.status, fast.stopped_by) == (slow.status, slow.stopped_by)


def test_fast_replay_stops_like_replay_at_target_and_divergence():
    problem = _ridge(False, n=200, d=6, seed=4)
    K = 3
    cluster = Cluster.homogeneous(K, speed=ExponentialSpeed(1.0), network=Network(ExponentialSpeed(0.05)))
    sim = simulate(DisDfSDCA(problem, K, eta=0.01, H=5, T=6), cluster, seed=1, budget=Budget(max_updates=200))
    target = ("objective", float([v for (_, _, _, m, v) in sim.records if m == "objective"][40]))
    for kw, status in ((dict(eta=0.01, H=5, T=6), "target_reached"), (dict(eta=50.0, H=5, T=6), "diverged")):
        a = replay(sim.trace, DisDfSDCA(problem, K, **kw), seed=1, record_every=3, target=target, engine="fast")
        b = replay(sim.trace, DisDfSDCA(problem, K, **kw), seed=1, record_every=3, target=target)
        assert (a.status, a.step, a.diverged_at) == (b.status, b.step, b.diverged_at) and b.status == status
        assert a.records == b.records or all(
            x[:4] == y[:4] and (x[4] == y[4] or (np.isnan(x[4]) and np.isnan(y[4]))) for x, y in zip(a.records, b.records))
        assert np.array_equal(a.params, b.params, equal_nan=True)


def test_fast_replay_needs_a_compiled_block():
    problem = _ridge(False, n=50, d=4)
    cluster = Cluster.homogeneous(2, speed=ExponentialSpeed(1.0))
    sim = simulate(DisDfSDCA(problem, 2, eta=0.01, H=1, T=4), cluster, seed=0, budget=Budget(max_updates=10))
    with pytest.raises(ValueError, match="H >= 2"):
        replay(sim.trace, DisDfSDCA(problem, 2, eta=0.01, H=1, T=4), seed=0, engine="fast")
    with pytest.raises(ValueError, match="engine must be"):
        replay(sim.trace, DisDfSDCA(problem, 2, eta=0.01, H=1, T=4), seed=0, engine="numba")


class _EveryOddPrime(RecordSchedule):
    """A schedule without a vectorised ``first``: records at versions whose count of calls so far is
    prime, and logs every call (the fast replay must consult it once per version, in order)."""

    def __init__(self, log: list) -> None:
        self.log = log

    def due_function(self, roles, protocol):
        def due(version, t, epochs):
            self.log.append((version, t, epochs))
            return len(self.log) in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71)
        return due


def _schedules():
    yield 7
    yield EveryMessages(5)
    yield Geometric(0.3, 1.3, "sim_time")
    yield Geometric(0.02, 1.2, "epoch")
    yield Geometric(2, 1.5, "version")


@pytest.mark.parametrize("sparse", [False, True])
def test_fast_replay_honours_record_schedules(sparse, monkeypatch):
    """Integer record_every, EveryMessages and Geometric on all three axes: fast replay = simulate =
    Python replay bit for bit, with and without rounds (barriers), with look-ahead chunks shorter than
    the gaps between records; and the compiled loop returns only at records, barriers and chunk ends."""
    from sim.protocols import parameter_server as ps

    problem = _ridge(sparse, n=240, d=9, seed=5)
    K = 3
    cluster = Cluster.homogeneous(K, speed=ExponentialSpeed(1.0), network=Network(ExponentialSpeed(0.05)),
                                  straggler=ThesisStraggler())
    calls = []
    replay_ops = DisDfSDCA.replay_ops

    def counting(self, *args, **kwargs):
        calls.append(args[2])
        return replay_ops(self, *args, **kwargs)

    monkeypatch.setattr(DisDfSDCA, "replay_ops", counting)
    for T, chunk in ((10 ** 6, 4096), (10 ** 6, 6), (8, 4096)):
        monkeypatch.setattr(ps, "FAST_CHUNK", chunk)
        kw = dict(eta=0.02, H=4, T=T)
        for every in _schedules():
            sim = simulate(DisDfSDCA(problem, K, **kw), cluster, seed=9, budget=Budget(max_updates=300),
                           record_every=every)
            slow = replay(sim.trace, DisDfSDCA(problem, K, **kw), seed=9, record_every=every)
            calls.clear()
            fast = replay(sim.trace, DisDfSDCA(problem, K, **kw), seed=9, record_every=every, engine="fast")
            assert fast.records == sim.records == slow.records, (T, chunk, every)
            assert np.array_equal(fast.params, sim.params) and fast.step == sim.step == 300
            n_records = len({r[0] for r in sim.records})
            n_barriers = int((sim.trace.kind == BARRIER).sum()) if T < 10 ** 6 else 0
            assert len(calls) <= n_records + 2 * n_barriers + 300 // chunk + 2, (T, chunk, every, len(calls))
    # a schedule without a vectorised first(): consulted once per version, in order, as simulate does
    logs = [], [], []
    kw = dict(eta=0.02, H=4, T=10 ** 6)
    sim = simulate(DisDfSDCA(problem, K, **kw), cluster, seed=9, budget=Budget(max_updates=80),
                   record_every=_EveryOddPrime(logs[0]))
    fast = replay(sim.trace, DisDfSDCA(problem, K, **kw), seed=9, record_every=_EveryOddPrime(logs[1]), engine="fast")
    slow = replay(sim.trace, DisDfSDCA(problem, K, **kw), seed=9, record_every=_EveryOddPrime(logs[2]))
    assert fast.records == sim.records == slow.records and logs[0] == logs[1] == logs[2]
    assert [v for v, _, _ in logs[0]] == list(range(1, 81))


def test_fast_replay_op_codes_are_one_encoding():
    """The parameter server's schedule codes and the compiled kernels' codes are the same, and roles
    refuse codes they were not compiled for."""
    from algorithms import block_kernels as bk
    from sim.protocols import parameter_server as ps

    assert (ps.OP_READ, ps.OP_APPLY) == (bk.OP_READ, bk.OP_APPLY)
    assert ps.OP_BARRIER not in (bk.OP_READ, bk.OP_APPLY)
    problem = _ridge(False, n=60, d=4)
    roles = DisDfSDCA(problem, 2, eta=0.01, H=3, T=4)
    cluster = Cluster.homogeneous(2, speed=ExponentialSpeed(1.0))
    sim = simulate(roles, cluster, seed=0, budget=Budget(max_updates=10))
    ops, workers, _ = ps.replay_schedule(sim.trace)
    fresh = DisDfSDCA(problem, 2, eta=0.01, H=3, T=4)
    rngs = worker_streams(0, 2)
    with pytest.raises(ValueError, match=r"codes \(read, apply\) must be the compiled replay's \(0, 1\), got \(1, 0\)"):
        fresh.replay_ops(ops, workers, 0, rngs, 0, 0.0, 1, codes=(1, 0))


def test_fast_replay_leaves_every_stream_where_the_python_replay_leaves_it():
    """The dense fast replay draws each read's samples one read ahead; a call that stops at a record
    version must not have drawn past its last op, so after it every worker's stream, the params and
    the duals equal those of the role calls the Python replay makes for the same ops."""
    from sim.protocols.parameter_server import OP_APPLY, OP_READ, replay_schedule

    problem = _ridge(False)
    K, kw = 3, dict(eta=0.02, H=5, T=10 ** 6)
    cluster = next(_clusters(K))
    trace = simulate(DisDfSDCA(problem, K, **kw), cluster, seed=3, budget=Budget(max_updates=60)).trace
    ops, workers, _ = replay_schedule(trace)
    for stop in (1, 7, 23):
        fast, ref = DisDfSDCA(problem, K, **kw), DisDfSDCA(problem, K, **kw)
        rf, rr = worker_streams(3, K), worker_streams(3, K)
        pos, version, *_ = fast.replay_ops(ops, workers, 1, rf, 0, 0.0, stop, codes=(OP_READ, OP_APPLY))
        assert version == stop
        pending = {}
        for op, k in zip(ops[1:pos].tolist(), workers[1:pos].tolist()):  # op 0 is the first barrier
            if op == OP_READ:
                pending[k] = ref.work_now(k, rr[k])
            else:
                ref.apply(k, pending.pop(k))
        assert np.array_equal(fast.read(), ref.read()) and np.array_equal(fast.alpha, ref.alpha)
        for a, b in zip(rf, rr):
            assert a.bit_generator.state == b.bit_generator.state
