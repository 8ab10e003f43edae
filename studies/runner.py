"""The one runner: expand a study into tasks, execute each (in-process, a process pool, or any
executor), write its files atomically, resume, record failures, show progress.

A task of kind ``"run"``: dataset -> problem (``algorithms.registry.make_problem``) -> hyper-
parameters (expressions, :class:`~studies.spec.FromTheorem`, :class:`~studies.spec.Tune` pilots)
-> roles (``make_roles``, with the study's probes) -> cluster -> ``sim.simulate`` -> RunResult +
records + trace, written under ``OUT/runs/<run_id>/`` with ``result.json`` last. A task of kind
``"step-limit"`` searches the largest stable step (:mod:`studies.search`). Task kinds are a
registry (:data:`TASK_KINDS`). A re-run skips tasks whose result.json says finished /
target_reached / diverged (a failed task is retried). A task that raises is recorded as
``failed`` with its message and the sweep goes on.

Executors are a seam: ``executor(tasks, fn, on_done) -> list[RunResult]`` calls ``fn(task)`` for
every task (``fn`` is picklable) and ``on_done`` with each result as it finishes.
:func:`local_executor` is the in-process / process-pool one; a Dask executor plugs in with the
same signature. Nothing here names an algorithm, a dataset or a theorem: the study does.
"""
from __future__ import annotations

import functools
import json
import math
import os
import signal
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits  # installed with scikit-learn

from .bindings import Expr, RunFacts, describe_source, resolve
from .progress import make_progress
from .registry import get_study
from .results import (COMPLETE, RECORD_COLUMNS, RunResult, StalenessSummary, StudyInfo, atomic_write_text,
                      atomic_write_with, load_results, read_result, setup_of, write_manifest)
from .plan import derive_pilot_seed
from .spec import (BudgetSpec, ClusterSpec, FromTheorem, StudySpec, Task, Target, Tune, derive_seeds, describe_value,
                   eval_expression, expand)

Executor = Callable[[Sequence[Task], Callable[[Task], RunResult], Callable[[RunResult], None]], list]

# Per-process caches: a dataset or problem (whose solution() is expensive) is
# built once per process and shared by every task that uses it.
_DATASETS: dict[tuple, Any] = {}
_PROBLEMS: dict[tuple, Any] = {}
_PILOTS: dict[tuple, tuple[dict, str]] = {}


# --- problems, names, hyper-parameters -----------------------------------------------------
def get_dataset_of(task: Task):
    from algorithms.datasets import get_dataset

    key = (task.dataset.name, float(task.dataset.scale), task.data_seed, task.data_dir)
    if key not in _DATASETS:
        _DATASETS[key] = get_dataset(task.dataset.name, scale=task.dataset.scale, seed=task.data_seed,
                                     data_dir=task.data_dir)
    return _DATASETS[key]


def _values(task: Task) -> dict[str, float]:
    return {**task.values, **task.dataset.values}


def get_problem(task: Task):
    """The (cached) problem of a task: the registry's ``task.problem`` with lam and problem_kw
    (an :class:`~studies.bindings.Expr` value is evaluated with n, d and the named values)."""
    from algorithms.registry import make_problem

    data = get_dataset_of(task)
    names = {"n": data.n, "d": data.d, **_values(task)}
    kw: dict[str, Any] = {"lam": float(task.lam)}
    for k, v in task.problem_kw.items():
        kw[k] = eval_expression(v.text, names) if isinstance(v, Expr) else v
    pkey = (task.problem, task.dataset.name, float(task.dataset.scale), task.data_seed, task.data_dir,
            tuple(sorted((k, repr(v)) for k, v in kw.items())))
    if pkey not in _PROBLEMS:
        _PROBLEMS[pkey] = make_problem(task.problem, data, **kw)
    return _PROBLEMS[pkey]


def problem_constants(problem) -> dict[str, float | None]:
    """n, d, lam and the constants the problem knows (None where unknown), for bindings and info."""
    c = problem.constants()
    return {"n": int(problem.n), "d": int(problem.d), "lam": float(problem.lam), "L": c.L, "L_max": c.L_max,
            "mu": c.mu}


