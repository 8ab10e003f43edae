"""Chapter 2 (AsySVRG, non-convex): Lemma 2.3.1 and Theorems 2.3.1, 2.3.2, 2.4.1, 2.4.2.

Problem (2.1): f(w) = 1/n sum f_i(w), each f_i L-smooth, possibly non-convex.
Quantity bounded: (1/T) sum_s sum_t E|grad f(w_t^{s+1})|^2 with T = S m.
Algorithms: Shared-AsySVRG (Alg. 1, one random coordinate per update, delay
<= Delta) and Distributed-AsySVRG (Algs. 2-3, whole-vector updates).

Theorems 2.3.1 / 2.4.1 are numeric: c_t follows the backward recurrence
(2.13) / (2.34) from c_m = 0, Gamma_t is (2.14) / (2.35), gamma = min_t Gamma_t.
The recurrence has constant coefficients, c_t = (1 + theta) c_{t+1} + K, so
c_t = K ((1 + theta)^(m - t) - 1) / theta; c_t decreases in t, hence
gamma = Gamma_0 (the minimum sits at t = 0). :func:`c_sequence` runs the
recurrence itself and is the reference for the closed form.

The distributed statements are the shared ones with the dimension d set to
1 (checked symbolically in the derivations), so both share one code path
with ``dim`` = d or 1. Every discrepancy with the thesis is a :class:`Note`
(see also bounds/NOTES.md (Chapter 2)); "-corrected" variants add the premises the
proofs use but the statements omit.
"""
from __future__ import annotations

import numpy as np
import sympy as sp

from bounds.derive import compare
from bounds.theorem import (
    Condition, Derivation, DerivationResult, Note, Numeric, Quantity, Theorem, TheoremSymbol,
    register,
)

__all__ = [
    "recurrence_coefficients", "c_sequence", "c_closed", "gamma_t", "gamma_sequence",
    "gamma_min", "max_step_general", "u0_sup", "LEMMA_2_3_1", "THM_2_3_1", "THM_2_3_2",
    "THM_2_4_1", "THM_2_4_2",
]

# Plain words (no _ or ^): Theorem.latex() puts the metric inside \\text{}.
METRIC = ("mean over all T = S m inner iterations (S epochs of m) of the expected squared "
          "gradient norm E||grad f(w)||**2")

# -- symbols -------------------------------------------------------------------------
eta = sp.Symbol("eta", positive=True)
L = sp.Symbol("L", positive=True)
Delta = sp.Symbol("Delta", nonnegative=True)
d = sp.Symbol("d", integer=True, positive=True)
b = sp.Symbol("b", integer=True, positive=True)
beta = sp.Symbol("beta", positive=True)
m = sp.Symbol("m", integer=True, positive=True)
F0 = sp.Symbol("F0", nonnegative=True)
T = sp.Symbol("T", integer=True, positive=True)
u0 = sp.Symbol("u0", positive=True)
alpha = sp.Symbol("alpha", positive=True)
n = sp.Symbol("n", integer=True, positive=True)
gamma_s = sp.Symbol("gamma", real=True)
c1_s = sp.Symbol("c_1", nonnegative=True)

_S = {
    "eta": TheoremSymbol(eta, "constant learning rate", r"\eta"),
    "L": TheoremSymbol(L, "Lipschitz constant of grad f and of every grad f_i (2.3)"),
    "Delta": TheoremSymbol(Delta, "maximum time delay, max tau <= Delta (Assumption 2.2.4)", r"\Delta"),
    "d": TheoremSymbol(d, "dimension of w (coordinates; k_t is uniform on {1..d}, (2.4))"),
    "b": TheoremSymbol(b, "mini-batch size |I_t|"),
    "beta": TheoremSymbol(beta, "Young's-inequality weight beta_t = beta (2.16)", r"\beta"),
    "m": TheoremSymbol(m, "inner iterations per epoch (snapshot every m updates)"),
    "F0": TheoremSymbol(F0, "initial suboptimality E[f(w^0) - f(w^*)]", r"F_0"),
    "T": TheoremSymbol(T, "total number of iterations T = S m"),
    "u0": TheoremSymbol(u0, "step constant in eta = u0 b / (L n^alpha)", r"u_0", upper=1.0,
                        upper_inclusive=False),
    "alpha": TheoremSymbol(alpha, "exponent in eta = u0 b / (L n^alpha)", r"\alpha", upper=1.0),
    "n": TheoremSymbol(n, "number of samples n in (2.1)"),
}


def _syms(*names: str) -> tuple[TheoremSymbol, ...]:
    return tuple(_S[k] for k in names)


# -- numerics: recurrence (2.13)/(2.34), Gamma_t (2.14)/(2.35) ------------------------
def recurrence_coefficients(eta, L, Delta, b, beta, dim=1.0):
    """(D, theta, K) with D = dim - 2 L^2 Delta^2 eta^2 and c_t = (1 + theta) c_{t+1} + K (2.13).

    ``dim`` is d for Theorem 2.3.1 and 1 for Theorem 2.4.1 (2.34).
    """
    eta, L, Delta, b, beta, dim = (np.asarray(x, dtype=np.float64) for x in (eta, L, Delta, b, beta, dim))
    with np.errstate(divide="ignore", invalid="ignore"):
        D = dim - 2.0 * L**2 * Delta**2 * eta**2
        theta = eta * beta / dim + 4.0 * L**2 * eta**2 / (D * b)
        K = 4.0 * L**2 / (D * b) * (L**2 * Delta**2 * eta**3 / (2.0 * dim) + eta**2 * L / 2.0)
    return D, theta, K


