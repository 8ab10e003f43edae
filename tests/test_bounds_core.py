"""Tests of the theorem core (bounds/theorem.py): validation, evaluation, checks, registry."""
from __future__ import annotations

import json

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings, strategies as st

import bounds
from bounds import theorem as core
from bounds.theorem import (
    CheckReport, Condition, Derivation, DerivationResult, Numeric, Quantity, Theorem, TheoremSymbol,
)

x = sp.Symbol("x", positive=True)
L = sp.Symbol("L", positive=True)
k = sp.Symbol("k", positive=True, integer=True)
m = sp.Symbol("m", nonnegative=True, integer=True)
beta = sp.Symbol("beta", nonnegative=True)
T = sp.Symbol("T", positive=True, integer=True)
S = sp.Symbol("S", nonnegative=True, integer=True)


def toy(key: str = "toy-core", **kw) -> Theorem:
    """A small theorem: x <= (1 - beta)/(k L), strict beta < 1, bound (1 - x L/2)^T."""
    args = dict(
        key=key, title="Toy theorem", source="(9.1), (9.2)", metric="f(w_T) - f*",
        symbols=(TheoremSymbol(x, "step", latex_name=r"\gamma"), TheoremSymbol(L, "Lipschitz"),
                 TheoremSymbol(k, "layers"), TheoremSymbol(m, "delay"),
                 TheoremSymbol(beta, "momentum", upper=1.0, upper_inclusive=False),
                 TheoremSymbol(T, "iterations")),
        conditions=(Condition("step", sp.Le(x, (1 - beta) / (k * L)), "step condition", "(9.1)"),
                    Condition("delay", sp.Lt(m, k), "delay below layer count", "(9.3)")),
        bound_expr=(1 - x * L / 2)**T, step=x, step_limit=(1 - beta) / (k * L), iteration=T)
    args.update(kw)
    return Theorem(**args)


@pytest.fixture
def registry_guard():
    """Remove whatever a test registers (the registry is process-wide)."""
    before = set(core.keys())  # keys() builds the registry first (it is built on first access)
    yield
    for key in set(core._REGISTRY) - before:
        del core._REGISTRY[key]


# -- symbols and validation ------------------------------------------------------
def test_allowed_ranges_from_assumptions():
    thm = toy()
    assert thm.symbol("x").allowed == "a finite number > 0"
    assert thm.symbol("k").allowed == "an integer >= 1"
    assert thm.symbol("m").allowed == "an integer >= 0"
    assert thm.symbol("beta").allowed == "a finite number in [0, 1)"


@pytest.mark.parametrize("name,value,msg", [
    ("k", 0, "k must be an integer >= 1, got 0"),
    ("k", 2.5, "k must be an integer >= 1, got 2.5"),
    ("x", -1.0, "x must be a finite number > 0, got -1.0"),
    ("x", float("nan"), "x must be a finite number > 0, got nan"),
    ("beta", 1.0, "beta must be a finite number in [0, 1), got 1.0"),
    ("m", -1, "m must be an integer >= 0, got -1"),
    ("x", "abc", "x must be a finite number > 0, got 'abc'"),
])
def test_invalid_values_name_parameter_and_range(name, value, msg):
    params = dict(x=0.1, L=1.0, k=2, m=0, beta=0.5)
    params[name] = value
    with pytest.raises(ValueError) as e:
        toy().check(**params)
    assert str(e.value) == msg


def test_array_validation_reports_offending_element():
    with pytest.raises(ValueError, match=r"k must be an integer >= 1, got 0"):
        toy().max_step(L=1.0, beta=0.0, k=np.array([3, 0, 2]))


def test_missing_and_unknown_parameters():
    with pytest.raises(ValueError, match=r"missing parameter 'L' for toy-core: L must be a finite number > 0"):
        toy().check(x=0.1, k=2, m=0, beta=0.5)
    with pytest.raises(ValueError, match=r"unknown parameter 'foo' for toy-core; its parameters are: "
                                         r"x, L, k, m, beta, T"):
        toy().check(x=0.1, L=1.0, k=2, m=0, beta=0.5, foo=3)


