"""Runner: atomic per-run files, resume, failed and diverged runs, the eta pilot rule, reproducibility."""
from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest

from studies import run_study
from studies.results import atomic_write_text, load_results
from studies.runner import local_executor
from studies.spec import AlgorithmSpec, BudgetSpec, Claim, ClusterSpec, DatasetSpec, StudySpec, Target, Tune

DATA = DatasetSpec("ijcnn1", K=2, scale=0.02)  # ~1000 x 22, n_k ~ 500
CLUSTER = ClusterSpec(latency=1e-5)


def _spec(algorithms, name="toy", seeds=1, max_epochs=4.0, target=Target("duality_gap", 1e-4, relative=True)):
    return StudySpec(name=name, title="toy", thesis_ref="Fig. 6", claim="A is faster than B.", problem="ridge",
                     lam=0.1, datasets=(DATA,), algorithms=tuple(algorithms), cluster=CLUSTER,
                     budget=BudgetSpec(max_epochs=max_epochs), target=target, seeds=seeds,
                     claims=(Claim("A is faster than B", kind="faster", subject="a", baseline="b"),))


A = AlgorithmSpec("dis-dfsdca", "A", {"eta": 1e-3, "H": 50, "T": "4*K"})
B = AlgorithmSpec("cocoa+", "B", {"H": 50})


class CountingExecutor:
    """The executor seam, in-process, counting the runs it is asked to execute."""

    def __init__(self):
        self.calls = []

    def __call__(self, runs, fn, on_done):
        out = []
        for r in runs:
            self.calls.append(r.run_id)
            res = fn(r)
            on_done(res)
            out.append(res)
        return out


def test_files_written_atomically_and_complete(tmp_path):
    res = run_study(_spec([A, B]), out=tmp_path, progress=False)
    assert len(res.runs) == 2
    from sim.trace import Trace

    for r in res.runs:
        d = tmp_path / "runs" / r.run_id
        assert sorted(p.name for p in d.iterdir()) == ["records.csv", "result.json", "trace.npz"]
        doc = json.loads((d / "result.json").read_text())
        assert doc["status"] == r.status and doc["run_id"] == r.run_id
        rec = pd.read_csv(d / "records.csv")
        assert list(rec.columns) == ["step", "sim_time", "epoch", "metric", "value"]
        assert np.all(np.diff(rec.loc[rec.metric == "duality_gap", "sim_time"]) >= 0)
        tr = Trace.load(d / "trace.npz")
        assert tr.K == 2
    frame = res.to_frame()
    assert list(frame.columns) == ["run_id", "study", "algorithm", "dataset", "K", "seed", "step", "sim_time",
                                   "epoch", "metric", "value"]
    assert set(frame["algorithm"]) == {"a", "b"}


def test_atomic_write_keeps_old_file_when_write_fails(tmp_path, monkeypatch):
    p = tmp_path / "result.json"
    atomic_write_text(p, "old")

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_text(p, "new")
    assert p.read_text() == "old"
    assert [q.name for q in tmp_path.iterdir()] == ["result.json"]  # no temporary left behind


def test_resume_skips_finished_runs(tmp_path):
    spec = _spec([A, B], seeds=2)
    ex1 = CountingExecutor()
    first = run_study(spec, out=tmp_path, executor=ex1, progress=False)
    assert len(ex1.calls) == 4 and first.skipped == 0
    ex2 = CountingExecutor()
    again = run_study(spec, out=tmp_path, executor=ex2, progress=False)
    assert ex2.calls == [] and again.skipped == 4
    victim = first.runs[1].run_id
    (tmp_path / "runs" / victim / "result.json").unlink()  # as if killed before the final rename
    ex3 = CountingExecutor()
    third = run_study(spec, out=tmp_path, executor=ex3, progress=False)
    assert ex3.calls == [victim] and third.skipped == 3
    pd.testing.assert_frame_equal(first.to_frame(), third.to_frame())  # same seed: bit-identical records


def test_failing_run_is_recorded_and_sweep_continues(tmp_path):
    bad = AlgorithmSpec("dis-dfsdca", "A huge H", {"eta": 1e-3, "H": 10_000, "T": "4*K"})  # H > n_k raises
    spec = _spec([bad, B])
    spec = StudySpec(**{**spec.__dict__, "claims": ()})
    res = run_study(spec, out=tmp_path, progress=False)
    by = {r.label: r for r in res.runs}
    assert by["A huge H"].status == "failed"
    assert "H must be" in by["A huge H"].error and "ValueError" in by["A huge H"].error
    assert by["B"].status in ("finished", "target_reached")
    # a failed run is retried on resume, a finished one is not
    ex = CountingExecutor()
    run_study(spec, out=tmp_path, executor=ex, progress=False)
    assert ex.calls == [by["A huge H"].run_id]


