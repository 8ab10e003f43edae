"""Transcription audit of Chapters 4-6 (Huo 2020, thesis lines ~1149-2313).

Each printed statement (conditions, step-size limits, bounds, defined
quantities) is rebuilt here in plain numpy *from the thesis text*, per layer
where the thesis speaks per layer, independently of bounds/ch4-6.py and of
their layer aggregates, and compared with the "as stated" encoding at random
parameter points. A second group checks that every "-corrected" variant
differs from its stated theorem only where its note says.
"""
from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import bounds

RNG_SEED = 20240611
N_POINTS = 60


def _close(a, b, rtol=1e-12):
    a, b = float(a), float(b)
    assert abs(a - b) <= rtol * max(abs(a), abs(b), 1e-300), (a, b)


def _layer_points(n=N_POINTS, seed=RNG_SEED):
    """Random admissible layer-wise constants (L_k <= L_g, kappa >= L_g/L_k, M_k <= M_g)."""
    rng = np.random.default_rng(seed)
    for _ in range(n):
        K = int(rng.integers(1, 6))
        L = rng.uniform(0.05, 5.0, K)
        Lg = L.max() * rng.uniform(1.0, 3.0)
        Mk = rng.uniform(0.01, 20.0, K)
        yield dict(
            K=K, L=L, Lg=Lg, Mk=Mk, Mg=Mk.max() * rng.uniform(1.0, 2.0),
            kappa=Lg / L.min() * rng.uniform(1.0, 2.0), B=float(rng.integers(1, 2000)),
            beta=rng.uniform(0.01, 0.98), M=rng.uniform(0.01, 10.0), D=rng.uniform(0.01, 10.0),
            MC=rng.uniform(0.01, 10.0), T=int(rng.integers(1, 10**6)), g=rng.uniform(1e-4, 0.5),
        )


# -- Chapter 4, printed statements -----------------------------------------------------------

def test_thm_4_2_1_as_printed():
    # "As long as gamma <= (1-beta)/(2L) ... O(1/(T gamma) + L_g gamma M_C)": L read as L_g, order with
    # the constant f(w_0) - f_inf kept (documented), metric min_t |grad f(w_t)|^2.
    t = bounds.get("thm4.2.1")
    assert t.metric.startswith("min_t |grad f(w_t)|^2")
    for p in _layer_points():
        _close(t.max_step(beta=p["beta"], L_g=p["Lg"]), (1 - p["beta"]) / (2 * p["Lg"]))
        _close(t.bound(p["T"], gamma_g=p["g"], L_g=p["Lg"], M_C=p["MC"], Delta=p["D"]),
               p["D"] / (p["T"] * p["g"]) + p["Lg"] * p["g"] * p["MC"])


def _printed_431_admissible(g, p):
    """Thm 4.3.1: gamma_k <= min{1/(8L_k), B/(8L_kM_k)} and (1/K) sum gamma_k <= min{1/(2L_g), sqrt(B/M_g)/(2L_g)}."""
    L, Mk, B, Lg, Mg = p["L"], p["Mk"], p["B"], p["Lg"], p["Mg"]
    gk = g / L
    return bool(np.all(gk <= np.minimum(1 / (8 * L), B / (8 * L * Mk)))
                and gk.mean() <= min(1 / (2 * Lg), np.sqrt(B / Mg) / (2 * Lg)))


def test_thm_4_3_1_as_printed():
    t = bounds.get("thm4.3.1")
    assert t.metric == "1/T sum_t sum_k q_k E|grad_k f(w_t)|^2"
    for p in _layer_points():
        kw = dict(L=p["L"], Mk=p["Mk"], L_g=p["Lg"], B=p["B"], M_g=p["Mg"], M=p["M"], kappa=p["kappa"], Delta=p["D"])
        H = np.sum(1 / p["L"])
        # (4.18)
        _close(t.bound(p["T"], gamma=p["g"], **kw),
               8 * p["D"] / (p["T"] * p["g"] * H) + (4 + 2 * p["kappa"]) * p["M"] * p["g"] / p["B"])
        # largest gamma: gamma_k = gamma/L_k turns each printed entry into a bound on gamma
        printed = min(np.min(p["L"] * np.minimum(1 / (8 * p["L"]), p["B"] / (8 * p["L"] * p["Mk"]))),
                      p["K"] / H * min(1 / (2 * p["Lg"]), np.sqrt(p["B"] / p["Mg"]) / (2 * p["Lg"])))
        _close(t.max_step(**kw), printed)
        assert bool(t.admissible(gamma=p["g"], **kw)) is _printed_431_admissible(p["g"], p)


