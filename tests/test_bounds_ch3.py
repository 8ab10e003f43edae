"""Chapter 3 theorems (bounds/ch3.py): thesis Theorems 3.4.1-3.4.4 and their corrected variants."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import bounds

CH3 = ["thm3.4.1", "thm3.4.1-corrected", "thm3.4.2", "thm3.4.2-corrected",
       "thm3.4.3", "thm3.4.3-corrected", "thm3.4.3-young", "thm3.4.4", "thm3.4.4-corrected", "thm3.4.4-young"]
COUNTS = ["thm3.4.2", "thm3.4.2-corrected", "thm3.4.4", "thm3.4.4-corrected", "thm3.4.4-young"]


@st.composite
def ch3_params(draw, *, max_tau: int = 40):
    """Admissible Chapter-3 constants: L, lam log-uniform, H <= n."""
    n = draw(st.integers(1, 10**6))
    return dict(
        L=10.0 ** draw(st.floats(-3, 3)),
        lam=10.0 ** draw(st.floats(-6, 2)),
        n=n,
        H=draw(st.integers(1, min(n, 10**4))),
        tau=draw(st.integers(0, max_tau)),
    )


def _quadratic_root(a: float, b: float) -> float:
    """Largest eta > 0 with a eta^2 - b eta <= 0, via numpy's polynomial roots (independent of sympy)."""
    roots = np.roots([a, -b, 0.0])
    return float(np.max(roots.real))


# -- the step-size limits ------------------------------------------------------
@settings(max_examples=40, deadline=None)
@given(p=ch3_params(), key=st.sampled_from(CH3))
def test_max_step_satisfies_all_conditions_and_is_tight(p, key):
    thm = bounds.get(key)
    eta = thm.max_step(**p)
    assert eta > 0
    assert thm.check(eta=eta, **p).holds
    over = thm.check(eta=eta * (1 + 1e-6), **p)
    assert not over.holds
    assert [c.name for c in over.violated] == ["step_size"]
    assert over.conditions[0].margin < 0


@settings(max_examples=40, deadline=None)
@given(p=ch3_params())
def test_convex_limit_is_root_of_quadratic_321(p):
    """(3.22) is the positive root of the bracket of (3.21), computed with numpy.roots."""
    L, lam, n, H, tau = p["L"], p["lam"], p["n"], p["H"], p["tau"]
    a = 2 * H * tau**2 + lam * n / (2 * L) + 1.0
    ref = _quadratic_root(a, 1 / (2 * L))
    assert bounds.get("thm3.4.1").max_step(**p) == pytest.approx(ref, rel=1e-9)
    # the corrected variant: delay coefficient tau^2 H (2 + lam/L) instead of 2 tau^2 H
    a_c = H * tau**2 * (2 + lam / L) + lam * n / (2 * L) + 1.0
    assert bounds.get("thm3.4.1-corrected").max_step(**p) == pytest.approx(_quadratic_root(a_c, 1 / (2 * L)),
                                                                          rel=1e-9)


@settings(max_examples=40, deadline=None)
@given(p=ch3_params())
def test_nonconvex_limit_is_root_of_quadratic_333(p):
    L, lam, n, H, tau = p["L"], p["lam"], p["n"], p["H"], p["tau"]
    a = 1 + n * lam**2 / (4 * L**2) + lam * H * tau**2 / (2 * L) + 2 * H * tau**2 * (L + lam)**2 / (lam * L)
    ref = _quadratic_root(a, lam / (4 * L**2))
    assert bounds.get("thm3.4.3").max_step(**p) == pytest.approx(ref, rel=1e-9)


@settings(max_examples=40, deadline=None)
@given(p=ch3_params())
def test_step_limits_imply_eta_L_le_1(p):
    """(3.18) gives eta L <= 1/2; (3.30) gives eta L <= 1/(4 sqrt(n)) (NOTES.md)."""
    assert bounds.get("thm3.4.1").max_step(**p) * p["L"] <= 0.5
    assert bounds.get("thm3.4.3").max_step(**p) * p["L"] <= 1 / (4 * math.sqrt(p["n"])) * (1 + 1e-12)


