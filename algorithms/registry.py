"""Algorithms and problems by name.

    make_roles("dis-dfsdca", problem, K, eta=..., H=..., T=...)
    make_problem("ridge", data, lam=0.1)

Both registries are explicit lists (:data:`ALGORITHMS`, :data:`PROBLEMS`); a new algorithm or
problem is a new module plus one line here, or a :func:`register_algorithm` /
:func:`register_problem` call (e.g. from a test or a notebook). Keyword arguments are checked
against the factory's signature, so a misspelt or missing one is a clear error.
"""
from __future__ import annotations

import inspect
from typing import Callable

from algorithms import nn as _nn
from algorithms import problems as _problems
from algorithms.asysvrg import SharedAsySGD, SharedAsySVRG
from algorithms.cocoa import CoCoAPlus
from algorithms.dfsdca import DisDfSDCA
from algorithms.problem import Problem
from algorithms.roles import Roles
from algorithms.svrg import AsyncSVRG, AsySGD

ALGORITHMS: dict[str, Callable[..., Roles]] = {
    "dis-dfsdca": DisDfSDCA,
    "cocoa+": CoCoAPlus,
    "async-svrg": AsyncSVRG,
    "shared-asysvrg": SharedAsySVRG,
    "shared-asysgd": SharedAsySGD,
    "distributed-asysvrg": AsyncSVRG,
    "asysgd": AsySGD,
}

#: problem name -> factory(data, **kw) (the data set first, keyword parameters after)
PROBLEMS: dict[str, Callable[..., Problem]] = {
    "ridge": _problems.ridge,
    "logistic": _problems.logistic,
    "pca": _problems.pca,
    "mlp": _nn.mlp,
}


def _register(table: dict, kind: str, name: str, factory: Callable, replace: bool) -> Callable:
    if not isinstance(name, str) or not name:
        raise ValueError(f"{kind} name must be a non-empty string, got {name!r}")
    if not callable(factory):
        raise TypeError(f"{kind} factory must be callable, got {factory!r}")
    if name in table and table[name] is not factory and not replace:
        raise ValueError(f"{kind} name {name!r} is already registered; pass replace=True to overwrite it")
    table[name] = factory
    return factory


def register_algorithm(name: str, factory: Callable[..., Roles], *, replace: bool = False) -> Callable:
    """Make ``factory(problem, K, **hyper) -> roles`` available as algorithm ``name``."""
    return _register(ALGORITHMS, "algorithm", name, factory, replace)


def register_problem(name: str, factory: Callable[..., Problem], *, replace: bool = False) -> Callable:
    """Make ``factory(data, **kw) -> Problem`` available as problem ``name``."""
    return _register(PROBLEMS, "problem", name, factory, replace)


def _keywords(factory: Callable, skip: int) -> tuple[list[str], list[str], bool]:
    """(all keyword names, required ones, accepts **kw) of a factory after its first ``skip`` positionals."""
    params = list(inspect.signature(factory).parameters.values())[skip:]
    names = [p.name for p in params if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = [p.name for p in params if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
                and p.default is p.empty]
    return names, required, any(p.kind is p.VAR_KEYWORD for p in params)


def _check_keywords(kind: str, name: str, factory: Callable, given: dict, skip: int) -> None:
    names, required, var = _keywords(factory, skip)
    unknown = sorted(set(given) - set(names))
    if unknown and not var:
        raise ValueError(f"unknown {kind}parameter(s) {', '.join(map(repr, unknown))} for {name!r}; "
                         f"allowed: {', '.join(names) or '(none)'}")
    missing = [k for k in required if k not in given]
    if missing:
        raise ValueError(f"missing {kind}parameter(s) {', '.join(map(repr, missing))} for {name!r}")


def hyper_parameters(name: str) -> tuple[str, ...]:
    """The keyword hyper-parameters algorithm ``name`` accepts (e.g. ``('eta', 'H', 'T', 'dual_scale')``)."""
    return tuple(_keywords(_lookup(ALGORITHMS, "algorithm", name), 2)[0])


def make_roles(name: str, problem: Problem, K: int, **hyper: object) -> Roles:
    """Roles of algorithm ``name`` on ``problem`` split over K workers, with its hyper-parameters."""
    factory = _lookup(ALGORITHMS, "algorithm", name)
    _check_keywords("hyper-", name, factory, hyper, 2)
    return factory(problem, K, **hyper)


def problem_parameters(name: str) -> tuple[str, ...]:
    """The keyword parameters problem ``name`` accepts (e.g. ``('lam',)``)."""
    return tuple(_keywords(_lookup(PROBLEMS, "problem", name), 1)[0])


def make_problem(name: str, data, **kw: object) -> Problem:
    """Problem ``name`` built on dataset ``data`` with its keyword parameters."""
    factory = _lookup(PROBLEMS, "problem", name)
    _check_keywords("", name, factory, kw, 1)
    return factory(data, **kw)


def _lookup(table: dict, kind: str, name: str) -> Callable:
    try:
        return table[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown {kind} {name!r}; known: {', '.join(sorted(table))}") from None
