"""Replay engines (not part of the test suite): ``replay`` vs ``replay(..., engine="fast")``.

    python benchmarks/bench_replay.py [--quick]

Dis-dfSDCA (Alg. 6/7) on the ijcnn1-shaped ridge problem (n = 49,990, d = 22, lam = 0.1), K = 8,
H = 100, T = 64, exponential speeds and latency with the thesis's straggler: one simulated trace,
replayed with fresh roles by three engines: "today" (the Python engine with the roles' plain-numpy
block and a copy per read: the replay before the compiled kernels, same numbers), "python" (the
Python engine, one call of the compiled block per read and per message) and "fast" (the compiled
engine), with records only at the start and the end (record_every = the number of
messages), with records as a study takes them (10 per epoch: every 49 messages, as an integer and
as a ``sim.records.EveryMessages`` schedule) and with a ``Geometric`` schedule on epochs. Reports
CPU microseconds per message (``time.process_time``: the machine is shared), the ratio
today / fast (target >= 10x), and whether every replay equals the simulation bit for bit (params
and records). Also on the rcv1-shaped CSR problem
(scale 0.05, K = 16).
"""
from __future__ import annotations

import argparse
import time
from typing import Sequence

import numpy as np
from threadpoolctl import threadpool_limits

from sim import Budget, Cluster, ExponentialSpeed, Network, ThesisStraggler, replay, simulate
from sim.records import EveryMessages, Geometric


def best_cpu(fns: dict, repeats: int) -> dict:
    """{name: (best CPU time in seconds, last result)}, runs interleaved (as timing.best_interleaved)."""
    best, out = {name: float("inf") for name in fns}, {}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.process_time()
            out[name] = fn()
            best[name] = min(best[name], time.process_time() - t0)
    return {name: (best[name], out[name]) for name in fns}


def numpy_roles_class():
    """Dis-dfSDCA with its plain-numpy block and no lazy reads: the roles as they were before the kernels."""
    from algorithms.dfsdca import DisDfSDCA

    class NumpyDisDfSDCA(DisDfSDCA):
        work_now = None

        def work(self, k, params, rng):
            return self.work_numpy(k, params, rng)
    return NumpyDisDfSDCA


def bench(name: str, scale: float, K: int, H: int, updates: int, repeats: int) -> None:
    from algorithms.datasets import get_dataset
    from algorithms.dfsdca import DisDfSDCA
    from algorithms.registry import make_problem

    problem = make_problem("ridge", get_dataset(name, seed=0, scale=scale), lam=0.1)
    problem.solution()  # cached: keep the one-off solve out of the timings
    T, eta, seed = 8 * K, 1e-4, 0
    cluster = Cluster.homogeneous(K, speed=ExponentialSpeed(1.0), network=Network(ExponentialSpeed(0.05)),
                                  straggler=ThesisStraggler())

    def roles():
        return DisDfSDCA(problem, K, eta=eta, H=H, T=T)

    Numpy = numpy_roles_class()

    study_every = max(1, int(problem.n / H / 10))
    print(f"\n{name}-shaped ridge (n={problem.n}, d={problem.d}{', CSR' if problem.X.__class__.__name__ != 'ndarray' else ''}), "
          f"Dis-dfSDCA K={K}, H={H}, T={T}, {updates} messages")
    print(f"{'records':>22} {'today us/msg':>13} {'python us/msg':>14} {'fast us/msg':>12} {'today/fast':>11} "
          f"{'bit-identical':>14}")
    replay(simulate(roles(), cluster, seed=seed, budget=Budget(max_updates=50)).trace, roles(), seed=seed,
           engine="fast")  # compile (or load the cache) outside the timings
    schedules = ((f"start and end", updates), (f"every {study_every} (study)", study_every),
                 (f"EveryMessages({study_every})", EveryMessages(study_every)),
                 ("Geometric(epoch, 1.1)", Geometric(0.01, 1.1, "epoch")))
    for label, every in schedules:
        sim = simulate(roles(), cluster, seed=seed, budget=Budget(max_updates=updates), record_every=every)
        timed = best_cpu({
            "today": lambda: replay(sim.trace, Numpy(problem, K, eta=eta, H=H, T=T), seed=seed, record_every=every),
            "python": lambda: replay(sim.trace, roles(), seed=seed, record_every=every),
            "fast": lambda: replay(sim.trace, roles(), seed=seed, record_every=every, engine="fast"),
        }, repeats)
        (t_np, r_np), (t_py, r_py), (t_fast, r_fast) = timed.values()
        same = all(np.array_equal(r.params, sim.params) and r.records == sim.records for r in (r_np, r_py, r_fast))
        us = [1e6 * t / updates for t in (t_np, t_py, t_fast)]
        print(f"{label:>22} {us[0]:>13.1f} {us[1]:>14.1f} {us[2]:>12.1f} {t_np / t_fast:>11.1f} {str(same):>14}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer messages (seconds)")
    args = parser.parse_args(argv)
    updates, repeats = (4_000, 3) if args.quick else (20_000, 5)
    bench("ijcnn1", 1.0, 8, 100, updates, repeats)
    bench("rcv1", 0.05, 16, 100, updates // 4, repeats)
    return 0


if __name__ == "__main__":
    with threadpool_limits(limits=1, user_api="blas"):
        raise SystemExit(main())
