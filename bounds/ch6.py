"""Chapter 6 (Huo 2020): features replay (FR), Theorems 6.4.1-6.4.2.

Problem: non-convex f(w), L-smooth, with the FR descent direction
sum_k g_G(k)^t having bounded second moment M (Assumption 6.4.2) and being a
sufficient descent direction: <grad f, E sum_k g> >= sigma |grad f|^2 with
sigma > 0 (Assumption 6.4.1, eq. 6.10). Algorithm 11.
Lemma 6.4.1 (eq. 6.11): E f(w^{t+1}) - f(w^t) <= -sigma gamma_t |grad f|^2 + gamma_t^2 L M / 2.

Thm 6.4.1 has no step-size condition at all (the bound holds for every
gamma > 0), so it has no ``max_step``; ``optimal_step`` is the minimiser of
its bound. Thm 6.4.2 is stated for any sequence with (6.18); it is encoded
for the family gamma_t = gamma0 / (1+t)^p, for which (6.18) is exactly
1/2 < p <= 1, and :func:`schedule_bound` evaluates (6.19) for any given
sequence. Sums of the family use :func:`power_sum` (exact for T <= 1000,
Euler-Maclaurin beyond, error below 1e-15 relative).

Empirical sigma: :func:`bounds.estimators.estimate_sufficient_direction`.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import sympy as sp
from scipy import special

from bounds.derive import compare
from bounds.theorem import (
    Condition, Derivation, DerivationResult, Note, Numeric, Quantity, Theorem, TheoremSymbol, register,
)

__all__ = ["SYMBOLS", "power_sum", "schedule_bound", "THM_6_4_1", "THM_6_4_2", "REM_6_4_1"]

_DEFS: dict[str, tuple[dict, str, str | None, dict]] = {
    "gamma": ({"positive": True}, "fixed learning rate", r"\gamma", {}),
    "gamma0": ({"positive": True}, "initial learning rate, gamma_t = gamma0/(1+t)^p", r"\gamma_0", {}),
    "p": ({"positive": True}, "decay exponent of gamma_t = gamma0/(1+t)^p", None, {}),
    "L": ({"positive": True}, "Lipschitz constant of grad f (Assumption 6.4.2)", None, {}),
    "M": ({"nonnegative": True}, "bound on E|sum_k g_G(k)^t|^2 (Assumption 6.4.2)", None, {}),
    "sigma": ({"positive": True}, "sufficient-direction constant (eq. 6.10)", r"\sigma", {}),
    "Delta": ({"nonnegative": True}, "f(w^0) - f(w^*)", r"\Delta", {}),
    "T": ({"positive": True, "integer": True}, "number of iterations", None, {}),
}
SYMBOLS: dict[str, sp.Symbol] = {n: sp.Symbol(n, **a) for n, (a, _, _, _) in _DEFS.items()}
gamma, gamma0, p, L, M, sigma, Delta, T = (SYMBOLS[n] for n in _DEFS)
_N0 = 1000


def _tsyms(*names: str) -> tuple[TheoremSymbol, ...]:
    return tuple(TheoremSymbol(SYMBOLS[n], _DEFS[n][1], _DEFS[n][2], **_DEFS[n][3]) for n in names)


def _em_tail(N: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Euler-Maclaurin antiderivative part of sum_{n<=N} n^-s (without the constant)."""
    logN = np.log(N)
    lead = logN * special.exprel((1.0 - s) * logN)   # (N^(1-s) - 1)/(1-s), stable through s = 1
    return (lead + N**-s / 2 - s * N ** (-s - 1) / 12 + s * (s + 1) * (s + 2) * N ** (-s - 3) / 720
            - s * (s + 1) * (s + 2) * (s + 3) * (s + 4) * N ** (-s - 5) / 30240)


