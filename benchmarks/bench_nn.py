"""Neural-net substrate benchmark (not part of the test suite).

    python benchmarks/bench_nn.py [--quick]

Mini-batch gradient of the Chapter 2 nets (ReLU hidden layer, softmax loss, l2 weight C):
784 x 100 x 10 with C = 1e-3 (§2.5.1) and 384 x 50 x 10 with C = 1e-4 (§2.5.2), batch
|I_t| = 10. ``MLPProblem.batch_grad`` (generic layers, checked inputs, views of the
flat w) against a plain, minimal numpy forward/backward of the same net written
below, both with one BLAS thread. Reports microseconds per call, the ratio, the
peak memory allocated by one call in units of the gradient's own size (8 d bytes),
and checks both give the same gradient. Every number is measured in this one run.
"""
from __future__ import annotations

import argparse
import time
import tracemalloc
from typing import Sequence

import numpy as np
from threadpoolctl import threadpool_limits

from algorithms.nn import MLPProblem

NETS = (((784, 100, 10), 1e-3, "§2.5.1 MNIST-shaped"), ((384, 50, 10), 1e-4, "§2.5.2 CIFAR-feature-shaped"))
BATCH = 10


def reference_batch_grad(w: np.ndarray, X: np.ndarray, labels: np.ndarray, idx: np.ndarray,
                         lam: float, sizes: tuple[int, int, int]) -> np.ndarray:
    """Plain numpy: one-hidden-layer ReLU net, mean softmax cross-entropy + lam/2 |w|^2."""
    p, h, C = sizes
    W1 = w[: p * h].reshape(p, h)
    b1 = w[p * h: p * h + h]
    o = p * h + h
    W2 = w[o: o + h * C].reshape(h, C)
    b2 = w[o + h * C:]
    a = X[idx]
    z1 = a @ W1 + b1
    a1 = np.maximum(z1, 0.0)
    z2 = a1 @ W2 + b2
    e = np.exp(z2 - z2.max(axis=1, keepdims=True))
    e /= e.sum(axis=1, keepdims=True)
    e[np.arange(len(idx)), labels[idx]] -= 1.0
    e /= len(idx)
    d1 = (e @ W2.T) * (z1 > 0)
    return np.concatenate([(a.T @ d1).ravel(), d1.sum(axis=0), (a1.T @ e).ravel(), e.sum(axis=0)]) + lam * w


def _best_interleaved(fns: dict, calls: int, repeats: int) -> dict:
    """Best per-call wall time of each function over ``repeats`` rounds of ``calls`` calls,
    rounds interleaved so that machine load hits all alike."""
    best = {name: float("inf") for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            for _ in range(calls):
                fn()
            best[name] = min(best[name], (time.perf_counter() - t0) / calls)
    return best


def _peak_bytes(fn) -> int:
    fn()  # warm caches so only the call's own allocations are traced
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def bench_batch_grad(quick: bool) -> None:
    n = 2_000 if quick else 10_000
    calls, repeats = (200, 3) if quick else (2_000, 5)
    print(f"\nMLPProblem.batch_grad vs plain numpy, batch {BATCH}, n = {n}, one BLAS thread, "
          f"best of {repeats} x {calls} calls")
    print(f"{'net':>12} {'d':>7} {'batch_grad us':>14} {'reference us':>13} {'ratio':>6} "
          f"{'peak/8d nn':>11} {'peak/8d ref':>12} {'allclose':>9}  thesis")
    rng = np.random.default_rng(0)
    for sizes, lam, where in NETS:
        X = rng.standard_normal((n, sizes[0]))
        y = rng.integers(0, sizes[-1], n)
        P = MLPProblem(X, y.astype(np.float64), lam, sizes=sizes)
        w = P.initial_point() + 0.01 * rng.standard_normal(P.d)
        idx = rng.integers(0, n, BATCH)
        with threadpool_limits(limits=1, user_api="blas"):
            same = np.allclose(P.batch_grad(w, idx), reference_batch_grad(w, X, y, idx, lam, sizes),
                               rtol=1e-12, atol=1e-15)
            t = _best_interleaved({
                "nn": lambda: P.batch_grad(w, idx),
                "ref": lambda: reference_batch_grad(w, X, y, idx, lam, sizes),
            }, calls, repeats)
            peak_nn = _peak_bytes(lambda: P.batch_grad(w, idx)) / (8 * P.d)
            peak_ref = _peak_bytes(lambda: reference_batch_grad(w, X, y, idx, lam, sizes)) / (8 * P.d)
        name = "x".join(map(str, sizes))
        print(f"{name:>12} {P.d:>7} {1e6 * t['nn']:>14.1f} {1e6 * t['ref']:>13.1f} "
              f"{t['nn'] / t['ref']:>6.2f} {peak_nn:>11.2f} {peak_ref:>12.2f} {str(same):>9}  {where}")
        if not same:
            raise SystemExit(f"batch_grad and the reference disagree on {name}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (seconds)")
    args = parser.parse_args(argv)
    bench_batch_grad(args.quick)
    return 0


if __name__ == "__main__":
    # One BLAS thread, as in every study run (studies.runner).
    with threadpool_limits(limits=1, user_api="blas"):
        raise SystemExit(main())
