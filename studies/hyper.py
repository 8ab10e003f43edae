"""Hyper-parameter values beyond a number or an expression: :class:`Sweep` (one run per value),
:class:`Tune` (select one value by an explicit rule on pilots) and :class:`FromTheorem` (a theorem's
largest admissible step, its symbols bound as data); and how a value is shown in run ids and files."""
from __future__ import annotations

from dataclasses import dataclass, fields, is_dataclass
from typing import Any, Mapping

import numpy as np

from .bindings import TheoremBinding
from .expr import check_expression, finite_positive, is_number, positive_int, slug

TUNE_RULES = ("largest-stable", "best-final")
PILOT_SEEDS = ("rep0", "own")


def _values(owner: str, values: object) -> tuple:
    vals = tuple(values) if isinstance(values, (tuple, list)) else None
    if not vals:
        raise ValueError(f"{owner} must be a non-empty tuple of values, got {values!r}")
    return vals


@dataclass(frozen=True)
class Sweep:
    """One run per value; the value becomes part of the run id (``Sweep((1e-3, 1e-2))``)."""

    values: tuple

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", _values("Sweep.values", self.values))
        for v in self.values:
            if isinstance(v, (Sweep, Tune, FromTheorem)):
                raise ValueError(f"Sweep.values must be plain values, got {v!r}")


@dataclass(frozen=True)
class Tune:
    """Select one of ``values`` by ``rule`` on short pilot runs (repetition 0's seed, same cluster):

    ``"largest-stable"``  the largest value whose pilot neither diverges nor ends with ``metric``
                          above its first record (numbers only; §3.5.1's eta is "selected from"
                          a grid, this rule is ours);
    ``"best-final"``      the value whose pilot ends with the lowest ``metric`` (diverged excluded),
                          e.g. §2.5.1's "best tuned" SGD over its alpha and beta grids.

    ``metric`` defaults to the study's target metric. A pilot runs the study's budget with
    ``max_epochs`` capped at ``pilot_epochs`` and, if given, ``max_updates`` replaced by
    ``pilot_updates`` (numbers or expressions, e.g. ``"max(ceil(3*n/H), 3*T)"``). Several tuned
    hyper-parameters of one algorithm are tuned one after the other, in the order they are listed.
    ``quick_values``: a smaller grid for --quick runs (the run's report says which grid was used).
    ``pilot_seed``: ``"rep0"`` runs pilots on repetition 0's seed (so that run continues its winning
    pilot; Chapter 3's studies), ``"own"`` on a seed of their own, independent of every repetition.
    """

    values: tuple
    rule: str = "largest-stable"
    metric: str | None = None
    pilot_epochs: float | str | None = 3.0
    pilot_updates: int | str | None = None
    quick_values: tuple | None = None
    pilot_seed: str = "rep0"

    def __post_init__(self) -> None:
        if self.pilot_seed not in PILOT_SEEDS:
            raise ValueError(f"Tune.pilot_seed must be one of {PILOT_SEEDS}, got {self.pilot_seed!r}")
        object.__setattr__(self, "values", _values("Tune.values", self.values))
        if self.quick_values is not None:
            object.__setattr__(self, "quick_values", _values("Tune.quick_values", self.quick_values))
        if self.rule not in TUNE_RULES:
            raise ValueError(f"Tune.rule must be one of {TUNE_RULES}, got {self.rule!r}")
        if self.rule == "largest-stable" and not all(is_number(v) and v > 0 for v in self.values):
            raise ValueError(f"Tune.values must be finite numbers > 0 for rule 'largest-stable', got {self.values!r}")
        if isinstance(self.pilot_epochs, str):
            check_expression("Tune.pilot_epochs", self.pilot_epochs)
        elif self.pilot_epochs is not None:
            finite_positive("Tune", "pilot_epochs", self.pilot_epochs)
        if self.pilot_epochs is None and self.pilot_updates is None:
            raise ValueError("Tune needs pilot_epochs or pilot_updates to bound its pilot runs; got neither")
        if isinstance(self.pilot_updates, str):
            check_expression("Tune.pilot_updates", self.pilot_updates)
        elif self.pilot_updates is not None:
            positive_int("Tune", "pilot_updates", self.pilot_updates)


