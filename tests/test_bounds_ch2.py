"""Chapter 2 (AsySVRG) theorems: recurrences, step limits, corollaries, derivations.

References are independent of bounds/ch2.py's code paths: the thesis formulas
typed out again here, closed-form special cases (Delta = 0, m = 1 or 2 give a
linear or cubic step condition), the explicit recurrence vs the geometric sum.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bounds
from bounds import ch2

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
GENERAL = ("thm2.3.1", "thm2.3.1-corrected", "thm2.4.1", "thm2.4.1-corrected")
COROLLARY = ("thm2.3.2", "thm2.3.2-corrected", "thm2.4.2", "thm2.4.2-corrected")


# -- strategies ------------------------------------------------------------------------
@st.composite
def general_params(draw, *, shared: bool):
    """Parameters of Thm 2.3.1 (shared) or 2.4.1 without eta."""
    p = dict(L=draw(st.floats(1e-2, 1e2)), Delta=float(draw(st.integers(0, 40))),
             b=float(draw(st.integers(1, 32))), beta=draw(st.floats(1e-2, 1e2)),
             m=float(draw(st.integers(1, 300))))
    if shared:
        p["d"] = float(draw(st.integers(1, 500)))
    return p


@st.composite
def corollary_params(draw, *, shared: bool):
    """Parameters meeting the premises of Thm 2.3.2 / 2.4.2 as stated: 0 < u0 < 1,
    0 < alpha <= 1, Delta^2 < min{d/(2 u0 b), (3d - 28 u0 b d)/(28 u0^2 b^2)}, b <= n."""
    b = draw(st.integers(1, 16))
    dim = draw(st.integers(1, 400)) if shared else 1
    u0 = 3.0 / (28.0 * b) * draw(st.floats(1e-7, 1.0, exclude_max=True, exclude_min=True))
    lim = min(dim / (2 * u0 * b), (3 * dim - 28 * u0 * b * dim) / (28 * u0**2 * b**2))
    delta = math.floor(math.sqrt(lim) * draw(st.floats(0.0, 1.0)))
    if delta**2 >= lim:
        delta -= 1
    p = dict(u0=u0, alpha=draw(st.floats(1e-3, 1.0)), n=float(draw(st.integers(b, 10**6))),
             b=float(b), L=draw(st.floats(1e-3, 1e3)), Delta=float(max(delta, 0)))
    if shared:
        p["d"] = float(dim)
    return p


def _dim(p):
    return p.get("d", 1.0)


def _thesis_c_step(c_next, eta, L, Delta, b, beta, dim):
    # (2.13) / (2.34), typed from the thesis.
    den = dim - 2 * L**2 * Delta**2 * eta**2
    return (c_next * (1 + eta * beta / dim + 4 * L**2 * eta**2 / (den * b))
            + 4 * L**2 / (den * b) * (L**2 * Delta**2 * eta**3 / (2 * dim) + eta**2 * L / 2))


def _thesis_gamma(c_next, eta, L, Delta, dim):
    # (2.14) / (2.35) without any guard on the sign of the denominator.
    den = dim - 2 * L**2 * Delta**2 * eta**2
    return eta / (2 * dim) - 4 / den * (L**2 * Delta**2 * eta**3 / (2 * dim) + eta**2 * L / 2 + c_next * eta**2)


# -- registry and values ----------------------------------------------------------------
def test_all_chapter2_keys_registered():
    keys = set(bounds.keys())
    for k in ("lem2.3.1",) + GENERAL + COROLLARY:
        assert k in keys
    assert bounds.get("thm2.3.1").variants[0].key == "thm2.3.1-corrected"
    for k in ("thm2.3.1", "thm2.3.2", "thm2.4.1", "thm2.4.2"):
        assert bounds.get(k).notes, k


def test_bad_input_names_parameter():
    with pytest.raises(ValueError, match="u0 must be .*got 1.5"):
        bounds.get("thm2.4.2").check(u0=1.5, alpha=1.0, n=100, b=1, L=1.0, Delta=0)
    with pytest.raises(ValueError, match="m must be an integer >= 1, got 0"):
        ch2.c_sequence(0.1, 1.0, 0.0, 1.0, 1.0, 0)


# -- recurrence ------------------------------------------------------------------------
@SETTINGS
@given(general_params(shared=True), st.floats(1e-3, 0.9))
def test_recurrence_matches_thesis_and_closed_form(p, frac):
    eta = frac / (4 * p["L"])
    dim = p["d"]
    m = int(p["m"])
    c = ch2.c_sequence(eta, p["L"], p["Delta"], p["b"], p["beta"], m, dim)
    assert c[m] == 0.0
    if dim - 2 * p["L"]**2 * p["Delta"]**2 * eta**2 <= 0 or not np.all(c < 1e250):
        return   # D <= 0 is outside the theorem; c_0 near overflow is not comparable in float64
    ref = [0.0]
    for _ in range(m):
        ref.append(_thesis_c_step(ref[-1], eta, p["L"], p["Delta"], p["b"], p["beta"], dim))
    np.testing.assert_allclose(c, ref[::-1], rtol=1e-12)
    closed = ch2.c_closed(np.arange(m + 1), eta, p["L"], p["Delta"], p["b"], p["beta"], m, dim)
    np.testing.assert_allclose(closed, c, rtol=1e-8, atol=0)
    assert np.all(np.diff(c) <= 0)                       # c_t decreasing in t
    g = ch2.gamma_sequence(eta, p["L"], p["Delta"], p["b"], p["beta"], m, dim)
    with np.errstate(over="ignore", invalid="ignore"):
        ref_g = _thesis_gamma(c[1:], eta, p["L"], p["Delta"], dim)
    np.testing.assert_allclose(g, ref_g, rtol=1e-12)
    gmin = ch2.gamma_min(eta, p["L"], p["Delta"], p["b"], p["beta"], m, dim)
    assert gmin == pytest.approx(g.min(), rel=1e-8, abs=1e-14 * eta)
    assert np.argmin(g) == 0 or g[0] == pytest.approx(g.min(), rel=1e-12)


def test_recurrence_vectorised_over_parameters():
    L = np.array([0.5, 1.0, 2.0])[:, None]
    Delta = np.array([0.0, 2.0, 5.0, 9.0])[None, :]
    c = ch2.c_sequence(0.01, L, Delta, 4.0, 1.0, 50, 7.0)
    assert c.shape == (51, 3, 4)
    for i in range(3):
        for j in range(4):
            one = ch2.c_sequence(0.01, L[i, 0], Delta[0, j], 4.0, 1.0, 50, 7.0)
            np.testing.assert_array_equal(c[:, i, j], one)


# -- step limits: closed-form special cases -----------------------------------------------
@pytest.mark.parametrize("key,dim", [("thm2.3.1", 9.0), ("thm2.4.1", 1.0)])
def test_max_step_special_cases(key, dim):
    th = bounds.get(key)
    extra = {"d": dim} if key == "thm2.3.1" else {}
    L, b, beta = 3.0, 5.0, 0.7
    # m = 1, Delta = 0: c_1 = c_m = 0, Gamma_0 = eta/(2d) - 2 eta^2 L/d > 0 <=> eta < 1/(4L).
    assert th.max_step(L=L, Delta=0, b=b, beta=beta, m=1, **extra) == pytest.approx(1 / (4 * L), rel=1e-12)
    # m = 2, Delta = 0: c_1 = 2 L^3 eta^2/(d b), Gamma_0 > 0 <=> 8 L^3/(d b) eta^3 + 2 L eta - 1/2 < 0.
    roots = np.roots([8 * L**3 / (dim * b), 0.0, 2 * L, -0.5])
    root = float(max(r.real for r in roots if abs(r.imag) < 1e-12))
    assert th.max_step(L=L, Delta=0, b=b, beta=beta, m=2, **extra) == pytest.approx(root, rel=1e-12)
    # corrected: also c_1 <= beta/2 <=> eta <= sqrt(beta d b/(4 L^3)).
    corr = bounds.get(key + "-corrected")
    want = min(root, math.sqrt(beta * dim * b / (4 * L**3)))
    assert corr.max_step(L=L, Delta=0, b=b, beta=beta, m=2, **extra) == pytest.approx(want, rel=1e-12)
    lem = bounds.get("lem2.3.1")
    assert lem.max_step(L=2.0, Delta=3.0, d=8) == pytest.approx(math.sqrt(4.0) / 6.0, rel=1e-11)
    assert math.isinf(lem.max_step(L=2.0, Delta=0.0, d=8))


@SETTINGS
@given(st.sampled_from(GENERAL), st.data())
def test_general_max_step_is_tight_and_set_is_interval(key, data):
    th = bounds.get(key)
    p = data.draw(general_params(shared=key.startswith("thm2.3")))
    top = th.max_step(**p)
    assert top > 0
    assert th.admissible(eta=top, **p)
    assert not th.admissible(eta=top * (1 + 1e-6), **p)
    # The admissible set is an interval (0, eta*): Gamma_0/eta decreases in eta, checked on a grid.
    grid = top * np.geomspace(1e-4, 3.0, 60)
    ok = np.asarray(th.admissible(eta=grid, **p))
    assert np.all(ok == (grid <= top))
    ratio = th.evaluate("gamma", eta=grid[ok], **p) / grid[ok]
    assert np.all(np.diff(ratio) < 0)


@SETTINGS
@given(st.sampled_from(GENERAL + COROLLARY + ("lem2.3.1",)), st.data())
def test_step_never_grows_with_delay(key, data):
    th = bounds.get(key)
    shared = key.startswith(("thm2.3", "lem"))
    if key in GENERAL:
        p = data.draw(general_params(shared=shared))
    elif key in COROLLARY:
        p = data.draw(corollary_params(shared=shared))
        p = {k: p[k] for k in ("alpha", "n", "b", "Delta") + (("d",) if shared else ())}
    else:
        p = dict(L=data.draw(st.floats(1e-2, 1e2)), d=float(data.draw(st.integers(1, 100))))
    deltas = np.array([0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 64.0])
    steps = np.asarray(th.max_step(**{**p, "Delta": deltas}))
    assert np.all(np.diff(steps) <= 0)
    # Workers enter only through Delta (Assumption 2.2.4); with K workers on a parameter
    # server the staleness is at most K - 1, so the step never grows with K either.
    workers = np.arange(1, 17, dtype=float)
    assert np.all(np.diff(np.asarray(th.max_step(**{**p, "Delta": workers - 1}))) <= 0)


@SETTINGS
@given(st.sampled_from(COROLLARY), st.data())
def test_corollary_max_u0_is_tight(key, data):
    th = bounds.get(key)
    shared = key.startswith("thm2.3")
    p = data.draw(corollary_params(shared=shared))
    del p["u0"]
    top = th.max_step(**{k: v for k, v in p.items() if k != "L"})
    if top == 0.0:   # only the corrected premise can exclude every u0: n^alpha = 1 with Delta > 0
        assert key.endswith("-corrected") and p["n"] ** p["alpha"] == 1.0 and p["Delta"] > 0
        return
    assert th.admissible(u0=top, **p)
    eta_max = th.evaluate("eta_max", **p)
    assert eta_max == pytest.approx(top * p["b"] / (p["L"] * p["n"] ** p["alpha"]), rel=1e-13)
    if top * (1 + 1e-6) < 1:
        assert not th.admissible(u0=top * (1 + 1e-6), **p)


# -- the corollaries' claim: premises => every Gamma_t > 0 and gamma >= sigma b/(d L n^alpha) --
@settings(max_examples=150, deadline=None)
@given(st.booleans(), st.data())
def test_corollary_premises_give_claimed_gamma(shared, data):
    p = data.draw(corollary_params(shared=shared))
    th = bounds.get("thm2.3.2" if shared else "thm2.4.2")
    assert th.admissible(**p)
    dim = _dim(p)
    na = p["n"] ** p["alpha"]
    eta = p["u0"] * p["b"] / (p["L"] * na)
    m = math.floor(dim * na / (6 * p["u0"] * p["b"]))
    assert m >= 1
    gam = ch2.gamma_min(eta, p["L"], p["Delta"], p["b"], 2 * p["L"], m, dim)
    if m <= 3000:   # every Gamma_t from the explicit recurrence
        c = [0.0]
        for _ in range(m):
            c.append(_thesis_c_step(c[-1], eta, p["L"], p["Delta"], p["b"], 2 * p["L"], dim))
        g = _thesis_gamma(np.array(c[::-1][1:]), eta, p["L"], p["Delta"], dim)
        assert np.all(g > 0)
        assert gam == pytest.approx(g.min(), rel=1e-8)
        assert max(c) <= p["L"]                           # c_{t+1} <= beta/2, the proof's premise
    x = (14 * p["u0"]**2 * p["b"]**2 * p["Delta"]**2 + 14 * p["u0"] * p["b"] * dim) / (3 * dim)
    lower = p["u0"] * (0.5 - x) * p["b"] / (dim * p["L"] * na)
    assert lower > 0
    assert gam >= lower * (1 - 1e-9), (gam, lower, p)
    assert th.evaluate("gamma", **p) == pytest.approx(gam, rel=1e-12)
    assert th.evaluate("gamma_lower", **p) == pytest.approx(lower, rel=1e-12)


@settings(max_examples=80, deadline=None)
@given(st.booleans(), st.data())
def test_corollary_without_hidden_premise(shared, data):
    """(2.28)/(2.48) premise d n^a <= d n^2a - 2 D^2 u0^2 b^2 fails when n^alpha is near 1:
    the conclusion still holds (no counterexample), but the proof's chain does not apply."""
    b = data.draw(st.integers(1, 3))
    dim = data.draw(st.integers(1, 40)) if shared else 1
    u0 = 3.0 / (28.0 * b) * data.draw(st.floats(1e-5, 1.0, exclude_max=True))
    lim = min(dim / (2 * u0 * b), (3 * dim - 28 * u0 * b * dim) / (28 * u0**2 * b**2))
    delta = max(math.ceil(math.sqrt(lim)) - 1 - data.draw(st.integers(0, 3)), 1)
    p = dict(u0=u0, alpha=data.draw(st.floats(1e-4, 0.05)), n=float(data.draw(st.integers(b, b + 5))),
             b=float(b), L=1.0, Delta=float(delta))
    if shared:
        p["d"] = float(dim)
    key = "thm2.3.2" if shared else "thm2.4.2"
    if not bounds.get(key).admissible(**p):
        return
    gam = bounds.get(key).evaluate("gamma", **p)
    assert gam >= bounds.get(key).evaluate("gamma_lower", **p) * (1 - 1e-9)


