"""The study registry: the thesis's studies from an explicit list, plus any registered at run time.

``studies.thesis.STUDIES`` is the catalogue (one module per chapter); it is read on first use,
so importing the engine never imports the catalogue and nothing registers on import. A new
study is a :class:`~studies.spec.StudySpec` in a catalogue module plus one entry in that list,
or a :func:`register` call (e.g. from a notebook or a test).
"""
from __future__ import annotations

from .spec import StudySpec

_STUDIES: dict[str, StudySpec] = {}
_LOADED = False


def register(spec: StudySpec, *, replace: bool = False) -> StudySpec:
    """Add ``spec`` under ``spec.name``; registering a taken name needs ``replace=True``."""
    if not isinstance(spec, StudySpec):
        raise TypeError(f"spec must be a StudySpec, got {type(spec).__name__}")
    _ensure_builtin()
    if spec.name in _STUDIES and not replace and _STUDIES[spec.name] != spec:
        raise ValueError(f"study name {spec.name!r} is already registered; pass replace=True to overwrite it")
    _STUDIES[spec.name] = spec
    return spec


def _ensure_builtin() -> None:
    global _LOADED
    if not _LOADED:
        _LOADED = True
        from .thesis import STUDIES

        for spec in STUDIES:
            _STUDIES.setdefault(spec.name, spec)


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