def power_sum(N: Any, s: Any) -> np.ndarray:
    """sum_{n=1}^{N} n^(-s) for integer N >= 1 and s > 0, vectorised (broadcasting)."""
    Nb, sb = np.broadcast_arrays(np.asarray(N, dtype=np.float64), np.asarray(s, dtype=np.float64))
    if np.any(Nb < 1) or np.any(Nb != np.round(Nb)) or not np.all(np.isfinite(Nb)):
        raise ValueError(f"N must hold integers >= 1, got {N!r}")
    if np.any(~(sb > 0)) or not np.all(np.isfinite(sb)):
        raise ValueError(f"s must hold finite numbers > 0, got {s!r}")
    out = np.empty(Nb.shape)
    Nf, sf, of = Nb.ravel(), sb.ravel(), out.reshape(-1)
    us, inv = np.unique(sf, return_inverse=True)
    n = np.arange(1, _N0 + 1, dtype=np.float64)
    table = np.cumsum(n[None, :] ** -us[:, None], axis=1)        # exact partial sums up to N0
    small = Nf <= _N0
    of[small] = table[inv[small], Nf[small].astype(np.int64) - 1]
    big = ~small
    if np.any(big):
        sv = sf[big]
        of[big] = table[inv[big], _N0 - 1] + _em_tail(Nf[big], sv) - _em_tail(np.full(sv.shape, float(_N0)), sv)
    return out


def schedule_bound(gammas: Any, *, L: float, M: float, sigma: float, Delta: float) -> np.ndarray:
    """(6.19) for a given positive sequence gamma_0..gamma_{T-1}: the bound after each T = 1..len."""
    g = np.asarray(gammas, dtype=np.float64)
    if g.ndim != 1 or g.size < 1 or not np.all(np.isfinite(g)) or np.any(g <= 0):
        raise ValueError(f"gammas must be a non-empty 1-d sequence of finite numbers > 0, got shape {g.shape}")
    for name, v, lo in (("L", L, 0.0), ("sigma", sigma, 0.0)):
        if not (np.isfinite(v) and v > lo):
            raise ValueError(f"{name} must be a finite number > 0, got {v!r}")
    for name, v in (("M", M), ("Delta", Delta)):
        if not (np.isfinite(v) and v >= 0):
            raise ValueError(f"{name} must be a finite number >= 0, got {v!r}")
    Gam, S = np.cumsum(g), np.cumsum(g * g)
    return Delta / (sigma * Gam) + L * M / (2 * sigma) * S / Gam


# ======================================================================================
# Theorem 6.4.1 (fixed learning rate), eqs. (6.14)-(6.17)
# ======================================================================================
_bound_641 = Delta / (sigma * gamma * T) + gamma * L * M / (2 * sigma)
_opt_641 = sp.sqrt(2 * Delta / (T * L * M))


def _d_6_17() -> DerivationResult:
    Gsum = sp.Symbol("Gsum", nonnegative=True)
    derived = sp.solve(sp.Eq(-Delta, -sigma * gamma * Gsum + gamma**2 * L * M * T / 2), Gsum)[0] / T
    return compare("(6.16) => (6.17)", _bound_641, derived, "telescoped (6.15) divided by sigma gamma T")


def _d_6_13() -> DerivationResult:
    Gn, ip, sq = sp.symbols("G ip sq", nonnegative=True)  # |grad f|^2, <grad f, E g>, E|g|^2
    # (6.12) in expectation with ip >= sigma G and sq <= M: each replacement only raises the right side
    step = -gamma * ip + L * gamma**2 / 2 * sq
    worst = step.subs({ip: sigma * Gn, sq: M})
    return compare("(6.12) => (6.13)", -sigma * gamma * Gn + gamma**2 * L * M / 2, worst,
                   "descent lemma with Assumptions 6.4.1-6.4.2 substituted at their extremes")


