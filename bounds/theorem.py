# CORE-READY
"""The theorem value: symbols, step-size conditions, rate bound, checks.

A :class:`Theorem` encodes one convergence theorem of the thesis (Huo 2020)
as sympy expressions plus, where the thesis has no closed form, Python
callables (:class:`Numeric`, e.g. the backward recurrence c_t / Gamma_t of
Theorem 2.3.1). It answers "is my step size allowed, and what is then
promised?": :meth:`Theorem.check` evaluates every condition with its margin,
:meth:`Theorem.max_step` gives the largest admissible step and
:meth:`Theorem.bound` / :meth:`Theorem.evaluate_bound` evaluate the rate
bound, vectorised over numpy arrays (broadcasting).

Parameter names are the sympy symbol names (``lam`` for lambda, ``eps`` for
epsilon; the LaTeX spelling is :attr:`TheoremSymbol.latex_name`). A value's
allowed range comes from the symbol's assumptions (``positive``,
``nonnegative``, ``integer``) plus optional explicit bounds.

Chapter modules build theorems and call :func:`register`; ``bounds.get`` and
``bounds.all`` read the registry. This module depends only on numpy and sympy.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Mapping

import numpy as np
import sympy as sp

__all__ = [
    "TheoremSymbol", "Condition", "Numeric", "Quantity", "Note", "Derivation",
    "DerivationResult", "ConditionStatus", "CheckReport", "Theorem",
    "register", "get", "all_theorems", "keys",
]

Number = float | np.ndarray


@dataclass(frozen=True)
class TheoremSymbol:
    """A parameter of a theorem: a sympy Symbol with assumptions and a description.

    The allowed range is read from the assumptions (positive -> > 0,
    nonnegative -> >= 0, integer) and tightened by ``lower`` / ``upper``.
    """

    symbol: sp.Symbol
    description: str
    latex_name: str | None = None
    lower: float | None = None
    lower_inclusive: bool = True
    upper: float | None = None
    upper_inclusive: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.symbol, sp.Symbol):
            raise TypeError(f"symbol must be a sympy Symbol, got {self.symbol!r}")
        if not self.description:
            raise ValueError(f"description of symbol {self.name!r} must be non-empty")

    @property
    def name(self) -> str:
        return self.symbol.name

    @property
    def is_integer(self) -> bool:
        return bool(self.symbol.is_integer)

    def _lower(self) -> tuple[float, bool]:
        if self.lower is not None:
            return float(self.lower), self.lower_inclusive
        if self.symbol.is_positive:
            return (1.0, True) if self.is_integer else (0.0, False)
        if self.symbol.is_nonnegative:
            return 0.0, True
        return -math.inf, False

    @property
    def allowed(self) -> str:
        """The allowed range in words, e.g. "an integer >= 1", "a finite number in (0, 1)"."""
        lo, lo_inc = self._lower()
        hi, hi_inc = (math.inf, False) if self.upper is None else (float(self.upper), self.upper_inclusive)
        kind = "an integer" if self.is_integer else "a finite number"
        fmt = (lambda v: str(int(v))) if self.is_integer else (lambda v: f"{v:g}")
        if math.isinf(lo) and math.isinf(hi):
            return kind
        if math.isinf(hi):
            return f"{kind} {'>=' if lo_inc else '>'} {fmt(lo)}"
        if math.isinf(lo):
            return f"{kind} {'<=' if hi_inc else '<'} {fmt(hi)}"
        return f"{kind} in {'[' if lo_inc else '('}{fmt(lo)}, {fmt(hi)}{']' if hi_inc else ')'}"

    def validate(self, value: Any) -> np.ndarray:
        """Return ``value`` as a float64 array, or raise ValueError naming the parameter."""
        try:
            arr = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"{self.name} must be {self.allowed}, got {value!r}") from None
        lo, lo_inc = self._lower()
        hi, hi_inc = (math.inf, False) if self.upper is None else (float(self.upper), self.upper_inclusive)
        bad = ~np.isfinite(arr)
        if self.is_integer:
            bad |= arr != np.round(arr)
        bad |= (arr < lo) if lo_inc else (arr <= lo)
        bad |= (arr > hi) if hi_inc else (arr >= hi)
        if np.any(bad):
            got = arr[bad].flat[0] if arr.ndim else arr.item()
            got_s = repr(int(got)) if self.is_integer and float(got).is_integer() else repr(float(got))
            raise ValueError(f"{self.name} must be {self.allowed}, got {got_s}")
        return arr


@dataclass(frozen=True)
class Numeric:
    """A numeric part with no closed form: ``fn(**params) -> ndarray``.

    ``params`` names the theorem symbols ``fn`` needs (passed as float64
    arrays broadcast to one shape, as keywords). ``fn`` must accept arrays.
    """

    fn: Callable[..., Any]
    params: tuple[str, ...]
    description: str

    def __post_init__(self) -> None:
        if not callable(self.fn):
            raise TypeError(f"fn must be callable, got {self.fn!r}")


@dataclass(frozen=True)
class Condition:
    """One hypothesis of a theorem: a sympy relation (or a :class:`Numeric` margin).

    ``margin`` >= 0 means the condition holds (> 0 for strict relations). By
    default the margin of ``a <= b`` is ``b - a`` (so for ``eta <= bound`` it
    is in units of the step size); ``margin`` overrides it.
    """

    name: str
    relation: sp.Basic | None
    sentence: str
    source: str
    margin: sp.Expr | Numeric | None = None
    strict: bool | None = None
    #: names of conditions this one presupposes (its margin is undefined when one of them fails, e.g.
    #: Gamma_t of (2.14) divides by D > 0): check() then reports it "not evaluated", naming them
    requires: tuple[str, ...] = ()
    #: evaluated only when all its parameters are given (else check() lists it as not evaluated and
    #: does not require its parameters), e.g. tau < T where T is not needed for the step limit
    optional: bool = False

    def __post_init__(self) -> None:
        if self.relation is None and not isinstance(self.margin, Numeric):
            raise ValueError(f"condition {self.name!r}: relation is None, so margin must be a Numeric")
        if self.relation is not None and not isinstance(self.relation, sp.core.relational.Relational):
            raise TypeError(f"condition {self.name!r}: relation must be a sympy relation, got {self.relation!r}")

    @property
    def is_strict(self) -> bool:
        if self.strict is not None:
            return self.strict
        return isinstance(self.relation, (sp.StrictLessThan, sp.StrictGreaterThan))

    @property
    def margin_expr(self) -> sp.Expr | Numeric:
        if self.margin is not None:
            return self.margin
        rel = self.relation
        if isinstance(rel, (sp.LessThan, sp.StrictLessThan)):
            return rel.rhs - rel.lhs
        if isinstance(rel, (sp.GreaterThan, sp.StrictGreaterThan)):
            return rel.lhs - rel.rhs
        raise ValueError(f"condition {self.name!r}: give an explicit margin for relation {rel}")

    def describe(self) -> str:
        what = sp.sstr(self.relation) if self.relation is not None else self.margin.description
        return f"{self.source} {what} -- {self.sentence}"


@dataclass(frozen=True)
class Quantity:
    """A named derived expression of a theorem (e.g. the outer-iteration count of (3.27))."""

    name: str
    expr: sp.Expr | Numeric
    description: str
    source: str
    #: a promise of the theorem (e.g. an iteration count from the rate): like the bound, check()
    #: gives it only when every condition holds
    promise: bool = False


@dataclass(frozen=True)
class Note:
    """A discrepancy or remark: equation numbers, the text with its algebra, and the variant offered."""

    source: str
    text: str
    variant: str | None = None


@dataclass(frozen=True)
class DerivationResult:
    """Outcome of one derivation check: ``ok`` iff the thesis step is confirmed by sympy."""

    name: str
    ok: bool
    detail: str
    thesis: sp.Basic | None = None
    derived: sp.Basic | None = None


@dataclass(frozen=True)
class Derivation:
    """A named check of one thesis step. ``expect_ok=False`` marks a documented discrepancy."""

    name: str
    source: str
    description: str
    fn: Callable[[], DerivationResult]
    expect_ok: bool = True

    def run(self) -> DerivationResult:
        res = self.fn()
        if not isinstance(res, DerivationResult):
            raise TypeError(f"derivation {self.name!r} must return a DerivationResult, got {type(res).__name__}")
        return res


@dataclass(frozen=True)
class ConditionStatus:
    """A condition evaluated at concrete numbers."""

    name: str
    source: str
    sentence: str
    relation: str
    holds: bool
    margin: float
    #: "" if evaluated; else why not (the failed premise it requires)
    not_evaluated: str = ""

    @property
    def status(self) -> str:
        """"holds", "violated" or "not evaluated"."""
        if self.not_evaluated:
            return "not evaluated"
        return "holds" if self.holds else "violated"


@dataclass(frozen=True)
class CheckReport:
    """Result of :meth:`Theorem.check`: each condition's status, the largest step, the bound."""

    key: str
    title: str
    metric: str
    params: tuple[tuple[str, float], ...]
    conditions: tuple[ConditionStatus, ...]
    step_name: str | None
    max_step: float | None
    bound: float | None
    quantities: tuple[tuple[str, float | None], ...] = ()
    unevaluated: tuple[str, ...] = ()

    @property
    def holds(self) -> bool:
        """True iff every condition holds (the theorem's guarantee applies)."""
        return all(c.holds for c in self.conditions)

    @property
    def violated(self) -> tuple[ConditionStatus, ...]:
        """The evaluated conditions that fail (a condition not evaluated because a premise it
        requires failed is not listed: the premise is)."""
        return tuple(c for c in self.conditions if not c.holds and not c.not_evaluated)

    @property
    def bound_withheld(self) -> str | None:
        """Why no bound is given although it could be evaluated: the failed conditions, else None."""
        if self.holds:
            return None
        return "condition violated: " + ", ".join(c.name for c in self.violated)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict: a value that is NaN or infinite (e.g. a recurrence that breaks down
        outside the theorem's condition) becomes None, so ``json.dumps`` never writes NaN/Infinity."""
        return _json_safe({
            "theorem": self.key, "title": self.title, "metric": self.metric,
            # integral values (n, H, tau, ...) print as JSON integers
            "params": {k: int(v) if float(v).is_integer() else v for k, v in self.params},
            "holds": self.holds,
            "conditions": [
                {"name": c.name, "source": c.source, "relation": c.relation, "sentence": c.sentence,
                 "status": c.status, "margin": c.margin,
                 **({"not_evaluated": c.not_evaluated} if c.not_evaluated else {})}
                for c in self.conditions
            ],
            "violated": [c.name for c in self.violated],
            "step": self.step_name, "max_step": self.max_step, "bound": self.bound,
            "bound_withheld": self.bound_withheld,
            "quantities": dict(self.quantities), "unevaluated": list(self.unevaluated),
        })

    def __str__(self) -> str:
        lines = [f"{self.key}: {self.title}",
                 "  params: " + ", ".join(f"{k}={v:g}" for k, v in self.params)]
        for c in self.conditions:
            if c.not_evaluated:
                lines.append(f"  {c.source:<8} {'n/a':<8} [{c.name}] not evaluated: {c.not_evaluated}")
            else:
                label = "" if c.name == c.source else f"[{c.name}] "
                lines.append(f"  {c.source:<8} {'holds   ' if c.holds else 'VIOLATED'} margin {c.margin:+.6g}  "
                             f"{label}{c.relation}")
        if self.max_step is not None:
            lines.append(f"  largest admissible {self.step_name}: {self.max_step:.6g}")
        if self.bound is not None:
            lines.append(f"  bound: {self.metric} <= {self.bound:.6g}")
        elif self.bound_withheld:
            lines.append(f"  bound: none ({self.bound_withheld})")
        for k, v in self.quantities:
            lines.append(f"  {k}: " + (f"{v:.6g}" if v is not None else "none (a promise of the theorem: conditions fail)"))
        for u in self.unevaluated:
            lines.append(f"  not evaluated: {u}")
        lines.append("  verdict: " + ("all conditions hold" if self.holds else
                                      "violated: " + ", ".join(c.name for c in self.violated)))
        return "\n".join(lines)


def _json_safe(obj: Any) -> Any:
    """Replace non-finite floats (NaN, +-inf) by None, recursively: strict JSON has no such tokens."""
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _np_pow1p(y: Any, s: Any) -> np.ndarray:
    """(1 + y)^s: exp(s log1p(y)) where 1 + y > 0 (accurate near 1), the plain power elsewhere
    (so (1 - eta lam H)^S with eta lam H > 1 is the real, possibly negative, number, not NaN)."""
    y = np.asarray(y, dtype=np.float64)
    s = np.asarray(s, dtype=np.float64)
    pos = (1.0 + y) > 0
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        stable = np.exp(s * np.log1p(np.where(pos, y, 0.0)))
        plain = np.power(1.0 + y, s)
    return np.where(pos, stable, plain)


class _pow1p(sp.Function):
    """(1 + y)^s for evaluation only (see :func:`_stabilise`); lambdified to :func:`_np_pow1p`."""

    nargs = 2


# sympy prints Max/Min as numpy.amax((a, b), axis=0), which fails for a scalar
# mixed with an array; elementwise reductions broadcast instead.
_NP_OVERRIDES = {
    "Max": lambda *a: functools.reduce(np.maximum, a),
    "Min": lambda *a: functools.reduce(np.minimum, a),
    "_pow1p": _np_pow1p,
}


_TEX_ESCAPES = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "_": r"\_", "^": r"\^{}",
                "%": r"\%", "&": r"\&", "#": r"\#", "$": r"\$"}


