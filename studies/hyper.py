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


