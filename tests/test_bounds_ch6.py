"""Chapter 6 theorems (bounds/ch6.py) and the sufficient-direction estimator."""
from __future__ import annotations

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize_scalar

import bounds
from bounds.ch6 import power_sum, schedule_bound
from bounds.estimators import estimate_sufficient_direction, layer_blocks

SETTINGS = settings(max_examples=40, deadline=None)
CH6_KEYS = ("thm6.4.1", "thm6.4.2", "rem6.4.1")
pos = st.floats(min_value=1e-2, max_value=1e2, allow_nan=False, allow_infinity=False)


def preconditioned_gd(a, D, w0, gammas):
    """w^{t+1} = w^t - gamma_t D grad f(w^t) on f = 1/2 sum a_i w_i^2: a sufficient direction with sigma = min D."""
    w = np.asarray(w0, float).copy()
    grads, dirs = [], []
    for g in gammas:
        gr = a * w
        grads.append(gr)
        dirs.append(D * gr)
        w = w - g * D * gr
    return np.array(grads), np.array(dirs)


def test_registered():
    assert set(CH6_KEYS) <= set(bounds.keys())


@SETTINGS
@given(st.floats(0.01, 1.0), pos, st.floats(1e-3, 10.0), st.integers(1, 8), pos, st.integers(1, 10**6))
def test_thm_6_4_1_contains_thm_5_4_1(frac, L, M, K, Delta, T):
    """Lemma 5.4.1 is Lemma 6.4.1 with sigma = 1/2 and M = 2 M_K, so (5.20) is (6.14) there."""
    MK = K * M + K**4 * M
    b5 = bounds.get("thm5.4.1").bound(T=T, gamma=frac / L, L=L, M=M, K=K, Delta=Delta)
    b6 = bounds.get("thm6.4.1").bound(T=T, gamma=frac / L, L=L, M=2 * MK, sigma=0.5, Delta=Delta)
    assert b6 == pytest.approx(b5, rel=1e-12)
    MK5 = K * M + K**5 * M
    d5 = bounds.get("thm5.4.2").bound(T=T, gamma0=frac / L, L=L, M=M, K=K, Delta=Delta)
    d6 = bounds.get("thm6.4.2").bound(T=T, gamma0=frac / L, p=1.0, L=L, M=2 * MK5, sigma=0.5, Delta=Delta)
    assert d6 == pytest.approx(d5, rel=1e-10)


def test_thm_6_4_1_has_no_step_limit():
    t = bounds.get("thm6.4.1")
    assert t.conditions == () and t.check(gamma=1e9, L=1.0, M=1.0, sigma=1.0, Delta=1.0, T=10).holds
    with pytest.raises(ValueError, match="no step-size limit"):
        t.max_step(L=1.0)


@SETTINGS
@given(pos, st.floats(1e-3, 10.0), st.floats(0.05, 2.0), pos, st.integers(1, 10**5))
def test_optimal_step_matches_scipy(L, M, sigma, Delta, T):
    t = bounds.get("thm6.4.1")
    p = dict(L=L, M=M, sigma=sigma, Delta=Delta, T=T)
    g = t.evaluate("optimal_step", **p)
    res = minimize_scalar(lambda lg: t.bound(gamma=np.exp(lg), **p), bracket=(np.log(g) - 3, np.log(g) + 3),
                          tol=1e-12)
    assert np.exp(res.x) == pytest.approx(g, rel=1e-4)
    assert t.evaluate("best_bound", **p) == pytest.approx(res.fun, rel=1e-9)


@SETTINGS
@given(st.floats(0.51, 1.0))
def test_6_18_condition_is_tight(p):
    t = bounds.get("thm6.4.2")
    assert t.admissible(p=p)
    assert not t.admissible(p=0.5)
    assert not t.admissible(p=1.0 + 1e-6)


@SETTINGS
@given(st.integers(1, 200000), st.floats(0.2, 2.5))
def test_power_sum_against_hurwitz_zeta(N, s):
    if abs(s - 1.0) < 1e-9:
        ref = float(mpmath.harmonic(N))
    else:
        with mpmath.workdps(50):   # the difference cancels near the pole at s = 1
            ref = float(mpmath.zeta(s) - mpmath.zeta(s, N + 1))
    assert power_sum(N, s) == pytest.approx(ref, rel=1e-12)


