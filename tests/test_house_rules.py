"""Rules of the house (ARCHITECTURE.md), checked on the source with ``ast``.

1. Nothing outside ``sim/protocols/`` branches on a protocol's name: no comparison (``==``,
   ``!=``, ``in``, ``not in``, ``match``/``case``) has on one side a string constant equal to a
   registered protocol name (alone or inside a literal tuple/list/set), or a name, attribute or
   subscript whose text contains ``protocol``.
2. Imports run one way: ``algorithms`` never imports sim, studies or bounds; ``bounds`` never
   imports sim, algorithms or studies; ``sim`` imports from ``algorithms`` only
   ``algorithms.roles``; nothing outside ``studies`` imports ``studies`` (imports inside
   functions, ``TYPE_CHECKING`` blocks and ``importlib.import_module("...")`` with a constant
   argument count too).
3. The study engine names no algorithm (a key of ``algorithms.registry.ALGORITHMS``) and no
   theorem (``bounds.keys()``) in its string constants (docstrings and comments excluded): the
   catalogue in ``studies/thesis/`` does.

Each checker is also run on a small bad snippet, so a checker that cannot fail is caught.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest


ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("algorithms", "sim", "studies", "bounds")
ENGINE_MODULES = ("spec.py", "runner.py", "search.py", "analyses.py", "bindings.py", "compare.py", "results.py",
                  "report.py", "registry.py", "progress.py", "plan.py", "hyper.py", "expr.py", "adversary.py",
                  "adversary_cli.py")


def package_files(*packages: str, skip: tuple[str, ...] = ()) -> list[Path]:
    files = []
    for pkg in packages:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if not any(rel.startswith(s) for s in skip):
                files.append(path)
    return files


def parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


# --- rule 1: no branching on a protocol name --------------------------------------------------
def _protocol_names() -> set[str]:
    from sim.protocols import protocol_names

    return set(protocol_names())


def _names_protocol(node: ast.AST, names: set[str]) -> str | None:
    """Why ``node`` (one side of a comparison) is a protocol name, or None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in names:
        return f"the string constant {node.value!r} (a registered protocol name)"
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):  # `kind in ("sync", ...)`
        for elt in node.elts:
            if isinstance(elt, ast.Constant):
                why = _names_protocol(elt, names)
                if why is not None:
                    return why
    if isinstance(node, (ast.Name, ast.Attribute, ast.Subscript)):
        text = ast.unparse(node)
        if "protocol" in text.lower():
            return f"{text!r}, which names a protocol"
    return None


_COMPARE_OPS = (ast.Eq, ast.NotEq, ast.In, ast.NotIn)


