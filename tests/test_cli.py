"""The delaylab CLI: demo at its tiny size, study list, report, --help, one-line errors with status 2."""
from __future__ import annotations

import pytest

from studies.cli import main


def test_demo_tiny_writes_report_and_figures(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--size", "tiny"]) == 0
    captured = capsys.readouterr()
    assert (out / "report.md").exists() and (out / "report.html").exists()
    figs = sorted((out / "figures").glob("*.png"))
    assert figs and all(f.stat().st_size > 1000 for f in figs)
    page = (out / "report.md").read_text()
    assert "What the thesis claims" in page and "Fig. 6" in page
    assert any(v in page for v in ("**agrees**", "**disagrees**", "**inconclusive**"))
    # the summary table and the report path are printed
    assert "CoCoA+ H=1000" in captured.out and "Dis-dfSDCA H=100" in captured.out
    assert str(out / "report.html") in captured.out
    assert "runs done" in captured.err  # the progress bar's final line (stderr is not a TTY here)
    # resume: a second demo into the same directory runs nothing new
    assert main(["demo", "--out", str(out), "--size", "tiny"]) == 0
    assert "skipped: already finished" in capsys.readouterr().err
    # regenerate from the result files only
    (out / "report.md").unlink()
    assert main(["report", str(out)]) == 0
    assert (out / "report.md").read_text() == page


def test_demo_size_from_environment(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("DELAYLAB_DEMO_SIZE", "bogus")
    assert main(["demo", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--size" in err


def test_study_list_shows_the_chapter3_studies(capsys):
    assert main(["study", "list"]) == 0
    out = capsys.readouterr().out
    for name, ref in (("ch3-gap", "Fig. 6"), ("ch3-speedup", "Fig. 7"), ("ch3-nonconvex", "Fig. 8")):
        assert any(line.startswith(name + " ") and ref in line for line in out.splitlines())


@pytest.mark.parametrize("argv", [
    ["--help"], ["demo", "--help"], ["study", "--help"], ["study", "list", "--help"], ["study", "run", "--help"],
    ["report", "--help"], ["theorems", "--help"], ["check", "--help"],
])
def test_help_everywhere(argv, capsys):
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: delaylab")
    if argv[0] == "demo":
        assert "tiny" in out and "DELAYLAB_DEMO_SIZE" in out


@pytest.mark.parametrize("argv, needle", [
    ([], "a command is required"),
    (["frobnicate"], "invalid choice"),
    (["study"], "study needs an action"),
    (["study", "run"], "required: name"),
    (["study", "run", "ch9-nothing"], "unknown study 'ch9-nothing'; known studies: ch2-bound, ch2-distributed-speedup"),
    (["study", "run", "ch3-gap", "--workers", "1,x"], "--workers"),
    (["study", "run", "ch3-gap", "--seeds", "0"], "--seeds"),
    (["demo", "--jobs", "-1"], "--jobs"),
    (["demo", "--size", "huge"], "--size"),
    (["report", "/nonexistent/delaylab-results"], "results_dir"),
    (["check", "thm9.9.9"], "unknown theorem"),
])
def test_bad_arguments_one_line_exit_2(argv, needle, capsys):
    assert main(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("delaylab: error: ") and needle in lines[0]
    assert "Traceback" not in captured.err


def test_report_of_a_directory_without_results(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "study.json" in err
