"""Cluster models: speed distributions, stragglers (thesis §3.5), failures, streams, validation."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from sim import (
    Budget,
    Cluster,
    ConstantSpeed,
    ExponentialSpeed,
    FailRecover,
    IndependentStraggler,
    LogNormalSpeed,
    Network,
    PersistentSlow,
    ShiftedExponentialSpeed,
    ThesisStraggler,
    UniformDistribution,
    WorkerSpec,
    simulate,
    timing_streams,
)
from sim.cluster import FailureClock
from toy_roles import NoisyQuadratic


@pytest.mark.parametrize("dist, mean, var", [
    (ExponentialSpeed(2.0), 2.0, 4.0),
    (LogNormalSpeed(1.5, 0.5), 1.5, 1.5**2 * (np.exp(0.25) - 1)),
    (ShiftedExponentialSpeed(0.5, 2.0), 2.0, 1.5**2),
    (UniformDistribution(1.0, 3.0), 2.0, 4.0 / 12),
])
def test_speed_models_have_their_stated_mean(dist, mean, var):
    """Each distribution's sample mean matches its closed-form mean within 4 standard errors."""
    rng = np.random.default_rng(0)
    n = 20000
    x = np.array([dist.sample(rng) for _ in range(n)])
    assert dist.mean == pytest.approx(mean)
    assert abs(x.mean() - mean) < 4 * np.sqrt(var / n)
    assert x.min() >= 0


def test_network_delay_is_latency_plus_bytes():
    """Network.delay = latency (number or draw) + per_byte * nbytes."""
    rng = np.random.default_rng(0)
    assert Network(0.25, 0.5).delay(rng, 8) == 4.25
    d = Network(ExponentialSpeed(1.0), 0.0).delay(np.random.default_rng(4), 100)
    assert d == np.random.default_rng(4).exponential(1.0)


def test_constant_speed_draws_nothing():
    """ConstantSpeed returns its value and leaves the stream untouched."""
    rng = np.random.default_rng(3)
    state = rng.bit_generator.state
    assert ConstantSpeed(0.75).sample(rng) == 0.75
    assert rng.bit_generator.state == state


def test_shifted_exponential_never_below_shift():
    """A shifted exponential is at least its shift."""
    rng = np.random.default_rng(1)
    d = ShiftedExponentialSpeed(1.25, 1.5)
    assert min(d.sample(rng) for _ in range(2000)) >= 1.25


def _worker0_durations(straggler, n_rounds=4000, seed=7):
    """Durations of worker 0's computations (sync rounds, constant speed 1, work 1, no network)."""
    cluster = Cluster.homogeneous(2, speed=ConstantSpeed(1.0), straggler=straggler)
    res = simulate(NoisyQuadratic(2, protocol="sync", noise=0.0, eta=0.1), cluster, seed=seed,
                   budget=Budget(max_updates=n_rounds), record_every=n_rounds)
    tr = res.trace
    m = tr.messages
    d0 = (tr.t_done - tr.t_read)[m & (tr.worker == 0)]
    d1 = (tr.t_done - tr.t_read)[m & (tr.worker == 1)]
    return d0, d1


@pytest.mark.parametrize("mode", ["extra", "total"])
def test_thesis_straggler_frequency_and_m_distribution(mode):
    """§3.5 model: the selected worker is delayed with probability p (binomial test) and the
    recovered m (extra: duration/normal - 1; total: duration/normal) is U[m_low, m_high] (KS test);
    the other worker is never delayed."""
    p, lo, hi = 0.2, 0.0, 10.0
    if mode == "total":
        lo = 2.0  # keep m away from 1 so a delayed computation is distinguishable from a normal one
    d0, d1 = _worker0_durations(ThesisStraggler(p=p, m_low=lo, m_high=hi, worker=0, mode=mode))
    np.testing.assert_allclose(d1, 1.0, rtol=1e-12)
    delayed = ~np.isclose(d0, 1.0, rtol=0, atol=1e-12)
    assert stats.binomtest(int(delayed.sum()), d0.size, p).pvalue > 1e-3
    m = d0[delayed] - 1.0 if mode == "extra" else d0[delayed]
    assert stats.kstest(m, stats.uniform(lo, hi - lo).cdf).pvalue > 1e-3
    # the other reading of the sentence would be rejected: shift m by one
    wrong = m + 1.0 if mode == "extra" else m - 1.0
    assert stats.kstest(wrong, stats.uniform(lo, hi - lo).cdf).pvalue < 1e-6


