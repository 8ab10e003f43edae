"""Chapter 3 theorems: Dis-dfSDCA (Alg. 6/7), thesis §3.4 (Theorems 3.4.1-3.4.4).

Problem: P(w) = 1/n sum phi_i(w) + lam/2 |w|^2 (3.1). Algorithm: the server
applies w <- w - eta v (3.5) with v a sum of H dual residues computed at a
stale read w^{d(t)}, d(t) >= t - tau (3.11), Alg. 7. Guarantees:

* thm3.4.1  convex phi_i: eta <= 1/(4 H L tau^2 + lam n + 2L) (3.18)
  => E[C_T] <= (1 - eta lam H) E[C_0] (3.19), C_t = A_t/(2 lam L) + B_t.
* thm3.4.2  S outer rounds: E[C_{S,0}] <= (1 - eta lam H)^S E[C_{0,0}] (3.25),
  outer-iteration count (3.27), made explicit via (3.24).
* thm3.4.3  non-convex phi_i, convex f: eta <= (3.30) => (3.31).
* thm3.4.4  S outer rounds of 3.4.3: (3.36), count (3.37).

Derivation checks and discrepancies (Lemma 3.4.1/3.4.2 algebra) are in each
theorem's ``derivations`` / ``notes`` and in bounds/NOTES.md; corrected forms
are the variants ``thm3.4.1-corrected``, ``thm3.4.3-corrected``,
``thm3.4.4-corrected``. ``thm3.4.3-young`` / ``thm3.4.4-young`` rebuild Lemma 3.4.2's
(3.29) with Young's inequality at weight lam/4 (:func:`lemma_342_young`), which gives
-(3/2) eta lam H B_t, so (3.31)/(3.36) hold with 1 - eta lam H as printed.
"""
from __future__ import annotations

import sympy as sp

from bounds.derive import certify_identity, compare, relax, same, step_limit_from_quadratic, young
from bounds.theorem import (
    Condition, Derivation, DerivationResult, Note, Quantity, Theorem, TheoremSymbol, register,
)

# -- symbols (names are the parameter names: --L, --lam, --n, --H, --tau, --eta, ...) --
L = sp.Symbol("L", positive=True)
lam = sp.Symbol("lam", positive=True)
n = sp.Symbol("n", positive=True, integer=True)
H = sp.Symbol("H", positive=True, integer=True)
tau = sp.Symbol("tau", nonnegative=True, integer=True)
eta = sp.Symbol("eta", positive=True)
T = sp.Symbol("T", positive=True, integer=True)
S = sp.Symbol("S", nonnegative=True, integer=True)
eps = sp.Symbol("eps", positive=True)
C0 = sp.Symbol("C0", positive=True)

SYM = {
    "L": TheoremSymbol(L, "Lipschitz constant of grad phi_i, Assumption 3.4.1 (3.9)"),
    "lam": TheoremSymbol(lam, "l2 regularisation lambda of P (3.1)", latex_name=r"\lambda"),
    "n": TheoremSymbol(n, "number of samples (3.1)"),
    "H": TheoremSymbol(H, "dual residues per worker message, |I_t| = H (Alg. 7, 3.13)"),
    "tau": TheoremSymbol(tau, "maximum staleness, d(t) >= t - tau (3.11)", latex_name=r"\tau"),
    "eta": TheoremSymbol(eta, "step size (3.5), (3.7)", latex_name=r"\eta"),
    "T": TheoremSymbol(T, "server iterations per outer round (Alg. 6)"),
    "S": TheoremSymbol(S, "outer rounds (Alg. 6)"),
    "eps": TheoremSymbol(eps, "target expected suboptimality E[P(w^{S,0}) - P(w*)]",
                         latex_name=r"\varepsilon"),
    "C0": TheoremSymbol(C0, "initial E[C_{0,0}] (the theorem's C_t at the start)", latex_name=r"C_{0,0}"),
}

# placeholders for the expectations in Lemmas 3.4.1/3.4.2 (derivation checks only)
A_t, B_t = sp.symbols("A_t B_t", nonnegative=True)          # (3.14), (3.15)
V = sp.Symbol("V", nonnegative=True)                          # E|v^t|^2
VS = sp.Symbol("V_window", nonnegative=True)                  # sum_{j=d(t)}^{t-1} E|v^j|^2
P_t, P_d = sp.symbols("P_t P_d", nonnegative=True)            # P(w^t)-P*, P(w^{d(t)})-P*
X = sp.Symbol("X", real=True)                                 # <w^t - w^{d(t)}, grad P(w^{d(t)})>

ETA_CONVEX = 1 / (4 * H * L * tau**2 + lam * n + 2 * L)                                     # (3.18)
ETA_CONVEX_CORRECTED = 1 / (4 * H * L * tau**2 + 2 * H * lam * tau**2 + lam * n + 2 * L)
ETA_NONCONVEX = lam**2 / (2 * H * L * tau**2 * lam**2 + 8 * H * L * tau**2 * (L + lam)**2
                          + 4 * lam * L**2 + n * lam**3)                                    # (3.30)

ASSUME_COMMON = (
    "Assumption 3.4.1: grad phi_i is L-Lipschitz (3.9), so P is (L + lam)-smooth (3.10)",
    "Assumption 3.4.2: bounded staleness d(t) >= t - tau (3.11); tau < T within a round (§3.4.1)",
    "no duplicate samples in I_t, |I_t| = H (after 3.13)",
)
ASSUME_CONVEX = ASSUME_COMMON + ("Assumption 3.4.3: every phi_i convex (3.12)",)
ASSUME_NONCONVEX = ASSUME_COMMON + ("f = 1/n sum phi_i convex; phi_i may be non-convex (§3.4.2)",)


TAU_LT_T = Condition(
    "tau_lt_T", sp.StrictLessThan(tau, T),
    "the staleness stays below the round length T ('tau ... less than T', §3.4.1 after (3.27)): every read "
    "in a round is of that round; margin T - tau in iterations (checked when T is given)",
    "§3.4.1", optional=True)


