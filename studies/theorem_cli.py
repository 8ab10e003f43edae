"""The ``delaylab theorems`` and ``delaylab check`` subcommands.

``delaylab theorems`` lists the registered theorems (key, title, source,
metric). ``delaylab check THEOREM --L 1 --lam 0.1 --n 49990 --H 100 --tau 3
--eta 1e-4 [--T 1000] [--json]`` checks concrete numbers against a theorem:
every condition (holds / violated, with its margin), the largest admissible
step and the bound's value. Parameters are the theorem's own symbols by name;
``--T`` also names the theorem's iteration symbol (e.g. S of Theorem 3.4.2).
Array inputs of a theorem (``Theorem.ARRAY_PARAMS``, e.g. the per-layer
``--L 1,0.01 --Mk 3,3`` of the layer-wise theorems) are comma-separated, exactly
the sequences the Python API takes; the theorem computes its aggregates from
them (and checks hand-given aggregates for consistency). ``delaylab check THEOREM --help`` lists
the theorem's parameters, which are arrays, and what each means.

Bad input raises :class:`CLIError` (one line: the parameter, its value and
its allowed range); ``studies.cli.main`` prints it and exits 2.
"""
from __future__ import annotations

import argparse
import io
import json
import math
import sys
from contextlib import redirect_stdout
from typing import Sequence

import bounds


