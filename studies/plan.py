"""From a study to its tasks: run ids, seeds derived from (problem, repetition), sweeps and quick
grids expanded, step-limit searches' points; :func:`expand` is what the runner executes."""
from __future__ import annotations

import itertools
import zlib
from dataclasses import dataclass, field, replace
from typing import Any, Mapping

import numpy as np

from .expr import ID_SAFE, positive_int
from .hyper import Sweep, Tune, value_label
from .spec import AlgorithmSpec, BudgetSpec, DatasetSpec, StepLimitSearch, StudySpec, Target, near_target_unfit


@dataclass(frozen=True)
class Task:
    """Everything one unit of work needs, picklable, so that any executor can run it.

    ``kind`` names the task executor (:data:`studies.runner.TASK_KINDS`): ``"run"`` simulates one
    configuration; ``"step-limit"`` searches the largest stable step (``search``).
    """

    run_id: str
    study: str
    kind: str
    algorithm: AlgorithmSpec
    dataset: DatasetSpec
    K: int
    rep: int
    data_seed: int
    sim_seed: int
    problem: str
    lam: float
    problem_kw: Mapping[str, Any]
    cluster: Any
    budget: BudgetSpec
    target: Target
    records_per_epoch: float
    params: Mapping[str, Any]
    values: Mapping[str, float] = field(default_factory=dict)
    probes: tuple[str, ...] | None = None
    records: str = "epoch"
    stop_at_target: bool = True
    search: StepLimitSearch | None = None
    data_dir: str | None = None  # a directory of real data files (algorithms.datasets.get_dataset)



def run_id(study: str, params: Mapping[str, Any]) -> str:
    """``study[k=v,...]`` with sorted keys; floats in repr form (0.1 -> '0.1')."""
    parts = []
    for k in sorted(params):
        v = params[k]
        s = repr(float(v)) if isinstance(v, (float, np.floating)) else str(v)
        if not ID_SAFE.match(s):
            raise ValueError(f"run-id value for {k!r} must match [A-Za-z0-9_.+-]+, got {s!r}")
        parts.append(f"{k}={s}")
    return f"{study}[{','.join(parts)}]"


def _stable_hash(text: str) -> int:
    # crc32, unlike hash(), is the same in every process and every Python run.
    return zlib.crc32(text.encode("utf-8"))


def derive_seeds(dataset: DatasetSpec, K: int, rep: int, base: int = 0) -> tuple[int, int]:
    """(data_seed, sim_seed) from (problem, repetition) via SeedSequence.

    The data seed depends on the dataset only (same data for every K, algorithm
    and repetition); the simulation seed (worker streams + cluster stream, see
    algorithms.roles.worker_streams / cluster_stream) depends on (dataset, K,
    repetition) and never on the algorithm, so all algorithms of a repetition
    get the same straggler and speed draws where their protocols consume the
    cluster's stream alike (the delays themselves also depend on each
    algorithm's work per message and, across protocols, on how they wait).
    """
    if isinstance(rep, bool) or not isinstance(rep, (int, np.integer)) or rep < 0:
        raise ValueError(f"rep must be an integer >= 0, got {rep!r}")
    pkey = _stable_hash(f"{dataset.name}|{dataset.scale!r}")
    data = np.random.SeedSequence([base, pkey]).generate_state(1, dtype=np.uint32)[0]
    sim = np.random.SeedSequence([base, pkey, int(K), int(rep)]).generate_state(1, dtype=np.uint32)[0]
    return int(data), int(sim)


def derive_pilot_seed(dataset: DatasetSpec, K: int, base: int = 0) -> int:
    """The seed of a Tune's pilots when they must not share a repetition's seed (``pilot_seed="own"``):
    from (problem, K) like the repetitions' seeds, but a different SeedSequence entropy, so independent."""
    pkey = _stable_hash(f"{dataset.name}|{dataset.scale!r}")
    return int(np.random.SeedSequence([base, pkey, int(K), 0, 1]).generate_state(1, dtype=np.uint32)[0])


def _at_size(alg: AlgorithmSpec, quick: bool) -> AlgorithmSpec:
    """The algorithm with each Tune's quick grid in place at quick size."""
    if not quick or not any(isinstance(v, Tune) and v.quick_values for v in alg.hyper.values()):
        return alg
    return replace(alg, hyper={k: replace(v, values=v.quick_values, quick_values=None)
                               if isinstance(v, Tune) and v.quick_values else v for k, v in alg.hyper.items()})


def _sweeps(alg: AlgorithmSpec) -> list[tuple[AlgorithmSpec, dict]]:
    """The algorithm once per combination of its swept values: (spec with those values, their run-id fields)."""
    names = sorted(k for k, v in alg.hyper.items() if isinstance(v, Sweep))
    if not names:
        return [(alg, {})]
    out = []
    for combo in itertools.product(*(alg.hyper[k].values for k in names)):
        hyper = {**alg.hyper, **dict(zip(names, combo))}
        out.append((replace(alg, hyper=hyper), {k: value_label(v) for k, v in zip(names, combo)}))
    return out


def grid_values(spec: StudySpec, alg: AlgorithmSpec, dataset: str, quick: bool) -> dict[tuple[str, str], Any]:
    """(hyper-parameter, value label) -> value of every step-grid point algorithm ``alg`` is run at on
    ``dataset``: the union over the claims with a :class:`~studies.spec.StepGrid` that name it as subject
    or baseline."""
    keys = tuple(a.key for a in spec.algorithms)
    out: dict[tuple[str, str], Any] = {}
    for c in spec.claims:
        g = c.steps
        if g is None or g.hyper not in alg.hyper or isinstance(alg.hyper[g.hyper], Sweep):
            continue
        if c.datasets and dataset not in c.datasets:
            continue
        if quick and g.quick_datasets is not None and dataset not in g.quick_datasets:
            continue
        named = [w for w in (c.subject, c.baseline) if w and (alg.key == w or (w not in keys and alg.key.startswith(w)))]
        if not named:
            continue
        for v in g.values_for(alg.key, keys, quick):
            out.setdefault((g.hyper, value_label(v)), v)
    return out