def _tex_text(s: str) -> str:
    """Escape plain text for a LaTeX \\text{...} group (one pass, so escapes are not re-escaped)."""
    return "".join(_TEX_ESCAPES.get(ch, ch) for ch in s)


def _one_plus(e: sp.Basic) -> sp.Expr | None:
    """``y`` if ``e`` is ``1 + y`` (an Add with constant term 1), else None."""
    if isinstance(e, sp.Add):
        const, rest = e.as_independent(*e.free_symbols, as_Add=True)
        if const == 1 and rest != 0:
            return rest
    return None


def _stabilise(expr: sp.Expr) -> sp.Expr:
    """Rewrite log(1 + y) as log1p(y) and (1 + y)^S as exp(S log1p(y)) (where 1 + y > 0) for
    evaluation only: rates like 1 - eta lam H sit within 1e-10 of 1, where the naive forms lose
    all digits."""
    from sympy.codegen.cfunctions import log1p

    expr = expr.replace(lambda e: isinstance(e, sp.log) and _one_plus(e.args[0]) is not None,
                        lambda e: log1p(_one_plus(e.args[0])))
    return expr.replace(lambda e: e.is_Pow and not e.exp.is_number and _one_plus(e.base) is not None,
                        lambda e: _pow1p(_one_plus(e.base), e.exp))


