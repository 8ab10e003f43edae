"""Chapter 5 (Huo 2020): decoupled parallel backpropagation with delayed gradients (DDG).

Problem: non-convex f(w) (eq. 5.1), L-smooth (Assumption 5.4.1, eq. 5.10) with
bounded second moment |grad f_x(w)|^2 <= M (Assumption 5.4.2, eq. 5.11).
Algorithm: SGD on a network split into K modules; module k applies the
gradient delayed by K - k iterations (eqs. 5.8-5.9, Algorithm 9).
Quantities bounded: the one-step decrease (Lemma 5.4.1), the average squared
gradient norm (Thm 5.4.1, fixed gamma) and its gamma_t-weighted average
(Thm 5.4.2, gamma_t = gamma_0/(1+t)).

The step-size condition gamma L <= 1 does not depend on K; K enters the bound
through M_K = K M + sigma K^4 M (sigma = 1 fixed, sigma = K diminishing), so the
*useful* step (the minimiser ``optimal_step`` of the Thm 5.4.1 bound) shrinks
as K grows. Registered as stated; see bounds/NOTES.md (Chapters 4-6).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import sympy as sp
from scipy import special

from bounds.derive import compare, same
from bounds.theorem import (
    Condition, Derivation, DerivationResult, Note, Numeric, Quantity, Theorem, TheoremSymbol, register,
)

__all__ = ["SYMBOLS", "M_K", "harmonic_sums", "LEM_5_4_1", "LEM_5_4_1_CORRECTED", "THM_5_4_1",
           "THM_5_4_2", "COR_5_4_1", "COR_5_4_2"]

_DEFS: dict[str, tuple[dict, str, str | None, dict]] = {
    "gamma": ({"positive": True}, "learning rate gamma_t (fixed: gamma)", r"\gamma", {}),
    "gamma0": ({"positive": True}, "initial learning rate, gamma_t = gamma0/(1+t)", r"\gamma_0", {}),
    "L": ({"positive": True}, "Lipschitz constant of grad f (eq. 5.10)", None, {}),
    "M": ({"nonnegative": True}, "bound on E|grad f_x(w)|^2 (eq. 5.11)", None, {}),
    "K": ({"positive": True, "integer": True}, "number of modules (delay of module k is K-k)", None, {}),
    "sigma": ({"positive": True}, "max_t gamma_max(0,t-K+1)/gamma_t (Lemma 5.4.1)", r"\sigma", {"lower": 1.0}),
    "G": ({"nonnegative": True}, "|grad f(w^t)|^2 at the current iterate", r"\|\nabla f(w^t)\|^2", {}),
    "Delta": ({"nonnegative": True}, "f(w^0) - f(w^*)", r"\Delta", {}),
    "T": ({"positive": True, "integer": True}, "number of iterations", None, {}),
}
SYMBOLS: dict[str, sp.Symbol] = {n: sp.Symbol(n, **a) for n, (a, _, _, _) in _DEFS.items()}
gamma, gamma0, L, M, K, sigma, G, Delta, T = (SYMBOLS[n] for n in _DEFS)


def _tsyms(*names: str) -> tuple[TheoremSymbol, ...]:
    return tuple(TheoremSymbol(SYMBOLS[n], _DEFS[n][1], _DEFS[n][2], **_DEFS[n][3]) for n in names)


def M_K(sig: sp.Expr = sigma) -> sp.Expr:
    """M_K = K M + sigma K^4 M (Lemma 5.4.1, eq. 5.19)."""
    return K * M + sig * K**4 * M


def harmonic_sums(gamma0_: Any, T_: Any) -> tuple[np.ndarray, np.ndarray]:
    """(Gamma_T, S_T) = (sum_{t<T} gamma_t, sum_{t<T} gamma_t^2) for gamma_t = gamma0/(1+t).

    Closed forms H_T = psi(T+1) + Euler gamma, H_T^(2) = pi^2/6 - psi'(T+1); vectorised.
    """
    g0, Tn = np.broadcast_arrays(np.asarray(gamma0_, dtype=np.float64), np.asarray(T_, dtype=np.float64))
    H1 = special.digamma(Tn + 1.0) + np.euler_gamma
    H2 = np.pi**2 / 6.0 - special.polygamma(1, Tn + 1.0)
    return g0 * H1, g0 * g0 * H2


# ======================================================================================
# Lemma 5.4.1, eqs. (5.12)-(5.19)
# ======================================================================================
_lemma_bound = -gamma / 2 * G + gamma**2 * L * M_K()


def _d_5_19_combination() -> DerivationResult:
    Q3, Q4 = sp.symbols("Q3 Q4", nonnegative=True)
    # (5.14) with Q1 <= L g^2 Q3 + L g^2 Q4 (5.15) and Q2 <= (g - L g^2)/2 (G + Q4) (5.16)
    total = (-(gamma - L * gamma**2 / 2) * G + L * gamma**2 * Q3 + L * gamma**2 * Q4
             + (gamma - L * gamma**2) / 2 * (G + Q4))
    thesis = -gamma / 2 * G + gamma**2 * L * Q3 + (gamma + L * gamma**2) / 2 * Q4
    return compare("(5.14)-(5.16) => (5.19) first line", thesis, total, "sum of the bounds on Q1 and Q2")


def _d_5_19_final() -> DerivationResult:
    Q4b = L * gamma * sigma * K**4 * M                  # (5.18)
    slack = sp.factor(gamma**2 * L * sigma * K**4 * M - (gamma + L * gamma**2) / 2 * Q4b)
    expected = gamma**2 * L * sigma * K**4 * M * (1 - L * gamma) / 2
    ok = same(slack, expected)
    return DerivationResult("(5.19) second line needs gamma L <= 1", ok,
                            f"gamma^2 L sigma K^4 M - (gamma + L gamma^2)/2 * Q4 = {slack}: >= 0 iff gamma L <= 1, a "
                            "hypothesis used in (5.18)-(5.19) but absent from the statement of Lemma 5.4.1",
                            expected, slack)


def _d_5_18_count() -> DerivationResult:
    k = sp.Symbol("k", integer=True, positive=True)
    # tight count: ||sum_j||^2 <= n_k sum_j, n_k <= K - k terms each <= gamma_max^2 K M
    tight = sp.factor(K * sp.summation((K - k)**2, (k, 1, K)))
    slack = sp.factor(K**4 - tight)
    ok = same(slack, K**2 * (4 * K - 1) * (K + 1) / 6)
    return DerivationResult("(5.18) K^4 count", ok,
                            f"the proof's sums give K M sum_k (K-k)^2 = {tight} M <= K^4 M (slack {slack}): the "
                            "statement's M_K is valid and loose by about 3x on the K^4 term", K**4, tight)


def _d_sigma_harmonic() -> DerivationResult:
    got = []
    for Kv in range(1, 9):
        ratios = [sp.Rational(1 + t, 1 + max(0, t - Kv + 1)) for t in range(0, 4 * Kv + 2)]
        got.append(max(ratios))
    ok = got == [sp.Integer(v) for v in range(1, 9)]
    return DerivationResult("sigma = K for gamma_t = gamma0/(1+t)", ok,
                            f"max_t (1+t)/(1+max(0,t-K+1)) for K=1..8: {got} (attained at t = K-1)")


LEM_5_4_1_CORRECTED = Theorem(
    key="lem5.4.1-corrected",
    title="Lemma 5.4.1 with the hypothesis gamma_t L <= 1 its proof uses",
    source="Lemma 5.4.1, eqs. (5.12)-(5.19)",
    metric="E[f(w^{t+1})] - f(w^t) (one step, given w^t)",
    symbols=_tsyms("gamma", "L", "M", "K", "sigma", "G"),
    conditions=(Condition("gamma L <= 1", sp.Le(gamma, 1 / L), "used in the fourth inequality of (5.18) and in (5.19)", "(5.18)"),),
    bound_expr=_lemma_bound, step=gamma, step_limit=1 / L,
    quantities=(Quantity("M_K", M_K(), "variance-plus-delay constant", "(5.19)"),),
    assumptions=("Assumption 5.4.1", "Assumption 5.4.2"),
)
LEM_5_4_1 = Theorem(
    key="lem5.4.1",
    title="Lemma 5.4.1 (one-step decrease of DDG-SGD)",
    source="Lemma 5.4.1, eqs. (5.12)-(5.19)",
    metric="E[f(w^{t+1})] - f(w^t) (one step, given w^t)",
    symbols=_tsyms("gamma", "L", "M", "K", "sigma", "G"),
    conditions=(), bound_expr=_lemma_bound, step=gamma,
    quantities=(Quantity("M_K", M_K(), "variance-plus-delay constant", "(5.19)"),),
    assumptions=("Assumption 5.4.1", "Assumption 5.4.2"),
    notes=(
        Note("Lemma 5.4.1", "The statement has no step-size hypothesis, but (5.18) ('follows from L gamma_t <= 1') "
             "and (5.19) ((gamma + L gamma^2)/2 <= gamma) need gamma_t L <= 1 (derivation '(5.19) second line').",
             variant="lem5.4.1-corrected"),
        Note("(5.18)", "M_K = K M + sigma K^4 M is consistent with the proof: the sums give K^2 (K-1)(2K-1)/6 "
             "<= K^4, so the K^4 term is valid and loose (about 3x)."),
        Note("(5.14)", "The 'unbiased gradient' step takes E over the sample x_{i(t-K+k)} given w^t; for k < K "
             "that sample already influenced w^t through modules k' > k, so conditional unbiasedness is assumed, "
             "not shown. Not algebra: recorded as a gap."),
    ),
    derivations=(
        Derivation("(5.14)-(5.16) => (5.19) first line", "(5.19)", "combination of Q1, Q2 bounds", _d_5_19_combination),
        Derivation("(5.19) second line needs gamma L <= 1", "(5.19)", "the slack factor is (1 - L gamma)", _d_5_19_final),
        Derivation("(5.18) K^4 count", "(5.18)", "count of delayed terms", _d_5_18_count),
    ),
    variants=(LEM_5_4_1_CORRECTED,),
)

# ======================================================================================
# Theorem 5.4.1 (fixed learning rate), eqs. (5.20)-(5.23)
# ======================================================================================
_MK1 = M_K(sp.Integer(1))
_bound_541 = 2 * Delta / (gamma * T) + 2 * gamma * L * _MK1
_opt_541 = sp.Min(1 / L, sp.sqrt(Delta / (T * L * _MK1)))


def _d_5_23() -> DerivationResult:
    Gsum = sp.Symbol("Gsum", nonnegative=True)   # sum_t E|grad f(w^t)|^2
    # (5.22) with f(w*) <= E f(w^T): -Delta <= -gamma/2 Gsum + T gamma^2 L M_K, solved for Gsum / T
    derived = sp.solve(sp.Eq(-Delta, -gamma / 2 * Gsum + T * gamma**2 * L * _MK1), Gsum)[0] / T
    return compare("(5.22) => (5.23)", _bound_541, derived, "telescoped (5.21) divided by gamma T / 2")


THM_5_4_1 = Theorem(
    key="thm5.4.1",
    title="Theorem 5.4.1 (DDG-SGD, fixed learning rate)",
    source="Thm 5.4.1, eqs. (5.20)-(5.23)",
    metric="1/T sum_t E|grad f(w^t)|^2",
    symbols=_tsyms("gamma", "L", "M", "K", "Delta", "T"),
    conditions=(Condition("gamma L <= 1", sp.Le(gamma, 1 / L), "fixed rate with gamma L <= 1", "Thm5.4.1"),),
    bound_expr=_bound_541, step=gamma, step_limit=1 / L, iteration=T,
    assumptions=("Assumption 5.4.1", "Assumption 5.4.2", "sigma = 1"),
    quantities=(Quantity("M_K", _MK1, "K M + K^4 M (sigma = 1)", "Thm5.4.1"),
                Quantity("optimal_step", _opt_541, "admissible gamma minimising (5.20): min(1/L, sqrt(Delta/(T L M_K)))", "(5.20)"),
                Quantity("best_bound", _bound_541.subs(gamma, _opt_541), "(5.20) at optimal_step", "(5.20)")),
    notes=(Note("Thm 5.4.1", "The condition gamma L <= 1 does not involve K: the admissible step does not shrink with "
                "K; the neighbourhood 2 gamma L M_K grows like K^4 and optimal_step shrinks like K^-2."),),
    derivations=(Derivation("(5.22) => (5.23)", "(5.23)", "telescoping", _d_5_23),),
)

# ======================================================================================
# Theorem 5.4.2 and Corollaries 5.4.1-5.4.2 (gamma_t = gamma0/(1+t)), eqs. (5.24)-(5.28)
# ======================================================================================
_MKK = M_K(K)


def _bound_542(gamma0: np.ndarray, L: np.ndarray, M: np.ndarray, K: np.ndarray,
               T: np.ndarray, Delta: np.ndarray) -> np.ndarray:
    Gam, S = harmonic_sums(gamma0, T)
    return (2 * Delta + 2 * S * L * (K * M + K**5 * M)) / Gam


_NUM_542 = Numeric(_bound_542, ("gamma0", "L", "M", "K", "T", "Delta"),
                   "2 Delta/Gamma_T + 2 L M_K sum_t gamma_t^2/Gamma_T, gamma_t = gamma0/(1+t), M_K = K M + K^5 M")
_GAM = Numeric(lambda gamma0, T: harmonic_sums(gamma0, T)[0], ("gamma0", "T"), "Gamma_T = gamma0 H_T")
_SSQ = Numeric(lambda gamma0, T: harmonic_sums(gamma0, T)[1], ("gamma0", "T"), "sum gamma_t^2 = gamma0^2 H_T^(2)")
_syms_542 = _tsyms("gamma0", "L", "M", "K", "Delta", "T")
_cond_542 = (Condition("gamma_t L <= 1", sp.Le(gamma0, 1 / L),
                       "gamma_t L <= 1 for all t; gamma_t is decreasing so t = 0 binds", "Thm5.4.2"),)
_quant_542 = (Quantity("M_K", _MKK, "K M + K^5 M (sigma = K)", "Thm5.4.2"),
              Quantity("Gamma_T", _GAM, "sum_t gamma_t", "Thm5.4.2"),
              Quantity("S_T", _SSQ, "sum_t gamma_t^2", "Thm5.4.2"))


def _d_5_26() -> DerivationResult:
    W, Gam, S = sp.symbols("W Gamma_T S_T", positive=True)   # W = sum_t gamma_t E|grad f|^2
    derived = sp.solve(sp.Eq(-Delta, -W / 2 + S * L * _MKK), W)[0] / Gam
    thesis = 2 * Delta / Gam + 2 * S * L * _MKK / Gam
    return compare("(5.25) => (5.26)", thesis, derived, "telescoped (5.12) divided by Gamma_T / 2")


def _d_5_27() -> DerivationResult:
    t = sp.Symbol("t", integer=True, nonnegative=True)
    s1 = sp.summation(1 / (t + 1), (t, 0, sp.oo))
    s2 = sp.summation(1 / (t + 1)**2, (t, 0, sp.oo))
    ok = s1 == sp.oo and s2 == sp.pi**2 / 6
    return DerivationResult("(5.27)", ok, f"sum 1/(1+t) = {s1}; sum 1/(1+t)^2 = {s2} < oo")


def _d_5_24_limit() -> DerivationResult:
    Tn = sp.Symbol("T", positive=True, integer=True)
    sup_num = 2 * Delta + 2 * L * _MKK * gamma0**2 * sp.pi**2 / 6   # numerator of (5.24) is increasing to this
    lim = sp.limit(sup_num / (gamma0 * sp.harmonic(Tn)), Tn, sp.oo)
    return DerivationResult("(5.24) -> 0", lim == 0, f"(5.24) <= (2 Delta + 2 L M_K gamma0^2 pi^2/6)/(gamma0 H_T) -> {lim}")


THM_5_4_2 = Theorem(
    key="thm5.4.2",
    title="Theorem 5.4.2 (DDG-SGD, diminishing learning rate gamma0/(1+t))",
    source="Thm 5.4.2, eqs. (5.24)-(5.26)",
    metric="sum_t gamma_t E|grad f(w^t)|^2 / Gamma_T",
    symbols=_syms_542, conditions=_cond_542, bound_expr=_NUM_542,
    step=gamma0, step_limit=1 / L, iteration=T,
    assumptions=("Assumption 5.4.1", "Assumption 5.4.2", "sigma = K"),
    quantities=_quant_542,
    notes=(Note("Thm 5.4.2", "sigma = max_t gamma_max(0,t-K+1)/gamma_t equals K exactly for T >= K (at t = K-1) "
                "(derivation 'sigma = K'); M_K = K M + K^5 M. The bound decays like 1/log T."),),
    derivations=(Derivation("(5.25) => (5.26)", "(5.26)", "telescoping", _d_5_26),
                 Derivation("sigma = K for gamma_t = gamma0/(1+t)", "Thm5.4.2", "sigma of the schedule", _d_sigma_harmonic)),
)
COR_5_4_1 = Theorem(
    key="cor5.4.1",
    title="Corollary 5.4.1 (the right side of (5.24) tends to 0)",
    source="Cor 5.4.1, eq. (5.27)",
    metric="sum_t gamma_t E|grad f(w^t)|^2 / Gamma_T (-> 0 as T -> oo)",
    symbols=_syms_542, conditions=_cond_542, bound_expr=_NUM_542,
    step=gamma0, step_limit=1 / L, iteration=T, quantities=_quant_542,
    derivations=(Derivation("(5.27)", "(5.27)", "Robbins-Monro sums", _d_5_27),
                 Derivation("(5.24) -> 0", "Cor5.4.1", "limit of the bound", _d_5_24_limit)),
)


def _d_5_28_weights() -> DerivationResult:
    gs = sp.symbols("g0:4", positive=True)
    Gs = sp.symbols("G0:4", nonnegative=True)
    expectation = sum((g / sum(gs)) * x for g, x in zip(gs, Gs))     # E over s with P(s = t) = gamma_t/Gamma_T
    lhs_524 = sum(g * x for g, x in zip(gs, Gs)) / sum(gs)
    return compare("E|grad f(w^s)|^2 = LHS of (5.24)", lhs_524, expectation, "T = 4, P(s=t) proportional to gamma_t")


COR_5_4_2 = Theorem(
    key="cor5.4.2",
    title="Corollary 5.4.2 (convergence of a gamma_t-weighted random iterate)",
    source="Cor 5.4.2, eq. (5.28)",
    metric="E|grad f(w^s)|^2, s drawn from {0..T-1} with P(s=t) proportional to gamma_t",
    symbols=_syms_542, conditions=_cond_542, bound_expr=_NUM_542,
    step=gamma0, step_limit=1 / L, iteration=T, quantities=_quant_542,
    notes=(Note("(5.28)", "Written lim_{s->oo}; s is the random index, the limit is over T -> oo."),),
    derivations=(Derivation("E|grad f(w^s)|^2 = LHS of (5.24)", "(5.28)", "weighted sampling", _d_5_28_weights),
                 Derivation("(5.24) -> 0", "(5.28)", "limit of the bound", _d_5_24_limit)),
)

for _t in (LEM_5_4_1, THM_5_4_1, THM_5_4_2, COR_5_4_1, COR_5_4_2):
    register(_t)
del _t