def test_thesis_straggler_integer_m_reading():
    """integer_m=True: m is uniform on the integers {0, ..., 10} (chi-square test on the counts)."""
    s = ThesisStraggler(p=1.0, integer_m=True)
    rng = np.random.default_rng(2)
    m = np.array([s.multiplier(rng) for _ in range(5500)]) - 1.0
    np.testing.assert_array_equal(m, np.round(m))
    counts = np.bincount(m.astype(int), minlength=11)
    assert counts.size == 11
    assert stats.chisquare(counts).pvalue > 1e-3


def test_independent_straggler_frequency_and_slowdown():
    """IndependentStraggler(p, s): each computation is s times longer with probability p."""
    cluster = Cluster((WorkerSpec(ConstantSpeed(0.5), IndependentStraggler(0.3, 4.0)),
                       WorkerSpec(ConstantSpeed(0.5))))
    res = simulate(NoisyQuadratic(2, protocol="sync", noise=0.0), cluster, seed=3,
                   budget=Budget(max_updates=1000), record_every=1000)
    tr = res.trace
    d0 = (tr.t_done - tr.t_read)[tr.messages & (tr.worker == 0)]
    slow = np.isclose(d0, 2.0)
    assert np.all(slow | np.isclose(d0, 0.5))
    assert stats.binomtest(int(slow.sum()), d0.size, 0.3).pvalue > 1e-3


def test_independent_straggler_with_distributed_slowdown():
    """A distribution-valued slowdown gives factors drawn from that distribution."""
    s = IndependentStraggler(1.0, UniformDistribution(2.0, 3.0))
    rng = np.random.default_rng(0)
    f = np.array([s.multiplier(rng) for _ in range(3000)])
    assert f.min() >= 2.0 and f.max() <= 3.0
    assert stats.kstest(f, stats.uniform(2.0, 1.0).cdf).pvalue > 1e-3


def test_persistent_slow_scales_every_computation():
    """PersistentSlow(3): a worker of speed 0.5 takes exactly 1.5 per unit of work."""
    cluster = Cluster((WorkerSpec(ConstantSpeed(0.5), PersistentSlow(3.0)), WorkerSpec(ConstantSpeed(0.5))))
    res = simulate(NoisyQuadratic(2, protocol="sync"), cluster, seed=0, budget=Budget(max_updates=5))
    tr = res.trace
    np.testing.assert_allclose((tr.t_done - tr.t_read)[tr.messages & (tr.worker == 0)], 1.5, rtol=1e-12)
    np.testing.assert_array_equal(tr.t_read[tr.messages][::2], [0.0, 1.5, 3.0, 4.5, 6.0])


class _Scripted:
    """A stand-in Generator whose exponential draws are scripted (up, down, up, down, ...)."""

    def __init__(self, values):
        self.values = list(values)

    def exponential(self, scale):
        return self.values.pop(0)


def test_failure_clock_hand_example():
    """Up [0,2), down [2,3), up [3,6), down [6,8), up [8,...): work pauses exactly while down."""
    clock = FailureClock(FailRecover(1.0, 1.0), _Scripted([2.0, 1.0, 3.0, 2.0, 10.0, 1.0]))
    assert clock.finish(0.5, 1.0) == 1.5          # inside the first up period
    assert clock.finish(1.5, 3.0) == 5.5          # 0.5 before the failure, 2.5 after recovery at 3
    assert clock.finish(5.0, 2.0) == 9.0          # 1 before the failure at 6, 1 after recovery at 8
    assert clock.finish(8.5, 0.0) == 8.5          # no work, no wait