def test_cor_4_3_1_as_printed():
    t = bounds.get("cor4.3.1")
    for p in _layer_points():
        kw = dict(L=p["L"], Mk=p["Mk"], L_g=p["Lg"], B=p["B"], M_g=p["Mg"], M=p["M"], kappa=p["kappa"], Delta=p["D"])
        H, a = np.sum(1 / p["L"]), p["D"]
        # (4.27) and (4.26)
        _close(t.evaluate("gamma_star", T=p["T"], **kw), min(1 / 8, np.sqrt(p["B"] * a / (p["T"] * p["M"] * H))))
        _close(t.bound(p["T"], **kw),
               64 * a / (p["T"] * H) + (12 + 2 * p["kappa"]) * np.sqrt(p["M"] * a / (p["T"] * p["B"] * H)))
        # "1/(8L_k) dominates the upper bound of gamma_k": 1/(8L_k) <= B/(8L_kM_k) for every k
        dominates = bool(np.all(1 / (8 * p["L"]) <= p["B"] / (8 * p["L"] * p["Mk"])))
        assert (t.margins(T=p["T"], **kw)["1/(8L_k) dominates"] >= 0) is dominates


def _printed_448(p):
    b, beta, B, Lg, Mg = 1 - p["beta"], p["beta"], p["B"], p["Lg"], p["Mg"]
    return min(b**2 / (4 * beta**2 * Lg), b**2 * np.sqrt(B) / (4 * beta**2 * Lg * np.sqrt(Mg)),
               b * np.sqrt(B) / (4 * Lg * np.sqrt(Mg)), b / (4 * Lg))


def test_thm_4_3_2_as_printed():
    t = bounds.get("thm4.3.2")
    assert t.metric == "1/T sum_t sum_k q_k E|grad_k f(w_t)|^2"
    for p in _layer_points():
        kw = dict(L=p["L"], Mk=p["Mk"], L_g=p["Lg"], B=p["B"], M_g=p["Mg"], M=p["M"], kappa=p["kappa"],
                  Delta=p["D"], beta=p["beta"])
        H, b, k = np.sum(1 / p["L"]), 1 - p["beta"], p["kappa"]
        # (4.49)
        _close(t.bound(p["T"], gamma=p["g"], **kw),
               8 * b * p["D"] / (p["T"] * p["g"] * H) + p["M"] * p["g"] / (b * p["B"]) * (4 + 2 * k + 2 * k / b))
        # (4.47) per layer, (4.48) on the layer average
        per_layer = np.minimum(b / (8 * p["L"]), b * p["B"] / (8 * p["L"] * p["Mk"]))
        _close(t.max_step(**kw), min(np.min(p["L"] * per_layer), p["K"] / H * _printed_448(p)))
        gk = p["g"] / p["L"]
        printed_ok = bool(np.all(gk <= per_layer) and gk.mean() <= _printed_448(p))
        assert bool(t.admissible(gamma=p["g"], **kw)) is printed_ok


def test_cor_4_3_2_as_printed():
    t = bounds.get("cor4.3.2")
    assert t.metric.startswith("min_t sum_k q_k")
    for p in _layer_points():
        kw = dict(L=p["L"], Mk=p["Mk"], L_g=p["Lg"], B=p["B"], M_g=p["Mg"], M=p["M"], kappa=p["kappa"],
                  Delta=p["D"], beta=p["beta"])
        H, b, k, a = np.sum(1 / p["L"]), 1 - p["beta"], p["kappa"], p["D"]
        # (4.63) and (4.62)
        _close(t.evaluate("gamma_star", T=p["T"], **kw), min(b / 8, np.sqrt(p["B"] * a / (p["T"] * p["M"] * H))))
        _close(t.bound(p["T"], **kw),
               64 * a / (b * p["T"] * H)
               + (8 + (4 + 2 * k + 2 * k / b) / b) * np.sqrt(p["M"] * a / (p["T"] * p["B"] * H)))


