"""Chapter 4 theorems (bounds/ch4.py) and the L_k / M_k estimators (bounds/estimators.py)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import bounds
from bounds.estimators import (
    Estimate, estimate_layer_lipschitz, estimate_layer_variance_factor, layer_blocks,
)

SETTINGS = settings(max_examples=40, deadline=None)
CH4_KEYS = ("thm4.2.1", "thm4.3.1", "thm4.3.1-corrected", "cor4.3.1", "thm4.3.2", "thm4.3.2-corrected",
            "cor4.3.2", "cor4.3.2-corrected", "cor4.3.3", "cor4.3.3-corrected")
pos = st.floats(min_value=1e-2, max_value=1e2, allow_nan=False, allow_infinity=False)


@st.composite
def layer_problem(draw, *, max_layers: int = 5):
    """Admissible layer-wise constants: L_k <= L_g, M_k >= 0, batch B, momentum beta."""
    K = draw(st.integers(1, max_layers))
    L = np.array(draw(st.lists(pos, min_size=K, max_size=K)))
    Lg = float(L.max()) * draw(st.floats(1.0, 10.0))
    Mk = np.array(draw(st.lists(st.floats(0.0, 50.0), min_size=K, max_size=K)))
    B = float(draw(st.integers(1, 4096)))
    beta = draw(st.floats(0.0, 0.99))
    return dict(L=L, Mk=Mk, L_g=Lg, B=B), beta


def per_layer_lhs(gamma, L, Mk, Lg, B, beta=None):
    """Independent per-layer evaluation of (4.19)-(4.22) / (4.52)-(4.57) (lhs - rhs, <= 0 holds).

    (4.55) as (4.46) multiplied into (4.50) gives it: 2 L_g^2 beta^4 gamma_k M_k sum_j gamma_j/((1-beta)^4 K B)."""
    gk = gamma / np.asarray(L, dtype=float)
    Mk = np.asarray(Mk, dtype=float)
    K = gk.size
    s = gk.sum()
    if beta is None:
        rows = [L * gk - 1 / 8, L * gk * Mk / B - 1 / 8, Lg**2 * gk * Mk * s / (K * B) - 1 / 4, Lg**2 * gk * s / K - 1 / 4]
    else:
        b = 1 - beta
        rows = [L * gk / b - 1 / 8, L * gk * Mk / (b * B) - 1 / 8, 2 * Lg**2 * beta**4 * gk * s / (b**4 * K) - 1 / 8,
                2 * Lg**2 * beta**4 * gk * Mk * s / (b**4 * K * B) - 1 / 8, 2 * Lg**2 * gk * Mk * s / (b**2 * K * B) - 1 / 8,
                2 * Lg**2 * gk * s / (b**2 * K) - 1 / 8]
    return np.max(np.concatenate(rows))


def test_registered_with_variants():
    keys = set(bounds.keys())
    assert set(CH4_KEYS) <= keys
    assert bounds.get("thm4.3.1").variants[0].key == "thm4.3.1-corrected"


@SETTINGS
@given(layer_problem(), st.sampled_from(["thm4.3.1", "thm4.3.1-corrected", "thm4.3.2", "thm4.3.2-corrected"]))
def test_max_step_is_tight_iff(prob, key):
    params, beta = prob
    thm = bounds.get(key)
    if "4.3.2" in key:
        params = dict(params, beta=beta)
    g = thm.max_step(**params)
    assert np.isfinite(g) and g > 0
    assert thm.admissible(gamma=g * (1 - 1e-12), **params)
    assert not thm.admissible(gamma=g * (1 + 1e-6), **params)


@SETTINGS
@given(layer_problem(), st.floats(1e-4, 2.0))
def test_corrected_conditions_equal_per_layer_inequalities(prob, frac):
    params, beta = prob
    for key, b in (("thm4.3.1-corrected", None), ("thm4.3.2-corrected", beta)):
        thm = bounds.get(key)
        extra = {} if b is None else {"beta": b}
        gamma = frac * thm.max_step(**params, **extra)
        ref = per_layer_lhs(gamma, params["L"], params["Mk"], params["L_g"], params["B"], b)
        if abs(ref) > 1e-9:   # away from the boundary the two must agree exactly
            assert thm.admissible(gamma=gamma, **params, **extra) == (ref <= 0)


def test_corrected_4_3_2_is_not_looser_than_printed_on_the_issue_example():
    # L = (1, 1), M_k = (10, 0), beta = 0.9, B = 1, L_g = 1, M_g = 10 (issue 8): the printed (4.48b) allows
    # K (1-beta)^2 sqrt(B)/(4 beta^2 L_g sqrt(M_g)) / sum 1/L_k = 0.01/(3.24 sqrt(10)) = 9.76e-4; with the
    # printed (4.55) (sum_j M_j gamma_j) the corrected variant admitted (4.53)'s 1.25e-3.
    p = dict(L=[1.0, 1.0], Mk=[10.0, 0.0], beta=0.9, B=1.0, L_g=1.0, M_g=10.0)
    printed = 0.01 / (3.24 * np.sqrt(10.0))
    assert bounds.get("thm4.3.2").max_step(**p) == pytest.approx(printed, rel=1e-12)
    g = bounds.get("thm4.3.2-corrected").max_step(**p)
    assert g <= printed * (1 + 1e-12)
    assert per_layer_lhs(g, p["L"], p["Mk"], 1.0, 1.0, 0.9) <= 1e-15          # every derived inequality holds
    assert per_layer_lhs(1.25e-3, p["L"], p["Mk"], 1.0, 1.0, 0.9) > 0          # the old limit violates (4.55)
    assert not bounds.get("thm4.3.2-corrected").admissible(gamma=1.25e-3, **p)


def test_stated_min_form_admits_a_violation_of_4_22():
    params = dict(L=[1.0, 0.01], Mk=[0.0, 0.0], L_g=1.0, B=1.0)
    g = bounds.get("thm4.3.1").max_step(**params)
    assert g == pytest.approx(1 / 101)
    assert per_layer_lhs(g, [1.0, 0.01], [0.0, 0.0], 1.0, 1.0) == pytest.approx(50 / 101 - 1 / 4)
    assert not bounds.get("thm4.3.1-corrected").admissible(gamma=g, **params)


@SETTINGS
@given(st.integers(1, 6), pos, st.floats(1.0, 5.0), st.floats(0.0, 20.0), st.integers(1, 512), st.floats(0.0, 0.99))
@example(K=2, Lk=0.9375, ratio=1.0, Mk=2.2250738585e-313, B=1, beta=0.0)  # subnormal M_k: the aggregate check
def test_stated_and_corrected_agree_for_equal_layers(K, Lk, ratio, Mk, B, beta):
    params = dict(L=[Lk] * K, Mk=[Mk] * K, L_g=Lk * ratio, B=float(B))
    for key in ("thm4.3.1", "thm4.3.2"):
        extra = {"beta": beta} if key == "thm4.3.2" else {}
        stated = bounds.get(key).max_step(**params, **extra)
        exact = bounds.get(key + "-corrected").max_step(**params, **extra)
        assert stated == pytest.approx(exact, rel=1e-12)


@SETTINGS
@given(st.integers(1, 6), pos, st.floats(0.0, 20.0), st.integers(1, 512), st.floats(0.0, 0.99), pos, st.floats(0.0, 5.0))
def test_cor_4_3_3_corrected_is_thm_4_3_2_with_equal_layers(K, Lg, Mg, B, beta, Delta, M):
    thm = bounds.get("thm4.3.2")
    cor = bounds.get("cor4.3.3-corrected")
    layers = dict(L=[Lg] * K, Mk=[Mg] * K, L_g=Lg, B=float(B), beta=beta)
    g = thm.max_step(**layers)
    assert cor.max_step(L_g=Lg, M_g=Mg, B=float(B), beta=beta) * Lg == pytest.approx(g, rel=1e-12)
    gamma = 0.5 * g
    lhs = K * thm.bound(T=100, gamma=gamma, M=M, Delta=Delta, **layers)
    rhs = cor.bound(T=100, gamma_g=gamma / Lg, L_g=Lg, M_g=Mg, B=float(B), beta=beta, M_C=K * M, Delta=Delta)
    assert lhs == pytest.approx(rhs, rel=1e-10)


def test_cor_4_3_3_stated_condition_discrepancy():
    """Documented: the fifth entry lacks a factor (1-beta); it binds for beta > sqrt(3)-1."""
    p = dict(L_g=1.0, M_g=1e-8, B=1.0, beta=0.9)
    assert bounds.get("cor4.3.3").max_step(**p) == pytest.approx(0.0125)
    assert bounds.get("cor4.3.3-corrected").max_step(**p) == pytest.approx(0.01 / 3.24)
    p["beta"] = 0.5    # below sqrt(3)-1 the missing factor does not bind
    assert bounds.get("cor4.3.3").max_step(**p) == pytest.approx(bounds.get("cor4.3.3-corrected").max_step(**p))


@SETTINGS
@given(pos, pos, st.floats(0.0, 10.0), st.integers(1, 10**6), st.integers(1, 64))
def test_cor_4_3_3_stated_bound_is_B_times_looser(gamma_g, Delta, MC, T, B):
    p = dict(gamma_g=gamma_g, L_g=1.0, M_g=1.0, beta=0.3, M_C=MC, Delta=Delta, T=T)
    stated = bounds.get("cor4.3.3").bound(B=float(B), **p)
    exact = bounds.get("cor4.3.3-corrected").bound(B=float(B), **p)
    assert stated >= exact * (1 - 1e-12)
    assert bounds.get("cor4.3.3").bound(B=1.0, **p) == pytest.approx(bounds.get("cor4.3.3-corrected").bound(B=1.0, **p))


@SETTINGS
@given(pos, st.floats(1e-3, 1.0), st.floats(0.0, 10.0), pos, st.integers(1, 10**5))
def test_thm_4_2_1_is_order_of_thm_4_3_1_with_one_layer(Lg, frac, MC, Delta, T):
    gamma_a = frac / (8 * Lg)     # admissible for both
    t431 = bounds.get("thm4.3.1").bound(T=T, gamma=gamma_a * Lg, L=[Lg], Mk=[0.0], L_g=Lg, B=1.0, M=MC, Delta=Delta)
    t421 = bounds.get("thm4.2.1").bound(T=T, gamma_g=gamma_a, L_g=Lg, beta=0.0, M_C=MC, Delta=Delta)
    assert 6 * t421 * (1 - 1e-12) <= t431 <= 8 * t421 * (1 + 1e-12)
    # documented: the K = 1 step condition is 4x stricter than Thm 4.2.1's at beta = 0
    assert bounds.get("thm4.3.1").max_step(L=[Lg], Mk=[0.0], L_g=Lg, B=1.0) / Lg == pytest.approx(
        bounds.get("thm4.2.1").max_step(L_g=Lg, beta=0.0) / 4)


@SETTINGS
@given(layer_problem(), pos, st.floats(0.0, 5.0))
def test_mnag_at_beta_zero_is_more_conservative_than_mgd(prob, Delta, M):
    params, _ = prob
    g431 = bounds.get("thm4.3.1").max_step(**params)
    g432 = bounds.get("thm4.3.2").max_step(beta=0.0, **params)
    assert g432 <= g431 * (1 + 1e-12)
    b431 = bounds.get("thm4.3.1").bound(T=50, gamma=g432, M=M, Delta=Delta, **params)
    b432 = bounds.get("thm4.3.2").bound(T=50, gamma=g432, beta=0.0, M=M, Delta=Delta, **params)
    assert b432 >= b431 * (1 - 1e-12)


@SETTINGS
@given(layer_problem(), pos, st.floats(0.0, 5.0), st.integers(1, 10**6))
def test_monotonicity(prob, Delta, M, T):
    params, beta = prob
    thm = bounds.get("thm4.3.2")
    g = thm.max_step(beta=beta, **params)
    b1 = thm.bound(T=T, gamma=g, beta=beta, M=M, Delta=Delta, **params)
    b2 = thm.bound(T=T + 1, gamma=g, beta=beta, M=M, Delta=Delta, **params)
    assert b2 <= b1
    if Delta > 0:
        assert b2 < b1
    # more momentum never admits a larger base rate; a larger batch never a smaller one
    assert thm.max_step(beta=min(beta + 0.005, 0.999), **params) <= g * (1 + 1e-12)
    bigger = dict(params, B=params["B"] * 2)
    assert thm.max_step(beta=beta, **bigger) >= g * (1 - 1e-12)


@SETTINGS
@given(layer_problem(), pos, st.floats(1e-3, 5.0), st.integers(1, 10**6))
def test_corollaries_bound_the_theorem_at_gamma_star(prob, Delta, M, T):
    params, beta = prob
    params = dict(params, Mk=np.minimum(params["Mk"], params["B"]))     # "1/(8 L_k) dominates"
    gs1 = bounds.get("cor4.3.1").evaluate("gamma_star", T=T, M=M, Delta=Delta, **params)
    rep = bounds.get("thm4.3.1").check(gamma=gs1, T=T, M=M, Delta=Delta, **params)
    assert {c.name: c.holds for c in rep.conditions}["(4.19)"] and {c.name: c.holds for c in rep.conditions}["(4.20)"]
    # the expression of (4.25) at gamma* (check() gives no bound where the average conditions, which the
    # corollary ignores, fail)
    at1 = bounds.get("thm4.3.1").bound(T=T, gamma=gs1, M=M, Delta=Delta, **params)
    assert rep.bound is None if not rep.holds else rep.bound == at1
    assert at1 <= bounds.get("cor4.3.1").bound(T=T, M=M, Delta=Delta, **params) * (1 + 1e-12)
    gs2 = bounds.get("cor4.3.2").evaluate("gamma_star", T=T, M=M, Delta=Delta, beta=beta, **params)
    at = bounds.get("thm4.3.2").bound(T=T, gamma=gs2, M=M, Delta=Delta, beta=beta, **params)
    tight = bounds.get("cor4.3.2-corrected").bound(T=T, M=M, Delta=Delta, beta=beta, **params)
    stated = bounds.get("cor4.3.2").bound(T=T, M=M, Delta=Delta, beta=beta, **params)
    assert at <= tight * (1 + 1e-12) <= stated * (1 + 1e-9)


def test_cor_4_3_1_gamma_star_can_violate_the_average_condition():
    p = dict(L=[1.0, 0.01], Mk=[2.0, 3.0], L_g=1.0, B=64.0, T=1000, M=1.0, Delta=1.0)
    rep = bounds.get("cor4.3.1").check(**p)
    assert not rep.holds and [c.name for c in rep.violated] == ["avg<=1/(2L_g) at gamma*"]


def test_vectorised_equals_scalar():
    thm = bounds.get("thm4.3.2-corrected")
    L = np.array([[1.0, 0.5, 0.2], [2.0, 2.0, 2.0], [0.3, 4.0, 1.0]])
    Mk = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0], [5.0, 1.0, 0.5]])
    Lg, B, beta = np.array([1.0, 2.0, 4.0]), 32.0, np.array([0.0, 0.5, 0.9])
    vec = thm.max_step(L=L, Mk=Mk, L_g=Lg, B=B, beta=beta)
    bvec = thm.bound(T=np.array([10, 100, 1000]), gamma=vec / 2, L=L, Mk=Mk, L_g=Lg, B=B, beta=beta, M=1.0, Delta=2.0)
    for i in range(3):
        s = thm.max_step(L=L[i], Mk=Mk[i], L_g=Lg[i], B=B, beta=beta[i])
        assert vec[i] == pytest.approx(s, rel=1e-14)
        assert bvec[i] == pytest.approx(thm.bound(T=[10, 100, 1000][i], gamma=s / 2, L=L[i], Mk=Mk[i], L_g=Lg[i],
                                                  B=B, beta=beta[i], M=1.0, Delta=2.0), rel=1e-14)


def test_bad_input_names_parameter():
    thm = bounds.get("thm4.3.1")
    with pytest.raises(ValueError, match="L must hold finite numbers > 0"):
        thm.max_step(L=[1.0, -2.0], Mk=[1.0, 1.0], L_g=3.0, B=1.0)
    with pytest.raises(ValueError, match="Mk must hold one variance factor per layer"):
        thm.max_step(L=[1.0, 2.0], Mk=[1.0], L_g=3.0, B=1.0)
    with pytest.raises(ValueError, match="beta must be a finite number in"):
        bounds.get("thm4.3.2").max_step(L=[1.0], Mk=[1.0], L_g=3.0, B=1.0, beta=1.0)
    rep = thm.check(gamma=0.01, L=[1.0, 2.0], Mk=[1.0, 1.0], L_g=1.5, B=4.0)   # L_g below a layer's L_k
    assert [c.name for c in rep.violated] == ["L_k<=L_g"]


# -- estimators (Assumptions 4.3.1, 4.3.2) ---------------------------------------------------
def test_layer_lipschitz_exact_for_isotropic_blocks():
    sizes, scales = [1, 3, 2], [2.0, 0.5, 7.0]
    A = np.diag(np.repeat(scales, sizes))
    A[0, 1:] = A[1:, 0] = 0.3             # off-block coupling must not change L_k
    est = estimate_layer_lipschitz(lambda w: A @ w, np.ones(6), layer_blocks(sizes), np.random.default_rng(0),
                                   n_directions=4)
    assert [e.value for e in est] == pytest.approx(scales, rel=1e-10)
    assert all(isinstance(e, Estimate) and e.n_samples == 4 for e in est)


def test_layer_lipschitz_is_a_lower_estimate_of_block_spectral_norm():
    rng = np.random.default_rng(3)
    Q = rng.standard_normal((5, 5))
    A = Q @ Q.T
    blocks = layer_blocks([2, 3])
    est = estimate_layer_lipschitz(lambda w: A @ w, np.zeros(5), blocks, np.random.default_rng(1), n_directions=200)
    for e, idx in zip(est, blocks):
        eig = np.linalg.eigvalsh(A[np.ix_(idx, idx)])
        assert eig[0] - 1e-9 <= e.value <= eig[-1] + 1e-9
        assert e.value >= 0.9 * eig[-1]
    again = estimate_layer_lipschitz(lambda w: A @ w, np.zeros(5), blocks, np.random.default_rng(1), n_directions=200)
    assert [e.value for e in again] == [e.value for e in est]


def test_layer_variance_factor_thesis_and_assumption_differ_by_one():
    rng = np.random.default_rng(7)
    G = rng.standard_normal((400, 5)) + np.array([1.0, 2.0, 0.0, -1.0, 3.0])
    blocks = layer_blocks([2, 3])
    th = estimate_layer_variance_factor(G, blocks, kind="thesis")
    asm = estimate_layer_variance_factor(G, blocks, kind="assumption")
    for t, a, idx in zip(th, asm, blocks):
        ref = np.var(G[:, idx], axis=0).sum() / np.sum(G[:, idx].mean(axis=0) ** 2)
        assert a.value == pytest.approx(ref, rel=1e-12)
        assert t.value == pytest.approx(ref + 1.0, rel=1e-12)
        # eq. (4.11) with M = 0 holds with equality at the assumption estimate
        var = np.mean(np.sum((G[:, idx] - G[:, idx].mean(0)) ** 2, axis=1))
        assert var == pytest.approx(a.value * np.sum(G[:, idx].mean(0) ** 2), rel=1e-12)
    with pytest.raises(ValueError, match="kind must be"):
        estimate_layer_variance_factor(G, blocks, kind="other")
    with pytest.raises(ValueError, match="partition"):
        estimate_layer_variance_factor(G, layer_blocks([2, 2]))


def layerwise_nag_on_quadratic(seed, key, beta, T=300):
    """Deterministic mNAG (eq. 4.6; beta = 0 is mGD) with gamma_k = gamma/L_k on f = 1/2 w^T A w.

    L_k = |A_kk|_2 (eq. 4.10), L_g = |A|_2, f_inf = 0, M_k = M = 0. Returns (measured
    1/T sum_t sum_k q_k |grad_k f(w_t)|^2, the theorem's bound at its largest step).
    """
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 4, size=rng.integers(1, 5))
    d = int(sizes.sum())
    Q = rng.standard_normal((d, d))
    scale = np.repeat(rng.uniform(0.1, 3.0, sizes.size), sizes)
    A = (Q @ Q.T / d + 0.05 * np.eye(d)) * np.sqrt(np.outer(scale, scale))
    blocks = layer_blocks(sizes)
    Lk = np.array([np.linalg.eigvalsh(A[np.ix_(b, b)])[-1] for b in blocks])
    params = dict(L=Lk, Mk=np.zeros(Lk.size), L_g=np.linalg.eigvalsh(A)[-1], B=1.0)
    if "4.3.2" in key:
        params["beta"] = beta
    thm = bounds.get(key)
    g = thm.max_step(**params)
    rates = np.repeat(g / Lk, sizes)
    q = (1 / Lk) / np.sum(1 / Lk)
    w = rng.standard_normal(d)
    v, f0, measured = w.copy(), 0.5 * w @ A @ w, 0.0
    for _ in range(T):
        grad = A @ w
        measured += sum(q[k] * grad[b] @ grad[b] for k, b in enumerate(blocks)) / T
        v_next = w - rates * grad
        w, v = v_next + beta * (v_next - v), v_next
    return measured, thm.bound(T=T, gamma=g, M=0.0, Delta=f0, **params)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("key,beta", [("thm4.3.1", 0.0), ("thm4.3.1-corrected", 0.0), ("thm4.3.2", 0.5),
                                      ("thm4.3.2", 0.9), ("thm4.3.2-corrected", 0.9)])
def test_measured_layerwise_nag_respects_the_bound(seed, key, beta):
    measured, bound = layerwise_nag_on_quadratic(seed, key, beta)
    assert 0 < measured <= bound


@SETTINGS
@given(pos, st.floats(0.0, 50.0), st.integers(1, 4096), st.floats(0.0, 0.99),
       st.sampled_from(["thm4.2.1", "cor4.3.3", "cor4.3.3-corrected"]))
def test_single_rate_max_step_is_tight_iff(Lg, Mg, B, beta, key):
    thm = bounds.get(key)
    p = dict(L_g=Lg, beta=beta) if key == "thm4.2.1" else dict(L_g=Lg, M_g=Mg, B=float(B), beta=beta)
    g = thm.max_step(**p)
    assert np.isfinite(g) and g > 0
    assert thm.admissible(gamma_g=g * (1 - 1e-12), **p)
    assert not thm.admissible(gamma_g=g * (1 + 1e-6), **p)