# -- discrepancies documented in bounds/NOTES.md (Chapter 2) ------------------------------------------------
@pytest.mark.parametrize("key,dim", [("thm2.3.1", 4.0), ("thm2.4.1", 1.0)])
def test_gamma_condition_alone_admits_huge_steps(key, dim):
    """Statement lists only Gamma_t > 0: for m = 1 and any eta with D < 0 the formula (2.14)
    is positive, so the D > 0 condition inherited from Lemma 2.3.1 is what excludes them."""
    L, Delta = 1.0, 3.0
    eta = 10 * math.sqrt(dim / 2) / (L * Delta)
    assert dim - 2 * L**2 * Delta**2 * eta**2 < 0
    assert _thesis_gamma(0.0, eta, L, Delta, dim) > 0
    extra = {"d": dim} if key == "thm2.3.1" else {}
    rep = bounds.get(key).check(eta=eta, L=L, Delta=Delta, b=1, beta=1.0, m=1, **extra)
    # only the D > 0 premise is named: Gamma_t (which divides by D) is "not evaluated", not "violated"
    assert [c.name for c in rep.violated] == (["D > 0 (Lemma 2.3.1)"] if key == "thm2.3.1" else ["D > 0 ([82])"])
    gam = [c for c in rep.conditions if c.name == "Gamma_t > 0"][0]
    assert gam.status == "not evaluated" and "requires D > 0" in gam.not_evaluated
    assert str(rep).splitlines()[-1] == "  verdict: violated: " + rep.violated[0].name
    # the corrected variant's c_1 <= beta/2 presupposes D > 0 too
    rep = bounds.get(key + "-corrected").check(eta=eta, L=L, Delta=Delta, b=1, beta=1.0, m=1, **extra)
    assert [c.name for c in rep.violated] == [rep.conditions[0].name]
    assert [c.status for c in rep.conditions[1:]] == ["not evaluated", "not evaluated"]


