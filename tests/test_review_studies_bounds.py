"""Regression tests for defects found in review of studies/ and bounds/ (each failed before its fix)."""
from __future__ import annotations

import json
import math
import os
import time

import numpy as np
import pytest

import bounds
from bounds.theorem import CheckReport, ConditionStatus
from studies import cli
from studies.cli import main
from studies.runner import local_executor


def _strict_json(text: str):
    """json.loads that refuses the non-standard NaN / Infinity tokens."""
    def bad(token):
        raise ValueError(f"non-standard JSON token {token}")
    return json.loads(text, parse_constant=bad)


# --- bounds ---------------------------------------------------------------------------------------
def test_outer_bound_with_negative_base_is_the_real_power_not_nan():
    """(1 - eta lam H)^S with eta lam H > 1 is a real number for integer S; log1p-based evaluation
    gave NaN (and NaN in check --json). eta lam H = 2 here: (1 - 2)^S = (-1)^S."""
    thm = bounds.get("thm3.4.2")
    got = thm.bound(T=np.array([1, 2, 3]), eta=0.02, lam=1.0, H=100)
    np.testing.assert_array_equal(got, [-1.0, 1.0, -1.0])
    # the accurate path near 1 is kept: (1 - 1e-10)^5 to full precision
    assert thm.bound(5, eta=1e-10, lam=1.0, H=1) == pytest.approx(math.exp(5 * math.log1p(-1e-10)), rel=1e-15)


def test_check_json_has_no_nan_or_infinity_tokens(capsys):
    """`delaylab check ... --json` must be strict JSON: a value with no meaning is null, not NaN."""
    argv = ["check", "thm3.4.2", "--L", "1", "--lam", "1", "--n", "100", "--H", "100", "--tau", "0",
            "--eta", "0.02", "--S", "3", "--eps", "1e-3", "--C0", "1", "--json"]
    assert main(argv) == 0
    d = _strict_json(capsys.readouterr().out)
    assert d["bound"] is None and d["bound_withheld"] == "condition violated: step_size"   # not -1.0 (issue 8)
    assert d["quantities"]["outer_iterations"] is None   # log of a negative number: no value


def test_check_report_to_dict_maps_non_finite_to_none():
    rep = CheckReport(key="k", title="t", metric="m", params=(("eta", 1.0),),
                      conditions=(ConditionStatus("c", "(1)", "s", "r", False, math.nan),),
                      step_name="eta", max_step=math.inf, bound=math.nan, quantities=(("q", -math.inf),))
    d = rep.to_dict()
    _strict_json(json.dumps(d))  # json.dumps would otherwise write NaN / Infinity
    assert d["max_step"] is None and d["bound"] is None and d["quantities"]["q"] is None
    assert d["conditions"][0]["margin"] is None and d["conditions"][0]["status"] == "violated"


def test_every_theorem_check_json_is_strict_at_edge_values():
    """tau = 0, S = 0 and steps far outside the condition: recurrences break down (NaN), never the JSON."""
    for thm in bounds.all():
        params = {}
        for s in thm.symbols:
            lo, inc = s._lower()
            if s.is_integer:
                params[s.name] = max(0.0, lo if inc else lo + 1)
            else:
                v = 2.0 if s.upper is None or s.upper > 2.0 else s.upper / 2
                params[s.name] = v if not math.isfinite(lo) or v > lo else lo + 0.5
        if thm.ARRAY_PARAMS:  # hand-given layer aggregates must be consistent (issue 8): pass the arrays
            for k in ("K", "Linv_sum", "L_min", "L_max", "M_max", "R_max", "MLinv_sum"):
                params.pop(k, None)
            params.update(L=[2.0], Mk=[2.0])
        _strict_json(json.dumps(thm.check(**params).to_dict(), allow_nan=False))


def test_bound_rejects_T_and_the_iteration_symbol_together():
    """bound(3, S=2) silently used S = 3; keyword T plus S was already an error."""
    thm = bounds.get("thm3.4.2")
    with pytest.raises(ValueError, match="give T or S, not both"):
        thm.bound(3, S=2, eta=1e-3, lam=1.0, H=1)


def test_shape_mismatch_names_the_parameters():
    thm = bounds.get("thm3.4.1")
    with pytest.raises(ValueError, match=r"thm3\.4\.1: .*broadcast.*H \(3,\), tau \(2,\)"):
        thm.max_step(L=1, lam=0.1, n=100, H=np.array([1, 2, 3]), tau=np.array([1, 2]))