THM_6_4_1 = Theorem(
    key="thm6.4.1",
    title="Theorem 6.4.1 (features replay, fixed learning rate)",
    source="Thm 6.4.1, eqs. (6.11)-(6.17)",
    metric="1/T sum_t E|grad f(w^t)|^2",
    symbols=_tsyms("gamma", "L", "M", "sigma", "Delta", "T"),
    conditions=(), bound_expr=_bound_641, step=gamma, iteration=T,
    assumptions=("Assumption 6.4.1 (sufficient direction, sigma > 0)", "Assumption 6.4.2"),
    quantities=(Quantity("optimal_step", _opt_641, "gamma minimising (6.14): sqrt(2 Delta/(T L M))", "(6.14)"),
                Quantity("best_bound", sp.sqrt(2 * Delta * L * M / T) / sigma, "(6.14) at optimal_step", "(6.14)")),
    notes=(Note("Thm 6.4.1", "No step-size condition is stated or needed: Lemma 6.4.1 uses the second-moment "
                "bound M directly, so (6.14) holds for every gamma > 0 (no max_step)."),
           Note("Thm 6.4.1 vs Thm 5.4.1", "Lemma 5.4.1 is Lemma 6.4.1 with sigma = 1/2 and M = 2 M_K, so Thm 5.4.1's "
                "(5.20) is (6.14) with sigma = 1/2, M = 2 M_K.")),
    derivations=(Derivation("(6.12) => (6.13)", "(6.13)", "Lemma 6.4.1", _d_6_13),
                 Derivation("(6.16) => (6.17)", "(6.17)", "telescoping", _d_6_17)),
)

# ======================================================================================
# Theorem 6.4.2 (diminishing learning rate), eqs. (6.18)-(6.21); Remark 6.4.1 (6.22)
# ======================================================================================


