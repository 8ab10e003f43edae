"""Run a study: expand the spec, execute each run (in-process or in a process pool), write results.

One run = dataset -> problem -> roles (algorithms.registry.make_roles) ->
cluster (sim.cluster) -> ``sim.driver.simulate`` -> RunResult + records + trace,
written atomically under ``OUT/runs/<run_id>/`` with ``result.json`` last.
A re-run skips runs whose result.json says finished / target_reached / diverged
(a failed run is retried). A run that raises is recorded as ``failed`` with
its message and the sweep goes on.

Executors are a seam: ``executor(runs, fn, on_done) -> list[RunResult]`` calls
``fn(run)`` for every run description (``fn`` is picklable) and ``on_done``
with each result as it finishes. :func:`local_executor` is the in-process /
process-pool one; a Dask executor plugs in with the same signature.
"""
from __future__ import annotations

import functools
import json
import math
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits  # installed with scikit-learn

from .progress import make_progress
from .registry import get_driver, get_study
from .results import (COMPLETE, RECORD_COLUMNS, RunResult, StalenessSummary, StudyInfo, atomic_write_text,
                      load_results, read_result, write_manifest)
from .spec import BudgetSpec, ClusterSpec, RunDescription, StudySpec, Target, derive_seeds, eval_expression, expand

Executor = Callable[[Sequence[RunDescription], Callable[[RunDescription], RunResult],
                     Callable[[RunResult], None]], list]

#: epochs of each pilot run of the eta-selection rule
PILOT_EPOCHS = 3.0

# Per-process caches: a dataset or problem (whose solution() is expensive) is
# built once per process and shared by every run that uses it.
_DATASETS: dict[tuple, Any] = {}
_PROBLEMS: dict[tuple, Any] = {}
_PILOTS: dict[tuple, tuple[dict, str]] = {}
_CONSTANTS: dict[int, float] = {}


# --- building blocks --------------------------------------------------------------
def get_problem(desc: RunDescription):
    """The (cached) problem of a run; ``problem_kw['lam_n']`` sets lam = lam_n / n."""
    from algorithms.datasets import get_dataset
    from algorithms.registry import make_problem

    dkey = (desc.dataset.name, float(desc.dataset.scale), desc.data_seed)
    if dkey not in _DATASETS:
        _DATASETS[dkey] = get_dataset(desc.dataset.name, scale=desc.dataset.scale, seed=desc.data_seed)
    data = _DATASETS[dkey]
    kw = dict(desc.problem_kw)
    lam = float(desc.lam)
    if "lam_n" in kw:
        lam = float(kw.pop("lam_n")) / data.n
    pkey = (desc.problem, dkey, lam, tuple(sorted(kw.items())))
    if pkey not in _PROBLEMS:
        _PROBLEMS[pkey] = make_problem(desc.problem, data, lam=lam, **kw)
    return _PROBLEMS[pkey]


def build_cluster(spec: ClusterSpec, K: int):
    """A sim.cluster.Cluster of K identical workers from a ClusterSpec."""
    from sim import cluster as c

    speed_cls = {"constant": c.ConstantSpeed, "exponential": c.ExponentialSpeed,
                 "lognormal": c.LogNormalSpeed, "shifted_exponential": c.ShiftedExponentialSpeed}[spec.speed]
    speed = speed_cls(**spec.speed_params)
    network = c.Network(latency=spec.latency, per_byte=spec.per_byte)
    sp = dict(spec.straggler_params)
    if spec.straggler == "none":
        return c.Cluster.homogeneous(K, speed=speed, network=network)
    if spec.straggler == "thesis":
        return c.Cluster.homogeneous(K, speed=speed, network=network, straggler=c.ThesisStraggler(**sp))
    per_worker = c.IndependentStraggler(**sp) if spec.straggler == "independent" else c.PersistentSlow(**sp)
    return c.Cluster.homogeneous(K, speed=speed, network=network, worker_straggler=per_worker)


def _budget(b: BudgetSpec, target=None, max_epochs=None):
    from sim.driver import Budget

    return Budget(max_updates=b.max_updates, max_time=b.max_time,
                  max_epochs=b.max_epochs if max_epochs is None else max_epochs,
                  target=target, blowup=b.blowup)


