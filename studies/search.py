"""Task kind ``"step-limit"``: the largest step for which an algorithm stays stable, against a theorem.

For one (K, T) point of a :class:`~studies.spec.StepLimitSearch`: a first probe at the smallest
of the theorems' ``max_step`` (with their delay symbol bound to T - 1, the protocol's bound)
measures the staleness tau in its trace (the timing, hence the trace, does not depend on the
step); the search then starts from the largest ``max_step`` at that tau, doubles while stable
(halves while not) and bisects in log scale (:func:`empirical_step_limit`). A probe is stable
when it neither diverges (the simulator's rule: a non-finite metric or the objective above
blowup x its start) nor ends with the search metric above its first record. The result: the
largest stable step, the smallest unstable one, the theorems' max_step at the largest tau any
probe measured, every probe. The ratio empirical / theoretical says how conservative the
sufficient condition is (< 1 would be a counterexample).
"""
from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Callable

from .bindings import Value
from .results import RunResult
from .spec import FromTheorem, Task


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


def execute_step_limit(task: Task, rdir: Path, t0: float) -> RunResult:
    from .runner import (base_info, concrete_hyper, get_problem, make_budget, metric_ends, simulate_task,
                         staleness_summary, task_names, theorem_step)

    search = task.search
    problem = get_problem(task)
    names = task_names(task, problem)
    hyper = concrete_hyper({k: v for k, v in task.algorithm.hyper.items() if k != search.hyper}, names)
    numbers = {k: v for k, v in hyper.items() if isinstance(v, (int, float))}
    budget = make_budget(task.budget, {**names, **numbers}, max_updates=search.probe_updates)
    taus: list[int] = []
    ratios: dict[float, float] = {}

    def theory(tau: int | None) -> dict[str, float]:
        override = None if tau is None else {search.tau_symbol: Value(tau)}
        return {ft.theorem: theorem_step(ft, problem, numbers, names, override) for ft in search.start}

    def stable(step: float) -> bool:
        res, _ = simulate_task(task, problem, {**hyper, search.hyper: step}, seed=task.sim_seed, target=None,
                               budget=budget)
        taus.append(staleness_summary(res.trace).max)
        first, last = metric_ends(res, search.metric)
        ratios[step] = last / first if first > 0 else math.nan
        n_rec = sum(1 for r in res.records if r[3] == search.metric)
        return res.status != "diverged" and n_rec >= 2 and math.isfinite(last) and last < first

    stable(min(theory(None).values()))  # measures tau
    lo, hi, tried = empirical_step_limit(stable, max(theory(max(taus)).values()), rel_tol=search.rel_tol)
    tau = max(taus)
    info = {**base_info(task, problem), "metric": search.metric, "tau": int(tau), "eta_stable": lo,
            "eta_unstable": hi, "theory": theory(tau),
            "probes": [{"eta": e, "stable": ok, "C_end/C_0": ratios.get(e, math.nan)} for e, ok in tried]}
    return RunResult(run_id=task.run_id, params=dict(task.params), status="finished", step=len(tried),
                     wall_time=time.perf_counter() - t0, label=task.algorithm.label, hyper=numbers, info=info)


__all__ = ["FromTheorem", "empirical_step_limit", "execute_step_limit"]
