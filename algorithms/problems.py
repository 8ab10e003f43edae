"""Concrete finite-sum problems of thesis Chapter 3 (eq. 3.1):

* :class:`RidgeProblem`    eq. 3.38, the §3.5.1 convex experiment (lam = 0.1);
* :class:`LogisticProblem` l2-regularised logistic regression (§3.1's classification example);
* :class:`PCAProblem`      eq. 3.40, the §3.5.2 experiment (sum convex, terms non-convex).

All are vectorised over samples and sparse-aware (X may be scipy CSR and is
never densified). Linear models expose margins / dloss so dual-free methods
keep O(n) dual storage (§3.5.1); the PCA problem is not margin-form, so they
need O(nd) (§3.5.2).
"""
from __future__ import annotations

import abc
import functools
import math

import numpy as np
import scipy.linalg as sla
import scipy.optimize as sopt
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from scipy.special import expit, xlogy

from .datasets import Dataset
from .problem import Constants, HasDual, KnownOptimum, LinearModel, PerSampleGradients, Problem, Solution

__all__ = ["RidgeProblem", "LogisticProblem", "PCAProblem", "ridge", "logistic", "pca", "DENSE_EIG_MAX_D"]

# Up to this dimension the d x d Gram matrix is formed and eigen-decomposed /
# factorised exactly; above it (e.g. rcv1, d = 47,236) iterative methods are used.
DENSE_EIG_MAX_D = 2000
_CG_RTOL = 1e-12


# --- shared validation -----------------------------------------------------
def _check_lam(lam: float) -> float:
    try:
        v = float(lam)
    except (TypeError, ValueError):
        raise ValueError(f"lam must be a finite number >= 0, got {lam!r}") from None
    if not (math.isfinite(v) and v >= 0.0):
        raise ValueError(f"lam must be a finite number >= 0, got {lam!r}")
    return v


def _check_X(X) -> np.ndarray | sp.csr_matrix:
    if sp.issparse(X):
        X = sp.csr_matrix(X, dtype=np.float64)  # no densification; copies only if needed
        if not np.all(np.isfinite(X.data)):
            raise ValueError("X must contain only finite values, got NaN or inf entries")
    else:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2:
            raise ValueError(f"X must be a 2-D array (n, d), got shape {X.shape}")
        if not np.all(np.isfinite(X)):
            raise ValueError("X must contain only finite values, got NaN or inf entries")
    if X.shape[0] < 1 or X.shape[1] < 1:
        raise ValueError(f"X must have at least one row and one column, got shape {X.shape}")
    return X


def _gram_dense(X) -> np.ndarray:
    """X^T X / n as a dense d x d array (only called for d <= DENSE_EIG_MAX_D)."""
    n = X.shape[0]
    G = X.T @ X
    G = G.toarray() if sp.issparse(G) else np.asarray(G)
    return G / n


def _gram_operator(X) -> spla.LinearOperator:
    n, d = X.shape
    return spla.LinearOperator((d, d), matvec=lambda v: X.T @ (X @ v) / n, dtype=np.float64)


def _sq_row_norms(X) -> np.ndarray:
    if sp.issparse(X):
        return np.asarray(X.multiply(X).sum(axis=1)).ravel()
    return np.einsum("ij,ij->i", X, X)


class _Spectrum:
    """X-derived quantities computed once per problem: Gram matrix, its eigenvalues, row norms."""

    def __init__(self, X) -> None:
        self.X = X
        self.small = X.shape[1] <= DENSE_EIG_MAX_D

    @functools.cached_property
    def gram(self) -> np.ndarray:
        """X^T X / n, dense (small d only)."""
        return _gram_dense(self.X)

    @functools.cached_property
    def eig(self) -> np.ndarray:
        """Ascending eigenvalues of X^T X / n (small d only)."""
        return np.linalg.eigvalsh(self.gram)

    @functools.cached_property
    def sq_norms(self) -> np.ndarray:
        return _sq_row_norms(self.X)

    @functools.cached_property
    def lambda_max(self) -> tuple[float, bool, str]:
        """lambda_max(X^T X / n): eigvalsh when d is small (exact), else eigsh (estimated)."""
        if self.small:
            return float(self.eig[-1]), True, "numpy eigvalsh of X^T X / n"
        d = self.X.shape[1]
        val = spla.eigsh(_gram_operator(self.X), k=1, which="LA", tol=1e-10,
                         v0=np.ones(d) / math.sqrt(d), return_eigenvectors=False)
        return float(val[0]), False, "scipy eigsh (Lanczos, tol=1e-10) on X^T X / n"


