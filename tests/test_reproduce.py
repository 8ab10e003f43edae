"""`delaylab reproduce` (issue 8, item 4): every registered study, its report, and one index page with every
claim's verdict and every theorem check; a failed study does not stop the others."""
from __future__ import annotations

import math

import pytest

from studies import registry
from studies.analyses import Section
from studies.cli import main
from studies.reproduce import theorem_checks
from studies.spec import AlgorithmSpec, BudgetSpec, Claim, ClusterSpec, DatasetSpec, StudySpec, Target
from studies.thesis.ch3 import step_condition


def _tiny(name: str, a_hyper: dict, claims=()) -> StudySpec:
    return StudySpec(name=name, title=f"{name} title", thesis_ref="Fig. 6", claim="A is faster than B.",
                     problem="ridge", lam=0.1, datasets=(DatasetSpec("ijcnn1", K=2, scale=0.02),),
                     algorithms=(AlgorithmSpec("dis-dfsdca", "Dis-dfSDCA", a_hyper),
                                 AlgorithmSpec("cocoa+", "CoCoA+", {"H": 50})),
                     cluster=ClusterSpec(latency=1e-5), budget=BudgetSpec(max_epochs=2.0),
                     target=Target("duality_gap", 1e-4, relative=True), claims=claims,
                     bindings=step_condition("thm3.4.1"))


OK = _tiny("tiny-ok", {"eta": 1e-3, "H": 50, "T": "4*K"},
           claims=(Claim("A is faster than B", kind="faster", subject="dis-dfsdca", baseline="cocoa"),))
BROKEN = StudySpec(**{**_tiny("tiny-broken", {"eta": 1e-3, "H": 10_000, "T": "4*K"}).__dict__,
                      "algorithms": (AlgorithmSpec("dis-dfsdca", "Dis-dfSDCA", {"eta": 1e-3, "H": 10_000, "T": "4*K"}),)})


def test_reproduce_quick_on_a_reduced_registry_writes_reports_and_an_index(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(registry, "list_studies", lambda: [BROKEN, OK])  # the broken one first: others go on
    out = tmp_path / "all"
    assert main(["reproduce", "--quick", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "[1/2] tiny-broken" in printed and "[2/2] tiny-ok" in printed and "2 studies, 1 failed" in printed
    for name in ("tiny-ok", "tiny-broken"):
        assert (out / name / "report.md").exists() and (out / name / "report.html").exists()
    md = (out / "index.md").read_text()
    ht = (out / "index.html").read_text()
    assert "[tiny-ok](tiny-ok/report.md)" in md and 'href="tiny-ok/report.html"' in ht
    assert "## FAILED STUDIES" in md and "tiny-broken: every run failed" in md and "H must be" in md
    # the claims table: the claim and the verdict evaluate_claims gives (computed independently here)
    from studies.compare import evaluate_claims
    from studies.results import load_results

    (v,) = evaluate_claims(load_results(out / "tiny-ok"))
    assert f"| tiny-ok | A is faster than B | {v.verdict} |" in md
    # the theorem checks: the step-size condition of thm3.4.1 on A's run, with its step / max
    assert "| tiny-ok | step-size condition |" in md and "thm3.4.1, Dis-dfSDCA (ijcnn1 K=2): condition holds in" in md
    assert "FAILED STUDIES" in ht and "<table>" in ht
    # resumable: a second reproduce runs nothing again
    assert main(["reproduce", "--quick", "--out", str(out)]) == 0
    assert "(2 runs," in capsys.readouterr().out
    from studies.runner import run_study

    assert run_study(OK, quick=True, out=out / "tiny-ok", progress=False).skipped == 2


def test_every_study_failing_is_exit_1(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(registry, "list_studies", lambda: [BROKEN])
    assert main(["reproduce", "--quick", "--out", str(tmp_path / "o")]) == 1
    assert "1 studies, 1 failed" in capsys.readouterr().out


def test_theorem_checks_read_verdict_lines_and_looseness(monkeypatch):
    import studies.analyses as an

    lines = ["[holds] thm2.3.1, SGD (digits10 K=1, 3 seeds): measured 0.01 vs bound 0.04; looseness bound/measured 4",
             "[violated] thm X: measured 2 vs bound 1; looseness bound/measured 0.5",
             "[condition not met] thm Y: the bound does not apply", "binding thm: L <- constant L"]
    monkeypatch.setattr(an, "sections", lambda results, figdir=None: [Section("Bounds", lines=lines)])
    monkeypatch.setattr(an, "theorem_table", lambda results: __import__("pandas").DataFrame())
    rows = theorem_checks(object())
    assert [r[1] for r in rows] == ["holds", "violated", "condition not met"]
    assert rows[0][3] == 4.0 and rows[1][3] == 0.5 and math.isnan(rows[2][3])


@pytest.mark.parametrize("argv", [["reproduce"], ["reproduce", "--out", "x", "--set", "eta=1"]])
def test_reproduce_usage_errors_are_one_line(argv, capsys):
    assert main(argv) == 2
    assert capsys.readouterr().err.count("\n") == 1
