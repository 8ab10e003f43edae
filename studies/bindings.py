"""Theorem bindings: each symbol of a theorem bound to where its value comes from.

A study does not compute theorem parameters in code; it declares them::

    TheoremBinding("thm3.4.1", applies_to=("dis-dfsdca",), symbols={
        "L": Constant("L_max"), "lam": Constant("lam"), "n": Constant("n"),
        "H": Hyper("H"), "eta": Hyper("eta"), "tau": TraceStat("max_staleness")})

Sources: :class:`Constant` (a problem constant or fact: n, d, lam, L, L_max, mu, or a dataset /
study value), :class:`Hyper` (a hyper-parameter of the run), :class:`TraceStat` (a statistic of
the run's trace: ``max_staleness`` -- tau of Assumption 3.4.2, Delta of Assumption 2.2.4 under
shared memory -- or ``mean_staleness``), :class:`Measured` (a number the run measured: ``F0`` =
f(w^0) - f*, ``iterations``, ``final_<metric>``, ``mean_<metric>``), :class:`Value` (a fixed
number) and :class:`Expr` (arithmetic over the other bound symbols and the run's names).
:func:`resolve` turns a binding and one run's facts into the theorem's keyword arguments; the
engine never names an algorithm, a dataset or a theorem -- the catalogue does.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

TRACE_STATS = ("max_staleness", "mean_staleness")


@dataclass(frozen=True)
class Constant:
    """A problem constant or fact (n, d, lam, L, L_max, mu), or a dataset / study value, by name."""

    name: str


@dataclass(frozen=True)
class Hyper:
    """A hyper-parameter of the run (after expressions and tuning are resolved)."""

    name: str


@dataclass(frozen=True)
class TraceStat:
    """A statistic of the run's trace (see :data:`TRACE_STATS`)."""

    name: str

    def __post_init__(self) -> None:
        if self.name not in TRACE_STATS:
            raise ValueError(f"TraceStat.name must be one of {TRACE_STATS}, got {self.name!r}")


@dataclass(frozen=True)
class Measured:
    """A number the run measured: ``F0`` (f(w^0) - f*, needs a suboptimality record),
    ``iterations`` (applied updates), ``final_<metric>`` or ``mean_<metric>`` over the records."""

    name: str


@dataclass(frozen=True)
class Value:
    """A fixed number."""

    value: float


@dataclass(frozen=True)
class Expr:
    """Arithmetic (``+ - * / // **``, max, min, ceil, floor, sqrt, log) over the run's names and
    the binding's other symbols, e.g. ``Expr("T - 1")`` or ``Expr("n // batch")``."""

    text: str

    def __post_init__(self) -> None:
        from .spec import check_expression

        check_expression("Expr.text", self.text)


Source = Constant | Hyper | TraceStat | Measured | Value | Expr
SOURCES = (Constant, Hyper, TraceStat, Measured, Value, Expr)


@dataclass(frozen=True)
class TheoremBinding:
    """Check ``theorem`` (a ``bounds`` key) on every run whose algorithm key starts with one of
    ``applies_to`` (all runs when empty), with its symbols bound as ``symbols`` says.

    ``compare_to``: the measured quantity the theorem's bound speaks of (e.g.
    ``Measured("mean_grad_norm_sq")`` for Theorems 2.3.1-2.4.2), held against the bound's value.
    """

    theorem: str
    symbols: Mapping[str, Any]
    applies_to: tuple[str, ...] = ()
    note: str = ""
    compare_to: Measured | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.theorem, str) or not self.theorem:
            raise ValueError(f"TheoremBinding.theorem must be a bounds key, got {self.theorem!r}")
        object.__setattr__(self, "symbols", dict(self.symbols))
        for k, v in self.symbols.items():
            if not isinstance(v, SOURCES):
                raise ValueError(f"TheoremBinding.symbols[{k!r}] must be a Constant, Hyper, TraceStat, Measured, "
                                 f"Value or Expr, got {v!r}")
        object.__setattr__(self, "applies_to", tuple(self.applies_to))
        check_theorem_symbols("TheoremBinding", self.theorem, self.symbols)
        if self.compare_to is not None and not isinstance(self.compare_to, Measured):
            raise ValueError(f"TheoremBinding.compare_to must be a Measured quantity or None, got {self.compare_to!r}")

    def applies(self, algorithm_key: str) -> bool:
        return not self.applies_to or any(str(algorithm_key).startswith(p) for p in self.applies_to)

    def to_json(self) -> dict:
        return {"theorem": self.theorem, "applies_to": list(self.applies_to), "note": self.note,
                "symbols": {k: source_to_json(v) for k, v in self.symbols.items()},
                "compare_to": None if self.compare_to is None else self.compare_to.name}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "TheoremBinding":
        cmp = d.get("compare_to")
        return cls(theorem=d["theorem"], applies_to=tuple(d.get("applies_to", ())), note=d.get("note", ""),
                   symbols={k: source_from_json(v) for k, v in dict(d["symbols"]).items()},
                   compare_to=None if cmp is None else Measured(cmp))


