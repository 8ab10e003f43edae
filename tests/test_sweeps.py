"""Sweeps (issue 8): two processes sweeping into one --out share the work (per-run locks); Ctrl-C with
--jobs 2 stops queued and running runs at once, exits 130 and a re-run resumes; a DataFormatError never
quotes a whole damaged line."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from algorithms.datasets import DataFormatError, load_libsvm
from studies.runner import RunLock

ROOT = Path(__file__).resolve().parents[1]

# A child process: a tiny study of N runs, each of which logs its id and (but the first two) sleeps SLEEP s
# (one O_APPEND line per execution), so a test can count executions across processes.
CHILD = textwrap.dedent("""
    import os, sys, time
    from studies import runner
    from studies.spec import AlgorithmSpec, BudgetSpec, ClusterSpec, DatasetSpec, StudySpec, Target

    out, log, n, sleep, how = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
    inner = runner.TASK_KINDS["run"]

    def logged(task, rdir, t0):
        with open(log, "a") as fh:
            fh.write(task.run_id + "\\n")
        if task.algorithm.hyper["H"] >= 22:  # the first two runs are quick
            time.sleep(sleep)
        return inner(task, rdir, t0)

    runner.TASK_KINDS["run"] = logged
    algs = tuple(AlgorithmSpec("cocoa+", f"B{h}", {"H": h}) for h in range(20, 20 + n))
    spec = StudySpec(name="sweep", title="sweep", thesis_ref="Fig. 6", claim="c", problem="ridge", lam=0.1,
                     datasets=(DatasetSpec("ijcnn1", K=2, scale=0.02),), algorithms=algs,
                     cluster=ClusterSpec(latency=1e-5), budget=BudgetSpec(max_epochs=1.0),
                     target=Target("duality_gap", 1e-4, relative=True))
    if how == "cli":
        from studies.cli import main
        from studies.registry import register
        register(spec)
        sys.exit(main(["study", "run", "sweep", "--out", out, "--jobs", "2"]))
    runner.run_study(spec, out=out, progress=False)