@settings(max_examples=40, deadline=None)
@given(p=ch3_params(), key=st.sampled_from(CH3))
def test_admissible_step_never_grows_with_tau_or_H(p, key):
    thm = bounds.get(key)
    base = thm.max_step(**p)
    assert thm.max_step(**{**p, "tau": p["tau"] + 1}) <= base
    if p["H"] + 1 <= p["n"]:
        assert thm.max_step(**{**p, "H": p["H"] + 1}) <= base
    if p["tau"] > 0:
        assert thm.max_step(**{**p, "tau": p["tau"] + 1}) < base


def test_corrected_convex_limit_is_smaller_only_with_delay():
    p = dict(L=1.0, lam=0.1, n=1000, H=10, tau=3)
    assert bounds.get("thm3.4.1-corrected").max_step(**p) < bounds.get("thm3.4.1").max_step(**p)
    p0 = {**p, "tau": 0}
    assert bounds.get("thm3.4.1-corrected").max_step(**p0) == bounds.get("thm3.4.1").max_step(**p0)


# -- rates and outer-iteration counts ---------------------------------------------
@settings(max_examples=30, deadline=None)
@given(p=ch3_params(max_tau=5), key=st.sampled_from(COUNTS), e1=st.floats(-12, -1), de=st.floats(0.1, 5),
       C0=st.floats(1e-2, 1e3), frac=st.floats(0.05, 1.0))
def test_outer_iterations_monotone_in_eps_and_sufficient(p, key, e1, de, C0, frac):
    thm = bounds.get(key)
    eta = thm.max_step(**p) * frac
    big, small = 10.0**e1, 10.0 ** (e1 - de)
    kw = dict(eta=eta, C0=C0, **p)
    s_big = thm.evaluate("outer_iterations", eps=big, **kw)
    s_small = thm.evaluate("outer_iterations", eps=small, **kw)
    assert s_small >= s_big
    relaxed = thm.evaluate("outer_iterations_relaxed", eps=small, **kw)
    assert relaxed >= s_small * (1 - 1e-12)
    # S = ceil(exact count) reaches eps through (3.24); computed directly with numpy
    S = math.ceil(s_small)
    rate = eta * p["lam"] * p["H"] / (4 if key == "thm3.4.4-corrected" else 1)   # per-round contraction
    assert thm.evaluate_bound(S=1, eta=eta, **p) == pytest.approx(1 - rate, rel=1e-15)
    sub = thm.evaluate("suboptimality_bound", S=S, eps=small, **kw)
    direct = (p["L"] + p["lam"]) / 2 * C0 * math.exp(S * math.log1p(-rate))
    assert sub == pytest.approx(direct, rel=1e-9)
    assert sub <= small * (1 + 1e-9)


def test_special_case_H1_tau0_convex_gives_L_over_lam_plus_n():
    """Text after (3.27): H = 1, tau = 0 -> S = O(L/lam + n)."""
    thm = bounds.get("thm3.4.2")
    L, lam, n, eps, C0 = 3.0, 0.01, 5000, 1e-6, 2.0
    kw = dict(L=L, lam=lam, n=n, H=1, tau=0, eps=eps, C0=C0)
    log_term = math.log((L + lam) * C0 / (2 * eps))
    explicit = thm.evaluate("outer_iterations_at_max_step", **kw)
    assert explicit == pytest.approx((2 * L / lam + n) * log_term, rel=1e-12)
    order = thm.evaluate("outer_iterations_order", **kw)
    assert order == pytest.approx((L / lam + n) * math.log(1 / eps), rel=1e-12)
    assert 1 <= (explicit / log_term) / (order / math.log(1 / eps)) <= 2


def test_special_case_H1_tau0_nonconvex_gives_L2_over_lam2_plus_n():
    """Text after (3.37): H = 1, tau = 0 -> S = O(L^2/lam^2 + n)."""
    thm = bounds.get("thm3.4.4")
    L, lam, n, eps, C0 = 2.0, 0.05, 700, 1e-4, 1.0
    kw = dict(L=L, lam=lam, n=n, H=1, tau=0, eps=eps, C0=C0)
    log_term = math.log((L + lam) * C0 / (2 * eps))
    explicit = thm.evaluate("outer_iterations_at_max_step", **kw)
    assert explicit == pytest.approx((4 * L**2 / lam**2 + n) * log_term, rel=1e-12)
    order = thm.evaluate("outer_iterations_order", **kw)
    assert order == pytest.approx((L**2 / lam**2 + n) * math.log(1 / eps), rel=1e-12)