def test_constructor_rejects_inconsistent_theorems():
    y = sp.Symbol("y", positive=True)
    with pytest.raises(ValueError, match="unknown symbols"):
        toy(conditions=(Condition("c", sp.Le(y, 1), "s", "(1)"),))
    with pytest.raises(ValueError, match="step symbol 'y'"):
        toy(step=y)
    with pytest.raises(ValueError, match="duplicate symbol"):
        toy(symbols=(TheoremSymbol(x, "a"), TheoremSymbol(sp.Symbol("x"), "b"), TheoremSymbol(L, "L"),
                     TheoremSymbol(k, "k"), TheoremSymbol(m, "m"), TheoremSymbol(beta, "b"),
                     TheoremSymbol(T, "T")))
    with pytest.raises(ValueError, match="key must be"):
        toy(key="has space")
    with pytest.raises(ValueError, match="margin must be a Numeric"):
        Condition("c", None, "s", "(1)")


# -- evaluation ------------------------------------------------------------------
def test_vectorised_equals_scalar_and_broadcasts():
    thm = toy()
    Ts = np.array([1, 5, 50])
    xs = np.array([[0.1], [0.3]])
    vec = thm.evaluate_bound(T=Ts, x=xs, L=2.0)
    assert vec.shape == (2, 3)
    for i in range(2):
        for j in range(3):
            scalar = thm.bound(int(Ts[j]), x=float(xs[i, 0]), L=2.0)
            assert isinstance(scalar, float)
            assert scalar == pytest.approx((1 - xs[i, 0] * 2.0 / 2) ** Ts[j], rel=1e-14)
            assert vec[i, j] == scalar
    ms = thm.max_step(L=np.array([1.0, 2.0, 4.0]), k=3, beta=0.25)
    np.testing.assert_allclose(ms, 0.75 / (3 * np.array([1.0, 2.0, 4.0])), rtol=1e-15)


def test_bound_independent_of_a_parameter_still_broadcasts():
    thm = toy(bound_expr=1 - x * L / 2)
    out = thm.evaluate_bound(T=np.arange(1, 5), x=0.1, L=1.0)
    np.testing.assert_allclose(out, np.full(4, 0.95))


def test_T_alias_maps_to_iteration_symbol():
    thm = toy(symbols=toy().symbols[:-1] + (TheoremSymbol(S, "outer rounds"),), iteration=S,
              bound_expr=(1 - x * L / 2)**S)
    assert thm.evaluate_bound(T=3, x=0.2, L=1.0) == pytest.approx(0.9**3)
    assert thm.bound(3, x=0.2, L=1.0) == pytest.approx(0.9**3)
    with pytest.raises(ValueError, match="give T or S"):
        thm.evaluate_bound(T=3, S=3, x=0.2, L=1.0)


@settings(max_examples=60, deadline=None)
@given(xv=st.floats(1e-4, 2.0), Lv=st.floats(1e-2, 10.0), kv=st.integers(1, 6), mv=st.integers(0, 8),
       bv=st.floats(0.0, 0.99))
def test_margins_agree_in_sign_with_sympy_relations(xv, Lv, kv, mv, bv):
    """The margin sign equals the truth of the sympy relation evaluated by substitution."""
    thm = toy()
    rep = thm.check(x=xv, L=Lv, k=kv, m=mv, beta=bv)
    subs = {x: sp.Float(xv, 30), L: sp.Float(Lv, 30), k: kv, m: mv, beta: sp.Float(bv, 30)}
    for cond, status in zip(thm.conditions, rep.conditions):
        truth = bool(cond.relation.subs(subs))
        exact_margin = float(cond.margin_expr.subs(subs))
        if abs(exact_margin) > 1e-12:
            assert status.holds == truth
        assert status.margin == pytest.approx(exact_margin, rel=1e-12, abs=1e-15)
    assert rep.holds == all(s.holds for s in rep.conditions)
    assert bool(thm.admissible(x=xv, L=Lv, k=kv, m=mv, beta=bv)) == rep.holds


def test_strict_condition_at_zero_margin_is_violated():
    rep = toy().check(x=0.1, L=1.0, k=2, m=2, beta=0.0)
    delay = [c for c in rep.conditions if c.name == "delay"][0]
    assert delay.margin == 0.0 and not delay.holds and not rep.holds