def _free_names(part: sp.Expr | Numeric | None) -> tuple[str, ...]:
    if part is None:
        return ()
    if isinstance(part, Numeric):
        return tuple(part.params)
    return tuple(sorted(s.name for s in sp.sympify(part).free_symbols))


@dataclass(frozen=True, eq=False)
class Theorem:
    """A convergence theorem as a value (PEPit style).

    Fields: ``key`` ("thm3.4.1"), ``title``, ``source`` (equation numbers),
    ``metric`` (what the bound bounds), ``symbols``, ``conditions``, ``step``
    (the step-size symbol), ``step_limit`` (closed-form largest step, or a
    :class:`Numeric`), ``bound_expr`` (the rate bound, or a Numeric),
    ``iteration`` (the symbol that ``bound(T, ...)`` fills with T),
    ``assumptions`` (sentences), ``quantities``, ``notes``, ``derivations``,
    ``variants`` (other Theorem values, registered with this one).
    """

    key: str
    title: str
    source: str
    metric: str
    symbols: tuple[TheoremSymbol, ...]
    conditions: tuple[Condition, ...]
    bound_expr: sp.Expr | Numeric
    step: sp.Symbol | None = None
    step_limit: sp.Expr | Numeric | None = None
    iteration: sp.Symbol | None = None
    assumptions: tuple[str, ...] = ()
    quantities: tuple[Quantity, ...] = ()
    notes: tuple[Note, ...] = ()
    derivations: tuple[Derivation, ...] = ()
    variants: tuple["Theorem", ...] = ()
    _cache: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    #: inputs besides the symbols that take a sequence of numbers (name -> description), turned
    #: into symbols by :meth:`_alias` (e.g. Chapter 4's per-layer ``L`` and ``Mk``); the CLI reads
    #: them comma-separated
    ARRAY_PARAMS: ClassVar[dict[str, str]] = {}

    def __post_init__(self) -> None:
        if not isinstance(self.key, str) or not self.key or any(ch.isspace() for ch in self.key):
            raise ValueError(f"key must be a non-empty string without spaces, got {self.key!r}")
        names = [s.name for s in self.symbols]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"{self.key}: duplicate symbol names {sorted(dup)}")
        known = set(names)
        for sym, what in ((self.step, "step"), (self.iteration, "iteration")):
            if sym is not None and sym.name not in known:
                raise ValueError(f"{self.key}: {what} symbol {sym.name!r} is not among symbols {sorted(known)}")
        parts: list[tuple[str, Any]] = [("bound", self.bound_expr), ("step_limit", self.step_limit)]
        parts += [(f"condition {c.name!r}", c.margin_expr) for c in self.conditions]
        parts += [(f"quantity {q.name!r}", q.expr) for q in self.quantities]
        for what, part in parts:
            extra = set(_free_names(part)) - known
            if extra:
                raise ValueError(f"{self.key}: {what} uses unknown symbols {sorted(extra)}; symbols are {sorted(known)}")
        seen: list[str] = []
        for c in self.conditions:
            bad = [r for r in c.requires if r not in seen]
            if bad:
                raise ValueError(f"{self.key}: condition {c.name!r} requires {bad}, which are not conditions listed "
                                 f"before it ({seen})")
            seen.append(c.name)
        if len(set(seen)) != len(seen):
            raise ValueError(f"{self.key}: duplicate condition names {seen}")
        qn = [q.name for q in self.quantities]
        if len(set(qn)) != len(qn):
            raise ValueError(f"{self.key}: duplicate quantity names {qn}")

    # -- symbols -------------------------------------------------------------
    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.symbols)

    def symbol(self, name: str) -> TheoremSymbol:
        for s in self.symbols:
            if s.name == name:
                return s
        raise KeyError(f"{self.key} has no parameter {name!r}; its parameters are: {', '.join(self.param_names)}")

    def _alias(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Map keyword ``T`` to the iteration symbol when the theorem has no own ``T``."""
        params = dict(params)
        if "T" in params and "T" not in self.param_names and self.iteration is not None:
            if self.iteration.name in params:
                raise ValueError(f"{self.key}: give T or {self.iteration.name}, not both")
            params[self.iteration.name] = params.pop("T")
        return params

    def _validated(self, params: Mapping[str, Any], required: tuple[str, ...]) -> dict[str, np.ndarray]:
        unknown = sorted(set(params) - set(self.param_names))
        if unknown:
            raise ValueError(f"unknown parameter {unknown[0]!r} for {self.key}; "
                             f"its parameters are: {', '.join(self.param_names)}")
        # invalid values first (in symbol order), then what is missing
        out = {k: self.symbol(k).validate(params[k]) for k in self.param_names
               if params.get(k) is not None}
        for name in required:
            if name not in out:
                sym = self.symbol(name)
                raise ValueError(f"missing parameter {name!r} for {self.key}: "
                                 f"{name} must be {sym.allowed} ({sym.description})")
        return out

    # -- evaluation ------------------------------------------------------------
    def _eval(self, part: sp.Expr | Numeric, values: Mapping[str, np.ndarray]) -> np.ndarray:
        names = _free_names(part)
        args = [values[n] for n in names]
        try:
            shape = np.broadcast_shapes(*(a.shape for a in values.values())) if values else ()
        except ValueError:
            shapes = ", ".join(f"{k} {v.shape}" for k, v in values.items() if v.ndim)
            raise ValueError(f"{self.key}: array parameters must broadcast to one shape (numpy rules), "
                             f"got shapes {shapes}") from None
        args = [np.broadcast_to(a, shape) for a in args]
        if isinstance(part, Numeric):
            out = part.fn(**dict(zip(names, args)))
        else:
            key = part  # sympy expressions hash structurally
            fn = self._cache.get(key)
            if fn is None:
                syms = sorted(sp.sympify(part).free_symbols, key=lambda x: x.name)
                fn = sp.lambdify(syms, _stabilise(part), modules=[_NP_OVERRIDES, "numpy"])
                self._cache[key] = fn
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                out = fn(*args)
        return np.broadcast_to(np.asarray(out, dtype=np.float64), shape)

    @staticmethod
    def _out(arr: np.ndarray) -> Number:
        return float(arr) if arr.ndim == 0 else np.array(arr)

    def evaluate(self, part: sp.Expr | Numeric | str, **params: Any) -> Number:
        """Evaluate a part (sympy expression, Numeric, or a quantity name) on (arrays of) numbers."""
        if isinstance(part, str):
            matches = [q for q in self.quantities if q.name == part]
            if not matches:
                raise KeyError(f"{self.key} has no quantity {part!r}; quantities: {[q.name for q in self.quantities]}")
            part = matches[0].expr
        params = self._alias(params)
        values = self._validated(params, _free_names(part))
        return self._out(self._eval(part, values))

    def max_step(self, **params: Any) -> Number:
        """Largest admissible step (closed form where the thesis gives one), vectorised."""
        if self.step_limit is None:
            raise ValueError(f"{self.key} has no step-size limit")
        return self.evaluate(self.step_limit, **params)

    def evaluate_bound(self, **params: Any) -> Number:
        """The rate bound on arrays of parameters (keyword ``T`` = the iteration symbol)."""
        return self.evaluate(self.bound_expr, **params)

    def bound(self, T: Any = None, **params: Any) -> Number:
        """The rate bound after ``T`` iterations of :attr:`iteration` (same as evaluate_bound)."""
        if T is not None:
            if self.iteration is None:
                raise ValueError(f"{self.key}: the bound has no iteration symbol, so T cannot be given")
            if self.iteration.name in params and self.iteration.name != "T":
                raise ValueError(f"{self.key}: give T or {self.iteration.name}, not both")
            params[self.iteration.name] = T
        return self.evaluate_bound(**params)

    def _active(self, params: Mapping[str, Any]) -> tuple[Condition, ...]:
        """The conditions to evaluate: all but the optional ones whose parameters are not given."""
        return tuple(c for c in self.conditions if not c.optional
                     or all(params.get(n) is not None for n in _free_names(c.margin_expr)))

    def margins(self, **params: Any) -> dict[str, Number]:
        """Each condition's margin (>= 0 holds), vectorised (optional conditions only when their
        parameters are given)."""
        params = self._alias(params)
        return {c.name: self.evaluate(c.margin_expr, **params) for c in self._active(params)}

    def admissible(self, **params: Any) -> np.ndarray | bool:
        """Whether every condition holds, vectorised (optional conditions only when their parameters
        are given)."""
        params = self._alias(params)
        ok: Any = True
        for c in self._active(params):
            m = np.asarray(self.evaluate(c.margin_expr, **params))
            ok = ok & ((m > 0) if c.is_strict else (m >= 0))
        return bool(ok) if np.ndim(ok) == 0 else ok

    def admissible_bound(self, T: Any = None, **params: Any) -> Number:
        """The rate bound where every condition holds and NaN elsewhere, vectorised: the guarded
        form of :meth:`bound` (which evaluates the expression whatever the conditions say)."""
        if T is not None:
            params = dict(params, T=T)
        params = self._alias(params)
        val = np.asarray(self.evaluate_bound(**params), dtype=np.float64)
        ok = np.asarray(self.admissible(**params))
        return self._out(np.where(np.broadcast_to(ok, np.broadcast_shapes(ok.shape, val.shape)), val, np.nan))

    @property
    def check_params(self) -> tuple[str, ...]:
        """Parameters :meth:`check` requires: those of the (non-optional) conditions and the step limit."""
        need: set[str] = set(_free_names(self.step_limit))
        for c in self.conditions:
            if not c.optional:
                need |= set(_free_names(c.margin_expr))
        return tuple(n for n in self.param_names if n in need)

    def check(self, **params: Any) -> CheckReport:
        """Check concrete (scalar) numbers: every condition's status and margin, the largest
        admissible step and the bound's value (when all of its parameters are given)."""
        params = self._alias(params)
        values = self._validated(params, self.check_params)
        for k, v in values.items():
            if v.ndim != 0:
                raise ValueError(f"{k} must be a single number for check(), got an array of shape {v.shape}")
        statuses: list[ConditionStatus] = []
        unevaluated: list[str] = []
        active = {id(c) for c in self._active(values)}
        for c in self.conditions:
            rel = sp.sstr(c.relation) if c.relation is not None else c.margin.description
            if id(c) not in active:
                missing = [n for n in _free_names(c.margin_expr) if n not in values]
                unevaluated.append(f"condition {c.name} (needs {', '.join(missing)})")
                continue
            failed = [st.name for st in statuses if st.name in c.requires and not st.holds]
            if failed:
                statuses.append(ConditionStatus(c.name, c.source, c.sentence, rel, False, math.nan,
                                                not_evaluated="requires " + ", ".join(failed) + ", which fails"))
                continue
            m = float(self._eval(c.margin_expr, values))
            holds = bool(m > 0) if c.is_strict else bool(m >= 0)
            statuses.append(ConditionStatus(c.name, c.source, c.sentence, rel, holds, m))
        all_hold = all(st.holds for st in statuses)

        def maybe(label: str, part: sp.Expr | Numeric) -> float | None:
            missing = [n for n in _free_names(part) if n not in values]
            if missing:
                unevaluated.append(f"{label} (needs {', '.join(missing)})")
                return None
            return float(self._eval(part, values))

        mstep = maybe("max_step", self.step_limit) if self.step_limit is not None else None
        # a failed condition means no bound (None, null in JSON), whatever the expression evaluates to
        bnd = maybe("bound", self.bound_expr) if all_hold else None
        qs = []
        for q in self.quantities:
            if q.promise and not all_hold:
                qs.append((q.name, None))   # a promise of the theorem: withheld like the bound
                continue
            v = maybe(q.name, q.expr)
            if v is not None:
                qs.append((q.name, v))
        return CheckReport(
            key=self.key, title=self.title, metric=self.metric,
            params=tuple((k, float(v)) for k, v in values.items()),
            conditions=tuple(statuses), step_name=None if self.step is None else self.step.name,
            max_step=mstep, bound=bnd, quantities=tuple(qs), unevaluated=tuple(unevaluated))

    def run_derivations(self) -> tuple[DerivationResult, ...]:
        return tuple(d.run() for d in self.derivations)

    # -- presentation ------------------------------------------------------------
    def _latex_names(self) -> dict[sp.Symbol, str]:
        return {s.symbol: s.latex_name for s in self.symbols if s.latex_name}

    def _tex(self, expr: sp.Basic) -> str:
        return sp.latex(expr, symbol_names=self._latex_names())

    def latex(self) -> str:
        """LaTeX rendering: title, conditions with equation numbers, and the bound."""
        t = _tex_text
        out = [rf"\textbf{{{t(self.title)}}} ({t(self.source)})", r"\begin{align*}"]
        rows = []
        for c in self.conditions:
            if c.relation is not None:
                rows.append(rf"  & {self._tex(c.relation)} && \text{{{t(c.source)}}}")
            else:
                rows.append(rf"  & \text{{{t(c.margin.description)}}} \geq 0 && \text{{{t(c.source)}}}")
        if isinstance(self.bound_expr, Numeric):
            rows.append(rf"  & \text{{{t(self.metric)}}} \leq \text{{{t(self.bound_expr.description)}}}")
        else:
            rows.append(rf"  & \text{{{t(self.metric)}}} \leq {self._tex(self.bound_expr)}")
        out.append(" \\\\\n".join(rows))
        out.append(r"\end{align*}")
        return "\n".join(out)

    def __str__(self) -> str:
        lines = [f"{self.title}  [{self.key}]", f"  Source: {self.source}", f"  Metric: {self.metric}"]
        for a in self.assumptions:
            lines.append(f"  Assumes: {a}")
        lines.append("  Symbols:")
        for s in self.symbols:
            lines.append(f"    {s.name:<6} {s.allowed:<26} {s.description}")
        lines.append("  Conditions:")
        for c in self.conditions:
            lines.append(f"    {c.describe()}")
        if self.step_limit is not None and self.step is not None:
            lim = self.step_limit.description if isinstance(self.step_limit, Numeric) else sp.sstr(self.step_limit)
            lines.append(f"  Largest step: {self.step.name} <= {lim}")
        b = self.bound_expr.description if isinstance(self.bound_expr, Numeric) else sp.sstr(self.bound_expr)
        lines.append(f"  Bound: {self.metric} <= {b}")
        for q in self.quantities:
            e = q.expr.description if isinstance(q.expr, Numeric) else sp.sstr(q.expr)
            lines.append(f"  {q.name} {q.source}: {e}")
        for n in self.notes:
            lines.append(f"  Note {n.source}: {n.text.splitlines()[0]}"
                         + (f" (variant: {n.variant})" if n.variant else ""))
        if self.variants:
            lines.append("  Variants: " + ", ".join(v.key for v in self.variants))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"Theorem({self.key!r}, {self.title!r})"


