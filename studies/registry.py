"""The study registry: register, get and list :class:`~studies.spec.StudySpec` values by name."""
from __future__ import annotations

from .spec import StudySpec

_STUDIES: dict[str, StudySpec] = {}


def register(spec: StudySpec, *, replace: bool = False) -> StudySpec:
    """Add ``spec`` under ``spec.name``; registering a taken name needs ``replace=True``."""
    if not isinstance(spec, StudySpec):
        raise TypeError(f"spec must be a StudySpec, got {type(spec).__name__}")
    if spec.name in _STUDIES and not replace and _STUDIES[spec.name] != spec:
        raise ValueError(f"study name {spec.name!r} is already registered; pass replace=True to overwrite it")
    _STUDIES[spec.name] = spec
    return spec


def _ensure_builtin() -> None:
    # The thesis studies register themselves on import; importing lazily keeps
    # `studies.registry` free of a circular import with `studies.ch3`.
    from . import ch3  # noqa: F401


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
