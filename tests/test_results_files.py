"""Result files are validated when read back (issue 8, "Result files are trusted too much"): records.csv
cut mid-line or malformed, names that would steer a figure out of its directory, a study.json of another
study; and result files are readable by colleagues (umask-respecting modes)."""
from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest

from studies import run_study
from studies.cli import main
from studies.report import figure_path, report
from studies.results import load_results, read_records
from studies.spec import AlgorithmSpec, BudgetSpec, ClusterSpec, DatasetSpec, StudySpec, Target

A = AlgorithmSpec("dis-dfsdca", "A", {"eta": 1e-3, "H": 50, "T": "4*K"})
B = AlgorithmSpec("cocoa+", "B", {"H": 50})


def tiny_spec(name: str = "toy", algorithms=(A, B)) -> StudySpec:
    return StudySpec(name=name, title=f"{name} title", thesis_ref="Fig. 6", claim="A is faster than B.",
                     problem="ridge", lam=0.1, datasets=(DatasetSpec("ijcnn1", K=2, scale=0.02),),
                     algorithms=tuple(algorithms), cluster=ClusterSpec(latency=1e-5),
                     budget=BudgetSpec(max_epochs=2.0), target=Target("duality_gap", 1e-4, relative=True))


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    out = tmp_path_factory.mktemp("made") / "res"
    run_study(tiny_spec(), out=out, progress=False)
    return out


@pytest.fixture
def res(made, tmp_path):
    out = tmp_path / "res"
    shutil.copytree(made, out)
    return out


def _a_run(out):
    return sorted((out / "runs").iterdir())[0]


