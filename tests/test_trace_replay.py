"""Traces (columns, validation, persistence, staleness statistics) and replay of hand-made traces."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from algorithms.roles import worker_streams
from sim import Budget, Cluster, ExponentialSpeed, Trace, replay, simulate, staleness_stats
from sim.trace import BARRIER, IN_FLIGHT, MESSAGE
from toy_roles import NoisyQuadratic


@st.composite
def async_schedules(draw, *, max_K: int = 4, max_len: int = 30):
    """(K, round_length, [(worker, version_read), ...]) that the async protocol can produce:
    one message in flight per worker, at most round_length reads per round, FIFO waiting queue."""
    K = draw(st.integers(1, max_K))
    R = draw(st.one_of(st.none(), st.integers(1, 6)))
    n = draw(st.integers(0, max_len))
    first = K if R is None else min(K, R)
    in_flight = {k: 0 for k in range(first)}
    queue = list(range(first, K))
    version, reads = 0, first
    events = []
    for _ in range(n):
        k = draw(st.sampled_from(sorted(in_flight)))
        events.append((k, in_flight.pop(k)))
        version += 1
        if R is not None and version % R == 0:
            queue.append(k)
            reads = 0
            while queue and reads < R:
                in_flight[queue.pop(0)] = version
                reads += 1
        elif R is None or reads < R:
            in_flight[k] = version
            reads += 1
        else:
            queue.append(k)
    return K, R, events


def _reference_async(roles, events, seed):
    """Independent numpy reference for NoisyQuadratic under an async schedule (keeps every version)."""
    rngs = worker_streams(seed, roles.K)
    W = [np.zeros(roles.d)]
    m = np.zeros((roles.K, roles.d))
    for k, vr in events:
        g = W[vr] - roles.centres[k] + roles.noise * rngs[k].standard_normal(roles.d)
        m[k] = roles.beta * m[k] + g
        W.append(W[-1] - roles.eta * m[k])
    return W


@settings(max_examples=30, deadline=None)
@given(sched=async_schedules(), seed=st.integers(0, 2**20))
def test_replay_of_hand_schedule_matches_numpy_reference(sched, seed):
    """replay(Trace.from_schedule(events)) computes each message from the version it read
    (w^{d(t)}, eq. 3.11) with the worker's own stream: equal to a direct numpy loop."""
    K, R, events = sched
    trace = Trace.from_schedule(events, K=K, round_length=R)
    roles = NoisyQuadratic(K, round_length=R)
    res = replay(trace, roles, seed=seed)
    W = _reference_async(NoisyQuadratic(K, round_length=R), events, seed)
    np.testing.assert_allclose(res.params, W[-1], rtol=1e-13, atol=1e-13)
    objective = [v for s, _, _, name, v in res.records if name == "objective"]
    ref = [0.5 * np.sum((w - roles.centres) ** 2) / K for w in W]
    np.testing.assert_allclose(objective, ref, rtol=1e-12)
    assert res.step == len(events)
    if R is not None:
        assert staleness_stats(trace).max <= R - 1
        assert roles.barriers == 1 + max(0, (len(events) - 1) // R)


def test_replay_sync_schedule_matches_numpy_reference():
    """Sync replay: each round every worker reads the same w, then w -= eta/K sum_k m_k (worker order)."""
    K, rounds, seed = 3, 5, 4
    events = [(k, r) for r in range(rounds) for k in range(K)]
    trace = Trace.from_schedule(events, K=K, protocol="sync", round_length=2)
    res = replay(trace, NoisyQuadratic(K, protocol="sync", round_length=2), seed=seed)
    ref = NoisyQuadratic(K, protocol="sync", round_length=2)
    rngs = worker_streams(seed, K)
    w, m = np.zeros(ref.d), np.zeros((K, ref.d))
    for _ in range(rounds):
        for k in range(K):
            m[k] = ref.beta * m[k] + w - ref.centres[k] + ref.noise * rngs[k].standard_normal(ref.d)
        w = w - ref.eta / K * m.sum(axis=0)
    np.testing.assert_allclose(res.params, w, rtol=1e-13)
    assert res.step == rounds
    assert int((trace.kind == BARRIER).sum()) == 3  # before round 0, after rounds 2 and 4


def test_staleness_and_stats_against_pandas():
    """staleness = version_applied - 1 - version_read; stats agree with a pandas groupby."""
    events = [(0, 0), (1, 0), (0, 1), (2, 0), (1, 2), (0, 3), (2, 4)]
    tr = Trace.from_schedule(events, K=3)
    np.testing.assert_array_equal(tr.staleness(), [0, 1, 1, 3, 2, 2, 2])
    s = staleness_stats(tr)
    df = tr.to_frame().query("kind == 'message'")
    assert s.max == df.staleness.max() and s.mean == pytest.approx(df.staleness.mean())
    np.testing.assert_array_equal(s.histogram, [1, 2, 3, 1])
    g = df.groupby("worker").staleness
    for k in range(3):
        assert s.per_worker[k].max == g.max()[k]
        assert s.per_worker[k].mean == pytest.approx(g.mean()[k])
        assert s.per_worker[k].count == g.count()[k]


def test_staleness_stats_of_empty_trace():
    """No messages: max 0, mean NaN, per-worker counts 0."""
    s = staleness_stats(Trace.from_schedule([], K=2))
    assert s.max == 0 and np.isnan(s.mean) and s.per_worker[1].count == 0


def test_save_load_roundtrip(tmp_path):
    """save()/load() via .npz keeps every column, dtype and the metadata; no temp file is left."""
    res = simulate(NoisyQuadratic(3, round_length=4), Cluster.homogeneous(3, speed=ExponentialSpeed(1.0)),
                   seed=2, budget=Budget(max_updates=25))
    path = tmp_path / "trace.npz"
    res.trace.save(path)
    back = Trace.load(path)
    for col in ("kind", "worker", "version_read", "version_applied", "t_read", "t_done", "t_arrival", "work"):
        a, b = getattr(res.trace, col), getattr(back, col)
        assert a.dtype == b.dtype and np.array_equal(a, b)
    assert (back.K, back.protocol, back.round_length, back.t_end) == (3, "async", 4, res.trace.t_end)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["trace.npz"]
    rep = replay(back, NoisyQuadratic(3, round_length=4), seed=2)
    assert np.array_equal(rep.params, res.params)


def test_saved_trace_gets_the_umasks_mode_not_0600(tmp_path):
    """A colleague can read a shared results directory: save() gives the file the mode a plain open()
    would (0o666 minus the umask), not tempfile.mkstemp's private 0o600."""
    import os

    res = simulate(NoisyQuadratic(2, round_length=4), Cluster.homogeneous(2, speed=ExponentialSpeed(1.0)),
                   seed=1, budget=Budget(max_updates=5))
    old = os.umask(0o022)
    try:
        res.trace.save(tmp_path / "t.npz")
    finally:
        os.umask(old)
    assert (tmp_path / "t.npz").stat().st_mode & 0o777 == 0o644


def test_to_frame_columns():
    """to_frame(): one row per event with kind names and staleness (NaN for barriers)."""
    df = Trace.from_schedule([(0, 0), (1, 0)], K=2).to_frame()
    assert isinstance(df, pd.DataFrame)
    assert list(df.kind) == ["barrier", "message", "message"]
    assert np.isnan(df.staleness[0]) and list(df.staleness[1:]) == [0, 1]


_ROW = ("kind", "worker", "version_read", "version_applied", "t_read", "t_done", "t_arrival", "work")


def _raw(rows, K=2, protocol="async", R=None):
    """A trace from rows (kind, worker, version_read, version_applied, t_read, t_done, t_arrival, work)."""
    cols = {name: np.array(c) for name, c in zip(_ROW, zip(*rows))}
    return Trace(cols, K=K, protocol=protocol, round_length=R, t_end=10.0)


@pytest.mark.parametrize("rows, R, msg", [
    ([(MESSAGE, 0, 0, 1, 0, 1, 1, 1)], None, "must start with the barrier"),
    ([(BARRIER, -1, 0, 0, 0, 0, 0, 0), (MESSAGE, 0, 1, 1, 0, 1, 1, 1)], None, "staleness must be >= 0"),
    ([(BARRIER, -1, 0, 0, 0, 0, 0, 0), (MESSAGE, 0, 0, 2, 0, 1, 1, 1)], None, "version_applied must be 1"),
    ([(BARRIER, -1, 0, 0, 0, 0, 0, 0), (MESSAGE, 5, 0, 1, 0, 1, 1, 1)], None, r"worker must be in \[0, K=2\)"),
    ([(BARRIER, -1, 0, 0, 0, 0, 0, 0), (MESSAGE, 0, 0, 1, 0, 1, 1, 1), (MESSAGE, 1, 0, 2, 0, 2, 2, 1),
      (MESSAGE, 0, 0, 3, 0, 3, 3, 1)], None, "one message in flight per worker"),
    ([(BARRIER, -1, 0, 0, 0, 0, 0, 0), (MESSAGE, 0, 0, 1, 0, 1, 1, 1), (MESSAGE, 1, 0, 2, 0, 2, 2, 1),
      (BARRIER, -1, 2, 2, 2, 2, 2, 0), (MESSAGE, 0, 1, 3, 1, 3, 3, 1)], 2, "round gating violated"),
    ([(BARRIER, -1, 0, 0, 0, 0, 0, 0), (MESSAGE, 0, 0, 1, 0, 1, 1, 1), (MESSAGE, 1, 0, 2, 0, 2, 2, 1),
      (MESSAGE, 0, 2, 3, 2, 3, 3, 1)], 2, "missing barrier"),
    ([(BARRIER, -1, 0, 0, 0, 0, 0, 0), (MESSAGE, 0, 0, 1, 0, 1, 1, 1), (BARRIER, -1, 1, 1, 1, 1, 1, 0)],
     None, "a barrier is only allowed at a round end"),
    ([(BARRIER, -1, 0, 0, 0, 0, 0, 0), (MESSAGE, 0, 0, 1, 2, 1, 1, 1)], None, "t_read <= t_done <= t_arrival"),
    ([(BARRIER, -1, 0, 0, 0, 0, 0, 0), (MESSAGE, 0, 0, 1, 0, 3, 3, 1), (MESSAGE, 1, 0, 2, 0, 2, 2, 1)],
     None, "arrival order"),
])
def test_validate_rejects_impossible_async_traces(rows, R, msg):
    """Hand-made traces the protocol could not produce are rejected with the offending row."""
    with pytest.raises(ValueError, match=msg):
        _raw(rows, R=R).validate()


_HEAD = [(BARRIER, -1, 0, 0, 0, 0, 0, 0), (MESSAGE, 0, 0, 1, 0, 1, 1, 1)]


@pytest.mark.parametrize("rows, protocol, msg", [
    (_HEAD[:1] + [(IN_FLIGHT, 1, 0, -1, 0, 5, 5, 1)] + _HEAD[1:], "async", "in-flight reads must come after"),
    (_HEAD + [(IN_FLIGHT, 1, 0, -1, 0, 5, 5, 1), (IN_FLIGHT, 1, 1, -1, 1, 5, 5, 1)], "async",
     "more than one in-flight read"),
    (_HEAD + [(IN_FLIGHT, 0, 0, -1, 0, 5, 5, 1)], "async", "last applied version 1"),
    (_HEAD + [(IN_FLIGHT, 1, 2, -1, 0, 5, 5, 1)], "async", "to the final version 1"),
    (_HEAD + [(IN_FLIGHT, 1, 1, 3, 1, 5, 5, 1)], "async", "version_applied = -1"),
    ([(BARRIER, -1, 0, 0, 0, 0, 0, 0), (MESSAGE, 0, 0, 1, 0, 1, 1, 1), (MESSAGE, 1, 0, 1, 0, 1, 1, 1),
      (IN_FLIGHT, 0, 1, -1, 1, 2, 2, 1)], "sync", "one round of K=2 reads"),
])
def test_validate_rejects_impossible_in_flight_reads(rows, protocol, msg):
    """In-flight reads (granted, computed, not yet applied at the stop) come last, one per worker,
    between the worker's last applied version and the final one; under sync, one whole round."""
    with pytest.raises(ValueError, match=msg):
        _raw(rows, protocol=protocol).validate()


@pytest.mark.parametrize("protocol", ["async", "sync"])
def test_reads_in_flight_at_a_max_time_stop_are_logged_and_replayed(protocol):
    """Workers computing when max_time stops the run have already changed their local state
    (work runs at the read); the trace logs those reads and replay computes them too, so the
    final worker state and records match bit for bit."""
    K = 3
    cluster = Cluster.homogeneous(K, speed=ExponentialSpeed(1.0))
    sim = NoisyQuadratic(K, protocol=protocol)
    res = simulate(sim, cluster, seed=4, budget=Budget(max_time=7.3))
    fresh = NoisyQuadratic(K, protocol=protocol)
    rep = replay(res.trace, fresh, seed=4)
    in_flight = res.trace.kind == IN_FLIGHT
    assert 0 < in_flight.sum() <= K and np.all(in_flight[res.trace.n_events:])
    arrivals = res.trace.t_arrival[in_flight]  # a sync round is applied when its last message arrives
    assert (arrivals.min() if protocol == "async" else arrivals.max()) > 7.3
    assert np.array_equal(fresh.m, sim.m) and fresh.calls == sim.calls
    assert np.array_equal(rep.params, res.params) and rep.records == res.records


def test_validate_rejects_bad_sync_round():
    """A sync round must be K messages from workers 0..K-1 in order reading the same version."""
    rows = [(BARRIER, -1, 0, 0, 0, 0, 0, 0), (MESSAGE, 1, 0, 1, 0, 1, 1, 1), (MESSAGE, 0, 0, 1, 0, 1, 1, 1)]
    with pytest.raises(ValueError, match="a sync round must be K=2 messages"):
        _raw(rows, protocol="sync").validate()
    with pytest.raises(ValueError, match="round gating violated"):
        Trace.from_schedule([(0, 0), (1, 0), (0, 1)], K=2, round_length=2)


def test_trace_constructor_validates_columns_and_metadata():
    """Column lengths, K, protocol and round_length are checked on construction."""
    ok = dict(K=1, protocol="async", round_length=None, t_end=0.0)
    cols = {name: np.zeros(1) for name in _ROW}
    with pytest.raises(ValueError, match="must be a 1-d array of length 1"):
        Trace({**cols, "work": np.zeros(2)}, **ok)
    with pytest.raises(ValueError, match="K must be an integer >= 1"):
        Trace(cols, **{**ok, "K": 0})
    with pytest.raises(ValueError, match="protocol must be one of .*'async'.*got 'pipeline'"):
        Trace(cols, **{**ok, "protocol": "pipeline"})
    with pytest.raises(ValueError, match="round_length must be an integer >= 1 or None"):
        Trace(cols, **{**ok, "round_length": 0})
    with pytest.raises(ValueError, match="missing \\['version_applied'\\]"):
        Trace({k: v for k, v in cols.items() if k != "version_applied"}, **ok)


def test_replay_detects_other_roles_or_settings():
    """replay refuses roles whose K/protocol/round_length differ, and roles reporting other work."""
    res = simulate(NoisyQuadratic(2), Cluster.homogeneous(2), seed=0, budget=Budget(max_updates=5))
    with pytest.raises(ValueError, match="do not match the trace"):
        replay(res.trace, NoisyQuadratic(2, round_length=3), seed=0)
    with pytest.raises(ValueError, match="records work 1.0 but the roles report 2.0"):
        replay(res.trace, NoisyQuadratic(2, work=2.0), seed=0)
    with pytest.raises(ValueError, match="trace must be a sim.trace.Trace"):
        replay("trace.npz", NoisyQuadratic(2), seed=0)


def test_replay_reports_divergence_in_a_hand_trace():
    """A hand trace driving a divergent algorithm (eta = 4.5) ends as "diverged" at the blow-up step."""
    events = [(0, 0)] + [(j % 2, j - 1) for j in range(1, 200)]  # alternate; each reads its reply
    res = replay(Trace.from_schedule(events, K=2), NoisyQuadratic(2, eta=4.5), seed=0, blowup=100.0)
    assert res.status == "diverged" and res.diverged_at is not None and res.step == res.diverged_at < 200
