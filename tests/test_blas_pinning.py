"""simulate() and replay() pin BLAS to one thread themselves (issue 7, target 5): a result never
depends on the caller's threading, and the caller's setting is restored afterwards."""
from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from sim import Budget, Cluster, ExponentialSpeed, Network, replay, simulate
from toy_roles import NoisyQuadratic


def blas_threads() -> int:
    """The largest thread count of any loaded BLAS library (what a BLAS call may use now)."""
    return max(int(lib["num_threads"]) for lib in threadpool_info() if lib["user_api"] == "blas")


class ThreadAwareQuadratic(NoisyQuadratic):
    """NoisyQuadratic whose records also hold the BLAS thread count seen inside the run and a long dot
    product (OpenBLAS splits a ddot of 10^6 entries across threads, so its last bits depend on them)."""

    def __init__(self, K: int, **kw) -> None:
        super().__init__(K, **kw)
        self.big = np.random.default_rng(1).standard_normal(1_000_003)

    def metrics(self) -> dict[str, float]:
        out = super().metrics()
        v = self.big * (1.0 + float(self.w[0]))
        out["blas_threads"] = float(blas_threads())
        out["long_dot"] = float(v @ self.big)
        return out


def _cluster(K: int) -> Cluster:
    return Cluster.homogeneous(K, speed=ExponentialSpeed(1.0), network=Network(ExponentialSpeed(0.1)))


def _run(caller_threads: int):
    with threadpool_limits(limits=caller_threads, user_api="blas"):
        res = simulate(ThreadAwareQuadratic(3), _cluster(3), seed=5, budget=Budget(max_updates=12), record_every=6)
        rep = replay(res.trace, ThreadAwareQuadratic(3), seed=5, record_every=6)
        after = blas_threads()
    return res, rep, after


def _metric(res, name: str) -> list[float]:
    return [v for (_, _, _, m, v) in res.records if m == name]


@pytest.mark.skipif(not any(lib["user_api"] == "blas" for lib in threadpool_info()), reason="no BLAS library loaded")
def test_simulate_and_replay_run_on_one_blas_thread_whatever_the_caller_set():
    res2, rep2, after2 = _run(2)
    res1, rep1, after1 = _run(1)
    # inside the run BLAS had one thread, although the caller allowed two ...
    assert set(_metric(res2, "blas_threads")) == {1.0} and set(_metric(rep2, "blas_threads")) == {1.0}
    # ... and the caller's own setting is back afterwards
    assert (after2, after1) == (2, 1)
    # results do not depend on the caller's threading: records bit for bit
    assert res2.records == res1.records and rep2.records == rep1.records
    assert np.array_equal(res2.params, res1.params) and rep2.records == res2.records