def _conditions(limit: sp.Expr, source: str, proof_eq: str, per_round: bool = False) -> tuple[Condition, ...]:
    """The step-size condition, eta L <= 1, H <= n; plus tau < T for the per-round theorems (T given)."""
    return (
        Condition("step_size", sp.Le(eta, limit), "step-size condition of the theorem", source),
        Condition("eta_L_le_1", sp.Le(eta, 1 / L),
                  "eta L <= 1, used in the proof when summing the delay terms", proof_eq),
        Condition("H_le_n", sp.Le(H, n), "I_t holds H distinct samples, so H <= n (after 3.13); "
                  "margin in samples", "(3.13)"),
    ) + ((TAU_LT_T,) if per_round else ())


def _count_quantities(rate: sp.Expr, limit: sp.Expr, order: sp.Expr, src: str) -> tuple[Quantity, ...]:
    """Outer-iteration counts from (3.24) + contraction ``1 - rate`` per round."""
    logterm = sp.log((L + lam) * C0 / (2 * eps))
    at_max = sp.simplify(rate.subs(eta, limit))
    return (
        Quantity("suboptimality_bound", (L + lam) / 2 * (1 - rate)**S * C0,
                 "E[P(w^{S,0}) - P(w*)] <= (L + lam)/2 (1 - rate)^S E[C_{0,0}]", "(3.24)", promise=True),
        Quantity("outer_iterations", sp.Max(0, logterm / (-sp.log(1 - rate))),
                 "exact S with (L+lam)/2 (1-rate)^S C0 <= eps", f"(3.24), {src}", promise=True),
        Quantity("outer_iterations_relaxed", sp.Max(0, logterm / rate),
                 "sufficient S = log((L+lam) C0/(2 eps)) / rate (uses -log(1-x) >= x)", f"(3.24), {src}",
                 promise=True),
        Quantity("outer_iterations_at_max_step", sp.Max(0, logterm / at_max),
                 "relaxed S at eta = largest step: the O(.) of the thesis with its constants", src),
        Quantity("outer_iterations_order", order * sp.log(1 / eps),
                 "the thesis's O(.) expression without constants", src),
    )


# ---------------------------------------------------------------- derivations, convex
def _lemma341_combined(b_factor: sp.Expr) -> sp.Expr:
    """RHS of E[C_{t+1} - C_t] from (3.16) / (2 lam L) + (3.17) (with B terms scaled by b_factor)."""
    dA = (-eta * lam * H * A_t - 2 * eta * H * L * lam**2 * B_t + 4 * eta * lam * H * L * P_t
          - eta * lam * (1 - eta * lam * n) * V + 2 * lam * tau * H * L**2 * eta**3 * VS)   # (3.16)
    dB = -2 * eta * b_factor * P_d + eta**2 * V - 2 * eta * b_factor * X                   # (3.17)
    return sp.expand(dA / (2 * lam * L) + dB)


THESIS_320 = sp.expand(-eta * lam * H * (A_t / (2 * lam * L) + B_t) + 2 * tau * H * L * eta**3 * VS
                       + (eta**2 * lam * n / (2 * L) + eta**2 - eta / (2 * L)) * V)            # (3.20)


def _d_320_coefficients() -> DerivationResult:
    comb = _lemma341_combined(1)
    bad = [name for name, s in (("A_t", A_t), ("B_t", B_t), ("E|v^t|^2", V))
           if not same(comb.coeff(s), THESIS_320.coeff(s))]
    return DerivationResult(
        "3.16+3.17->3.20 (C_t and v^t terms)", not bad,
        "coefficients of A_t, B_t (-> (1 - eta lam H) C_t) and E|v^t|^2 "
        f"(eta^2 lam n/(2L) + eta^2 - eta/(2L)) {'agree' if not bad else 'differ: ' + ', '.join(bad)}; "
        f"the delay term from (3.16) alone is {sp.sstr(comb.coeff(VS))} * sum E|v^j|^2, "
        f"(3.20) has {sp.sstr(THESIS_320.coeff(VS))}", THESIS_320, comb)


def _d_320_function_terms() -> DerivationResult:
    comb = _lemma341_combined(1)
    residual = sp.expand(comb - THESIS_320)
    at_tau0 = sp.factor(residual.subs({VS: 0, X: 0, P_d: P_t}))   # tau = 0: w^{d(t)} = w^t
    ok = at_tau0 == 0
    return DerivationResult(
        "3.16+3.17->3.20 (function-value terms)", ok,
        f"(3.16)/(2 lam L) + (3.17) - (3.20) = {sp.sstr(residual)}; with tau = 0 (w^{{d(t)}} = w^t, X = 0) "
        f"it is {sp.sstr(at_tau0)}, which is > 0 for H >= 2 whenever P(w^t) > P*: (3.20) does not follow "
        "from (3.17) as printed. Since E[v^t] = H grad P(w^{d(t)}) (3.13), (3.17) should carry a factor H on "
        "its two first-order terms; then the residual is 2 eta H [P(w^t) - P(w^d) - X] <= "
        "eta H (L+lam) |w^t - w^d|^2 <= tau H (L+lam) eta^3 sum E|v^j|^2 by (3.10).",
        THESIS_320, comb)


