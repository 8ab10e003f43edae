"""Time vectorised bound evaluation over 10^6 parameter points (target < 1 s each).

Run: /work/venv/bin/python benchmarks/bench_bounds.py [--points N] [--seed S]
Prints the time of each evaluation and checks a few points against scalar calls.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import bounds


def sample_ch3(rng: np.random.Generator, N: int) -> dict[str, np.ndarray]:
    n = rng.integers(1_000, 1_000_000, size=N)
    return dict(
        L=10.0 ** rng.uniform(-2, 2, size=N),
        lam=10.0 ** rng.uniform(-6, -1, size=N),
        n=n.astype(np.float64),
        H=np.minimum(rng.integers(1, 1_000, size=N), n).astype(np.float64),
        tau=rng.integers(0, 32, size=N).astype(np.float64),
    )


def bench(label: str, fn, repeat: int = 3) -> tuple[float, np.ndarray]:
    fn()  # warm-up: lambdify and cache
    best = np.inf
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    status = "ok" if best < 1.0 else "SLOW (target < 1 s)"
    print(f"{label:<58} {best * 1e3:9.1f} ms  {status}")
    return best, out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    N = args.points
    p = sample_ch3(rng, N)
    S = rng.integers(0, 10_000, size=N).astype(np.float64)
    print(f"{N} parameter points")
    for key in ("thm3.4.2", "thm3.4.4"):
        thm = bounds.get(key)
        _, eta = bench(f"{key} max_step", lambda: thm.max_step(**p))
        _, vals = bench(f"{key} evaluate_bound(S, eta=max_step)", lambda: thm.evaluate_bound(S=S, eta=eta, **p))
        _, cnt = bench(f"{key} outer_iterations (eps=1e-6, C0=1)",
                       lambda: thm.evaluate("outer_iterations", eps=1e-6, C0=1.0, eta=eta, **p))
        for i in rng.integers(0, N, size=3):
            scalar = {k: float(v[i]) for k, v in p.items()}
            assert vals[i] == thm.bound(float(S[i]), eta=float(eta[i]), **scalar)
            assert eta[i] == thm.max_step(**scalar)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
