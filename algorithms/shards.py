"""Data shards of the distributed Chapter 3 algorithms and the checks they share.

The thesis (§3.3) assumes the n samples are "evenly distributed over K
workers", worker k holding n_k of them with n = sum_k n_k. Shards here are
contiguous index ranges, so worker k's sample i is global sample
``offset_k + i`` and no index array larger than a block is ever built.
"""
from __future__ import annotations

import math

import numpy as np


def check_int(name: str, value: object, *, low: int = 1) -> int:
    """``value`` as an int, or ValueError naming ``name`` (bools and floats with a fraction rejected)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer, float, np.floating)):
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    if isinstance(value, (float, np.floating)) and not (math.isfinite(value) and float(value).is_integer()):
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    if value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def check_step(name: str, value: object) -> float:
    """``value`` as a float > 0, or ValueError naming ``name``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    v = float(value)
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return v


def split_shards(n: int, K: int) -> list[np.ndarray]:
    """Even contiguous split of range(n) into K index arrays (sizes differ by at most 1).

    The first ``n % K`` shards hold one sample more, as ``numpy.array_split`` does.
    """
    n = check_int("n", n)
    K = check_int("K", K)
    if K > n:
        raise ValueError(f"K must be an integer <= n = {n} (every worker needs a sample), got {K}")
    bounds = shard_bounds(n, K)
    return [np.arange(bounds[k], bounds[k + 1], dtype=np.intp) for k in range(K)]


def shard_bounds(n: int, K: int) -> np.ndarray:
    """Offsets (K + 1,) of the contiguous shards of :func:`split_shards`: shard k = [b[k], b[k+1])."""
    q, r = divmod(n, K)
    sizes = np.full(K, q, dtype=np.intp)
    sizes[:r] += 1
    return np.concatenate(([0], np.cumsum(sizes))).astype(np.intp)


def draw_block(rng: np.random.Generator, n_k: int, H: int) -> np.ndarray:
    """I_t: H distinct local indices drawn uniformly from range(n_k) (Alg. 7; §3.4 assumes no duplicates).

    For H = 1 this is one uniform draw, taken with ``rng.integers(n_k, size=1)``
    so that the stream lines up with serial dfSDCA (Alg. 5), which draws
    ``rng.integers(n)`` once per step: Dis-dfSDCA with K = 1, H = 1 and zero
    delay then reproduces serial dfSDCA iterate for iterate.
    """
    if H == 1:
        return rng.integers(n_k, size=1)
    return rng.choice(n_k, size=H, replace=False)
