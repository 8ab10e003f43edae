"""The Problem seam: a small base every objective has, plus optional capabilities.

    f(w) = 1/n sum_i f_i(w)  (+ a regulariser)             (thesis eqs. 2.1, 3.1)

The base (:class:`Problem`) is what every algorithm may rely on: ``value``,
``grad``, ``batch_grad`` over an index array, ``n``, ``d``, the starting point,
and the :class:`Constants` that are known (each marked exact or estimated).
A problem adds *capabilities* by inheriting the matching mixin:

=====================  ==========================================================
``known_optimum``      :class:`KnownOptimum`: w* and f* (closed form or a tight solve)
``per_sample_grads``   :class:`PerSampleGradients`: grad f_i(w) for i in a batch (dfSDCA, O(nd))
``linear_model``       :class:`LinearModel`: f_i(w) = loss(x_i^T w, y_i), margins and loss
                       derivatives, so dual-free methods keep O(n) duals (§3.2.2, §3.5.1)
``dual``               :class:`HasDual`: D(alpha), w(alpha) and the duality gap (eqs. 3.2-3.3)
``layered``            :class:`Layered`: parameter blocks per layer, forward and backward per
                       layer (layer-wise rates, Ch. 4; pipeline stages, Ch. 5-6)
``classifier``         :class:`Classifier`: train and test error
=====================  ==========================================================

An algorithm states the capabilities it needs (``requires``); :func:`require`
turns a missing one into a clear error. ``bounds`` receives plain numbers only.
"""
from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Mapping, NamedTuple

import numpy as np


def _check_constant(name: str, value: float | None) -> None:
    if value is None:
        return
    v = float(value)
    if not (np.isfinite(v) and v >= 0):
        raise ValueError(f"{name} must be a finite number >= 0 or None (unknown), got {value!r}")


@dataclass(frozen=True)
class Constants:
    """Problem constants, each marked exact or estimated; ``None`` where unknown.

    L      smoothness of the data term f = 1/n sum f_i (regulariser excluded)
    L_max  max_i smoothness of f_i (the per-sample L of Assumptions 2.2.3 / 3.4.1)
    mu     strong convexity of the objective (regulariser included; 0 if not strongly convex)
    lam    l2 regularisation weight (lambda of eq. 3.1, C of §2.5)
    n, d   samples and dimension
    exact  constant name -> True when computed exactly (e.g. eigen-decomposition)
    how    constant name -> one sentence on how it was obtained
    """

    L: float | None
    L_max: float | None
    mu: float | None
    lam: float
    n: int
    d: int
    exact: Mapping[str, bool] = field(default_factory=dict)
    how: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("L", "L_max", "mu", "lam"):
            _check_constant(name, getattr(self, name))
        if self.lam is None:
            raise ValueError("lam must be a finite number >= 0, got None")
        for name in ("n", "d"):
            v = getattr(self, name)
            if int(v) != v or v < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {v!r}")


@dataclass(frozen=True)
class Solution:
    """A high-accuracy minimiser w* and its value f* (``how``: closed form / solver)."""

    w: np.ndarray
    value: float
    how: str