def test_gamma_label_names_gamma_when_only_gamma_fails():
    p = dict(L=1.0, Delta=2.0, d=10, b=1, beta=1.0, m=50)
    eta = bounds.get("thm2.3.1").max_step(**p) * 1.01
    assert p["d"] - 2 * p["L"]**2 * p["Delta"]**2 * eta**2 > 0
    rep = bounds.get("thm2.3.1").check(eta=eta, **p)
    assert [c.name for c in rep.violated] == ["Gamma_t > 0"] and rep.conditions[1].margin < 0


def test_corrected_variant_is_stricter_when_c1_binds():
    # Large beta keeps Gamma_0 > 0 while c_1 > beta/2 is possible only for small beta: find a case.
    p = dict(L=1.0, Delta=0.0, b=1.0, m=200.0)
    plain = bounds.get("thm2.4.1").max_step(beta=0.05, **p)
    corr = bounds.get("thm2.4.1-corrected").max_step(beta=0.05, **p)
    assert corr < plain
    c1 = ch2.c_closed(1, plain * 0.999, p["L"], 0.0, 1.0, 0.05, 200.0, 1.0)
    assert c1 > 0.025                       # the plain theorem accepts a step the proof cannot cover


def test_line3_of_229_is_wrong_direction_but_true():
    """(2.29) line 3: replacing theta by its upper bound gives a lower bound on K/theta."""
    L, u0, b, dim, Delta, na = 1.0, 0.01, 2.0, 10.0, 3.0, 50.0
    eta = u0 * b / (L * na)
    D, theta, K = ch2.recurrence_coefficients(eta, L, Delta, b, 2 * L, dim)
    theta_up = 6 * u0 * b / (dim * na)
    assert theta <= theta_up
    assert K / theta_up < K / theta < L * (u0 * b * Delta**2 + dim) / (3 * dim)


