"""Serial SDCA (thesis Alg. 4) and its closed-form / Newton coordinate maximiser.

Dual of eq. 3.2 with alpha in R^n (one scalar per sample, linear models):

    D(alpha) = 1/n sum_i -phi_i^*(-alpha_i) - lam/2 |A alpha / (lam n)|^2,
    w(alpha) = A alpha / (lam n)                                     (eq. 3.3)

Each step maximises the 1-D subproblem (eq. 3.4) over Delta alpha_i. The same
maximiser, with the curvature scaled by sigma', is CoCoA+'s local solver.

The margin x_i^T w of a serial step is summed in sequential order (:func:`sequential_dot`), by the
compiled kernel and by the numpy reference alike, so the two stay bit-identical. This is a
deliberate change made for speed (up to a4cacef the sum took BLAS ddot's order, numpy's
``x_i @ w``; a plain compiled loop is several times cheaper at small d): Alg. 4's iterates differ
from that version's in the last bits. CoCoA+'s local solver keeps ddot's order (:meth:`RowView.dot`).
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Callable, Literal

import numpy as np
import scipy.sparse as sp

from algorithms.problem import Problem, has
from algorithms.problems import LogisticProblem, RidgeProblem
from algorithms.shards import check_int

LossKind = Literal["squared", "logistic"]
Engine = Literal["numba", "numpy"]
ENGINES = ("numba", "numpy")

_NEWTON_MAXITER = 100
_NEWTON_TOL = 1e-15
_MAX_BLOCK = 1 << 16  # steps per compiled call at most (bounds the pre-drawn index array)


@dataclass(frozen=True)
class SerialResult:
    """Outcome of a serial run: final ``w``, dual ``alpha`` (alpha_hat in R^n for
    linear problems, R^{n x d} otherwise) and the history recorded every
    ``record_every`` steps (``steps``, ``objective`` P(w), ``duality_gap``
    G(alpha) of §3.2, NaN where the problem has no dual)."""

    w: np.ndarray
    alpha: np.ndarray
    steps: np.ndarray
    objective: np.ndarray
    duality_gap: np.ndarray

    def __post_init__(self) -> None:
        m = len(self.steps)
        for name in ("objective", "duality_gap"):
            if len(getattr(self, name)) != m:
                raise ValueError(f"{name} must have one entry per recorded step ({m}), got {len(getattr(self, name))}")


def loss_kind(problem: Problem) -> LossKind:
    """``"squared"`` for RidgeProblem (eq. 3.38), ``"logistic"`` for LogisticProblem; else TypeError."""
    if isinstance(problem, RidgeProblem):
        return "squared"
    if isinstance(problem, LogisticProblem):
        return "logistic"
    raise TypeError(
        f"SDCA needs a linear problem with a known dual (RidgeProblem or LogisticProblem), "
        f"got {type(problem).__name__}"
    )


def coordinate_delta(kind: LossKind, margin: float, alpha_i: float, y_i: float, q: float) -> float:
    """Maximiser Delta of  -phi^*(-(alpha_i + Delta)) - margin * Delta - q/2 Delta^2  (eq. 3.4 times n).

    ``margin`` = x_i^T w, ``q`` = sigma' |x_i|^2 / (lam n) (sigma' = 1 for SDCA).
    Squared loss phi(m) = (m - y)^2 / 2: phi^*(u) = u^2/2 + u y, closed form.
    Logistic loss: with beta = y (alpha_i + Delta) in (0, 1) the optimality
    condition logit(beta) + y margin + q (beta - y alpha_i) = 0 is solved in
    u = logit(beta): h(u) = u + q expit(u) + c, c = y margin - q y alpha_i,
    increasing (h' in [1, 1 + q/4]) with root in [-c - q, -c]; safeguarded
    Newton (rtsafe: bisection when a step leaves the bracket or stalls).
    """
    if kind == "squared":
        return (y_i - margin - alpha_i) / (1.0 + q)
    c = y_i * margin - q * y_i * alpha_i
    lo, hi = -c - q, -c
    # rtsafe (Numerical Recipes): Newton, but bisect when the step leaves the
    # bracket or fails to halve |h| (h is S-shaped, plain Newton can cycle).
    u = -c - q * _expit(-c)  # one fixed-point step from the q = 0 root, inside the bracket
    dx_old = dx = hi - lo
    for _ in range(_NEWTON_MAXITER):
        b = _expit(u)
        h = u + q * b + c
        if h == 0.0:
            break
        if h > 0.0:
            hi = u
        else:
            lo = u
        hp = 1.0 + q * b * (1.0 - b)
        if ((u - hi) * hp - h) * ((u - lo) * hp - h) > 0.0 or abs(2.0 * h) > abs(dx_old * hp):
            dx_old, dx = dx, 0.5 * (hi - lo)
            u = lo + dx
        else:
            dx_old, dx = dx, h / hp
            u -= dx
        if abs(dx) <= _NEWTON_TOL * (1.0 + abs(u)):
            break
    return y_i * _expit(u) - alpha_i


def check_engine(engine: object) -> Engine:
    """``engine`` as given, or ValueError naming the two allowed values."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be 'numba' (compiled kernels) or 'numpy' (the reference), got {engine!r}")
    return engine  # type: ignore[return-value]