def test_power_sum_direct_and_vectorised():
    N = np.array([1, 2, 999, 1000, 1001, 5000])
    s = np.array([0.6, 1.0, 0.75, 2.0, 1.3, 0.9])
    vec = power_sum(N, s)
    for i in range(N.size):
        assert vec[i] == pytest.approx(np.sum(np.arange(1, N[i] + 1, dtype=float) ** -s[i]), rel=1e-13)
    with pytest.raises(ValueError, match="N must hold integers >= 1"):
        power_sum(0, 1.0)


@SETTINGS
@given(st.floats(1e-3, 2.0), st.floats(0.51, 1.0), pos, st.floats(1e-3, 10.0), st.floats(0.05, 2.0), pos,
       st.integers(1, 2000))
def test_thm_6_4_2_matches_schedule_bound_and_decreases(g0, p, L, M, sigma, Delta, T):
    t = bounds.get("thm6.4.2")
    kw = dict(L=L, M=M, sigma=sigma, Delta=Delta)
    seq = schedule_bound(g0 / np.arange(1, T + 2) ** p, **kw)
    assert t.bound(T=T, gamma0=g0, p=p, **kw) == pytest.approx(seq[T - 1], rel=1e-11)
    assert seq[T] < seq[T - 1]


def test_vectorised_equals_scalar():
    t = bounds.get("thm6.4.2")
    T = np.array([1, 30, 2000, 10**7])
    p = np.array([0.6, 1.0, 0.75, 0.9])
    vec = t.bound(T=T, gamma0=0.3, p=p, L=2.0, M=1.5, sigma=0.4, Delta=3.0)
    for i in range(T.size):
        assert vec[i] == pytest.approx(t.bound(T=int(T[i]), gamma0=0.3, p=p[i], L=2.0, M=1.5, sigma=0.4, Delta=3.0),
                                       rel=1e-14)


@pytest.mark.parametrize("schedule", ["fixed", "diminishing"])
def test_theorems_hold_for_a_sufficient_direction(schedule):
    """Preconditioned GD has sigma = min D exactly; measured averages stay below (6.14) / (6.19)."""
    rng = np.random.default_rng(11)
    a = rng.uniform(0.5, 2.0, 6)
    D = rng.uniform(0.3, 1.0, 6)
    L, T = a.max(), 400
    gam = np.full(T, 0.5 / L) if schedule == "fixed" else (0.9 / L) / np.arange(1, T + 1) ** 0.8
    grads, dirs = preconditioned_gd(a, D, np.ones(6), gam)
    G = np.sum(grads**2, axis=1)
    M = np.max(np.sum(dirs**2, axis=1))
    est = estimate_sufficient_direction(grads, dirs)[0]
    assert est.value >= D.min() - 1e-12 and est.n_samples == T
    kw = dict(L=L, M=M, sigma=est.value, Delta=0.5 * np.sum(a))
    if schedule == "fixed":
        assert np.mean(G) <= bounds.get("thm6.4.1").bound(T=T, gamma=gam[0], **kw)
    else:
        measured = np.sum(gam * G) / gam.sum()
        assert measured <= bounds.get("thm6.4.2").bound(T=T, gamma0=gam[0], p=0.8, **kw)


def test_sufficient_direction_per_module():
    rng = np.random.default_rng(5)
    blocks = layer_blocks([2, 3, 1])
    scale = np.repeat([0.2, 0.9, 1.5], [2, 3, 1])
    F = rng.standard_normal((50, 6))
    est = estimate_sufficient_direction(F, F * scale, blocks)
    assert [e.value for e in est] == pytest.approx([0.2, 0.9, 1.5], rel=1e-12)
    whole = estimate_sufficient_direction(F, F * scale)[0].value
    ref = np.min(np.sum(F * F * scale, axis=1) / np.sum(F * F, axis=1))
    assert whole == pytest.approx(ref, rel=1e-12)
    with pytest.raises(ValueError, match="equal shapes"):
        estimate_sufficient_direction(F, F[:, :5])
