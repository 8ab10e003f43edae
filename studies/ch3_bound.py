"""Studies ``ch3-bound`` and ``ch3-bound-nonconvex``: Dis-dfSDCA held against Theorems 3.4.1-3.4.4.

Two measurements per study (thesis §3.4; bounds.ch3 encodes the theorems):

(a) *Contraction.* Dis-dfSDCA (Alg. 6/7) on the async parameter server with §3.5's stragglers,
    at step sizes ("arms") given by a theorem's own largest admissible step (eq. 3.18, its
    corrected form, or eq. 3.30; L = L_max of Assumption 3.4.1, tau = T - 1, the protocol's
    staleness bound) and at a step outside the condition. The Lyapunov function C_t of
    Theorem 3.4.1 (C = A/(2 lam L) + B) or 3.4.3 (C = A/(4 L^2) + B), metrics
    ``lyapunov_convex`` / ``lyapunov_nonconvex`` of :class:`algorithms.dfsdca.DisDfSDCA`,
    is recorded at every round boundary (every T server updates), so C^{s,0}/C^{0,0} is
    compared with (1 - eta lam H)^s (eqs. 3.25, 3.36) and, round by round, with
    (1 - eta lam H) (eqs. 3.19, 3.31). The theorems bound an expectation: several seeds,
    their mean, and a tolerance of ``z`` standard errors (:func:`studies.compare.check_bound`).
(b) *Step limit vs delay.* For (K, T) points, the largest eta that does not diverge (a short
    probe per eta: doubling, then bisection in log eta) against the theorem's max_step at the
    staleness tau measured in the probe's trace: the ratio empirical / theoretical says how
    conservative the sufficient condition is (< 1 would be a counterexample).

The runner cannot express (b) (a search over eta per point), so this module has its own small
driver: each contraction run and each step-limit point is a task, executed by
:func:`studies.runner.local_executor`, written atomically as ``runs/<run_id>/result.json``
(+ ``records.csv``) and skipped on resume. ``bound.json`` tells :func:`studies.report.report`
to write the bound page.
"""
from __future__ import annotations

import functools
import json
import math
import os
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np
from threadpoolctl import threadpool_limits

from .ch3 import CH3_NONCONVEX_SPLIT, THESIS_CLUSTER
from .progress import make_progress
from .registry import register
from .results import COMPLETE, RECORD_COLUMNS, RunResult, StudyInfo, StudyResults, atomic_write_text, \
    load_results, read_result, write_manifest
from .runner import _atomic_csv, _concrete_hyper, _staleness, build_cluster, get_problem, local_executor, run_dir
from .spec import (THESIS_ETA_GRID, AlgorithmSpec, BudgetSpec, DatasetSpec, RunDescription, StudySpec, Target,
                   _positive_int, derive_seeds, eval_expression, run_id, slug)

BOUND_FILE = "bound.json"
ARM_RULES = ("theorem", "grid", "expression")


@dataclass(frozen=True)
class Arm:
    """How a contraction run's eta is chosen.

    ``rule="theorem"``: ``value`` is a bounds key; eta = its max_step(L_max, lam, n, H, tau = T - 1).
    ``rule="grid"``: the largest eta of the thesis grid {1, 0.1, 0.001, 0.0001} (§3.5.1) whose
    probe does not diverge (the pilot rule ch3-gap uses). ``rule="expression"``: ``value`` is an
    arithmetic expression in lam, n, H, T, L (e.g. ``"1/(lam*n)"``).
    """

    label: str
    rule: str
    value: str = ""

    def __post_init__(self) -> None:
        if self.rule not in ARM_RULES:
            raise ValueError(f"Arm.rule must be one of {ARM_RULES}, got {self.rule!r}")
        if self.rule != "grid" and not self.value:
            raise ValueError(f"Arm.value must name a theorem or an expression for rule {self.rule!r}, got ''")