class _LinearProblem(Problem, KnownOptimum, LinearModel, HasDual):
    """phi_i(w) = loss(x_i^T w, y_i): gradients via margins (shared by ridge and logistic)."""

    def __init__(self, X, y, lam: float) -> None:
        self.X = _check_X(X)
        y = np.asarray(y, dtype=np.float64)
        if y.ndim != 1 or y.shape[0] != self.X.shape[0]:
            raise ValueError(
                f"y must have shape (n,) = ({self.X.shape[0]},) matching the rows of X, "
                f"got {y.shape}")
        if not np.all(np.isfinite(y)):
            raise ValueError("y must contain only finite values, got NaN or inf")
        self.y = y
        self.lam = _check_lam(lam)
        self.n, self.d = (int(s) for s in self.X.shape)
        self._spec = _Spectrum(self.X)
        self._solution: Solution | None = None
        self._constants: Constants | None = None

    # --- the loss, per margin (subclasses) -------------------------------
    @abc.abstractmethod
    def _loss(self, m: np.ndarray, y: np.ndarray) -> np.ndarray:
        """phi_i as a function of the margin m_i = x_i^T w, elementwise."""

    @abc.abstractmethod
    def _dloss(self, m: np.ndarray, y: np.ndarray) -> np.ndarray:
        """phi_i'(m_i), elementwise."""

    # --- checks ------------------------------------------------------------
    def _w(self, w: np.ndarray, name: str = "w") -> np.ndarray:
        w = np.asarray(w, dtype=np.float64)
        if w.shape != (self.d,):
            raise ValueError(f"{name} must have shape (d,) = ({self.d},), got {w.shape}")
        return w

    def _idx(self, idx, *, allow_empty: bool = False) -> np.ndarray:
        idx = np.asarray(idx)
        if idx.ndim != 1 or not (np.issubdtype(idx.dtype, np.integer) or idx.size == 0):
            raise ValueError(f"idx must be a 1-D integer array, got shape {idx.shape} dtype {idx.dtype}")
        if idx.size == 0:
            if not allow_empty:
                raise ValueError("idx must be non-empty (a mini-batch needs at least one sample)")
            return idx.astype(np.int64)
        lo, hi = int(idx.min()), int(idx.max())
        if lo < 0 or hi >= self.n:
            raise ValueError(f"idx must lie in [0, n) = [0, {self.n}), got values in [{lo}, {hi}]")
        return idx

    # --- Problem interface -----------------------------------------------
    def margins(self, w: np.ndarray, idx: np.ndarray | None = None) -> np.ndarray:
        w = self._w(w)
        if idx is None:
            return np.asarray(self.X @ w)
        return np.asarray(self.X[self._idx(idx, allow_empty=True)] @ w)

    def dloss(self, margins: np.ndarray, idx: np.ndarray | None = None, *,
              check_input: bool = True) -> np.ndarray:
        """phi_i'(m_i) for i in idx. ``check_input=False`` (scikit-learn's idiom) skips
        validation for callers whose indices are generated internally, e.g. in a hot loop."""
        if not check_input:
            return self._dloss(margins, self.y if idx is None else self.y[idx])
        m = np.asarray(margins, dtype=np.float64)
        y = self.y if idx is None else self.y[self._idx(idx, allow_empty=True)]
        if m.shape != y.shape:
            raise ValueError(f"margins must have shape {y.shape} (one per sample), got {m.shape}")
        return self._dloss(m, y)

    def value(self, w: np.ndarray) -> float:
        w = self._w(w)
        return float(np.mean(self._loss(self.X @ w, self.y)) + 0.5 * self.lam * (w @ w))

    def grad(self, w: np.ndarray) -> np.ndarray:
        w = self._w(w)
        g = self._dloss(self.X @ w, self.y)
        return np.asarray(self.X.T @ g) / self.n + self.lam * w

    def batch_grad(self, w: np.ndarray, idx: np.ndarray) -> np.ndarray:
        w = self._w(w)
        idx = self._idx(idx)
        Xb = self.X[idx]
        g = self._dloss(Xb @ w, self.y[idx])
        return np.asarray(Xb.T @ g) / idx.size + self.lam * w

    def sample_grads(self, w: np.ndarray, idx: np.ndarray) -> np.ndarray:
        w = self._w(w)
        idx = self._idx(idx, allow_empty=True)
        Xb = self.X[idx]
        g = self._dloss(Xb @ w, self.y[idx])
        if sp.issparse(Xb):
            return np.asarray(Xb.multiply(g[:, None]).toarray())
        return Xb * g[:, None]

    def primal_from_dual(self, alpha: np.ndarray) -> np.ndarray:
        """w(alpha) = A alpha / (lam n), A = X^T (eq. 3.3)."""
        alpha = self._alpha(alpha)
        if self.lam == 0.0:
            raise ValueError("lam must be > 0 for the dual map w(alpha) = A alpha/(lam n), got 0.0")
        return np.asarray(self.X.T @ alpha) / (self.lam * self.n)

    def _alpha(self, alpha: np.ndarray) -> np.ndarray:
        alpha = np.asarray(alpha, dtype=np.float64)
        if alpha.shape != (self.n,):
            raise ValueError(f"alpha must have shape (n,) = ({self.n},), got {alpha.shape}")
        return alpha

    def _dual_quadratic(self, alpha: np.ndarray, w_alpha: np.ndarray | None = None) -> float:
        """lam/2 |A alpha / (lam n)|^2, the second term of eq. 3.2 (``w_alpha`` = w(alpha) if known)."""
        v = self.primal_from_dual(alpha) if w_alpha is None else self._w(w_alpha, "w_alpha")
        return 0.5 * self.lam * float(v @ v)

    def dual_value(self, alpha: np.ndarray) -> float:
        """D(alpha) of eq. 3.2."""
        return self.dual_value_from(alpha, None)

    @abc.abstractmethod
    def dual_value_from(self, alpha: np.ndarray, w_alpha: np.ndarray | None) -> float:
        """D(alpha) of eq. 3.2, reusing ``w_alpha`` = w(alpha) if not None (subclasses: their conjugate)."""



