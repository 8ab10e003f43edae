"""bounds: the thesis's theorems as values (sympy), with step-size checks and rate bounds.

``bounds.get("thm3.4.1")``, ``bounds.all()`` (sorted by key). Chapter modules
``bounds.ch2`` ... ``bounds.ch6`` that exist register their theorems through
:func:`bounds.theorem.register` when imported. Depends only on numpy
and sympy: never import algorithms, sim or studies from here.

The registry is built on first access: ``import bounds`` imports neither sympy nor the chapters
(about 2 s), so a command that needs no theorem does not pay for them. ``bounds.get(key)`` imports
only the chapter module that owns the key (:func:`chapter_of`: ``thm3.4.1`` -> ``bounds.ch3``, about
1 s with sympy itself instead of 2-2.5 s for all five); ``bounds.all()``, ``keys()`` and a key no
chapter claims import every chapter (:func:`load_chapters`). :mod:`bounds.index` answers "which theorems
exist, with which parameters" without sympy.
"""
from __future__ import annotations

import importlib
import importlib.util
import re
import sys

CHAPTER_MODULES = ("ch2", "ch3", "ch4", "ch5", "ch6")

#: the public names of :mod:`bounds.theorem`, resolved on first access
_THEOREM_NAMES = (
    "CheckReport", "Condition", "ConditionStatus", "Derivation", "DerivationResult", "Note",
    "Numeric", "Quantity", "Theorem", "TheoremSymbol", "all_theorems", "get", "keys", "register",
)
_SUBMODULES = (*CHAPTER_MODULES, "theorem", "derive", "estimators", "index")
_loaded = False


def chapter_of(key: str) -> str | None:
    """The chapter module that registers theorem ``key`` by the thesis's numbering: ``"thm3.4.1"``,
    ``"cor4.3.2-corrected"`` -> ``"ch3"``, ``"ch4"``; None when the number names no chapter module
    (a plugin's key)."""
    m = re.match(r"[A-Za-z]+(\d+)\.", key)
    name = f"ch{m.group(1)}" if m else None
    return name if name in CHAPTER_MODULES else None


def load_chapter(name: str | None) -> None:
    """Import one chapter module (if it exists); it registers its theorems. No-op for None, a chapter
    already imported, or one being imported (its own register() calls come back here)."""
    if name is None or f"bounds.{name}" in sys.modules:
        return
    if importlib.util.find_spec(f"bounds.{name}") is not None:
        importlib.import_module(f"bounds.{name}")


def load_chapters() -> None:
    """Import every chapter module once; each registers its theorems (idempotent)."""
    global _loaded
    if _loaded:
        return
    for name in CHAPTER_MODULES:
        load_chapter(name)
    _loaded = True


def __getattr__(name: str):
    if name in _THEOREM_NAMES or name == "all":
        from bounds import theorem

        # the registry functions load the chapters they need (get: the key's chapter; all, keys: every one)
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
    "register", "CHAPTER_MODULES", "chapter_of", "load_chapter", "load_chapters",
]