def task_names(task: Task, problem) -> dict[str, float]:
    """The names an expression of this task may use: n, K, d, n_k (smallest shard), lam, the
    problem's L and L_max where known, and the dataset's and study's values."""
    c = problem.constants()
    known = {k: float(v) for k, v in (("L", c.L), ("L_max", c.L_max)) if v is not None}
    return {"n": int(problem.n), "K": int(task.K), "d": int(problem.d), "n_k": int(problem.n) // int(task.K),
            "lam": float(problem.lam), **known, **_values(task)}


def concrete_hyper(hyper: dict, names: dict) -> dict:
    """Evaluate expression hyper-parameters (``T="8*K"``, ``m="n // batch"``, ``eta="0.25/(lam*n)"``).

    Integer-valued results (``*``, ``//`` of integers) stay integers (at least 1); others are floats.
    Tune and FromTheorem values are left for :func:`select_hyper`.
    """
    names = {**names, **{k: v for k, v in hyper.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}}
    out = {}
    for k, v in hyper.items():
        if isinstance(v, (str, Expr)):
            x = eval_expression(v if isinstance(v, str) else v.text, names)
            v = max(1, x) if isinstance(x, int) else float(x)
        out[k] = v
    return out


def theorem_step(ft: FromTheorem, problem, hyper: dict, names: dict, override: dict | None = None) -> float:
    """``bounds.get(ft.theorem).max_step`` with the symbols bound from the problem and hyper-parameters."""
    import bounds

    step = float(bounds.get(ft.theorem).max_step(**theorem_symbols(ft, problem, hyper, names, override)))
    return step if ft.scale == 1.0 else ft.scale * step


def theorem_symbols(ft: FromTheorem, problem, hyper: dict, names: dict, override: dict | None = None) -> dict:
    """The values of a FromTheorem's symbols for this problem and these hyper-parameters."""
    facts = RunFacts(constants={**names, **problem_constants(problem)}, hyper=hyper)
    return resolve({**ft.symbols, **(override or {})}, facts)


def build_cluster(spec, K: int):
    """A sim.cluster.Cluster of K workers from a ClusterSpec (or the study's own function of K)."""
    from sim import cluster as c

    if not isinstance(spec, ClusterSpec):
        return spec(K)
    speed_cls = {"constant": c.ConstantSpeed, "exponential": c.ExponentialSpeed,
                 "lognormal": c.LogNormalSpeed, "shifted_exponential": c.ShiftedExponentialSpeed}[spec.speed]
    speed = speed_cls(**spec.speed_params)
    network = c.Network(latency=spec.latency, per_byte=spec.per_byte, channels=spec.channels)
    sp = dict(spec.straggler_params)
    if spec.straggler == "none":
        return c.Cluster.homogeneous(K, speed=speed, network=network)
    if spec.straggler == "thesis":
        return c.Cluster.homogeneous(K, speed=speed, network=network, straggler=c.ThesisStraggler(**sp))
    if spec.straggler == "slow_worker":
        slow = int(sp.get("worker", 0))
        if not 0 <= slow < K:
            raise ValueError(f"straggler_params['worker'] must be in [0, K={K}), got {slow}")
        workers = tuple(c.WorkerSpec(speed, c.PersistentSlow(float(sp["factor"])) if k == slow else None)
                        for k in range(K))
        return c.Cluster(workers, network)
    per_worker = c.IndependentStraggler(**sp) if spec.straggler == "independent" else c.PersistentSlow(**sp)
    return c.Cluster.homogeneous(K, speed=speed, network=network, worker_straggler=per_worker)


def make_budget(b: BudgetSpec, names: dict, *, target=None, max_epochs=None, max_updates=None):
    """A sim.driver.Budget from a BudgetSpec, with expressions evaluated and optional overrides."""
    from sim.driver import Budget

    updates = b.max_updates if max_updates is None else max_updates
    if isinstance(updates, str):
        updates = int(eval_expression(updates, names))
    return Budget(max_updates=updates, max_time=b.max_time, max_epochs=b.max_epochs if max_epochs is None else max_epochs,
                  target=target, blowup=b.blowup)