def _d_320_corrected() -> DerivationResult:
    comb = _lemma341_combined(H)
    residual = sp.expand(comb - THESIS_320)
    at_tau0 = sp.factor(residual.subs({VS: 0, X: 0, P_d: P_t}))
    # the (L+lam)-smoothness bound of the function-value residual, (3.10):
    delay = sp.expand(comb.coeff(VS) + tau * H * (L + lam) * eta**3)
    expected = tau * H * (2 * L + lam) * eta**3
    ok = at_tau0 == 0 and same(delay, expected)
    return DerivationResult(
        "3.17 with factor H -> corrected (3.20)", ok,
        f"with H in (3.17) the tau = 0 residual is {sp.sstr(at_tau0)}; the delay coefficient becomes "
        f"{sp.sstr(sp.factor(delay))} (thesis: 2 tau H L eta^3; equal only if P were L-smooth instead "
        "of (L+lam)-smooth). Summing with eta L <= 1 gives the condition "
        "eta <= 1/(4 H L tau^2 + 2 H lam tau^2 + lam n + 2L).", 2 * tau * H * L * eta**3, delay)


def _d_321_sum() -> DerivationResult:
    summed = 2 * tau * H * L * eta**3 * tau       # each j lies in at most tau windows [d(t), t-1]
    relaxed = 2 * H * tau**2 * eta**2
    gap = sp.factor(relaxed - summed)
    ok = same(gap, 2 * H * tau**2 * eta**2 * (1 - eta * L))
    return DerivationResult(
        "3.20->3.21 (sum over t)", ok,
        f"sum_t sum_(j=d(t))^(t-1) E|v^j|^2 <= tau sum_t E|v^t|^2 (each j lies in at most tau windows), so the "
        f"delay term sums to {sp.sstr(summed)} * sum E|v^t|^2; (3.21) writes {sp.sstr(relaxed)}; the gap is "
        f"{sp.sstr(gap)} >= 0 iff eta L <= 1. Units: eta ~ 1/L, so eta L is dimensionless and the L "
        "disappears legitimately, but only through eta L <= 1 (which (3.18) implies).", relaxed, summed)


def _d_322_quadratic() -> DerivationResult:
    quad = 2 * H * tau**2 * eta**2 + eta**2 * lam * n / (2 * L) + eta**2 - eta / (2 * L)
    return compare("3.21->3.22 (solve for eta)", ETA_CONVEX, step_limit_from_quadratic(quad, eta),
                   "largest eta with 2 H tau^2 eta^2 + eta^2 lam n/(2L) + eta^2 - eta/(2L) <= 0")


def _d_318_implies_etaL(limit: sp.Expr, name: str) -> DerivationResult:
    gap = sp.simplify(1 / limit - L)          # 1/eta_max - L > 0  <=>  eta_max L < 1
    ok = bool(gap.is_positive)
    return DerivationResult(name, ok, f"1/eta_max - L = {sp.sstr(gap)} is positive for positive symbols, "
                            "so eta <= eta_max implies eta L < 1/2", limit, gap)


def _d_count_convex() -> DerivationResult:
    rate = eta * lam * H
    s_exact = sp.log((L + lam) * C0 / (2 * eps)) / (-sp.log(1 - rate))
    at_s = sp.simplify(sp.expand_log((L + lam) / 2 * (1 - rate)**s_exact * C0, force=True))
    explicit = sp.expand(1 / (ETA_CONVEX * lam * H))
    ok = same(at_s, eps) and same(explicit, 4 * L * tau**2 / lam + 2 * L / (lam * H) + n / H)
    return DerivationResult(
        "3.24+3.25->3.27 (outer iterations)", ok,
        f"at S = log((L+lam) C0/(2 eps)) / -log(1 - eta lam H) the bound (3.24) equals {sp.sstr(at_s)}; "
        f"1/(eta lam H) at eta of (3.26) is {sp.sstr(explicit)} = O((L/lam)(tau^2 + 1/H) + n/H) as (3.27) "
        "states (ratio in [1, 4])", eps, at_s)


# ---------------------------------------------------------------- derivations, non-convex
def _lemma342_combined(h_power_typo: bool, b_weight: sp.Expr = sp.Integer(1)) -> sp.Expr:
    """E[C_{t+1} - C_t] from (3.28)/(4L^2) + (3.29); ``h_power_typo`` keeps the printed H^2."""
    dA = (-eta * lam * H * A_t + 2 * eta * lam * H * L**2 * B_t - eta * lam * (1 - eta * lam * n) * V
          + 2 * lam * tau * H * L**2 * eta**3 * VS)                                          # (3.28)
    hh = H**2 if h_power_typo else 1
    dB = (-sp.Rational(3, 4) * eta * lam * H * B_t + eta**2 * V
          + 2 * H * tau * hh * (L + lam)**2 * eta**3 / lam * VS)                             # (3.29)
    return sp.expand(dA / (4 * L**2) + b_weight * dB)


THESIS_332 = sp.expand(-eta * lam * H * (A_t / (4 * L**2) + B_t)
                       + (lam * H * tau * eta**3 / 2 + 2 * H * tau * (L + lam)**2 * eta**3 / lam) * VS
                       + (eta**2 + n * eta**2 * lam**2 / (4 * L**2) - eta * lam / (4 * L**2)) * V)  # (3.32)


def _d_329_typo() -> DerivationResult:
    printed = _lemma342_combined(True).coeff(VS)
    fixed = _lemma342_combined(False).coeff(VS)
    ok = same(printed, THESIS_332.coeff(VS))
    return DerivationResult(
        "3.29 delay coefficient (2 H tau H^2)", ok,
        f"with (3.29) as printed the delay coefficient of (3.32) would be {sp.sstr(sp.factor(printed))}; "
        f"(3.32) uses {sp.sstr(sp.factor(THESIS_332.coeff(VS)))}, which is what (3.29) gives with the "
        f"extra H^2 deleted ({'equal' if same(fixed, THESIS_332.coeff(VS)) else 'still different'}): "
        "the H^2 in (3.29) is a typo", THESIS_332.coeff(VS), printed)


