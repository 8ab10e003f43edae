"""Tests for algorithms.problems: gradients by finite differences, constants by
eigen-decomposition of explicit Hessians, solutions against scikit-learn /
closed forms, duality for ridge and logistic, and bad input."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression, Ridge

import algorithms.problems as problems
from algorithms.datasets import Dataset
from algorithms.problems import LogisticProblem, PCAProblem, RidgeProblem
from algorithms.problem import require
from algorithms.registry import make_problem

KINDS = ("ridge", "logistic", "pca")
SETTINGS = settings(max_examples=25, deadline=None)


# --- strategies (kept here: tests/strategies.py belongs to the lead) ---------
def _data(rng: np.random.Generator, n: int, d: int, sparse: bool):
    X = rng.standard_normal((n, d))
    if sparse:
        X[rng.random((n, d)) < 0.5] = 0.0
        X[np.arange(n), rng.integers(0, d, n)] = rng.standard_normal(n)  # no empty row
    return (sp.csr_matrix(X) if sparse else X), X


def _build(kind: str, Xin, Xd, rng, lam: float, mu_margin: float = 0.5):
    n, d = Xd.shape
    if kind == "ridge":
        return RidgeProblem(Xin, rng.standard_normal(n), lam)
    if kind == "logistic":
        return LogisticProblem(Xin, np.where(rng.random(n) < 0.5, -1.0, 1.0), lam)
    C = Xd.T @ Xd / n
    mu = np.linalg.eigvalsh(C)[-1] + mu_margin
    return PCAProblem(Xin, rng.standard_normal(d), mu, lam)


@st.composite
def problems_st(draw, kinds=KINDS):
    kind = draw(st.sampled_from(kinds))
    sparse = draw(st.booleans())
    n = draw(st.integers(2, 12))
    d = draw(st.integers(1, 6))
    lam = draw(st.sampled_from([0.0, 1e-3, 0.1, 1.0])) if kind != "logistic" else draw(
        st.sampled_from([1e-3, 0.1, 1.0]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    Xin, Xd = _data(rng, n, d, sparse)
    P = _build(kind, Xin, Xd, rng, lam)
    w = rng.standard_normal(d)
    return P, Xd, w, rng


def _fd_grad(f, w, h=1e-6):
    E = np.eye(w.size) * h
    return np.array([(f(w + e) - f(w - e)) / (2 * h) for e in E])


def _phi(P, Xd, i, w):
    """phi_i(w) written out independently of the implementation."""
    m = Xd[i] @ w
    if isinstance(P, RidgeProblem):
        return 0.5 * (m - P.y[i]) ** 2
    if isinstance(P, LogisticProblem):
        return np.log1p(np.exp(-P.y[i] * m))
    return 0.5 * P.a * (w @ w) - 0.5 * m * m - P.b @ w


# --- gradients -----------------------------------------------------------------
@SETTINGS
@given(problems_st())
def test_grad_matches_finite_differences(case):
    P, _, w, _ = case
    fd = _fd_grad(P.value, w)
    np.testing.assert_allclose(P.grad(w), fd, rtol=1e-5, atol=1e-6)


@SETTINGS
@given(problems_st())
def test_sample_grads_match_finite_differences_of_each_phi(case):
    P, Xd, w, rng = case
    idx = rng.integers(0, P.n, size=4)
    G = P.sample_grads(w, idx)
    assert G.shape == (4, P.d) and isinstance(G, np.ndarray)
    for row, i in zip(G, idx):
        np.testing.assert_allclose(row, _fd_grad(lambda v: _phi(P, Xd, i, v), w),
                                   rtol=1e-5, atol=1e-6)


@SETTINGS
@given(problems_st())
def test_batch_grad_full_and_random_batches(case):
    P, _, w, rng = case
    np.testing.assert_allclose(P.batch_grad(w, np.arange(P.n)), P.grad(w), rtol=1e-12, atol=1e-12)
    idx = rng.integers(0, P.n, size=int(rng.integers(1, 2 * P.n)))  # duplicates allowed
    expect = P.sample_grads(w, idx).mean(axis=0) + P.lam * w
    np.testing.assert_allclose(P.batch_grad(w, idx), expect, rtol=1e-12, atol=1e-12)


@SETTINGS
@given(problems_st(kinds=("ridge", "logistic")))
def test_dloss_times_x_is_sample_grad(case):
    P, Xd, w, rng = case
    idx = rng.integers(0, P.n, size=5)
    m = P.margins(w, idx)
    np.testing.assert_allclose(m, Xd[idx] @ w, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(P.margins(w), Xd @ w, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(P.dloss(m, idx)[:, None] * Xd[idx], P.sample_grads(w, idx),
                               rtol=1e-12, atol=1e-12)
    # dloss is the derivative of the loss in the margin
    eps = 1e-6
    fd = np.array([(_phi(P, Xd, i, w + eps * Xd[i] / (Xd[i] @ Xd[i]))
                    - _phi(P, Xd, i, w - eps * Xd[i] / (Xd[i] @ Xd[i]))) / (2 * eps)
                   for i in idx])
    np.testing.assert_allclose(P.dloss(m, idx), fd, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", KINDS)
def test_sparse_and_dense_give_the_same_numbers(kind):
    rng = np.random.default_rng(3)
    Xs, Xd = _data(rng, 15, 5, sparse=True)
    Ps = _build(kind, Xs, Xd, np.random.default_rng(1), 0.1)
    Pd = _build(kind, Xd, Xd, np.random.default_rng(1), 0.1)
    assert sp.issparse(Ps.X) and not sp.issparse(Pd.X)
    w = rng.standard_normal(5)
    idx = np.array([0, 3, 3, 14])
    assert Ps.value(w) == pytest.approx(Pd.value(w), rel=1e-13)
    np.testing.assert_allclose(Ps.grad(w), Pd.grad(w), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(Ps.batch_grad(w, idx), Pd.batch_grad(w, idx), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(Ps.sample_grads(w, idx), Pd.sample_grads(w, idx), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(Ps.solution().w, Pd.solution().w, rtol=1e-8, atol=1e-10)


def test_logistic_is_stable_at_huge_margins():
    X = np.array([[1.0], [1.0]])
    P = LogisticProblem(X, np.array([1.0, -1.0]), 0.0 + 1e-3)
    w = np.array([1000.0])
    # sample 1 (y=+1) loss ~ exp(-1000) ~ 0; sample 2 loss ~ 1000
    expect = 0.5 * 1000.0 + 0.5e-3 * 1e6
    assert P.value(w) == pytest.approx(expect, rel=1e-12)
    g = P.grad(w)
    assert np.all(np.isfinite(g)) and g[0] == pytest.approx(0.5 + 1.0, rel=1e-12)


# --- constants -----------------------------------------------------------------
def _fd_hessian(P, w, h=1e-5):
    E = np.eye(P.d) * h
    H = np.array([(P.grad(w + e) - P.grad(w - e)) / (2 * h) for e in E])
    return 0.5 * (H + H.T)


@SETTINGS
@given(problems_st())
def test_constants_against_explicit_hessians(case):
    P, Xd, w, _ = case
    c = P.constants()
    assert (c.n, c.d, c.lam) == (P.n, P.d, P.lam)
    if isinstance(P, LogisticProblem):
        # sup_w |Hessian| is attained at w = 0; anywhere else it is below L.
        eig0 = np.linalg.eigvalsh(_fd_hessian(P, np.zeros(P.d)) - P.lam * np.eye(P.d))
        assert c.L == pytest.approx(eig0[-1], rel=1e-6, abs=1e-9)
        assert np.linalg.eigvalsh(_fd_hessian(P, w))[-1] - P.lam <= c.L + 1e-7
        assert np.linalg.eigvalsh(_fd_hessian(P, w))[0] >= c.mu - 1e-7
        assert c.mu == P.lam
        per = [np.linalg.eigvalsh(np.outer(x, x) / 4)[-1] for x in Xd]
        assert c.L_max == pytest.approx(max(per), rel=1e-12)
        return
    H = _fd_hessian(P, w)  # quadratic: the Hessian is constant
    eig_P = np.linalg.eigvalsh(H)
    eig_f = np.linalg.eigvalsh(H - P.lam * np.eye(P.d))
    assert c.mu == pytest.approx(eig_P[0], rel=1e-6, abs=1e-8)
    assert c.L == pytest.approx(np.abs(eig_f).max(), rel=1e-6, abs=1e-8)
    if isinstance(P, RidgeProblem):
        per = [np.linalg.eigvalsh(np.outer(x, x))[-1] for x in Xd]
    else:
        per = [np.abs(np.linalg.eigvalsh(P.a * np.eye(P.d) - np.outer(x, x))).max() for x in Xd]
    assert c.L_max == pytest.approx(max(per), rel=1e-10, abs=1e-12)
    assert all(c.exact.values())


def test_large_d_paths_match_dense(monkeypatch):
    """Above DENSE_EIG_MAX_D, eigsh / CG are used; they must agree with the exact path."""
    rng = np.random.default_rng(7)
    Xs, Xd = _data(rng, 40, 12, sparse=True)
    y = rng.standard_normal(40)
    exact = RidgeProblem(Xs, y, 0.05)
    ce, se = exact.constants(), exact.solution()
    yl = np.where(y > 0, 1.0, -1.0)
    le = LogisticProblem(Xs, yl, 0.05).solution()
    pe = _build("pca", Xs, Xd, np.random.default_rng(2), 0.05)
    pce, pse = pe.constants(), pe.solution()
    monkeypatch.setattr(problems, "DENSE_EIG_MAX_D", 5)
    it = RidgeProblem(Xs, y, 0.05)
    ci, si = it.constants(), it.solution()
    assert not ci.exact["L"] and not ci.exact["mu"] and "conjugate gradient" in si.how
    assert ci.L == pytest.approx(ce.L, rel=1e-8)
    assert ci.mu == 0.05 <= ce.mu
    np.testing.assert_allclose(si.w, se.w, rtol=1e-8, atol=1e-10)
    li = LogisticProblem(Xs, yl, 0.05).solution()
    assert "Hessian-vector CG" in li.how
    np.testing.assert_allclose(li.w, le.w, rtol=1e-8, atol=1e-10)
    pi = _build("pca", Xs, Xd, np.random.default_rng(2), 0.05)
    np.testing.assert_allclose(pi.solution().w, pse.w, rtol=1e-8, atol=1e-10)
    assert pi.constants().L >= pce.L - 1e-9 and not pi.constants().exact["L"]


# --- solutions -----------------------------------------------------------------
@pytest.mark.parametrize("sparse", [False, True])
def test_ridge_solution_matches_sklearn(sparse):
    rng = np.random.default_rng(0)
    n, lam = 60, 0.1
    Xin, Xd = _data(rng, n, 8, sparse)
    y = rng.standard_normal(n)
    P = RidgeProblem(Xin, y, lam)
    # sklearn: |y - Xw|^2 + alpha |w|^2 = 2n * P(w) when alpha = lam * n.
    ref = Ridge(alpha=lam * n, fit_intercept=False, solver="cholesky").fit(Xd, y).coef_
    sol = P.solution()
    np.testing.assert_allclose(sol.w, ref, rtol=1e-10, atol=1e-12)
    assert sol.value == pytest.approx(P.value(ref), rel=1e-12)
    assert P.solution() is sol  # cached
    assert P.suboptimality(sol.w) == 0.0


@pytest.mark.parametrize("sparse", [False, True])
def test_logistic_solution_matches_sklearn(sparse):
    rng = np.random.default_rng(1)
    n, lam = 80, 0.05
    Xin, Xd = _data(rng, n, 6, sparse)
    y = np.where(Xd @ rng.standard_normal(6) + 0.3 * rng.standard_normal(n) > 0, 1.0, -1.0)
    P = LogisticProblem(Xin, y, lam)
    # sklearn: C sum log(1+exp(-y x^T w)) + |w|^2/2 = P(w)/lam with C = 1/(lam n).
    ref = LogisticRegression(C=1.0 / (lam * n), fit_intercept=False, tol=1e-12,
                             max_iter=10_000, solver="newton-cg").fit(Xd, y).coef_.ravel()
    sol = P.solution()
    np.testing.assert_allclose(sol.w, ref, rtol=1e-6, atol=1e-8)
    assert np.linalg.norm(P.grad(sol.w)) < 1e-12
    assert sol.value <= P.value(ref) + 1e-15
    assert P.solution() is sol


@pytest.mark.parametrize("shift", ["lam", "lam/2"])
def test_pca_solution_is_the_closed_form(shift):
    rng = np.random.default_rng(2)
    n, d, mu, lam = 50, 7, 1.5, 0.3
    Xd = rng.standard_normal((n, d))
    Xd /= np.linalg.norm(Xd, axis=1, keepdims=True)
    b = rng.standard_normal(d)
    P = PCAProblem(Xd, b, mu, lam, shift=shift)
    C = Xd.T @ Xd / n
    diag = mu if shift == "lam" else mu + lam / 2  # P's Hessian is diag I - C
    vals, V = np.linalg.eigh(C)
    ref = V @ ((V.T @ b) / (diag - vals))
    sol = P.solution()
    np.testing.assert_allclose(sol.w, ref, rtol=1e-10, atol=1e-12)
    assert np.linalg.norm(P.grad(sol.w)) < 1e-12
    # value: eq. 3.40 written per sample (with the identity restored) == [23]'s objective
    w = rng.standard_normal(d)
    s = lam if shift == "lam" else lam / 2
    per = [0.5 * w @ (((mu - s) * np.eye(d) - np.outer(x, x)) @ w) - b @ w for x in Xd]
    assert P.value(w) == pytest.approx(np.mean(per) + 0.5 * lam * w @ w, rel=1e-12)
    assert P.value(w) == pytest.approx(0.5 * w @ ((diag * np.eye(d) - C) @ w) - b @ w, rel=1e-12)
    assert P.constants().mu == pytest.approx(diag - vals[-1], rel=1e-12)


def test_pca_terms_can_be_nonconvex_while_the_sum_is_convex():
    """§3.5.2: each phi_i may be non-convex (mu - lam < |x_i|^2) though P is strongly convex."""
    rng = np.random.default_rng(4)
    Xd = rng.standard_normal((200, 3))
    Xd -= Xd.mean(axis=0)
    Xd /= np.linalg.norm(Xd, axis=1, keepdims=True)
    sigma1 = np.linalg.eigvalsh(Xd.T @ Xd / 200)[-1]
    P = PCAProblem(Xd, np.ones(3), sigma1 + 0.1, 0.0)
    assert P.a < 1.0  # phi_i's Hessian a I - x_i x_i^T has eigenvalue a - 1 < 0
    assert P.constants().mu == pytest.approx(0.1, rel=1e-9)
    assert P.constants().L_max == pytest.approx(max(P.a, 1.0 - P.a), rel=1e-9)
    assert "linear_model" not in P.capabilities and "per_sample_grads" in P.capabilities
    with pytest.raises(ValueError, match="lacks capability 'linear_model', which SDCA needs"):
        require(P, "linear_model", who="SDCA")


# --- duality -------------------------------------------------------------------
@SETTINGS
@given(problems_st(kinds=("ridge",)), st.floats(0.01, 1.0))
def test_ridge_weak_and_strong_duality(case, lam):
    P0, Xd, w, rng = case
    P = RidgeProblem(P0.X, P0.y, lam)
    alpha = 3 * rng.standard_normal(P.n)
    assert P.dual_value(alpha) <= P.value(w) + 1e-12
    assert P.duality_gap(alpha) >= -1e-12
    # an independent formula for D (eq. 3.2)
    v = Xd.T @ alpha / (lam * P.n)
    D = np.mean(alpha * P.y - alpha**2 / 2) - lam / 2 * v @ v
    assert P.dual_value(alpha) == pytest.approx(D, rel=1e-10, abs=1e-12)
    sol = P.solution()
    a_star = P.y - Xd @ sol.w
    np.testing.assert_allclose(P.primal_from_dual(a_star), sol.w, rtol=1e-8, atol=1e-10)
    assert P.dual_value(a_star) == pytest.approx(sol.value, rel=1e-9, abs=1e-12)


@SETTINGS
@given(problems_st(kinds=("logistic",)))
def test_logistic_weak_and_strong_duality(case):
    P, Xd, w, rng = case
    alpha = P.y * rng.random(P.n)  # alpha_i y_i in [0, 1)
    assert P.dual_value(alpha) <= P.value(w) + 1e-12
    assert P.dual_value(alpha) <= P.solution().value + 1e-12
    bad = alpha.copy()
    bad[0] = 1.5 * P.y[0]
    assert P.dual_value(bad) == -np.inf
    sol = P.solution()
    a_star = -P.dloss(P.margins(sol.w))  # alpha_i* = -phi_i'(x_i^T w*)
    np.testing.assert_allclose(P.primal_from_dual(a_star), sol.w, rtol=1e-8, atol=1e-10)
    assert P.duality_gap(a_star) == pytest.approx(0.0, abs=1e-10)


def test_capabilities_say_what_each_problem_offers():
    """Ridge and logistic are linear models with a dual and a known optimum; PCA has per-sample
    gradients and a known optimum but no dual; a probe that needs a dual is refused on it."""
    rng = np.random.default_rng(0)
    P = _build("pca", *(lambda X: (X, X))(rng.standard_normal((5, 2))), rng, 0.1)
    assert P.capabilities == {"known_optimum", "per_sample_grads"}
    assert not hasattr(P, "dual_value")
    X = rng.standard_normal((6, 2))
    y = np.where(rng.random(6) < 0.5, -1.0, 1.0)
    for cls in (RidgeProblem, LogisticProblem):
        assert cls(X, y, 0.1).capabilities == {"known_optimum", "per_sample_grads", "linear_model", "dual"}
    with pytest.raises(ValueError, match="lacks capability 'dual'"):
        require(P, "dual", who="SDCA")
    require(P, "linear_model|per_sample_grads", who="dfSDCA")  # either one is enough


# --- make_problem and bad input ----------------------------------------------------
def test_make_problem_builds_each_kind():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 3))
    y = np.where(rng.random(20) < 0.5, -1.0, 1.0)
    data = Dataset(name="t", X=X, y=y, source="test", extras={"b": np.ones(3)})
    assert isinstance(make_problem("ridge", data, lam=0.1), RidgeProblem)
    assert isinstance(make_problem("logistic", data, lam=0.1), LogisticProblem)
    pca = make_problem("pca", data, lam=0.1, mu=100.0)
    assert isinstance(pca, PCAProblem) and np.array_equal(pca.b, np.ones(3))
    with pytest.raises(ValueError, match="unknown problem 'svm'; known: "):
        make_problem("svm", data, lam=0.1)
    with pytest.raises(ValueError, match="missing parameter.*'mu'"):
        make_problem("pca", data, lam=0.1)
    with pytest.raises(ValueError, match="unknown parameter.*'mu'.*allowed: lam"):
        make_problem("ridge", data, lam=0.1, mu=1.0)
    unsup = Dataset(name="u", X=X, y=np.empty(0), source="test")
    with pytest.raises(ValueError, match="empty y"):
        make_problem("ridge", unsup, lam=0.1)


@pytest.mark.parametrize("lam", [-1.0, np.nan, np.inf, "a"])
def test_bad_lam(lam):
    with pytest.raises(ValueError, match="lam must be a finite number >= 0"):
        RidgeProblem(np.eye(3), np.zeros(3), lam)


def test_bad_shapes_and_indices():
    X = np.ones((4, 3))
    with pytest.raises(ValueError, match=r"y must have shape \(n,\) = \(4,\)"):
        RidgeProblem(X, np.zeros(5), 0.1)
    with pytest.raises(ValueError, match="X must be a 2-D array"):
        RidgeProblem(np.ones(4), np.zeros(4), 0.1)
    with pytest.raises(ValueError, match="finite"):
        RidgeProblem(np.full((4, 3), np.nan), np.zeros(4), 0.1)
    P = RidgeProblem(X, np.zeros(4), 0.1)
    with pytest.raises(ValueError, match=r"w must have shape \(d,\) = \(3,\), got \(2,\)"):
        P.grad(np.zeros(2))
    with pytest.raises(ValueError, match=r"idx must lie in \[0, n\) = \[0, 4\)"):
        P.batch_grad(np.zeros(3), np.array([0, 4]))
    with pytest.raises(ValueError, match="idx must lie"):
        P.sample_grads(np.zeros(3), np.array([-1]))
    with pytest.raises(ValueError, match="idx must be a 1-D integer array"):
        P.batch_grad(np.zeros(3), np.array([0.5]))
    with pytest.raises(ValueError, match="idx must be non-empty"):
        P.batch_grad(np.zeros(3), np.array([], dtype=int))
    with pytest.raises(ValueError, match=r"alpha must have shape \(n,\) = \(4,\)"):
        P.dual_value(np.zeros(3))
    with pytest.raises(ValueError, match="margins must have shape"):
        P.dloss(np.zeros(3))


def test_bad_logistic_labels_and_pca_parameters():
    with pytest.raises(ValueError, match=r"y must contain only -1 and \+1 labels, got values \[0.0, 2.0\]"):
        LogisticProblem(np.eye(3), np.array([0.0, 1.0, 2.0]), 0.1)
    X = np.eye(4)  # C = I/4, sigma_1 = 0.25
    with pytest.raises(ValueError, match=r"mu must make P strongly convex: mu > sigma_1\(C\) = 0.25"):
        PCAProblem(X, np.ones(4), 0.25, 0.1)
    PCAProblem(X, np.ones(4), 0.26, 0.1)
    with pytest.raises(ValueError, match=r"b must be a finite vector of shape \(d,\) = \(4,\)"):
        PCAProblem(X, np.ones(3), 1.0, 0.1)
    with pytest.raises(ValueError, match="shift must be"):
        PCAProblem(X, np.ones(4), 1.0, 0.1, shift="lam/3")


def test_ridge_without_regulariser_gives_the_minimum_norm_least_squares_solution():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((4, 7))  # n < d: X^T X is singular
    y = rng.standard_normal(4)
    sol = RidgeProblem(X, y, 0.0).solution()
    np.testing.assert_allclose(sol.w, np.linalg.pinv(X) @ y, rtol=1e-8, atol=1e-10)
    assert sol.value == pytest.approx(0.0, abs=1e-20)


def test_pca_data_term_convexity_flag():
    """f convex iff mu - s >= sigma_1(C); P may be strongly convex while f is not."""
    X = np.eye(4)  # sigma_1(C) = 0.25
    assert PCAProblem(X, np.ones(4), 0.26, 0.1).data_term_convex is False  # a = 0.16
    assert PCAProblem(X, np.ones(4), 0.36, 0.1).data_term_convex is True  # a = 0.26
    assert PCAProblem(X, np.ones(4), 0.31, 0.1, shift="lam/2").data_term_convex is True  # a = 0.26
    P = PCAProblem(X, np.ones(4), 0.26, 0.1)
    H_f = _fd_hessian(P, np.zeros(4)) - 0.1 * np.eye(4)
    assert np.linalg.eigvalsh(H_f)[0] < 0  # f really is non-convex there