def record_every(task: Task, roles):
    """Records cost a full metric evaluation: every round (``records="round"``), about
    ``records_per_epoch`` per epoch (``"epoch"``), on that grid but densely only near the target
    (``"near_target"``: :class:`sim.records.NearTarget`, ratio 1.5, margin 10), or as the study's
    :mod:`sim.records` schedule says (a ``NearTarget`` without its own grid gets the ``"epoch"`` grid)."""
    from sim.protocols import get_protocol
    from sim.records import NearTarget

    if not isinstance(task.records, str) and not (isinstance(task.records, NearTarget) and task.records.every is None):
        return task.records  # a sim.records schedule with its own grid (checked by StudySpec)
    if task.records == "round":
        return int(roles.round_length or 1)
    per_version = float(getattr(roles, "samples_per_message", 1)) * get_protocol(roles.protocol).messages_per_version(roles)
    steps_per_epoch = roles.epoch_work / max(per_version, 1.0)
    every = max(1, int(steps_per_epoch / task.records_per_epoch))
    if task.records == "epoch":
        return every
    if task.records == "near_target":
        return NearTarget(every, ratio=NEAR_TARGET_RATIO, margin=NEAR_TARGET_MARGIN)
    return task.records.on_grid(every)


#: ``records="near_target"``: sparse grid points 1, 1.5, 1.5^2, ... far from the target; every grid point
#: once the target metric is within 10x of the target (or of the drop the curve's pace predicts)
NEAR_TARGET_RATIO, NEAR_TARGET_MARGIN = 1.5, 10.0


def simulate_task(task: Task, problem, hyper: dict, *, seed: int, target: Target | None, budget,
                  stop: bool = True):
    """Simulate one configuration; returns (SimResult, absolute target value or nan). The run stops at
    the target only when ``stop``; its absolute value is computed either way (time to target is
    measured from the records)."""
    from algorithms.registry import make_roles
    from sim.driver import Budget, simulate

    def fresh_roles():
        roles = make_roles(task.algorithm.name, problem, task.K, **hyper)
        return roles if task.probes is None else roles.use_probes(task.probes)

    roles = fresh_roles()
    value = math.nan
    if target is not None:
        value = float(target.value)
        if target.relative:
            start = roles.metrics()
            if target.metric not in start:
                raise ValueError(f"target metric {target.metric!r} is not reported by {task.algorithm.name!r}; "
                                 f"it reports {sorted(start)}")
            value *= float(start[target.metric])
        if stop:
            budget = Budget(max_updates=budget.max_updates, max_time=budget.max_time,
                            max_epochs=budget.max_epochs, target=(target.metric, value), blowup=budget.blowup)
    schedule = record_every(task, roles)
    res = simulate(roles, build_cluster(task.cluster, task.K), seed=seed, budget=budget, record_every=schedule)
    if res.stopped_by in ("target_sparse", "diverged_sparse"):
        # records="near_target": the target (or a blow-up) came faster than the schedule predicted and was
        # caught after skipped grid points; the run again on the plain grid gives the grid's exact stop
        res = simulate(fresh_roles(), build_cluster(task.cluster, task.K), seed=seed, budget=budget,
                       record_every=schedule.every)
    return res, value


def metric_ends(res, metric: str) -> tuple[float, float]:
    """(first, last) recorded value of ``metric`` (NaN, NaN if never recorded)."""
    v = [x for (_, _, _, m, x) in res.records if m == metric]
    return (v[0], v[-1]) if v else (math.nan, math.nan)


def _pilot_budget(task: Task, tune: Tune, names: dict):
    epochs = None
    if tune.pilot_epochs is not None:
        b = task.budget.max_epochs
        want = eval_expression(tune.pilot_epochs, names) if isinstance(tune.pilot_epochs, str) else tune.pilot_epochs
        epochs = want if b is None else min(want, b)
    return make_budget(task.budget, names, max_epochs=epochs, max_updates=tune.pilot_updates)


