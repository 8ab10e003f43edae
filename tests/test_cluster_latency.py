"""A random network latency goes through the cluster clock in ``simulate``: one fresh draw per message.

Issue 8, item 6: drawing a worker's uplink latency once and reusing it for every message passed the
whole suite, because no test sent a random latency through ``simulate``. Here the latencies are read
back from the trace's times (constant compute speed, ``per_byte = 0``):

* uplink of a message = t_arrival - t_done;
* downlink of its read = t_done - t_read - time_per_work * work.

They must equal, value for value, worker k's own uplink / downlink stream of
:func:`sim.cluster.timing_streams` drawn independently here with ``Generator.exponential`` (one draw
per message, in the worker's message order), vary from message to message, and follow the
latency's distribution (Kolmogorov-Smirnov at a generous level over every message).
"""
from __future__ import annotations

import numpy as np
from scipy import stats

from sim import Budget, Cluster, ConstantSpeed, ExponentialSpeed, LogNormalSpeed, Network, simulate, timing_streams
from sim.trace import BARRIER
from toy_roles import NoisyQuadratic

K, SEED, TPW, MEAN = 3, 11, 0.5, 0.2


def _run(latency):
    cluster = Cluster.homogeneous(K, speed=ConstantSpeed(TPW), network=Network(latency=latency, per_byte=0.0))
    res = simulate(NoisyQuadratic(K, work=2.0), cluster, seed=SEED, budget=Budget(max_updates=600))
    tr = res.trace
    rows = np.flatnonzero(tr.kind != BARRIER)  # applied messages and reads still in flight (drawn too)
    return tr, rows


def _per_worker(tr, rows, values):
    """values of ``rows`` grouped by worker, each in the worker's message order (its read times)."""
    out = {}
    for k in range(K):
        mine = rows[tr.worker[rows] == k]
        mine = mine[np.argsort(tr.t_read[mine], kind="stable")]
        out[k] = values[np.searchsorted(rows, mine)]
    return out


def test_uplink_and_downlink_are_a_fresh_draw_per_message_from_the_workers_streams():
    tr, rows = _run(ExponentialSpeed(MEAN))
    up = tr.t_arrival[rows] - tr.t_done[rows]
    down = tr.t_done[rows] - tr.t_read[rows] - TPW * tr.work[rows]
    assert rows.size > 500
    streams, _ = timing_streams(SEED, K)
    for name, lat in (("uplink", up), ("downlink", down)):
        for k, got in _per_worker(tr, rows, lat).items():
            want = getattr(streams[k], name).exponential(MEAN, size=got.size)
            np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12,
                                       err_msg=f"worker {k}'s {name} latencies are not its stream's draws")
            assert np.unique(np.round(got, 12)).size == got.size, f"worker {k} reuses a {name} latency"
    # the distribution over every message: Exponential(MEAN)
    assert stats.kstest(up, stats.expon(scale=MEAN).cdf).pvalue > 1e-3
    assert stats.kstest(down, stats.expon(scale=MEAN).cdf).pvalue > 1e-3


def test_lognormal_uplink_latency_matches_its_distribution():
    """Another latency law through simulate: per-message uplinks vary and pass a KS test against it."""
    dist = LogNormalSpeed(MEAN, 0.8)
    tr, rows = _run(dist)
    up = tr.t_arrival[rows] - tr.t_done[rows]
    assert np.unique(np.round(up, 12)).size == up.size
    s = 0.8
    mu = np.log(MEAN) - s * s / 2  # LogNormalSpeed(mean, sigma): E = mean
    assert stats.kstest(up, stats.lognorm(s=s, scale=np.exp(mu)).cdf).pvalue > 1e-3
