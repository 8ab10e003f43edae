"""The Problem seam: a finite-sum objective and the constants theory needs.

    P(w) = 1/n sum_i phi_i(w) + lam/2 |w|^2          (thesis eq. 3.1)

Every problem in delaylab is a subclass of :class:`Problem`. Algorithms use
only this interface; ``bounds`` receives the plain numbers of
:class:`Constants`. Linear models (``phi_i(w) = loss(x_i^T w, y_i)``) also
expose per-sample margins and loss derivatives so that dual-free methods keep
O(n) dual storage (thesis §3.2.2, §3.5.1) instead of O(nd).
"""
from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np


def _check_positive(name: str, value: float, *, allow_zero: bool = False) -> None:
    ok = value >= 0 if allow_zero else value > 0
    if not (np.isfinite(value) and ok):
        rng = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number {rng}, got {value!r}")


@dataclass(frozen=True)
class Constants:
    """Problem constants, each marked exact or estimated.

    L      smoothness of the data term f = 1/n sum phi_i (regulariser excluded)
    L_max  max_i smoothness of phi_i (the per-sample L of Assumption 3.4.1)
    mu     strong convexity of P (regulariser included; 0 if not strongly convex)
    lam    l2 regularisation lambda of eq. 3.1
    n, d   samples and dimension
    exact  constant name -> True when computed exactly (e.g. eigen-decomposition)
    how    constant name -> one sentence on how it was obtained
    """

    L: float
    L_max: float
    mu: float
    lam: float
    n: int
    d: int
    exact: Mapping[str, bool] = field(default_factory=dict)
    how: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("L", "L_max", "mu", "lam"):
            _check_positive(name, float(getattr(self, name)), allow_zero=True)
        for name in ("n", "d"):
            v = getattr(self, name)
            if int(v) != v or v < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {v!r}")


@dataclass(frozen=True)
class Solution:
    """A high-accuracy minimiser w* of P and its value P* (``how``: closed form / solver)."""

    w: np.ndarray
    value: float
    how: str


class Problem(abc.ABC):
    """A finite-sum objective P(w) = 1/n sum phi_i(w) + lam/2 |w|^2 (eq. 3.1).

    Attributes every problem sets: ``name``, ``n``, ``d``, ``lam``.
    Linear models additionally set ``X`` (n x d, ndarray or scipy CSR) and
    ``y`` (n,), and report ``is_linear = True``.
    """

    name: str
    n: int
    d: int
    lam: float
    is_linear: bool = False
    has_dual: bool = False

    # --- values and gradients -------------------------------------------
    @abc.abstractmethod
    def value(self, w: np.ndarray) -> float:
        """P(w), regulariser included (eq. 3.1)."""

    @abc.abstractmethod
    def grad(self, w: np.ndarray) -> np.ndarray:
        """Full gradient of P at w, regulariser included, shape (d,)."""

    @abc.abstractmethod
    def batch_grad(self, w: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """1/|idx| sum_{i in idx} grad phi_i(w) + lam w: unbiased estimate of grad P.

        With ``idx = arange(n)`` it equals :meth:`grad`. Vectorised over idx.
        """

    @abc.abstractmethod
    def sample_grads(self, w: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """Per-sample data-term gradients grad phi_i(w), i in idx: shape (len(idx), d).

        No regulariser. O(len(idx) * d) memory: for linear models prefer
        :meth:`margins` and :meth:`dloss`.
        """

    @abc.abstractmethod
    def constants(self) -> Constants:
        """L, L_max, mu, lam, n, d with exact/estimated flags."""

    @abc.abstractmethod
    def solution(self) -> Solution:
        """w* and P* to high accuracy (closed form where possible, else a tight scipy solve)."""

    # --- linear models (is_linear = True) -------------------------------
    def margins(self, w: np.ndarray, idx: np.ndarray | None = None) -> np.ndarray:
        """x_i^T w for i in idx (all samples if idx is None)."""
        raise TypeError(f"{type(self).__name__} is not a linear model (is_linear=False)")

    def dloss(self, margins: np.ndarray, idx: np.ndarray | None = None, *,
              check_input: bool = True) -> np.ndarray:
        """phi_i'(m_i): derivative of the loss in its margin, so grad phi_i(w) = phi_i'(x_i^T w) x_i.

        ``check_input=False`` skips validation of idx and shapes (hot loops with internal indices).
        """
        raise TypeError(f"{type(self).__name__} is not a linear model (is_linear=False)")

    # --- problems with a known dual (has_dual = True) --------------------
    def dual_value(self, alpha: np.ndarray) -> float:
        """D(alpha) of eq. 3.2 for the scalar dual alpha in R^n (linear models)."""
        raise TypeError(f"{type(self).__name__} has no known dual (has_dual=False)")

    def primal_from_dual(self, alpha: np.ndarray) -> np.ndarray:
        """w(alpha) = A alpha / (lam n), eq. 3.3."""
        raise TypeError(f"{type(self).__name__} has no known dual (has_dual=False)")

    def duality_gap(self, alpha: np.ndarray) -> float:
        """G(alpha) = P(w(alpha)) - D(alpha) (§3.2); non-negative by weak duality."""
        return float(self.value(self.primal_from_dual(alpha)) - self.dual_value(alpha))

    def suboptimality(self, w: np.ndarray) -> float:
        """P(w) - P* using :meth:`solution` (cached by implementations)."""
        return float(self.value(w) - self.solution().value)