def select_hyper(task: Task, problem) -> tuple[dict, str]:
    """Resolve expressions, :class:`FromTheorem` steps and :class:`Tune` selections; (hyper, how)."""
    names = task_names(task, problem)
    hyper = concrete_hyper(dict(task.algorithm.hyper), names)
    notes = []
    for k, v in list(hyper.items()):
        if isinstance(v, FromTheorem):
            given = {h: x for h, x in hyper.items() if not isinstance(x, (Tune, FromTheorem))}
            hyper[k] = theorem_step(v, problem, given, names)
            values = theorem_symbols(v, problem, given, names)
            syms = ", ".join(f"{s} = {describe_source(src)} = {values[s]:g}" for s, src in v.symbols.items())
            notes.append(f"{k} = {'' if v.scale == 1.0 else f'{v.scale:g} x '}{v.theorem} max_step({syms})")
    tunes = {k: v for k, v in hyper.items() if isinstance(v, Tune)}
    if not tunes:
        return hyper, "; ".join(notes) or "given"
    key = (task.study, task.algorithm.key, task.dataset, task.data_dir, task.K, task.problem, task.lam,
           tuple(sorted((k, repr(v)) for k, v in task.problem_kw.items())), repr(task.cluster),
           tuple(sorted((k, repr(v)) for k, v in hyper.items())))
    if key in _PILOTS:
        return dict(_PILOTS[key][0]), _PILOTS[key][1]
    chosen = {k: v for k, v in hyper.items() if k not in tunes}
    for name, tune in tunes.items():  # in the order the spec lists them
        metric = tune.metric or task.target.metric
        budget = _pilot_budget(task, tune, {**names, **{k: v for k, v in chosen.items() if isinstance(v, (int, float))}})
        order = sorted(tune.values, reverse=True) if tune.rule == "largest-stable" else list(tune.values)
        seed = derive_seeds(task.dataset, task.K, 0)[1] if tune.pilot_seed == "rep0" else \
            derive_pilot_seed(task.dataset, task.K)
        pick, best = None, None
        for v in order:
            trial = {**chosen, name: v, **{k: _fallback(t) for k, t in tunes.items() if k not in chosen and k != name}}
            label = _short(v)
            try:
                res, _ = simulate_task(task, problem, trial, seed=seed, target=None, budget=budget)
            except (ValueError, FloatingPointError, OverflowError) as exc:
                notes.append(f"{name}={label}: rejected ({exc})")
                continue
            first, last = metric_ends(res, metric)
            if res.status == "diverged" or not np.isfinite(last):
                notes.append(f"{name}={label}: {res.status}, {metric} {first:.3g} -> {last:.3g}")
                continue
            if tune.rule == "largest-stable":
                if not last < first:
                    notes.append(f"{name}={label}: {res.status}, {metric} {first:.3g} -> {last:.3g}")
                    continue
                pick = v
                notes.append(f"{name}={label}: kept ({metric} {first:.3g} -> {last:.3g} in {res.epochs:g} epochs)")
                break
            if best is None or last < best:
                pick, best = v, last
        if tune.rule == "best-final" and pick is not None:
            notes.append(f"{name}={_short(pick)}: lowest final {metric} ({best:.4g}) of {len(order)} pilots")
        if pick is not None and (edge := _at_edge(pick, tune.values)):
            notes.append(f"{name}: the pick is at the edge of the grid ({edge}); a wider grid may do better")
        if pick is None:
            pick = _fallback(tune)
            notes.append(f"no value of {name} passed; using {'the smallest' if tune.rule == 'largest-stable' else 'the first'}, "
                         f"{_short(pick)}")
        chosen[name] = pick
    rule = "; ".join(sorted({t.rule for t in tunes.values()}))
    seeds = sorted({"repetition 0's seed" if t.pilot_seed == "rep0" else "a seed of their own" for t in tunes.values()})
    how = f"pilot rule ({rule}; pilots on {' / '.join(seeds)}): " + "; ".join(notes)
    _PILOTS[key] = (dict(chosen), how)
    return chosen, how