class Problem(abc.ABC):
    """The base every objective has (see the module docstring for capabilities).

    Attributes every problem sets: ``name``, ``n``, ``d``, ``lam`` (0 without a regulariser).
    """

    name: str
    n: int
    d: int
    lam: float

    @abc.abstractmethod
    def value(self, w: np.ndarray) -> float:
        """f(w), regulariser included."""

    @abc.abstractmethod
    def grad(self, w: np.ndarray) -> np.ndarray:
        """Full gradient of f at w, regulariser included, shape (d,)."""

    @abc.abstractmethod
    def batch_grad(self, w: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """1/|idx| sum_{i in idx} grad f_i(w) (+ the regulariser's gradient): unbiased for grad f.

        With ``idx = arange(n)`` it equals :meth:`grad`. Vectorised over idx.
        """

    @abc.abstractmethod
    def constants(self) -> Constants:
        """L, L_max, mu, lam, n, d where known (None where not), with exact/estimated flags."""

    def initial_point(self) -> np.ndarray:
        """w^0 of every algorithm on this problem: zeros, unless the problem says otherwise
        (a neural net starts from its seeded initialisation)."""
        return np.zeros(self.d)

    @property
    def capabilities(self) -> frozenset[str]:
        """The names of the capabilities this problem has (see the module docstring)."""
        return frozenset(name for name, cls in CAPABILITIES.items() if isinstance(self, cls))


class KnownOptimum(abc.ABC):
    """Capability ``known_optimum``: w* and f* to high accuracy."""

    @abc.abstractmethod
    def solution(self) -> Solution:
        """w* and f* (closed form where possible, else a tight scipy solve); cached."""

    def suboptimality(self, w: np.ndarray) -> float:
        """f(w) - f*."""
        return float(self.value(w) - self.solution().value)  # type: ignore[attr-defined]


class PerSampleGradients(abc.ABC):
    """Capability ``per_sample_grads``: grad f_i(w) for each i of a batch."""

    @abc.abstractmethod
    def sample_grads(self, w: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """Per-sample data-term gradients grad f_i(w), i in idx: shape (len(idx), d), no regulariser."""


class LinearModel(PerSampleGradients):
    """Capability ``linear_model``: f_i(w) = loss(x_i^T w, y_i); sets ``X`` (n x d, ndarray or CSR) and ``y``."""

    X: object
    y: np.ndarray

    @abc.abstractmethod
    def margins(self, w: np.ndarray, idx: np.ndarray | None = None) -> np.ndarray:
        """x_i^T w for i in idx (all samples if idx is None)."""

    @abc.abstractmethod
    def dloss(self, margins: np.ndarray, idx: np.ndarray | None = None, *,
              check_input: bool = True) -> np.ndarray:
        """loss'(m_i): derivative in the margin, so grad f_i(w) = loss'(x_i^T w) x_i.

        ``check_input=False`` skips validation of idx and shapes (hot loops with internal indices).
        """


class HasDual(abc.ABC):
    """Capability ``dual``: the dual of eq. 3.2 for a scalar dual alpha in R^n."""

    @abc.abstractmethod
    def dual_value(self, alpha: np.ndarray) -> float:
        """D(alpha) of eq. 3.2."""

    @abc.abstractmethod
    def primal_from_dual(self, alpha: np.ndarray) -> np.ndarray:
        """w(alpha) = A alpha / (lam n), eq. 3.3."""

    def dual_value_from(self, alpha: np.ndarray, w_alpha: np.ndarray | None) -> float:
        """D(alpha) of eq. 3.2 given ``w_alpha`` = w(alpha) (eq. 3.3) already computed (None: not yet).
        Problems whose dual has the term lam/2 |w(alpha)|^2 override it to reuse w_alpha (one X^T alpha
        pass instead of two per duality gap); the default ignores it."""
        return self.dual_value(alpha)

    def duality_gap(self, alpha: np.ndarray, *, w_alpha: np.ndarray | None = None) -> float:
        """G(alpha) = P(w(alpha)) - D(alpha) (§3.2); non-negative by weak duality. w(alpha) (eq. 3.3) is
        computed once and shared by P and D; pass ``w_alpha`` if the caller already has it."""
        if w_alpha is None:
            w_alpha = self.primal_from_dual(alpha)
        return float(self.value(w_alpha) - self.dual_value_from(alpha, w_alpha))  # type: ignore


class Block(NamedTuple):
    """One layer's parameters inside the flat vector w: ``w[start:stop]``; ``shapes`` of its
    arrays in storage order (e.g. ((n_in, n_out), (n_out,)) for a dense layer's W and b)."""

    name: str
    start: int
    stop: int
    shapes: tuple[tuple[int, ...], ...]

    @property
    def slice(self) -> slice:
        return slice(self.start, self.stop)

    @property
    def size(self) -> int:
        return self.stop - self.start


class Layered(abc.ABC):
    """Capability ``layered``: a network of layers, each with its block of w.

    A layer runs alone given its own parameters, so a pipeline stage (Ch. 5-6) can own a
    range of layers: ``layer_forward(k, w_k, a)`` returns (output, cache) and
    ``layer_backward(k, w_k, cache, g_out)`` returns (g_in, g_w_k) with g_w_k the gradient of
    the *data term* for that batch (mean over the batch, no regulariser).
    """

    @property
    @abc.abstractmethod
    def layers(self) -> tuple[Block, ...]:
        """One Block per layer (layers without parameters have an empty block)."""

    @abc.abstractmethod
    def layer_forward(self, k: int, w_k: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, object]:
        """Layer k on input activations a (batch x features): (output, cache for the backward pass)."""

    @abc.abstractmethod
    def layer_backward(self, k: int, w_k: np.ndarray, cache: object,
                       g_out: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Layer k's backward pass: (gradient w.r.t. its input, gradient w.r.t. w_k)."""


class Classifier(abc.ABC):
    """Capability ``classifier``: misclassification rate on the training and the test set."""

    @abc.abstractmethod
    def error(self, w: np.ndarray, split: str = "train") -> float:
        """Fraction misclassified on ``split`` ("train" or "test"); NaN when there is no test set."""


#: capability name -> mixin class; ``Problem.capabilities`` and :func:`require` read it
CAPABILITIES: Mapping[str, type] = {
    "known_optimum": KnownOptimum,
    "per_sample_grads": PerSampleGradients,
    "linear_model": LinearModel,
    "dual": HasDual,
    "layered": Layered,
    "classifier": Classifier,
}


def has(problem: object, capability: str) -> bool:
    """Whether ``problem`` has ``capability`` (a key of :data:`CAPABILITIES`)."""
    try:
        return isinstance(problem, CAPABILITIES[capability])
    except KeyError:
        raise ValueError(f"capability must be one of {sorted(CAPABILITIES)}, got {capability!r}") from None


def require(problem: object, *capabilities: str, who: str) -> None:
    """ValueError naming ``who``, the missing capability and the problem, unless it has them all.

    A capability written ``"a|b"`` is satisfied by either.
    """
    if not isinstance(problem, Problem):
        raise ValueError(f"problem must be an algorithms.problem.Problem for {who}, got {type(problem).__name__}")
    for cap in capabilities:
        options = cap.split("|")
        if not any(has(problem, c) for c in options):
            have = ", ".join(sorted(problem.capabilities)) or "none"
            need = " or ".join(repr(c) for c in options)
            raise ValueError(f"problem {getattr(problem, 'name', type(problem).__name__)!r} lacks capability "
                             f"{need}, which {who} needs (it has: {have})")