class RidgeProblem(_LinearProblem):
    """Eq. 3.38: P(w) = 1/n sum 1/2 (x_i^T w - y_i)^2 + lam/2 |w|^2 (lam = 0.1 in §3.5.1).

    Dual (eq. 3.2) with phi_i(a) = 1/2 (a - y_i)^2, so -phi_i^*(-alpha_i) =
    alpha_i y_i - alpha_i^2 / 2; the optimal dual is alpha* = y - X w*
    (alpha_i* = -phi_i'(x_i^T w*)), and w* = A alpha* / (lam n) (eq. 3.3).
    """

    name = "ridge"

    def _loss(self, m, y):
        r = m - y
        return 0.5 * r * r

    def _dloss(self, m, y):
        return m - y

    def dual_value_from(self, alpha: np.ndarray, w_alpha: np.ndarray | None) -> float:
        """D(alpha) = 1/n sum (alpha_i y_i - alpha_i^2/2) - lam/2 |A alpha/(lam n)|^2 (eq. 3.2);
        ``w_alpha`` = A alpha/(lam n) if already computed (eq. 3.3), else None."""
        alpha = self._alpha(alpha)
        return float(np.mean(alpha * self.y - 0.5 * alpha * alpha) - self._dual_quadratic(alpha, w_alpha))

    def solution(self) -> Solution:
        """w* = (X^T X / n + lam I)^{-1} X^T y / n: Cholesky solve, or CG for large sparse d."""
        if self._solution is None:
            rhs = np.asarray(self.X.T @ self.y) / self.n
            if self.d <= DENSE_EIG_MAX_D:
                G = self._spec.gram.copy()
                G[np.diag_indices_from(G)] += self.lam
                if self.lam > 0:
                    w = sla.solve(G, rhs, assume_a="pos")
                    how = "closed form (X^T X/n + lam I)^{-1} X^T y/n, dense Cholesky solve"
                else:
                    # lam = 0: X^T X may be singular; take the minimum-norm minimiser.
                    w = sla.lstsq(G, rhs)[0]
                    how = "minimum-norm solution of X^T X w = X^T y (lam = 0), scipy lstsq"
            else:
                if self.lam == 0.0:
                    raise ValueError("lam must be > 0 to solve ridge with d > "
                                     f"{DENSE_EIG_MAX_D} by conjugate gradient, got 0.0")
                op = spla.LinearOperator(
                    (self.d, self.d), dtype=np.float64,
                    matvec=lambda v: self.X.T @ (self.X @ v) / self.n + self.lam * v)
                w, info = spla.cg(op, rhs, rtol=_CG_RTOL, atol=0.0, maxiter=20 * self.d)
                if info != 0:
                    raise RuntimeError(f"conjugate gradient did not converge (info={info})")
                how = (f"closed form (X^T X/n + lam I)^{{-1}} X^T y/n by conjugate gradient, "
                       f"rtol={_CG_RTOL:g}")
            self._solution = Solution(w=w, value=self.value(w), how=how)
        return self._solution

    def constants(self) -> Constants:
        """L = lambda_max(X^T X/n), L_max = max |x_i|^2, mu = lam + lambda_min(X^T X/n)."""
        if self._constants is None:
            L_max = float(self._spec.sq_norms.max())
            if self.d <= DENSE_EIG_MAX_D:
                eig = self._spec.eig
                # Rounding can make a zero eigenvalue slightly negative.
                L, mu = float(eig[-1]), self.lam + max(float(eig[0]), 0.0)
                exact = {"L": True, "L_max": True, "mu": True}
                how_L = "numpy eigvalsh of X^T X / n (largest eigenvalue)"
                how_mu = "lam + smallest eigenvalue of X^T X / n (numpy eigvalsh)"
            else:
                L, exact_L, how_L = self._spec.lambda_max
                mu = self.lam
                exact = {"L": exact_L, "L_max": True, "mu": False}
                how_mu = "lower bound lam (lambda_min(X^T X / n) >= 0 not computed for large d)"
            self._constants = Constants(
                L=L, L_max=L_max, mu=mu, lam=self.lam, n=self.n, d=self.d, exact=exact,
                how={"L": how_L, "L_max": "max_i |x_i|^2 (Hessian of phi_i is x_i x_i^T)",
                     "mu": how_mu})
        return self._constants


