"""Chapter 4 (Huo 2020): layer-wise step sizes for mGD / mNAG (Theorems 4.2.1-4.3.2).

Problem: non-convex f(w) = 1/n sum f_i(w) (eq. 4.1) over a K-layer network,
Assumptions 4.3.1 (layer-wise Lipschitz L_k, eq. 4.10; global L_g >= L_k) and
4.3.2 (layer-wise variance M_k |grad_k f|^2 + M, eq. 4.11; M_k <= M_g).
Algorithm: mNAG with layer rates gamma_k = gamma / L_k (eq. 4.6; beta = 0 is mGD).
Quantity bounded: 1/T sum_t sum_k q_k E|grad_k f(w_t)|^2, q_k = (1/L_k)/sum_j(1/L_j).

Layer-wise inputs. Every theorem here accepts ``L`` (the K per-layer
Lipschitz constants) and ``Mk`` (the K per-layer variance factors) as
sequences or arrays whose *last* axis runs over layers (leading axes
broadcast, for vectorised evaluation). They are turned into the scalar
aggregates the conditions need, because with gamma_k = gamma / L_k a
condition "for every k" is a condition on an extreme or a sum over k:

    K = number of layers, Linv_sum = sum_k 1/L_k, L_min = min_k L_k,
    L_max = max_k L_k, M_max = max_k M_k, R_max = max_k M_k/L_k,
    MLinv_sum = sum_k M_k/L_k;
    defaults kappa = L_g / L_min (the smallest kappa with kappa_k <= kappa)
    and M_g = M_max (the smallest M_g with M_k <= M_g).

e.g. (4.19) "L_k gamma_k <= 1/8 for all k" is gamma <= 1/8, and (4.22)
"L_g^2 gamma_k sum_j gamma_j / K <= 1/4 for all k" is the worst layer
k = argmin L_k: L_g^2 gamma^2 Linv_sum / (K L_min) <= 1/4.

Theorems are registered AS STATED; where the algebra disagrees a
``-corrected`` variant is registered beside it (see bounds/NOTES.md (Chapters 4-6)).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import sympy as sp

from bounds.derive import compare, same
from bounds.theorem import (
    Condition, Derivation, DerivationResult, Note, Quantity, Theorem, TheoremSymbol, register,
)

__all__ = [
    "LayerwiseTheorem", "layer_aggregates", "check_aggregates", "SYMBOLS",
    "THM_4_2_1", "THM_4_3_1", "THM_4_3_1_CORRECTED", "COR_4_3_1",
    "THM_4_3_2", "THM_4_3_2_CORRECTED", "COR_4_3_2", "COR_4_3_2_CORRECTED",
    "COR_4_3_3", "COR_4_3_3_CORRECTED",
]

# -- symbols -------------------------------------------------------------------------
_DEFS: dict[str, tuple[dict, str, str | None, dict]] = {
    "gamma": ({"positive": True}, "base learning rate; layer k uses gamma_k = gamma / L_k (Thm 4.3.1/4.3.2)", r"\gamma", {}),
    "gamma_g": ({"positive": True}, "learning rate shared by all layers (Thm 4.2.1 gamma, Cor 4.3.3 gamma_g)", r"\gamma_g", {}),
    "K": ({"positive": True, "integer": True}, "number of layers (blocks U_k)", None, {}),
    "B": ({"positive": True}, "mini-batch size |I_t|", None, {"lower": 1.0}),
    "L_g": ({"positive": True}, "global Lipschitz constant of grad f (eq. 4.4)", r"L_g", {}),
    "Linv_sum": ({"positive": True}, "sum_k 1/L_k over layers", r"\sum_k L_k^{-1}", {}),
    "L_min": ({"positive": True}, "min_k L_k", r"L_{\min}", {}),
    "L_max": ({"positive": True}, "max_k L_k", r"L_{\max}", {}),
    "M_max": ({"nonnegative": True}, "max_k M_k (layer variance factors, eq. 4.11)", r"M_{\max}", {}),
    "R_max": ({"nonnegative": True}, "max_k M_k / L_k", r"R_{\max}", {}),
    "MLinv_sum": ({"nonnegative": True}, "sum_k M_k / L_k", r"\sum_k M_k L_k^{-1}", {}),
    "M_g": ({"nonnegative": True}, "global variance factor, M_k <= M_g (eq. 4.5)", r"M_g", {}),
    "M": ({"nonnegative": True}, "additive variance constant M of eq. (4.11)", None, {}),
    "M_C": ({"nonnegative": True}, "additive variance constant of eq. (4.5), M_C = K M", r"M_C", {}),
    "kappa": ({"positive": True}, "kappa >= kappa_k = L_g / L_k", r"\kappa", {"lower": 1.0}),
    "beta": ({"nonnegative": True}, "momentum constant of mNAG (eq. 4.2)", r"\beta", {"upper": 1.0, "upper_inclusive": False}),
    "Delta": ({"nonnegative": True}, "f(w_0) - f_inf", r"\Delta", {}),
    "T": ({"positive": True, "integer": True}, "number of iterations", None, {}),
}
SYMBOLS: dict[str, sp.Symbol] = {n: sp.Symbol(n, **a) for n, (a, _, _, _) in _DEFS.items()}
S = SYMBOLS
gamma, gamma_g, K, B, L_g = S["gamma"], S["gamma_g"], S["K"], S["B"], S["L_g"]
Linv_sum, L_min, L_max, M_max, R_max, MLinv_sum = (S[n] for n in ("Linv_sum", "L_min", "L_max", "M_max", "R_max", "MLinv_sum"))
M_g, M, M_C, kappa, beta, Delta, T = (S[n] for n in ("M_g", "M", "M_C", "kappa", "beta", "Delta", "T"))
_R = sp.Rational


def _tsyms(*names: str) -> tuple[TheoremSymbol, ...]:
    return tuple(TheoremSymbol(S[n], _DEFS[n][1], _DEFS[n][2], **_DEFS[n][3]) for n in names)


def layer_aggregates(L: Any, Mk: Any = None) -> dict[str, np.ndarray]:
    """Scalar aggregates over layers (last axis) of per-layer L_k and M_k (see module doc)."""
    Larr = np.asarray(L, dtype=np.float64)
    if Larr.ndim == 0 or Larr.shape[-1] < 1:
        raise ValueError(f"L must be a sequence of K >= 1 per-layer Lipschitz constants, got {L!r}")
    if not np.all(np.isfinite(Larr)) or np.any(Larr <= 0):
        raise ValueError(f"L must hold finite numbers > 0 (one per layer), got {L!r}")
    out = {
        "K": np.asarray(float(Larr.shape[-1])),
        "Linv_sum": (1.0 / Larr).sum(axis=-1),
        "L_min": Larr.min(axis=-1),
        "L_max": Larr.max(axis=-1),
    }
    if Mk is not None:
        Marr = np.asarray(Mk, dtype=np.float64)
        if Marr.ndim == 0 or Marr.shape[-1] != Larr.shape[-1]:
            raise ValueError(f"Mk must hold one variance factor per layer (K={Larr.shape[-1]}), got {Mk!r}")
        if not np.all(np.isfinite(Marr)) or np.any(Marr < 0):
            raise ValueError(f"Mk must hold finite numbers >= 0 (one per layer), got {Mk!r}")
        Larr_b, Marr_b = np.broadcast_arrays(Larr, Marr)
        out.update(M_max=Marr_b.max(axis=-1), R_max=(Marr_b / Larr_b).max(axis=-1),
                   MLinv_sum=(Marr_b / Larr_b).sum(axis=-1))
    return out


_AGG_NAMES = ("K", "Linv_sum", "L_min", "L_max", "M_max", "R_max", "MLinv_sum")


def check_aggregates(params: Mapping[str, Any]) -> None:
    """Raise ValueError unless the layer aggregates given are those of some per-layer L_k > 0, M_k >= 0.

    Hand-computed aggregates must be consistent: L_min <= L_max; K/L_max <= Linv_sum <= K/L_min
    (K reciprocals between 1/L_max and 1/L_min); M_max/L_max <= R_max <= M_max/L_min;
    R_max <= MLinv_sum <= min(K R_max, M_max Linv_sum). The message names the parameter, its value
    and the allowed range. Arrays are checked elementwise (the first offending entry is reported).
    Tolerance: relative 1e-12 (aggregates computed in floating point).
    """
    got = {k: np.asarray(params[k], dtype=np.float64) for k in _AGG_NAMES if params.get(k) is not None}
    if not got:
        return
    # range errors (negative, non-finite, non-integer K) are the symbols' own checks, made later
    if any(not np.all(np.isfinite(v)) for v in got.values()):
        return
    tol = 1e-12
    # below the normal range (|x| < 2.2e-308) a float keeps few significant digits, so a relative
    # tolerance alone rejects consistent aggregates of subnormal M_k; allow that much absolute slack
    slack = np.finfo(np.float64).tiny / tol

    def need(name: str, lo: Any, hi: Any, what: str) -> None:
        v = got[name]
        lo_a = np.asarray(lo, dtype=np.float64)
        hi_a = np.asarray(hi, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            bad = (v < lo_a * (1 - tol) - slack) | (v > hi_a * (1 + tol) + slack)
        if np.any(bad):
            idx = np.argwhere(np.broadcast_to(bad, np.broadcast_shapes(v.shape, lo_a.shape, hi_a.shape)))[0] \
                if np.ndim(bad) else ()
            pick = lambda a: float(np.broadcast_to(a, np.shape(bad))[tuple(idx)]) if np.ndim(bad) else float(a)
            given = ", ".join(f"{k}={pick(got[k]):g}" for k in _AGG_NAMES if k in got and k != name)
            raise ValueError(f"{name} must be in [{pick(lo_a):g}, {pick(hi_a):g}] ({what}; given {given}), "
                             f"got {pick(v):g}")

    inf = np.inf
    if "L_min" in got and "L_max" in got:
        need("L_min", 0.0, got["L_max"], "L_min = min_k L_k <= L_max = max_k L_k")
    if "Linv_sum" in got and "K" in got:
        lo = got["K"] / got["L_max"] if "L_max" in got else 0.0
        hi = got["K"] / got["L_min"] if "L_min" in got else inf
        need("Linv_sum", lo, hi, "sum_k 1/L_k of K layers lies in [K/L_max, K/L_min]")
    if "R_max" in got and "M_max" in got:
        lo = got["M_max"] / got["L_max"] if "L_max" in got else 0.0
        hi = got["M_max"] / got["L_min"] if "L_min" in got else inf
        need("R_max", lo, hi, "max_k M_k/L_k lies in [M_max/L_max, M_max/L_min]")
    if "MLinv_sum" in got and "R_max" in got:
        hi = got["K"] * got["R_max"] if "K" in got else inf
        if "M_max" in got and "Linv_sum" in got:
            hi = np.minimum(hi, got["M_max"] * got["Linv_sum"])
        need("MLinv_sum", got["R_max"], hi, "sum_k M_k/L_k lies in [R_max, min(K R_max, M_max sum_k 1/L_k)]")


@dataclass(frozen=True, eq=False)
class LayerwiseTheorem(Theorem):
    """A :class:`Theorem` that also accepts per-layer ``L=`` and ``Mk=`` sequences.

    They are replaced by the aggregates of :func:`layer_aggregates` (only those
    this theorem uses); ``kappa`` defaults to L_g / L_min and ``M_g`` to M_max.
    """

    ARRAY_PARAMS = {
        "L": "per-layer Lipschitz constants L_1..L_K (eq. 4.10), one per layer; replaces K, Linv_sum, L_min, L_max",
        "Mk": "per-layer variance factors M_1..M_K (eq. 4.11), one per layer (needs L); replaces M_max, R_max, MLinv_sum",
    }

    def _alias(self, params: Mapping[str, Any]) -> dict[str, Any]:
        params = super()._alias(params)
        L, Mk = params.pop("L", None), params.pop("Mk", None)
        if Mk is not None and L is None:
            raise ValueError(f"{self.key}: Mk (per-layer variance factors) needs L (per-layer Lipschitz constants)")
        names = set(self.param_names)
        if L is not None:
            for name, val in layer_aggregates(L, Mk).items():
                if name in names:
                    if name in params:
                        raise ValueError(f"{self.key}: give {name} or the per-layer L/Mk, not both")
                    params[name] = val
        check_aggregates(params)
        if "kappa" in names and params.get("kappa") is None and "L_g" in params and "L_min" in params:
            params["kappa"] = np.asarray(params["L_g"], dtype=np.float64) / np.asarray(params["L_min"], dtype=np.float64)
        if "M_g" in names and params.get("M_g") is None and "M_max" in params:
            params["M_g"] = params["M_max"]
        return params


def _cond(name: str, rel: sp.Basic, sentence: str, source: str) -> Condition:
    return Condition(name, rel, sentence, source)


def _const_conditions(mk: bool = True) -> tuple[Condition, ...]:
    """Hypotheses on the constants: L_k <= L_g, kappa_k <= kappa, M_k <= M_g."""
    out = [
        _cond("L_k<=L_g", sp.Le(L_max, L_g), "global Lipschitz constant dominates every layer's", "A4.3.1"),
        _cond("kappa_k<=kappa", sp.Ge(kappa, L_g / L_min), "kappa bounds every kappa_k = L_g/L_k", "Thm4.3.1"),
    ]
    if mk:
        out.append(_cond("M_k<=M_g", sp.Le(M_max, M_g), "global variance factor dominates every layer's", "A4.3.2"))
    return tuple(out)


# -- Theorem 4.2.1 ([103]): the conventional single-rate result, stated as an order only. ----------
_note_421 = (
    Note("Thm 4.2.1", "The bound is stated only as O(1/(T gamma) + L_g gamma M_C): no constants. "
         "bound() returns Delta/(T gamma) + L_g gamma M_C, the order with unit constants; compare "
         "ratios, not values. The condition is written with an undefined L (read as L_g)."),
    Note("Thm 4.2.1 vs Thm 4.3.1", "The text calls Thm 4.2.1 a special case (K = 1, L_1 = L_g). The rate "
         "matches in order (Thm 4.3.1 at K=1, B=1 gives 8 Delta/(T gamma) + 6 L_g gamma M_C, i.e. 6-8 times "
         "this order), but its step condition gamma <= 1/(8 L_g) is 4x smaller than (1-beta)/(2 L_g) at beta=0."),
)
THM_4_2_1 = Theorem(
    key="thm4.2.1",
    title="Theorem 4.2.1 (mNAG/mGD, single learning rate, [103])",
    source="Thm 4.2.1, eqs. (4.2), (4.4), (4.5)",
    metric="min_t |grad f(w_t)|^2 (order only: unit constants)",
    symbols=_tsyms("gamma_g", "L_g", "beta", "M_C", "Delta", "T"),
    conditions=(_cond("step", sp.Le(gamma_g, (1 - beta) / (2 * L_g)), "single learning rate bound (M_g = 0)", "Thm4.2.1"),),
    bound_expr=Delta / (T * gamma_g) + L_g * gamma_g * M_C,
    step=gamma_g, step_limit=(1 - beta) / (2 * L_g), iteration=T,
    assumptions=("Assumption 4.2.1 (L_g-smooth)", "Assumption 4.2.2 with M_g = 0"),
    notes=_note_421,
)

# -- Theorem 4.3.1 (mGD, beta = 0), eqs. (4.18)-(4.25) ---------------------------------------------
_bound_431 = 8 * Delta / (T * gamma * Linv_sum) + (4 + 2 * kappa) * M * gamma / B
_syms_431 = _tsyms("gamma", "K", "B", "L_g", "Linv_sum", "L_min", "L_max", "M_max", "R_max", "M_g",
                   "M", "kappa", "Delta", "T")
_c419 = _cond("(4.19)", sp.Le(gamma, _R(1, 8)), "L_k gamma_k <= 1/8 for all k (gamma_k = gamma/L_k)", "(4.19)")
_c420 = _cond("(4.20)", sp.Le(gamma, B / (8 * M_max)), "L_k gamma_k M_k / B <= 1/8 for all k (worst: M_max)", "(4.20)")
_conds_431_stated = (
    _c419, _c420,
    _cond("avg<=1/(2L_g)", sp.Le(gamma, K / (2 * L_g * Linv_sum)),
          "(1/K) sum_k gamma_k <= 1/(2 L_g), the thesis's min form of (4.22)", "Thm4.3.1"),
    _cond("avg<=sqrt(B/M_g)/(2L_g)", sp.Le(gamma, K * sp.sqrt(B / M_g) / (2 * L_g * Linv_sum)),
          "(1/K) sum_k gamma_k <= sqrt(B/M_g)/(2 L_g), the thesis's min form of (4.21)", "Thm4.3.1"),
) + _const_conditions()
_limit_431_stated = sp.Min(_R(1, 8), B / (8 * M_max), K / (2 * L_g * Linv_sum),
                           K * sp.sqrt(B / M_g) / (2 * L_g * Linv_sum))
_conds_431_exact = (
    _c419, _c420,
    _cond("(4.21)", sp.Le(gamma, sp.sqrt(K * B / (R_max * Linv_sum)) / (2 * L_g)),
          "L_g^2 gamma_k M_k sum_j gamma_j/(K B) <= 1/4 for all k (worst: max M_k/L_k)", "(4.21)"),
    _cond("(4.22)", sp.Le(gamma, sp.sqrt(K * L_min / Linv_sum) / (2 * L_g)),
          "L_g^2 gamma_k sum_j gamma_j / K <= 1/4 for all k (worst: min L_k)", "(4.22)"),
) + _const_conditions()
_limit_431_exact = sp.Min(_R(1, 8), B / (8 * M_max), sp.sqrt(K * B / (R_max * Linv_sum)) / (2 * L_g),
                          sp.sqrt(K * L_min / Linv_sum) / (2 * L_g))


def _lemma_ineqs(gs: list, Ls: list, Ms: list, Lg: Any, Bv: Any, beta_v: Any = None) -> list:
    """Left-hand sides minus right-hand sides of (4.19)-(4.22) (beta None) or (4.52)-(4.57), per layer."""
    Kv = len(gs)
    tot = sum(gs)
    out = []
    for g, Lk, Mk in zip(gs, Ls, Ms):
        if beta_v is None:
            out += [Lk * g - _R(1, 8), Lk * g * Mk / Bv - _R(1, 8),
                    Lg**2 * g * Mk * tot / (Kv * Bv) - _R(1, 4), Lg**2 * g * tot / Kv - _R(1, 4)]
        else:
            b = beta_v
            out += [Lk * g / (1 - b) - _R(1, 8), Lk * g * Mk / ((1 - b) * Bv) - _R(1, 8),
                    2 * Lg**2 * b**4 * g * tot / ((1 - b)**4 * Kv) - _R(1, 8),
                    2 * Lg**2 * b**4 * g * Mk * tot / ((1 - b)**4 * Kv * Bv) - _R(1, 8),   # (4.55) derived
                    2 * Lg**2 * g * Mk * tot / ((1 - b)**2 * Kv * Bv) - _R(1, 8),
                    2 * Lg**2 * g * tot / ((1 - b)**2 * Kv) - _R(1, 8)]
    return out


def _d_minform_equal_mgd() -> DerivationResult:
    gb = sp.Symbol("gammabar", positive=True)
    # equal layer rates gamma_k = gammabar, M_k = M_g: (4.22), (4.21) read c * gammabar^2 <= 1/4
    r22 = sp.sqrt(1 / (4 * sp.cancel(L_g**2 * gb**2 / gb**2)))
    r21 = sp.sqrt(1 / (4 * sp.cancel(L_g**2 * gb**2 * M_g / B / gb**2)))
    ok = same(r22, 1 / (2 * L_g)) and same(r21**2, B / (4 * M_g * L_g**2))
    return DerivationResult("min-form (equal rates)", ok,
                            f"with gamma_k = gammabar: (4.22) <=> gammabar <= {r22}, (4.21) <=> gammabar <= {r21}; "
                            "thesis: 1/(2 L_g), sqrt(B/M_g)/(2 L_g)", sp.Tuple(1 / (2 * L_g), sp.sqrt(B / M_g) / (2 * L_g)),
                            sp.Tuple(r22, r21))


_CEX_L = [sp.Integer(1), _R(1, 100)]  # L_g = 1, K = 2: gamma <= 1/101 passes the thesis's min form


def _d_minform_general(beta_v: Any = None) -> DerivationResult:
    Ls, Lg, Bv = _CEX_L, sp.Integer(1), sp.Integer(1)
    Ms = [sp.Integer(0), sp.Integer(0)]
    hsum = sum(1 / x for x in Ls)
    if beta_v is None:
        g = sp.Min(_R(1, 8), 2 / (2 * Lg * hsum))       # as-stated largest gamma (M = 0)
    else:
        b = beta_v
        g = sp.Min((1 - b) / 8, 2 * (1 - b)**2 / (4 * b**2 * Lg * hsum), 2 * (1 - b) / (4 * Lg * hsum))
    gs = [g / x for x in Ls]
    lhs = _lemma_ineqs(gs, Ls, Ms, Lg, Bv, beta_v)
    worst = max(lhs)
    ok = bool(worst <= 0)
    which = "(4.19)-(4.22)" if beta_v is None else "(4.52)-(4.57)"
    return DerivationResult(
        "min-form equivalence (general layer rates)", ok,
        f"K=2, L=(1, 1/100), L_g=1, M_k=0, B=1{'' if beta_v is None else f', beta={beta_v}'}: the thesis's min form "
        f"admits gamma={g} (gamma_k = gamma/L_k = {gs}) but the largest of {which} minus its right side is {worst} > 0; "
        "the min form bounds the layer average, while the per-layer inequalities need max_k gamma_k * average",
        sp.Integer(0), worst)


def _d_4_23() -> DerivationResult:
    coeff = 1 - _R(1, 8) - _R(1, 8) - _R(1, 4) - _R(1, 4)
    gb = 1 / (2 * L_g)  # the average-rate bound used for the M-term
    extra = sp.simplify(L_g**2 * gb / 2)
    ok = coeff == _R(1, 4) and same(extra, L_g / 4)
    return DerivationResult("(4.19)-(4.22) => (4.23)", ok,
                            f"descent coefficient (1/2)*{coeff} = 1/8; L_g^2 gammabar/2 at gammabar = 1/(2L_g) is {extra} "
                            "= kappa_k L_k/4, giving (2 + kappa) M L_k gamma_k^2/(4B)", sp.Rational(1, 8), coeff / 2)


def _d_4_25() -> DerivationResult:
    Ls = sp.symbols("L1:4", positive=True)
    gs = [gamma / x for x in Ls]
    rhs = 8 / (T * sum(gs)) * (Delta + (2 + kappa) * M * T / (4 * B) * sum(x * g**2 for x, g in zip(Ls, gs)))
    return compare("(4.24) => (4.25)", _bound_431.subs(Linv_sum, sum(1 / x for x in Ls)), rhs,
                   "(4.24) divided by (T/8) sum_k gamma_k, gamma_k = gamma/L_k, K = 3")


THM_4_3_1_CORRECTED = LayerwiseTheorem(
    key="thm4.3.1-corrected",
    title="Theorem 4.3.1 (mGD) with the per-layer conditions (4.19)-(4.22) kept exact",
    source="Thm 4.3.1, eqs. (4.12), (4.18)-(4.25)",
    metric="1/T sum_t sum_k q_k E|grad_k f(w_t)|^2",
    symbols=_syms_431, conditions=_conds_431_exact, bound_expr=_bound_431,
    step=gamma, step_limit=_limit_431_exact, iteration=T,
    assumptions=("Assumption 4.3.1", "Assumption 4.3.2", "gamma_k = gamma / L_k", "beta = 0"),
    notes=(Note("(4.19)-(4.22)", "Kept for every k: (4.21) and (4.22) become conditions on the worst layer "
                "(max M_k/L_k, min L_k) times the layer-average rate; they imply the thesis's average form "
                "for (4.22) and replace M_g by the exact M_k in (4.21)."),),
)
THM_4_3_1 = LayerwiseTheorem(
    key="thm4.3.1",
    title="Theorem 4.3.1 (convergence of mGD, layer-wise rates)",
    source="Thm 4.3.1, eqs. (4.12), (4.18)-(4.25)",
    metric="1/T sum_t sum_k q_k E|grad_k f(w_t)|^2",
    symbols=_syms_431, conditions=_conds_431_stated, bound_expr=_bound_431,
    step=gamma, step_limit=_limit_431_stated, iteration=T,
    assumptions=("Assumption 4.3.1", "Assumption 4.3.2", "gamma_k = gamma / L_k", "beta = 0"),
    notes=(Note("(4.19)-(4.22) vs Thm 4.3.1",
                "The proof calls (4.19)-(4.22) 'equivalent to' gamma_k <= min{1/(8L_k), B/(8L_kM_k)} and "
                "(1/K)sum gamma_k <= min{1/(2L_g), sqrt(B/M_g)/(2L_g)}. That holds only when all gamma_k are "
                "equal: (4.22) for layer k is L_g^2 gamma_k gammabar <= 1/4, so it needs max_k gamma_k * gammabar "
                "<= 1/(4L_g^2). Counterexample (derivation 'min-form equivalence'): K=2, L=(1,1/100), L_g=1, "
                "gamma=1/101 passes the stated conditions but (4.22) at k=2 reads 50/101 > 1/4.",
                variant="thm4.3.1-corrected"),),
    derivations=(
        Derivation("min-form (equal rates)", "(4.19)-(4.22)", "min form holds when gamma_k are equal", _d_minform_equal_mgd),
        Derivation("min-form equivalence (general layer rates)", "(4.19)-(4.22)",
                   "the stated min form does not imply (4.22) for unequal layers", _d_minform_general, expect_ok=False),
        Derivation("(4.19)-(4.22) => (4.23)", "(4.23)", "descent coefficient and M-term", _d_4_23),
        Derivation("(4.24) => (4.25)", "(4.25)", "normalisation by (T/8) sum gamma_k", _d_4_25),
    ),
    variants=(THM_4_3_1_CORRECTED,),
)

# -- Corollary 4.3.1 (mGD, O(1/sqrt(T))), eqs. (4.26)-(4.28) ---------------------------------------
_x431 = sp.sqrt(B * Delta / (T * M * Linv_sum))
_gstar_431 = sp.Min(_R(1, 8), _x431)
_bound_c431 = 64 * Delta / (T * Linv_sum) + (12 + 2 * kappa) * sp.sqrt(M * Delta / (T * B * Linv_sum))


def _d_4_28() -> DerivationResult:
    a, r, s = sp.symbols("a r s", positive=True)   # a = Delta/(T Linv_sum), r = M/B, x = sqrt(a/r)
    x = sp.sqrt(a / r)
    rhs = 64 * a + (12 + 2 * kappa) * sp.sqrt(r * a)
    # branch gamma = x < 1/8: bound(x) equals (12 + 2 kappa) sqrt(ra) <= rhs
    b2 = sp.simplify(8 * a / x + (4 + 2 * kappa) * r * x - (12 + 2 * kappa) * sp.sqrt(r * a))
    # branch gamma = 1/8 <= x: write x = (1+s)/8, i.e. r = 64 a/(1+s)^2; rhs - bound >= 0
    sub = {r: 64 * a / (1 + s)**2}
    b1 = sp.factor(sp.simplify((rhs - (64 * a + (4 + 2 * kappa) * r / 8)).subs(sub)))
    ok = b2 == 0 and bool(b1.is_positive)
    return DerivationResult("(4.28)", ok, f"gamma = x branch: bound - (12+2kappa)sqrt(ra) = {b2}; "
                            f"gamma = 1/8 branch: rhs - bound = {b1} (positive)", sp.Integer(0), b1)


COR_4_3_1 = LayerwiseTheorem(
    key="cor4.3.1",
    title="Corollary 4.3.1 (sub-linear rate of mGD)",
    source="Cor 4.3.1, eqs. (4.26)-(4.28)",
    metric="1/T sum_t sum_k q_k E|grad_k f(w_t)|^2 at gamma = gamma*",
    symbols=_tsyms("K", "B", "L_g", "Linv_sum", "L_min", "L_max", "M_max", "M_g", "M", "kappa", "Delta", "T"),
    conditions=(
        _cond("1/(8L_k) dominates", sp.Le(M_max, B), "B/(8 L_k M_k) >= 1/(8 L_k), i.e. M_k <= B", "Cor4.3.1"),
        _cond("avg<=1/(2L_g) at gamma*", sp.Le(_gstar_431, K / (2 * L_g * Linv_sum)),
              "Thm 4.3.1's average condition at the prescribed gamma* (the thesis ignores it, p. after 4.65)", "Thm4.3.1"),
        _cond("avg<=sqrt(B/M_g)/(2L_g) at gamma*", sp.Le(_gstar_431, K * sp.sqrt(B / M_g) / (2 * L_g * Linv_sum)),
              "Thm 4.3.1's second average condition at gamma*", "Thm4.3.1"),
    ) + _const_conditions(),
    bound_expr=_bound_c431,
    step=None, iteration=T,
    quantities=(Quantity("gamma_star", _gstar_431, "prescribed base learning rate", "(4.27)"),),
    notes=(Note("Cor 4.3.1", "The statement says 'Theorem 6.4.2 is satisfied'; it means Theorem 4.3.1."),
           Note("Cor 4.3.1", "gamma* need not satisfy Thm 4.3.1's average conditions; the thesis says it ignores "
                "them 'for simplicity'. check() reports them at gamma*.")),
    derivations=(Derivation("(4.28)", "(4.28)", "bound at gamma* <= (4.26)", _d_4_28),),
)

# -- Theorem 4.3.2 (mNAG), eqs. (4.47)-(4.61) ------------------------------------------------------
_ob = 1 - beta
_bound_432 = (8 * _ob * Delta / (T * gamma * Linv_sum)
              + M * gamma / (_ob * B) * (4 + 2 * kappa + 2 * kappa / _ob))
_syms_432 = _tsyms("gamma", "beta", "K", "B", "L_g", "Linv_sum", "L_min", "L_max", "M_max", "R_max",
                   "MLinv_sum", "M_g", "M", "kappa", "Delta", "T")
_c447a = _cond("(4.47a)", sp.Le(gamma, _ob / 8), "gamma_k <= (1-beta)/(8 L_k) for all k", "(4.47)")
_c447b = _cond("(4.47b)", sp.Le(gamma, _ob * B / (8 * M_max)), "gamma_k <= (1-beta)B/(8 L_k M_k) for all k", "(4.47)")
_avg448 = {
    "(4.48a)": (_ob**2 / (4 * beta**2 * L_g), "(1-beta)^2/(4 beta^2 L_g)"),
    "(4.48b)": (_ob**2 * sp.sqrt(B) / (4 * beta**2 * L_g * sp.sqrt(M_g)), "(1-beta)^2 sqrt(B)/(4 beta^2 L_g sqrt(M_g))"),
    "(4.48c)": (_ob * sp.sqrt(B) / (4 * L_g * sp.sqrt(M_g)), "(1-beta) sqrt(B)/(4 L_g sqrt(M_g))"),
    "(4.48d)": (_ob / (4 * L_g), "(1-beta)/(4 L_g)"),
}
_conds_432_stated = (_c447a, _c447b) + tuple(
    _cond(n, sp.Le(gamma, K * e / Linv_sum), f"(1/K) sum_k gamma_k <= {txt}", "(4.48)") for n, (e, txt) in _avg448.items()
) + _const_conditions()
_limit_432_stated = sp.Min(_ob / 8, _ob * B / (8 * M_max), *(K * e / Linv_sum for e, _ in _avg448.values()))
_exact457 = {
    "(4.54)": (_ob**2 / (4 * beta**2 * L_g) * sp.sqrt(K * L_min / Linv_sum),
               "2 L_g^2 beta^4 gamma_k sum_j gamma_j/((1-beta)^4 K) <= 1/8 for all k"),
    # (4.55) as derived, not as printed: (4.46) into (4.50) gives the layer's own M_k times
    # sum_j gamma_j (derivation "(4.46) into (4.50) => (4.51)"); worst layer: max_k M_k/L_k.
    "(4.55)": (_ob**2 / (4 * beta**2 * L_g) * sp.sqrt(K * B / (R_max * Linv_sum)),
               "2 L_g^2 beta^4 gamma_k M_k sum_j gamma_j/((1-beta)^4 K B) <= 1/8 for all k "
               "((4.46) into (4.50); the printed (4.55) reuses k)"),
    "(4.56)": (_ob / (4 * L_g) * sp.sqrt(K * B / (R_max * Linv_sum)),
               "2 L_g^2 gamma_k M_k sum_j gamma_j/((1-beta)^2 K B) <= 1/8 for all k"),
    "(4.57)": (_ob / (4 * L_g) * sp.sqrt(K * L_min / Linv_sum),
               "2 L_g^2 gamma_k sum_j gamma_j/((1-beta)^2 K) <= 1/8 for all k"),
}
_conds_432_exact = (
    _cond("(4.52)", sp.Le(gamma, _ob / 8), "L_k gamma_k/(1-beta) <= 1/8 for all k", "(4.52)"),
    _cond("(4.53)", sp.Le(gamma, _ob * B / (8 * M_max)), "L_k gamma_k M_k/((1-beta)B) <= 1/8 for all k", "(4.53)"),
) + tuple(_cond(n, sp.Le(gamma, e), txt, n) for n, (e, txt) in _exact457.items()) + _const_conditions()
_limit_432_exact = sp.Min(_ob / 8, _ob * B / (8 * M_max), *(e for e, _ in _exact457.values()))


def _d_minform_equal_mnag() -> DerivationResult:
    gb = sp.Symbol("gammabar", positive=True)
    lhs = {"(4.54)": 2 * L_g**2 * beta**4 * gb**2 / _ob**4,
           "(4.55)": 2 * L_g**2 * beta**4 * gb**2 * M_g / (_ob**4 * B),
           "(4.56)": 2 * L_g**2 * gb**2 * M_g / (_ob**2 * B),
           "(4.57)": 2 * L_g**2 * gb**2 / _ob**2}
    thesis = dict(zip(lhs, (e for e, _ in _avg448.values())))
    rows, ok = [], True
    for n, e in lhs.items():
        # (4.54)-(4.57) with gamma_k = gammabar, M_k = M_g are c * gammabar^2 <= 1/8: the root is sqrt(1/(8c))
        c = sp.cancel(e / gb**2)
        root = sp.sqrt(1 / (8 * c))
        good = same(sp.simplify(root**2), sp.simplify(thesis[n]**2))
        ok &= good
        rows.append(f"{n}: gammabar <= {sp.simplify(root)} ({'matches' if good else 'differs from'} (4.59))")
    return DerivationResult("(4.52)-(4.57) => (4.58)-(4.59) (equal rates)", ok, "; ".join(rows))


def _d_4_60() -> DerivationResult:
    coeff = 1 - 6 * _R(1, 8)
    gb1, gb2 = _ob / (4 * L_g), _ob**2 / (4 * beta**2 * L_g)
    t2 = sp.simplify(L_g**2 * gb1 / _ob)                  # thesis: L_g/4
    t3 = sp.simplify(beta**4 * L_g**2 * gb2 / _ob**3)      # thesis: L_g/(4(1-beta)); exact: beta^2 L_g/(4(1-beta))
    ok = coeff == _R(1, 4) and same(t2, L_g / 4) and same(t3, beta**2 * L_g / (4 * _ob))
    return DerivationResult("(4.51) => (4.60)", ok,
                            f"coefficient (1/2(1-beta))*{coeff}; second term {t2}; third term {t3} <= L_g/(4(1-beta)) "
                            "(the thesis drops beta^2 <= 1: valid, loose)", L_g / (4 * _ob), t3)


def _d_4_61() -> DerivationResult:
    Ls = sp.symbols("L1:4", positive=True)
    gs = [gamma / x for x in Ls]
    H = sum(1 / x for x in Ls)
    rhs = 8 * _ob / (T * sum(gs)) * (Delta + M * T / (_ob**2 * B) * (
        sum(x * g**2 for x, g in zip(Ls, gs)) / 2 + L_g * sum(g**2 for g in gs) / 4
        + L_g * sum(g**2 for g in gs) / (4 * _ob)))
    # with kappa_k = L_g/L_k the weighted mean sum_k q_k kappa_k replaces kappa; equal iff all L_k are equal
    kbar = sum((1 / x) / H * (L_g / x) for x in Ls)
    thesis = _bound_432.subs({Linv_sum: H, kappa: kbar})
    return compare("(4.60) => (4.61)", thesis, rhs, "(4.60) divided by T/(8(1-beta)) sum gamma_k with kappa -> sum q_k kappa_k")


def _d_4_51(printed: bool) -> DerivationResult:
    """(4.46) multiplied into the p_t term of (4.50) gives the bracket terms of (4.51).

    The p_t term of (4.50) is sum_k L_g^2 gamma_k/((1-beta)K) sum_t E|p_t|^2 = L_g^2 G/((1-beta)K) *
    sum_t E|p_t|^2 with G = sum_j gamma_j; (4.46) bounds sum_t E|p_t|^2 by sum_k (1 + M_k/B) beta^4
    gamma_k^2/(1-beta)^4 E_k + sum_k beta^4 gamma_k^2 M T/((1-beta)^4 B), E_k = sum_t E|grad_k f(w_t)|^2.
    The coefficient of E_k, divided by the prefactor gamma_k/(2(1-beta)) of (4.51)'s bracket, is what
    (4.54) + (4.55) must bound. K = 3 layers with symbolic gamma_k, M_k.
    """
    Kv = 3
    gs = sp.symbols("g1:4", positive=True)
    Ms = sp.symbols("M1:4", nonnegative=True)
    Es = sp.symbols("E1:4", nonnegative=True)
    G = sum(gs)
    p_sum = (sum(b_ * g**2 * M * T / (_ob**4 * B) for b_, g in zip([beta**4] * Kv, gs))
             + sum((1 + Mk / B) * beta**4 * g**2 / _ob**4 * E for g, Mk, E in zip(gs, Ms, Es)))   # (4.46)
    term = sp.expand(L_g**2 * G / (_ob * Kv) * p_sum)                                          # (4.50) p_t term
    derived = [sp.cancel(term.coeff(E) * 2 * _ob / g) for g, E in zip(gs, Es)]
    GM = sum(Mk * g for Mk, g in zip(Ms, gs))
    c454 = [2 * L_g**2 * beta**4 * g * G / (_ob**4 * Kv) for g in gs]
    c455_printed = [2 * L_g**2 * beta**4 * g * GM / (_ob**4 * Kv * B) for g in gs]
    c455_derived = [2 * L_g**2 * beta**4 * g * Mk * G / (_ob**4 * Kv * B) for g, Mk in zip(gs, Ms)]
    c455 = c455_printed if printed else c455_derived
    ok = all(same(d, a + b_) for d, a, b_ in zip(derived, c454, c455))
    # the M T term of (4.51): sum_k L_g^2 gamma_k beta^4 M T/((1-beta)^5 K B) sum_k gamma_k^2
    rest = sp.expand(term - sum(term.coeff(E) * E for E in Es))
    ok_mt = same(rest, L_g**2 * G * beta**4 * M * T / (_ob**5 * Kv * B) * sum(g**2 for g in gs))
    diff = sp.factor(sp.cancel(derived[0] - c454[0] - c455_printed[0]))
    which = "printed (4.55), sum_j M_j gamma_j" if printed else "derived (4.55), M_k sum_j gamma_j"
    return DerivationResult(
        "(4.46) into (4.50) => (4.51)" + (" (printed 4.55)" if printed else ""), ok and ok_mt,
        f"K = 3: the coefficient of E_1 over gamma_1/(2(1-beta)) is {sp.sstr(sp.factor(derived[0]))}; (4.54) + "
        f"{which}: {'identical' if ok else 'differ'}; derived - (4.54) - printed (4.55) = {sp.sstr(diff)} "
        "(nonzero: the printed sum_k M_k gamma_k reuses the outer index k; the derivation gives the layer's own "
        f"M_k times sum_j gamma_j); M T term of (4.51): {'identical' if ok_mt else 'differs'}",
        sp.Tuple(*[a + b_ for a, b_ in zip(c454, c455)]), sp.Tuple(*derived))


THM_4_3_2_CORRECTED = LayerwiseTheorem(
    key="thm4.3.2-corrected",
    title="Theorem 4.3.2 (mNAG) with the per-layer conditions (4.52)-(4.57) kept exact",
    source="Thm 4.3.2, eqs. (4.47)-(4.61)",
    metric="1/T sum_t sum_k q_k E|grad_k f(w_t)|^2",
    symbols=_syms_432, conditions=_conds_432_exact, bound_expr=_bound_432,
    step=gamma, step_limit=_limit_432_exact, iteration=T,
    assumptions=("Assumption 4.3.1", "Assumption 4.3.2", "gamma_k = gamma / L_k"),
    notes=(Note("(4.52)-(4.57)", "Kept for every k; (4.54)-(4.57) then bound the worst layer times the average."),
           Note("(4.55)", "As derived, not as printed: (4.46) into (4.50) gives 2 L_g^2 beta^4 gamma_k M_k "
                "sum_j gamma_j/((1-beta)^4 K B) <= 1/8 (worst layer: max_k M_k/L_k), so gamma <= "
                "(1-beta)^2/(4 beta^2 L_g) sqrt(K B/(R_max sum_k 1/L_k)). The printed (4.55) has gamma_k "
                "sum_k M_k gamma_k (outer index k reused); encoding it as gamma_k sum_j M_j gamma_j made this "
                "variant looser than the theorem as printed (L = (1, 1), M_k = (10, 0), beta = 0.9, B = 1, "
                "L_g = 1, M_g = 10: 1.25e-3 admitted, 9.76e-4 printed)."),),
    derivations=(Derivation("(4.46) into (4.50) => (4.51)", "(4.46), (4.50), (4.51), (4.54), (4.55)",
                            "the bracket terms from Lemma 4.3.3", lambda: _d_4_51(False)),),
)
THM_4_3_2 = LayerwiseTheorem(
    key="thm4.3.2",
    title="Theorem 4.3.2 (convergence of mNAG, layer-wise rates)",
    source="Thm 4.3.2, eqs. (4.47)-(4.61)",
    metric="1/T sum_t sum_k q_k E|grad_k f(w_t)|^2",
    symbols=_syms_432, conditions=_conds_432_stated, bound_expr=_bound_432,
    step=gamma, step_limit=_limit_432_stated, iteration=T,
    assumptions=("Assumption 4.3.1", "Assumption 4.3.2", "gamma_k = gamma / L_k"),
    notes=(
        Note("(4.52)-(4.59)", "'which are equivalent to (4.58)-(4.59)' holds only for equal gamma_k: (4.54)-(4.57) "
             "for layer k involve gamma_k * sum_j gamma_j, so the average form (4.59) does not imply them. "
             "Counterexample: K=2, L=(1,1/100), L_g=1, beta=1/2 (derivation 'min-form equivalence').",
             variant="thm4.3.2-corrected"),
        Note("(4.60)", "The third term uses beta^4 L_g^2 gammabar/(1-beta)^3 <= L_g/(4(1-beta)); the exact "
             "value at the bound is beta^2 L_g/(4(1-beta)): valid, loose by beta^2."),
        Note("(4.61)", "kappa enters as sum_k q_k kappa_k <= kappa (derivation '(4.60) => (4.61)')."),
    ),
    derivations=(
        Derivation("(4.52)-(4.57) => (4.58)-(4.59) (equal rates)", "(4.58)-(4.59)", "equal-rate case", _d_minform_equal_mnag),
        Derivation("min-form equivalence (general layer rates)", "(4.58)-(4.59)",
                   "the stated min form does not imply (4.54)-(4.57) for unequal layers",
                   lambda: _d_minform_general(_R(1, 2)), expect_ok=False),
        Derivation("(4.46) into (4.50) => (4.51) (printed 4.55)", "(4.46), (4.50), (4.51), (4.55)",
                   "the printed (4.55) reuses the outer index k; the derivation gives M_k sum_j gamma_j",
                   lambda: _d_4_51(True), expect_ok=False),
        Derivation("(4.51) => (4.60)", "(4.60)", "coefficient and constant terms", _d_4_60),
        Derivation("(4.60) => (4.61)", "(4.61)", "normalisation, kappa as weighted mean", _d_4_61),
    ),
    variants=(THM_4_3_2_CORRECTED,),
)

# -- Corollary 4.3.2 (mNAG, O(1/sqrt(T))), eqs. (4.62)-(4.64) --------------------------------------
_gstar_432 = sp.Min(_ob / 8, _x431)
_c_432 = (4 + 2 * kappa + 2 * kappa / _ob) / _ob
_root = sp.sqrt(M * Delta / (T * B * Linv_sum))
_bound_c432 = 64 * Delta / (_ob * T * Linv_sum) + (8 + _c_432) * _root
_bound_c432_tight = 64 * Delta / (T * Linv_sum) + (8 * _ob + _c_432) * _root
_conds_c432 = (
    _cond("(1-beta)/(8L_k) dominates", sp.Le(M_max, B), "(1-beta)B/(8L_kM_k) >= (1-beta)/(8L_k), i.e. M_k <= B", "Cor4.3.2"),
) + tuple(
    _cond(f"{n} at gamma*", sp.Le(_gstar_432, K * e / Linv_sum), f"Thm 4.3.2's (1/K) sum gamma_k <= {txt} at gamma* "
          "(ignored by the thesis 'for simplicity')", "(4.48)") for n, (e, txt) in _avg448.items()
) + _const_conditions()


def _d_4_64() -> DerivationResult:
    a, r, s = sp.symbols("a r s", positive=True)
    b = sp.Symbol("b", positive=True)  # b = 1 - beta in (0, 1]
    x = sp.sqrt(a / r)
    c = _c_432.subs(beta, 1 - b)
    f = lambda g: 8 * b * a / g + c * r * g  # (4.49) with a = Delta/(T Linv_sum), r = M/B
    thesis = 64 * a / b + (8 + c) * sp.sqrt(r * a)
    tight = 64 * a + (8 * b + c) * sp.sqrt(r * a)
    b2 = sp.simplify(f(x) - (8 * b + c) * sp.sqrt(r * a))             # gamma = x <= b/8: equality
    sub = {r: 64 * a / (b * (1 + s))**2}                               # gamma = b/8 <= x, x = b(1+s)/8
    b1 = sp.factor(sp.simplify((tight - f(b / 8)).subs(sub)))
    loose = sp.factor(sp.simplify(thesis - tight))
    u = sp.Symbol("u", nonnegative=True)                               # b = 1/(1+u) covers (0, 1]
    loose_u = sp.factor(sp.simplify(loose.subs(b, 1 / (1 + u))))
    ok = b2 == 0 and bool(b1.is_nonnegative) and bool(loose_u.is_nonnegative)
    return DerivationResult("(4.64)", ok,
                            f"gamma = x branch: (4.49) - (8(1-beta)+c)sqrt(ra) = {b2}; gamma=(1-beta)/8 branch: "
                            f"tight - (4.49) = {b1} >= 0; thesis (4.62) - tight = {loose} >= 0 (valid, loose: the "
                            "first line of (4.64) drops the factor (1-beta) of (4.49)'s first term)", thesis, tight)


COR_4_3_2_CORRECTED = LayerwiseTheorem(
    key="cor4.3.2-corrected",
    title="Corollary 4.3.2 (mNAG) with the tight constants of its own proof",
    source="Cor 4.3.2, eqs. (4.62)-(4.64)",
    metric="min_t sum_k q_k E|grad_k f(w_t)|^2 at gamma = gamma*",
    symbols=_tsyms("beta", "K", "B", "L_g", "Linv_sum", "L_min", "L_max", "M_max", "M_g", "M", "kappa", "Delta", "T"),
    conditions=_conds_c432, bound_expr=_bound_c432_tight, iteration=T,
    quantities=(Quantity("gamma_star", _gstar_432, "prescribed base learning rate", "(4.63)"),),
    notes=(Note("(4.64)", "Keeps (4.49)'s factor 8(1-beta): 64 Delta/(T sum 1/L_k) + (8(1-beta) + c) sqrt(...)."),),
)
COR_4_3_2 = LayerwiseTheorem(
    key="cor4.3.2",
    title="Corollary 4.3.2 (sub-linear rate of mNAG)",
    source="Cor 4.3.2, eqs. (4.62)-(4.64)",
    metric="min_t sum_k q_k E|grad_k f(w_t)|^2 at gamma = gamma*",
    symbols=_tsyms("beta", "K", "B", "L_g", "Linv_sum", "L_min", "L_max", "M_max", "M_g", "M", "kappa", "Delta", "T"),
    conditions=_conds_c432, bound_expr=_bound_c432, iteration=T,
    quantities=(Quantity("gamma_star", _gstar_432, "prescribed base learning rate", "(4.63)"),),
    notes=(Note("(4.64)", "The first line multiplies 8 Delta/(T sum 1/L_k) by max{8/(1-beta), ...}, dropping the "
                "(1-beta) of (4.49); (4.62) is therefore valid but loose by 1/(1-beta) (first term) and 8 -> 8(1-beta).",
                variant="cor4.3.2-corrected"),
           Note("Cor 4.3.2", "gamma* need not satisfy (4.48); the thesis ignores it. check() reports it at gamma*.")),
    derivations=(Derivation("(4.64)", "(4.64)", "bound at gamma* <= tight <= (4.62)", _d_4_64),),
    variants=(COR_4_3_2_CORRECTED,),
)

# -- Corollary 4.3.3 (L_k = L_g, M_k = M_g), eq. (4.65) --------------------------------------------
_syms_433 = _tsyms("gamma_g", "beta", "B", "L_g", "M_g", "M_C", "Delta", "T")
_entries_433_stated = {
    "(1-beta)/(8L_g)": _ob / (8 * L_g),
    "B(1-beta)/(8L_gM_g)": B * _ob / (8 * L_g * M_g),
    "(1-beta)sqrt(B)/(4L_g sqrt(M_g))": _ob * sp.sqrt(B) / (4 * L_g * sp.sqrt(M_g)),
    "(1-beta)^2 sqrt(B)/(4beta^2 L_g sqrt(M_g))": _ob**2 * sp.sqrt(B) / (4 * beta**2 * L_g * sp.sqrt(M_g)),
    "(1-beta)/(4beta^2 L_g)": _ob / (4 * beta**2 * L_g),
}
_entries_433_exact = dict(_entries_433_stated)
del _entries_433_exact["(1-beta)/(4beta^2 L_g)"]
_entries_433_exact["(1-beta)^2/(4beta^2 L_g)"] = _ob**2 / (4 * beta**2 * L_g)
_entries_433_exact["(1-beta)/(4L_g)"] = _ob / (4 * L_g)


def _conds_433(entries: dict) -> tuple[Condition, ...]:
    return tuple(_cond(n, sp.Le(gamma_g, e), f"gamma_g <= {n}", "Cor4.3.3") for n, e in entries.items())


_bound_433_stated = 8 * _ob * Delta / (T * gamma_g) + M_C * L_g * gamma_g / _ob * (6 + 2 / _ob)
_bound_433_exact = 8 * _ob * Delta / (T * gamma_g) + M_C * L_g * gamma_g / (_ob * B) * (6 + 2 / _ob)


def _d_433_condition() -> DerivationResult:
    spec = _avg448["(4.48a)"][0]   # (4.48a): with L_k = L_g every gamma_k = gamma_g, so the average is gamma_g
    return compare("Cor 4.3.3 5th entry vs (4.48a)", _entries_433_stated["(1-beta)/(4beta^2 L_g)"], spec,
                   "(4.48a) specialised to L_k = L_g, gamma_k = gamma_g")


def _d_433_bound() -> DerivationResult:
    g = gamma_g * L_g   # gamma_k = gamma/L_k = gamma_g
    derived = K * _bound_432.subs({Linv_sum: K / L_g, kappa: 1, gamma: g}).subs(M, M_C / K)
    res = compare("(4.65) from (4.49)", _bound_433_stated, derived,
                  "K x (4.49) with L_k = L_g, kappa = 1, M = M_C/K (metric sum_k q_k |grad_k f|^2 = |grad f|^2 / K)")
    at_b1 = same(_bound_433_stated, derived.subs(B, 1))
    return DerivationResult(res.name, res.ok, res.detail + f"; identical when B = 1: {at_b1} (only the 1/B is missing)",
                            res.thesis, res.derived)


COR_4_3_3_CORRECTED = Theorem(
    key="cor4.3.3-corrected",
    title="Corollary 4.3.3 as it follows from Theorem 4.3.2 (L_k = L_g, M_k = M_g)",
    source="Cor 4.3.3, eqs. (4.58)-(4.59), (4.61), (4.65)",
    metric="1/T sum_t E|grad f(w_t)|^2",
    symbols=_syms_433, conditions=_conds_433(_entries_433_exact), bound_expr=_bound_433_exact,
    step=gamma_g, step_limit=sp.Min(*_entries_433_exact.values()), iteration=T,
    notes=(Note("Cor 4.3.3", "Fifth entry (1-beta)^2/(4beta^2 L_g) as (4.59) gives, (1-beta)/(4L_g) restored, "
                "and the variance term divided by B as K x (4.61) gives."),),
)
COR_4_3_3 = Theorem(
    key="cor4.3.3",
    title="Corollary 4.3.3 (mNAG when L_k = L_g and M_k = M_g)",
    source="Cor 4.3.3, eq. (4.65)",
    metric="1/T sum_t E|grad f(w_t)|^2",
    symbols=_syms_433, conditions=_conds_433(_entries_433_stated), bound_expr=_bound_433_stated,
    step=gamma_g, step_limit=sp.Min(*_entries_433_stated.values()), iteration=T,
    notes=(
        Note("Cor 4.3.3 condition", "Fifth entry is (1-beta)/(4 beta^2 L_g); specialising (4.59) gives "
             "(1-beta)^2/(4 beta^2 L_g), smaller by the factor (1-beta). For beta > sqrt(3)-1 it binds: at "
             "beta=0.9, L_g=1, M_g->0 the stated largest step is 0.0125, Theorem 4.3.2's is 0.01/3.24 = 0.003086.",
             variant="cor4.3.3-corrected"),
        Note("(4.65)", "Written with (1 - eta); eta is undefined in Ch. 4, read as (1 - beta)."),
        Note("(4.65)", "The variance term lacks the 1/B that K x (4.61) gives (M_C L_g gamma_g/((1-beta)B)); "
             "the stated bound is valid (B >= 1) but loose by the factor B.", variant="cor4.3.3-corrected"),
    ),
    derivations=(
        Derivation("Cor 4.3.3 5th entry vs (4.48a)", "Cor 4.3.3", "condition entry differs by (1-beta)",
                   _d_433_condition, expect_ok=False),
        Derivation("(4.65) from (4.49)", "(4.65)", "bound lacks 1/B", _d_433_bound, expect_ok=False),
    ),
    variants=(COR_4_3_3_CORRECTED,),
)

for _t in (THM_4_2_1, THM_4_3_1, COR_4_3_1, THM_4_3_2, COR_4_3_2, COR_4_3_3):
    register(_t)
del _t