@dataclass(frozen=True)
class BoundPlan:
    """Sizes: ``rounds`` S per contraction run, ``seeds`` per arm; the step-limit ``sweep`` of (K, T)
    points with ``sweep_seeds`` each; a probe runs max(probe_epochs epochs, probe_rounds rounds);
    the bisection stops when (smallest unstable)/(largest stable) <= 1 + ``rel_tol``."""

    rounds: int
    seeds: int
    sweep: tuple[tuple[int, int], ...]
    sweep_seeds: int = 1
    probe_epochs: float = 3.0
    probe_rounds: int = 3
    rel_tol: float = 0.05

    def __post_init__(self) -> None:
        for name in ("rounds", "seeds", "sweep_seeds", "probe_rounds"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"BoundPlan.{name} must be an integer >= 1, got {v!r}")
        object.__setattr__(self, "sweep", tuple(tuple(p) for p in self.sweep))
        for p in self.sweep:
            if len(p) != 2 or any(isinstance(x, bool) or not isinstance(x, (int, np.integer)) or x < 1 for x in p):
                raise ValueError(f"BoundPlan.sweep must hold (K, T) pairs of integers >= 1, got {p!r}")
        if not (math.isfinite(self.probe_epochs) and self.probe_epochs > 0):
            raise ValueError(f"BoundPlan.probe_epochs must be a finite number > 0, got {self.probe_epochs!r}")
        if not (math.isfinite(self.rel_tol) and 0 < self.rel_tol <= 1):
            raise ValueError(f"BoundPlan.rel_tol must be in (0, 1], got {self.rel_tol!r}")


@dataclass(frozen=True)
class BoundStudy:
    """A bound study: the StudySpec (problem, data, cluster, H and T of Dis-dfSDCA) plus what to
    hold it against: the Lyapunov ``metric``, the ``arms``, the per-round theorems (3.19/3.31),
    the outer-round theorems (3.25/3.36), the theorems whose max_step the sweep compares, sizes."""

    spec: StudySpec
    metric: str
    arms: tuple[Arm, ...]
    round_theorems: tuple[str, ...]
    outer_theorems: tuple[str, ...]
    step_theorems: tuple[str, ...]
    quick: BoundPlan
    full: BoundPlan
    z: float = 3.0


# --- the search for the empirical step limit --------------------------------------------------
def empirical_step_limit(stable: Callable[[float], bool], start: float, *, rel_tol: float = 0.05,
                         max_doublings: int = 60) -> tuple[float, float, list[tuple[float, bool]]]:
    """(largest stable eta found, smallest unstable eta found, [(eta, stable), ...] in order tried).

    From ``start``: double while stable (halve while unstable), then bisect in log eta until
    unstable/stable <= 1 + rel_tol. ``lo = 0`` if nothing was stable, ``hi = inf`` if nothing
    diverged within ``max_doublings`` doublings.
    """
    if not (math.isfinite(start) and start > 0):
        raise ValueError(f"start must be a finite step size > 0, got {start!r}")
    tried: list[tuple[float, bool]] = []

    def test(eta: float) -> bool:
        ok = bool(stable(eta))
        tried.append((eta, ok))
        return ok

    lo, hi = (start, math.inf) if test(start) else (0.0, start)
    for _ in range(max_doublings):
        if lo > 0 and math.isfinite(hi):
            break
        if lo > 0:
            eta = 2.0 * lo
            lo, hi = (eta, hi) if test(eta) else (lo, eta)
        else:
            eta = 0.5 * hi
            lo, hi = (eta, hi) if test(eta) else (lo, eta)
    while lo > 0 and math.isfinite(hi) and hi / lo > 1.0 + rel_tol:
        mid = math.sqrt(lo * hi)
        lo, hi = (mid, hi) if test(mid) else (lo, mid)
    return lo, hi, tried


# --- tasks ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Task:
    """One unit of work (picklable): a contraction run (``eta`` fixed) or a step-limit point."""

    kind: str  # "contraction" | "step-limit"
    desc: RunDescription
    T: int
    H: int
    metric: str
    rounds: int
    eta: float
    plan: BoundPlan
    step_theorems: tuple[str, ...]
    info: tuple[tuple[str, object], ...] = ()


def _dfsdca(problem, K: int, eta: float, H: int, T: int):
    from algorithms.registry import make_roles

    return make_roles("dis-dfsdca", problem, K, eta=eta, H=H, T=T)


