"""`delaylab reproduce` (issue 8, item 4): every registered study, its report, and one index page with every
claim's verdict and every theorem check; a failed study does not stop the others."""
from __future__ import annotations

from pathlib import Path

import pytest

from studies import registry
from studies.analyses import Section
from studies.cli import main
from studies.spec import AlgorithmSpec, BudgetSpec, Claim, ClusterSpec, DatasetSpec, StepGrid, StudySpec, Target
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


GRIDDED = StudySpec(**{**_tiny("tiny-grid", {"eta": 1e-3, "H": 50, "T": "4*K"},
                                claims=(Claim("A is faster than B", kind="faster", subject="dis-dfsdca",
                                              baseline="cocoa", steps=StepGrid("eta", (1e-4, 1e-3, 1e-2))),)).__dict__,
                        "target": Target("duality_gap", 0.2, relative=True)})  # reached by some steps, not all


def test_index_gives_the_robust_verdicts_as_robust_verdicts_returns_them(tmp_path, monkeypatch, capsys):
    """A claim with a step grid: the index lists the verdict at the thesis's grid, at each method's own best
    step and over the step grid with its fraction, the values of compare.robust_verdicts (not only the first)."""
    from studies.compare import robust_verdicts
    from studies.reproduce import CLAIM_COLUMNS, claim_records
    from studies.results import load_results

    monkeypatch.setattr(registry, "list_studies", lambda: [GRIDDED])
    out = tmp_path / "all"
    assert main(["reproduce", "--quick", "--out", str(out)]) == 0
    res = load_results(out / "tiny-grid")
    (a, b, c), _ = robust_verdicts(GRIDDED.claims[0], res)
    assert 0.0 <= c.fraction <= 1.0
    (rec,) = claim_records(res)
    assert (rec.verdict, rec.best_step, rec.grid, rec.fraction) == (a.verdict, b.verdict, c.verdict, c.fraction)
    md = (out / "index.md").read_text()
    header = next(ln for ln in md.splitlines() if ln.startswith("| study | claim |"))
    assert header == "| study | claim | " + " | ".join(CLAIM_COLUMNS) + " | evidence |"
    row = next(ln for ln in md.splitlines() if ln.startswith("| tiny-grid | A is faster than B |"))
    cells = [x.strip() for x in row.strip("|").split("|")]
    assert cells[2:5] == [a.verdict, b.verdict, c.verdict.replace("|", "/")]
    assert float(cells[5]) == pytest.approx(c.fraction, rel=1e-3)


def test_theorem_checks_are_records_with_numeric_looseness(monkeypatch):
    """The index's looseness comes as a number from analyses.theorem_checks, never parsed from a sentence: a
    check whose text says one number and whose record holds another shows the record's."""
    import pandas as pd

    import studies.analyses as an
    from studies.reproduce import _Outcome, write_index

    tab = pd.DataFrame({"theorem": ["thmX"] * 3, "label": ["A"] * 3, "dataset": ["d"] * 3, "K": [2] * 3,
                        "seed": [0, 1, 2], "condition": ["holds"] * 3, "measured": [0.01, 0.02, 0.03],
                        "bound": [0.08, 0.08, 0.08], "bound / measured": [8.0, 4.0, 8 / 3]})
    checks = an.condition_checks(tab) + an._bound_checks("thmX", tab)
    assert [c.verdict for c in checks] == ["condition holds", "holds"]
    assert checks[0].looseness == 4.0  # the median over seeds of bound / measured
    assert checks[1].looseness == pytest.approx(0.08 / 0.02)  # bound / the seeds' mean measured
    odd = an.Check("Bounds", "holds", "measured 1 vs bound 9; looseness bound/measured 9", 2.5)
    tmp = __import__("tempfile").mkdtemp()
    o = _Outcome("s", "t", "Fig. 1", Path(tmp) / "s", checks=[odd, an.Check("Bounds", "condition not met", "n/a")])
    md, _ = write_index(Path(tmp), [o], quick=True, data_dir=None)
    rows = [ln for ln in md.read_text().splitlines() if ln.startswith("| s | Bounds |")]
    assert rows[0].endswith("bound/measured 9 | 2.5 |")  # the record's 2.5, not the 9 its sentence ends with
    assert rows[1].endswith("| n/a |  |")  # no looseness: an empty cell


@pytest.mark.parametrize("argv", [["reproduce"], ["reproduce", "--out", "x", "--set", "eta=1"]])
def test_reproduce_usage_errors_are_one_line(argv, capsys):
    assert main(argv) == 2
    assert capsys.readouterr().err.count("\n") == 1