@dataclass(frozen=True)
class FromTheorem:
    """``scale`` times a theorem's largest admissible step (``bounds.get(theorem).max_step``), its
    symbols bound as data (:mod:`studies.bindings`; trace statistics are not known before a run)."""

    theorem: str
    symbols: Mapping[str, Any]
    scale: float = 1.0

    def __post_init__(self) -> None:
        TheoremBinding(self.theorem, self.symbols)  # validates the sources, the key and the symbols
        object.__setattr__(self, "symbols", dict(self.symbols))
        finite_positive("FromTheorem", "scale", self.scale)
        from bounds.index import lookup  # no sympy at declaration

        if not lookup(self.theorem)[1]:
            raise ValueError(f"FromTheorem.theorem must have a largest admissible step, got {self.theorem!r} "
                             "(it has no step-size limit)")


HYPER_TYPES = (Sweep, Tune, FromTheorem)


def log_grid(lo: float, hi: float, per_decade: int = 3) -> tuple[float, ...]:
    """10**(k/per_decade) for every integer k with lo <= value <= hi, rounded to 3 significant digits
    (``log_grid(1e-5, 10)`` = 1e-05, 2.15e-05, 4.64e-05, 0.0001, ..., 4.64, 10.0): log-spaced, and every
    power of ten in range is on it exactly (so it covers a grid like {1, 0.1, 0.001, 0.0001})."""
    finite_positive("log_grid", "lo", lo)
    finite_positive("log_grid", "hi", hi)
    positive_int("log_grid", "per_decade", per_decade)
    if hi < lo:
        raise ValueError(f"log_grid needs lo <= hi, got lo={lo!r}, hi={hi!r}")
    k0 = int(np.ceil(np.log10(lo) * per_decade - 1e-9))
    k1 = int(np.floor(np.log10(hi) * per_decade + 1e-9))
    return tuple(float(f"{10.0 ** (k / per_decade):.3g}") for k in range(k0, k1 + 1))


def _grid_values(owner: str, values: object) -> tuple | dict:
    if isinstance(values, Mapping):
        out = {str(k): _grid_values(f"{owner}[{k!r}]", v) for k, v in values.items()}
        if not out:
            raise ValueError(f"{owner} must map algorithm keys to non-empty tuples of values, got {values!r}")
        return out
    vals = _values(owner, values)
    for v in vals:
        if isinstance(v, (Sweep, Tune, FromTheorem)) or not (is_number(v) and v > 0 or is_dataclass(v)
                                                              or isinstance(v, Mapping)):
            raise ValueError(f"{owner} must hold numbers > 0 or step rules, got {v!r}")
    labels = [value_label(v) for v in vals]
    if len(set(labels)) != len(labels):
        raise ValueError(f"{owner} must hold distinct values, got {vals!r}")
    return vals


def grid_density(values: tuple) -> float:
    """Points per decade of a grid of numbers (NaN for fewer than two, or for step rules)."""
    nums = [float(v) for v in values if is_number(v)]
    if len(nums) < 2 or len(nums) != len(values) or max(nums) == min(nums):
        return float("nan")
    return (len(nums) - 1) / float(np.log10(max(nums) / min(nums)))


def describe_grid(values: tuple | Mapping) -> str:
    """'19 values 1e-05..10, 3 per decade' (per algorithm key for a mapping)."""
    if isinstance(values, Mapping):
        return "; ".join(f"{k}: {describe_grid(v)}" for k, v in values.items())
    nums = [v for v in values if is_number(v)]
    if len(nums) == len(values):
        d = grid_density(values)
        return (f"{len(values)} value{'s' * (len(values) != 1)} {min(nums):g}..{max(nums):g}"
                + ("" if d != d else f", {d:.3g} per decade"))
    dcs = [v for v in values if is_dataclass(v)]
    if len(dcs) == len(values) and len({type(v) for v in dcs}) == 1:  # step rules: each numeric field's values
        parts = []
        for f in fields(dcs[0]):
            seen = sorted({getattr(v, f.name) for v in dcs if is_number(getattr(v, f.name))})
            if len(seen) > 3 and min(seen) > 0:
                parts.append(f"{f.name} {describe_grid(tuple(seen))}")
            elif seen:
                parts.append(f"{f.name} in {{{', '.join(f'{x:g}' for x in seen)}}}")
        return f"{len(values)} {type(dcs[0]).__name__} settings: " + " x ".join(parts)
    return f"{len(values)} settings: " + ", ".join(value_label(v) for v in values)