@settings(max_examples=40, deadline=None)
@given(p=ch3_params())
def test_O_forms_match_explicit_counts_up_to_constants(p):
    """(3.27): explicit / O-form in [1, 4]; (3.37): in [1, 26] when L >= lam (NOTES.md)."""
    eps, C0 = 1e-3, 1.0
    kw = dict(eps=eps, C0=C0, **p)
    for key, hi in (("thm3.4.2", 4.0), ("thm3.4.4", 26.0)):
        thm = bounds.get(key)
        coef_explicit = 1 / (thm.max_step(**p) * p["lam"] * p["H"])
        coef_order = thm.evaluate("outer_iterations_order", **kw) / math.log(1 / eps)
        r = coef_explicit / coef_order
        assert r >= 1 - 1e-9
        if key == "thm3.4.2" or p["L"] >= p["lam"]:
            assert r <= hi * (1 + 1e-9)


def test_O_form_337_misses_a_term_when_lam_exceeds_L():
    """The dropped 10 tau^2 L/lam term makes the ratio exceed 26 for lam >> L (documented)."""
    thm = bounds.get("thm3.4.4")
    p = dict(L=1.0, lam=30.0, n=1, H=1, tau=20)
    coef_explicit = 1 / (thm.max_step(**p) * p["lam"] * p["H"])
    coef_order = thm.evaluate("outer_iterations_order", eps=math.e**-1, C0=1.0, **p)
    assert coef_explicit / coef_order > 26


def test_corrected_nonconvex_contraction_is_weaker():
    p = dict(L=1.0, lam=0.1, n=100, H=10, tau=2)
    eta = bounds.get("thm3.4.3").max_step(**p)
    thesis = bounds.get("thm3.4.3").bound(5, eta=eta, **p)
    corrected = bounds.get("thm3.4.3-corrected").bound(5, eta=eta, **p)
    assert thesis == pytest.approx(1 - eta * 0.1 * 10)
    assert corrected == pytest.approx(1 - eta * 0.1 * 10 / 4)
    assert corrected > thesis


# -- vectorised vs scalar ---------------------------------------------------------
def test_vectorised_bound_equals_scalar_on_points():
    thm = bounds.get("thm3.4.2")
    rng = np.random.default_rng(0)
    S = rng.integers(0, 1000, size=7)
    tau = rng.integers(0, 10, size=7)
    eta = thm.max_step(L=1.0, lam=1e-3, n=10**4, H=50, tau=tau)
    vec = thm.evaluate_bound(S=S, eta=eta, L=1.0, lam=1e-3, n=10**4, H=50, tau=tau)
    for i in range(7):
        sc = thm.bound(int(S[i]), eta=float(eta[i]), L=1.0, lam=1e-3, n=10**4, H=50, tau=int(tau[i]))
        assert vec[i] == sc
        assert sc == pytest.approx((1 - eta[i] * 1e-3 * 50) ** S[i], rel=1e-12)
    ms = thm.max_step(L=1.0, lam=1e-3, n=10**4, H=50, tau=tau)
    for i in range(7):
        assert ms[i] == thm.max_step(L=1.0, lam=1e-3, n=10**4, H=50, tau=int(tau[i]))


# -- checks ------------------------------------------------------------------------
def test_check_worked_example_from_cli_brief():
    thm = bounds.get("thm3.4.1")
    p = dict(L=1.0, lam=0.1, n=49990, H=100, tau=3)
    limit = 1 / (4 * 100 * 1 * 9 + 0.1 * 49990 + 2)
    rep = thm.check(eta=1e-4, T=1000, **p)
    assert rep.holds and rep.max_step == pytest.approx(limit, rel=1e-14)
    assert rep.conditions[0].margin == pytest.approx(limit - 1e-4, rel=1e-12)
    assert rep.bound == pytest.approx(1 - 1e-4 * 0.1 * 100)
    bad = thm.check(eta=2e-4, **p)
    assert not bad.holds and bad.violated[0].name == "step_size"
    assert bad.violated[0].margin == pytest.approx(limit - 2e-4, rel=1e-12)
    assert "VIOLATED" in str(bad)
    with pytest.raises(ValueError, match="H must be an integer >= 1, got 0"):
        thm.check(eta=1e-4, **{**p, "H": 0})
    hn = thm.check(eta=1e-9, **{**p, "H": 50000})
    assert [c.name for c in hn.violated] == ["H_le_n"]