class CLIError(ValueError):
    """A one-line user error of the delaylab CLI (exit status 2)."""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``theorems`` and ``check`` subcommands; each sets ``func(args) -> int``."""
    p = subparsers.add_parser("theorems", help="list the thesis theorems encoded in bounds/",
                              description="List the registered theorems: key, title, source, metric.")
    p.add_argument("--json", action="store_true", help="print a machine-readable list")
    p.set_defaults(func=cmd_theorems)

    c = subparsers.add_parser(
        "check", help="check a step size (and other numbers) against a theorem",
        description="Check concrete numbers against THEOREM: every condition with holds / violated and "
                    "its margin, the largest admissible step and the bound's value. Parameters are the "
                    "theorem's symbols: --PARAM VALUE (see `delaylab theorems`).")
    c.add_argument("theorem", help="theorem key, e.g. thm3.4.1")
    c.add_argument("--json", action="store_true", help="print the report as JSON")
    c.add_argument("params", nargs=argparse.REMAINDER, help="--PARAM VALUE pairs, e.g. --L 1 --eta 1e-4")
    c.set_defaults(func=cmd_check)


def cmd_theorems(args: argparse.Namespace) -> int:
    thms = bounds.all()
    if getattr(args, "json", False):
        print(json.dumps([{"key": t.key, "title": t.title, "source": t.source, "metric": t.metric,
                           "params": list(t.param_names), "array_params": list(t.ARRAY_PARAMS)} for t in thms]))
        return 0
    wk = max((len(t.key) for t in thms), default=3)
    wt = max((len(t.title) for t in thms), default=5)
    ws = max((len(t.source) for t in thms), default=6)
    print(f"{'key':<{wk}}  {'title':<{wt}}  {'source':<{ws}}  metric")
    for t in thms:
        print(f"{t.key:<{wk}}  {t.title:<{wt}}  {t.source:<{ws}}  {t.metric}")
    return 0


def _parse_array(name: str, value: str, what: str) -> list[float]:
    """``"1,0.01"`` -> [1.0, 0.01]; one line naming the parameter otherwise."""
    items = [v.strip() for v in value.split(",")]
    out = []
    for v in items:
        try:
            x = float(v)
        except ValueError:
            x = math.nan
        if not v or not math.isfinite(x):
            raise CLIError(f"{name} must be comma-separated finite numbers ({what}), e.g. --{name} 1,0.01, "
                           f"got {value!r}")
        out.append(x)
    return out


HELP_FLAGS = ("--help", "-h")


def theorem_help(theorem: bounds.Theorem) -> str:
    """What ``delaylab check THEOREM --help`` prints: the theorem, then each parameter (``--NAME``), its
    allowed values and its meaning, the array inputs (comma-separated) and the ``--T`` alias."""
    rows = []
    for name in theorem.param_names:
        sym = theorem.symbol(name)
        rows.append((f"--{name}", sym.allowed, sym.description))
    if "T" not in theorem.param_names and theorem.iteration is not None:
        it = theorem.symbol(theorem.iteration.name)
        rows.append(("--T", it.allowed, f"the iteration count {it.name} ({it.description})"))
    arrays = [(f"--{n}", "comma-separated finite numbers (an array)", what)
              for n, what in dict(theorem.ARRAY_PARAMS).items()]
    w0 = max(len(r[0]) for r in rows + arrays) if rows or arrays else 4
    w1 = max(len(r[1]) for r in rows + arrays) if rows or arrays else 4
    lines = [f"{theorem.key}: {theorem.title} ({theorem.source}); metric: {theorem.metric}",
             f"usage: delaylab check {theorem.key} [--PARAM VALUE ...] [--json]", "", "parameters:"]
    lines += [f"  {a:<{w0}}  {b:<{w1}}  {c}" for a, b, c in rows]
    if arrays:
        lines += ["", "arrays (the Python API's sequences, comma-separated, e.g. --L 1,0.01):"]
        lines += [f"  {a:<{w0}}  {b:<{w1}}  {c}" for a, b, c in arrays]
    lines += ["", "  --json  print the report as JSON"]
    return "\n".join(lines)


def parse_params(theorem: bounds.Theorem, tokens: Sequence[str]) -> tuple[dict[str, float | list[float]], bool]:
    """Turn ``--NAME VALUE`` / ``--NAME=VALUE`` tokens into floats (comma-separated lists for the
    theorem's array inputs); also returns the --json flag."""
    allowed = list(theorem.param_names)
    if "T" not in allowed and theorem.iteration is not None:
        allowed.append("T")
    arrays = dict(theorem.ARRAY_PARAMS)
    allowed += [a for a in arrays if a not in allowed]
    params: dict[str, float | list[float]] = {}
    as_json = False
    i = 0
    tokens = list(tokens)
    while i < len(tokens):
        tok = tokens[i]
        if tok == "--json":
            as_json = True
            i += 1
            continue
        if not tok.startswith("--") or len(tok) == 2:
            raise CLIError(f"expected --PARAM VALUE, got {tok!r}; parameters of {theorem.key}: "
                           + ", ".join("--" + n for n in allowed))
        name, eq, value = tok[2:].partition("=")
        if name not in allowed:
            raise CLIError(f"unknown parameter --{name} for {theorem.key}; its parameters are: "
                           + ", ".join("--" + n for n in allowed))
        if not eq:
            if i + 1 >= len(tokens):
                raise CLIError(f"--{name} needs a value")
            value = tokens[i + 1]
            i += 1
        i += 1
        if name in params:
            raise CLIError(f"--{name} given twice")
        if name in arrays:
            params[name] = _parse_array(name, value, arrays[name])
            continue
        sym = theorem.symbol(theorem.iteration.name if name == "T" and "T" not in theorem.param_names else name)
        try:
            x = float(value)
        except ValueError:
            raise CLIError(f"{sym.name} must be {sym.allowed}, got {value!r}") from None
        if not math.isfinite(x):
            raise CLIError(f"{sym.name} must be {sym.allowed}, got {value!r}")
        params[name] = x
    return params, as_json


def cmd_check(args: argparse.Namespace) -> int:
    try:
        theorem = bounds.get(args.theorem)
    except KeyError as e:
        raise CLIError(e.args[0]) from None
    if any(t in HELP_FLAGS for t in args.params or []):  # `check THEOREM --help`: this theorem's parameters
        print(theorem_help(theorem))
        return 0
    params, as_json = parse_params(theorem, args.params or [])
    try:
        report = theorem.check(**params)
    except ValueError as e:
        raise CLIError(str(e)) from None
    if as_json or getattr(args, "json", False):
        print(json.dumps(report.to_dict(), allow_nan=False))
    else:
        print(report)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="delaylab")
    sub = parser.add_subparsers(dest="command", required=True)
    register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Stand-alone entry with the two subcommands (``studies.cli.main`` is the real one)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        return args.func(args)
    except CLIError as e:
        print(f"delaylab: error: {e}", file=sys.stderr)
        return 2


def run_check(argv: Sequence[str]) -> tuple[int, str]:
    """Run ``delaylab <argv>`` in-process; return (exit code, stdout). Errors go to stdout too."""
    buf = io.StringIO()
    with redirect_stdout(buf):
        parser = build_parser()
        try:
            args = parser.parse_args(list(argv))
            code = args.func(args)
        except CLIError as e:
            print(f"delaylab: error: {e}")
            code = 2
        except SystemExit as e:  # argparse usage errors
            code = int(e.code or 0)
    return code, buf.getvalue()
