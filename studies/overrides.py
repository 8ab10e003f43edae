"""``--set KEY=VALUE``: override a study's parameters without editing its catalogue entry.

Keys (checked against the study; :func:`allowed_keys` lists a study's):

* ``seeds``: repetitions (both sizes); ``K``: the grid of worker counts (a number or a list);
  ``scale``: every dataset's fraction of n; ``lam``: the regularisation; ``target``: the target's value;
* ``max_epochs``, ``max_time``, ``max_updates``: the budget (and any grid over them);
* a hyper-parameter any algorithm has (``eta``, ``H``, ``T``, ...), for every algorithm that has it, or
  ``ALGKEY.NAME`` for one algorithm: a number or string replaces the value; a list replaces a tuned
  grid's values (``eta=[1e-4,2e-4,5e-4]``; its quick grid too), a sweep's values, or turns a fixed value
  into a sweep;
* a named value of the study or a dataset (``C``, ``hidden``, ...).

Values are Python literals parsed with :func:`ast.literal_eval` (numbers, strings, lists), never
evaluated as code. A string (or bare word such as ``4*K``) given to a hyper-parameter or ``max_updates`` is
an expression: it is checked when the overrides are applied, before anything runs, against the names the
study allows there (:func:`expression_names`), so ``eta=abc`` is one error, not a sweep of failed runs. The engine names no parameter of any study: every key comes from the spec itself.
"""
from __future__ import annotations

import ast
from dataclasses import replace
from typing import Any, Mapping

from .expr import _EXPR_FUNCS, check_expression
from .hyper import Sweep, Tune
from .spec import StudySpec

STUDY_KEYS = ("seeds", "K", "scale", "lam", "target", "max_epochs", "max_time", "max_updates")
#: names every run binds for its expressions (:func:`studies.runner.task_names`; L and L_max where the
#: problem knows them)
RUN_NAMES = ("n", "K", "d", "n_k", "lam", "L", "L_max")


