"""What the benchmarks share: best-of-N wall times with the variants interleaved, so that load on a
shared machine hits every variant alike (ratios are taken within one run)."""
from __future__ import annotations

import time


def best_interleaved(fns: dict, repeats: int) -> dict:
    """{name: (best wall time in seconds, the last result)} of each function, runs interleaved."""
    best = {name: float("inf") for name in fns}
    out = {}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            out[name] = fn()
            best[name] = min(best[name], time.perf_counter() - t0)
    return {name: (best[name], out[name]) for name in fns}