# --- studies: CLI -----------------------------------------------------------------------------------
@pytest.mark.parametrize("sub", [["study", "run", "ch3-gap", "--quick"], ["demo", "--size", "tiny"]])
def test_out_that_is_a_file_is_one_line_exit_2(sub, tmp_path, capsys):
    """--out naming a file (or a path below one) raised FileExistsError / NotADirectoryError."""
    f = tmp_path / "afile"
    f.write_text("x")
    for out in (f, f / "below"):
        assert main(sub + ["--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("delaylab: error: --out") and str(out) in err


def test_interrupt_is_one_line_exit_130(monkeypatch, tmp_path, capsys):
    def interrupted(*a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr(cli, "run_study", interrupted)
    assert main(["study", "run", "ch3-gap", "--quick", "--out", str(tmp_path)]) == 130
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "resume" in err


# --- studies: runner ---------------------------------------------------------------------------------
def _mark_and_sleep(path: str) -> str:
    with open(path, "w") as fh:
        fh.write("ran")
    time.sleep(0.05)
    return path


def test_pool_executor_starts_no_queued_run_after_an_interrupt(tmp_path):
    """Ctrl-C during a --jobs 2 sweep used to wait for (and run) every submitted run."""
    runs = [str(tmp_path / f"r{i}") for i in range(40)]

    def on_done(_):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        local_executor(2)(runs, _mark_and_sleep, on_done)
    ran = sum(os.path.exists(r) for r in runs)
    assert 1 <= ran <= 10, ran


@pytest.mark.parametrize("kw, needle", [({"seeds": 0}, "seeds"), ({"seeds": 2.5}, "seeds"),
                                        ({"workers": (0,)}, "workers")])
def test_bound_study_validates_seeds_and_workers(kw, needle, tmp_path):
    """run_study('ch3-bound', seeds=0) silently ran no contraction run at all (and seeds=2.5 ran 2):
    the bound driver must validate like expand() does for ordinary studies."""
    from studies import run_study

    with pytest.raises(ValueError, match=rf"run_study\.{needle} must be an integer >= 1"):
        run_study("ch3-bound", quick=True, out=tmp_path, progress=False, **kw)


@pytest.mark.parametrize("text", ['{"name": "x", "title": "t", "thesis_ref": "r", "claim": "c", '
                                  '"target": {"metric": "m", "value": 0.5}, "bogus": 1}',
                                  '{"name": "x"}', "[1]"])
def test_report_of_a_foreign_study_json_is_one_line_exit_2(text, tmp_path, capsys):
    """A study.json not written by run_study raised a TypeError traceback (or printed just 'target')."""
    (tmp_path / "study.json").write_text(text)
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "study.json" in err and "written by run_study" in err


def test_report_names_an_unreadable_result_json(tmp_path, capsys):
    from studies.results import StudyInfo
    from studies.spec import Target

    info = StudyInfo(name="x", title="t", thesis_ref="r", claim="c", target=Target("m", 0.5))
    (tmp_path / "study.json").write_text(json.dumps(info.to_json()))
    (tmp_path / "runs" / "r1").mkdir(parents=True)
    (tmp_path / "runs" / "r1" / "result.json").write_text('{"run_id": "r1", "params": {}, "status": "finished", '
                                                          '"unknown_field": 1}')
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "result.json" in err


def test_report_reads_the_latest_sweep_not_runs_left_by_another_size(tmp_path):
    """`study run X --quick --out D` then `study run X --out D` left the quick runs in D/runs, and
    `delaylab report D` (load_results(D)) mixed both sizes into one median per dataset/K/algorithm."""
    from dataclasses import replace

    from studies import run_study
    from studies.registry import get_study
    from studies.results import RunResult, atomic_write_text, load_results
    from studies.runner import run_dir
    from studies.spec import DatasetSpec

    def fake(runs, fn, on_done):  # the executor seam: write a finished run without simulating
        out = []
        for r in runs:
            res = RunResult(run_id=r.run_id, params=dict(r.params), status="finished", label=r.algorithm.label)
            d = run_dir(tmp_path, r.run_id)
            d.mkdir(parents=True, exist_ok=True)
            atomic_write_text(d / "records.csv", "step,sim_time,epoch,metric,value\n0,0,0,duality_gap,1\n")
            atomic_write_text(d / "result.json", json.dumps(res.to_json()))
            on_done(res)
            out.append(res)
        return out

    spec = get_study("ch3-gap")
    small = replace(spec, test_parameters={"dataset": (DatasetSpec("ijcnn1", K=2, scale=0.05),)})
    large = replace(spec, test_parameters={"dataset": (DatasetSpec("ijcnn1", K=2, scale=0.1),)})
    run_study(small, quick=True, out=tmp_path, seeds=1, executor=fake, progress=False)
    res = run_study(large, quick=True, out=tmp_path, seeds=1, executor=fake, progress=False)
    again = load_results(tmp_path)
    assert [r.run_id for r in again.runs] == [r.run_id for r in res.runs]
    assert len(list((tmp_path / "runs").iterdir())) == 2 * len(res.runs)  # nothing deleted
