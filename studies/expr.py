"""Small pieces the study specs share: validation of numbers, the arithmetic expressions that
hyper-parameters, problem parameters and budgets may be written in, and run-id slugs."""
from __future__ import annotations

import ast
import math
import operator
import re
from typing import Any, Mapping

import numpy as np

ID_SAFE = re.compile(r"^[A-Za-z0-9_.+-]+$")


def finite_positive(owner: str, name: str, value: Any, *, allow_zero: bool = False) -> None:
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    ok = ok and math.isfinite(float(value)) and (value >= 0 if allow_zero else value > 0)
    if not ok:
        rng = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{owner}.{name} must be a finite number {rng}, got {value!r}")


def positive_int(owner: str, name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{owner}.{name} must be an integer >= 1, got {value!r}")


_EXPR_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
             ast.FloorDiv: operator.floordiv, ast.Div: operator.truediv, ast.Pow: operator.pow}
_EXPR_FUNCS = {"max": max, "min": min, "ceil": math.ceil, "floor": math.floor, "sqrt": math.sqrt, "log": math.log}


def check_expression(owner: str, text: str) -> ast.AST:
    """Parse an expression: numbers, names, + - * / // **, parentheses and max, min, ceil, floor,
    sqrt, log calls only."""
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        raise ValueError(f"{owner} must be an arithmetic expression like '8*K' or 'n // batch', got {text!r}") from None
    for node in ast.walk(tree):
        ok = isinstance(node, (ast.Expression, ast.BinOp, ast.Constant, ast.Name, ast.Load, ast.USub, ast.UnaryOp,
                               ast.Call)) or type(node) in _EXPR_OPS
        if isinstance(node, ast.Call):
            ok = isinstance(node.func, ast.Name) and node.func.id in _EXPR_FUNCS and not node.keywords
        if not ok or (isinstance(node, ast.Constant) and not isinstance(node.value, (int, float))):
            raise ValueError(f"{owner} may use only numbers, names, + - * / // ** and "
                             f"{', '.join(_EXPR_FUNCS)}(...), got {text!r}")
    return tree


def eval_expression(text: str, names: Mapping[str, float]) -> float:
    """Value of a checked expression with ``names`` bound (unknown names raise ValueError)."""
    tree = check_expression("expression", text)

    def ev(node):
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            if node.id not in names:
                raise ValueError(f"expression {text!r} uses unknown name {node.id!r}; known: {sorted(names)}")
            return names[node.id]
        if isinstance(node, ast.UnaryOp):
            return -ev(node.operand)
        if isinstance(node, ast.Call):
            return _EXPR_FUNCS[node.func.id](*(ev(a) for a in node.args))
        return _EXPR_OPS[type(node.op)](ev(node.left), ev(node.right))

    return ev(tree)


def slug(text: str) -> str:
    """A run-id safe form of a label: lower case, runs of other characters become '-'."""
    s = re.sub(r"[^a-z0-9.+]+", "-", text.lower()).strip("-")
    return s or "x"




def is_number(v: object) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) and math.isfinite(v)
