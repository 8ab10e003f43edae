"""Empirical estimators for constants the thesis cannot write down (Ch. 4-6).

* per-layer Lipschitz constants L_k of Assumption 4.3.1 (eq. 4.10), by finite
  differences of the layer gradient along random layer-local directions;
* per-layer gradient variance factors M_k of Assumption 4.3.2 (eq. 4.11), from
  per-sample gradients (the §4.4.3 / Figure 12 ratio, or the eq. 4.11 ratio);
* the sufficient-direction constant sigma of Assumption 6.4.1 (eq. 6.10), from
  pairs (full gradient, expected descent direction).

Everything takes plain numpy arrays or callables ``w -> gradient`` and never
imports ``algorithms``. Every estimate says how it was obtained.

Note on M_k (see bounds/NOTES.md (Chapters 4-6), item N4.6): §4.4.3 estimates M_k as
``mean_i |g_ik|^2 / |mean_i g_ik|^2``, which equals ``1 + var_k / |mean_k|^2``;
the smallest M_k satisfying eq. (4.11) with M = 0 is ``var_k / |mean_k|^2``.
The two differ by exactly 1; both are offered (``kind=``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "Estimate",
    "layer_blocks",
    "estimate_layer_lipschitz",
    "estimate_layer_variance_factor",
    "estimate_sufficient_direction",
]


@dataclass(frozen=True)
class Estimate:
    """An empirical constant: its value, how it was obtained, from how many draws."""

    value: float
    how: str
    n_samples: int

    def __post_init__(self) -> None:
        if not isinstance(self.how, str) or not self.how:
            raise ValueError(f"how must be a non-empty string, got {self.how!r}")
        if not isinstance(self.n_samples, (int, np.integer)) or self.n_samples < 1:
            raise ValueError(f"n_samples must be an integer >= 1, got {self.n_samples!r}")
        if not isinstance(self.value, (float, int, np.floating, np.integer)) or math.isnan(self.value):
            raise ValueError(f"value must be a real number (not NaN), got {self.value!r}")
        object.__setattr__(self, "value", float(self.value))


def layer_blocks(sizes: Sequence[int]) -> tuple[np.ndarray, ...]:
    """Contiguous index blocks (the U_k of §4.3.1) for layers of the given sizes."""
    sizes = [int(s) for s in sizes]
    if not sizes or any(s < 1 for s in sizes):
        raise ValueError(f"sizes must be a non-empty sequence of integers >= 1, got {sizes!r}")
    edges = np.concatenate([[0], np.cumsum(sizes)])
    return tuple(np.arange(edges[k], edges[k + 1]) for k in range(len(sizes)))


def _check_blocks(blocks: Sequence[np.ndarray], d: int) -> tuple[np.ndarray, ...]:
    if len(blocks) < 1:
        raise ValueError("blocks must hold at least one index array, got an empty sequence")
    out = tuple(np.asarray(b, dtype=np.intp).ravel() for b in blocks)
    joined = np.concatenate(out)
    if joined.size != d or not np.array_equal(np.sort(joined), np.arange(d)):
        raise ValueError(
            f"blocks must partition range(d) with d={d} (each coordinate in exactly one block), "
            f"got {joined.size} indices"
        )
    return out


def estimate_layer_lipschitz(
    grad: Callable[[np.ndarray], np.ndarray],
    w: np.ndarray,
    blocks: Sequence[np.ndarray],
    rng: np.random.Generator,
    *,
    n_directions: int = 8,
    radius: float = 1e-3,
) -> tuple[Estimate, ...]:
    """L_k of eq. (4.10) near ``w``: max over random v_k of |grad_k(w+U_k v_k)-grad_k(w)|/|v_k|.

    A maximum over finitely many directions is a lower estimate of the true
    L_k (which is a supremum over all w, v); it is exact for quadratics whose
    layer Hessian block has a dominant eigen-direction the draws approach.
    """
    w = np.asarray(w, dtype=np.float64)
    if w.ndim != 1:
        raise ValueError(f"w must be a 1-d array, got shape {w.shape}")
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    if int(n_directions) < 1:
        raise ValueError(f"n_directions must be an integer >= 1, got {n_directions!r}")
    if not (math.isfinite(radius) and radius > 0):
        raise ValueError(f"radius must be a finite number > 0, got {radius!r}")
    blocks = _check_blocks(blocks, w.size)
    g0 = np.asarray(grad(w), dtype=np.float64)
    out = []
    for k, idx in enumerate(blocks):
        dirs = rng.standard_normal((int(n_directions), idx.size))
        dirs *= radius / np.linalg.norm(dirs, axis=1, keepdims=True)
        ratios = np.empty(int(n_directions))
        for j, v in enumerate(dirs):  # one gradient call per direction: the callable is opaque
            wp = w.copy()
            wp[idx] += v
            ratios[j] = np.linalg.norm(np.asarray(grad(wp))[idx] - g0[idx]) / radius
        out.append(
            Estimate(
                float(ratios.max()),
                f"layer {k + 1}: max over {n_directions} random layer-local directions of "
                f"|grad_k(w+U_k v)-grad_k(w)|/|v|, |v|={radius:g} (eq. 4.10; lower estimate)",
                int(n_directions),
            )
        )
    return tuple(out)


def estimate_layer_variance_factor(
    sample_grads: np.ndarray,
    blocks: Sequence[np.ndarray],
    *,
    kind: str = "thesis",
) -> tuple[Estimate, ...]:
    """M_k per layer from an (n, d) matrix of per-sample gradients.

    kind="thesis": §4.4.3 (Figure 12) ratio mean_i|g_ik|^2 / |mean_i g_ik|^2.
    kind="assumption": var_k / |mean_k|^2, the smallest M_k in eq. (4.11) with M = 0.
    """
    if kind not in ("thesis", "assumption"):
        raise ValueError(f"kind must be 'thesis' or 'assumption', got {kind!r}")
    G = np.asarray(sample_grads, dtype=np.float64)
    if G.ndim != 2 or G.shape[0] < 2:
        raise ValueError(f"sample_grads must be an (n, d) array with n >= 2, got shape {G.shape}")
    blocks = _check_blocks(blocks, G.shape[1])
    sq = G * G
    mean = G.mean(axis=0)
    out = []
    for k, idx in enumerate(blocks):
        second = sq[:, idx].sum(axis=1).mean()
        mean_sq = float(mean[idx] @ mean[idx])
        if mean_sq == 0.0:
            raise ValueError(f"layer {k + 1}: mean gradient is exactly zero, M_k is unbounded")
        ratio = second / mean_sq
        value = ratio if kind == "thesis" else ratio - 1.0
        how = (
            "mean_i|g_ik|^2/|mean_i g_ik|^2 over per-sample gradients (thesis §4.4.3)"
            if kind == "thesis"
            else "var_k/|mean_k|^2 over per-sample gradients (eq. 4.11 with M=0)"
        )
        out.append(Estimate(float(value), f"layer {k + 1}: {how}", int(G.shape[0])))
    return tuple(out)


def estimate_sufficient_direction(
    full_grads: np.ndarray,
    directions: np.ndarray,
    blocks: Sequence[np.ndarray] | None = None,
) -> tuple[Estimate, ...]:
    """sigma of eq. (6.10) from m pairs (full gradient, expected descent direction).

    Rows of ``full_grads`` and ``directions`` are paired (one pair per iterate
    w^t). The estimate is min_t <grad f, E g>/|grad f|^2 (the assumption must
    hold at every t). With ``blocks`` one estimate per module (as in Figure 26),
    using the module's coordinates only; otherwise one estimate overall.
    """
    F = np.atleast_2d(np.asarray(full_grads, dtype=np.float64))
    D = np.atleast_2d(np.asarray(directions, dtype=np.float64))
    if F.shape != D.shape:
        raise ValueError(f"full_grads and directions must have equal shapes, got {F.shape} and {D.shape}")
    if blocks is None:
        blocks = (np.arange(F.shape[1]),)
        names = ["all modules"]
    else:
        blocks = _check_blocks(blocks, F.shape[1])
        names = [f"module {k + 1}" for k in range(len(blocks))]
    out = []
    for name, idx in zip(names, blocks):
        num = np.einsum("ij,ij->i", F[:, idx], D[:, idx])
        den = np.einsum("ij,ij->i", F[:, idx], F[:, idx])
        if np.any(den == 0.0):
            raise ValueError(f"{name}: a full gradient is exactly zero; sigma is undefined there")
        out.append(
            Estimate(
                float(np.min(num / den)),
                f"{name}: min over {F.shape[0]} iterates of <grad f, E g>/|grad f|^2 (eq. 6.10)",
                int(F.shape[0]),
            )
        )
    return tuple(out)
