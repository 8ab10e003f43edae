"""Startup (issue 7, target 7): ``delaylab --help``, ``delaylab study list``, declaring a study and resuming
one load neither sympy nor matplotlib unless they need them; the theorem registry is built on first
access; every public import path still works. Fresh interpreters, few of them (each costs a startup)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("sympy", "matplotlib", "pandas")


def fresh(code: str) -> dict:
    """Run ``code`` in a new interpreter (this worktree first on the path); it prints one JSON line last."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


LOADED = "{m: m in sys.modules for m in %r}" % (HEAVY,)
TOY = """
from studies.spec import AlgorithmSpec, BudgetSpec, ClusterSpec, DatasetSpec, StudySpec, Target
spec = StudySpec(name="toy", title="toy", thesis_ref="Fig. 6", claim="c", problem="ridge", lam=0.1,
                 datasets=(DatasetSpec("ijcnn1", K=2, scale=0.02),),
                 algorithms=(AlgorithmSpec("dis-dfsdca", "A", {"eta": 1e-3, "H": 50, "T": "4*K"}),),
                 cluster=ClusterSpec(latency=1e-5), budget=BudgetSpec(max_epochs=1.0),
                 target=Target("duality_gap", 1e-4, relative=True))
"""


def test_cli_and_declarations_load_no_sympy_nor_matplotlib_and_the_registry_builds_on_first_access():
    got = fresh(f"""
import contextlib, io, json, sys
from studies.cli import main
with contextlib.redirect_stdout(io.StringIO()) as help_out:
    assert main(["--help"]) == 0
out = {{"help": {LOADED}, "usage": "usage:" in help_out.getvalue()}}
with contextlib.redirect_stdout(io.StringIO()) as list_out:
    assert main(["study", "list"]) == 0
out["list"], out["listed"] = {LOADED}, list_out.getvalue().split()[0]
{TOY}
from studies.bindings import Constant, Hyper, TheoremBinding
from studies.spec import FromTheorem
TheoremBinding("thm3.4.1", {{"L": Constant("L_max"), "eta": Hyper("eta")}})
FromTheorem("thm3.4.1", {{"L": Constant("L_max")}})
out["declared"] = {LOADED}
import bounds
out["lazy"] = "sympy" in sys.modules
import bounds.theorem as core  # the registry module itself, used directly
n = len(core.keys())
from bounds import Theorem, ch3, get
out.update(n=n, get=get("thm3.4.1").key, all=len(bounds.all()), cls=Theorem.__name__, ch3=ch3.__name__,
           dir="get" in dir(bounds))
errors = []
for bad in (lambda: TheoremBinding("thm9.9.9", {{}}), lambda: TheoremBinding("thm3.4.1", {{"zeta": Hyper("eta")}}),
            lambda: FromTheorem("thm6.4.1", {{}})):
    try:
        bad()
    except ValueError as exc:
        errors.append(str(exc))
out["errors"] = errors
print(json.dumps(out))
""")
    assert got["help"] == {"sympy": False, "matplotlib": False, "pandas": False} and got["usage"]
    assert got["list"]["sympy"] is False and got["list"]["matplotlib"] is False and got["listed"].startswith("ch")
    # a study and theorem bindings declared (the catalogue's too, above): bounds/index.py, no sympy
    assert got["declared"]["sympy"] is False and got["declared"]["matplotlib"] is False
    assert got["lazy"] is False
    assert (got["n"], got["get"], got["cls"], got["ch3"], got["dir"]) == (got["all"], "thm3.4.1", "Theorem",
                                                                           "bounds.ch3", True)
    assert got["n"] >= 30
    unknown, symbol, no_step = got["errors"]
    assert unknown.startswith("TheoremBinding.theorem must be a registered theorem") and "'thm9.9.9'" in unknown
    assert "must be among its parameters L, lam, n, H, tau, eta, T, got 'zeta'" in symbol
    assert no_step.startswith("FromTheorem.theorem must have a largest admissible step, got 'thm6.4.1'")