def _simulate(desc: RunDescription, problem, eta: float, H: int, T: int, updates: int):
    from sim.driver import Budget, simulate

    budget = Budget(max_updates=int(updates), max_epochs=desc.budget.max_epochs, blowup=desc.budget.blowup)
    return simulate(_dfsdca(problem, desc.K, eta, H, T), build_cluster(desc.cluster, desc.K),
                    seed=desc.sim_seed, budget=budget, record_every=int(T))


def probe(desc: RunDescription, problem, eta: float, H: int, T: int, plan: BoundPlan, metric: str):
    """A short run at eta: (stable, SimResult). Stable = not diverged (sim.driver's rule: a
    non-finite metric or the objective above blowup x its start) and C at the end < C at the start."""
    updates = max(math.ceil(plan.probe_epochs * problem.n / H), plan.probe_rounds * T)
    res = _simulate(desc, problem, eta, H, T, updates)
    rec = [v for (_, _, _, m, v) in res.records if m == metric]
    ok = res.status != "diverged" and len(rec) >= 2 and math.isfinite(rec[-1]) and rec[-1] < rec[0]
    return ok, res


def _theory_steps(keys, problem, H: int, tau: int) -> dict[str, float]:
    import bounds

    c = problem.constants()
    return {k: float(bounds.get(k).max_step(L=c.L_max, lam=problem.lam, n=problem.n, H=H, tau=tau)) for k in keys}


def _result(task: _Task, status: str, t0: float, *, diverged_at=None, sim_time=0.0, step=0, epochs=0.0,
            staleness=None, hyper=None, info=None, error=None) -> RunResult:
    desc = task.desc
    return RunResult(run_id=desc.run_id, params=dict(desc.params), status=status, diverged_at=diverged_at,
                     error=error, sim_time=sim_time, step=step, epochs=epochs, wall_time=time.perf_counter() - t0,
                     staleness=staleness, label=desc.algorithm.label, hyper=hyper or {}, info=info or {})


def execute_task(task: _Task, out: str | os.PathLike) -> RunResult:
    """Run one task and write its files (result.json last); a failing task is recorded as failed."""
    rdir = run_dir(Path(out), task.desc.run_id)
    rdir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with threadpool_limits(limits=1, user_api="blas"):  # as studies.runner.execute_run: one message = one vector
        try:
            result = (_contraction(task, rdir, t0) if task.kind == "contraction" else _step_limit(task, t0))
        except Exception as exc:  # a failing run is a result; the sweep goes on
            result = _result(task, "failed", t0, error=f"{type(exc).__name__}: {exc}", info=dict(task.info))
    atomic_write_text(rdir / "result.json", json.dumps(result.to_json(), indent=1, sort_keys=True))
    return result


def _base_info(task: _Task, problem) -> dict:
    d = task.desc
    return {"n": int(problem.n), "d": int(problem.d), "lam": float(problem.lam), "K": d.K,
            "L_max": float(problem.constants().L_max), "data_seed": d.data_seed, "sim_seed": d.sim_seed,
            "algorithm_name": "dis-dfsdca", "metric": task.metric, **dict(task.info)}


def _contraction(task: _Task, rdir: Path, t0: float) -> RunResult:
    problem = get_problem(task.desc)
    res = _simulate(task.desc, problem, task.eta, task.H, task.T, task.rounds * task.T)
    records = res.records_frame().loc[:, list(RECORD_COLUMNS)]
    _atomic_csv(rdir / "records.csv", records)
    return _result(task, str(res.status), t0, diverged_at=res.diverged_at, sim_time=float(res.sim_time),
                   step=int(res.step), epochs=float(res.epochs), staleness=_staleness(res.trace),
                   hyper={"eta": task.eta, "H": task.H, "T": task.T},
                   info={**_base_info(task, problem), "rounds": task.rounds})