def _d_332_contraction() -> DerivationResult:
    comb = _lemma342_combined(False)
    cb = sp.factor(comb.coeff(B_t))
    ok = same(cb, THESIS_332.coeff(B_t)) and same(comb.coeff(A_t), THESIS_332.coeff(A_t))
    return DerivationResult(
        "3.28+3.29->3.32 (contraction)", ok,
        f"B_t coefficient: (3.28)/(4L^2) gives +eta lam H/2, (3.29) gives -3 eta lam H/4, total {sp.sstr(cb)}; "
        f"(3.32) needs {sp.sstr(THESIS_332.coeff(B_t))} for (1 - eta lam H) C_t. The A_t part contracts by "
        "(1 - eta lam H), the B_t part only by (1 - eta lam H/4), so (3.31) should read "
        "E[C_T] <= (1 - eta lam H/4) E[C_0]", THESIS_332.coeff(B_t), cb)


def _d_332_corrected() -> DerivationResult:
    comb = _lemma342_combined(False)
    rest = sp.expand(comb - (-eta * lam * H / 4) * (A_t / (4 * L**2) + B_t))
    ca, cb = sp.factor(rest.coeff(A_t)), sp.factor(rest.coeff(B_t))
    ok = bool((-ca).is_nonnegative) and cb == 0 and same(rest.coeff(V), THESIS_332.coeff(V))
    return DerivationResult(
        "corrected (3.32): contraction 1 - eta lam H/4", ok,
        f"after subtracting -(eta lam H/4) C_t the A_t coefficient is {sp.sstr(ca)} <= 0 and the B_t "
        f"coefficient {sp.sstr(cb)}; the v^t and delay terms are those of (3.32), so (3.33)-(3.34) hold "
        "unchanged", -eta * lam * H, -eta * lam * H / 4)


def _d_332_v_term() -> DerivationResult:
    comb = _lemma342_combined(False)
    return compare("3.28+3.29->3.32 (v^t term)", THESIS_332.coeff(V), comb.coeff(V),
                   "coefficient of E|v^t|^2")


def _d_333_sum() -> DerivationResult:
    summed = sp.expand(THESIS_332.coeff(VS) * tau)
    thesis = lam * H * tau**2 * eta**2 / (2 * L) + 2 * H * tau**2 * (L + lam)**2 * eta**2 / (lam * L)
    gap = sp.factor(thesis - summed)
    ok = same(gap / thesis, 1 - eta * L)
    return DerivationResult(
        "3.32->3.33 (sum over t)", ok,
        f"summing gives {sp.sstr(sp.factor(summed))}; (3.33) writes {sp.sstr(sp.factor(thesis))}; "
        f"gap {sp.sstr(gap)} >= 0 iff eta L <= 1", thesis, summed)


def _d_334_quadratic() -> DerivationResult:
    quad = (eta**2 + n * eta**2 * lam**2 / (4 * L**2) + lam * H * tau**2 * eta**2 / (2 * L)
            + 2 * H * tau**2 * (L + lam)**2 * eta**2 / (lam * L) - eta * lam / (4 * L**2))
    return compare("3.33->3.34 (solve for eta)", ETA_NONCONVEX, step_limit_from_quadratic(quad, eta),
                   "largest eta with the bracket of (3.33) <= 0")


def _d_330_implies_etaL() -> DerivationResult:
    num = sp.expand(sp.numer(sp.together(1 / (ETA_NONCONVEX * L) - 1)))
    cert = (2 * H * L * tau**2 * lam**2 + 8 * H * L * tau**2 * (L + lam)**2
            + lam * ((2 * L - lam / 4)**2 + (n - sp.Rational(1, 16)) * lam**2))
    ok = certify_identity(num, cert)
    return DerivationResult(
        "3.30 implies eta L <= 1", ok,
        f"1/(eta_max L) - 1 has numerator {sp.sstr(num)} = 2HL tau^2 lam^2 + 8HL tau^2 (L+lam)^2 + "
        "lam ((2L - lam/4)^2 + (n - 1/16) lam^2) > 0 for n >= 1 (sum of squares), so (3.30) implies "
        "eta L < 1 (indeed eta L <= 1/(4 sqrt(n)) by AM-GM)", ETA_NONCONVEX, num)


def _d_count_nonconvex() -> DerivationResult:
    explicit = sp.expand(1 / (ETA_NONCONVEX * lam * H))
    expanded = (10 * tau**2 * L / lam + 16 * tau**2 * L**2 / lam**2 + 8 * tau**2 * L**3 / lam**3
                + 4 * L**2 / (lam**2 * H) + n / H)
    ok = same(explicit, expanded)
    return DerivationResult(
        "3.36->3.37 (outer iterations)", ok,
        f"1/(eta lam H) at eta of (3.30) = {sp.sstr(expanded)}; the O(.) of (3.37) keeps "
        "(tau^2 + 1/H) L^2/lam^2 + tau^2 L^3/lam^3 + n/H and drops 10 tau^2 L/lam, which is dominated "
        "only when L >= lam (then the ratio lies in [1, 26])", explicit, expanded)