def test_failure_pauses_worker_by_exactly_the_overlapping_downtime():
    """FailRecover: each computation's duration = busy time + downtime overlapping [start, done],
    with the up/down periods regenerated independently from the worker's failure stream."""
    mtbf, mttr, seed = 3.0, 1.0, 11
    cluster = Cluster((WorkerSpec(ConstantSpeed(0.5), failure=FailRecover(mtbf, mttr)),
                       WorkerSpec(ConstantSpeed(0.7))))
    res = simulate(NoisyQuadratic(2, work=2.0), cluster, seed=seed, budget=Budget(max_updates=120))
    streams, _ = timing_streams(seed, 2)
    rng = streams[0].failure
    downs, t = [], 0.0
    while t < res.sim_time + 100:
        up = rng.exponential(mtbf)
        down = rng.exponential(mttr)
        downs.append((t + up, t + up + down))
        t += up + down
    downs = np.array(downs)
    tr = res.trace
    rows = np.flatnonzero(tr.messages & (tr.worker == 0))
    assert rows.size > 20
    paused = 0
    for i in rows:
        a, b = tr.t_read[i], tr.t_done[i]
        overlap = np.clip(np.minimum(downs[:, 1], b) - np.maximum(downs[:, 0], a), 0, None).sum()
        assert b - a == pytest.approx(2.0 * 0.5 + overlap, abs=1e-9)
        paused += overlap > 0
    assert paused > 0
    # the worker without failures is never paused
    rows1 = tr.messages & (tr.worker == 1)
    np.testing.assert_allclose((tr.t_done - tr.t_read)[rows1], 1.4)


def test_adding_a_worker_does_not_shift_another_workers_draws():
    """Per-worker timing streams are spawned: worker 0's durations are the same with K=2 and K=3."""
    def durations(K):
        cluster = Cluster.homogeneous(K, speed=ExponentialSpeed(1.0), network=Network(ExponentialSpeed(0.1)))
        tr = simulate(NoisyQuadratic(K, protocol="sync"), cluster, seed=5, budget=Budget(max_updates=30)).trace
        return (tr.t_arrival - tr.t_read)[tr.messages & (tr.worker == 0)]
    np.testing.assert_allclose(durations(2), durations(3), rtol=1e-12)  # same draws; times differ in rounding only
    s2, _ = timing_streams(5, 2)
    s3, _ = timing_streams(5, 3)
    assert s2[1].uplink.random() == s3[1].uplink.random()


@pytest.mark.parametrize("make, msg", [
    (lambda: ConstantSpeed(-1.0), "time_per_work"),
    (lambda: ExponentialSpeed(0.0), "mean must be a finite number > 0"),
    (lambda: ExponentialSpeed(float("nan")), "mean"),
    (lambda: LogNormalSpeed(1.0, -0.1), "sigma"),
    (lambda: ShiftedExponentialSpeed(2.0, 1.0), "mean must be > shift"),
    (lambda: UniformDistribution(2.0, 1.0), "high must be >= low"),
    (lambda: IndependentStraggler(1.5, 2.0), "p must be a probability"),
    (lambda: IndependentStraggler(0.5, 0.5), "slowdown"),
    (lambda: PersistentSlow(0.0), "factor"),
    (lambda: ThesisStraggler(p=-0.1), "p must be"),
    (lambda: ThesisStraggler(m_low=5.0, m_high=1.0), "m_high must be >= m_low"),
    (lambda: ThesisStraggler(mode="double"), "mode must be"),
    (lambda: ThesisStraggler(worker=-1), "worker must be"),
    (lambda: ThesisStraggler(m_high=9.5, integer_m=True), "must be whole numbers"),
    (lambda: FailRecover(0.0, 1.0), "mtbf"),
    (lambda: FailRecover(1.0, -1.0), "mttr"),
    (lambda: Network(latency=-0.1), "latency must be a finite number >= 0"),
    (lambda: Network(per_byte=-1.0), "per_byte"),
    (lambda: WorkerSpec(1.0), "speed must be a Distribution"),
    (lambda: WorkerSpec(ConstantSpeed(1.0), straggler=2.0), "straggler must be"),
    (lambda: Cluster(()), "K >= 1"),
    (lambda: Cluster.homogeneous(0), "K must be an integer >= 1"),
    (lambda: Cluster.homogeneous(2, straggler=ThesisStraggler(worker=2)), r"straggler.worker must be in \[0, K=2\)"),
])
def test_bad_input_raises_clear_errors(make, msg):
    """Constructors reject bad values with a message naming the parameter and what is allowed."""
    with pytest.raises(ValueError, match=msg):
        make()
