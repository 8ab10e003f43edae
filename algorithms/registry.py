"""Chapter 3 algorithms by name: ``make_roles("dis-dfsdca", problem, K, eta=..., H=..., T=...)``."""
from __future__ import annotations

import inspect
from typing import Callable

from algorithms.cocoa import CoCoAPlus
from algorithms.dfsdca import DisDfSDCA
from algorithms.problem import Problem
from algorithms.roles import Roles
from algorithms.svrg import AsyncSVRG

ALGORITHMS: dict[str, Callable[..., Roles]] = {
    "dis-dfsdca": DisDfSDCA,
    "cocoa+": CoCoAPlus,
    "async-svrg": AsyncSVRG,
}


def hyper_parameters(name: str) -> tuple[str, ...]:
    """The keyword hyper-parameters algorithm ``name`` accepts (e.g. ``('eta', 'H', 'T', 'dual_scale')``)."""
    factory = _lookup(name)
    sig = inspect.signature(factory)
    return tuple(p.name for p in sig.parameters.values() if p.kind is inspect.Parameter.KEYWORD_ONLY)


def make_roles(name: str, problem: Problem, K: int, **hyper: object) -> Roles:
    """Roles of algorithm ``name`` on ``problem`` split over K workers, with its hyper-parameters."""
    factory = _lookup(name)
    allowed = hyper_parameters(name)
    unknown = sorted(set(hyper) - set(allowed))
    if unknown:
        raise ValueError(
            f"unknown hyper-parameter(s) {', '.join(map(repr, unknown))} for {name!r}; "
            f"allowed: {', '.join(allowed)}"
        )
    sig = inspect.signature(factory)
    missing = [
        p.name
        for p in sig.parameters.values()
        if p.kind is inspect.Parameter.KEYWORD_ONLY and p.default is inspect.Parameter.empty and p.name not in hyper
    ]
    if missing:
        raise ValueError(f"missing hyper-parameter(s) {', '.join(map(repr, missing))} for {name!r}")
    return factory(problem, K, **hyper)


def _lookup(name: str) -> Callable[..., Roles]:
    try:
        return ALGORITHMS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown algorithm {name!r}; known: {', '.join(sorted(ALGORITHMS))}") from None