def check_dual_lam(problem: Problem, who: str) -> float:
    """problem.lam as a float > 0, or ValueError: the dual map w = A alpha/(lam n) (eq. 3.3) needs lam > 0."""
    lam = float(problem.lam)
    if not lam > 0.0:
        raise ValueError(f"lam must be > 0 for {who} (its dual map w = A alpha/(lam n), eq. 3.3), got {lam!r}")
    return lam


def _expit(u: float) -> float:
    # 1/(1 + e^{-u}) without overflow for large |u|
    if u >= 0.0:
        return 1.0 / (1.0 + math.exp(-u))
    e = math.exp(u)
    return e / (1.0 + e)


def sequential_dot(x: np.ndarray, w: np.ndarray) -> float:
    """x^T w summed in sequential order, ((x_0 w_0 + x_1 w_1) + x_2 w_2) + ... (0.0 when empty).

    The margin x_i^T w of serial SDCA (Alg. 4, eq. 3.4) and serial dfSDCA (Alg. 5, line 4): the
    order a plain compiled loop sums in (:mod:`algorithms.kernels`), so kernel and reference agree
    bit for bit. ``np.add.accumulate`` is a running sum, each partial sum rounded in turn.
    """
    p = x * w
    return float(np.add.accumulate(p)[-1]) if p.size else 0.0


class RowView:
    """Fast access to rows x_i of a dense or CSR matrix (x_i^T w and w += a x_i) for
    the sequential coordinate solvers, whose steps depend on each other and so
    cannot be vectorised across samples."""

    def __init__(self, X: np.ndarray | sp.spmatrix) -> None:
        self.sparse = sp.issparse(X)
        if self.sparse:
            X = sp.csr_matrix(X)
            if not X.has_canonical_format:  # w[indices] += ... needs unique column indices per row
                X = X.copy()
                X.sum_duplicates()
            self._csr = X
            self.data, self.indices, self.indptr = X.data, X.indices, X.indptr
        else:
            self.X = np.asarray(X, dtype=np.float64)

    @functools.cached_property
    def sq_norms(self) -> np.ndarray:
        """|x_i|^2 per row, computed on first use (SDCA and CoCoA+ need it, dfSDCA does not)."""
        if self.sparse:
            return np.asarray(self._csr.multiply(self._csr).sum(axis=1)).ravel()
        return np.einsum("ij,ij->i", self.X, self.X)

    def dot(self, i: int, w: np.ndarray) -> float:
        if self.sparse:
            a, b = self.indptr[i], self.indptr[i + 1]
            return float(self.data[a:b] @ w[self.indices[a:b]])
        return float(self.X[i] @ w)

    def seq_dot(self, i: int, w: np.ndarray) -> float:
        """x_i^T w by :func:`sequential_dot` (a CSR row over its stored non-zeros in stored order):
        the serial solvers' margin. :meth:`dot` (BLAS order) is CoCoA+'s."""
        if self.sparse:
            a, b = self.indptr[i], self.indptr[i + 1]
            return sequential_dot(self.data[a:b], w[self.indices[a:b]])
        return sequential_dot(self.X[i], w)

    def sub_scaled(self, i: int, eta: float, kappa: float, w: np.ndarray) -> None:
        """w -= eta (kappa x_i), in place, rounded as Dis-dfSDCA's server step ``w -= eta v``."""
        if self.sparse:
            lo, hi = self.indptr[i], self.indptr[i + 1]
            w[self.indices[lo:hi]] -= eta * (kappa * self.data[lo:hi])
        else:
            w -= eta * (kappa * self.X[i])

    def axpy(self, i: int, a: float, w: np.ndarray) -> None:
        """w += a x_i, in place."""
        if self.sparse:
            lo, hi = self.indptr[i], self.indptr[i + 1]
            w[self.indices[lo:hi]] += a * self.data[lo:hi]
        else:
            w += a * self.X[i]


def record_steps(T: int, record_every: int | None) -> np.ndarray:
    """Steps 0, r, 2r, ... and T at which a serial run records (just 0 and T when r is None)."""
    if record_every is None:
        return np.unique(np.array([0, T], dtype=np.int64))
    r = check_int("record_every", record_every)
    return np.unique(np.concatenate((np.arange(0, T + 1, r, dtype=np.int64), [T])))


def _gap(problem: Problem, alpha: np.ndarray) -> float:
    return problem.duality_gap(alpha) if has(problem, "dual") and alpha.ndim == 1 else float("nan")


