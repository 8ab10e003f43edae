"""bounds: the thesis's theorems as values (sympy), with step-size checks and rate bounds.

``bounds.get("thm3.4.1")``, ``bounds.all()`` (sorted by key). Chapter modules
``bounds.ch2`` ... ``bounds.ch6`` that exist register their theorems through
:func:`bounds.theorem.register` when imported. Depends only on numpy
and sympy: never import algorithms, sim or studies from here.

The registry is built on first access: ``import bounds`` imports neither sympy nor the chapters
(about 2 s), so a command that needs no theorem does not pay for them. The first use of a public
name below (``bounds.get``, ``bounds.Theorem``, ...) or of the registry in :mod:`bounds.theorem`
imports the chapter modules (:func:`load_chapters`). :mod:`bounds.index` answers "which theorems
exist, with which parameters" without sympy.
"""
from __future__ import annotations

import importlib
import importlib.util

CHAPTER_MODULES = ("ch2", "ch3", "ch4", "ch5", "ch6")

#: the public names of :mod:`bounds.theorem`, resolved on first access
_THEOREM_NAMES = (
    "CheckReport", "Condition", "ConditionStatus", "Derivation", "DerivationResult", "Note",
    "Numeric", "Quantity", "Theorem", "TheoremSymbol", "all_theorems", "get", "keys", "register",
)
_SUBMODULES = (*CHAPTER_MODULES, "theorem", "derive", "estimators", "index")
_loaded = False


def load_chapters() -> None:
    """Import the chapter modules once; each registers its theorems (idempotent)."""
    global _loaded
    if _loaded:
        return
    _loaded = True  # first: a chapter's own register() calls come back here
    try:
        for name in CHAPTER_MODULES:
            if importlib.util.find_spec(f"bounds.{name}") is not None:
                importlib.import_module(f"bounds.{name}")
    except BaseException:
        _loaded = False
        raise


def __getattr__(name: str):
    if name in _THEOREM_NAMES or name == "all":
        from bounds import theorem

        load_chapters()
        # ``bounds.all()``: the agreed public name of all_theorems
        value = theorem.all_theorems if name == "all" else getattr(theorem, name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"bounds.{name}")
    raise AttributeError(f"module 'bounds' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_THEOREM_NAMES, "all"})


__all__ = [
    "CheckReport", "Condition", "ConditionStatus", "Derivation", "DerivationResult", "Note",
    "Numeric", "Quantity", "Theorem", "TheoremSymbol", "all", "all_theorems", "get", "keys",
    "register", "CHAPTER_MODULES", "load_chapters",
]