# -- registry --------------------------------------------------------------------
_REGISTRY: dict[str, Theorem] = {}


def _filled() -> dict[str, Theorem]:
    """The registry, after every chapter module registered its theorems (built on first access)."""
    import bounds

    bounds.load_chapters()
    return _REGISTRY


def _with_chapter_of(key: str) -> dict[str, Theorem]:
    """The registry, after the one chapter module that owns ``key`` (if any) registered its theorems:
    ``thm3.4.1`` -> :mod:`bounds.ch3` (:func:`bounds.chapter_of`). Loading one chapter loads no other,
    so a study that binds only Chapter 3's theorems does not build Chapters 2, 4, 5 and 6."""
    import bounds

    bounds.load_chapter(bounds.chapter_of(key))
    return _REGISTRY


def register(theorem: Theorem) -> Theorem:
    """Register a theorem and (recursively) its variants; a duplicate key raises ValueError. Each key's
    own chapter (:func:`bounds.chapter_of`) is loaded first, so a clash with a built-in theorem shows
    here, not at a later first access; a chapter registering its own theorems loads no other chapter."""
    if not isinstance(theorem, Theorem):
        raise TypeError(f"register() takes a Theorem, got {type(theorem).__name__}")
    todo = [theorem]
    seen: list[Theorem] = []
    while todo:
        t = todo.pop()
        seen.append(t)
        todo.extend(t.variants)
    keys_ = [t.key for t in seen]
    for k in keys_:
        _with_chapter_of(k)
    for k in keys_:
        if k in _REGISTRY or keys_.count(k) > 1:
            raise ValueError(f"theorem key {k!r} is already registered")
    for t in seen:
        _REGISTRY[t.key] = t
    return theorem


def get(key: str) -> Theorem:
    """The registered theorem ``key`` (loading only its chapter's module when that registers it); KeyError
    names the key and lists the known ones."""
    reg = _with_chapter_of(key) if isinstance(key, str) else _REGISTRY
    if key not in reg:
        reg = _filled()
    try:
        return reg[key]
    except KeyError:
        raise KeyError(f"unknown theorem {key!r}; known theorems: {', '.join(sorted(reg))}") from None


def all_theorems() -> tuple[Theorem, ...]:
    """All registered theorems (variants included), sorted by key."""
    reg = _filled()
    return tuple(reg[k] for k in sorted(reg))


def keys() -> tuple[str, ...]:
    return tuple(sorted(_filled()))
