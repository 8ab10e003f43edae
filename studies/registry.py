"""The study registry: register, get and list :class:`~studies.spec.StudySpec` values by name."""
from __future__ import annotations

from typing import Callable

from .spec import StudySpec

_STUDIES: dict[str, StudySpec] = {}
_DRIVERS: dict[str, Callable] = {}


def register(spec: StudySpec, *, replace: bool = False, driver: Callable | None = None) -> StudySpec:
    """Add ``spec`` under ``spec.name``; registering a taken name needs ``replace=True``.

    ``driver``: for a study the runner's grid cannot express (e.g. ch3-bound's search over eta),
    a callable ``driver(spec, quick=, out=, jobs=, seeds=, workers=, progress=, executor=, resume=)``
    returning StudyResults; :func:`studies.runner.run_study` hands such a study to it.
    """
    if not isinstance(spec, StudySpec):
        raise TypeError(f"spec must be a StudySpec, got {type(spec).__name__}")
    if spec.name in _STUDIES and not replace and _STUDIES[spec.name] != spec:
        raise ValueError(f"study name {spec.name!r} is already registered; pass replace=True to overwrite it")
    if driver is not None and not callable(driver):
        raise TypeError(f"driver must be callable or None, got {driver!r}")
    _STUDIES[spec.name] = spec
    if driver is not None:
        _DRIVERS[spec.name] = driver
    else:
        _DRIVERS.pop(spec.name, None)
    return spec


def get_driver(name: str) -> Callable | None:
    """The driver registered with study ``name``, or None (the runner's own grid expansion)."""
    _ensure_builtin()
    return _DRIVERS.get(name)


def _ensure_builtin() -> None:
    # The thesis studies register themselves on import; importing lazily keeps
    # `studies.registry` free of a circular import with `studies.ch3`.
    from . import ch3, ch3_bound  # noqa: F401


def get_study(name: str) -> StudySpec:
    """The registered study ``name``; an unknown name raises KeyError listing the known ones."""
    _ensure_builtin()
    try:
        return _STUDIES[name]
    except KeyError:
        known = ", ".join(sorted(_STUDIES)) or "(none)"
        raise KeyError(f"unknown study {name!r}; known studies: {known}") from None


def list_studies() -> list[StudySpec]:
    """All registered studies, sorted by name."""
    _ensure_builtin()
    return [_STUDIES[k] for k in sorted(_STUDIES)]