def _record(problem: Problem, w: np.ndarray, alpha: np.ndarray) -> tuple[float, float]:
    """(P(w), G(alpha)), G NaN without a scalar dual. At the start (alpha = 0 and w = 0) on ridge and
    logistic problems, the gap's P(w(alpha)) is the P(w) just computed, bit for bit: w(0) = X^T 0/(lam n)
    (eq. 3.3) is 0 up to the signs of zeros, and these P read w only through X w and |w|^2, which those
    signs do not change (X is finite); so two passes over X (w(alpha), P at it) of a record's four go."""
    obj = problem.value(w)
    if (alpha.ndim == 1 and isinstance(problem, (RidgeProblem, LogisticProblem)) and not alpha.any()
            and not w.any()):
        return obj, float(obj - problem.dual_value_from(alpha, w))
    return obj, _gap(problem, alpha)


def run_serial(problem: Problem, T: int, rng: np.random.Generator, record_every: int | None,
               w: np.ndarray, alpha: np.ndarray, step: Callable[[int], None]) -> SerialResult:
    """The loop of Alg. 4 and Alg. 5: T steps, each on i = ``rng.integers(n)``.

    ``step(i)`` updates ``w`` and ``alpha`` in place; objective and duality gap
    (NaN without a scalar dual) are recorded at :func:`record_steps`.
    """
    rec = record_steps(T, record_every)
    obj, gap = np.empty(len(rec)), np.empty(len(rec))
    j = 0
    for t in range(T + 1):
        if j < len(rec) and rec[j] == t:
            obj[j], gap[j] = _record(problem, w, alpha)
            j += 1
        if t == T:
            break
        step(int(rng.integers(problem.n)))
    return SerialResult(w=w, alpha=alpha, steps=rec, objective=obj, duality_gap=gap)


def run_serial_blocks(problem: Problem, T: int, rng: np.random.Generator, record_every: int | None,
                      w: np.ndarray, alpha: np.ndarray, steps: Callable[[np.ndarray], None]) -> SerialResult:
    """:func:`run_serial` for compiled kernels: between two record steps, ``steps(idx)`` runs the
    steps on ``idx = rng.integers(n, size=m)`` in order (blocks of at most 65,536 steps).

    ``rng.integers(n, size=m)`` consumes the stream exactly as m calls ``rng.integers(n)`` do
    (tests/test_kernels.py checks it), so the samples, the records and the Generator's final
    state are those of :func:`run_serial`.
    """
    rec = record_steps(T, record_every)
    obj, gap = np.empty(len(rec)), np.empty(len(rec))
    t = 0
    for j, r in enumerate(rec.tolist()):
        while t < r:
            m = min(r - t, _MAX_BLOCK)
            steps(rng.integers(problem.n, size=m))
            t += m
        obj[j], gap[j] = _record(problem, w, alpha)
    return SerialResult(w=w, alpha=alpha, steps=rec, objective=obj, duality_gap=gap)


def sdca(problem: Problem, T: int, rng: np.random.Generator, *, record_every: int | None = None,
         engine: Engine = "numba") -> SerialResult:
    """Serial SDCA, Alg. 4, from alpha^0 = 0, w^0 = w(alpha^0) = 0.

    Step t draws i = ``rng.integers(n)`` and applies the maximiser of eq. 3.4 at the margin
    x_i^T w summed in sequential order (:func:`sequential_dot`):
    alpha_i += Delta, w += Delta x_i / (lam n) (Alg. 4 lines 5-6).
    ``engine="numba"`` runs the steps in a compiled kernel (:mod:`algorithms.kernels`), bit for bit
    the iterates of ``engine="numpy"``, the plain-numpy reference.
    """
    kind = loss_kind(problem)
    T = check_int("T", T, low=0)
    engine = check_engine(engine)
    n, lam = problem.n, check_dual_lam(problem, "SDCA")
    rows = RowView(problem.X)
    y = np.ascontiguousarray(problem.y, dtype=np.float64)
    q = rows.sq_norms / (lam * n)
    alpha = np.zeros(n)
    w = np.zeros(problem.d)

    if engine == "numba":
        from algorithms import kernels

        krows, code, lam_n = kernels.Rows(rows), kernels.LOSS_CODES[kind], lam * n

        def steps(idx: np.ndarray) -> None:
            kernels.sdca_steps(krows, y, q, alpha, w, idx, code, lam_n)

        return run_serial_blocks(problem, T, rng, record_every, w, alpha, steps)

    def step(i: int) -> None:
        delta = coordinate_delta(kind, rows.seq_dot(i, w), alpha[i], y[i], q[i])
        alpha[i] += delta
        rows.axpy(i, delta / (lam * n), w)

    return run_serial(problem, T, rng, record_every, w, alpha, step)