def _concrete_hyper(hyper: dict, K: int, problem) -> dict:
    """Evaluate string hyper-parameters (``T="8*K"``, ``m="n // batch"``, ``eta="0.25/(lam*n)"``).

    Integer-valued results (``*``, ``//`` of integers) stay integers (at least 1); others are floats.
    """
    # n_k: the smallest shard of algorithms.shards.split_shards (sizes differ by at most 1)
    names = {"n": int(problem.n), "K": int(K), "d": int(problem.d), "n_k": int(problem.n) // int(K),
             "lam": float(problem.lam)}
    names.update({k: v for k, v in hyper.items() if isinstance(v, (int, float)) and not isinstance(v, bool)})
    out = {}
    for k, v in hyper.items():
        if isinstance(v, str):
            x = eval_expression(v, names)
            v = max(1, x) if isinstance(x, int) else float(x)
        out[k] = v
    return out


def _record_every(roles, hyper: dict, per_epoch: float) -> int:
    # Records cost a full metric evaluation; aim at ~per_epoch records per epoch.
    from sim.protocols import get_protocol

    work_per_step = float(getattr(roles, "samples_per_message", 1)) * get_protocol(roles.protocol).messages_per_version(roles)
    steps_per_epoch = roles.epoch_work / max(work_per_step, 1.0)
    return max(1, int(steps_per_epoch / per_epoch))


def _simulate(desc: RunDescription, problem, hyper: dict, *, seed: int, target: Target | None,
              max_epochs=None):
    """Simulate one configuration; returns (SimResult, absolute target value or nan)."""
    from algorithms.registry import make_roles
    from sim.driver import simulate

    roles = make_roles(desc.algorithm.name, problem, desc.K, **hyper)
    cluster = build_cluster(desc.cluster, desc.K)
    every = _record_every(roles, hyper, desc.records_per_epoch)
    stop, value = None, math.nan
    if target is not None:
        value = float(target.value)
        if target.relative:
            start = roles.metrics()
            if target.metric not in start:
                raise ValueError(f"target metric {target.metric!r} is not reported by {desc.algorithm.name!r}; "
                                 f"it reports {sorted(start)}")
            value *= float(start[target.metric])
        stop = (target.metric, value)
    res = simulate(roles, cluster, seed=seed, budget=_budget(desc.budget, stop, max_epochs), record_every=every)
    return res, value


def _first_value(records: pd.DataFrame, metric: str) -> tuple[float, float]:
    v = records.loc[records["metric"] == metric, "value"].to_numpy(dtype=float)
    return (v[0], v[-1]) if len(v) else (math.nan, math.nan)


def select_hyper(desc: RunDescription, problem) -> tuple[dict, str]:
    """Resolve grid-valued hyper-parameters (tuples) by the pilot rule.

    For each grid hyper-parameter (largest value first) run PILOT_EPOCHS epochs
    on the same cluster with repetition 0's seed; keep the largest value whose
    pilot does not diverge and ends with the target metric below its first
    record. Thesis §3.5.1 only says eta is "selected from {1, 0.1, 0.001,
    0.0001}"; this rule (largest non-diverging) is ours.
    """
    hyper = _concrete_hyper(desc.algorithm.hyper, desc.K, problem)
    grids = {k: v for k, v in hyper.items() if isinstance(v, (tuple, list))}
    if not grids:
        return hyper, "given"
    key = (desc.study, desc.algorithm.key, desc.dataset, desc.K, desc.problem, desc.lam,
           tuple(sorted(desc.problem_kw.items())), desc.cluster.__repr__())
    if key in _PILOTS:
        return dict(_PILOTS[key][0]), _PILOTS[key][1]
    seed = derive_seeds(desc.dataset, desc.K, 0)[1]
    metric = desc.target.metric
    epochs = PILOT_EPOCHS if desc.budget.max_epochs is None else min(PILOT_EPOCHS, desc.budget.max_epochs)
    chosen = {k: v for k, v in hyper.items() if k not in grids}
    notes = []
    for name, values in sorted(grids.items()):
        pick = None
        for v in sorted(values, reverse=True):
            trial = {**chosen, name: v, **{k: min(g) for k, g in grids.items() if k not in chosen and k != name}}
            try:
                res, _ = _simulate(desc, problem, trial, seed=seed, target=None, max_epochs=epochs)
            except (ValueError, FloatingPointError, OverflowError) as exc:
                notes.append(f"{name}={v:g}: rejected ({exc})")
                continue
            first, last = _first_value(res.records_frame(), metric)
            if res.status == "diverged" or not (np.isfinite(last) and last < first):
                notes.append(f"{name}={v:g}: {res.status}, {metric} {first:.3g} -> {last:.3g}")
                continue
            pick = v
            notes.append(f"{name}={v:g}: kept ({metric} {first:.3g} -> {last:.3g} in {epochs:g} epochs)")
            break
        if pick is None:
            pick = min(values)
            notes.append(f"no value of {name} passed; using the smallest, {pick:g}")
        chosen[name] = pick
    how = "pilot rule (largest grid value that does not diverge): " + "; ".join(notes)
    _PILOTS[key] = (dict(chosen), how)
    return chosen, how