# ---------------------------------------------------------------- (3.29) rebuilt with Young's inequality
def lemma_342_young(c: sp.Expr | None = None) -> tuple[sp.Expr, tuple[tuple[str, bool, str], ...]]:
    """Rebuild Lemma 3.4.2's (3.29) step by step; return (upper bound on E[B_{t+1} - B_t], steps).

    Ingredients (all from the thesis): w^{t+1} = w^t - eta v^t (3.5); E[v^t] = H grad P(w^{d(t)})
    ((3.13): H distinct samples, E[v_i^t] = grad P(w^{d(t)})); P is lam-strongly convex (f convex in
    Thm 3.4.3, plus lam/2 |w|^2 of (3.1)) with grad P(w*) = 0, and (L + lam)-smooth (3.10);
    w^t - w^{d(t)} = -eta sum_{j=d(t)}^{t-1} v^j with t - d(t) <= tau (3.11). Young's inequality at
    weight ``c`` (default lam/4): a g <= c a^2 + g^2/(4c). Each step is a sympy check; ``steps`` holds
    (name, ok, detail). Placeholders: a = |w^t - w*| (B_t = a^2), s = <w^t - w*, grad P(w^t)>,
    x = <w^t - w*, grad P(w^d) - grad P(w^t)>, g = |grad P(w^d) - grad P(w^t)|, delta = |w^t - w^d|,
    V = E|v^t|^2, V_window = sum_j E|v^j|^2.
    """
    c = lam / 4 if c is None else c
    a, g, dl = sp.symbols("a g delta", nonnegative=True)
    s_, x_ = sp.symbols("s x", real=True)
    steps: list[tuple[str, bool, str]] = []
    # step 0: |u - eta v|^2 - |u|^2 = -2 eta <u, v> + eta^2 |v|^2 (3-vectors), then E v = H grad P(w^d)
    u, v = sp.Matrix(sp.symbols("u1:4", real=True)), sp.Matrix(sp.symbols("v1:4", real=True))
    ok0 = sp.expand((u - eta * v).dot(u - eta * v) - u.dot(u) - (-2 * eta * u.dot(v) + eta**2 * v.dot(v))) == 0
    expr = -2 * eta * H * (s_ + x_) + eta**2 * V
    steps.append(("B_{t+1} - B_t", ok0, "|w^t - eta v^t - w*|^2 - |w^t - w*|^2 = -2 eta <w^t - w*, v^t> + "
                  "eta^2 |v^t|^2 (identity); E v^t = H grad P(w^d) gives -2 eta H (s + x) + eta^2 V"))
    # step 1: strong convexity, s >= lam a^2
    expr, ok, det = relax(expr, s_, lam * a**2, target_at_least=True)
    steps.append(("strong convexity", ok, "<w - w*, grad P(w) - grad P(w*)> >= lam |w - w*|^2; " + det))
    # step 2: Cauchy-Schwarz, x >= -a g
    expr, ok, det = relax(expr, x_, -a * g, target_at_least=True)
    steps.append(("Cauchy-Schwarz", ok, det))
    # step 3: Young, a g <= c a^2 + g^2/(4c)
    ag = sp.Symbol("ag", nonnegative=True)
    rhs, okc = young(a, g, c)
    expr, ok, det = relax(expr.subs(a * g, ag), ag, rhs, target_at_least=False)
    steps.append(("Young", ok and okc, f"a g <= {sp.sstr(rhs)} (certificate: {okc}); " + det))
    # step 4: (L + lam)-smoothness (3.10), g^2 <= (L + lam)^2 delta^2
    g2, d2 = sp.symbols("g2 delta2", nonnegative=True)
    expr, ok, det = relax(expr.subs(g**2, g2), g2, (L + lam)**2 * d2, target_at_least=False)
    steps.append(("smoothness (3.10)", ok, det))
    # step 5: delta^2 = eta^2 |sum_j v^j|^2 <= tau eta^2 sum_j |v^j|^2 (m = t - d(t) <= tau terms)
    xs = sp.symbols("x1:4", real=True)
    cs_ok = certify_identity(3 * sum(t**2 for t in xs) - sum(xs)**2,
                             sum((xs[i] - xs[j])**2 for i in range(3) for j in range(i + 1, 3)))
    expr, ok, det = relax(expr, d2, tau * eta**2 * VS, target_at_least=False)
    steps.append(("delay (3.11)", ok and cs_ok, "m sum x_j^2 - (sum x_j)^2 = sum_{i<j} (x_i - x_j)^2 (m = 3, "
                  f"per coordinate: {cs_ok}), and m = t - d(t) <= tau; " + det))
    return sp.expand(expr.subs(a**2, B_t)), tuple(steps)


THESIS_329 = {"B_t": -sp.Rational(3, 4) * eta * lam * H, "V_window": 2 * H * tau * (L + lam)**2 * eta**3 / lam}


def _d_329_young() -> DerivationResult:
    bound, steps = lemma_342_young()
    cb, cd, cv = (sp.factor(bound.coeff(x)) for x in (B_t, VS, V))
    ok_steps = all(ok for _, ok, _ in steps)
    ok = (ok_steps and same(cb, -sp.Rational(3, 2) * eta * lam * H) and same(cd, THESIS_329["V_window"])
          and same(cv, eta**2))
    # the general weight c in (0, lam): B coefficient -2 eta H (lam - c), delay eta^3 H tau (L+lam)^2/(2c)
    cc = sp.Symbol("c", positive=True)
    gen, _ = lemma_342_young(cc)
    need = sp.solve(sp.Eq(gen.coeff(B_t) + eta * lam * H / 2, -eta * lam * H), cc)  # (3.32) needs -eta lam H total
    dlay = sp.diff(gen.coeff(VS), cc)
    return DerivationResult(
        "(3.29) rebuilt with Young at lam/4", ok,
        "; ".join(f"{n}: {'ok' if k else 'FAILS'} ({d})" for n, k, d in steps)
        + f". Result: E[B_(t+1) - B_t] <= {sp.sstr(cb)} B_t + {sp.sstr(cd)} sum_j E|v^j|^2 + {sp.sstr(cv)} E|v^t|^2. "
        f"Printed (3.29): {sp.sstr(THESIS_329['B_t'])} B_t (valid, weaker: B_t >= 0) and the same delay term "
        f"without the H^2. General weight c: B coefficient {sp.sstr(sp.factor(gen.coeff(B_t)))}, delay "
        f"{sp.sstr(sp.factor(gen.coeff(VS)))} (decreasing in c: d/dc = {sp.sstr(sp.factor(dlay))}); (3.32)'s "
        f"-eta lam H needs c <= {sp.sstr(need[0] if need else None)}, so c = lam/4 is the best weight and "
        "gives exactly (3.32)'s delay coefficient",
        sp.Tuple(THESIS_329["B_t"], THESIS_329["V_window"]), sp.Tuple(cb, cd))