# --- records.csv ------------------------------------------------------------------------------------
def test_records_cut_mid_line_is_refused_with_file_and_line(res, capsys):
    rec = _a_run(res) / "records.csv"
    text = rec.read_text()
    lines = text.splitlines()
    cut = text[:-4]  # the last value loses its last digits and the newline: still a number
    rec.write_text(cut)
    with pytest.raises(ValueError, match=rf"records\.csv:{len(lines)}: the last line .* is cut"):
        read_records(rec.parent)
    assert main(["report", str(res)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"records.csv:{len(lines)}" in err


@pytest.mark.parametrize("line, needle", [
    ("3,0.5,1.0,duality_gap", "4 fields, expected 5"),
    ("3,0.5,1.0,duality_gap,0.1,7", "6 fields, expected 5"),
    ("x,0.5,1.0,duality_gap,0.1", "step 'x' is not an integer"),
    ("-1,0.5,1.0,duality_gap,0.1", "step -1 is negative"),
    ("3,inf,1.0,duality_gap,0.1", "sim_time 'inf' must be a finite number >= 0"),
    ("3,0.5,nan,duality_gap,0.1", "epoch 'nan' must be a finite number >= 0"),
    ("3,0.5,1.0,../../gap,0.1", "metric '../../gap' must be a name"),
    ("3,0.5,1.0,duality_gap,abc", "value 'abc' is not a number"),
    ("", "0 fields, expected 5"),
])
def test_records_line_checks(res, line, needle):
    rec = _a_run(res) / "records.csv"
    lines = rec.read_text().splitlines()
    lines.insert(2, line)
    rec.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError) as ei:
        read_records(rec.parent)
    assert f"records.csv:3: {needle}" in str(ei.value)


def test_records_header_checked_and_valid_file_round_trips(res):
    rec = _a_run(res) / "records.csv"
    good = read_records(rec.parent)
    import pandas as pd

    pd.testing.assert_frame_equal(good, pd.read_csv(rec), check_dtype=False)  # an independent reader agrees
    rec.write_text("step,time,epoch,metric,value\n0,0,0,gap,1\n")
    with pytest.raises(ValueError, match=r"records\.csv:1: the header must be"):
        read_records(rec.parent)


# --- names read from disk -----------------------------------------------------------------------------
def test_crafted_dataset_name_cannot_place_a_figure_outside(res, tmp_path, capsys):
    run = _a_run(res)
    doc = json.loads((run / "result.json").read_text())
    doc["params"]["dataset"] = "x/../../../escaped"
    (run / "result.json").write_text(json.dumps(doc))
    assert main(["report", str(res)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "params['dataset']" in err and "result.json" in err
    assert not list(tmp_path.rglob("*escaped*.png")) and not list(res.parent.parent.rglob("*escaped*"))


def test_figure_path_stays_in_its_directory(tmp_path):
    figdir = tmp_path / "figures"
    figdir.mkdir()
    for parts in (("duality_gap", "x/../../../name", "K1"), ("..", "..", "a"), ("/etc/passwd",), ("",)):
        p = figure_path(figdir, *parts)
        assert p.parent == figdir and p.suffix == ".png" and "/" not in p.name and not p.name.startswith(".")


def test_run_id_must_be_its_directory(res):
    run = _a_run(res)
    doc = json.loads((run / "result.json").read_text())
    doc["run_id"] = "toy[other=1]"
    (run / "result.json").write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="is not its directory's name"):
        load_results(res)


# --- a study.json of another study ------------------------------------------------------------------------
def test_study_json_of_another_study_is_refused(res, made, tmp_path, capsys):
    other = tmp_path / "other"
    run_study(tiny_spec("other-study", algorithms=(B,)), out=other, progress=False)
    shutil.copy(other / "study.json", res / "study.json")  # the page would be titled 'other-study title'
    with pytest.raises(ValueError, match="study 'toy'.*study.json describes study 'other-study'"):
        load_results(res)
    assert main(["report", str(res)]) == 2
    assert "mixes two studies" in capsys.readouterr().err
    assert not (res / "report.md").exists() or "other-study title" not in (res / "report.md").read_text()


def test_study_json_of_another_study_is_refused_without_recorded_setups(res, tmp_path, capsys):
    """Result files without info.setup (written by hand or before setups): the run ids and runs.json still
    say which study the runs are of."""
    other = tmp_path / "other"
    run_study(tiny_spec("other-study", algorithms=(B,)), out=other, progress=False)
    shutil.copy(other / "study.json", res / "study.json")
    for p in (res / "runs").glob("*/result.json"):
        doc = json.loads(p.read_text())
        del doc["info"]["setup"]
        p.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match=r"runs\.json.* lists run 'toy\[.*of study 'toy'.*describes study 'other-study'"):
        load_results(res)
    assert main(["report", str(res)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "runs.json" in err and "mixes two studies" in err
    (res / "runs.json").unlink()  # no manifest: every run directory, each checked by its run id
    with pytest.raises(ValueError, match=r"result\.json' is a run of study 'toy'.*describes study 'other-study'"):
        load_results(res)
    assert main(["report", str(res)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "result.json" in err and "mixes two studies" in err
    assert not (res / "report.md").exists() or "other-study title" not in (res / "report.md").read_text()


def test_sweeping_another_study_into_an_out_is_refused(res):
    with pytest.raises(ValueError, match="holds runs of study 'toy', not of study 'other'; use another --out"):
        run_study(tiny_spec("other", algorithms=(B,)), out=res, progress=False)
    assert json.loads((res / "study.json").read_text())["name"] == "toy"  # left as it was


# --- file modes -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("umask, want", [(0o022, 0o644), (0o077, 0o600)])
def test_result_files_respect_the_umask(tmp_path, umask, want):
    old = os.umask(umask)
    try:
        out = tmp_path / "res"
        res = run_study(tiny_spec(algorithms=(B,)), out=out, progress=False)
        report(out)
    finally:
        os.umask(old)
    files = [out / "study.json", out / "runs.json", out / "report.md", out / "report.html"]
    for r in res.runs:
        files += [out / "runs" / r.run_id / f for f in ("result.json", "records.csv", "trace.npz")]
    for f in files:
        assert stat.S_IMODE(f.stat().st_mode) == want, f
    assert not [p for p in out.rglob(".*") if p.is_file() and p.parent.name != ".locks"]  # no temporaries left


def test_every_file_run_study_and_reproduce_write_goes_through_the_atomic_helpers(tmp_path, monkeypatch):
    """study.json, runs.json, result.json, records.csv, trace.npz, the reports and the index are each
    written by studies.results.atomic_write_with (a temporary file, then os.replace): an interrupted
    writer never leaves a half-written file under its real name. Lock files (flock'ed in place) and figures
    (studies.report.savefig: a temporary name, then os.replace) are the only others."""
    from studies import registry, results
    from studies.reproduce import reproduce

    written = []
    inner = results.atomic_write_with

    def spy(path, write, suffix=".part"):
        written.append(Path(path).resolve())
        return inner(path, write, suffix)

    monkeypatch.setattr(results, "atomic_write_with", spy)
    from studies import runner

    monkeypatch.setattr(runner, "atomic_write_with", spy)
    out = tmp_path / "all"
    reproduce(out, quick=True, studies=[tiny_spec(algorithms=(B,))], progress=False, stream=open(os.devnull, "w"))
    files = [p.resolve() for p in out.rglob("*") if p.is_file()]
    others = [p for p in files if p not in written and p.parent.name not in (".locks", "figures")]
    assert not others, others
    assert {"study.json", "runs.json", "result.json", "records.csv", "trace.npz", "report.md", "index.md",
            "index.html"} <= {p.name for p in written}