def _at_edge(pick, values) -> str:
    """Which of the pick's numbers sit at the end of the grid's range ('' if none): a tuned value at the
    edge of its grid says the grid may not contain the best one."""
    def numbers(v) -> dict:
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return {"value": float(v)}
        return {f: float(getattr(v, f)) for f in getattr(v, "__dataclass_fields__", {})
                if isinstance(getattr(v, f), (int, float)) and not isinstance(getattr(v, f), bool)}
    mine, edges = numbers(pick), []
    for f, x in mine.items():
        seen = [numbers(v).get(f) for v in values]
        seen = [y for y in seen if y is not None]
        if len(set(seen)) > 1 and x in (min(seen), max(seen)):
            edges.append(f"{f} = {x:g} is the {'largest' if x == max(seen) else 'smallest'}")
    return ", ".join(edges)


def _fallback(tune: Tune):
    return min(tune.values) if tune.rule == "largest-stable" else tune.values[0]


def _short(v) -> str:
    return f"{v:g}" if isinstance(v, (int, float)) else repr(v)


def staleness_summary(trace) -> StalenessSummary:
    from sim.trace import staleness_stats

    st = staleness_stats(trace)
    per = [st.per_worker[k].mean for k in sorted(st.per_worker)]
    return StalenessSummary(max=int(st.max), mean=float(st.mean), per_worker_mean=tuple(float(m) for m in per))


# --- one task ---------------------------------------------------------------------------------
def run_dir(out: Path, run_id: str) -> Path:
    return Path(out) / "runs" / run_id


def base_info(task: Task, problem) -> dict:
    data = get_dataset_of(task)
    consts = problem_constants(problem)
    info = {"task": task.kind, "n": int(problem.n), "d": int(problem.d), "lam": float(problem.lam), "K": task.K,
            "data_seed": task.data_seed, "sim_seed": task.sim_seed, "algorithm_name": task.algorithm.name,
            "constants": consts, "values": _values(task), "data_source": data.source,
            "data": data.origin or data.source}
    if consts["L_max"] is not None:
        info["L_max"] = float(consts["L_max"])
    if "known_optimum" in problem.capabilities:
        info["optimum"] = float(problem.solution().value)
    return info


def execute_run(task: Task, rdir: Path, t0: float) -> RunResult:
    """Task kind ``"run"``: one simulation, its records and trace."""
    problem = get_problem(task)
    info = base_info(task, problem)
    hyper, how = select_hyper(task, problem)
    info["hyper_rule"] = how
    names = task_names(task, problem)
    budget = make_budget(task.budget, {**names, **{k: v for k, v in hyper.items() if isinstance(v, (int, float))}})
    res, info["target_value"] = simulate_task(task, problem, hyper, seed=task.sim_seed, target=task.target,
                                              budget=budget, stop=task.stop_at_target)
    info["round_length"] = res.trace.round_length
    info["budget"] = {"max_updates": budget.max_updates, "max_epochs": budget.max_epochs, "max_time": budget.max_time}
    records = res.records_frame().loc[:, list(RECORD_COLUMNS)]
    atomic_csv(rdir / "records.csv", records)
    atomic_trace(rdir / "trace.npz", res.trace)
    return RunResult(
        run_id=task.run_id, params=dict(task.params), status=str(res.status),
        diverged_at=None if res.diverged_at is None else int(res.diverged_at),
        sim_time=float(res.sim_time), step=int(res.step), epochs=float(res.epochs),
        wall_time=time.perf_counter() - t0, staleness=staleness_summary(res.trace),
        label=task.algorithm.label, hyper={k: describe_value(v) for k, v in hyper.items()}, info=info)


def _execute_step_limit(task: Task, rdir: Path, t0: float) -> RunResult:
    from .search import execute_step_limit

    return execute_step_limit(task, rdir, t0)


#: task kind -> executor(task, run directory, start time) -> RunResult
TASK_KINDS: dict[str, Callable[[Task, Path, float], RunResult]] = {
    "run": execute_run,
    "step-limit": _execute_step_limit,
}


LOCKS = ".locks"