def test_diverging_run_recorded_with_its_step(tmp_path):
    wild = AlgorithmSpec("dis-dfsdca", "A wild", {"eta": 10.0, "H": 50, "T": "4*K"})
    spec = _spec([wild, B])
    spec = StudySpec(**{**spec.__dict__, "claims": ()})
    res = run_study(spec, out=tmp_path, progress=False)
    r = next(r for r in res.runs if r.label == "A wild")
    assert r.status == "diverged"
    assert isinstance(r.diverged_at, int) and 0 <= r.diverged_at <= r.step
    again = load_results(tmp_path)
    assert next(x for x in again.runs if x.label == "A wild").diverged_at == r.diverged_at


def test_pilot_rule_picks_largest_non_diverging_eta(tmp_path):
    grid = (1.0, 0.1, 0.001)
    chooser = AlgorithmSpec("dis-dfsdca", "A grid", {"eta": Tune(grid), "H": 50, "T": "4*K"})
    spec = StudySpec(**{**_spec([chooser, B]).__dict__, "claims": ()})
    res = run_study(spec, out=tmp_path / "grid", progress=False)
    run = next(r for r in res.runs if r.label == "A grid")
    eta = run.hyper["eta"]
    assert eta in grid and "pilot rule" in run.info["hyper_rule"]
    assert run.status in ("finished", "target_reached")
    # independent check: each larger grid value, run as a fixed eta, diverges
    larger = [e for e in grid if e > eta]
    assert larger, "with lam n = 100 the two largest values must be rejected"
    fixed = [AlgorithmSpec("dis-dfsdca", f"A {e:g}", {"eta": e, "H": 50, "T": "4*K"}) for e in larger]
    chk = run_study(StudySpec(**{**_spec(fixed + [B]).__dict__, "claims": ()}), out=tmp_path / "chk",
                    progress=False)
    assert all(r.status == "diverged" for r in chk.runs if r.label.startswith("A "))


def test_process_pool_gives_identical_results(tmp_path):
    spec = _spec([A, B])
    one = run_study(spec, out=tmp_path / "one", jobs=1, progress=False)
    two = run_study(spec, out=tmp_path / "two", jobs=2, progress=False)
    pd.testing.assert_frame_equal(one.to_frame(), two.to_frame())
    with pytest.raises(ValueError, match="jobs must be an integer >= 1"):
        local_executor(0)


def test_summary_time_to_target_matches_records(tmp_path):
    res = run_study(_spec([A, B], max_epochs=30), out=tmp_path, progress=False)
    tab = res.summary()
    frame = res.to_frame()
    for r in res.runs:
        if r.status != "target_reached":
            continue
        tv = r.info["target_value"]
        g = frame[(frame.run_id == r.run_id) & (frame.metric == "duality_gap")].sort_values("step")
        j = int(np.flatnonzero(g["value"].to_numpy() <= tv)[0])
        t_hit, t_before = g["sim_time"].iloc[j], g["sim_time"].iloc[j - 1]
        t = tab.loc[tab.algorithm == r.params["algorithm"], "time_to_target"].iloc[0]
        assert t_before <= t <= t_hit  # interpolated between the two records that bracket the target
        # the simulator stops at the first record below the target
        assert r.sim_time == pytest.approx(t_hit)


def test_progress_bar_eta_and_quiet_mode():
    import io

    from studies.progress import ProgressBar, make_progress

    now = [100.0]
    buf = io.StringIO()  # not a TTY: quiet until the final line
    bar = ProgressBar(buf, clock=lambda: now[0])
    bar.start(5, skipped=1)
    now[0] += 10.0
    bar.update("r1")
    now[0] += 10.0
    bar.update("r2")
    assert buf.getvalue() == ""
    assert bar.eta() == pytest.approx(20.0)  # 10 s per run, 2 runs left (the skipped one cost nothing)
    assert "3/5 runs" in bar.line() and "eta 00:20" in bar.line()
    bar.close()
    assert buf.getvalue() == "3/5 runs done in 00:20 (1 skipped: already finished)\n"
    live = io.StringIO()
    b2 = ProgressBar(live, live=True, clock=lambda: 0.0)
    b2.start(2)
    b2.update("x")
    assert live.getvalue().count("\r") == 2 and "1/2 runs" in live.getvalue()
    seen = []
    cb = make_progress(lambda d, t, rid: seen.append((d, t, rid)))
    cb.start(2)
    cb.update("a")
    assert seen == [(0, 2, ""), (1, 2, "a")]
    with pytest.raises(ValueError, match="progress must be"):
        make_progress(42)


def test_run_study_with_callback_progress(tmp_path):
    seen = []
    res = run_study(_spec([A, B]), out=tmp_path, progress=lambda d, t, rid: seen.append((d, t)))
    assert seen[0] == (0, 2) and seen[-1] == (2, 2) and len(res.runs) == 2
