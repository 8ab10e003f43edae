"""Compiled kernels and setup benchmarks (not part of the test suite).

    python benchmarks/bench_kernels.py [--quick]

1. Compile time of the kernels (algorithms/kernels.py): first call with an empty numba cache, and
   with the cache written (two fresh interpreters, so numba's import is included).
2. Serial dfSDCA (thesis Alg. 5) and SDCA (Alg. 4) on ijcnn1-shaped ridge (eq. 3.38, n = 49,990,
   d = 22, lam = 0.1): us per step of the numpy reference (``engine="numpy"``), the kernel
   (``engine="numba"``, records at 0 and T included) and a minimal ~30-line numba kernel of the
   same iterates (same index draws, plain loops, x_i^T w summed in the same sequential order as the
   kernel, so the iterates agree bit for bit here); time to relative suboptimality
   (P(w) - P*)/P* <= 1e-6 against scikit-learn's Ridge(solver="sag") on the same objective
   (alpha = lam n, no intercept), its tol lowered until it gets there.
   Targets: kernel <= 2x minimal kernel, and >= 5x faster than SAG.
3. CoCoA+'s local SDCA solver (algorithms/cocoa.py): one worker's work() with H = 1000 on the
   same problem, K = 8, numpy loop vs kernel.
4. Setup at K = 4096 (target <= 0.1 s): Cluster + ClusterClock + worker streams + Dis-dfSDCA roles
   as today (lazy streams) against the eager construction (every worker's algorithm Generator and
   five timing Generators spawned up front, the code before the lazy streams); and simulate() to
   its first server update (every worker starts at t = 0, so by then each has built the streams
   its first message draws from).

One BLAS thread (as in a study run); timings are CPU seconds, best-of-N, interleaved
(benchmarks/timing.py), all ratios from this one run.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from typing import Sequence

import numpy as np
from threadpoolctl import threadpool_limits
from timing import best_interleaved  # benchmarks/timing.py (the script's own folder)

from algorithms.cocoa import CoCoAPlus
from algorithms.datasets import synthetic_like
from algorithms.dfsdca import DisDfSDCA, dfsdca
from algorithms.problems import ridge
from algorithms.roles import _fresh, cluster_stream, worker_streams
from algorithms.sdca import sdca

LAM, TARGET = 0.1, 1e-6


def best_cpu(fns: dict, repeats: int) -> dict:
    """{name: (best CPU seconds, last result)}: benchmarks/timing.py's interleaved best-of-N, with
    each call's process CPU time taken instead of its wall time (the machine is shared: CPU time
    is what load disturbs least; BLAS is pinned to one thread and the kernels are serial)."""
    cpu: dict[str, list[float]] = {name: [] for name in fns}

    def timed(name, fn):
        def run():
            t0 = time.process_time()
            out = fn()
            cpu[name].append(time.process_time() - t0)
            return out
        return run

    res = best_interleaved({name: timed(name, fn) for name, fn in fns.items()}, repeats)
    return {name: (min(cpu[name]), res[name][1]) for name in fns}

_MINIMAL = None


def minimal_kernels():
    """The ~30-line baselines: the same iterates as dfsdca/sdca on a dense ridge problem, given the
    pre-drawn indices; plain loops (x_i^T w summed left to right from 0.0, the kernels' sequential
    order, which starts from the first product: equal bit for bit unless a first product is -0.0)."""
    global _MINIMAL
    if _MINIMAL is None:
        import numba

        @numba.njit(cache=True)
        def dfsdca_min(X, y, idx, eta, c, alpha, w):
            d = X.shape[1]
            for t in range(idx.shape[0]):
                i = idx[t]
                m = 0.0
                for j in range(d):
                    m += X[i, j] * w[j]
                kappa = (m - y[i]) + alpha[i]
                alpha[i] -= c * kappa
                for j in range(d):
                    w[j] -= eta * (kappa * X[i, j])

        @numba.njit(cache=True)
        def sdca_min(X, y, q, idx, lam_n, alpha, w):
            d = X.shape[1]
            for t in range(idx.shape[0]):
                i = idx[t]
                m = 0.0
                for j in range(d):
                    m += X[i, j] * w[j]
                delta = (y[i] - m - alpha[i]) / (1.0 + q[i])
                alpha[i] += delta
                a = delta / lam_n
                for j in range(d):
                    w[j] += a * X[i, j]

        _MINIMAL = dfsdca_min, sdca_min
    return _MINIMAL


def bench_compile() -> None:
    print("\n1. first call of each kernel (seconds; a fresh interpreter, numba's import in the first)")
    code = ("import numpy as np; from algorithms.datasets import synthetic_like; from algorithms.problems import "
            "ridge, logistic; from algorithms.sdca import sdca; from algorithms.dfsdca import dfsdca; "
            "from algorithms.cocoa import CoCoAPlus; from algorithms import kernels\n"
            "for name in ('ijcnn1', 'rcv1'):\n"
            "    data = synthetic_like(name, scale=0.002)\n"
            "    for P in (ridge(data, lam=0.1), logistic(data, lam=0.1)):\n"
            "        sdca(P, 10, np.random.default_rng(0)); dfsdca(P, 0.01, 10, np.random.default_rng(0))\n"
            "        c = CoCoAPlus(P, 2, H=5); c.work(0, c.read(), np.random.default_rng(0))\n"
            "print(' '.join(f'{k}={v:.2f}' for k, v in kernels.COMPILE_SECONDS.items()), "
            "f'total={sum(kernels.COMPILE_SECONDS.values()):.2f}')")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache, PYTHONPATH=root)
        for label in ("empty cache", "cache written"):
            t0 = time.perf_counter()
            out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
            print(f"{label:>14}: {out.stdout.strip()}  (process {time.perf_counter() - t0:.2f} s)")


def _rel_subopt(problem, w: np.ndarray, fstar: float) -> float:
    return (problem.value(w) - fstar) / fstar


def _steps_to_target(run, problem, fstar: float, every: int, limit: int) -> int:
    """The first record step (a multiple of ``every``) at which ``run(T, record_every)`` is within TARGET."""
    res = run(limit, every)
    ok = np.flatnonzero((res.objective - fstar) / fstar <= TARGET)
    if ok.size == 0:
        raise RuntimeError(f"did not reach relative suboptimality {TARGET:g} in {limit} steps")
    return int(res.steps[ok[0]])


def _sag(problem, fstar: float):
    from sklearn.linear_model import Ridge

    for tol in (1e-1, 3e-2, 1e-2, 3e-3, 1e-3, 3e-4, 1e-4, 3e-5, 1e-5, 1e-6, 1e-7, 1e-8):  # the loosest that gets there
        model = Ridge(alpha=LAM * problem.n, solver="sag", tol=tol, max_iter=10_000, fit_intercept=False,
                      random_state=0)
        fit = lambda: model.fit(problem.X, problem.y).coef_.copy()  # noqa: E731
        w = fit()
        if _rel_subopt(problem, w, fstar) <= TARGET:
            return tol, fit
    raise RuntimeError("SAG did not reach the target")


def bench_serial(quick: bool) -> None:
    data = synthetic_like("ijcnn1", scale=1.0, seed=0)  # the target's size even with --quick
    P = ridge(data, lam=LAM)
    fstar = P.solution().value
    n = P.n
    eta = 1.0 / (P.constants().L_max + LAM * n)  # dfSDCA's step 1/(L_max + lam n)
    c = eta * LAM * n
    seed = 1
    dfs_min, sdca_min = minimal_kernels()
    X, y = np.ascontiguousarray(P.X), np.ascontiguousarray(P.y, dtype=np.float64)
    q = np.einsum("ij,ij->i", X, X) / (LAM * n)

    T_df = _steps_to_target(lambda T, r: dfsdca(P, eta, T, np.random.default_rng(seed), record_every=r),
                            P, fstar, n // 10, 200 * n)
    T_sd = _steps_to_target(lambda T, r: sdca(P, T, np.random.default_rng(seed), record_every=r),
                            P, fstar, n // 10, 200 * n)
    T_ref = 5_000 if quick else 20_000  # the numpy reference, timed on a prefix of the run

    def df_min():
        w, alpha = np.zeros(P.d), np.zeros(n)
        dfs_min(X, y, np.random.default_rng(seed).integers(n, size=T_df), eta, c, alpha, w)
        return w

    def sd_min():
        w, alpha = np.zeros(P.d), np.zeros(n)
        sdca_min(X, y, q, np.random.default_rng(seed).integers(n, size=T_sd), LAM * n, alpha, w)
        return w

    df_min(), sd_min()  # compile (or load) outside the timings
    dfsdca(P, eta, 10, np.random.default_rng(0)), sdca(P, 10, np.random.default_rng(0))
    tol, sag = _sag(P, fstar)
    timed = best_cpu({
        "dfsdca numpy": lambda: dfsdca(P, eta, T_ref, np.random.default_rng(seed), engine="numpy").w,
        "dfsdca kernel": lambda: dfsdca(P, eta, T_df, np.random.default_rng(seed)).w,
        "dfsdca minimal": df_min,
        "sdca numpy": lambda: sdca(P, T_ref, np.random.default_rng(seed), engine="numpy").w,
        "sdca kernel": lambda: sdca(P, T_sd, np.random.default_rng(seed)).w,
        "sdca minimal": sd_min,
        "sklearn sag": sag,
    }, 2 if quick else 5)
    print(f"\n2. serial solvers on ijcnn1-shaped ridge (n={n}, d={P.d}, lam={LAM}), to (P - P*)/P* <= {TARGET:g}; "
          f"dfSDCA eta = 1/(L_max + lam n) = {eta:.3g}")
    print(f"{'':>16} {'steps':>9} {'CPU s':>9} {'us/step':>9} {'rel. subopt':>12}")
    for name, T in (("dfsdca numpy", T_ref), ("dfsdca kernel", T_df), ("dfsdca minimal", T_df),
                    ("sdca numpy", T_ref), ("sdca kernel", T_sd), ("sdca minimal", T_sd)):
        t, w = timed[name]
        sub = f"{_rel_subopt(P, w, fstar):12.2e}" if T != T_ref else f"{'(prefix)':>12}"
        print(f"{name:>16} {T:>9} {t:>9.4f} {1e6 * t / T:>9.3f} {sub}")
    t_sag, w_sag = timed["sklearn sag"]
    print(f"{'sklearn sag':>16} {'':>9} {t_sag:>9.4f} {'':>9} {_rel_subopt(P, w_sag, fstar):12.2e}  (tol={tol:g})")
    for algo in ("dfsdca", "sdca"):
        t_ref, t_k, t_min = (timed[f"{algo} {v}"][0] for v in ("numpy", "kernel", "minimal"))
        T = T_df if algo == "dfsdca" else T_sd
        speed = (t_ref / T_ref) / (t_k / T)
        r_min, r_sag = t_k / t_min, t_sag / t_k
        dev = np.max(np.abs(timed[f"{algo} kernel"][1] - timed[f"{algo} minimal"][1])) / np.max(
            np.abs(timed[f"{algo} kernel"][1]))
        print(f"{algo}: kernel vs numpy reference {speed:.0f}x per step; kernel / minimal = {r_min:.2f} "
              f"(target <= 2: {'met' if r_min <= 2 else 'MISSED'}); SAG / kernel = {r_sag:.1f} "
              f"(target >= 5: {'met' if r_sag >= 5 else 'MISSED'}); |w_kernel - w_minimal| / |w|_max = {dev:.1e}")


def bench_cocoa(quick: bool) -> None:
    data = synthetic_like("ijcnn1", scale=1.0, seed=0)
    P = ridge(data, lam=LAM)
    K, H = 8, 1000
    rolls = 16 if quick else 48

    def run(engine):
        roles = CoCoAPlus(P, K, H=H, engine=engine)
        rngs = worker_streams(3, K)
        for r in range(rolls):
            k = r % K
            roles.apply(k, roles.work(k, roles.read(), rngs[k]))
        return roles.w.copy()

    run("numba")
    timed = best_cpu({"numpy": lambda: run("numpy"), "kernel": lambda: run("numba")}, 3)
    (t_ref, w_ref), (t_k, w_k) = timed["numpy"], timed["kernel"]
    print(f"\n3. CoCoA+ local SDCA solver, ijcnn1-shaped ridge (n={P.n}), K={K}, H={H}, {rolls} messages")
    print(f"numpy loop {1e6 * t_ref / (rolls * H):.2f} us/step, kernel {1e6 * t_k / (rolls * H):.3f} us/step: "
          f"{t_ref / t_k:.0f}x; iterates equal bit for bit: {np.array_equal(w_ref, w_k)}")


def _eager_streams(seed: int, K: int):
    """The construction before the lazy streams: every Generator spawned up front."""
    algo = [np.random.default_rng(s) for s in _fresh(seed).spawn(2)[0].spawn(K)]
    workers_ss, straggler_ss = cluster_stream(seed).spawn(2)
    timing = [[np.random.default_rng(s) for s in ss.spawn(5)] for ss in workers_ss.spawn(K)]
    return algo, timing, np.random.default_rng(straggler_ss)


def bench_setup(quick: bool) -> None:
    from sim import Budget, Cluster, ConstantSpeed, ExponentialSpeed, Network, simulate

    K = 4096
    data = synthetic_like("ijcnn1", scale=1.0, seed=0)  # n = 49,990 >= K
    P = ridge(data, lam=LAM)
    P.solution(), P.constants()  # the problem's own one-off solves are not setup of a run

    def setup_lazy():
        cluster = Cluster.homogeneous(K, speed=ExponentialSpeed(1.0), network=Network(ExponentialSpeed(0.01)))
        return cluster.clock(0), worker_streams(0, K), DisDfSDCA(P, K, eta=1e-4, H=10, T=8 * K)

    def setup_eager():
        cluster = Cluster.homogeneous(K, speed=ExponentialSpeed(1.0), network=Network(ExponentialSpeed(0.01)))
        return cluster.clock(0), _eager_streams(0, K), DisDfSDCA(P, K, eta=1e-4, H=10, T=8 * K)

    def first_update(speed):
        latency = speed.time_per_work if isinstance(speed, ConstantSpeed) else speed
        cluster = Cluster.homogeneous(K, speed=speed, network=Network(latency))
        roles = DisDfSDCA(P, K, eta=1e-4, H=10, T=8 * K)
        return simulate(roles, cluster, seed=0, budget=Budget(max_updates=1), record_every=1)

    timed = best_cpu({
        "lazy": setup_lazy, "eager": setup_eager,
        "first update, exponential": lambda: first_update(ExponentialSpeed(1.0)),
        "first update, constant": lambda: first_update(ConstantSpeed(0.5)),
    }, 2 if quick else 3)
    print(f"\n4. setup at K = {K} (Dis-dfSDCA H=10 on ijcnn1-shaped ridge, exponential speeds and latency)")
    t_lazy, t_eager = timed["lazy"][0], timed["eager"][0]
    print(f"cluster + clock + worker streams + roles: {t_lazy:.4f} CPU s (target <= 0.1: "
          f"{'met' if t_lazy <= 0.1 else 'MISSED'}); eager spawning of every Generator: {t_eager:.4f} CPU s")
    for name in ("first update, exponential", "first update, constant"):
        print(f"simulate() to its first server update ({name.split(', ')[1]} speeds): {timed[name][0]:.4f} CPU s")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats and steps of the numpy references")
    args = parser.parse_args(argv)
    bench_compile()
    bench_serial(args.quick)
    bench_cocoa(args.quick)
    bench_setup(args.quick)
    return 0


if __name__ == "__main__":
    with threadpool_limits(limits=1, user_api="blas"):
        raise SystemExit(main())