class RunLock:
    """An exclusive lock on one run of a results directory, held while the run executes, so that two
    sweeps into one ``--out`` (two ``study run`` processes, or Dask workers sharing the directory) never
    both execute it: ``OUT/.locks/<run_id>.lock`` locked with ``fcntl.flock``. The kernel releases the
    lock when its holder dies (Ctrl-C, kill -9, a crashed worker), so a lock is never stale; the file
    holds the holder's host and pid, for people. Without fcntl (Windows) runs are not locked."""

    def __init__(self, out: Path, run_id: str) -> None:
        d = Path(out) / LOCKS
        d.mkdir(parents=True, exist_ok=True)
        self.path = d / f"{run_id}.lock"
        self.fd: int | None = None

    def acquire(self, wait: bool = True) -> bool:
        """Take the lock; if another process holds it: wait for it (``wait``) or return False."""
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not wait:
                os.close(fd)
                return False
            fcntl.flock(fd, fcntl.LOCK_EX)
        import socket

        os.ftruncate(fd, 0)
        os.write(fd, f"{socket.gethostname()} {os.getpid()}\n".encode())
        self.fd = fd
        return True

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing the descriptor releases the flock
            self.fd = None

    def __enter__(self) -> "RunLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def execute_task(task: Task, out: str | os.PathLike, setup: dict | None = None, *, resume: bool = True) -> RunResult:
    """Run one task and write its files (result.json last); never raises for a failing algorithm.

    The run is locked (:class:`RunLock`) while it executes. Once the lock is held, result.json is read
    again: if it is complete and of the same ``setup``, that result is returned and the run is not
    executed again (another process finished it after this sweep listed its pending runs, or while this
    one waited for the lock). With ``resume=False`` (a deliberate re-run) an uncontended run executes
    regardless; a run another process was executing while this one waited is still taken from it (it
    was made during this sweep). ``setup`` (the study's name, overrides and data) is recorded in
    result.json's info.

    BLAS is limited to one thread: simulated messages are single vectors, where threaded BLAS
    only adds synchronisation (3-4x slower on a shared 2-core machine) and oversubscribes a
    process pool; one thread also fixes the summation order, so results do not depend on ``jobs``.
    """
    rdir = run_dir(Path(out), task.run_id)
    rdir.mkdir(parents=True, exist_ok=True)
    lock = RunLock(Path(out), task.run_id)
    contended = not lock.acquire(wait=False)
    if contended:
        lock.acquire()  # another process is executing this run: wait for it, then use its result
    try:
        if resume or contended:
            prev = _complete_result(rdir, setup)
            if prev is not None:
                return prev
        return _execute_locked(task, rdir, setup)
    finally:
        lock.release()


def _complete_result(rdir: Path, setup: dict | None) -> RunResult | None:
    """The run's result.json if it is complete and of ``setup`` (None if absent, failed, damaged or of
    another setup: then the run is executed and the file replaced)."""
    try:
        prev = read_result(rdir)
    except ValueError:
        return None
    if prev is None or prev.status not in COMPLETE:
        return None
    if setup is not None and dict(prev.info).get("setup") != setup:
        return None
    return prev


def _failed(task: Task, error: str, wall_time: float = 0.0) -> RunResult:
    return RunResult(run_id=task.run_id, params=dict(task.params), status="failed", error=error,
                     wall_time=wall_time, label=task.algorithm.label,
                     hyper={k: describe_value(v) if not isinstance(v, (Tune, FromTheorem)) else repr(v)
                            for k, v in task.algorithm.hyper.items()})


def record_failure(task: Task, error: str, *, out: str | os.PathLike | None = None,
                   setup: dict | None = None) -> RunResult:
    """A failed RunResult for a task that could not run to its end where it was sent (e.g. its Dask
    workers died), written to ``out`` as result.json (atomically) when ``out`` is given."""
    result = _failed(task, error)
    if setup is not None:
        result = replace(result, info={"setup": setup})
    if out is not None:
        rdir = run_dir(Path(out), task.run_id)
        rdir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(rdir / "result.json", json.dumps(result.to_json(), indent=1, sort_keys=True))
    return result


def _execute_locked(task: Task, rdir: Path, setup: dict | None) -> RunResult:
    t0 = time.perf_counter()
    with threadpool_limits(limits=1, user_api="blas"):
        try:
            result = TASK_KINDS[task.kind](task, rdir, t0)
        except Exception as exc:  # a failing task is a result; the sweep goes on
            result = _failed(task, f"{type(exc).__name__}: {exc}", time.perf_counter() - t0)
    if setup is not None:
        result = replace(result, info={**dict(result.info), "setup": setup})
    atomic_write_text(rdir / "result.json", json.dumps(result.to_json(), indent=1, sort_keys=True))
    return result


