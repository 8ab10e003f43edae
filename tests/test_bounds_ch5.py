"""Chapter 5 theorems (bounds/ch5.py): Lemma 5.4.1, Theorems 5.4.1-5.4.2, Corollaries 5.4.1-5.4.2."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bounds
from bounds.ch5 import harmonic_sums

SETTINGS = settings(max_examples=40, deadline=None)
CH5_KEYS = ("lem5.4.1", "lem5.4.1-corrected", "thm5.4.1", "thm5.4.2", "cor5.4.1", "cor5.4.2")
pos = st.floats(min_value=1e-2, max_value=1e2, allow_nan=False, allow_infinity=False)


def ddg_quadratic(a, w0, gammas):
    """Deterministic DDG (eqs. 5.8-5.9) on f(w) = 1/2 sum_k a_k w_k^2, one coordinate per module.

    Module k (1-based) applies the gradient evaluated at w^{t-K+k} (zero while t-K+k < 0).
    Returns the iterates w^0..w^T and the gradients the updates used.
    """
    a, w = np.asarray(a, float), np.asarray(w0, float).copy()
    K = a.size
    ws = [w.copy()]
    for t, g in enumerate(gammas):
        step = np.zeros(K)
        for k in range(1, K + 1):
            s = t - K + k
            if s >= 0:
                step[k - 1] = a[k - 1] * ws[s][k - 1]
        w = w - g * step
        ws.append(w.copy())
    return np.array(ws)


def test_registered():
    assert set(CH5_KEYS) <= set(bounds.keys())


@SETTINGS
@given(pos, st.sampled_from(["thm5.4.1", "lem5.4.1-corrected", "thm5.4.2", "cor5.4.1", "cor5.4.2"]))
def test_max_step_is_tight_iff(L, key):
    thm = bounds.get(key)
    g = thm.max_step(L=L)
    assert g == pytest.approx(1 / L)
    step = thm.step.name
    assert thm.admissible(**{step: g}, L=L)
    assert not thm.admissible(**{step: g * (1 + 1e-6)}, L=L)


def test_lemma_as_stated_has_no_step_condition():
    lem = bounds.get("lem5.4.1")
    assert lem.conditions == () and lem.admissible(gamma=1e6, L=1.0)
    with pytest.raises(ValueError, match="no step-size limit"):
        lem.max_step(L=1.0)


@SETTINGS
@given(st.integers(1, 12), st.floats(0.0, 10.0))
def test_M_K_values(K, M):
    assert bounds.get("thm5.4.1").evaluate("M_K", K=K, M=M) == pytest.approx(K * M + K**4 * M)
    assert bounds.get("thm5.4.2").evaluate("M_K", K=K, M=M) == pytest.approx(K * M + K**5 * M)
    assert bounds.get("lem5.4.1").evaluate("M_K", K=K, M=M, sigma=float(K)) == pytest.approx(K * M + K**5 * M)


@SETTINGS
@given(st.floats(1e-3, 10.0), st.integers(1, 3000))
def test_harmonic_sums_against_direct_sum(g0, T):
    gam = g0 / np.arange(1, T + 1)
    Gam, S = harmonic_sums(g0, T)
    assert Gam == pytest.approx(gam.sum(), rel=1e-12)
    assert S == pytest.approx((gam**2).sum(), rel=1e-12)


@SETTINGS
@given(st.floats(0.05, 1.0), pos, st.floats(1e-3, 10.0), st.integers(1, 8), pos, st.integers(1, 10**6))
def test_bounds_decrease_in_T_and_grow_with_K(frac, L, M, K, Delta, T):
    t1, t2 = bounds.get("thm5.4.1"), bounds.get("thm5.4.2")
    p = dict(L=L, M=M, Delta=Delta)
    # non-increasing in T: at large T the T-free term dominates and T -> T + 1 can round to equality
    # (2016.07 < 2016.07 was seen at a large T)
    assert t1.bound(T=T + 1, gamma=frac / L, K=K, **p) <= t1.bound(T=T, gamma=frac / L, K=K, **p)
    assert t2.bound(T=T + 1, gamma0=frac / L, K=K, **p) <= t2.bound(T=T, gamma0=frac / L, K=K, **p)
    assert t1.bound(T=T, gamma=frac / L, K=K + 1, **p) > t1.bound(T=T, gamma=frac / L, K=K, **p)
    assert t2.bound(T=T, gamma0=frac / L, K=K + 1, **p) > t2.bound(T=T, gamma0=frac / L, K=K, **p)
    # the admissible step does not grow with K (here it is K-free); the useful step shrinks
    assert all(s.name != "K" for s in t1.step_limit.free_symbols)
    o1 = t1.evaluate("optimal_step", K=K, T=T, **p)
    o2 = t1.evaluate("optimal_step", K=K + 1, T=T, **p)
    assert o2 <= o1 and o1 <= 1 / L * (1 + 1e-15)


@SETTINGS
@given(pos, st.floats(1e-3, 10.0), st.integers(1, 6), pos, st.integers(1, 10**5))
def test_optimal_step_minimises_bound(L, M, K, Delta, T):
    t1 = bounds.get("thm5.4.1")
    p = dict(L=L, M=M, K=K, Delta=Delta, T=T)
    g = t1.evaluate("optimal_step", **p)
    grid = np.geomspace(1e-8 / L, 1 / L, 2001)
    assert t1.bound(gamma=g, **p) <= np.min(t1.bound(gamma=grid, **p)) * (1 + 1e-9)
    assert t1.evaluate("best_bound", **p) == pytest.approx(t1.bound(gamma=g, **p), rel=1e-12)


def test_cor_5_4_1_bound_tends_to_zero():
    t = bounds.get("cor5.4.1")
    vals = t.bound(T=np.array([1e2, 1e4, 1e8, 1e16]), gamma0=0.5, L=1.0, M=1.0, K=2, Delta=1.0)
    assert np.all(np.diff(vals) < 0) and vals[-1] < vals[0] / 5


def test_vectorised_equals_scalar():
    t = bounds.get("thm5.4.2")
    T = np.array([1, 7, 50, 10**6])
    g0 = np.array([0.1, 0.5, 1.0, 0.9])
    K = np.array([1, 2, 3, 4])
    vec = t.bound(T=T, gamma0=g0, L=1.0, M=0.3, K=K, Delta=2.0)
    for i in range(4):
        assert vec[i] == pytest.approx(t.bound(T=int(T[i]), gamma0=g0[i], L=1.0, M=0.3, K=int(K[i]), Delta=2.0), rel=1e-14)


@pytest.mark.parametrize("K", [1, 2, 3, 4])
def test_thm_5_4_1_holds_on_a_delayed_quadratic(K):
    """Measured average |grad f|^2 of deterministic DDG on a quadratic stays below (5.20)."""
    rng = np.random.default_rng(K)
    a = rng.uniform(0.2, 1.0, K)
    L, T = a.max(), 200
    gamma = 0.5 / (L * K)
    ws = ddg_quadratic(a, np.ones(K), [gamma] * T)
    grads = ws * a
    M = np.max(np.sum(grads**2, axis=1))            # Assumption 5.4.2 along the trajectory
    Delta = 0.5 * np.sum(a * ws[0] ** 2)            # f* = 0
    measured = np.mean(np.sum(grads[:T] ** 2, axis=1))
    bound = bounds.get("thm5.4.1").bound(T=T, gamma=gamma, L=L, M=M, K=K, Delta=Delta)
    assert measured <= bound
    assert bounds.get("thm5.4.1").check(gamma=gamma, L=L).holds


@pytest.mark.parametrize("K", [1, 3])
def test_thm_5_4_2_holds_on_a_delayed_quadratic(K):
    a = np.linspace(0.3, 1.0, K)
    L, T, g0 = a.max(), 300, 0.8 / a.max()
    gam = g0 / np.arange(1, T + 1)
    ws = ddg_quadratic(a, np.ones(K), gam)
    G = np.sum((ws * a) ** 2, axis=1)
    measured = np.sum(gam * G[:T]) / gam.sum()
    bound = bounds.get("thm5.4.2").bound(T=T, gamma0=g0, L=L, M=G.max(), K=K, Delta=0.5 * np.sum(a))
    assert measured <= bound
