"""Dask executor (issue 8, item 5): a sweep's runs as Dask tasks on a LocalCluster, the same files and
resume as the local pool; a run whose worker dies is retried once, then recorded as failed; without Dask,
--scheduler is a one-line error and importing delaylab works."""
from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from studies import run_study
from studies.results import RunResult
from studies.spec import AlgorithmSpec, BudgetSpec, ClusterSpec, DatasetSpec, StudySpec, Target

ROOT = Path(__file__).resolve().parents[1]


def _spec() -> StudySpec:
    return StudySpec(name="dasky", title="t", thesis_ref="Fig. 6", claim="c", problem="ridge", lam=0.1,
                     datasets=(DatasetSpec("ijcnn1", K=2, scale=0.02),),
                     algorithms=(AlgorithmSpec("dis-dfsdca", "A", {"eta": 1e-3, "H": 50, "T": "4*K"}),
                                 AlgorithmSpec("cocoa+", "B", {"H": 50})),
                     cluster=ClusterSpec(latency=1e-5), budget=BudgetSpec(max_epochs=1.0),
                     target=Target("duality_gap", 1e-4, relative=True))


def test_without_dask_scheduler_is_one_line_and_nothing_imports_dask_at_top_level(tmp_path, monkeypatch, capsys):
    import ast

    from studies.cli import main

    for pkg in ("studies", "algorithms", "sim", "bounds"):  # importing delaylab must not need Dask
        for f in (ROOT / pkg).rglob("*.py"):
            for node in ast.parse(f.read_text()).body:  # module level only; imports inside functions are lazy
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                    [node.module or ""] if isinstance(node, ast.ImportFrom) else []
                assert not any(n.split(".")[0] in ("dask", "distributed") for n in names), f
    monkeypatch.setitem(sys.modules, "distributed", None)  # `import distributed` now raises ImportError
    monkeypatch.setitem(sys.modules, "dask", None)
    assert main(["study", "run", "ch3-gap", "--quick", "--scheduler", "local", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--scheduler needs Dask" in err and "pip install -e '.[dask]'" in err
    assert not (tmp_path / "runs").exists()


distributed = pytest.importorskip("distributed")


def test_local_cluster_runs_the_sweep_with_the_same_files_and_resume(tmp_path):
    from studies.executors import dask_executor

    local = run_study(_spec(), out=tmp_path / "local", progress=False)
    res = run_study(_spec(), out=tmp_path / "dask", executor=dask_executor("local", processes=False), progress=False)
    assert sorted(r.run_id for r in res.runs) == sorted(r.run_id for r in local.runs)
    for r in res.runs:
        d = tmp_path / "dask" / "runs" / r.run_id
        assert sorted(p.name for p in d.iterdir()) == ["records.csv", "result.json", "trace.npz"]
    # same seeds, one BLAS thread: bit-identical records to the local sweep
    pd.testing.assert_frame_equal(res.to_frame().sort_values(["run_id", "step", "metric"]).reset_index(drop=True),
                                  local.to_frame().sort_values(["run_id", "step", "metric"]).reset_index(drop=True))
    again = run_study(_spec(), out=tmp_path / "dask", executor=dask_executor("local", processes=False), progress=False)
    assert again.skipped == 2


def _dies(task, marker_dir: str, always: bool) -> RunResult:
    """Kills its worker process the first time it runs a task (or every time), else finishes."""
    marker = Path(marker_dir) / f"{task.run_id}.died"
    if always or not marker.exists():
        marker.write_text("x")
        os._exit(1)
    return RunResult(run_id=task.run_id, params=dict(task.params), status="finished", label=task.algorithm.label)


def test_a_run_whose_worker_dies_is_retried_once_then_recorded_failed(tmp_path):
    import cloudpickle
    import dask

    from studies import executors
    from studies.plan import expand
    from studies.runner import execute_task

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import this test module
    (task,) = expand(_spec())[:1]
    # allowed-failures 0 as dask_executor("local") sets it; three workers, so a retry never waits for a
    # killed worker's restart
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        cluster = distributed.LocalCluster(n_workers=3, threads_per_worker=1, processes=True, dashboard_address=None)
    client = distributed.Client(cluster)
    try:
        ex = executors.dask_executor(client)
        done = []
        (ok,) = ex([task], functools.partial(_dies, marker_dir=str(tmp_path), always=False), done.append)
        assert ok.status == "finished" and done == [ok]  # its worker died once; the retry finished
        # always dies: recorded as failed after two attempts
        (bad,) = ex([task], functools.partial(_dies, marker_dir=str(tmp_path), always=True), done.append)
        assert bad.status == "failed" and "KilledWorker" in bad.error and "after 2 attempts" in bad.error
    finally:
        client.close()
        cluster.close()
    # with the runner's execute_task the failed result is written where the run's files go
    out = tmp_path / "out"
    rec = executors.record_lost(functools.partial(execute_task, out=str(out), setup={"study": "dasky"}), task,
                                bad.error)
    doc = json.loads((out / "runs" / task.run_id / "result.json").read_text())
    assert doc["status"] == "failed" and doc["info"]["setup"] == {"study": "dasky"} and doc["error"] == rec.error