def test_theorem_index_matches_the_registry():
    """bounds/index.py is generated (``python -m bounds.index``); a changed theorem must regenerate it."""
    from bounds.index import INDEX, from_registry

    assert INDEX == from_registry()


def test_studies_report_is_callable_however_it_was_imported(tmp_path):
    import studies
    import studies.report as mod
    from studies import report

    for fn in (report, studies.report, mod):  # each reaches report(): its own error for a missing directory
        with pytest.raises(ValueError, match="results_dir must be a directory written by run_study"):
            fn(tmp_path / "nothing-here")


def test_a_resumed_study_without_bindings_loads_no_sympy(tmp_path):
    from studies import run_study

    names: dict = {}
    exec(TOY, names)
    out = str(tmp_path / "toy")
    assert run_study(names["spec"], out=out, progress=False).skipped == 0
    again = fresh(f"import json, sys\nfrom studies import run_study\n{TOY}\n"
                  f"res = run_study(spec, out={out!r}, progress=False)\n"
                  f"print(json.dumps({{'skipped': res.skipped, 'sympy': 'sympy' in sys.modules, "
                  f"'matplotlib': 'matplotlib' in sys.modules}}))")
    assert again == {"skipped": 1, "sympy": False, "matplotlib": False}


def test_a_theorem_loads_only_its_chapter_and_every_chapter_registers_only_its_own_keys():
    """``bounds.get(key)`` builds only the chapter module that owns ``key`` (the report of a Chapter 3
    study does not build Chapters 2, 4-6); a plugin key that clashes with an unloaded chapter's theorem
    is still refused at register(); ``keys()`` builds every chapter."""
    got = fresh("""
import json, sys
import sympy as sp
import bounds
import bounds.theorem as core
chapters = lambda: sorted(m for m in sys.modules if m.startswith("bounds.ch"))
out = {"get": bounds.get("thm3.4.1").key, "after_get": chapters(), "ch3_keys": sorted(core._REGISTRY)}
x = sp.Symbol("x", positive=True)
clash = core.Theorem(key="thm4.2.1", title="clash", source="(0)", metric="m",
                     symbols=(core.TheoremSymbol(x, "x"),), conditions=(), bound_expr=x)
before = set(core._REGISTRY)
try:
    core.register(clash)
    out["clash"] = None
except ValueError as exc:
    out["clash"] = str(exc)
out["after_clash"] = chapters()
owners = {**{k: "ch3" for k in out["ch3_keys"]}, **{k: "ch4" for k in set(core._REGISTRY) - before}}
for c in bounds.CHAPTER_MODULES:
    before = set(core._REGISTRY)
    bounds.load_chapter(c)
    owners.update({k: c for k in set(core._REGISTRY) - before})
out["owners"] = owners
out["chapter_of"] = {k: bounds.chapter_of(k) for k in owners}
out["n"], out["all"] = len(core.keys()), chapters()
try:
    bounds.get("thm9.9.9")
except KeyError as exc:
    out["unknown"] = str(exc)
print(json.dumps(out))
""")
    assert got["get"] == "thm3.4.1" and got["after_get"] == ["bounds.ch3"]
    assert got["ch3_keys"] and all(k.split(".")[0][-1] == "3" for k in got["ch3_keys"])
    assert got["clash"] == "theorem key 'thm4.2.1' is already registered" and got["after_clash"] == [
        "bounds.ch3", "bounds.ch4"]
    assert got["owners"] == got["chapter_of"] and len(got["owners"]) == got["n"] >= 30
    assert got["all"] == [f"bounds.{c}" for c in ("ch2", "ch3", "ch4", "ch5", "ch6")]
    assert got["unknown"].startswith("\"unknown theorem 'thm9.9.9'; known theorems: cor4.3.1")