def _sums(gamma0: np.ndarray, p: np.ndarray, T: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return gamma0 * power_sum(T, p), gamma0 * gamma0 * power_sum(T, 2 * p)


def _bound_642(gamma0: np.ndarray, p: np.ndarray, L: np.ndarray, M: np.ndarray, sigma: np.ndarray,
               T: np.ndarray, Delta: np.ndarray) -> np.ndarray:
    Gam, S = _sums(gamma0, p, T)
    return Delta / (sigma * Gam) + L * M / (2 * sigma) * S / Gam


_NUM_642 = Numeric(_bound_642, ("gamma0", "p", "L", "M", "sigma", "T", "Delta"),
                   "Delta/(sigma Gamma_T) + L M/(2 sigma) sum_t gamma_t^2/Gamma_T, gamma_t = gamma0/(1+t)^p")
_conds_642 = (
    Condition("(6.18) sum gamma_t^2 < oo", sp.StrictGreaterThan(p, sp.Rational(1, 2)),
              "sum_t gamma0^2 (1+t)^(-2p) converges iff p > 1/2", "(6.18)"),
    Condition("(6.18) sum gamma_t = oo", sp.Le(p, 1), "sum_t gamma0 (1+t)^(-p) diverges iff p <= 1", "(6.18)"),
)
_quant_642 = (Quantity("Gamma_T", Numeric(lambda gamma0, p, T: _sums(gamma0, p, T)[0], ("gamma0", "p", "T"),
                                          "sum_t gamma_t"), "Gamma_T", "Thm6.4.2"),
              Quantity("S_T", Numeric(lambda gamma0, p, T: _sums(gamma0, p, T)[1], ("gamma0", "p", "T"),
                                      "sum_t gamma_t^2"), "sum of squared rates", "Thm6.4.2"))


def _d_6_21() -> DerivationResult:
    W, Gam, S = sp.symbols("W Gamma_T S_T", positive=True)
    derived = sp.solve(sp.Eq(-Delta, -sigma * W + L * M / 2 * S), W)[0] / Gam
    thesis = Delta / (sigma * Gam) + L * M / (2 * sigma) * S / Gam
    return compare("(6.20) => (6.21)", thesis, derived, "telescoped (6.11) divided by sigma Gamma_T")


def _d_6_18_family() -> DerivationResult:
    t = sp.Symbol("t", integer=True, nonnegative=True)
    rows, ok = [], True
    for pv, div1, conv2 in ((sp.Rational(1, 2), True, False), (sp.Rational(3, 4), True, True),
                            (sp.Integer(1), True, True), (sp.Rational(3, 2), False, True)):
        s1 = sp.Sum(1 / (t + 1)**pv, (t, 0, sp.oo)).is_convergent()
        s2 = sp.Sum(1 / (t + 1)**(2 * pv), (t, 0, sp.oo)).is_convergent()
        got1, got2 = s1 == sp.false, s2 == sp.true
        ok &= (got1 == div1) and (got2 == conv2) and ((pv > sp.Rational(1, 2) and pv <= 1) == (div1 and conv2))
        rows.append(f"p={pv}: sum gamma_t converges: {s1}, sum gamma_t^2 converges: {s2}")
    return DerivationResult("(6.18) for gamma0/(1+t)^p iff 1/2 < p <= 1", ok, "; ".join(rows))


THM_6_4_2 = Theorem(
    key="thm6.4.2",
    title="Theorem 6.4.2 (features replay, diminishing learning rate)",
    source="Thm 6.4.2, eqs. (6.18)-(6.21)",
    metric="sum_t gamma_t E|grad f(w^t)|^2 / Gamma_T",
    symbols=_tsyms("gamma0", "p", "L", "M", "sigma", "Delta", "T"),
    conditions=_conds_642, bound_expr=_NUM_642, iteration=T,
    assumptions=("Assumption 6.4.1 (sufficient direction, sigma > 0)", "Assumption 6.4.2",
                 "gamma_t = gamma0/(1+t)^p (one family satisfying (6.18))"),
    quantities=_quant_642,
    notes=(Note("Thm 6.4.2 proof", "Cites '(6.11) in Lemma 5.4.1'; (6.11) is Lemma 6.4.1."),
           Note("(6.18)", "(6.19) holds for every positive sequence and every T; (6.18) is only needed for the limit "
                "(Remark 6.4.1). schedule_bound() evaluates (6.19) for an arbitrary sequence.")),
    derivations=(Derivation("(6.20) => (6.21)", "(6.21)", "telescoping", _d_6_21),
                 Derivation("(6.18) for gamma0/(1+t)^p iff 1/2 < p <= 1", "(6.18)", "the encoded family", _d_6_18_family)),
)


def _d_6_22_limit() -> DerivationResult:
    Tn = sp.Symbol("T", positive=True, integer=True)
    sup_num = Delta / sigma + L * M / (2 * sigma) * gamma0**2 * sp.pi**2 / 6   # p = 1
    lim = sp.limit(sup_num / (gamma0 * sp.harmonic(Tn)), Tn, sp.oo)
    return DerivationResult("(6.19) -> 0 (p = 1)", lim == 0, f"(6.19) <= (Delta/sigma + L M gamma0^2 pi^2/(12 sigma))/Gamma_T -> {lim}")


REM_6_4_1 = Theorem(
    key="rem6.4.1",
    title="Remark 6.4.1 (convergence of a gamma_t-weighted random iterate, features replay)",
    source="Rem 6.4.1, eq. (6.22)",
    metric="E|grad f(w^s)|^2, s drawn from {0..T-1} with P(s=t) proportional to gamma_t",
    symbols=_tsyms("gamma0", "p", "L", "M", "sigma", "Delta", "T"),
    conditions=_conds_642, bound_expr=_NUM_642, iteration=T, quantities=_quant_642,
    notes=(Note("(6.22)", "Written lim_{s->oo}; s is the random index, the limit is over T -> oo."),),
    derivations=(Derivation("(6.19) -> 0 (p = 1)", "(6.22)", "limit of the bound", _d_6_22_limit),),
)

for _t in (THM_6_4_1, THM_6_4_2, REM_6_4_1):
    register(_t)
del _t