# -- derivation checks and documented discrepancies ---------------------------------
def _derivation(key, name):
    return [d for d in bounds.get(key).derivations if d.name == name][0].run()


def test_discrepancies_exactly_as_documented():
    r = _derivation("thm3.4.1", "3.21->3.22 (solve for eta)")
    assert r.ok and "identical" in r.detail
    r = _derivation("thm3.4.1", "3.16+3.17->3.20 (function-value terms)")
    assert not r.ok and "2*P_t*eta*(H - 1)" in r.detail
    r = _derivation("thm3.4.1-corrected", "corrected 3.20")
    assert r.ok and "H*eta**3*tau*(2*L + lam)" in r.detail
    r = _derivation("thm3.4.3", "3.29 delay coefficient (2 H tau H^2)")
    assert not r.ok and "(equal)" in r.detail
    r = _derivation("thm3.4.3", "3.28+3.29->3.32 (contraction)")
    assert not r.ok and "total -H*eta*lam/4" in r.detail
    r = _derivation("thm3.4.3", "3.33->3.34 (solve for eta)")
    assert r.ok and "identical" in r.detail


@settings(max_examples=30, deadline=None)
@given(T=st.integers(1, 60), tau=st.integers(0, 10), seed=st.integers(0, 2**32 - 1))
def test_delay_windows_cover_each_index_at_most_tau_times(T, tau, seed):
    """The counting step of (3.20)->(3.21): with t - tau <= d(t) <= t, every j lies in at most
    tau windows [d(t), t-1]."""
    rng = np.random.default_rng(seed)
    t = np.arange(T)
    d = np.maximum(0, t - rng.integers(0, tau + 1, size=T))
    j = np.arange(T)[:, None]
    counts = ((d[None, :] <= j) & (j <= t[None, :] - 1)).sum(axis=1)
    assert counts.max(initial=0) <= tau


def test_str_and_latex_are_recognisable():
    s = str(bounds.get("thm3.4.1"))
    assert "Theorem 3.4.1" in s and "(3.18)" in s and "1/(4*H*L*tau**2 + 2*L + lam*n)" in s
    assert "thm3.4.1-corrected" in s
    tex = bounds.get("thm3.4.3").latex()
    assert r"\lambda" in tex and r"\tau" in tex and "(3.30)" in tex


# -- Lemma 3.4.2 (3.29) rebuilt with Young's inequality at lam/4 ------------------------------
def test_329_rebuilt_gives_three_halves_and_the_printed_delay_term():
    from bounds.ch3 import A_t, B_t, H, L, V, VS, eta, lam, lemma_342_young, tau
    import sympy as sp
    bound, steps = lemma_342_young()
    assert [name for name, _, _ in steps] == ["B_{t+1} - B_t", "strong convexity", "Cauchy-Schwarz", "Young",
                                              "smoothness (3.10)", "delay (3.11)"]
    assert all(ok for _, ok, _ in steps)
    assert sp.simplify(bound.coeff(B_t) + sp.Rational(3, 2) * eta * lam * H) == 0
    assert sp.simplify(bound.coeff(VS) - 2 * H * tau * (L + lam)**2 * eta**3 / lam) == 0
    assert bound.coeff(A_t) == 0 and sp.simplify(bound.coeff(V) - eta**2) == 0
    r = _derivation("thm3.4.3-young", "(3.28) + rebuilt (3.29) -> (3.32)")
    assert r.ok and "- (3.32) = 0" in r.detail
    r = _derivation("thm3.4.3", "(3.29) rebuilt with Young at lam/4")
    assert r.ok and "needs c <= lam/4" in r.detail
    # a larger Young weight breaks (3.32)'s contraction: the B_t coefficient then exceeds -3/2 eta lam H
    b2, _ = lemma_342_young(lam / 2)
    assert sp.simplify(b2.coeff(B_t) + eta * lam * H) == 0


