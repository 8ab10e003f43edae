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


def test_ctrl_c_with_two_jobs_stops_at_once_exits_130_and_a_rerun_resumes(tmp_path):
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
    # a re-run resumes: it executes the six runs without a result, not the two finished ones
    q = _child(tmp_path, out, 8, 0.0, logname="log2.txt")
    _, qerr = q.communicate(timeout=120)
    assert q.returncode == 0, qerr
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