def _d_332_young() -> DerivationResult:
    bound, steps = lemma_342_young()
    dA = (-eta * lam * H * A_t + 2 * eta * lam * H * L**2 * B_t - eta * lam * (1 - eta * lam * n) * V
          + 2 * lam * tau * H * L**2 * eta**3 * VS)                                             # (3.28)
    comb = sp.expand(dA / (4 * L**2) + bound)
    rest = sp.expand(comb - THESIS_332)
    ok = rest == 0 and all(k for _, k, _ in steps)
    return DerivationResult(
        "(3.28) + rebuilt (3.29) -> (3.32)", ok,
        f"(3.28)/(4L^2) + rebuilt (3.29) - (3.32) = {sp.sstr(rest)}: B_t coefficient eta lam H/2 - 3 eta lam H/2 "
        "= -eta lam H, so E[C_(t+1)] <= (1 - eta lam H) E[C_t] + the delay and v^t terms of (3.32) exactly; "
        "(3.33)-(3.35) and (3.31) then hold as printed under (3.30)", THESIS_332, comb)


# ---------------------------------------------------------------- theorems
NOTE_ALG7_N = Note("(3.7) vs Alg. 7",
                   "The dual step is alpha_i <- alpha_i - eta lam n kappa in (3.7) but eta lam n_k kappa in "
                   "Alg. 7; the analysis (3.16), (3.28) uses n. delaylab's DisDfSDCA offers dual_scale='n' "
                   "(analysis) and 'n_k' (pseudo-code).")

NOTE_341 = (
    Note("(3.17) -> (3.20)",
         "Lemma 3.4.1's (3.17) lacks the factor H on -2 eta (P(w^d) - P*) and -2 eta <w^t - w^d, grad P(w^d)>, "
         "although E[v^t] = H grad P(w^{d(t)}) by (3.13); as printed, (3.16)/(2 lam L) + (3.17) leaves "
         "2 eta (H - 1)(P(w^t) - P*) > 0 at tau = 0, so (3.20) does not follow for H >= 2. With the factor H "
         "and (L + lam)-smoothness (3.10) the delay coefficient of (3.20) is tau H (2L + lam) eta^3 instead "
         "of 2 tau H L eta^3, giving eta <= 1/(4 H L tau^2 + 2 H lam tau^2 + lam n + 2L). (Lemma 3.4.1's "
         "proof is omitted in the thesis: this is a reconstruction.)", "thm3.4.1-corrected"),
    Note("(3.20) -> (3.21)",
         "Summing 2 tau H L eta^3 sum_j E|v^j|^2 over t gives 2 H tau^2 L eta^3 sum E|v^t|^2; (3.21)'s "
         "2 H tau^2 eta^2 drops L via eta L <= 1 (legitimate: eta L is dimensionless), and (3.18) implies "
         "eta L <= 1/2."),
    Note("(3.21) -> (3.22)", "Solving the quadratic with sympy gives exactly (3.22) = (3.18); the "
         "condition is an iff, so the closed form is tight."),
    NOTE_ALG7_N,
)

NOTE_343 = (
    Note("(3.29)", "Lemma 3.4.2's delay term reads 2 H tau H^2 (L + lam)^2 eta^3/lam; (3.32) uses "
         "2 H tau (L + lam)^2 eta^3/lam: the H^2 is a typo (delaylab follows (3.32))."),
    Note("(3.28)+(3.29) -> (3.32), (3.31)",
         "With C_t = A_t/(4L^2) + B_t the B_t coefficient is 2 eta lam H L^2/(4L^2) - 3 eta lam H/4 = "
         "-eta lam H/4, not -eta lam H: the contraction is (1 - eta lam H/4), not (1 - eta lam H). The "
         "step-size condition (3.30) is unaffected. This follows (3.29) as printed; rebuilding (3.29) with "
         "Young's inequality at lam/4 gives -(3/2) eta lam H B_t, and then (3.31) holds as printed "
         "(thm3.4.3-young): the printed 3/4 is a slip and this variant is valid but 4x pessimistic.",
         "thm3.4.3-corrected"),
    Note("(3.33) -> (3.34)", "Solving the quadratic with sympy gives exactly (3.34) = (3.30); (3.30) "
         "implies eta L <= 1/(4 sqrt(n)), so the eta L <= 1 of the proof is automatic."),
    NOTE_ALG7_N,
)

NOTE_343_YOUNG = (
    Note("(3.29) rebuilt",
         "Lemma 3.4.2's proof is omitted. Rebuilt from E v^t = H grad P(w^{d(t)}) (3.13), lam-strong convexity of "
         "P, (L + lam)-smoothness (3.10), |w^t - w^d|^2 <= tau eta^2 sum_j |v^j|^2 (3.11) and Young's inequality "
         "a g <= (lam/4) a^2 + g^2/lam: E[B_{t+1} - B_t] <= -(3/2) eta lam H B_t + eta^2 E|v^t|^2 + "
         "2 H tau (L + lam)^2 eta^3/lam sum_j E|v^j|^2. The printed -3/4 is valid but weaker (a slip for -3/2) and "
         "the printed H^2 is a typo. With -3/2, (3.28)/(4L^2) + (3.29) gives (3.32) exactly, so (3.31) holds with "
         "1 - eta lam H as printed; lam/4 is the largest Young weight that gives (3.32)'s contraction and the "
         "smallest delay term. thm3.4.3-corrected / thm3.4.4-corrected (1 - eta lam H/4) follow the printed 3/4 "
         "and are 4x more pessimistic in the rate (valid, loose). See bounds/NOTES.md (Chapter 3, item 3a)."),
)

NOTE_344 = (
    Note("(3.37)", "1/(eta lam H) at eta of (3.30) expands to 10 tau^2 L/lam + 16 tau^2 L^2/lam^2 + "
         "8 tau^2 L^3/lam^3 + 4 L^2/(lam^2 H) + n/H; (3.37) omits the tau^2 L/lam term, which is "
         "dominated only for L >= lam."),
) + NOTE_343[1:2]


