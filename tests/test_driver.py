"""simulate(): exact simpy scenarios, protocol invariants, budgets, divergence, replay identity."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim import (
    Budget,
    Cluster,
    ConstantSpeed,
    ExponentialSpeed,
    LogNormalSpeed,
    Network,
    WorkerSpec,
    replay,
    simulate,
    staleness_stats,
)
from toy_roles import NoisyQuadratic

B, M, F = "barrier", "message", "in_flight"


def _log(trace):
    """The trace as (kind, worker, version_read, version_applied, t_read, t_done, t_arrival) tuples."""
    kinds = trace.to_frame()["kind"].to_numpy()
    return [(str(kinds[i]), int(trace.worker[i]), int(trace.version_read[i]), int(trace.version_applied[i]),
             float(trace.t_read[i]), float(trace.t_done[i]), float(trace.t_arrival[i])) for i in range(len(trace))]


def _cluster(*tpw, latency=0.0, per_byte=0.0):
    return Cluster(tuple(WorkerSpec(ConstantSpeed(t)) for t in tpw), Network(latency, per_byte))


# --- exact scenarios (hand-computed) ------------------------------------------
def test_async_two_workers_no_rounds():
    """Async PS, no rounds: each message is applied on arrival and the worker immediately reads the
    new version; worker speeds 1 and 2.5 give arrivals 1, 2, 2.5, 3, 4."""
    res = simulate(NoisyQuadratic(2), _cluster(1.0, 2.5), seed=0, budget=Budget(max_updates=5))
    assert _log(res.trace) == [
        (B, -1, 0, 0, 0.0, 0.0, 0.0),
        (M, 0, 0, 1, 0.0, 1.0, 1.0),
        (M, 0, 1, 2, 1.0, 2.0, 2.0),
        (M, 1, 0, 3, 0.0, 2.5, 2.5),
        (M, 0, 2, 4, 2.0, 3.0, 3.0),
        (M, 0, 4, 5, 3.0, 4.0, 4.0),
        (F, 1, 3, -1, 2.5, 5.0, 5.0),     # worker 1 read version 3 at 2.5; its message was still computing
    ]
    assert list(res.trace.staleness()) == [0, 0, 2, 1, 0]
    assert (res.status, res.step, res.sim_time, res.stopped_by) == ("finished", 5, 4.0, "max_updates")


def test_async_round_gating_three_workers():
    """round_length=2: at most 2 reads per round; a worker asking after they are used up waits for
    the round end (barrier), and waiting workers are served in request order."""
    res = simulate(NoisyQuadratic(3, round_length=2), _cluster(1.0, 3.0, 10.0), seed=0,
                   budget=Budget(max_updates=6))
    assert _log(res.trace) == [
        (B, -1, 0, 0, 0.0, 0.0, 0.0),
        (M, 0, 0, 1, 0.0, 1.0, 1.0),      # worker 0 then waits: both reads of round 0 are used
        (M, 1, 0, 2, 0.0, 3.0, 3.0),      # round end
        (B, -1, 2, 2, 3.0, 3.0, 3.0),     # queue: 2, 0, 1 -> 2 and 0 read
        (M, 0, 2, 3, 3.0, 4.0, 4.0),
        (M, 2, 2, 4, 3.0, 13.0, 13.0),
        (B, -1, 4, 4, 13.0, 13.0, 13.0),  # queue: 1, 0, 2 -> 1 and 0 read
        (M, 0, 4, 5, 13.0, 14.0, 14.0),
        (M, 1, 4, 6, 13.0, 16.0, 16.0),
    ]
    assert staleness_stats(res.trace).max == 1


def test_async_network_latency_and_bandwidth():
    """Each message pays downlink (latency + per_byte * 8d of params) before computing and uplink
    (latency + per_byte * nbytes) after: here 0.25 + 16/64 = 0.5 each way (d = 2)."""
    res = simulate(NoisyQuadratic(2, d=2), _cluster(1.0, 2.5, latency=0.25, per_byte=1 / 64), seed=0,
                   budget=Budget(max_updates=4))
    assert _log(res.trace) == [
        (B, -1, 0, 0, 0.0, 0.0, 0.0),
        (M, 0, 0, 1, 0.0, 1.5, 2.0),
        (M, 1, 0, 2, 0.0, 3.0, 3.5),
        (M, 0, 1, 3, 2.0, 3.5, 4.0),
        (M, 0, 3, 4, 4.0, 5.5, 6.0),
        (F, 1, 2, -1, 3.5, 6.5, 7.0),     # read at 3.5: start 4.0, done 6.5, would arrive 7.0
    ]


def test_async_barrier_phase_lasts_as_long_as_slowest_worker():
    """barrier() work of 2 units per worker: the phase takes max_k 2 * tpw_k = 4, then reads resume;
    epochs count message and barrier work (4 * 1 + 2 * (2 + 2) = 12 units, epoch_work = 2)."""
    res = simulate(NoisyQuadratic(2, round_length=2, barrier_work=2.0), _cluster(1.0, 2.0), seed=0,
                   budget=Budget(max_updates=4))
    assert _log(res.trace) == [
        (B, -1, 0, 0, 0.0, 4.0, 4.0),
        (M, 0, 0, 1, 4.0, 5.0, 5.0),
        (M, 1, 0, 2, 4.0, 6.0, 6.0),
        (B, -1, 2, 2, 6.0, 10.0, 10.0),
        (M, 0, 2, 3, 10.0, 11.0, 11.0),
        (M, 1, 2, 4, 10.0, 12.0, 12.0),
    ]
    assert res.epochs == 6.0
    np.testing.assert_array_equal(res.trace.work[~res.trace.messages], [4.0, 4.0])


def test_sync_rounds_hand_computed():
    """Sync: every round all workers read the same version; it lasts max_k(latency + tpw_k + latency)
    = 0.5 + 4 + 0.5 = 5; a barrier with 1 unit per worker every 2 rounds lasts max_k tpw_k = 4."""
    res = simulate(NoisyQuadratic(3, protocol="sync", round_length=2, barrier_work=1.0),
                   _cluster(1.0, 2.0, 4.0, latency=0.5), seed=0, budget=Budget(max_updates=3))
    assert _log(res.trace) == [
        (B, -1, 0, 0, 0.0, 4.0, 4.0),
        (M, 0, 0, 1, 4.0, 5.5, 6.0), (M, 1, 0, 1, 4.0, 6.5, 7.0), (M, 2, 0, 1, 4.0, 8.5, 9.0),
        (M, 0, 1, 2, 9.0, 10.5, 11.0), (M, 1, 1, 2, 9.0, 11.5, 12.0), (M, 2, 1, 2, 9.0, 13.5, 14.0),
        (B, -1, 2, 2, 14.0, 18.0, 18.0),
        (M, 0, 2, 3, 18.0, 19.5, 20.0), (M, 1, 2, 3, 18.0, 20.5, 21.0), (M, 2, 2, 3, 18.0, 22.5, 23.0),
    ]
    assert res.sim_time == 23.0
    assert [r[1] for r in res.records if r[3] == "objective"] == [0.0, 9.0, 14.0, 23.0]


@settings(max_examples=15, deadline=None)
@given(K=st.integers(1, 5), seed=st.integers(0, 2**16), sigma=st.floats(0.1, 1.5))
def test_sync_round_lasts_exactly_its_slowest_worker(K, seed, sigma):
    """Property: a sync round starts when the previous one ends and ends at the slowest worker's
    arrival, max_k (t_arrival_k - t_read); all K workers read the same version."""
    cluster = Cluster.homogeneous(K, speed=LogNormalSpeed(1.0, sigma), network=Network(ExponentialSpeed(0.2)))
    tr = simulate(NoisyQuadratic(K, protocol="sync"), cluster, seed=seed, budget=Budget(max_updates=8)).trace
    m = tr.messages
    t_read = tr.t_read[m].reshape(-1, K)
    arr = tr.t_arrival[m].reshape(-1, K)
    assert np.all(t_read == t_read[:, :1])
    assert np.all(tr.version_read[m].reshape(-1, K) == np.arange(8)[:, None])
    np.testing.assert_array_equal(t_read[1:, 0], arr[:-1].max(axis=1))
    np.testing.assert_allclose(arr.max(axis=1) - t_read[:, 0], (arr - t_read).max(axis=1), rtol=1e-12)


# --- invariants ---------------------------------------------------------------
@settings(max_examples=20, deadline=None)
@given(K=st.integers(1, 6), R=st.integers(1, 8), seed=st.integers(0, 2**16),
       means=st.lists(st.floats(0.1, 5.0), min_size=6, max_size=6))
def test_staleness_never_exceeds_round_length_minus_one(K, R, seed, means):
    """Round gating (Alg. 6 inner loop of T = round_length): every message is applied in the round it
    was read in, so staleness <= round_length - 1 (Assumption 3.4.2), whatever the speeds."""
    cluster = Cluster(tuple(WorkerSpec(ExponentialSpeed(m)) for m in means[:K]), Network(ExponentialSpeed(0.1)))
    res = simulate(NoisyQuadratic(K, round_length=R), cluster, seed=seed, budget=Budget(max_updates=60))
    s = staleness_stats(res.trace)
    assert 0 <= s.max <= R - 1
    assert res.trace.staleness().min() >= 0
    res.trace.validate()


def test_staleness_unbounded_without_rounds_grows_with_K():
    """Without rounds a fast worker races ahead: a worker 8x slower than 3 others sees staleness >= 8."""
    cluster = _cluster(1.0, 1.0, 1.0, 8.0)
    s = staleness_stats(simulate(NoisyQuadratic(4), cluster, seed=0, budget=Budget(max_updates=80)).trace)
    assert s.per_worker[3].max >= 8 * 3 - 1
    assert s.per_worker[0].max <= 3


@settings(max_examples=10, deadline=None)
@given(K=st.integers(1, 4), R=st.one_of(st.none(), st.integers(1, 6)), seed=st.integers(0, 2**20),
       protocol=st.sampled_from(["async", "sync"]), record_every=st.integers(1, 5))
def test_replay_of_simulation_is_bit_identical(K, R, seed, protocol, record_every):
    """replay(simulate(...).trace) with fresh roles and the same seed gives identical params and records."""
    cluster = Cluster.homogeneous(K, speed=ExponentialSpeed(1.0), network=Network(ExponentialSpeed(0.1), 1e-3))

    def roles():
        return NoisyQuadratic(K, protocol=protocol, round_length=R, barrier_work=0.5)

    res = simulate(roles(), cluster, seed=seed, budget=Budget(max_updates=40, max_time=30.0),
                   record_every=record_every)
    rep = replay(res.trace, roles(), seed=seed, record_every=record_every)
    assert np.array_equal(res.params, rep.params)
    assert res.records == rep.records
    assert (rep.step, rep.sim_time, rep.epochs, rep.status) == (res.step, res.sim_time, res.epochs, res.status)


def test_same_seed_same_trace_different_seed_different_trace():
    """Reproducibility: same seed -> identical trace columns and params; another seed -> another trace."""
    cluster = Cluster.homogeneous(3, speed=ExponentialSpeed(1.0))

    def run(seed):
        return simulate(NoisyQuadratic(3, round_length=4), cluster, seed=seed, budget=Budget(max_updates=30))

    a, b, c = run(1), run(1), run(2)
    for col in ("worker", "version_read", "t_read", "t_done", "t_arrival", "work"):
        assert np.array_equal(getattr(a.trace, col), getattr(b.trace, col))
    assert np.array_equal(a.params, b.params)
    assert not np.array_equal(a.trace.t_arrival, c.trace.t_arrival)


# --- budgets, divergence, progress ----------------------------------------------
def test_budget_max_time_stops_before_the_deadline():
    """max_time=3.5 with worker speeds 1 and 2.5: arrivals at 1, 2, 2.5, 3 are applied, not 4."""
    res = simulate(NoisyQuadratic(2), _cluster(1.0, 2.5), seed=0, budget=Budget(max_time=3.5))
    assert (res.step, res.sim_time, res.stopped_by) == (4, 3.5, "max_time")
    assert res.trace.t_arrival[res.trace.messages].max() < 3.5
    assert res.trace.t_arrival[res.trace.n_events:].min() > 3.5  # the rest were in flight at the stop
    assert res.records[-1][:2] == (4, 3.0)  # version 4 was recorded when applied; no duplicate at the end
    sparse = simulate(NoisyQuadratic(2), _cluster(1.0, 2.5), seed=0, budget=Budget(max_time=3.5), record_every=3)
    assert [r[:2] for r in sparse.records[::2]] == [(0, 0.0), (3, 2.5), (4, 3.5)]  # final record at max_time


def test_budget_max_epochs():
    """max_epochs=3 with epoch_work = K * work = 4: stops at the first version with 12 work units."""
    res = simulate(NoisyQuadratic(2, work=2.0), _cluster(1.0, 1.5), seed=0, budget=Budget(max_epochs=3))
    assert (res.step, res.epochs, res.stopped_by) == (6, 3.0, "max_epochs")


def test_target_reached_stops_at_first_recorded_hit():
    """target=("suboptimality", 1e-2): the run stops at the first recorded step at or below it."""
    res = simulate(NoisyQuadratic(3, noise=0.0, round_length=3), _cluster(1.0, 1.3, 1.7), seed=0,
                   budget=Budget(max_updates=10_000, target=("suboptimality", 1e-2)), record_every=2)
    sub = [(s, v) for s, _, _, m, v in res.records if m == "suboptimality"]
    assert res.status == "target_reached" and res.stopped_by == "target"
    assert sub[-1][0] == res.step and sub[-1][1] <= 1e-2
    assert all(v > 1e-2 for _, v in sub[:-1])
    assert res.step % 2 == 0 and res.step < 10_000


def test_divergence_by_blowup_is_a_result():
    """eta = 4.5 makes w -> w - eta m diverge: status "diverged" at the first recorded step whose
    objective exceeds blowup * max(1, |objective at 0|); no exception, the run ends there."""
    res = simulate(NoisyQuadratic(2, eta=4.5), _cluster(1.0, 1.5), seed=0,
                   budget=Budget(max_updates=10_000, blowup=100.0))
    obj = [(s, v) for s, _, _, m, v in res.records if m == "objective"]
    limit = 100.0 * max(1.0, abs(obj[0][1]))
    assert res.status == "diverged" and res.diverged_at == res.step == obj[-1][0]
    assert obj[-1][1] > limit and all(v <= limit for _, v in obj[:-1])


def test_divergence_by_non_finite_payload():
    """A NaN in a message payload ends the run as "diverged" at the step it was applied:
    sync K=2, the 5th work() call is worker 0 in round 3 -> diverged_at = 3."""
    res = simulate(NoisyQuadratic(2, protocol="sync", nan_at_call=5), _cluster(1.0, 1.0), seed=0,
                   budget=Budget(max_updates=100))
    assert (res.status, res.diverged_at, res.step) == ("diverged", 3, 3)
    assert math.isnan(res.records[-1][4])


def test_progress_is_monotone_bounded_and_ends_at_one():
    """progress(fraction) is called at most ~100 times, non-decreasing, in [0, 1], last call 1.0."""
    calls = []
    simulate(NoisyQuadratic(2), _cluster(1.0, 1.5), seed=0, budget=Budget(max_updates=1000),
             record_every=100, progress=calls.append)
    assert 2 <= len(calls) <= 101
    assert calls == sorted(calls) and calls[0] >= 0 and calls[-1] == 1.0


def test_records_frame_is_long_format():
    """records_frame(): one row per (step, metric), columns step, sim_time, epoch, metric, value."""
    res = simulate(NoisyQuadratic(2), _cluster(1.0, 1.5), seed=0, budget=Budget(max_updates=9), record_every=4)
    df = res.records_frame()
    assert list(df.columns) == ["step", "sim_time", "epoch", "metric", "value"]
    assert sorted(set(df.step)) == [0, 4, 8, 9]
    assert set(df.metric) == {"objective", "suboptimality"}


# --- bad input ------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, msg", [
    (dict(), "at least one of max_updates"),
    (dict(max_updates=0), "max_updates"),
    (dict(max_updates=2.5), "max_updates must be an integer"),
    (dict(max_time=-1.0), "max_time must be a finite number > 0"),
    (dict(max_epochs=float("inf")), "max_epochs"),
    (dict(max_updates=5, target=("objective",)), "target must be"),
    (dict(max_updates=5, blowup=0.0), "blowup"),
])
def test_budget_rejects_bad_values(kwargs, msg):
    """Budget validates each field and names it."""
    with pytest.raises(ValueError, match=msg):
        Budget(**kwargs)


def test_simulate_rejects_bad_arguments():
    """simulate() names the mismatched or invalid argument."""
    budget = Budget(max_updates=3)
    with pytest.raises(ValueError, match="cluster has K=3 workers but roles.K=2"):
        simulate(NoisyQuadratic(2), Cluster.homogeneous(3), seed=0, budget=budget)
    with pytest.raises(ValueError, match="record_every must be an integer >= 1"):
        simulate(NoisyQuadratic(2), Cluster.homogeneous(2), seed=0, budget=budget, record_every=0)
    with pytest.raises(ValueError, match="seed must be an integer >= 0"):
        simulate(NoisyQuadratic(2), Cluster.homogeneous(2), seed=-1, budget=budget)
    with pytest.raises(ValueError, match="roles.protocol must be"):
        simulate(NoisyQuadratic(2, protocol="ring"), Cluster.homogeneous(2), seed=0, budget=budget)
    with pytest.raises(ValueError, match="roles.round_length must be"):
        simulate(NoisyQuadratic(2, round_length=0), Cluster.homogeneous(2), seed=0, budget=budget)
    with pytest.raises(ValueError, match="budget must be"):
        simulate(NoisyQuadratic(2), Cluster.homogeneous(2), seed=0, budget=10)
    with pytest.raises(ValueError, match="roles must implement"):
        simulate(object(), Cluster.homogeneous(2), seed=0, budget=budget)