def _step_limit(task: _Task, t0: float) -> RunResult:
    problem = get_problem(task.desc)
    taus: list[int] = []
    ratios: dict[float, float] = {}

    def stable(eta: float) -> bool:
        ok, res = probe(task.desc, problem, eta, task.H, task.T, task.plan, task.metric)
        taus.append(_staleness(res.trace).max)
        rec = [v for (_, _, _, m, v) in res.records if m == task.metric]
        ratios[eta] = rec[-1] / rec[0] if len(rec) >= 2 and rec[0] > 0 else math.nan
        return ok

    # tau from a probe's trace: the timing (hence the trace) does not depend on eta.
    stable(min(_theory_steps(task.step_theorems, problem, task.H, task.T - 1).values()))
    tau = max(taus)
    theory = _theory_steps(task.step_theorems, problem, task.H, tau)
    lo, hi, tried = empirical_step_limit(stable, max(theory.values()), rel_tol=task.plan.rel_tol)
    tau = max(taus)
    theory = _theory_steps(task.step_theorems, problem, task.H, tau)
    info = {**_base_info(task, problem), "tau": int(tau), "eta_stable": lo, "eta_unstable": hi,
            "theory": theory, "probes": [{"eta": e, "stable": ok, "C_end/C_0": ratios.get(e, math.nan)}
                                         for e, ok in tried]}
    return _result(task, "finished", t0, step=len(tried), hyper={"H": task.H, "T": task.T}, info=info)


# --- the driver ---------------------------------------------------------------------------------
def _desc(spec: StudySpec, ds: DatasetSpec, K: int, rep: int, params: dict, label: str) -> RunDescription:
    data_seed, sim_seed = derive_seeds(ds, K, rep)
    alg = replace(spec.algorithms[0], label=label)
    return RunDescription(run_id=run_id(spec.name, params), study=spec.name, algorithm=alg,
                          dataset=replace(ds, K=K), K=K, rep=rep, data_seed=data_seed, sim_seed=sim_seed,
                          problem=spec.problem, lam=float(spec.lam), problem_kw=dict(spec.problem_kw),
                          cluster=spec.cluster, budget=spec.budget, target=spec.target,
                          records_per_epoch=float(spec.records_per_epoch), params=params)


def _arm_eta(arm: Arm, desc: RunDescription, problem, H: int, T: int, plan: BoundPlan,
             metric: str) -> tuple[float, str]:
    """eta of an arm and one sentence on how it was obtained."""
    if arm.rule == "theorem":
        eta = _theory_steps((arm.value,), problem, H, T - 1)[arm.value]
        return eta, f"{arm.value} max_step(L = L_max, lam, n, H = {H}, tau = T - 1 = {T - 1})"
    if arm.rule == "expression":
        names = {"lam": float(problem.lam), "n": int(problem.n), "H": H, "T": T,
                 "L": float(problem.constants().L_max)}
        return float(eval_expression(arm.value, names)), f"eta = {arm.value}"
    for eta in sorted(THESIS_ETA_GRID, reverse=True):
        if probe(desc, problem, eta, H, T, plan, metric)[0]:
            return float(eta), (f"largest of the thesis grid {THESIS_ETA_GRID} whose probe converges "
                                f"(ch3-gap's pilot rule, judged on C_t)")
    return float(min(THESIS_ETA_GRID)), f"no value of the thesis grid {THESIS_ETA_GRID} converged; smallest used"


def plan_tasks(study: BoundStudy, spec: StudySpec, *, quick: bool, seeds: int | None = None,
               workers=None) -> list[_Task]:
    """All tasks of a bound study: arms x seeds per (dataset, K), then the sweep's (K, T, seed) points."""
    plan = study.quick if quick else study.full
    if seeds is not None:
        _positive_int("run_study", "seeds", seeds)  # as expand() does for ordinary studies
    for k in workers or ():
        _positive_int("run_study", "workers", k)
    n_seeds = plan.seeds if seeds is None else int(seeds)
    datasets = spec.grid(quick).get("dataset", spec.datasets)
    tasks = []
    for ds in datasets:
        for K in (workers or (ds.K,)):
            params0 = {"dataset": ds.key, "K": int(K), "scale": float(ds.scale)}
            pilot = _desc(spec, ds, int(K), 0, {**params0, "kind": "pilot"}, "pilot")
            problem = get_problem(pilot)
            hyper = _concrete_hyper(spec.algorithms[0].hyper, int(K), problem)
            H, T = int(hyper["H"]), int(hyper["T"])
            with threadpool_limits(limits=1, user_api="blas"):
                etas = [_arm_eta(a, pilot, problem, H, T, plan, study.metric) for a in study.arms]
            for arm, (eta, how) in zip(study.arms, etas):
                for rep in range(n_seeds):
                    params = {**params0, "algorithm": slug(arm.label), "kind": "contraction", "seed": rep}
                    tasks.append(_Task("contraction", _desc(spec, ds, int(K), rep, params, arm.label), T, H,
                                       study.metric, plan.rounds, eta, plan, study.step_theorems,
                                       (("arm", arm.label), ("eta_rule", how))))
        for K, T in plan.sweep:
            H = int(_concrete_hyper(spec.algorithms[0].hyper, int(K), problem)["H"])
            for rep in range(plan.sweep_seeds):
                params = {"dataset": ds.key, "K": int(K), "scale": float(ds.scale), "algorithm": "step-limit",
                          "kind": "step-limit", "T": int(T), "seed": rep}
                tasks.append(_Task("step-limit", _desc(spec, ds, int(K), rep, params, "step limit"), int(T), H,
                                   study.metric, plan.rounds, math.nan, plan, study.step_theorems))
    return tasks