def protocol_branches(tree: ast.AST, names: set[str]) -> list[tuple[int, str]]:
    """(line, what) for every comparison or match-case on a protocol name in ``tree``."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            for i, op in enumerate(node.ops):
                if not isinstance(op, _COMPARE_OPS):
                    continue
                for side in (sides[i], sides[i + 1]):
                    why = _names_protocol(side, names)
                    if why is not None:
                        found.append((node.lineno, f"comparison `{ast.unparse(node)}` on {why}"))
                        break
        elif isinstance(node, ast.Match):
            why = _names_protocol(node.subject, names)
            if why is not None:
                found.append((node.lineno, f"match on {why}"))
            for case in node.cases:
                for pat in ast.walk(case.pattern):
                    if isinstance(pat, ast.MatchValue):
                        why = _names_protocol(pat.value, names)
                        if why is not None:
                            found.append((pat.lineno, f"case on {why}"))
    return sorted(found)


BAD_BRANCHING = '''
def step(roles, trace, kind):
    if roles.protocol == "sync":
        pass
    if trace.protocol in ("async", "other"):
        pass
    if kind != "shared-memory":
        pass
    match roles.protocol:
        case "x":
            pass
    match kind:
        case "async":
            pass
'''

GOOD_BRANCHING = '''
def step(roles, spec, proto):
    if spec.straggler == "none":
        pass
    if proto is None:
        pass
    label = "async"  # a string, not a comparison
    return proto.messages_per_version(roles)
'''


def test_protocol_branch_checker_catches_a_bad_snippet():
    """The checker flags each kind of branch on a protocol name, and nothing in innocent code."""
    names = _protocol_names()
    found = protocol_branches(ast.parse(BAD_BRANCHING), names)
    assert [line for line, _ in found] == [3, 5, 7, 9, 13], found
    assert protocol_branches(ast.parse(GOOD_BRANCHING), names) == []


def test_nothing_outside_sim_protocols_branches_on_a_protocol_name():
    """ARCHITECTURE.md: protocols are found by name in a registry, and nothing outside
    ``sim/protocols/`` branches on a protocol name."""
    names = _protocol_names()
    assert {"async", "sync", "shared-memory"} <= names
    files = package_files(*PACKAGES, skip=("sim/protocols/",))
    assert len(files) > 20
    bad = [f"{path.relative_to(ROOT)}:{line}: {what}"
           for path in files for line, what in protocol_branches(parse(path), names)]
    assert not bad, "branches on a protocol name outside sim/protocols/:\n" + "\n".join(bad)


# --- rule 2: import direction --------------------------------------------------------------
def imports_of(tree: ast.AST, module: str, is_package: bool) -> list[tuple[int, str]]:
    """(line, imported module) for every import in ``tree`` (relative ones resolved).

    ``from a.b import c`` yields ``a.b.c`` (c may be a submodule); ``import_module("x")`` yields x.
    """
    package = module if is_package else module.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base_parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            out.extend((node.lineno, f"{base}.{alias.name}" if alias.name != "*" else base)
                       for alias in node.names)
        elif isinstance(node, ast.Call):
            f = node.func
            fname = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
            if fname in ("import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant) \
                    and isinstance(node.args[0].value, str):
                out.append((node.lineno, node.args[0].value))
    return out


def _top(name: str) -> str:
    return name.split(".")[0]


def import_violation(importer: str, imported: str) -> str | None:
    """Why ``importer`` may not import ``imported`` (ARCHITECTURE.md), or None."""
    src, dst = _top(importer), _top(imported)
    if src == dst or dst not in PACKAGES:
        return None
    if dst == "studies":
        return "nothing imports studies"
    if src == "algorithms":
        return "algorithms never imports sim, studies or bounds"
    if src == "bounds":
        return "bounds never imports sim, algorithms or studies"
    if src == "sim" and dst == "algorithms":
        if imported == "algorithms.roles" or imported.startswith("algorithms.roles."):
            return None
        return "sim imports from algorithms only algorithms.roles"
    if src == "sim" and dst == "bounds":
        return "sim and bounds meet only in studies"
    return None


def import_violations(tree: ast.AST, module: str, is_package: bool) -> list[tuple[int, str]]:
    out = []
    for line, imported in imports_of(tree, module, is_package):
        why = import_violation(module, imported)
        if why is not None:
            out.append((line, f"imports {imported}: {why}"))
    return out


BAD_IMPORTS = '''
import numpy as np
from algorithms.roles import worker_streams
from algorithms import roles
from algorithms.problem import Problem
def later():
    import studies.runner
    from bounds import get
    import importlib
    importlib.import_module("algorithms.dfsdca")
'''


def test_import_checker_catches_a_bad_snippet():
    """The checker sees top-level, in-function, relative and import_module imports."""
    found = import_violations(ast.parse(BAD_IMPORTS), "sim.fake", False)
    assert [line for line, _ in found] == [5, 7, 8, 10], found
    rel = import_violations(ast.parse("from ..studies import spec\nfrom .problem import Problem\n"),
                            "algorithms.sub.mod", False)
    assert rel == [] and import_violations(ast.parse("from ..studies import spec\n"), "algorithms.mod", False) \
        == [(1, "imports studies.spec: nothing imports studies")]
    assert import_violations(ast.parse("from .. import runner\n"), "studies.thesis.ch9", False) == []
    assert [w for _, w in import_violations(ast.parse("import sim.trace\n"), "bounds.ch9", False)] == [
        "imports sim.trace: bounds never imports sim, algorithms or studies"]
    assert [w for _, w in import_violations(ast.parse("from algorithms import probes\n"), "algorithms.x", False)] \
        == []


def test_imports_run_one_way():
    """ARCHITECTURE.md: studies -> {sim, algorithms, bounds}; sim -> algorithms.roles only;
    never algorithms -> sim|bounds|studies, bounds -> sim|algorithms|studies, anything -> studies."""
    files = package_files(*PACKAGES)
    assert {_top(module_name(p)) for p in files} == set(PACKAGES)
    bad = []
    for path in files:
        for line, what in import_violations(parse(path), module_name(path), path.name == "__init__.py"):
            bad.append(f"{path.relative_to(ROOT)}:{line}: {what}")
    assert not bad, "imports against the house direction:\n" + "\n".join(bad)


# --- rule 3: the engine names no algorithm and no theorem ------------------------------------
_TOKEN = re.compile(r"[A-Za-z0-9_.+-]+")


def _docstring_ids(tree: ast.AST) -> set[int]:
    """ids of string constants that are bare expression statements (docstrings and the like)."""
    return {id(node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)}


def named_in_strings(tree: ast.AST, names: set[str]) -> list[tuple[int, str, str]]:
    """(line, name, string) for every string constant (f-string parts included, docstrings
    excluded) holding one of ``names`` as a whole token (e.g. ``"thm3.4.1"`` in
    ``"see thm3.4.1."`` but not in ``"thm3.4.1-corrected"``, which is a token of its own)."""
    skip = _docstring_ids(tree)
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            for tok in _TOKEN.findall(node.value):
                for cand in {tok, tok.rstrip(".")}:
                    if cand in names:
                        out.append((node.lineno, cand, node.value))
    return sorted(set(out))


def _engine_names() -> tuple[set[str], set[str]]:
    import bounds
    from algorithms.registry import ALGORITHMS

    return set(ALGORITHMS), set(bounds.keys())


BAD_ENGINE = '''
"""A docstring may say dis-dfsdca and thm3.4.1."""
DEFAULT = "cocoa+"
def f(key):
    # a comment may say asysgd
    if key == "thm3.4.1-corrected":
        raise ValueError(f"use {key} like thm2.3.1.")
    return "async-svrg-like", "thm3.4.1x"
'''


def test_engine_name_checker_catches_a_bad_snippet():
    """Plain strings, comparisons and f-string parts are seen; docstrings, comments and longer
    tokens that merely start with a name are not."""
    algorithms, theorems = _engine_names()
    found = named_in_strings(ast.parse(BAD_ENGINE), algorithms | theorems)
    assert [(line, name) for line, name, _ in found] == [(3, "cocoa+"), (6, "thm3.4.1-corrected"),
                                                        (7, "thm2.3.1")], found


def test_engine_names_no_algorithm_and_no_theorem():
    """ARCHITECTURE.md: the engine in studies/ names no algorithm and no theorem; the
    catalogue (studies/thesis/) does."""
    algorithms, theorems = _engine_names()
    assert {"dis-dfsdca", "cocoa+"} <= algorithms and {"thm3.4.1", "thm3.4.1-corrected"} <= theorems
    # positive control on real code: the catalogue names both, and the checker sees it
    catalogue = {name for _, name, _ in named_in_strings(parse(ROOT / "studies" / "thesis" / "ch3.py"),
                                                         algorithms | theorems)}
    assert {"dis-dfsdca", "cocoa+", "thm3.4.1"} <= catalogue, catalogue
    bad = []
    for name in ENGINE_MODULES:
        path = ROOT / "studies" / name
        assert path.exists(), f"engine module {path} is gone: update ENGINE_MODULES"
        tree = parse(path)
        for line, found, text in named_in_strings(tree, algorithms):
            bad.append(f"studies/{name}:{line}: algorithm name {found!r} in {text!r}")
        for line, found, text in named_in_strings(tree, theorems):
            bad.append(f"studies/{name}:{line}: theorem key {found!r} in {text!r}")
    assert not bad, "the study engine names algorithms or theorems:\n" + "\n".join(bad)


def test_every_package_is_installed_by_a_plain_pip_install():
    """pyproject's package discovery covers every folder with Python modules under the four packages,
    so a wheel (not only an editable install) holds sim.protocols, studies.thesis and the rest."""
    import setuptools

    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    conf = tomllib.loads((ROOT / "pyproject.toml").read_text())
    include = conf["tool"]["setuptools"]["packages"]["find"]["include"]
    found = set(setuptools.find_packages(where=str(ROOT), include=include))
    for top in ("algorithms", "sim", "bounds", "studies"):
        for d in [ROOT / top, *(p for p in (ROOT / top).rglob("*") if p.is_dir())]:
            if any(d.glob("*.py")) and "__pycache__" not in d.parts:
                assert (d / "__init__.py").exists(), f"{d.relative_to(ROOT)} has modules but no __init__.py"
                assert ".".join(d.relative_to(ROOT).parts) in found, f"{d.relative_to(ROOT)} is not installed"
