"""Serial dfSDCA (Alg. 5) and Dis-dfSDCA (Alg. 6/7, eqs. 3.5-3.8) as roles."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from algorithms.dfsdca import DisDfSDCA, dfsdca
from algorithms.problems import LogisticProblem, RidgeProblem
from algorithms.roles import Roles, worker_streams
from reference_ch3 import (
    linear_grad,
    max_staleness,
    pca_data,
    pca_grad,
    ref_dfsdca,
    ref_dis_dfsdca,
    ridge_data,
    run_async,
)


# --- serial dfSDCA vs the per-sample reference with full duals alpha_i in R^d -----
@pytest.mark.parametrize("kind", ["ridge", "ridge-csr", "logistic", "pca"])
def test_dfsdca_matches_reference(kind):
    if kind == "pca":
        X, b, P = pca_data(40)
        g = pca_grad(X, b, P.mu - P.lam)
    else:
        X, y = ridge_data(48, sparsify=kind == "ridge-csr")
        if kind == "logistic":
            y = np.sign(y)
            P = LogisticProblem(X, y, 0.1)
        else:
            P = RidgeProblem(sp.csr_matrix(X) if kind == "ridge-csr" else X, y, 0.1)
        g = linear_grad(X, y, "logistic" if kind == "logistic" else "squared")
    eta = 0.02
    res = dfsdca(P, eta, 400, np.random.default_rng(11))
    w_ref, a_ref = ref_dfsdca(g, P.n, P.d, P.lam, eta, 400, np.random.default_rng(11))
    np.testing.assert_allclose(res.w, w_ref, rtol=1e-10, atol=1e-13)
    full = res.alpha if kind == "pca" else X * res.alpha[:, None]  # alpha_i = x_i alpha_hat_i
    np.testing.assert_allclose(full, a_ref, rtol=1e-10, atol=1e-13)


# --- Dis-dfSDCA vs the reference (Alg. 7 inner loop over the H samples) ----------
@pytest.mark.parametrize(
    "kind,dual_scale,stale",
    [("ridge", "n", True), ("ridge-csr", "n", True), ("ridge", "n_k", True), ("ridge", "n", False), ("pca", "n", True)],
)
def test_dis_dfsdca_matches_reference(kind, dual_scale, stale):
    K, H, T, rounds, eta = 3, 4, 7, 12, 0.01
    if kind == "pca":
        X, b, P = pca_data(n=31)
        g = pca_grad(X, b, P.mu - P.lam)
    else:
        X, y = ridge_data(n=31, sparsify=kind == "ridge-csr")
        P = RidgeProblem(sp.csr_matrix(X) if kind == "ridge-csr" else X, y, 0.1)
        g = linear_grad(X, y, "squared")
    roles = DisDfSDCA(P, K, eta=eta, H=H, T=T, dual_scale=dual_scale)
    run_async(roles, rounds, seed=3, stale=stale, metrics_every_round=False)
    w_ref, a_ref = ref_dis_dfsdca(
        g, P.n, P.d, P.lam, K=K, eta=eta, H=H, T=T, rounds=rounds, seed=3, stale=stale, dual_scale=dual_scale
    )
    np.testing.assert_allclose(roles.w, w_ref, rtol=1e-10, atol=1e-13)
    full = roles.alpha if kind == "pca" else X * roles.alpha[:, None]
    np.testing.assert_allclose(full, a_ref, rtol=1e-10, atol=1e-13)


def test_k1_h1_zero_delay_is_serial_dfsdca_iterate_for_iterate():
    """K = 1, H = 1, zero delay: worker 0's stream worker_streams(seed, 1)[0] draws
    rng.integers(n, size=1) per message (draw_block's H = 1 case), the same
    draws serial dfSDCA makes with rng.integers(n) per step; so message t is step t."""
    X, y = ridge_data(48)
    P = RidgeProblem(X, y, 0.1)
    for T_round, rounds in [(1, 1), (1, 2), (5, 3), (13, 11)]:
        roles = DisDfSDCA(P, 1, eta=0.03, H=1, T=T_round)
        run_async(roles, rounds, seed=9, metrics_every_round=False)
        ser = dfsdca(P, 0.03, T_round * rounds, worker_streams(9, 1)[0])
        assert np.array_equal(roles.w, ser.w)
        assert np.array_equal(roles.alpha, ser.alpha)


# --- eq. 3.7 vs Alg. 7: which dual scale keeps eq. 3.3 -------------------------
@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    K=st.integers(1, 4),
    H=st.integers(1, 5),
    T=st.integers(1, 9),
    stale=st.booleans(),
)
def test_dual_scale_n_keeps_primal_dual_relation(seed, K, H, T, stale):
    X, y = ridge_data(n=24, seed=seed % 7)
    P = RidgeProblem(X, y, 0.1)
    roles = DisDfSDCA(P, K, eta=0.02, H=H, T=T)
    run_async(roles, 4, seed=seed, stale=stale, metrics_every_round=False)
    assert np.max(np.abs(roles.alpha)) > 0
    np.testing.assert_allclose(roles.w, X.T @ roles.alpha / (P.lam * P.n), rtol=0, atol=1e-12)


def test_dual_scale_n_k_breaks_primal_dual_relation():
    X, y = ridge_data(n=24)
    P = RidgeProblem(X, y, 0.1)
    roles = DisDfSDCA(P, 3, eta=0.02, H=3, T=6, dual_scale="n_k")
    run_async(roles, 4, seed=0, stale=True, metrics_every_round=False)
    gap = np.max(np.abs(roles.w - X.T @ roles.alpha / (P.lam * P.n)))
    assert gap > 1e-3 * np.max(np.abs(roles.w))
    # ... but with K = 1 (n_k = n) both scales are the same algorithm
    a = DisDfSDCA(P, 1, eta=0.02, H=3, T=6, dual_scale="n_k")
    b = DisDfSDCA(P, 1, eta=0.02, H=3, T=6, dual_scale="n")
    run_async(a, 3, seed=0, metrics_every_round=False)
    run_async(b, 3, seed=0, metrics_every_round=False)
    assert np.array_equal(a.w, b.w)


# --- convergence inside eq. 3.18 --------------------------------------------------
def test_linear_convergence_on_ridge_at_eq_3_18_step():
    X, y = ridge_data(n=100, d=4, seed=2)
    P = RidgeProblem(X, y, 0.1)
    K, H, T, stale = 2, 4, 10, True
    tau = max_staleness(K, T, stale)
    L = P.constants().L_max  # Assumption 3.4.1: per-sample Lipschitz constant
    eta = 1.0 / (4 * H * L * tau**2 + P.lam * P.n + 2 * L)  # eq. 3.18
    roles = DisDfSDCA(P, K, eta=eta, H=H, T=T)
    assert isinstance(roles, Roles)
    recs = run_async(roles, 150, seed=1, stale=stale)
    sub = np.array([r["suboptimality"] for r in recs])
    gap = np.array([r["duality_gap"] for r in recs])
    assert sub[-1] < 1e-10 * (P.value(np.zeros(4)) - P.solution().value)
    k = np.flatnonzero(sub > 1e-13)  # fit before hitting rounding
    slope = np.polyfit(k, np.log(sub[k]), 1)[0]
    assert slope < -0.05
    # measured contraction at least as fast as Thm 3.4.1/3.4.2's (1 - eta lam H) per round
    assert slope < np.log(1.0 - eta * P.lam * H)
    assert np.all(gap >= -1e-12) and gap[-1] < 1e-7 * gap[0]
    # sign convention: alpha_hat -> alpha* = -phi'(x^T w*) = y - X w* (the dual of eq. 3.2)
    np.testing.assert_allclose(roles.alpha, y - X @ P.solution().w, atol=1e-3)  # duals lag w
    np.testing.assert_allclose(roles.w, P.primal_from_dual(roles.alpha), atol=1e-12)


def test_pca_converges_with_nd_duals():
    X, b, P = pca_data(n=40, d=4, lam=0.2)
    roles = DisDfSDCA(P, 2, eta=0.01, H=4, T=10)
    assert roles.alpha.shape == (40, 4)
    recs = run_async(roles, 200, seed=0, stale=True)
    assert set(recs[-1]) == {"objective", "suboptimality", "lyapunov_convex", "lyapunov_nonconvex"}
    assert recs[-1]["suboptimality"] < 1e-9 * recs[0]["suboptimality"]
    np.testing.assert_allclose(roles.w, np.linalg.solve(P.mu * np.eye(4) - X.T @ X / 40, b), atol=1e-6)


# --- roles contract details ---------------------------------------------------------
def test_message_barrier_and_reproducibility():
    X, y = ridge_data(48)
    P = RidgeProblem(X, y, 0.1)
    roles = DisDfSDCA(P, 4, eta=0.01, H=5, T=8)
    assert roles.protocol == "async" and roles.round_length == 8 and roles.epoch_work == 48
    assert np.array_equal(roles.barrier(), np.zeros(4))
    w = roles.read()
    msg = roles.work(2, w, np.random.default_rng(0))
    assert msg.work == 5 and msg.nbytes == 8 * 4 and msg.payload.shape == (4,)
    assert np.count_nonzero(roles.alpha) == 5 and np.all(np.flatnonzero(roles.alpha) // 12 == 2)
    w[:] = 7.0  # read() must be a copy
    assert np.all(roles.w == 0.0)
    a, b = (DisDfSDCA(P, 3, eta=0.01, H=2, T=5) for _ in range(2))
    ra = run_async(a, 5, seed=4, stale=True)
    rb = run_async(b, 5, seed=4, stale=True)
    assert ra == rb and np.array_equal(a.w, b.w)


def test_logistic_metrics_have_gap():
    X, y = ridge_data(48)
    P = LogisticProblem(X, np.sign(y), 0.1)
    roles = DisDfSDCA(P, 2, eta=0.02, H=3, T=6)
    recs = run_async(roles, 60, seed=0)
    assert recs[-1]["duality_gap"] < 0.01 * recs[0]["duality_gap"]
    assert recs[-1]["duality_gap"] >= -1e-12


@pytest.mark.parametrize(
    "kw,name",
    [
        (dict(eta=0.0), "eta"),
        (dict(eta=-1.0), "eta"),
        (dict(eta=float("nan")), "eta"),
        (dict(eta=float("inf")), "eta"),
        (dict(eta="0.1"), "eta"),
        (dict(H=0), "H"),
        (dict(H=2.5), "H"),
        (dict(H=13), "H"),  # > n_k = 12
        (dict(T=0), "T"),
        (dict(T=1.5), "T"),
        (dict(K=0), "K"),
        (dict(K=49), "K"),
        (dict(dual_scale="nk"), "dual_scale"),
    ],
)
def test_dis_dfsdca_rejects_bad_hyper_parameters(kw, name):
    X, y = ridge_data(48)
    P = RidgeProblem(X, y, 0.1)
    args = dict(K=4, eta=0.01, H=2, T=3)
    args.update(kw)
    K = args.pop("K")
    with pytest.raises(ValueError, match=rf"\b{name}\b"):
        DisDfSDCA(P, K, **args)


def test_serial_dfsdca_rejects_bad_input():
    X, y = ridge_data(48)
    P = RidgeProblem(X, y, 0.1)
    with pytest.raises(ValueError, match="eta"):
        dfsdca(P, -0.1, 10, np.random.default_rng(0))
    with pytest.raises(ValueError, match="T must"):
        dfsdca(P, 0.1, -3, np.random.default_rng(0))


# --- with the simpy driver and replay (sim/) ---------------------------------------
def test_simulate_replay_bit_identical_and_converges():
    from sim.cluster import Cluster, ExponentialSpeed
    from sim.driver import Budget, simulate
    from sim.replay import replay
    from sim.trace import staleness_stats

    X, y = ridge_data(n=80, d=4, seed=6)
    P = RidgeProblem(X, y, 0.1)
    hyper = dict(eta=0.02, H=4, T=12)
    cluster = Cluster.homogeneous(4, speed=ExponentialSpeed(1.0))
    res = simulate(DisDfSDCA(P, 4, **hyper), cluster, seed=5, budget=Budget(max_epochs=60), record_every=40)
    assert staleness_stats(res.trace).max <= hyper["T"] - 1
    again = replay(res.trace, DisDfSDCA(P, 4, **hyper), seed=5, record_every=40)
    assert np.array_equal(res.params, again.params)
    frame = res.records_frame()
    sub = frame[frame.metric == "suboptimality"].value.to_numpy()
    assert sub[-1] < 1e-8 * sub[0]
    assert frame[frame.metric == "duality_gap"].value.min() >= -1e-12


# --- Lyapunov functions of Theorems 3.4.1 / 3.4.3 (Lemma 3.4.1, eqs. 3.14-3.15) -----------------------
def _direct_lyapunov(alpha_full, w, grads_at_star, w_star, L, lam):
    """Per sample, from scratch: A = 1/n sum_i |alpha_i - alpha_i*|^2 with alpha_i* = -grad phi_i(w*)."""
    n = alpha_full.shape[0]
    A = sum(float(np.sum((alpha_full[i] + grads_at_star[i]) ** 2)) for i in range(n)) / n
    B = float(np.sum((w - w_star) ** 2))
    return A / (2 * lam * L) + B, A / (4 * L * L) + B


@pytest.mark.parametrize("kind", ["ridge", "ridge-csr", "pca"])
def test_lyapunov_metrics_match_a_direct_per_sample_computation(kind):
    if kind == "pca":
        X, b, P = pca_data(n=30, d=4, lam=0.2)
        w_star = np.linalg.solve(P.mu * np.eye(4) - X.T @ X / 30, b)  # eq. 3.40's closed form
        a = P.mu - P.lam
        grads = np.array([a * w_star - X[i] * (X[i] @ w_star) - b for i in range(30)])
        L = max(max(abs(a), abs(a - X[i] @ X[i])) for i in range(30))
    else:
        X, y = ridge_data(n=30, d=4, sparsify=kind == "ridge-csr")
        P = RidgeProblem(sp.csr_matrix(X) if kind == "ridge-csr" else X, y, 0.1)
        w_star = np.linalg.solve(X.T @ X / 30 + 0.1 * np.eye(4), X.T @ y / 30)
        grads = np.array([X[i] * (X[i] @ w_star - y[i]) for i in range(30)])
        L = max(X[i] @ X[i] for i in range(30))
    roles = DisDfSDCA(P, 3, eta=0.01, H=2, T=4)
    for rec in run_async(roles, 3, seed=5, stale=True):
        assert rec["lyapunov_convex"] > 0 and rec["lyapunov_nonconvex"] > 0
    full = roles.alpha if kind == "pca" else X * roles.alpha[:, None]  # alpha_i = x_i alpha_hat_i
    conv, nonconv = _direct_lyapunov(full, roles.w, grads, w_star, L, P.lam)
    m = roles.metrics()
    assert m == roles.metrics()  # reading metrics changes nothing
    np.testing.assert_allclose(m["lyapunov_convex"], conv, rtol=1e-10)
    np.testing.assert_allclose(m["lyapunov_nonconvex"], nonconv, rtol=1e-10)
    # at the start (alpha = 0, w = 0): C_0 = mean |grad phi_i(w*)|^2/(2 lam L) + |w*|^2
    fresh = DisDfSDCA(P, 3, eta=0.01, H=2, T=4).metrics()
    np.testing.assert_allclose(fresh["lyapunov_convex"],
                               np.mean(np.sum(grads**2, axis=1)) / (2 * P.lam * L) + w_star @ w_star, rtol=1e-10)


def test_lyapunov_is_zero_at_the_fixed_point_and_decreases():
    X, y = ridge_data(n=40, d=3)
    P = RidgeProblem(X, y, 0.1)
    roles = DisDfSDCA(P, 2, eta=1.0 / (P.lam * P.n + 2 * P.constants().L_max), H=4, T=4)
    recs = run_async(roles, 200, seed=0, stale=False)
    C = np.array([r["lyapunov_convex"] for r in recs])
    assert C[-1] < 1e-12 * C[0]
    # the dual fixed point of Lemma 3.4.1: alpha_hat* = -phi'(x^T w*) = y - X w*, and w* itself
    roles.alpha[:] = y - X @ P.solution().w
    roles.w[:] = P.solution().w
    assert roles.metrics()["lyapunov_convex"] < 1e-20