def run_bound_study(study: BoundStudy, spec: StudySpec, *, quick: bool = False, out=None, jobs: int = 1,
                    seeds: int | None = None, workers=None, progress=None, executor=None,
                    resume: bool = True) -> StudyResults:
    """Run (or resume) a bound study; the driver :func:`studies.runner.run_study` dispatches to."""
    out = Path(out) if out is not None else Path("reports") / (spec.name + ("-quick" if quick else ""))
    out.mkdir(parents=True, exist_ok=True)
    info = StudyInfo(name=spec.name, title=spec.title, thesis_ref=spec.thesis_ref, claim=spec.claim,
                     target=spec.target, claims=spec.claims, x_axis=spec.x_axis, quick=bool(quick),
                     notes=spec.notes, theorems=spec.theorems)
    atomic_write_text(out / "study.json", json.dumps(info.to_json(), indent=1))
    plan = study.quick if quick else study.full
    cfg = {"metric": study.metric, "round_theorems": list(study.round_theorems),
           "outer_theorems": list(study.outer_theorems), "step_theorems": list(study.step_theorems),
           "z": study.z, "arms": [asdict(a) for a in study.arms], "plan": asdict(plan)}
    atomic_write_text(out / BOUND_FILE, json.dumps(cfg, indent=1))
    tasks = plan_tasks(study, spec, quick=quick, seeds=seeds, workers=workers)
    write_manifest(out, [t.desc.run_id for t in tasks])
    pending = [t for t in tasks if not resume or (prev := read_result(run_dir(out, t.desc.run_id))) is None
               or prev.status not in COMPLETE]
    bar = make_progress(progress)
    bar.start(len(tasks), skipped=len(tasks) - len(pending))
    ex = executor if executor is not None else local_executor(jobs)
    try:
        ex(pending, functools.partial(execute_task, out=str(out)), lambda res: bar.update(res.run_id))
    finally:
        bar.close()
    return load_results(out, [t.desc.run_id for t in tasks], skipped=len(tasks) - len(pending))