def test_check_report_contents_and_json():
    rep = toy().check(x=0.6, L=1.0, k=2, m=0, beta=0.0, T=10)
    assert isinstance(rep, CheckReport)
    step = rep.conditions[0]
    assert not step.holds and step.margin == pytest.approx(0.5 - 0.6)
    assert rep.max_step == pytest.approx(0.5)
    # a failed condition: no bound (the expression 0.7**10 is not a promise), naming the condition
    assert rep.bound is None and rep.bound_withheld == "condition violated: step"
    assert toy().bound(10, x=0.6, L=1.0, k=2, m=0, beta=0.0) == pytest.approx(0.7**10)   # raw expression
    assert np.isnan(toy().admissible_bound(10, x=0.6, L=1.0, k=2, m=0, beta=0.0))
    d = json.loads(json.dumps(rep.to_dict()))
    assert d["holds"] is False and d["conditions"][0]["status"] == "violated"
    assert d["bound"] is None and d["bound_withheld"] == "condition violated: step" and d["violated"] == ["step"]
    assert "VIOLATED" in str(rep) and "step" in str(rep) and "bound: none (condition violated: step)" in str(rep)
    ok = toy().check(x=0.1, L=1.0, k=2, m=0, beta=0.0, T=10)
    assert ok.holds and ok.bound == pytest.approx(0.95**10) and ok.bound_withheld is None
    assert toy().admissible_bound(np.array([10, 10]), x=np.array([0.1, 0.6]), L=1.0, k=2, m=0, beta=0.0)[0] == ok.bound
    rep2 = toy().check(x=0.1, L=1.0, k=2, m=0, beta=0.0)
    assert rep2.bound is None and rep2.unevaluated == ("bound (needs T)",)
    with pytest.raises(ValueError, match="single number"):
        toy().check(x=np.array([0.1, 0.2]), L=1.0, k=2, m=0, beta=0.0)


def test_required_premise_and_optional_condition():
    """A condition whose margin presupposes another ("requires") is reported "not evaluated" when that
    premise fails, and only the premise is named as violated; an optional condition is checked only when
    its parameters are given, and its parameters are not required."""
    y = sp.Symbol("y", positive=True)
    conds = (Condition("D > 0", sp.Gt(1 - x * L, 0), "premise", "(9.0)"),
             Condition("Gamma > 0", sp.Gt(x / (1 - x * L) - x**2, 0), "needs D > 0", "(9.1)", requires=("D > 0",)),
             Condition("m < y", sp.Lt(m, y), "optional", "(9.4)", optional=True))
    t = toy(key="toy-req", symbols=toy().symbols + (TheoremSymbol(y, "round"),), conditions=conds)
    assert "y" not in t.check_params
    rep = t.check(x=2.0, L=1.0, k=1, m=1, beta=0.0, T=3)           # D = -1: x/(1 - xL) - x^2 = -6 anyway
    assert [c.name for c in rep.violated] == ["D > 0"]
    g = rep.conditions[1]
    assert g.status == "not evaluated" and "requires D > 0" in g.not_evaluated and not g.holds
    assert rep.unevaluated == ("condition m < y (needs y)",) and rep.bound is None
    d = rep.to_dict()
    assert [c["status"] for c in d["conditions"]] == ["violated", "not evaluated"]
    assert "Gamma > 0" not in str(rep).splitlines()[-1]
    rep = t.check(x=0.5, L=1.0, k=1, m=1, beta=0.0, T=3, y=1)
    assert [c.name for c in rep.violated] == ["m < y"] and rep.bound is None
    assert t.admissible(x=0.5, L=1.0, m=1) and not t.admissible(x=0.5, L=1.0, m=1, y=1)
    with pytest.raises(ValueError, match="requires \\['nope'\\]"):
        toy(key="toy-bad", conditions=(Condition("a", sp.Gt(x, L), "s", "(1)", requires=("nope",)),))


# -- numeric parts (recurrence-style theorems) ------------------------------------------
def _recurrence_margin(x, L, k, **_):
    """min_t Gamma_t for a toy backward recurrence c_t = c_{t+1}(1 + x L) + x^2 L, c_k = 0,
    Gamma_t = x/2 - x^2 L - c_{t+1} x^2 (vectorised over parameters, loop over t only)."""
    x, L, k = np.broadcast_arrays(x, L, k)
    kmax = int(np.max(k))
    c = np.zeros(x.shape)
    gamma = np.full(x.shape, np.inf)
    for t in range(kmax - 1, -1, -1):
        active = t < k
        g = x / 2 - x**2 * L - c * x**2
        gamma = np.where(active, np.minimum(gamma, g), gamma)
        c = np.where(active, c * (1 + x * L) + x**2 * L, c)
    return gamma


