"""bounds: the thesis's theorems as values (sympy), with step-size checks and rate bounds.

``bounds.get("thm3.4.1")``, ``bounds.all()`` (sorted by key). Chapter modules
``bounds.ch2`` ... ``bounds.ch6`` that exist are imported here and register
their theorems through :func:`bounds.theorem.register`. Depends only on numpy
and sympy: never import algorithms, sim or studies from here.
"""
from __future__ import annotations

import importlib
import importlib.util

from bounds.theorem import (
    CheckReport, Condition, ConditionStatus, Derivation, DerivationResult, Note, Numeric,
    Quantity, Theorem, TheoremSymbol, all_theorems, get, keys, register,
)

all = all_theorems  # noqa: A001 - the agreed public name ``bounds.all()``

CHAPTER_MODULES = ("ch2", "ch3", "ch4", "ch5", "ch6")
for _name in CHAPTER_MODULES:
    if importlib.util.find_spec(f"bounds.{_name}") is not None:
        importlib.import_module(f"bounds.{_name}")
del _name

__all__ = [
    "CheckReport", "Condition", "ConditionStatus", "Derivation", "DerivationResult", "Note",
    "Numeric", "Quantity", "Theorem", "TheoremSymbol", "all", "all_theorems", "get", "keys",
    "register", "CHAPTER_MODULES",
]