@dataclass(frozen=True)
class StepGrid:
    """Judge a comparative claim across a stated grid of one hyper-parameter as well as at the study's own
    choice: every algorithm the claim names (subject or baseline) that takes ``hyper`` is also run, with
    every seed, at each of ``values`` (one run per value; its run id carries ``grid=<hyper>`` and the
    value), each method on its own grid. The report then gives the claim's verdict three ways: at the
    study's choice (e.g. a pilot rule over the thesis's grid), at each method's own best value on this
    grid, and the fraction of (subject value, baseline value) pairs on which it holds
    (:func:`studies.compare.robust_verdicts`). A method that does not take ``hyper`` keeps its one setting.

    ``values``: a tuple for every method, or a mapping algorithm key (or key prefix) -> tuple (e.g. step
    rules for one method, numbers for another). ``quick_values`` / ``quick_datasets`` (dataset keys; default
    all): the grid and where it is run at --quick. ``text`` states the grid (filled in from the values).
    """

    hyper: str
    values: Any
    quick_values: Any = None
    quick_datasets: tuple[str, ...] | None = None
    text: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.hyper, str) or not self.hyper.isidentifier():
            raise ValueError(f"StepGrid.hyper must be a hyper-parameter name, got {self.hyper!r}")
        object.__setattr__(self, "values", _grid_values("StepGrid.values", self.values))
        if self.quick_values is not None:
            object.__setattr__(self, "quick_values", _grid_values("StepGrid.quick_values", self.quick_values))
        if self.quick_datasets is not None:
            object.__setattr__(self, "quick_datasets", tuple(str(d) for d in self.quick_datasets))
            if not self.quick_datasets:
                raise ValueError("StepGrid.quick_datasets must name at least one dataset key (None: all), got ()")
        if not self.text:
            quick = "" if self.quick_values is None else f"; --quick: {describe_grid(self.quick_values)}" + (
                "" if self.quick_datasets is None else f" on {', '.join(self.quick_datasets)}")
            object.__setattr__(self, "text", f"{self.hyper}: {describe_grid(self.values)}{quick}")

    def at_size(self, quick: bool) -> Any:
        """The grid's values at this size."""
        return self.quick_values if quick and self.quick_values is not None else self.values

    def values_for(self, key: str, keys: tuple[str, ...], quick: bool) -> tuple:
        """The values algorithm ``key`` is run at (() when the grid gives it none); mapping keys name an
        algorithm key exactly, or else every key they prefix (as a claim's subject does)."""
        vals = self.at_size(quick)
        if not isinstance(vals, Mapping):
            return tuple(vals)
        for name, v in vals.items():
            if key == name or (name not in keys and key.startswith(name)):
                return tuple(v)
        return ()


def describe_value(v: object) -> object:
    """A JSON-friendly form of a hyper-parameter value (a step rule becomes its name and fields)."""
    if is_dataclass(v) and not isinstance(v, type):
        return {"rule": type(v).__name__, **{f.name: describe_value(getattr(v, f.name)) for f in fields(v)}}
    if isinstance(v, (list, tuple)):
        return [describe_value(x) for x in v]
    return v


def value_label(v: object) -> str:
    """A short run-id safe label of a value: numbers as repr, a step rule as Name(a-b)."""
    if is_number(v):
        return repr(float(v)) if isinstance(v, (float, np.floating)) else str(v)
    if is_dataclass(v) and not isinstance(v, type):
        parts = [value_label(getattr(v, f.name)) for f in fields(v) if is_number(getattr(v, f.name))]
        return slug(type(v).__name__ + "-" + "-".join(parts))
    return slug(str(v))