def c_sequence(eta, L, Delta, b, beta, m: int, dim=1.0) -> np.ndarray:
    """c_0..c_m by the backward recurrence (2.13)/(2.34) from c_m = 0; shape (m + 1, *broadcast)."""
    m = int(m)
    if m < 1:
        raise ValueError(f"m must be an integer >= 1, got {m}")
    _, theta, K = recurrence_coefficients(eta, L, Delta, b, beta, dim)
    theta, K = np.broadcast_arrays(theta, K)
    c = np.zeros((m + 1,) + theta.shape)
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(m - 1, -1, -1):
            c[t] = c[t + 1] * (1.0 + theta) + K
    return c


def c_closed(t, eta, L, Delta, b, beta, m, dim=1.0) -> np.ndarray:
    """c_t = K ((1 + theta)^(m - t) - 1) / theta, the solution of (2.13) with c_m = 0 (2.29)."""
    D, theta, K = recurrence_coefficients(eta, L, Delta, b, beta, dim)
    k = np.asarray(m, dtype=np.float64) - np.asarray(t, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        c = K * np.expm1(k * np.log1p(theta)) / theta
    return np.where(D > 0, c, np.nan)


def gamma_t(c_next, eta, L, Delta, dim=1.0) -> np.ndarray:
    """Gamma_t of (2.14)/(2.35) given c_{t+1}; NaN where dim - 2 L^2 Delta^2 eta^2 <= 0."""
    c_next, eta, L, Delta, dim = (np.asarray(x, dtype=np.float64) for x in (c_next, eta, L, Delta, dim))
    D = dim - 2.0 * L**2 * Delta**2 * eta**2
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        g = eta / (2.0 * dim) - 4.0 / D * (L**2 * Delta**2 * eta**3 / (2.0 * dim) + eta**2 * L / 2.0
                                          + c_next * eta**2)
    return np.where(D > 0, g, np.nan)


def gamma_sequence(eta, L, Delta, b, beta, m: int, dim=1.0) -> np.ndarray:
    """Gamma_0..Gamma_{m-1} from the explicit recurrence (reference; O(m) memory)."""
    c = c_sequence(eta, L, Delta, b, beta, m, dim)
    return gamma_t(c[1:], eta, L, Delta, dim)


def gamma_min(eta, L, Delta, b, beta, m, dim=1.0) -> np.ndarray:
    """gamma = min_t Gamma_t = Gamma_0 (c_{t+1} is largest at t = 0), vectorised, any m."""
    return gamma_t(c_closed(1, eta, L, Delta, b, beta, m, dim), eta, L, Delta, dim)


def _admissible_general(eta, L, Delta, b, beta, m, dim, corrected, strict_c):
    D, _, _ = recurrence_coefficients(eta, L, Delta, b, beta, dim)
    ok = (D > 0) & (gamma_min(eta, L, Delta, b, beta, m, dim) > 0)
    if corrected:
        c1 = c_closed(1, eta, L, Delta, b, beta, m, dim)
        ok &= (c1 < beta / 2.0) if strict_c else (c1 <= beta / 2.0)
    return ok


def max_step_general(L, Delta, b, beta, m, dim=1.0, *, corrected=False, strict_c=False,
                     iterations=200) -> np.ndarray:
    """Largest eta with D > 0 and every Gamma_t > 0 (and, corrected, c_1 <= beta/2), by bisection.

    On 0 < eta < eta_D = sqrt(dim / 2) / (L Delta), D(eta) decreases and c_{t+1}(eta)
    increases (all recurrence coefficients grow with eta), so Gamma_0 / eta is strictly
    decreasing: the admissible set is an interval (0, eta*) and bisection is exact.
    Gamma_0 > 0 also forces eta < 1 / (4 L) (drop every term but eta^2 L / 2).
    Returns the lower end of the final bracket times (1 - 1e-13): Gamma_t > 0 is strict, and the
    bracket end satisfies it only in floating point (in exact arithmetic Gamma_0 there can be
    -1e-18 eta); 1e-13 below keeps it strict after rounding (as for Lemma 2.3.1 and Thms 2.3.2/2.4.2).
    """
    L, Delta, b, beta, m, dim = np.broadcast_arrays(
        *(np.asarray(x, dtype=np.float64) for x in (L, Delta, b, beta, m, dim)))
    with np.errstate(divide="ignore"):
        eta_d = np.sqrt(dim / 2.0) / (L * Delta)
    lo = np.zeros(L.shape)
    hi = np.minimum(eta_d, 1.0 / (4.0 * L))
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        ok = _admissible_general(mid, L, Delta, b, beta, m, dim, corrected, strict_c)
        lo = np.where(ok, mid, lo)
        hi = np.where(ok, hi, mid)
    return lo * (1.0 - 1e-13)


# -- numerics: Theorems 2.3.2 / 2.4.2 -------------------------------------------------
def _corollary_setup(u0, alpha, n, b, L, dim):
    na = np.asarray(n, dtype=np.float64) ** np.asarray(alpha, dtype=np.float64)
    step = np.asarray(u0) * b / (L * na)
    m_ = np.floor(dim * na / (6.0 * np.asarray(u0) * b))
    return na, step, m_


def corollary_gamma(u0, alpha, n, b, L, Delta, dim=1.0) -> np.ndarray:
    """gamma of Thm 2.3.1/2.4.1 at eta = u0 b/(L n^alpha), beta = 2L, m = floor(dim n^alpha/(6 u0 b))."""
    _, step, m_ = _corollary_setup(u0, alpha, n, b, L, dim)
    return gamma_min(step, L, Delta, b, 2.0 * np.asarray(L), np.maximum(m_, 1.0), dim)


def u0_sup(alpha, n, b, Delta, dim=1.0, *, corrected=False) -> np.ndarray:
    """Supremum of u0 allowed by (2.26)/(2.46) (and, corrected, the premise of (2.28)).

    Delta^2 < dim/(2 u0 b)  <=>  u0 < dim/(2 b Delta^2);
    Delta^2 < (3 dim - 28 u0 b dim)/(28 u0^2 b^2)  <=>  u0 < 6 dim/(28 b dim + sqrt(784 b^2 dim^2
    + 336 b^2 Delta^2 dim)) (the positive root of 28 b^2 Delta^2 u0^2 + 28 b dim u0 - 3 dim,
    written without the 0/0 at Delta = 0).
    """
    alpha, n, b, Delta, dim = (np.asarray(x, dtype=np.float64) for x in (alpha, n, b, Delta, dim))
    with np.errstate(divide="ignore", invalid="ignore"):
        a = dim / (2.0 * b * Delta**2)
        na = n**alpha
        # (2.28) premise d N <= d N^2 - 2 Delta^2 u0^2 b^2: any u0 when Delta = 0; none when N = 1, Delta > 0
        p = np.where(Delta > 0, np.sqrt(dim * na * (na - 1.0) / (2.0 * Delta**2 * b**2)), np.inf)
    r = 6.0 * dim / (28.0 * b * dim + np.sqrt(784.0 * b**2 * dim**2 + 336.0 * b**2 * Delta**2 * dim))
    out = np.minimum(np.minimum(a, r), 1.0)
    return np.minimum(out, p) if corrected else out


def _u0_max(alpha, n, b, Delta, dim=1.0, corrected=False):
    # The conditions are strict; 1e-12 below the supremum keeps them strict after rounding.
    return u0_sup(alpha, n, b, Delta, dim, corrected=corrected) * (1.0 - 1e-12)


def _eta_max(alpha, n, b, L, Delta, dim=1.0, corrected=False):
    """Largest admissible step of Thm 2.3.2/2.4.2 in eta units: u0_max b/(L n^alpha)."""
    return _u0_max(alpha, n, b, Delta, dim, corrected) * b / (L * np.asarray(n, dtype=np.float64) ** alpha)


# -- derivations ---------------------------------------------------------------------------
def _result(name: str, ok: bool, detail: str) -> DerivationResult:
    return DerivationResult(name=name, ok=bool(ok), detail=detail)


def _rec_sym(dim, form: str, D=None):
    c = sp.Symbol("c_next", nonnegative=True)
    D = dim - 2 * L**2 * Delta**2 * eta**2 if D is None else D
    inner = L**2 * Delta**2 * eta**3 / (2 * dim) + eta**2 * L / 2
    if form == "expanded":   # (2.13) / (2.34) / (2.43)
        return c * (1 + eta * beta / dim + 4 * L**2 * eta**2 / (D * b)) + 4 * L**2 / (D * b) * inner
    if form == "proof":      # (2.22)
        return c * (1 + eta * beta / dim) + 4 * L**2 / (D * b) * (inner + c * eta**2)
    if form == "gamma":      # (2.14) / (2.23) / (2.35) / (2.44)
        return eta / (2 * dim) - 4 / D * (inner + c * eta**2)
    # "from-sum": (2.21)/(2.42) coefficient A_t of E|u_t|^2, then (2.9) E|u|^2 <= 2E|grad|^2 + 2L^2/b E|w-w~|^2
    A = 2 * dim / D * (L**2 * Delta**2 * eta**3 / (2 * dim**2) + eta**2 * L / (2 * dim) + c * eta**2 / dim)
    return (c * (1 + eta * beta / dim) + 2 * L**2 / b * A, eta / (2 * dim) - 2 * A)


def _general_derivations(shared: bool) -> tuple[Derivation, ...]:
    dim = d if shared else sp.Integer(1)
    tag = ("2.13", "2.22", "2.14", "2.23", "2.21") if shared else ("2.34", "2.43", "2.35", "2.44", "2.42")
    out = [
        Derivation(f"({tag[0]}) == ({tag[1]})", f"({tag[0]}),({tag[1]})",
                   "the c_t recurrence of the statement equals the one derived in the proof",
                   lambda: compare(f"({tag[0]}) == ({tag[1]})", _rec_sym(dim, "expanded"),
                                   _rec_sym(dim, "proof" if shared else "expanded"), "c_t")),
        Derivation(f"({tag[4]}) + (2.9) give ({tag[1]}), ({tag[3]})", f"({tag[4]}),(2.9)",
                   "c_t and Gamma_t follow from the last line of the epoch sum and the bound (2.9) on u_t",
                   lambda: _from_sum(dim, tag)),
        Derivation(f"({tag[2]}) == ({tag[3]})", f"({tag[2]}),({tag[3]})", "Gamma_t as stated vs in the proof",
                   lambda: compare(f"({tag[2]}) == ({tag[3]})", _rec_sym(dim, "gamma"),
                                   _rec_sym(dim, "gamma"), "Gamma_t")),
        Derivation("c_t decreasing in t", f"({tag[0]})",
                   "c_t - c_{t+1} = theta c_{t+1} + K > 0 when D > 0, so gamma = min_t Gamma_t = Gamma_0",
                   lambda: _decreasing(dim)),
    ]
    if not shared:
        out.append(Derivation("(2.34),(2.35) are (2.13),(2.14) at d = 1", "(2.13),(2.34)",
                              "the distributed recurrence is the shared one with d = 1",
                              lambda: _is_d1()))
    return tuple(out)


def _from_sum(dim, tag) -> DerivationResult:
    c_proof, g_proof = _rec_sym(dim, "from-sum")
    r1 = compare("c", _rec_sym(dim, "expanded"), c_proof, f"c_t ({tag[1]})")
    r2 = compare("Gamma", _rec_sym(dim, "gamma"), g_proof, f"Gamma_t ({tag[3]})")
    return _result(f"({tag[4]}) + (2.9)", r1.ok and r2.ok, r1.detail + " | " + r2.detail)


def _decreasing(dim) -> DerivationResult:
    Dp = sp.Symbol("D", positive=True)   # D = dim - 2 L^2 Delta^2 eta^2 > 0 (Lemma 2.3.1)
    c = sp.Symbol("c_next", nonnegative=True)
    diff = sp.simplify(_rec_sym(dim, "expanded", D=Dp) - c)
    return _result("c_t decreasing", bool(diff.is_positive),
                   f"c_t - c_(t+1) = {sp.sstr(sp.factor(diff))}, positive for D > 0")


def _is_d1() -> DerivationResult:
    r1 = compare("c", _rec_sym(d, "expanded").subs(d, 1), _rec_sym(sp.Integer(1), "expanded"), "c_t")
    r2 = compare("G", _rec_sym(d, "gamma").subs(d, 1), _rec_sym(sp.Integer(1), "gamma"), "Gamma_t")
    return _result("d = 1", r1.ok and r2.ok, r1.detail + " | " + r2.detail)


def _lemma_constant() -> DerivationResult:
    # (2.11): S_v <= eps S_v + 2 S_u with eps = 2 L^2 Delta^2 eta^2 / d  =>  S_v <= 2/(1 - eps) S_u.
    eps = 2 * L**2 * Delta**2 * eta**2 / d
    return compare("(2.11) -> (2.12)", 2 * d / (d - 2 * L**2 * Delta**2 * eta**2), 2 / (1 - eps),
                   "factor in front of sum_t E|u_t|^2")


def _corollary_derivations(shared: bool) -> tuple[Derivation, ...]:
    dim = d if shared else sp.Integer(1)
    N = sp.Symbol("N", positive=True)  # N = n^alpha >= 1
    t = ("2.28", "2.29", "2.30", "2.26") if shared else ("2.48", "2.49", "2.50", "2.46")
    sub = {eta: u0 * b / (L * N), beta: 2 * L}
    D = (dim - 2 * L**2 * Delta**2 * eta**2).subs(sub)
    theta = (eta * beta / dim + 4 * L**2 * eta**2 / ((dim - 2 * L**2 * Delta**2 * eta**2) * b)).subs(sub)
    K = (4 * L**2 / ((dim - 2 * L**2 * Delta**2 * eta**2) * b)
         * (L**2 * Delta**2 * eta**3 / (2 * dim) + eta**2 * L / 2)).subs(sub)

    def theta_line() -> DerivationResult:
        r = compare(f"({t[0]}) line 2", 2 * u0 * b / (dim * N)
                    + 4 * u0**2 * b / (dim * N**2 - 2 * Delta**2 * u0**2 * b**2), theta, "theta")
        gap = sp.factor(sp.cancel(6 * u0 * b / (dim * N) - theta))
        return _result(f"({t[0]})", r.ok, r.detail + f" | 6 u0 b/(d N) - theta = {sp.sstr(gap)}: >= 0 iff "
                       "d N^2 - 2 Delta^2 u0^2 b^2 >= u0 d N, implied by the proof's premise "
                       "d N <= d N^2 - 2 Delta^2 u0^2 b^2 (absent from the statement)")

    def c0_lines() -> DerivationResult:
        line1 = (2 * L**2 / ((dim - 2 * L**2 * Delta**2 * eta**2) * b)
                 * (L**2 * Delta**2 * eta**3 / dim + eta**2 * L)).subs(sub)
        line2 = 2 * L * (u0**3 * Delta**2 * b**3 / N**3 + u0**2 * b**2 * dim / N**2) / (
            D * (2 * u0 * b**2 / (dim * N) + 4 * u0**2 * b**2 / (dim * N**2 - 2 * Delta**2 * u0**2 * b**2)) * dim)
        r1 = compare("K", line1, K, "K in c_0 = K((1+theta)^m-1)/theta")
        r2 = compare("K/theta", line2, K / theta, "K/theta")
        k = sp.Symbol("k", integer=True, positive=True)   # k = m - t
        x, kk = sp.Symbol("x", positive=True), sp.Symbol("K", positive=True)   # x = 1 + theta
        c = kk * (x**k - 1) / (x - 1)
        r3 = sp.simplify(sp.powsimp(sp.expand(c - (x * c.subs(k, k - 1) + kk)))) == 0
        return _result(f"({t[1]}) lines 1-2", r1.ok and r2.ok and r3,
                       f"{r1.detail} | {r2.detail} | closed form solves the recurrence: {r3}")

    def c0_line3() -> DerivationResult:
        # Thesis: K/theta <= L(u0 b Delta^2 + d)/(3d). Valid route: K/theta <= K/theta_1 with
        # theta_1 = 2 u0 b/(d N) = L u0 (u0 b Delta^2 + d N)/(d N^2 - 2 Delta^2 u0^2 b^2); with the
        # premise this is <= L u0 (u0 b Delta^2 + d)/d, and <= the thesis's value iff u0 <= 1/3.
        theta1 = 2 * u0 * b / (dim * N)
        k1 = sp.simplify(K / theta1)
        claimed = L * u0 * (u0 * b * Delta**2 + dim * N) / (dim * N**2 - 2 * Delta**2 * u0**2 * b**2)
        step1 = sp.simplify(k1 - claimed) == 0
        up = 6 * u0 * b / (dim * N)
        lower = sp.factor(sp.simplify(K / theta - K / up))
        s = sp.Symbol("s", nonnegative=True)   # premise slack: d N^2 - 2 Delta^2 u0^2 b^2 = d N + s
        k1s = L * u0 * (u0 * b * Delta**2 + dim * N) / (dim * N + s)
        bound = L * u0 * (u0 * b * Delta**2 / N + dim) / dim
        step2 = sp.simplify(bound - k1s)
        ok2 = bool(sp.factor(step2).is_nonnegative)
        detail = (f"K/theta_1 = {sp.sstr(k1)} (matches: {step1}); with premise slack s >= 0, "
                  f"L u0 (u0 b Delta^2/N + d)/d - K/theta_1 = {sp.sstr(sp.factor(step2))} (>= 0: {ok2}); "
                  "then N >= 1 and u0 <= 1/3 (implied by (2.26): u0 b < 3/28) give the thesis's value. "
                  "Note: replacing theta by its upper bound 6 u0 b/(d N) goes the wrong way: "
                  f"K/theta - K/theta_up = {sp.sstr(lower)} >= 0.")
        return _result(f"({t[1]}) line 3", step1 and ok2, detail)

    def c0_le_L() -> DerivationResult:
        val = sp.E - 1
        at_edge = sp.simplify((val * (u0 * b * Delta**2 + dim) / (3 * dim)).subs(Delta**2, dim / (2 * u0 * b)))
        exact = sp.nsimplify(dim * (4 - sp.E) / (sp.E - 1))
        return _result("c_0 <= L", bool(sp.simplify(at_edge - 1).is_negative),
                       f"at u0 b Delta^2 = d/2 the bound on c_0/L is {sp.sstr(at_edge)} = "
                       f"{float(at_edge):.4f} < 1, so Delta^2 <= d/(2 u0 b) suffices (the thesis says it is "
                       "implied; it is sufficient, not necessary: the chain needs u0 b Delta^2 <= "
                       f"{sp.sstr(exact)})")

    def gamma_chain() -> DerivationResult:
        E = sp.Symbol("E", positive=True)
        c0 = L * (u0 * b * Delta**2 + dim) / (3 * dim) * (E - 1)
        inner = (L**2 * Delta**2 * eta**3 / (2 * dim) + eta**2 * L / 2 + c0 * eta**2).subs(sub)
        second = sp.simplify((4 / D - 4 * N / dim) * dim * D)  # sign of 4/D - 4N/d
        coeff = sp.simplify(4 * N / dim * inner / (eta.subs(sub) / dim))   # line 3 bracket times d/eta
        p, q = sp.symbols("p q", nonnegative=True)                        # N = 1 + p, e = 3 - q
        slack = sp.expand(sp.simplify((14 * u0**2 * b**2 * Delta**2 + 14 * u0 * b * dim) / (3 * dim)
                                      - coeff).subs({N: 1 + p, E: 3 - q}))
        slack = sp.factor(sp.together(slack))
        ok = bool(slack.is_nonnegative)
        x_ = (14 * u0**2 * b**2 * Delta**2 + 14 * u0 * b * dim) / (3 * dim)
        rel = sp.solve(sp.Rational(1, 2) - x_, Delta**2)
        ok3 = compare("2.26b", (3 * dim - 28 * u0 * b * dim) / (28 * u0**2 * b**2), rel[0], "Delta^2 threshold").ok
        return _result(f"({t[2]})", ok and ok3,
                       f"4/D <= 4N/d iff {sp.sstr(sp.factor(second))} <= 0, i.e. the premise of ({t[0]}); "
                       f"14(u0^2 b^2 Delta^2 + u0 b d)/(3d) - bracket = {sp.sstr(slack)} with N = 1 + p, "
                       f"e = 3 - q (>= 0: {ok}); 1/2 > 14(...)/(3d) <=> Delta^2 < ({t[3]}) second term: {ok3}")

    return (
        Derivation(f"({t[0]}) theta", f"({t[0]})", "theta identity and its bound 6 u0 b/(d n^alpha)", theta_line),
        Derivation(f"({t[1]}) lines 1-2", f"({t[1]})", "c_0 closed form and its substitution", c0_lines),
        Derivation(f"({t[1]}) line 3", f"({t[1]})", "K/theta <= L(u0 b Delta^2 + d)/(3d)", c0_line3),
        Derivation(f"({t[1]}) c_0 <= L", f"({t[1]})", "Delta^2 <= d/(2 u0 b) keeps c_0 <= beta/2 = L", c0_le_L),
        Derivation(f"({t[2]}) chain", f"({t[2]}),({t[3]})", "gamma lower bound and the Delta^2 condition",
                   gamma_chain),
    )


# -- notes -------------------------------------------------------------------------------
_N_HIDDEN_C = Note(
    "(2.20)/(2.41)", "The proof assumes c_{t+1} <= beta_t/2 (shared, (2.20)) and c_{t+1} < beta_t/2 "
    "(distributed, (2.41)) to drop the |mean of delayed gradients|^2 term; the statement of Thm 2.3.1/2.4.1 "
    "lists only Gamma_t > 0. c_{t+1} is largest at t = 0, so the premise is c_1 <= beta/2.",
    variant="-corrected adds c_1 <= beta/2 (strict for 2.4.1)")
_N_LEMMA = Note(
    "(2.8)/(2.21)/(2.42)", "Gamma_t and c_t divide by D = d - 2 L^2 Delta^2 eta^2 (1 - ... for 2.4.1); the "
    "statement inherits D > 0 from Lemma 2.3.1 (Thm 2.4.1 cites [82] and states no lemma). It is encoded as a "
    "condition: without it, any eta with D < 0 makes every Gamma_t > 0 (the -4/D term turns positive).")
_N_WEIGHTED = Note(
    "(2.21)/(2.42)", "Lemma 2.3.1 bounds the unweighted sum sum_t E|v_t|^2, but (2.21) applies it to "
    "sum_t w_t E|v_t|^2 with w_t depending on c_{t+1}. The step is still valid because w_t is nonincreasing "
    "in t and every delayed index j in J(t) is < t, so w_t <= w_j in (2.10); the thesis does not say so.")
_N_NAMES = Note("(2.10)", "The proof of Lemma 2.3.1 is titled 'Proof of Corollary 2.3.1' and uses per-sample "
                "delays hat w_{t,i_t}, while (2.6) defines one hat w_t per iteration.")
_N_PREMISE = Note(
    "(2.28)/(2.48)", "theta <= 6 u0 b/(d n^alpha) and 4/D <= 4 n^alpha/d in (2.30) need d n^alpha <= "
    "d n^{2 alpha} - 2 Delta^2 u0^2 b^2 ('easy to satisfy when n is large'), which is not in the statement "
    "(2.26). Hypothesis found no counterexample to the conclusion without it (tests).",
    variant="-corrected adds the premise as a condition")
_N_LINE3 = Note(
    "(2.29)/(2.49)", "Line 3 (K/theta <= L(u0 b Delta^2 + d)/(3d)) has no justification; the factor 1/3 "
    "matches replacing theta by its upper bound 6 u0 b/(d n^alpha), which bounds K/theta from below, not "
    "above. The inequality itself is true: K/theta <= K/(eta beta/d) <= L u0 (u0 b Delta^2 + d)/d under the "
    "(2.28) premise, and <= the thesis's value because u0 <= 1/3 (checked in the derivations).")
_N_SIGMA = Note(
    "(2.27)/(2.30)", "sigma is not universal: the chain gives gamma >= (1/2 - X) eta/d with "
    "X = (14 u0^2 b^2 Delta^2 + 14 u0 b d)/(3d), i.e. sigma = u0 (1/2 - X), which depends on u0, b, Delta, d. "
    "(2.26) is non-empty only if u0 b < 3/28, so b < 3/(28 u0). The statement has 0 < alpha <= 1, the proof "
    "0 < alpha < 1 (nothing uses alpha < 1). 'c_0 <= L, thus Delta^2 <= d/(2 u0 b)' reverses the implication: "
    "the Delta bound is sufficient for c_0 <= L.")
_N_COND242 = Note("(2.47)/(2.51)", "Thm 2.4.2 reads 'such that if it holds gamma >= sigma b/(L n^alpha)' (a "
                  "premise) where Thm 2.3.2 concludes it; encoded as a conclusion, like 2.3.2. (2.51) writes "
                  "x for w and f(tilde x^*).")


# -- theorem builders ----------------------------------------------------------------
def _general(shared: bool, corrected: bool) -> Theorem:
    dim_names = ("d",) if shared else ()
    eqs = ("2.13", "2.14", "2.15") if shared else ("2.34", "2.35", "2.36")
    num = "2.3.1" if shared else "2.4.1"
    dimv = (lambda kw: kw.pop("d")) if shared else (lambda kw: 1.0)
    D_expr = (d if shared else 1) - 2 * L**2 * Delta**2 * eta**2
    rec = ("eta", "L", "Delta", "b", "beta", "m") + dim_names

    def g(**kw):
        return gamma_min(dim=dimv(kw), **kw)

    def c1_margin(**kw):
        return kw["beta"] / 2.0 - c_closed(1, dim=dimv(kw), **kw)

    def bound(**kw):
        f0, tt = kw.pop("F0"), kw.pop("T")
        gm = gamma_min(dim=dimv(kw), **kw)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(gm > 0, f0 / (tt * gm), np.nan)

    def mstep(**kw):
        return max_step_general(dim=dimv(kw), corrected=corrected, strict_c=not shared, **kw)

    d_name = "D > 0 (Lemma 2.3.1)" if shared else "D > 0 ([82])"
    conds = [
        Condition(d_name, sp.StrictGreaterThan(D_expr, 0),
                  "D = d - 2 L^2 Delta^2 eta^2 > 0, so that sum_t E|v_t|^2 <= 2d/D sum_t E|u_t|^2"
                  if shared else "1 - 2 L^2 Delta^2 eta^2 > 0, used with [82] in (2.42)",
                  "(2.12)" if shared else "(2.42)"),
        Condition("Gamma_t > 0", sp.StrictGreaterThan(gamma_s, 0),
                  "Gamma_t > 0 for 0 <= t <= m-1; gamma = min_t Gamma_t = Gamma_0",
                  f"({eqs[1]})", margin=Numeric(g, rec, "gamma = Gamma_0 from the recurrence"),
                  requires=(d_name,)),
    ]
    if corrected:
        rel, op = (sp.LessThan, "<=") if shared else (sp.StrictLessThan, "<")
        conds.append(Condition(f"c_(t+1) {op} beta/2", rel(c1_s, beta / 2),
                               f"c_(t+1) {op} beta_t/2 for all t (largest at c_1), assumed in the proof",
                               "(2.20)" if shared else "(2.41)",
                               margin=Numeric(c1_margin, rec, "beta/2 - c_1"), requires=(d_name,)))
    steps = rec[1:]
    key = ("thm" + num) + ("-corrected" if corrected else "")
    notes = (_N_LEMMA, _N_HIDDEN_C, _N_WEIGHTED) + ((_N_NAMES,) if shared else ())
    return Theorem(
        key=key,
        title=(("Shared-AsySVRG" if shared else "Distributed-AsySVRG") + f" O(1/T) rate (Theorem {num})"
               + (", with the proof's premises" if corrected else "")),
        source=f"Thm {num}, ({eqs[0]})-({eqs[2]})" + (", Lemma 2.3.1" if shared else ""),
        metric=METRIC,
        symbols=_syms("eta", "L", "Delta", *dim_names, "b", "beta", "m", "F0", "T"),
        conditions=tuple(conds),
        bound_expr=Numeric(bound, rec + ("F0", "T"), "E[f(w0) - f(w*)]/(T gamma)"),
        step=eta,
        step_limit=Numeric(mstep, steps, "largest eta with every condition (bisection; exact interval)"),
        iteration=T,
        assumptions=("f and every f_i L-smooth (2.3), possibly non-convex", "unbiased i.i.d. samples (2.2)",
                     "delay bounded by Delta (Assumption 2.2.4)", "beta_t = beta > 0, c_m = 0"),
        quantities=(Quantity("gamma", Numeric(g, rec, "Gamma_0"), "gamma = min_t Gamma_t", f"({eqs[1]})"),
                    Quantity("c_1", Numeric(lambda **kw: c_closed(1, dim=dimv(kw), **kw), rec, "c_1"),
                             "largest c_{t+1}", f"({eqs[0]})")),
        notes=notes,
        derivations=_general_derivations(shared) + (
            (Derivation("(2.11) -> (2.12)", "(2.11),(2.12)", "Lemma 2.3.1's constant", _lemma_constant),)
            if shared else ()),
        variants=() if corrected else (_general(shared, True),),
    )


def _corollary(shared: bool, corrected: bool) -> Theorem:
    dim = d if shared else sp.Integer(1)
    dim_names = ("d",) if shared else ()
    dimv = (lambda kw: kw.pop("d")) if shared else (lambda kw: 1.0)
    num, eqs = ("2.3.2", ("2.26", "2.27", "2.28")) if shared else ("2.4.2", ("2.46", "2.47", "2.48"))
    N = n**alpha
    X = (14 * u0**2 * b**2 * Delta**2 + 14 * u0 * b * dim) / (3 * dim)
    sigma = u0 * (sp.Rational(1, 2) - X)
    conds = [
        Condition(f"({eqs[0]}) first", sp.StrictLessThan(Delta**2, dim / (2 * u0 * b)),
                  "keeps c_0 <= beta/2 = L", f"({eqs[0]})"),
        Condition(f"({eqs[0]}) second",
                  sp.StrictLessThan(Delta**2, (3 * dim - 28 * u0 * b * dim) / (28 * u0**2 * b**2)),
                  "makes 1/2 > (14 u0^2 b^2 Delta^2 + 14 u0 b d)/(3d), i.e. sigma > 0", f"({eqs[0]})"),
    ]
    if corrected:
        conds.append(Condition(f"({eqs[2]}) premise",
                               sp.LessThan(dim * N, dim * N**2 - 2 * Delta**2 * u0**2 * b**2),
                               "d n^alpha <= d n^(2 alpha) - 2 Delta^2 u0^2 b^2, assumed in the proof",
                               f"({eqs[2]})"))
    cor = ("u0", "alpha", "n", "b", "L", "Delta") + dim_names
    gam = Numeric(lambda **kw: corollary_gamma(dim=dimv(kw), **kw), cor,
                  "gamma of the general theorem at this eta, beta = 2L, m")
    lim = Numeric(lambda **kw: _u0_max(dim=dimv(kw), corrected=corrected, **kw),
                  ("alpha", "n", "b", "Delta") + dim_names, "largest u0 satisfying every condition")
    gen = "2.3.1" if shared else "2.4.1"
    return Theorem(
        key=f"thm{num}" + ("-corrected" if corrected else ""),
        title=(("Shared-AsySVRG" if shared else "Distributed-AsySVRG") + f" rate with eta = u0 b/(L n^alpha) "
               f"(Theorem {num})" + (", with the proof's premises" if corrected else "")),
        source=f"Thm {num}, ({eqs[0]})-({eqs[1]}), proof ({eqs[2]})-" + ("(2.31)" if shared else "(2.51)"),
        metric=METRIC,
        symbols=_syms("u0", "alpha", "n", "b", *dim_names, "L", "Delta", "F0", "T"),
        conditions=tuple(conds),
        bound_expr=dim * L * N * F0 / (b * T * sigma),
        step=u0,
        step_limit=lim,
        iteration=T,
        assumptions=(f"as Theorem {gen}", "beta = 2L, m = floor(d n^alpha/(6 u0 b)) (d = 1 for 2.4.2)"),
        quantities=(
            Quantity("eta", u0 * b / (L * N), "the step size", f"Thm {num}"),
            Quantity("m", sp.floor(dim * N / (6 * u0 * b)), "epoch length", f"Thm {num}"),
            Quantity("sigma", sigma, "sigma = u0 (1/2 - X), largest value the chain supports",
                     "(2.30)" if shared else "(2.50)"),
            Quantity("gamma_lower", sigma * b / (dim * L * N), "claimed lower bound on gamma",
                     "(2.30)" if shared else "(2.50)", promise=True),
            Quantity("gamma", gam, "gamma computed by the recurrence of Theorem " + gen, f"Thm {gen}"),
            Quantity("eta_max", Numeric(
                lambda **kw: _eta_max(dim=dimv(kw), corrected=corrected, **kw),
                ("alpha", "n", "b", "L", "Delta") + dim_names, "max_step (u0) b/(L n^alpha)"),
                "largest admissible step eta = u0_max b/(L n^alpha)", f"({eqs[0]})"),
            Quantity("u0_sup", sp.Min(1, dim / (2 * b * Delta**2), 6 * dim / (
                28 * b * dim + sp.sqrt(784 * b**2 * dim**2 + 336 * b**2 * Delta**2 * dim))),
                "supremum of admissible u0 (as stated)", f"({eqs[0]})"),
        ),
        notes=(_N_PREMISE, _N_LINE3, _N_SIGMA) + (() if shared else (_N_COND242,)),
        derivations=_corollary_derivations(shared),
        variants=() if corrected else (_corollary(shared, True),),
    )


def _lemma_step(L, Delta, d):
    # The condition is strict; 1e-12 below the supremum keeps it strict after rounding.
    with np.errstate(divide="ignore"):
        return np.sqrt(d / 2.0) / (L * Delta) * (1.0 - 1e-12)


def _lemma() -> Theorem:
    return Theorem(
        key="lem2.3.1",
        title="Variance of the delayed coordinate update (Lemma 2.3.1)",
        source="Lemma 2.3.1, (2.8)-(2.12)",
        metric="ratio of the epoch sums of E||v||**2 (2.5) and E||u||**2 (2.7)",
        symbols=_syms("eta", "L", "Delta", "d"),
        conditions=(Condition("d - 2 L^2 Delta^2 eta^2 > 0",
                              sp.StrictGreaterThan(d - 2 * L**2 * Delta**2 * eta**2, 0),
                              "d is the dimension of w (coordinate sampling gives the 1/d in (2.10))", "(2.12)"),),
        bound_expr=2 * d / (d - 2 * L**2 * Delta**2 * eta**2),
        step=eta,
        step_limit=Numeric(_lemma_step,
                           ("L", "Delta", "d"), "sqrt(d/2)/(L Delta) (1 - 1e-12); inf for Delta = 0"),
        quantities=(Quantity("eta_sup", sp.sqrt(d / 2) / (L * Delta), "supremum of admissible eta", "(2.12)"),),
        notes=(_N_NAMES,),
        derivations=(Derivation("(2.11) -> (2.12)", "(2.11),(2.12)", "the constant 2d/(d - 2L^2 Delta^2 eta^2)",
                                _lemma_constant),),
    )


LEMMA_2_3_1 = register(_lemma())
THM_2_3_1 = register(_general(True, False))
THM_2_3_2 = register(_corollary(True, False))
THM_2_4_1 = register(_general(False, False))
THM_2_4_2 = register(_corollary(False, False))