""")


def _child(tmp_path, out, n, sleep, how="api", logname="log.txt", **kw):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", CHILD, str(out), str(tmp_path / logname), str(n), str(sleep), how],
                            env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def test_two_processes_into_one_out_run_each_run_once(tmp_path):
    out = tmp_path / "out"
    procs = [_child(tmp_path, out, 5, 0.5) for _ in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    executed = (tmp_path / "log.txt").read_text().split()
    assert len(executed) == 5 and len(set(executed)) == 5  # without locks both processes run the slow ones
    from studies.results import load_results

    res = load_results(out)
    assert len(res.runs) == 5 and all(r.status in ("finished", "target_reached") for r in res.runs)


def test_run_lock_excludes_another_holder_and_is_freed_by_its_death(tmp_path):
    first = RunLock(tmp_path, "s[a=1]")
    assert first.acquire(wait=False)
    assert not RunLock(tmp_path, "s[a=1]").acquire(wait=False)  # another open file description: excluded
    assert RunLock(tmp_path, "s[a=2]").acquire(wait=False)  # other runs are free
    got = []
    waiter = threading.Thread(target=lambda: got.append(RunLock(tmp_path, "s[a=1]").acquire()))
    waiter.start()
    time.sleep(0.2)
    assert got == []  # still waiting
    first.release()
    waiter.join(timeout=10)
    assert got == [True]
    # a holder that dies (kill -9, a crashed worker) leaves its lock file but not its lock: never stale
    code = f"from studies.runner import RunLock; import os; RunLock({str(tmp_path)!r}, 's[b=1]').acquire(); os._exit(0)"
    subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True)
    assert (tmp_path / ".locks" / "s[b=1].lock").read_text().split()[1].isdigit()
    assert RunLock(tmp_path, "s[b=1]").acquire(wait=False)


def test_ctrl_c_with_two_jobs_stops_at_once_exits_130_and_a_rerun_resumes(tmp_path, monkeypatch):
    out = tmp_path / "out"
    p = _child(tmp_path, out, 8, 3.0, how="cli", start_new_session=True)
    log = tmp_path / "log.txt"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and not (log.exists() and len(log.read_text().split()) >= 4):
        time.sleep(0.05)
    time.sleep(0.5)  # two quick runs are done, both jobs are inside a 3-second run, four runs are queued
    os.killpg(p.pid, signal.SIGINT)  # Ctrl-C reaches the whole foreground process group
    _, err = p.communicate(timeout=30)
    assert p.returncode == 130, err
    last = err.strip().splitlines()[-1]
    assert "interrupted" in last and "again to resume" in last and "Traceback" not in err
    started = log.read_text().split()
    assert len(started) == 4  # no queued run was started after Ctrl-C
    done = sorted(d.name for d in (out / "runs").iterdir() if (d / "result.json").exists())
    assert len(done) == 2  # the quick ones; the two running runs were stopped, not finished (2 s to go)
    with pytest.raises(ProcessLookupError):  # no worker process is left behind
        for _ in range(50):
            os.killpg(p.pid, 0)
            time.sleep(0.1)
    # a re-run (here in-process, the child's code without its sleeps) resumes: it executes the six runs
    # without a result, not the two finished ones
    import runpy

    from studies import runner

    monkeypatch.setattr(runner, "TASK_KINDS", dict(runner.TASK_KINDS))  # the child's code patches it
    monkeypatch.setattr(sys, "argv", ["child", str(out), str(tmp_path / "log2.txt"), "8", "0", "api"])
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    runpy.run_path(str(script))
    rerun = (tmp_path / "log2.txt").read_text().split()
    assert len(rerun) == 6 and not set(rerun) & set(done)


def test_data_format_error_quotes_at_most_80_characters_of_a_binary_line(tmp_path):
    blob = tmp_path / "images.bin"
    blob.write_bytes(b"\x89PNG" + bytes(range(14, 35)) * 100_000)  # ~2 MB, no line end, no '#'
    with pytest.raises(DataFormatError) as ei:
        load_libsvm(blob)
    msg = str(ei.value)
    assert msg.startswith(f"{blob}:1: label") and "…" in msg
    # two quotes (the label token, the line) of at most 80 characters each, escapes at 4 each
    assert len(msg) < len(str(blob)) + 2 * (4 * 80 + 3) + 60, len(msg)


def test_data_format_error_keeps_short_lines_whole(tmp_path):
    f = tmp_path / "bad.txt"
    f.write_text("+1 1:0.5\n-1 2:abc 3:1\n")
    with pytest.raises(DataFormatError, match=r"bad\.txt:2: feature value 'abc' is not a number in '-1 2:abc 3:1'$"):
        load_libsvm(f)
    assert json.dumps(str(f))  # the path is the whole path


# --- --set KEY=VALUE ------------------------------------------------------------------------------------
def _set_spec():
    from studies.spec import AlgorithmSpec, BudgetSpec, ClusterSpec, DatasetSpec, StudySpec, Target, Tune

    return StudySpec(name="setme", title="t", thesis_ref="Fig. 6", claim="c", problem="ridge", lam=0.1,
                     datasets=(DatasetSpec("ijcnn1", K=2, scale=0.02, values={"C": 1.0}),),
                     algorithms=(AlgorithmSpec("dis-dfsdca", "A", {"eta": Tune((1.0, 0.1, 0.001)), "H": 50, "T": "4*K"}),
                                 AlgorithmSpec("cocoa+", "B", {"H": 50})),
                     cluster=ClusterSpec(latency=1e-5), budget=BudgetSpec(max_epochs=1.0),
                     target=Target("duality_gap", 1e-4, relative=True), test_parameters={"max_epochs": (2,)})


@pytest.mark.parametrize("text, want", [("eta=[1e-4, 2e-4]", ("eta", [1e-4, 2e-4])), ("seeds=3", ("seeds", 3)),
                                        ("a.H = 30", ("a.H", 30)), ("T=4*K", ("T", "4*K")), ("x=(1,2)", ("x", [1, 2])),
                                        ("s='abc'", ("s", "abc"))])
def test_set_values_are_literals(text, want):
    from studies.overrides import parse_assignment

    assert parse_assignment(text) == want


@pytest.mark.parametrize("text", ["eta", "=3", "x=__import__('os').system('true')", "x=open('f')", "x="])
def test_set_refuses_what_is_not_a_literal(text):
    from studies.overrides import parse_assignment

    with pytest.raises(ValueError, match="--set"):
        parse_assignment(text)


def test_overrides_change_exactly_what_they_name():
    from studies.hyper import Sweep, Tune
    from studies.spec import AlgorithmSpec, StudySpec
    from studies.overrides import apply_overrides
    from studies.plan import expand

    spec = _set_spec()
    new = apply_overrides(spec, {"eta": [2e-4, 1e-4], "b.H": 30, "scale": 0.01, "seeds": 2, "max_epochs": 3,
                                 "C": 0.5, "K": [1, 2], "target": 1e-3})
    a, b = new.algorithms
    assert a.hyper["eta"] == Tune((2e-4, 1e-4)) and a.hyper["H"] == 50 and b.hyper["H"] == 30
    assert new.datasets[0].scale == 0.01 and new.datasets[0].values == {"C": 0.5} and new.seeds == 2
    assert new.budget.max_epochs == 3 and "max_epochs" not in new.test_parameters and new.target.value == 1e-3
    tasks = expand(new, quick=True)
    assert sorted({t.K for t in tasks}) == [1, 2] and len(tasks) == 2 * 2 * 2
    swept = apply_overrides(spec, {"H": [20, 40]})  # a fixed value given a list becomes a sweep
    assert all(al.hyper["H"] == Sweep((20, 40)) for al in swept.algorithms)
    assert apply_overrides(spec, {}) is spec
    dotted = StudySpec(**{**spec.__dict__, "algorithms": (spec.algorithms[0], AlgorithmSpec("cocoa+", "B 0.5", {"H": 50}))})
    assert apply_overrides(dotted, {"b-0.5.H": 7}).algorithms[1].hyper["H"] == 7  # an algorithm key with a dot
    with pytest.raises(ValueError, match=r"unknown key .bogus. for study .setme.; allowed: .*eta"):
        apply_overrides(spec, {"bogus": 1})
    with pytest.raises(ValueError, match="--set seeds must be an integer >= 1, got 0"):
        apply_overrides(spec, {"seeds": 0})


def test_set_on_the_cli_is_recorded_and_resume_refuses_other_overrides(tmp_path, capsys, monkeypatch):
    from studies import registry
    from studies.cli import main

    registry._ensure_builtin()
    monkeypatch.setitem(registry._STUDIES, "setme", _set_spec())
    out = str(tmp_path / "o")
    assert main(["study", "run", "setme", "--quick", "--set", "b.H=30", "--set", "eta=[0.001]", "--out", out]) == 0
    info = json.loads((tmp_path / "o" / "study.json").read_text())
    assert info["setup"] == {"overrides": {"b.H": 30, "eta": [0.001]}}
    runs = {json.loads(p.read_text())["label"]: json.loads(p.read_text()) for p in (tmp_path / "o").glob("runs/*/result.json")}
    assert runs["B"]["hyper"]["H"] == 30 and runs["A"]["hyper"]["eta"] == 0.001
    capsys.readouterr()
    assert main(["study", "run", "setme", "--quick", "--set", "b.H=30", "--set", "eta=[0.001]", "--out", out]) == 0
    assert "2 runs (2 resumed)" in capsys.readouterr().out
    assert main(["study", "run", "setme", "--quick", "--set", "b.H=40", "--out", out]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "use another --out" in err and '"b.H": 30' in err
    assert main(["study", "run", "setme", "--quick", "--set", "nope=1", "--out", str(tmp_path / "p")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown key 'nope'" in err and "allowed: " in err and "b.H" in err


def test_uncontended_lock_leaves_resume_false_rerunning_every_run(tmp_path, monkeypatch):
    """The lock only short-cuts a run another process executed while this one waited; resume=False still
    executes every run again."""
    from studies import runner

    spec = _set_spec()
    calls = []
    inner = runner.TASK_KINDS["run"]
    monkeypatch.setitem(runner.TASK_KINDS, "run", lambda task, rdir, t0: calls.append(task.run_id) or inner(task, rdir, t0))
    runner.run_study(spec, quick=True, out=tmp_path, progress=False)
    runner.run_study(spec, quick=True, out=tmp_path, progress=False)
    assert len(calls) == 2  # resumed: nothing ran again
    runner.run_study(spec, quick=True, out=tmp_path, progress=False, resume=False)
    assert len(calls) == 4


def test_execute_task_does_not_run_again_a_run_another_sweep_finished(tmp_path, monkeypatch):
    """Two sweeps into one --out: one lists a run as pending, the other finishes it before the first takes
    its (now free) lock; the first must take that result, not execute and rewrite it. A deliberate
    re-run (resume=False) still executes it."""
    from studies import runner
    from studies.plan import expand

    calls = []
    inner = runner.TASK_KINDS["run"]
    monkeypatch.setitem(runner.TASK_KINDS, "run", lambda task, rdir, t0: calls.append(task.run_id) or inner(task, rdir, t0))
    task = expand(_set_spec(), quick=True)[-1]
    setup = {"study": "setme"}
    first = runner.execute_task(task, tmp_path, setup)
    path = tmp_path / "runs" / task.run_id / "result.json"
    before = path.stat()
    second = runner.execute_task(task, tmp_path, setup)  # the other sweep's pending list still had it
    assert calls == [task.run_id] and second == first
    assert (path.stat().st_ino, path.stat().st_mtime_ns) == (before.st_ino, before.st_mtime_ns)  # not rewritten
    runner.execute_task(task, tmp_path, {"study": "setme", "overrides": {"H": 3}})  # another setup: runs
    assert len(calls) == 2
    runner.execute_task(task, tmp_path, {"study": "setme", "overrides": {"H": 3}}, resume=False)  # a re-run
    assert len(calls) == 3


def test_set_expression_names_are_checked_up_front(tmp_path, capsys, monkeypatch):
    """``--set eta=abc`` is one error before anything runs (not a sweep of runs failing on "unknown name"),
    and a refused --set leaves no --out directory behind."""
    from studies import registry
    from studies.cli import main
    from studies.overrides import apply_overrides

    spec = _set_spec()
    assert apply_overrides(spec, {"T": "max(1, n // H)", "max_updates": "10*K"}).budget.max_updates == "10*K"
    with pytest.raises(ValueError, match=r"--set a\.T: expression '4\*Q' uses unknown name 'Q'; it may use .*n_k"):
        apply_overrides(spec, {"a.T": "4*Q"})
    with pytest.raises(ValueError, match=r"--set eta: expression 'x' uses unknown name 'x'"):
        apply_overrides(spec, {"eta": ["0.1/L", "x"]})
    with pytest.raises(ValueError, match=r"--set max_updates: expression 'zz' uses unknown name 'zz'"):
        apply_overrides(spec, {"max_updates": "zz"})
    registry._ensure_builtin()
    monkeypatch.setitem(registry._STUDIES, "setme", spec)
    for bad, needle in (("eta=abc", "unknown name 'abc'"), ("bogus=1", "unknown key 'bogus'")):
        out = tmp_path / bad.split("=")[0] / "deeper" / "out"
        assert main(["study", "run", "setme", "--quick", "--set", bad, "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and needle in err and "Traceback" not in err
        assert not (tmp_path / bad.split("=")[0]).exists()  # nothing this invocation created is left
    kept = tmp_path / "kept"
    kept.mkdir()
    assert main(["study", "run", "setme", "--quick", "--set", "bogus=1", "--out", str(kept)]) == 2
    assert kept.is_dir()  # a directory that was there before stays