def atomic_csv(path: Path, df: pd.DataFrame) -> None:
    atomic_write_text(path, df.to_csv(index=False, float_format="%.17g"))


def atomic_trace(path: Path, trace) -> None:
    atomic_write_with(path, trace.save, suffix=".npz")


# --- executors -----------------------------------------------------------------------------------
def local_executor(jobs: int = 1) -> Executor:
    """In-process (jobs=1) or a local process pool of ``jobs`` processes."""
    if isinstance(jobs, bool) or not isinstance(jobs, (int, np.integer)) or jobs < 1:
        raise ValueError(f"jobs must be an integer >= 1, got {jobs!r}")

    def run(tasks, fn, on_done):
        results = []
        if jobs == 1 or len(tasks) <= 1:
            for r in tasks:
                res = fn(r)
                on_done(res)
                results.append(res)
            return results
        pool = ProcessPoolExecutor(max_workers=int(jobs), initializer=_ignore_sigint)
        try:
            futures = [pool.submit(fn, r) for r in tasks]
            for fut in as_completed(futures):
                res = fut.result()
                on_done(res)
                results.append(res)
        except BaseException:
            # Ctrl-C (or an error): start no queued run and stop the running ones now. Their files
            # are written atomically with result.json last, so a stopped run leaves no result and a
            # re-run resumes it; finished runs are on disk.
            stop_pool(pool)
            raise
        pool.shutdown(wait=True)
        return results

    return run


def _ignore_sigint() -> None:
    """Pool workers ignore Ctrl-C: the parent, which gets it too, stops them (no traceback per worker)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def stop_pool(pool: ProcessPoolExecutor) -> None:
    """Cancel a pool's queued tasks and terminate its running workers at once."""
    procs = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in procs:
        if proc.is_alive():
            proc.terminate()
    for proc in procs:
        proc.join(timeout=5)


# --- a study -----------------------------------------------------------------------------------
def _parse_workers(workers) -> tuple[int, ...] | None:
    if workers is None:
        return None
    if isinstance(workers, str):
        try:
            return tuple(int(w) for w in workers.split(",") if w.strip())
        except ValueError:
            raise ValueError(f"workers must be comma-separated integers >= 1 like '1,2,4', got {workers!r}") from None
    return tuple(workers)


def study_info(spec: StudySpec, quick: bool, setup: dict | None = None) -> StudyInfo:
    """What the report needs to know about the study (saved as study.json); ``setup``: the overrides
    and data directory the runs were made with (only the ones given)."""
    return StudyInfo(name=spec.name, title=spec.title, thesis_ref=spec.thesis_ref, claim=spec.claim,
                     target=spec.target, claims=spec.claims, x_axis=spec.x_axis, quick=bool(quick),
                     notes=spec.notes, bindings=spec.bindings, analyses=spec.analyses,
                     figure_metrics=spec.figure_metrics, setup=dict(setup or {}))


def check_out_holds(out: Path, info: StudyInfo) -> None:
    """Refuse to sweep into a results directory whose study.json is another study's, or the same study's
    under other ``--set`` overrides or other real data (``--data-dir`` files that differ): resume would mix runs of both (the run ids
    do not say which). One ValueError saying what is there and what to do."""
    p = out / "study.json"
    if not p.exists():
        return
    from .results import _read_json

    old = _read_json(p, StudyInfo.from_json)
    if setup_of(old) != setup_of(info):
        def text(i: StudyInfo) -> str:
            rest = {k: v for k, v in setup_of(i).items() if k != "study"}
            return f"study {i.name!r}" + (f" with {json.dumps(rest, sort_keys=True)}" if rest else "")
        raise ValueError(f"out {str(out)!r} holds runs of {text(old)}, not of {text(info)}; "
                         "use another --out (runs of different studies or settings are never mixed)")