def parse_assignment(text: str) -> tuple[str, Any]:
    """``"KEY=VALUE"`` -> (key, literal value); a bare word that is not a literal is kept as a string."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ValueError(f"--set must be KEY=VALUE (e.g. eta=[1e-4,2e-4] or seeds=5), got {text!r}")
    raw = raw.strip()
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        if not raw or not all(c.isalnum() or c in "_.+-*/()" for c in raw):
            raise ValueError(f"--set {key}: value must be a Python literal (a number, a string, a list), "
                             f"got {raw!r}") from None
        value = raw  # a bare expression such as 4*K stays text (hyper-parameters accept expressions)
    if isinstance(value, tuple):
        value = list(value)
    return key, value


def _hyper_keys(spec: StudySpec) -> dict[str, list[str]]:
    keys: dict[str, list[str]] = {}
    for a in spec.algorithms:
        for k in a.hyper:
            keys.setdefault(k, []).append(a.key)
            keys.setdefault(f"{a.key}.{k}", []).append(a.key)
    return keys


def _value_keys(spec: StudySpec) -> set[str]:
    names = set(spec.values) | set(spec.quick_values)
    for ds in spec.datasets + tuple(spec.parameters.get("dataset", ())) + tuple(spec.test_parameters.get("dataset", ())):
        names |= set(ds.values)
    return names


def allowed_keys(spec: StudySpec) -> list[str]:
    """The keys ``--set`` accepts for this study."""
    return sorted(set(STUDY_KEYS) | set(_hyper_keys(spec)) | _value_keys(spec))


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def expression_names(spec: StudySpec, algorithms=None) -> list[str]:
    """The names an expression given by ``--set`` may use: :data:`RUN_NAMES`, the study's and its datasets'
    named values and the numeric (or swept) hyper-parameters of ``algorithms`` (default: all of them)."""
    names = set(RUN_NAMES) | _value_keys(spec)
    for a in spec.algorithms if algorithms is None else algorithms:
        names |= {k for k, v in a.hyper.items() if _is_number(v) or isinstance(v, Sweep)}
    return sorted(names)


def check_override_expression(key: str, text: str, names) -> None:
    """One ValueError naming the key, the expression and the allowed names when ``text`` is not an
    arithmetic expression or uses a name outside ``names``."""
    tree = check_expression(f"--set {key}", text)
    calls = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    unknown = sorted({n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in calls} - set(names))
    if unknown:
        raise ValueError(f"--set {key}: expression {text!r} uses unknown name {unknown[0]!r}; it may use numbers, "
                         f"{', '.join(sorted(names))} and {', '.join(_EXPR_FUNCS)}(...)")


def _strings(v: Any) -> list[str]:
    return [x for x in (v if isinstance(v, list) else [v]) if isinstance(x, str)]


def _number(key: str, v: Any, *, integer: bool = False, positive: bool = True):
    ok = isinstance(v, (int, float)) and not isinstance(v, bool) and (not integer or isinstance(v, int))
    if not ok or (positive and not v > 0):
        kind = "an integer >= 1" if integer else "a positive number"
        raise ValueError(f"--set {key} must be {kind}, got {v!r}")
    return v


def _new_hyper(key: str, old: Any, v: Any) -> Any:
    if isinstance(v, list):
        if not v:
            raise ValueError(f"--set {key} must be a non-empty list, got []")
        if isinstance(old, Tune):
            return replace(old, values=tuple(v), quick_values=None)
        return Sweep(tuple(v))
    if isinstance(v, (dict, set)) or v is None:
        raise ValueError(f"--set {key} must be a number, a string or a list, got {v!r}")
    return v


def _datasets(spec: StudySpec, fn) -> dict:
    out = {"datasets": tuple(fn(d) for d in spec.datasets)}
    for attr in ("parameters", "test_parameters"):
        grid = dict(getattr(spec, attr))
        if "dataset" in grid:
            grid["dataset"] = tuple(fn(d) for d in grid["dataset"])
        out[attr] = grid
    return out


def _drop_grid(spec: StudySpec, key: str) -> dict:
    return {attr: {k: v for k, v in getattr(spec, attr).items() if k != key}
            for attr in ("parameters", "test_parameters")}


def apply_overrides(spec: StudySpec, overrides: Mapping[str, Any]) -> StudySpec:
    """The study with ``overrides`` (key -> value, see the module docstring) applied; an unknown key is one
    ValueError listing the allowed ones. The result is validated like any StudySpec."""
    if not overrides:
        return spec
    allowed = allowed_keys(spec)
    hyper_keys = _hyper_keys(spec)
    value_keys = _value_keys(spec)
    for key, v in overrides.items():
        if key not in allowed:
            raise ValueError(f"--set: unknown key {key!r} for study {spec.name!r}; allowed: {', '.join(allowed)}")
        if key == "seeds":
            spec = replace(spec, seeds=_number(key, v, integer=True), quick_seeds=None)
        elif key == "K":
            ks = tuple(v) if isinstance(v, list) else (v,)
            for k in ks:
                _number(key, k, integer=True)
            spec = replace(spec, parameters={**spec.parameters, "K": ks}, test_parameters={**spec.test_parameters, "K": ks})
        elif key == "scale":
            s = _number(key, v)
            spec = replace(spec, **_datasets(spec, lambda d: replace(d, scale=s)))
        elif key == "lam":
            spec = replace(spec, lam=_number(key, v))
        elif key == "target":
            spec = replace(spec, target=replace(spec.target, value=_number(key, v)))
        elif key in ("max_epochs", "max_time", "max_updates"):
            if isinstance(v, str) and key == "max_updates":
                check_override_expression(key, v, expression_names(spec))
            else:
                _number(key, v, integer=key == "max_updates")
            spec = replace(spec, budget=replace(spec.budget, **{key: v}), **_drop_grid(spec, key))
        elif key in hyper_keys:
            name = key.rsplit(".", 1)[1] if "." in key else key  # algorithm keys may hold dots, names do not
            for a in spec.algorithms:
                if a.key in hyper_keys[key] and name in a.hyper:
                    for text in _strings(v):
                        check_override_expression(key, text, [x for x in expression_names(spec, [a]) if x != name])
            algs = tuple(replace(a, hyper={**a.hyper, name: _new_hyper(key, a.hyper[name], v)})
                         if a.key in hyper_keys[key] and name in a.hyper else a for a in spec.algorithms)
            spec = replace(spec, algorithms=algs)
        elif key in value_keys:
            x = _number(key, v, positive=False)
            spec = replace(spec, values={**spec.values, key: x} if key in spec.values else spec.values,
                           quick_values={**spec.quick_values, key: x} if key in spec.quick_values else spec.quick_values,
                           **_datasets(spec, lambda d: replace(d, values={**d.values, key: x}) if key in d.values else d))
    return spec