def test_numeric_condition_and_quantity():
    cond = Condition("gamma_pos", None, "Gamma_t > 0 for all t", "(2.14)",
                     margin=Numeric(_recurrence_margin, ("x", "L", "k"), "min_t Gamma_t"), strict=True)
    q = Quantity("gamma", Numeric(_recurrence_margin, ("x", "L", "k"), "min_t Gamma_t"), "gamma", "(2.15)")
    thm = toy(conditions=(cond,), quantities=(q,), step_limit=None)
    # k = 1: Gamma_0 = x/2 - x^2 L (c_1 = 0) -> holds iff x < 1/(2L)
    assert thm.check(x=0.4, L=1.0, k=1).holds
    assert not thm.check(x=0.6, L=1.0, k=1).holds
    g = thm.evaluate("gamma", x=np.array([0.1, 0.2]), L=1.0, k=1)
    np.testing.assert_allclose(g, [0.05 - 0.01, 0.1 - 0.04])
    rep = thm.check(x=0.1, L=1.0, k=3)
    assert dict(rep.quantities)["gamma"] == pytest.approx(float(_recurrence_margin(0.1, 1.0, 3)))
    assert "min_t Gamma_t" in str(thm)
    with pytest.raises(ValueError, match="no step-size limit"):
        thm.max_step(L=1.0, k=1)


def test_derivation_must_return_result():
    good = Derivation("d", "(1)", "desc", lambda: DerivationResult("d", True, "fine"))
    assert good.run().ok
    bad = Derivation("d", "(1)", "desc", lambda: True)
    with pytest.raises(TypeError, match="DerivationResult"):
        bad.run()


# -- presentation -------------------------------------------------------------------
def test_str_and_latex():
    s = str(toy())
    assert "Toy theorem" in s and "(9.1), (9.2)" in s and "(9.3)" in s and "x <= (1 - beta)/(L*k)" in s
    tex = toy().latex()
    assert r"\gamma" in tex and r"\begin{align*}" in tex and "(9.1)" in tex
    # plain text inside \text{} is escaped once (metric "f(w_T) - f*")
    assert r"\text{f(w\_T) - f*}" in tex
    assert r"\text{a\_\{b\} 5\% \textbackslash{}}" in toy(metric="a_{b} 5% \\").latex()


# -- registry -----------------------------------------------------------------------
def test_registry_register_get_duplicate(registry_guard):
    v = toy(key="toy-core-variant")
    t = toy(key="toy-core-main", variants=(v,))
    assert bounds.register(t) is t
    assert bounds.get("toy-core-main") is t and bounds.get("toy-core-variant") is v
    with pytest.raises(ValueError, match="'toy-core-main' is already registered"):
        bounds.register(toy(key="toy-core-main"))
    keys = [th.key for th in bounds.all()]
    assert keys == sorted(keys) and "toy-core-main" in keys and "toy-core-variant" in keys


def test_unknown_key_lists_known(registry_guard):
    bounds.register(toy(key="toy-core-known"))
    with pytest.raises(KeyError) as e:
        bounds.get("thm-nope")
    msg = e.value.args[0]
    assert "'thm-nope'" in msg and "toy-core-known" in msg


def test_chapter_modules_are_discovered():
    # ch3 exists in this repository, so its theorems must have been registered by bounds/__init__
    assert {"thm3.4.1", "thm3.4.2", "thm3.4.3", "thm3.4.4"} <= set(bounds.keys())


@pytest.mark.parametrize("key", bounds.keys())
def test_every_derivation_has_its_documented_outcome(key):
    """Each derivation check of every registered theorem (all chapters) comes out as bounds/NOTES.md
    documents it: ok for a confirmed thesis step, not ok for a recorded discrepancy."""
    for d in bounds.get(key).derivations:
        res = d.run()
        assert res.ok is d.expect_ok, (key, d.name, res.detail)