def test_relax_refuses_a_wrong_direction_step():
    from bounds.derive import relax, young
    import sympy as sp
    s, a, lam, eta = sp.Symbol("s", real=True), sp.Symbol("a"), sp.Symbol("lam", positive=True), sp.Symbol("eta", positive=True)
    _, ok, detail = relax(-2 * eta * s, s, lam * a**2, target_at_least=True)
    assert ok
    _, ok, detail = relax(2 * eta * s, s, lam * a**2, target_at_least=True)    # +s with a lower bound on s
    assert not ok and "NOT confirmed" in detail
    assert young(a, sp.Symbol("g"), lam / 4)[1] and not young(a, sp.Symbol("g"), -lam)[1]


def test_329_rebuilt_holds_pathwise_on_random_strongly_convex_quadratics():
    """Independent numpy check of the rebuilt (3.29) before expectations over the delayed window:
    -2 eta H <w^t - w*, grad P(w^d)> <= -(3/2) eta lam H |w^t - w*|^2 + (2 eta H/lam)(L + lam)^2 |w^t - w^d|^2
    for P(w) = 1/2 w'Qw - b'w + lam/2 |w|^2 with 0 <= Q <= L I (f convex, P lam-strongly convex and (L+lam)-smooth)."""
    rng = np.random.default_rng(20260)
    worst = -np.inf
    for _ in range(400):
        d = int(rng.integers(1, 6))
        A = rng.standard_normal((d, d))
        Q = A @ A.T
        L = float(np.linalg.eigvalsh(Q).max()) * float(rng.uniform(1.0, 2.0))
        lam = 10.0 ** rng.uniform(-3, 1)
        b = rng.standard_normal(d)
        wstar = np.linalg.solve(Q + lam * np.eye(d), b)
        wt = wstar + rng.standard_normal(d) * 10.0 ** rng.uniform(-2, 1)
        wd = wt + rng.standard_normal(d) * 10.0 ** rng.uniform(-3, 1)
        grad_d = (Q + lam * np.eye(d)) @ wd - b
        eta, H = 10.0 ** rng.uniform(-4, -1), int(rng.integers(1, 100))
        lhs = -2 * eta * H * (wt - wstar) @ grad_d
        rhs = (-1.5 * eta * lam * H * np.sum((wt - wstar) ** 2)
               + 2 * eta * H / lam * (L + lam) ** 2 * np.sum((wt - wd) ** 2))
        worst = max(worst, (lhs - rhs) / (abs(rhs) + abs(lhs)))
        assert lhs <= rhs + 1e-12 * (abs(lhs) + abs(rhs))
    assert worst < 0


def test_young_variants_are_the_printed_theorems():
    p = dict(L=1.0, lam=0.1, n=100, H=10, tau=2)
    for key in ("thm3.4.3", "thm3.4.4"):
        stated, young = bounds.get(key), bounds.get(key + "-young")
        eta = stated.max_step(**p)
        assert young.max_step(**p) == eta
        assert young.bound(5, eta=eta, **p) == stated.bound(5, eta=eta, **p) == pytest.approx((1 - eta) ** (5 if "4.4" in key else 1))
        assert bounds.get(key + "-corrected").bound(5, eta=eta, **p) > young.bound(5, eta=eta, **p)
        assert "(3.29) rebuilt" in str(young)


@pytest.mark.parametrize("key", ["thm3.4.1", "thm3.4.1-corrected", "thm3.4.3", "thm3.4.3-corrected", "thm3.4.3-young"])
def test_tau_below_round_length_is_checked(key):
    """§3.4.1: tau is less than T (every read in a round is of that round); checked when T is given."""
    thm = bounds.get(key)
    p = dict(L=1.0, lam=0.1, n=1000, H=10, tau=5)
    eta = thm.max_step(**p) / 2
    rep = thm.check(eta=eta, T=5, **p)
    assert [c.name for c in rep.violated] == ["tau_lt_T"] and rep.bound is None
    c = [c for c in rep.conditions if c.name == "tau_lt_T"][0]
    assert c.margin == 0 and c.source == "§3.4.1" and "less than T" in c.sentence
    ok = thm.check(eta=eta, T=6, **p)
    assert ok.holds and ok.bound == pytest.approx(1 - eta * 0.1 * 10 / (4 if "corrected" in key and "3.4.3" in key else 1))
    no_t = thm.check(eta=eta, **p)                    # T not given: reported as not evaluated, not required
    assert no_t.holds and "condition tau_lt_T (needs T)" in no_t.unevaluated
    assert not thm.admissible(eta=eta, T=5, **p) and thm.admissible(eta=eta, **p)