def _L_max(problem) -> float:
    key = id(problem)  # problems live in _PROBLEMS for the life of the process
    if key not in _CONSTANTS:
        _CONSTANTS[key] = float(problem.constants().L_max)
    return _CONSTANTS[key]


def _staleness(trace) -> StalenessSummary | None:
    from sim.trace import staleness_stats

    st = staleness_stats(trace)
    per = getattr(st, "per_worker", ())
    if isinstance(per, dict):
        per = [per[k] for k in sorted(per)]
    per_mean = []
    for p in per:
        m = getattr(p, "mean", p)
        per_mean.append(float(m() if callable(m) else m))
    return StalenessSummary(max=int(st.max), mean=float(st.mean), per_worker_mean=tuple(per_mean))


# --- one run -----------------------------------------------------------------
def run_dir(out: Path, run_id: str) -> Path:
    return Path(out) / "runs" / run_id


def execute_run(desc: RunDescription, out: str | os.PathLike) -> RunResult:
    """Run one description and write its files; never raises for a failing algorithm.

    BLAS is limited to one thread: simulated messages are single vectors, where
    threaded BLAS only adds synchronisation (3-4x slower on a shared 2-core
    machine) and oversubscribes a process pool; one thread also fixes the
    summation order, so results do not depend on ``jobs``.
    """
    with threadpool_limits(limits=1, user_api="blas"):
        return _execute_run(desc, out)


def _execute_run(desc: RunDescription, out: str | os.PathLike) -> RunResult:
    rdir = run_dir(Path(out), desc.run_id)
    rdir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    hyper: dict = {}
    info: dict = {}
    try:
        problem = get_problem(desc)
        info = {"n": int(problem.n), "d": int(problem.d), "lam": float(problem.lam), "K": desc.K,
                "data_seed": desc.data_seed, "sim_seed": desc.sim_seed}
        hyper, how = select_hyper(desc, problem)
        info["hyper_rule"] = how
        res, info["target_value"] = _simulate(desc, problem, hyper, seed=desc.sim_seed, target=desc.target)
        info["optimum"] = float(problem.solution().value)
        info["algorithm_name"] = desc.algorithm.name
        info["L_max"] = _L_max(problem)
        records = res.records_frame().loc[:, list(RECORD_COLUMNS)]
        _atomic_csv(rdir / "records.csv", records)
        _atomic_trace(rdir / "trace.npz", res.trace)
        result = RunResult(
            run_id=desc.run_id, params=dict(desc.params), status=str(res.status),
            diverged_at=None if res.diverged_at is None else int(res.diverged_at),
            sim_time=float(res.sim_time), step=int(res.step), epochs=float(res.epochs),
            wall_time=time.perf_counter() - t0, staleness=_staleness(res.trace),
            label=desc.algorithm.label, hyper=hyper, info=info)
    except Exception as exc:  # a failing run is a result; the sweep goes on
        msg = f"{type(exc).__name__}: {exc}"
        result = RunResult(run_id=desc.run_id, params=dict(desc.params), status="failed", error=msg,
                           wall_time=time.perf_counter() - t0, label=desc.algorithm.label,
                           hyper={k: (list(v) if isinstance(v, tuple) else v) for k, v in
                                  (hyper or desc.algorithm.hyper).items()}, info=info)
    atomic_write_text(rdir / "result.json", json.dumps(result.to_json(), indent=1, sort_keys=True))
    return result