class LogisticProblem(_LinearProblem):
    """phi_i(w) = log(1 + exp(-y_i x_i^T w)), y_i in {-1, +1}, plus lam/2 |w|^2 (eq. 3.1).

    Dual (eq. 3.2): with a_i = alpha_i y_i in [0, 1],
    -phi_i^*(-alpha_i) = -(a_i log a_i + (1 - a_i) log(1 - a_i)), and -inf outside.
    """

    name = "logistic"

    def __init__(self, X, y, lam: float) -> None:
        super().__init__(X, y, lam)
        bad = np.setdiff1d(np.unique(self.y), [-1.0, 1.0])
        if bad.size:
            raise ValueError(f"y must contain only -1 and +1 labels, got values {bad[:5].tolist()}")

    def _loss(self, m, y):
        return np.logaddexp(0.0, -y * m)  # stable log(1 + exp(-y m))

    def _dloss(self, m, y):
        return -y * expit(-y * m)

    def dual_value_from(self, alpha: np.ndarray, w_alpha: np.ndarray | None) -> float:
        """D(alpha) of eq. 3.2 with the binary-entropy conjugate; -inf if some alpha_i y_i not in [0, 1].
        ``w_alpha`` = A alpha/(lam n) if already computed (eq. 3.3), else None."""
        alpha = self._alpha(alpha)
        a = alpha * self.y
        if np.any(a < 0.0) or np.any(a > 1.0):
            return -math.inf
        ent = -(xlogy(a, a) + xlogy(1.0 - a, 1.0 - a))
        return float(np.mean(ent) - self._dual_quadratic(alpha, w_alpha))

    def _hessp(self, w: np.ndarray, v: np.ndarray) -> np.ndarray:
        m = self.X @ w
        s = expit(m) * expit(-m)  # phi'' does not depend on y for y in {-1,+1}
        return np.asarray(self.X.T @ (s * (self.X @ v))) / self.n + self.lam * v

    def solution(self) -> Solution:
        """w* by scipy L-BFGS then Newton polishing (exact Hessian, or Hessian-vector CG for large d)."""
        if self._solution is None:
            if self.lam == 0.0:
                raise ValueError("lam must be > 0 for a unique logistic minimiser, got 0.0")
            res = sopt.minimize(lambda w: (self.value(w), self.grad(w)), np.zeros(self.d),
                                jac=True, method="L-BFGS-B",
                                options={"maxiter": 10_000, "gtol": 1e-10, "ftol": 1e-15})
            w = res.x
            tol = 1e-13 * max(1.0, float(np.abs(self.y).max()))
            for _ in range(50):
                g = self.grad(w)
                if np.linalg.norm(g) <= tol:
                    break
                if self.d <= DENSE_EIG_MAX_D:
                    m = self.X @ w
                    s = expit(m) * expit(-m)
                    Xs = self.X.multiply(s[:, None]) if sp.issparse(self.X) else self.X * s[:, None]
                    H = np.asarray((self.X.T @ Xs).toarray() if sp.issparse(Xs) else self.X.T @ Xs)
                    H = H / self.n
                    H[np.diag_indices_from(H)] += self.lam
                    step = sla.solve(H, g, assume_a="pos")
                else:
                    op = spla.LinearOperator((self.d, self.d), dtype=np.float64,
                                             matvec=lambda v, w=w: self._hessp(w, v))
                    step, _ = spla.cg(op, g, rtol=_CG_RTOL, atol=0.0, maxiter=10 * self.d)
                w = w - step
            gnorm = float(np.linalg.norm(self.grad(w)))
            how = (f"scipy L-BFGS-B (gtol=1e-10) then Newton steps "
                   f"({'dense Hessian solve' if self.d <= DENSE_EIG_MAX_D else 'Hessian-vector CG'}); "
                   f"final |grad P| = {gnorm:.2e}")
            self._solution = Solution(w=w, value=self.value(w), how=how)
        return self._solution

    def constants(self) -> Constants:
        """L = lambda_max(X^T X/n)/4, L_max = max |x_i|^2/4, mu = lam."""
        if self._constants is None:
            lmax, exact_L, how_L = self._spec.lambda_max
            self._constants = Constants(
                L=lmax / 4.0, L_max=float(self._spec.sq_norms.max()) / 4.0, mu=self.lam,
                lam=self.lam, n=self.n, d=self.d,
                exact={"L": exact_L, "L_max": True, "mu": True},
                how={"L": f"lambda_max(X^T X/n)/4 ({how_L}); sup_w of the data-term Hessian "
                          "norm, attained at w = 0 where every phi_i'' = 1/4",
                     "L_max": "max_i |x_i|^2 / 4 (phi_i'' <= 1/4, equality at margin 0)",
                     "mu": "lam: the data-term Hessian X^T D(w) X/n tends to 0 along a generic "
                           "ray, so lam is the strong convexity modulus over all of R^d"})
        return self._constants