# -- vectorised == scalar --------------------------------------------------------------------
def test_vectorised_equals_scalar():
    th = bounds.get("thm2.3.1")
    Delta = np.array([0.0, 2.0, 7.0])
    eta = np.array([1e-3, 5e-3, 2e-2])
    kw = dict(L=2.0, d=20, b=4, beta=1.0, m=500, F0=3.0, T=10_000)
    vec = th.admissible_bound(eta=eta, Delta=Delta, **{k: v for k, v in kw.items() if k != "T"}, T=kw["T"])
    steps = th.max_step(Delta=Delta, **{k: kw[k] for k in ("L", "d", "b", "beta", "m")})
    for i in range(3):
        rep = th.check(eta=eta[i], Delta=Delta[i], **kw)
        assert rep.bound == vec[i] or (rep.bound is None and np.isnan(vec[i]))
        assert rep.max_step == steps[i]
    c2 = bounds.get("thm2.4.2")
    u0 = np.array([0.001, 0.01, 0.05])
    kw2 = dict(alpha=0.5, n=10_000, b=2, L=1.5, Delta=1.0, F0=2.0, T=1000)
    vb = c2.admissible_bound(u0=u0, **kw2)
    vg = c2.evaluate("gamma", u0=u0, **{k: kw2[k] for k in ("alpha", "n", "b", "L", "Delta")})
    assert np.isnan(vb[2]) and c2.bound(u0=u0, **kw2)[2] < 0    # u0 = 0.05 violates (2.46): no bound, not -225
    for i in range(3):
        rep = c2.check(u0=u0[i], **kw2)
        assert dict(rep.quantities)["gamma"] == pytest.approx(vg[i], rel=1e-15)
        if not rep.holds:
            assert rep.bound is None and np.isnan(vb[i]) and "(2.46)" in rep.bound_withheld
            continue
        assert rep.bound == pytest.approx(vb[i], rel=1e-15)
        expected = kw2["L"] * kw2["n"] ** 0.5 * 2.0 / (kw2["b"] * 1000 * dict(rep.quantities)["sigma"])
        assert rep.bound == pytest.approx(expected, rel=1e-12)