# --- the registered studies -----------------------------------------------------------------------
CH3_BOUND = BoundStudy(
    spec=StudySpec(
        name="ch3-bound",
        title="Dis-dfSDCA against Theorems 3.4.1-3.4.2: contraction of C_t and the step-size limit vs delay",
        thesis_ref="Theorems 3.4.1-3.4.2 (§3.4.1, eqs. 3.14-3.27)",
        claim=("Theorem 3.4.1/3.4.2: with eta <= (3.18) = 1/(4 H L tau^2 + lam n + 2L), E[C] contracts at least "
               "by (1 - eta lam H) per outer round (T server updates), C_t = A_t/(2 lam L) + B_t (3.14, 3.15, "
               "3.19), so E[C_{S,0}] <= (1 - eta lam H)^S E[C_{0,0}] (3.25); the condition (3.18) is sufficient, "
               "and a larger delay tau shrinks the admissible step like 1/tau^2."),
        problem="ridge", lam=0.1,
        datasets=(DatasetSpec("ijcnn1", K=4, scale=0.2),),
        algorithms=(AlgorithmSpec("dis-dfsdca", "Dis-dfSDCA H=100", {"H": 100, "T": "8*K"}),),
        cluster=THESIS_CLUSTER, budget=BudgetSpec(max_epochs=5000.0),
        target=Target("lyapunov_convex", 1e-6, relative=True),
        seeds=8, test_parameters={"dataset": (DatasetSpec("ijcnn1", K=4, scale=0.05),)},
        theorems=("thm3.4.1", "thm3.4.1-corrected", "thm3.4.2", "thm3.4.2-corrected"),
        notes=("Ridge eq. 3.38 (lam = 0.1) on synthetic ijcnn1-shaped data (unit-norm rows, so L_max = 1). "
               "H = 100 and T = 8K as in ch3-gap. A_t of (3.14) is read as the average over the samples i "
               "(as in [89]); the expectation over the algorithm is the mean over seeds. Runs are driven by "
               "studies.ch3_bound (rounds S and the step-limit sweep); the budget's max_epochs caps a run.")),
    metric="lyapunov_convex",
    arms=(Arm("eta of (3.18)", "theorem", "thm3.4.1"), Arm("eta corrected", "theorem", "thm3.4.1-corrected"),
          Arm("eta thesis grid", "grid")),
    round_theorems=("thm3.4.1", "thm3.4.1-corrected"),
    outer_theorems=("thm3.4.2", "thm3.4.2-corrected"),
    step_theorems=("thm3.4.1", "thm3.4.1-corrected"),
    quick=BoundPlan(rounds=100, seeds=4, sweep=((1, 1), (2, 4), (4, 32)), sweep_seeds=1),
    full=BoundPlan(rounds=400, seeds=8, sweep=((1, 1), (2, 2), (2, 8), (4, 8), (4, 32), (8, 64), (8, 256)),
                   sweep_seeds=2),
)

CH3_BOUND_NONCONVEX = BoundStudy(
    spec=replace(
        CH3_BOUND.spec, name="ch3-bound-nonconvex",
        title="Dis-dfSDCA against Theorems 3.4.3-3.4.4 on eq. 3.40 (phi_i non-convex, f convex)",
        thesis_ref="Theorems 3.4.3-3.4.4 (§3.4.2, eqs. 3.28-3.37)",
        claim=("Theorem 3.4.3/3.4.4: with eta <= (3.30), E[C] contracts at least by (1 - eta lam H) per outer "
               "round, C_t = A_t/(4 L^2) + B_t (3.31), so E[C_{S,0}] <= (1 - eta lam H)^S E[C_{0,0}] (3.36). "
               "bounds.NOTES: the proof gives only (1 - eta lam H/4) (the -corrected variants)."),
        problem="pca", lam=CH3_NONCONVEX_SPLIT.lam, problem_kw=dict(CH3_NONCONVEX_SPLIT.problem_kw),
        datasets=(DatasetSpec("unit_norm", K=4, scale=0.01),), seeds=8,
        test_parameters={"dataset": (DatasetSpec("unit_norm", K=4, scale=0.004),)},
        target=Target("lyapunov_nonconvex", 1e-6, relative=True),
        theorems=("thm3.4.3", "thm3.4.3-corrected", "thm3.4.4", "thm3.4.4-corrected"),
        notes=("PCA eq. 3.40 with mu = 100 and the split lambda = 99.5 of ch3-nonconvex-split (every phi_i "
               "non-convex, f convex; L_max = 0.5). H = 100, T = 8K. The step outside (3.30) is dfSDCA's "
               "natural eta = 1/(lam n). (3.30) is the same for the corrected variants.")),
    metric="lyapunov_nonconvex",
    arms=(Arm("eta of (3.30)", "theorem", "thm3.4.3"), Arm("eta 1/(lam n)", "expression", "1/(lam*n)")),
    round_theorems=("thm3.4.3", "thm3.4.3-corrected"),
    outer_theorems=("thm3.4.4", "thm3.4.4-corrected"),
    step_theorems=("thm3.4.3",),
    quick=BoundPlan(rounds=40, seeds=3, sweep=((1, 1), (4, 32)), sweep_seeds=1),
    full=BoundPlan(rounds=200, seeds=8, sweep=((1, 1), (2, 4), (4, 8), (4, 32), (8, 64)), sweep_seeds=2),
)

BOUND_STUDIES = {s.spec.name: s for s in (CH3_BOUND, CH3_BOUND_NONCONVEX)}

for _s in BOUND_STUDIES.values():
    register(_s.spec, replace=True, driver=functools.partial(run_bound_study, _s))
del _s
