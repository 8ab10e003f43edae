"""CoCoA+ (Ma et al. 2015) with an SDCA local solver, sigma' = K, additive aggregation."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from algorithms.cocoa import CoCoAPlus
from algorithms.problems import LogisticProblem, PCAProblem, RidgeProblem
from algorithms.roles import Roles, worker_streams
from algorithms.sdca import sdca
from reference_ch3 import run_sync


def ridge_data(n=40, d=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) / np.sqrt(d)
    y = X @ rng.standard_normal(d) + 0.3 * rng.standard_normal(n)
    return X, y


@pytest.mark.parametrize("kind,K", [("ridge", 4), ("ridge-csr", 3), ("logistic", 3)])
def test_gap_nonnegative_shrinks_and_primal_dual(kind, K):
    X, y = ridge_data(n=60, d=5, seed=1)
    if kind == "logistic":
        P = LogisticProblem(X, np.sign(y), 0.1)
    else:
        X[np.abs(X) < 0.2] = 0.0
        P = RidgeProblem(sp.csr_matrix(X) if kind == "ridge-csr" else X, y, 0.1)
    roles = CoCoAPlus(P, K, H=15)
    assert isinstance(roles, Roles) and roles.protocol == "sync"
    recs = run_sync(roles, 60, seed=2)
    gap = np.array([r["duality_gap"] for r in recs])
    sub = np.array([r["suboptimality"] for r in recs])
    assert np.all(gap >= -1e-12)
    assert np.all(sub <= gap + 1e-12)  # weak duality: P(w) - P* <= G(alpha)
    assert gap[-1] < 1e-5 * gap[0]
    np.testing.assert_allclose(roles.w, P.primal_from_dual(roles.alpha), rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("kind", ["ridge", "logistic"])
def test_k1_is_serial_sdca(kind):
    """K = 1: sigma' = 1 and a round of H local steps is H steps of Alg. 4 on the
    same stream (rng.integers(n, size=H) draws what H calls rng.integers(n) draw)."""
    X, y = ridge_data()
    P = RidgeProblem(X, y, 0.1) if kind == "ridge" else LogisticProblem(X, np.sign(y), 0.1)
    roles = CoCoAPlus(P, 1, H=7)
    run_sync(roles, 9, seed=5)
    ser = sdca(P, 63, worker_streams(5, 1)[0])
    np.testing.assert_allclose(roles.w, ser.w, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(roles.alpha, ser.alpha, rtol=1e-12, atol=1e-15)


def test_local_solver_solves_local_subproblem():
    """With many local steps one round solves worker k's quadratic subproblem:
    (I + sigma'/(lam n) X_k X_k^T) dalpha = y_k - alpha_k - X_k w (squared loss)."""
    X, y = ridge_data(n=24, d=3, seed=4)
    lam, K = 0.1, 3
    P = RidgeProblem(X, y, lam)
    roles = CoCoAPlus(P, K, H=4000)
    w0 = roles.read()
    for k, sl in enumerate([slice(0, 8), slice(8, 16), slice(16, 24)]):
        msg = roles.work(k, w0, np.random.default_rng(k))
        Xk = X[sl]
        M = np.eye(8) + K / (lam * 24) * Xk @ Xk.T
        dalpha = np.linalg.solve(M, y[sl] - Xk @ w0)
        np.testing.assert_allclose(roles.alpha[sl], dalpha, atol=1e-9)
        np.testing.assert_allclose(msg.payload, Xk.T @ dalpha / (lam * 24), atol=1e-9)
        assert msg.work == 4000 and msg.nbytes == 8 * 3


def test_converges_to_closed_form_and_reproducible():
    X, y = ridge_data(n=50, d=4, seed=3)
    P = RidgeProblem(X, y, 0.1)
    a, b = CoCoAPlus(P, 5, H=10), CoCoAPlus(P, 5, H=10)
    ra, rb = run_sync(a, 200, seed=1), run_sync(b, 200, seed=1)
    assert ra == rb
    w_star = np.linalg.solve(X.T @ X / 50 + 0.1 * np.eye(4), X.T @ y / 50)
    np.testing.assert_allclose(a.w, w_star, atol=1e-7)


@pytest.mark.parametrize("K,H,name", [(0, 5, "K"), (41, 5, "K"), (2, 0, "H"), (2, 1.5, "H"), (2.5, 3, "K")])
def test_rejects_bad_hyper_parameters(K, H, name):
    X, y = ridge_data()
    with pytest.raises(ValueError, match=rf"\b{name}\b"):
        CoCoAPlus(RidgeProblem(X, y, 0.1), K, H=H)


def test_rejects_problem_without_dual():
    X, _ = ridge_data()
    X = X / np.linalg.norm(X, axis=1, keepdims=True)
    with pytest.raises(TypeError, match="PCAProblem"):
        CoCoAPlus(PCAProblem(X, np.ones(4), mu=2.0, lam=0.1), 2, H=3)
