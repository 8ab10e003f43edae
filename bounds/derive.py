"""Small sympy helpers for derivation checks (one thesis step each).

They turn "the thesis solves inequality X for eta and gets Y" into a
:class:`~bounds.theorem.DerivationResult` with ``ok`` and a readable detail.
"""
from __future__ import annotations

import sympy as sp

from bounds.theorem import DerivationResult

__all__ = ["same", "compare", "step_limit_from_quadratic", "coefficients", "certify_identity", "relax", "young"]


def same(a: sp.Expr, b: sp.Expr) -> bool:
    """True iff ``a - b`` simplifies to exactly 0 (rational-function identity)."""
    return sp.simplify(sp.cancel(sp.together(a - b))) == 0


def compare(name: str, thesis: sp.Expr, derived: sp.Expr, what: str) -> DerivationResult:
    """Compare the thesis's expression with the sympy-derived one."""
    ok = same(thesis, derived)
    diff = sp.factor(sp.cancel(sp.together(derived - thesis)))
    detail = (f"{what}: thesis {sp.sstr(thesis)}; sympy {sp.sstr(sp.factor(derived))}; "
              + ("identical" if ok else f"they differ by (sympy - thesis) = {sp.sstr(diff)}"))
    return DerivationResult(name=name, ok=ok, detail=detail, thesis=thesis, derived=derived)


def step_limit_from_quadratic(expr: sp.Expr, eta: sp.Symbol) -> sp.Expr:
    """Largest eta > 0 with ``expr(eta) <= 0`` for ``expr = a eta^2 - b eta`` (a, b > 0).

    The set {eta > 0 : a eta^2 - b eta <= 0} is (0, b/a], so the condition is
    an iff and the limit is tight.
    """
    poly = sp.Poly(sp.expand(expr), eta)
    if poly.degree() != 2 or poly.coeff_monomial(1) != 0:
        raise ValueError(f"expr must be a*eta**2 - b*eta with no constant term, got {expr}")
    a = poly.coeff_monomial(eta**2)
    b = -poly.coeff_monomial(eta)
    roots = [r for r in sp.solve(sp.Eq(sp.cancel(expr / eta), 0), eta)]
    if len(roots) != 1:
        raise ValueError(f"expected one positive root, got {roots}")
    root = sp.simplify(roots[0])
    if not (sp.simplify(a).is_positive and sp.simplify(b).is_positive):
        raise ValueError(f"coefficients must be positive: a={a}, b={b}")
    return root


def coefficients(expr: sp.Expr, terms: dict[str, sp.Expr]) -> dict[str, sp.Expr]:
    """Coefficient of each placeholder symbol (e.g. E|v^t|^2) in a linear combination."""
    e = sp.expand(expr)
    return {k: sp.simplify(e.coeff(s)) for k, s in terms.items()}


def certify_identity(expr: sp.Expr, certificate: sp.Expr) -> bool:
    """True iff ``expr`` equals ``certificate`` identically (e.g. a sum-of-squares proof)."""
    return sp.expand(expr - certificate) == 0


def relax(expr: sp.Expr, target: sp.Expr, bound: sp.Expr, *, target_at_least: bool) -> tuple[sp.Expr, bool, str]:
    """Upper-bound ``expr`` (affine in ``target``) by replacing ``target`` with ``bound``.

    ``target_at_least=True`` means the known inequality is ``target >= bound`` (a lower bound), so
    the substitution gives an upper bound iff the coefficient of ``target`` is <= 0; with
    ``target_at_least=False`` (``target <= bound``) it must be >= 0. Returns ``(new_expr, ok,
    detail)``; ``ok`` is False when sympy cannot confirm the coefficient's sign from the symbols'
    assumptions (the step would then go the wrong way or is unproven).
    """
    e = sp.expand(expr)
    if sp.expand(sp.diff(e, target, 2)) != 0:
        raise ValueError(f"expr must be affine in {target}, got {expr}")
    coeff = sp.factor(sp.diff(e, target))
    sign_ok = coeff.is_nonpositive if target_at_least else coeff.is_nonnegative
    new = sp.expand(e.subs(target, bound))
    rel = ">=" if target_at_least else "<="
    need = "<= 0" if target_at_least else ">= 0"
    detail = (f"{sp.sstr(target)} {rel} {sp.sstr(bound)}, coefficient {sp.sstr(coeff)} {need}: "
              + ("confirmed" if sign_ok else "NOT confirmed (the substitution would not give an upper bound)"))
    return new, bool(sign_ok), detail


def young(x: sp.Expr, y: sp.Expr, c: sp.Expr) -> tuple[sp.Expr, bool]:
    """Young's inequality x y <= c x^2 + y^2/(4c) (c > 0), with its sum-of-squares certificate.

    Returns ``(c x^2 + y^2/(4c), certified)``: ``certified`` is True iff c > 0 follows from the
    assumptions and c x^2 + y^2/(4c) - x y equals (sqrt(c) x - y/(2 sqrt(c)))^2 identically.
    """
    rhs = c * x**2 + y**2 / (4 * c)
    sq = (sp.sqrt(c) * x - y / (2 * sp.sqrt(c)))**2
    ok = bool(sp.sympify(c).is_positive) and sp.simplify(sp.expand(rhs - x * y - sq)) == 0
    return rhs, ok