def _atomic_csv(path: Path, df: pd.DataFrame) -> None:
    atomic_write_text(path, df.to_csv(index=False, float_format="%.17g"))


def _atomic_trace(path: Path, trace) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".trace.", suffix=".npz")
    os.close(fd)
    try:
        trace.save(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


# --- executors -----------------------------------------------------------------
def local_executor(jobs: int = 1) -> Executor:
    """In-process (jobs=1) or a local process pool of ``jobs`` processes."""
    if isinstance(jobs, bool) or not isinstance(jobs, (int, np.integer)) or jobs < 1:
        raise ValueError(f"jobs must be an integer >= 1, got {jobs!r}")

    def run(runs, fn, on_done):
        results = []
        if jobs == 1 or len(runs) <= 1:
            for r in runs:
                res = fn(r)
                on_done(res)
                results.append(res)
            return results
        with ProcessPoolExecutor(max_workers=int(jobs)) as pool:
            futures = [pool.submit(fn, r) for r in runs]
            try:
                for fut in as_completed(futures):
                    res = fut.result()
                    on_done(res)
                    results.append(res)
            except BaseException:
                # Ctrl-C (or an error): start no queued run. Leaving the `with` block would otherwise
                # wait for every submitted run; finished runs are on disk and a re-run resumes.
                pool.shutdown(wait=True, cancel_futures=True)
                raise
        return results

    return run


# --- a study -----------------------------------------------------------------
def _parse_workers(workers) -> tuple[int, ...] | None:
    if workers is None:
        return None
    if isinstance(workers, str):
        try:
            return tuple(int(w) for w in workers.split(",") if w.strip())
        except ValueError:
            raise ValueError(f"workers must be comma-separated integers >= 1 like '1,2,4', got {workers!r}") from None
    return tuple(workers)


def run_study(study: str | StudySpec, *, quick: bool = False, out: str | os.PathLike | None = None,
              jobs: int = 1, seeds: int | None = None, workers=None, progress=None,
              executor: Executor | None = None, resume: bool = True):
    """Run (or resume) a study and return its :class:`~studies.results.StudyResults`.

    ``out`` defaults to ``reports/<name>`` (``-quick`` appended for quick runs);
    ``seeds`` overrides the number of repetitions, ``workers`` the grid of K;
    ``progress``: see :func:`studies.progress.make_progress`.
    """
    spec = get_study(study) if isinstance(study, str) else study
    if not isinstance(spec, StudySpec):
        raise ValueError(f"study must be a registered name or a StudySpec, got {study!r}")
    driver = get_driver(spec.name)
    if driver is not None:  # a study with its own driver (registry.register(..., driver=))
        return driver(spec, quick=quick, out=out, jobs=jobs, seeds=seeds, workers=_parse_workers(workers),
                      progress=progress, executor=executor, resume=resume)
    out = Path(out) if out is not None else Path("reports") / (spec.name + ("-quick" if quick else ""))
    runs = expand(spec, quick=quick, seeds=seeds, workers=_parse_workers(workers))
    ex = executor if executor is not None else local_executor(jobs)
    out.mkdir(parents=True, exist_ok=True)
    info = StudyInfo(name=spec.name, title=spec.title, thesis_ref=spec.thesis_ref, claim=spec.claim,
                     target=spec.target, claims=spec.claims, x_axis=spec.x_axis, quick=bool(quick),
                     notes=spec.notes, theorems=spec.theorems)
    atomic_write_text(out / "study.json", json.dumps(info.to_json(), indent=1))
    write_manifest(out, [r.run_id for r in runs])
    pending = []
    for r in runs:
        prev = read_result(run_dir(out, r.run_id)) if resume else None
        if prev is None or prev.status not in COMPLETE:
            pending.append(r)
    skipped = len(runs) - len(pending)
    bar = make_progress(progress)
    bar.start(len(runs), skipped=skipped)
    try:
        ex(pending, functools.partial(execute_run, out=str(out)), lambda res: bar.update(res.run_id))
    finally:
        bar.close()
    return load_results(out, [r.run_id for r in runs], skipped=skipped)