class PCAProblem(Problem, KnownOptimum, PerSampleGradients):
    """Eq. 3.40 (§3.5.2): phi_i(w) = 1/2 w^T((mu - s) I - x_i x_i^T) w - b^T w, P = mean phi_i + lam/2 |w|^2.

    With the thesis's eq. 3.40 shift s = lam (default), P(w) = 1/2 w^T (mu I - C) w - b^T w,
    C = X^T X / n: the objective of [23], strongly convex with modulus mu - lambda_max(C)
    iff mu > sigma_1(C); solution w* = (mu I - C)^{-1} b. Each phi_i may be non-convex.

    Thesis discrepancies (flagged): §3.1 defines phi_i with (mu - lam/2) I and asks
    mu > sigma_1(C) + lam/2, while eq. 3.40 writes (mu - lam); with the lam/2 |w|^2
    regulariser only s = lam gives [23]'s objective. Eq. 3.40 also drops the identity
    matrix (writes (mu - lam) - x_i x_i^T). ``shift="lam/2"`` gives the §3.1 form,
    P = 1/2 w^T ((mu + lam/2) I - C) w - b^T w. In both, the data term f is convex iff
    mu - s >= sigma_1(C) (Theorems of §3.4 assume f convex).
    """

    name = "pca"

    def __init__(self, X, b, mu: float, lam: float, *, shift: str = "lam") -> None:
        self.X = _check_X(X)
        self.n, self.d = (int(s) for s in self.X.shape)
        b = np.asarray(b, dtype=np.float64)
        if b.shape != (self.d,) or not np.all(np.isfinite(b)):
            raise ValueError(f"b must be a finite vector of shape (d,) = ({self.d},), got shape {b.shape}")
        self.b = b
        self.lam = _check_lam(lam)
        try:
            mu_f = float(mu)
        except (TypeError, ValueError):
            raise ValueError(f"mu must be a finite number, got {mu!r}") from None
        if not math.isfinite(mu_f):
            raise ValueError(f"mu must be a finite number, got {mu!r}")
        if shift not in ("lam", "lam/2"):
            raise ValueError(f"shift must be 'lam' (eq. 3.40) or 'lam/2' (§3.1), got {shift!r}")
        self.mu = mu_f
        self.shift = shift
        # a: the coefficient of I in phi_i's Hessian; P's Hessian is (a + lam) I - C.
        self.a = mu_f - (self.lam if shift == "lam" else 0.5 * self.lam)
        self._spec = _Spectrum(self.X)
        self._sigma1, self._sigma1_exact, self._sigma1_how = self._spec.lambda_max
        if not self.a + self.lam > self._sigma1:
            need = "mu" if shift == "lam" else "mu + lam/2"
            raise ValueError(
                f"mu must make P strongly convex: {need} > sigma_1(C) = {self._sigma1:.6g} "
                f"(C = X^T X/n) is required, got mu={mu!r}, lam={lam!r}")
        self._solution: Solution | None = None
        self._constants: Constants | None = None

    _w = _LinearProblem._w
    _idx = _LinearProblem._idx

    @property
    def data_term_convex(self) -> bool:
        """Whether f = 1/n sum phi_i is convex, mu - s >= sigma_1(C): the §3.4 theorems assume it.

        §3.1 states mu > sigma_1(C) + lam/2, which is this condition for s = lam/2 only.
        """
        return self.a >= self._sigma1

    def value(self, w: np.ndarray) -> float:
        w = self._w(w)
        Xw = np.asarray(self.X @ w)
        quad = (self.a + self.lam) * (w @ w) - (Xw @ Xw) / self.n
        return float(0.5 * quad - self.b @ w)

    def grad(self, w: np.ndarray) -> np.ndarray:
        w = self._w(w)
        return (self.a + self.lam) * w - np.asarray(self.X.T @ (self.X @ w)) / self.n - self.b

    def batch_grad(self, w: np.ndarray, idx: np.ndarray) -> np.ndarray:
        w = self._w(w)
        idx = self._idx(idx)
        Xb = self.X[idx]
        return (self.a + self.lam) * w - np.asarray(Xb.T @ (Xb @ w)) / idx.size - self.b

    def sample_grads(self, w: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """grad phi_i(w) = (mu - s) w - x_i (x_i^T w) - b, shape (len(idx), d): O(nd) for dual-free methods."""
        w = self._w(w)
        idx = self._idx(idx, allow_empty=True)
        Xb = self.X[idx]
        m = np.asarray(Xb @ w)
        base = self.a * w - self.b
        if sp.issparse(Xb):
            return base[None, :] - np.asarray(Xb.multiply(m[:, None]).toarray())
        return base[None, :] - Xb * m[:, None]

    def solution(self) -> Solution:
        """w* = ((a + lam) I - C)^{-1} b, i.e. (mu I - C)^{-1} b for eq. 3.40."""
        if self._solution is None:
            c = self.a + self.lam
            if self.d <= DENSE_EIG_MAX_D:
                M = -self._spec.gram
                M[np.diag_indices_from(M)] += c
                w = sla.solve(M, self.b, assume_a="pos")
                how = "closed form (mu I - C)^{-1} b, dense Cholesky solve"
            else:
                op = spla.LinearOperator(
                    (self.d, self.d), dtype=np.float64,
                    matvec=lambda v: c * v - self.X.T @ (self.X @ v) / self.n)
                w, info = spla.cg(op, self.b, rtol=_CG_RTOL, atol=0.0, maxiter=20 * self.d)
                if info != 0:
                    raise RuntimeError(f"conjugate gradient did not converge (info={info})")
                how = f"closed form (mu I - C)^{{-1}} b by conjugate gradient, rtol={_CG_RTOL:g}"
            self._solution = Solution(w=w, value=self.value(w), how=how)
        return self._solution

    def constants(self) -> Constants:
        """L = |(mu - s) I - C|_2, L_max = max_i max(|mu-s|, |mu-s-|x_i|^2|), mu_P = mu - s + lam - sigma_1(C)."""
        if self._constants is None:
            sq = self._spec.sq_norms
            # Hessian of phi_i: a I - x_i x_i^T, eigenvalues a (if d > 1) and a - |x_i|^2.
            per = np.abs(self.a - sq)
            if self.d > 1:
                per = np.maximum(per, abs(self.a))
            if self.d <= DENSE_EIG_MAX_D:
                eig = self._spec.eig
                lmin, lmax, exact_L = float(eig[0]), float(eig[-1]), True
                how_L = "spectral norm of (mu - s) I - C from numpy eigvalsh of C"
            else:
                # lambda_min(C) >= 0 and not computed: |a - lmin| <= max(|a|, |a - lmax|).
                lmin, lmax, exact_L = 0.0, self._sigma1, False
                how_L = f"upper bound max(|mu - s|, |mu - s - sigma_1(C)|), sigma_1 by {self._sigma1_how}"
            L = max(abs(self.a - lmin), abs(self.a - lmax))
            self._constants = Constants(
                L=L, L_max=float(per.max()), mu=self.a + self.lam - lmax, lam=self.lam,
                n=self.n, d=self.d,
                exact={"L": exact_L, "L_max": True, "mu": exact_L and self._sigma1_exact},
                how={"L": how_L,
                     "L_max": "max_i max(|mu - s|, |mu - s - |x_i|^2|): eigenvalues of a I - x_i x_i^T",
                     "mu": f"mu - s + lam - sigma_1(C), sigma_1 by {self._sigma1_how}"})
        return self._constants


def _labelled(data: Dataset, name: str) -> Dataset:
    if not isinstance(data, Dataset):
        raise ValueError(f"data must be a Dataset, got {type(data).__name__}")
    if data.y.size == 0:
        raise ValueError(f"data must have labels y for problem {name!r}, got dataset {data.name!r} with empty y")
    return data


def ridge(data: Dataset, *, lam: float) -> RidgeProblem:
    """Registry factory ``"ridge"``: eq. 3.38 on ``data`` (X, y)."""
    data = _labelled(data, "ridge")
    return RidgeProblem(data.X, data.y, lam)


def logistic(data: Dataset, *, lam: float) -> LogisticProblem:
    """Registry factory ``"logistic"``: l2-regularised logistic regression on ``data`` (labels +-1)."""
    data = _labelled(data, "logistic")
    return LogisticProblem(data.X, data.y, lam)


def pca(data: Dataset, *, lam: float, mu: float, b: np.ndarray | None = None, shift: str = "lam") -> PCAProblem:
    """Registry factory ``"pca"``: eq. 3.40 on ``data.X``; ``b`` defaults to ``data.extras["b"]``."""
    if not isinstance(data, Dataset):
        raise ValueError(f"data must be a Dataset, got {type(data).__name__}")
    b = data.extras.get("b") if b is None else b
    if b is None:
        raise ValueError(f"b must be given for problem 'pca' (dataset {data.name!r} has no extras['b'])")
    return PCAProblem(data.X, b, mu, lam, shift=shift)