# -- every registered theorem at a violating point: no bound, the failed condition named (issue 8) ----
_CH3_ROUND = dict(L=1.0, lam=0.1, n=1000, H=10, tau=2, eta=0.5, T=100)
_CH3_OUTER = dict(L=1.0, lam=0.1, n=1000, H=10, tau=2, eta=0.5, S=3, eps=1e-3, C0=1.0)
_CH4 = dict(L=[1.0, 0.5], Mk=[2.0, 1.0], L_g=2.0, B=4.0, M=1.0, Delta=1.0, T=100)
_VIOLATING = {
    "lem2.3.1": dict(eta=1.0, L=1.0, Delta=3, d=4),
    "thm2.3.1": dict(eta=0.3, L=1.0, Delta=0, d=4, b=1, beta=1.0, m=20, F0=1.0, T=100),
    "thm2.4.1": dict(eta=0.3, L=1.0, Delta=0, b=1, beta=1.0, m=20, F0=1.0, T=100),
    "thm2.3.2": dict(u0=0.5, alpha=0.5, n=10_000, b=1, d=10, L=1.0, Delta=1, F0=1.0, T=100),
    "thm2.4.2": dict(u0=0.5, alpha=0.5, n=10_000, b=1, L=1.0, Delta=1, F0=1.0, T=100),
    "thm3.4.1": _CH3_ROUND, "thm3.4.3": _CH3_ROUND, "thm3.4.2": _CH3_OUTER, "thm3.4.4": _CH3_OUTER,
    "thm4.2.1": dict(gamma_g=1.0, L_g=1.0, beta=0.5, M_C=1.0, Delta=1.0, T=100),
    "thm4.3.1": dict(_CH4, gamma=1.0), "thm4.3.2": dict(_CH4, gamma=1.0, beta=0.5),
    "cor4.3.1": dict(_CH4, Mk=[8.0, 1.0]), "cor4.3.2": dict(_CH4, Mk=[8.0, 1.0], beta=0.5),
    "cor4.3.3": dict(gamma_g=1.0, beta=0.5, B=4.0, L_g=1.0, M_g=1.0, M_C=1.0, Delta=1.0, T=100),
    "lem5.4.1": dict(gamma=2.0, L=1.0, M=1.0, K=4, sigma=1.0, G=1.0),
    "thm5.4.1": dict(gamma=2.0, L=1.0, M=1.0, K=4, Delta=1.0, T=100),
    "thm5.4.2": dict(gamma0=2.0, L=1.0, M=1.0, K=4, Delta=1.0, T=100),
    "thm6.4.2": dict(gamma0=0.1, p=2.0, L=1.0, M=1.0, sigma=0.5, Delta=1.0, T=100),
}
_VIOLATING.update({"cor5.4.1": _VIOLATING["thm5.4.2"], "cor5.4.2": _VIOLATING["thm5.4.2"],
                   "rem6.4.1": _VIOLATING["thm6.4.2"]})
_NO_CONDITIONS = {"lem5.4.1", "thm6.4.1"}   # nothing to violate: the statements have no hypothesis on numbers


def _violating_params(key: str) -> dict:
    for k in (key, key.rsplit("-", 1)[0]):
        if k in _VIOLATING:
            return _VIOLATING[k]
    raise KeyError(f"no violating point for {key}: add one to _VIOLATING")


@pytest.mark.parametrize("key", [k for k in bounds.keys() if not k.startswith("toy")])
def test_every_theorem_at_a_violating_point_gives_no_bound_and_names_the_condition(key):
    thm = bounds.get(key)
    if not thm.conditions:
        assert key in _NO_CONDITIONS
        return
    rep = thm.check(**_violating_params(key))
    assert not rep.holds and rep.violated, (key, str(rep))
    assert rep.bound is None, (key, rep.bound)                       # never a number (negative or not)
    names = [c.name for c in rep.violated]
    assert rep.bound_withheld == "condition violated: " + ", ".join(names)
    d = json.loads(json.dumps(rep.to_dict(), allow_nan=False))
    assert d["bound"] is None and d["violated"] == names and d["bound_withheld"] == rep.bound_withheld
    for q in thm.quantities:
        if q.promise:
            assert d["quantities"][q.name] is None
    text = str(rep)
    assert f"bound: none ({rep.bound_withheld})" in text and text.endswith("verdict: violated: " + ", ".join(names))
    # the vectorised guarded bound agrees (NaN), the raw expression is still available
    assert np.isnan(thm.admissible_bound(**_violating_params(key)))