def grid_records(spec: StudySpec):
    """The record schedule of a claim's step-grid runs. Runs judged only on their time to target (every claim
    with a step grid of a kind in TIME_CLAIM_KINDS, without at_epoch, runs stopping at the target) record on
    the study's per-epoch grid densely only near the target (``"near_target"``,
    :class:`sim.records.NearTarget`: the same stop and time to target as the plain grid, for a fraction of
    the records); otherwise, and for any other schedule, the study's own."""
    stepped = [c for c in spec.claims if c.steps is not None]
    if spec.records != "epoch" or near_target_unfit(stepped, spec.stop_at_target) is not None:
        return spec.records
    return "near_target"


def expand(spec: StudySpec, *, quick: bool = False, seeds: int | None = None,
           workers: tuple[int, ...] | None = None) -> list[Task]:
    """All tasks of a spec: datasets x K x grid x repetitions x algorithms (x their sweeps), then the claims'
    step-grid runs (:func:`grid_values`; run ids with ``grid=<hyper>``), then the step-limit searches'
    (K, T, seed) points, in a stable order."""
    if seeds is not None:
        positive_int("run_study", "seeds", seeds)
    grid = spec.grid(quick)
    if workers is not None:
        workers = tuple(workers)
        if not workers:
            raise ValueError("workers must be a non-empty tuple of integers >= 1, got ()")
        for k in workers:
            positive_int("run_study", "workers", k)
        grid["K"] = workers
    datasets = grid.pop("dataset", spec.datasets)
    Ks = grid.pop("K", (None,))
    other = sorted(grid)
    n_rep = spec.n_seeds(quick) if seeds is None else seeds
    values = spec.study_values(quick)
    common = dict(study=spec.name, problem=spec.problem, lam=float(spec.lam), problem_kw=dict(spec.problem_kw),
                  cluster=spec.cluster, target=spec.target, records_per_epoch=float(spec.records_per_epoch),
                  values=values, probes=spec.probes, records=spec.records, stop_at_target=spec.stop_at_target)
    runs, grid_runs = [], []
    seen = set()
    for ds, K, combo in itertools.product(datasets, Ks, itertools.product(*(grid[k] for k in other))):
        K = ds.K if K is None else int(K)
        if (ds.name, ds.scale, K, combo) in seen:
            continue  # e.g. one dataset listed at K = 4 and K = 8, both overridden by workers=(2,)
        seen.add((ds.name, ds.scale, K, combo))
        ds_k = replace(ds, K=K)
        budget = spec.budget
        extra = dict(zip(other, combo))
        if extra:
            budget = replace(budget, **extra)
        for rep in range(n_rep):
            data_seed, sim_seed = derive_seeds(ds, K, rep)
            for alg0 in spec.algorithms:
                for alg, swept in _sweeps(_at_size(alg0, quick)):
                    params = {"algorithm": alg.key, "dataset": ds.key, "K": K, "scale": float(ds.scale),
                              "seed": rep, **extra, **alg.tags, **swept}
                    runs.append(Task(run_id=run_id(spec.name, params), kind="run", algorithm=alg, dataset=ds_k,
                                     K=K, rep=rep, data_seed=data_seed, sim_seed=sim_seed, budget=budget,
                                     params=params, **common))
                    for (h, label), v in grid_values(spec, alg, ds.key, quick).items():
                        params = {"algorithm": alg.key, "dataset": ds.key, "K": K, "scale": float(ds.scale),
                                  "seed": rep, **extra, **alg.tags, **swept, "grid": h, h: label}
                        grid_runs.append(Task(run_id=run_id(spec.name, params), kind="run",
                                              algorithm=replace(alg, hyper={**alg.hyper, h: v}), dataset=ds_k, K=K,
                                              rep=rep, data_seed=data_seed, sim_seed=sim_seed, budget=budget,
                                              params=params, **{**common, "records": grid_records(spec)}))
    runs += grid_runs  # after the study's own runs, so those keep their order (and a resumed sweep its ids)
    for search in spec.searches:
        points = search.quick_points if quick and search.quick_points else search.points
        n = search.quick_seeds if quick else search.seeds
        base = next((a for a in spec.algorithms if a.key == search.algorithm), None) if search.algorithm \
            else spec.algorithms[0]
        if base is None:
            raise ValueError(f"StepLimitSearch.algorithm must be an algorithm key of the study "
                             f"{[a.key for a in spec.algorithms]}, got {search.algorithm!r}")
        tag = "step-limit" + (f"-{base.key}" if search.algorithm else "")
        alg = replace(base, label=tag.replace("-", " "))
        for ds in datasets:
            for K, T in points:
                for rep in range(n):
                    data_seed, sim_seed = derive_seeds(ds, K, rep)
                    params = {"dataset": ds.key, "K": int(K), "scale": float(ds.scale), "algorithm": tag,
                              "kind": "step-limit", search.round_hyper: int(T), "seed": rep}
                    hyper = {**alg.hyper, search.round_hyper: int(T)}
                    runs.append(Task(run_id=run_id(spec.name, params), kind="step-limit",
                                     algorithm=replace(alg, hyper=hyper), dataset=replace(ds, K=int(K)), K=int(K),
                                     rep=rep, data_seed=data_seed, sim_seed=sim_seed, budget=spec.budget,
                                     params=params, search=search, **common))
    return runs