def test_cor_4_3_3_as_printed():
    t = bounds.get("cor4.3.3")
    assert t.metric == "1/T sum_t E|grad f(w_t)|^2"
    for p in _layer_points():
        b, beta, B, Lg, Mg = 1 - p["beta"], p["beta"], p["B"], p["Lg"], p["Mg"]
        kw = dict(beta=beta, B=B, L_g=Lg, M_g=Mg, M_C=p["MC"], Delta=p["D"])
        printed = min(b / (8 * Lg), B * b / (8 * Lg * Mg), b * np.sqrt(B) / (4 * Lg * np.sqrt(Mg)),
                      b**2 * np.sqrt(B) / (4 * beta**2 * Lg * np.sqrt(Mg)), b / (4 * beta**2 * Lg))
        _close(t.max_step(**kw), printed)
        # (4.65) with (1 - eta) read as (1 - beta)
        _close(t.bound(p["T"], gamma_g=p["g"], **kw),
               8 * b * p["D"] / (p["T"] * p["g"]) + p["MC"] * Lg * p["g"] / b * (6 + 2 / b))


# -- Chapters 5 and 6, printed statements --------------------------------------------------

def _ch56_points(n=N_POINTS, seed=RNG_SEED + 1):
    rng = np.random.default_rng(seed)
    for _ in range(n):
        yield dict(g=rng.uniform(1e-4, 1.0), L=rng.uniform(0.1, 10.0), M=rng.uniform(0.0, 10.0),
                   K=int(rng.integers(1, 9)), sigma=rng.uniform(1.0, 5.0), G=rng.uniform(0.0, 10.0),
                   D=rng.uniform(0.0, 10.0), T=int(rng.integers(1, 10**6)), T2=int(rng.integers(1, 3000)),
                   p=rng.uniform(0.51, 1.0), fr_sigma=rng.uniform(0.01, 3.0))


def test_lemma_5_4_1_as_printed():
    t = bounds.get("lem5.4.1")
    assert t.conditions == ()      # the statement has no step-size hypothesis (N5.1)
    for q in _ch56_points():
        MK = q["K"] * q["M"] + q["sigma"] * q["K"]**4 * q["M"]          # M_K = K M + sigma K^4 M
        kw = dict(L=q["L"], M=q["M"], K=q["K"], sigma=q["sigma"])
        _close(t.evaluate("M_K", **kw), MK)
        _close(t.evaluate_bound(gamma=q["g"], G=q["G"], **kw), -q["g"] / 2 * q["G"] + q["g"]**2 * q["L"] * MK)  # (5.12)
    # sigma := max_t gamma_{max(0, t-K+1)} / gamma_t is 1 for a fixed rate: the symbol's range starts at 1
    assert t.symbol("sigma").allowed == "a finite number >= 1"


def test_thm_5_4_1_as_printed():
    t = bounds.get("thm5.4.1")
    assert t.metric == "1/T sum_t E|grad f(w^t)|^2"
    for q in _ch56_points():
        MK = q["K"] * q["M"] + q["K"]**4 * q["M"]                          # sigma = 1
        _close(t.max_step(L=q["L"]), 1 / q["L"])                           # gamma L <= 1
        _close(t.bound(q["T"], gamma=q["g"], L=q["L"], M=q["M"], K=q["K"], Delta=q["D"]),
               2 * q["D"] / (q["g"] * q["T"]) + 2 * q["g"] * q["L"] * MK)   # (5.20)
    assert not t.conditions[0].is_strict


@pytest.mark.parametrize("key", ["thm5.4.2", "cor5.4.1", "cor5.4.2"])
def test_thm_5_4_2_as_printed(key):
    t = bounds.get(key)
    for q in _ch56_points(n=25):
        gam = q["g"] / (1.0 + np.arange(q["T2"]))                          # gamma_t = gamma0/(1+t)
        MK = q["K"] * q["M"] + q["K"]**5 * q["M"]                          # sigma = K
        _close(t.max_step(L=q["L"]), 1 / q["L"])                           # gamma_t L <= 1 for all t
        _close(t.bound(q["T2"], gamma0=q["g"], L=q["L"], M=q["M"], K=q["K"], Delta=q["D"]),
               2 * q["D"] / gam.sum() + 2 * (gam**2).sum() * q["L"] * MK / gam.sum(), rtol=1e-11)   # (5.24)