def _build() -> tuple[Theorem, ...]:
    s = SYM
    base_syms = (s["L"], s["lam"], s["n"], s["H"], s["tau"], s["eta"])
    d = Derivation
    thm_341_c = Theorem(
        key="thm3.4.1-corrected", title="Theorem 3.4.1, corrected (3.17) with factor H",
        source="(3.16), (3.17) with factor H, (3.10), (3.19)", metric="E[C_T]/E[C_0]",
        symbols=base_syms + (s["T"],),
        conditions=_conditions(ETA_CONVEX_CORRECTED, "(3.18')", "(3.21)", per_round=True),
        bound_expr=1 - eta * lam * H, step=eta, step_limit=ETA_CONVEX_CORRECTED, iteration=T,
        assumptions=ASSUME_CONVEX, notes=NOTE_341[:1],
        derivations=(d("corrected 3.20", "(3.17), (3.20)", "reconstructed delay coefficient", _d_320_corrected),),
    )
    thm_341 = Theorem(
        key="thm3.4.1", title="Theorem 3.4.1 (Dis-dfSDCA, convex losses: one round contracts C_t)",
        source="(3.18), (3.19); Lemma 3.4.1 (3.16)-(3.17); proof (3.20)-(3.23)", metric="E[C_T]/E[C_0]",
        symbols=base_syms + (s["T"],),
        conditions=_conditions(ETA_CONVEX, "(3.18)", "(3.21)", per_round=True),
        bound_expr=1 - eta * lam * H, step=eta, step_limit=ETA_CONVEX, iteration=T,
        assumptions=ASSUME_CONVEX, notes=NOTE_341,
        derivations=(
            d("3.16+3.17->3.20 (C_t and v^t terms)", "(3.16), (3.17), (3.20)", "coefficients", _d_320_coefficients),
            d("3.16+3.17->3.20 (function-value terms)", "(3.17), (3.20)", "first-order terms", _d_320_function_terms,
              expect_ok=False),
            d("3.20->3.21 (sum over t)", "(3.20), (3.21)", "delay term summed, eta L <= 1", _d_321_sum),
            d("3.21->3.22 (solve for eta)", "(3.21), (3.22)", "quadratic in eta", _d_322_quadratic),
            d("3.18 implies eta L <= 1", "(3.18), (3.21)", "proof hypothesis",
              lambda: _d_318_implies_etaL(ETA_CONVEX, "3.18 implies eta L <= 1")),
        ),
        variants=(thm_341_c,),
    )
    count_syms = base_syms + (s["S"], s["eps"], s["C0"])
    order_342 = (L / lam) * (tau**2 + 1 / H) + n / H
    thm_342_c = Theorem(
        key="thm3.4.2-corrected", title="Theorem 3.4.2, corrected step size (3.17) with factor H",
        source="(3.25'), (3.26'), (3.27'), via thm3.4.1-corrected, (3.24)", metric="E[C_{S,0}]/E[C_{0,0}]",
        symbols=count_syms, conditions=_conditions(ETA_CONVEX_CORRECTED, "(3.26')", "(3.21)"),
        bound_expr=(1 - eta * lam * H)**S, step=eta, step_limit=ETA_CONVEX_CORRECTED, iteration=S,
        assumptions=ASSUME_CONVEX,
        quantities=_count_quantities(eta * lam * H, ETA_CONVEX_CORRECTED,
                                     (L / lam) * (tau**2 + 1 / H) + tau**2 + n / H, "(3.27')"),
        notes=NOTE_341[:1],
    )
    thm_342 = Theorem(
        key="thm3.4.2", title="Theorem 3.4.2 (Dis-dfSDCA, convex losses: linear rate over outer rounds)",
        source="(3.25)-(3.27), via (3.19), (3.24)", metric="E[C_{S,0}]/E[C_{0,0}]",
        symbols=count_syms, conditions=_conditions(ETA_CONVEX, "(3.26)", "(3.21)"),
        bound_expr=(1 - eta * lam * H)**S, step=eta, step_limit=ETA_CONVEX, iteration=S,
        assumptions=ASSUME_CONVEX,
        quantities=_count_quantities(eta * lam * H, ETA_CONVEX, order_342, "(3.27)"),
        notes=tuple(x if x.variant is None else Note(x.source, x.text, "thm3.4.2-corrected")
                    for x in NOTE_341[:1]) + (Note("(3.27)", "Explicit: S >= log((L+lam) C0/(2 eps)) / -log(1 - eta lam H), "
                                   "relaxed to (4 L tau^2/lam + 2L/(lam H) + n/H) log(...) at eta of (3.26); "
                                   "H = 1, tau = 0 gives (2L/lam + n) log(...) = O(L/lam + n)."),),
        derivations=(d("3.24+3.25->3.27 (outer iterations)", "(3.24), (3.25), (3.27)", "count", _d_count_convex),),
        variants=(thm_342_c,),
    )
    thm_343_c = Theorem(
        key="thm3.4.3-corrected", title="Theorem 3.4.3, corrected contraction (1 - eta lam H/4)",
        source="(3.28), (3.29) without H^2, (3.30), (3.31')", metric="E[C_T]/E[C_0]",
        symbols=base_syms + (s["T"],), conditions=_conditions(ETA_NONCONVEX, "(3.30)", "(3.33)", per_round=True),
        bound_expr=1 - eta * lam * H / 4, step=eta, step_limit=ETA_NONCONVEX, iteration=T,
        assumptions=ASSUME_NONCONVEX, notes=NOTE_343[1:2],
        derivations=(d("corrected (3.32): contraction 1 - eta lam H/4", "(3.28), (3.29), (3.32)", "contraction",
                       _d_332_corrected),),
    )
    thm_343_y = Theorem(
        key="thm3.4.3-young",
        title="Theorem 3.4.3 with Lemma 3.4.2's (3.29) rebuilt (Young at lam/4): contraction 1 - eta lam H",
        source="(3.28), (3.29) rebuilt: -(3/2) eta lam H B_t, no H^2; (3.30), (3.32), (3.31)",
        metric="E[C_T]/E[C_0]",
        symbols=base_syms + (s["T"],), conditions=_conditions(ETA_NONCONVEX, "(3.30)", "(3.33)", per_round=True),
        bound_expr=1 - eta * lam * H, step=eta, step_limit=ETA_NONCONVEX, iteration=T,
        assumptions=ASSUME_NONCONVEX, notes=NOTE_343_YOUNG,
        derivations=(d("(3.29) rebuilt with Young at lam/4", "(3.5), (3.10), (3.11), (3.13), (3.29)",
                       "Lemma 3.4.2's B_t bound step by step", _d_329_young),
                     d("(3.28) + rebuilt (3.29) -> (3.32)", "(3.28), (3.29), (3.32)", "contraction 1 - eta lam H",
                       _d_332_young)),
    )
    thm_343 = Theorem(
        key="thm3.4.3", title="Theorem 3.4.3 (Dis-dfSDCA, non-convex phi_i, convex f: one round)",
        source="(3.30), (3.31); Lemma 3.4.2 (3.28)-(3.29); proof (3.32)-(3.35)", metric="E[C_T]/E[C_0]",
        symbols=base_syms + (s["T"],), conditions=_conditions(ETA_NONCONVEX, "(3.30)", "(3.33)", per_round=True),
        bound_expr=1 - eta * lam * H, step=eta, step_limit=ETA_NONCONVEX, iteration=T,
        assumptions=ASSUME_NONCONVEX, notes=NOTE_343,
        derivations=(
            d("3.29 delay coefficient (2 H tau H^2)", "(3.29), (3.32)", "typo", _d_329_typo, expect_ok=False),
            d("3.28+3.29->3.32 (contraction)", "(3.28), (3.29), (3.32)", "contraction", _d_332_contraction,
              expect_ok=False),
            d("3.28+3.29->3.32 (v^t term)", "(3.28), (3.29), (3.32)", "v^t coefficient", _d_332_v_term),
            d("3.32->3.33 (sum over t)", "(3.32), (3.33)", "delay term summed", _d_333_sum),
            d("3.33->3.34 (solve for eta)", "(3.33), (3.34)", "quadratic in eta", _d_334_quadratic),
            d("3.30 implies eta L <= 1", "(3.30), (3.33)", "proof hypothesis", _d_330_implies_etaL),
            d("(3.29) rebuilt with Young at lam/4", "(3.5), (3.10), (3.11), (3.13), (3.29)",
              "Lemma 3.4.2's B_t bound step by step: -(3/2) eta lam H B_t", _d_329_young),
        ),
        variants=(thm_343_c, thm_343_y),
    )
    order_344 = (tau**2 + 1 / H) * L**2 / lam**2 + tau**2 * L**3 / lam**3 + n / H
    thm_344_c = Theorem(
        key="thm3.4.4-corrected", title="Theorem 3.4.4, corrected contraction (1 - eta lam H/4)^S",
        source="(3.36'), (3.37'), via thm3.4.3-corrected, (3.24)", metric="E[C_{S,0}]/E[C_{0,0}]",
        symbols=count_syms, conditions=_conditions(ETA_NONCONVEX, "(3.30)", "(3.33)"),
        bound_expr=(1 - eta * lam * H / 4)**S, step=eta, step_limit=ETA_NONCONVEX, iteration=S,
        assumptions=ASSUME_NONCONVEX,
        quantities=_count_quantities(eta * lam * H / 4, ETA_NONCONVEX, order_344, "(3.37')"),
        notes=NOTE_343[1:2],
    )
    thm_344_y = Theorem(
        key="thm3.4.4-young",
        title="Theorem 3.4.4 with (3.29) rebuilt (Young at lam/4): (1 - eta lam H)^S",
        source="(3.36), (3.37), via thm3.4.3-young, (3.24)", metric="E[C_{S,0}]/E[C_{0,0}]",
        symbols=count_syms, conditions=_conditions(ETA_NONCONVEX, "(3.30)", "(3.33)"),
        bound_expr=(1 - eta * lam * H)**S, step=eta, step_limit=ETA_NONCONVEX, iteration=S,
        assumptions=ASSUME_NONCONVEX,
        quantities=_count_quantities(eta * lam * H, ETA_NONCONVEX, order_344, "(3.37)"),
        notes=NOTE_343_YOUNG,
        derivations=(d("(3.28) + rebuilt (3.29) -> (3.32)", "(3.28), (3.29), (3.32)", "contraction 1 - eta lam H",
                       _d_332_young),),
    )
    thm_344 = Theorem(
        key="thm3.4.4", title="Theorem 3.4.4 (Dis-dfSDCA, non-convex phi_i: linear rate over outer rounds)",
        source="(3.36), (3.37), via (3.31), (3.24)", metric="E[C_{S,0}]/E[C_{0,0}]",
        symbols=count_syms, conditions=_conditions(ETA_NONCONVEX, "(3.30)", "(3.33)"),
        bound_expr=(1 - eta * lam * H)**S, step=eta, step_limit=ETA_NONCONVEX, iteration=S,
        assumptions=ASSUME_NONCONVEX,
        quantities=_count_quantities(eta * lam * H, ETA_NONCONVEX, order_344, "(3.37)"),
        notes=NOTE_344,
        derivations=(d("3.36->3.37 (outer iterations)", "(3.30), (3.37)", "count", _d_count_nonconvex),),
        variants=(thm_344_c, thm_344_y),
    )
    return thm_341, thm_342, thm_343, thm_344


THM_3_4_1, THM_3_4_2, THM_3_4_3, THM_3_4_4 = _build()
for _t in (THM_3_4_1, THM_3_4_2, THM_3_4_3, THM_3_4_4):
    register(_t)
del _t