def data_used(tasks: Sequence[Task], data_dir) -> dict[str, str]:
    """``{dataset name: identity of its real files}`` (:func:`algorithms.datasets.data_identity`: each
    file's name in the directory, size and sha256) for the datasets of ``tasks`` that ``data_dir`` holds
    files of; {} without a data directory or when it holds none of them. This, not the directory's path,
    is what a results directory records: the same files under another mount path are the same data, and
    a directory the study reads nothing from changes nothing."""
    from algorithms.datasets import data_identity

    if data_dir is None:
        return {}
    found = {}
    for name in sorted({t.dataset.name for t in tasks}):
        ident = data_identity(name, data_dir)
        if ident is not None:
            found[name] = ident
    return found


def run_study(study: str | StudySpec, *, quick: bool = False, out: str | os.PathLike | None = None,
              jobs: int = 1, seeds: int | None = None, workers=None, progress=None,
              executor: Executor | None = None, resume: bool = True, data_dir: str | os.PathLike | None = None,
              overrides: dict | None = None, scheduler: str | None = None):
    """Run (or resume) a study and return its :class:`~studies.results.StudyResults`.

    ``out`` defaults to ``reports/<name>`` (``-quick`` appended for quick runs);
    ``seeds`` overrides the number of repetitions, ``workers`` the grid of K;
    ``progress``: see :func:`studies.progress.make_progress`.
    ``data_dir``: a directory of real data files; a dataset whose files it holds is read from them
    (``algorithms.datasets.get_dataset(..., data_dir=)``), the others are the synthetic / bundled sets;
    each run's result says which (``info["data"]``).
    ``overrides``: ``{key: value}`` applied by :func:`studies.overrides.apply_overrides` (``--set``).
    The overrides and the real data used (:func:`data_used`: file names, sizes and sha256, not the
    directory's path) are recorded in study.json and every result.json; an ``out`` holding runs made with
    other ones (or of another study) is refused, never mixed.
    ``scheduler``: a Dask scheduler address or ``"local"`` (:func:`studies.executors.dask_executor`)
    instead of the local process pool.
    """
    from .overrides import apply_overrides

    spec = get_study(study) if isinstance(study, str) else study
    if not isinstance(spec, StudySpec):
        raise ValueError(f"study must be a registered name or a StudySpec, got {study!r}")
    overrides = dict(overrides or {})
    spec = apply_overrides(spec, overrides)
    if data_dir is not None:
        if not Path(data_dir).is_dir():
            raise ValueError(f"data_dir must be an existing directory of data files, got {str(data_dir)!r}")
        data_dir = str(Path(data_dir).resolve())
    out = Path(out) if out is not None else Path("reports") / (spec.name + ("-quick" if quick else ""))
    tasks = expand(spec, quick=quick, seeds=seeds, workers=_parse_workers(workers))
    data = data_used(tasks, data_dir)
    if data:  # only datasets with files there read the directory; the others are the stand-ins anyway
        tasks = [replace(t, data_dir=data_dir) if t.dataset.name in data else t for t in tasks]
    if executor is not None and scheduler is not None:
        raise ValueError("give run_study an executor or a scheduler, not both")
    if scheduler is not None:
        from .executors import dask_executor

        ex = dask_executor(scheduler, n_workers=jobs)
    else:
        ex = executor if executor is not None else local_executor(jobs)
    out.mkdir(parents=True, exist_ok=True)
    setup = {k: v for k, v in (("overrides", overrides), ("data", data)) if v}
    info = study_info(spec, quick, setup)
    setup = setup_of(info)
    check_out_holds(out, info)
    atomic_write_text(out / "study.json", json.dumps(info.to_json(), indent=1))
    write_manifest(out, [t.run_id for t in tasks])
    pending = []
    for t in tasks:
        prev = read_result(run_dir(out, t.run_id)) if resume else None
        if prev is None or prev.status not in COMPLETE:
            pending.append(t)
    skipped = len(tasks) - len(pending)
    bar = make_progress(progress)
    bar.start(len(tasks), skipped=skipped)
    try:
        ex(pending, functools.partial(execute_task, out=str(out), setup=setup, resume=resume), lambda res: bar.update(res.run_id))
    finally:
        bar.close()
    return load_results(out, [t.run_id for t in tasks], skipped=skipped)