def test_thm_6_4_1_as_printed():
    t = bounds.get("thm6.4.1")
    assert t.conditions == () and t.step_limit is None
    for q in _ch56_points():
        s = q["fr_sigma"]
        _close(t.bound(q["T"], gamma=q["g"], L=q["L"], M=q["M"], sigma=s, Delta=q["D"]),
               q["D"] / (s * q["g"] * q["T"]) + q["g"] * q["L"] * q["M"] / (2 * s))           # (6.14)
    assert t.symbol("sigma").allowed == "a finite number > 0"                                  # (6.10): sigma > 0


@pytest.mark.parametrize("key", ["thm6.4.2", "rem6.4.1"])
def test_thm_6_4_2_as_printed(key):
    t = bounds.get(key)
    for q in _ch56_points(n=25):
        s = q["fr_sigma"]
        gam = q["g"] / (1.0 + np.arange(q["T2"]))**q["p"]
        _close(t.bound(q["T2"], gamma0=q["g"], p=q["p"], L=q["L"], M=q["M"], sigma=s, Delta=q["D"]),
               q["D"] / (s * gam.sum()) + q["L"] * q["M"] / (2 * s) * (gam**2).sum() / gam.sum(), rtol=1e-11)  # (6.19)
    # (6.18) for gamma0/(1+t)^p: sum gamma_t = oo iff p <= 1, sum gamma_t^2 < oo iff p > 1/2 (strict)
    assert t.admissible(p=1.0) and t.admissible(p=0.5 + 1e-9)
    assert not t.admissible(p=0.5) and not t.admissible(p=1.0 + 1e-9)


# -- "-corrected" variants differ only where their notes say --------------------------------

def _conds(t):
    return {c.name: sp.sstr(c.relation) for c in t.conditions}


# key -> (conditions only in the stated theorem, conditions only in the corrected one, bound differs)
_CORRECTED = {
    "thm4.3.1": ({"avg<=1/(2L_g)", "avg<=sqrt(B/M_g)/(2L_g)"}, {"(4.21)", "(4.22)"}, False),
    "thm4.3.2": ({"(4.47a)", "(4.47b)", "(4.48a)", "(4.48b)", "(4.48c)", "(4.48d)"},
                 {"(4.52)", "(4.53)", "(4.54)", "(4.55)", "(4.56)", "(4.57)"}, False),
    "cor4.3.2": (set(), set(), True),
    "cor4.3.3": ({"(1-beta)/(4beta^2 L_g)"}, {"(1-beta)^2/(4beta^2 L_g)", "(1-beta)/(4L_g)"}, True),
    "lem5.4.1": (set(), {"gamma L <= 1"}, False),
}


@pytest.mark.parametrize("key", sorted(_CORRECTED))
def test_corrected_variant_differs_only_where_noted(key):
    stated, corr = bounds.get(key), bounds.get(key + "-corrected")
    only_stated, only_corr, bound_differs = _CORRECTED[key]
    # same statement frame: metric, parameters, step symbol, iteration, hypotheses (assumptions)
    assert corr.metric == stated.metric
    assert corr.param_names == stated.param_names
    assert corr.step == stated.step and corr.iteration == stated.iteration
    assert corr.assumptions == stated.assumptions
    cs, cc = _conds(stated), _conds(corr)
    assert set(cs) - set(cc) == only_stated
    assert set(cc) - set(cs) == only_corr
    for name in set(cs) & set(cc):
        assert cs[name] == cc[name], name
    assert (sp.simplify(stated.bound_expr - corr.bound_expr) != 0) is bound_differs
    assert {q.name: sp.sstr(q.expr) for q in stated.quantities} == {q.name: sp.sstr(q.expr) for q in corr.quantities}
    # the renamed thm4.3.2 entries (4.47a/b) and (4.52)/(4.53) are the same inequalities
    if key == "thm4.3.2":
        assert cs["(4.47a)"] == cc["(4.52)"] and cs["(4.47b)"] == cc["(4.53)"]