def check_theorem_symbols(owner: str, theorem: str, symbols: Mapping[str, Any]) -> tuple[tuple[str, ...], bool]:
    """(parameter names, has a largest step) of the theorem ``theorem`` names (a ``bounds`` key), after
    checking that every bound symbol is one of its parameters; ValueError naming the key or the symbol
    and what is allowed. Reads :mod:`bounds.index`, so declaring a study needs no sympy."""
    from bounds.index import lookup  # studies -> bounds is an allowed direction

    try:
        params, has_step_limit = lookup(theorem)
    except KeyError:
        raise ValueError(f"{owner}.theorem must be a registered theorem (see `delaylab theorems`), "
                         f"got {theorem!r}") from None
    unknown = sorted(set(symbols) - set(params))
    if unknown:
        raise ValueError(f"{owner}.symbols for {theorem} must be among its parameters "
                         f"{', '.join(params)}, got {', '.join(map(repr, unknown))}")
    return params, has_step_limit


def source_to_json(s) -> dict:
    key = "value" if isinstance(s, Value) else "text" if isinstance(s, Expr) else "name"
    return {"source": type(s).__name__, key: getattr(s, key)}


def describe_source(src) -> str:
    """A source as it reads in a report, e.g. ``Hyper('eta')`` or ``Expr('T - 1')``."""
    d = source_to_json(src)
    return f"{d['source']}({next(v for k, v in d.items() if k != 'source')!r})"


def source_from_json(d: Mapping[str, Any]):
    kinds = {c.__name__: c for c in SOURCES}
    try:
        cls = kinds[d["source"]]
    except (KeyError, TypeError):
        raise ValueError(f"a bound source must name one of {sorted(kinds)}, got {d!r}") from None
    return cls(*(v for k, v in d.items() if k != "source"))


@dataclass(frozen=True)
class RunFacts:
    """What a binding can read about one run (from its result files only)."""

    constants: Mapping[str, float] = field(default_factory=dict)
    hyper: Mapping[str, Any] = field(default_factory=dict)
    trace: Mapping[str, float] = field(default_factory=dict)
    measured: Mapping[str, float] = field(default_factory=dict)


class Unbound(ValueError):
    """A symbol whose source has no value for this run (a constant unknown for the problem, ...)."""


def resolve(symbols: Mapping[str, Any], facts: RunFacts) -> dict[str, float]:
    """The symbols' values for one run; :class:`Unbound` names the first that has none."""
    from .spec import eval_expression

    out: dict[str, float] = {}
    pending = dict(symbols)
    for _ in range(len(pending) + 1):  # expressions may use symbols resolved before them
        for name in list(pending):
            src = pending[name]
            if isinstance(src, Expr):
                names = {**facts.constants, **{k: v for k, v in facts.hyper.items() if _number(v)}, **out}
                try:
                    out[name] = float(eval_expression(src.text, names))
                except ValueError:
                    continue
            else:
                out[name] = _lookup(name, src, facts)
            del pending[name]
        if not pending:
            return out
    name, src = next(iter(pending.items()))
    raise Unbound(f"symbol {name!r}: cannot evaluate {src.text!r} from the run's names and the other symbols")


def _number(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _lookup(name: str, src, facts: RunFacts) -> float:
    if isinstance(src, Value):
        return float(src.value)
    table, what = {Constant: (facts.constants, "problem constant"), Hyper: (facts.hyper, "hyper-parameter"),
                   TraceStat: (facts.trace, "trace statistic"), Measured: (facts.measured, "measurement")}[type(src)]
    v = table.get(src.name)
    if not _number(v):
        raise Unbound(f"symbol {name!r}: the run has no {what} {src.name!r}" +
                      ("" if v is None else f" (it is {v!r})"))
    return float(v)
