"""Declarative study specs: what to run, on which data and cluster, and what the thesis claims.

A :class:`StudySpec` is a frozen value. It names the thesis figure it
reproduces (``thesis_ref``), states the claim in a sentence, and holds a
full-size grid ``parameters`` and a quick grid ``test_parameters`` the way
benchopt does. :func:`expand` turns a spec into :class:`RunDescription`
values with ids ``name[k=v,...]`` (sorted keys) and seeds derived from
(problem, repetition) with :class:`numpy.random.SeedSequence`, so every
algorithm of a repetition sees the same data and the same cluster seed.
"""
from __future__ import annotations

import ast
import itertools
import operator
import math
import re
import zlib
from dataclasses import dataclass, field, replace
from typing import Any, Mapping

import numpy as np

PROBLEM_KINDS = ("ridge", "logistic", "pca")
SPEED_KINDS = ("constant", "exponential", "lognormal", "shifted_exponential")
STRAGGLER_KINDS = ("none", "thesis", "independent", "persistent")
CLAIM_KINDS = ("faster", "linear_rate", "speedup_better")
GRID_KEYS = ("dataset", "K", "max_epochs", "max_time")
#: eta grid of §3.5.1 ("selected from {1, 0.1, 0.001, 0.0001}").
THESIS_ETA_GRID = (1.0, 0.1, 0.001, 0.0001)

_ID_SAFE = re.compile(r"^[A-Za-z0-9_.+-]+$")


def _finite_positive(owner: str, name: str, value: Any, *, allow_zero: bool = False) -> None:
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    ok = ok and math.isfinite(float(value)) and (value >= 0 if allow_zero else value > 0)
    if not ok:
        rng = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{owner}.{name} must be a finite number {rng}, got {value!r}")


def _positive_int(owner: str, name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{owner}.{name} must be an integer >= 1, got {value!r}")


_EXPR_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
             ast.FloorDiv: operator.floordiv, ast.Div: operator.truediv, ast.Pow: operator.pow}


def check_expression(owner: str, text: str) -> ast.AST:
    """Parse a hyper-parameter expression: numbers, names, + - * / // ** and parentheses only."""
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        raise ValueError(f"{owner} must be an arithmetic expression like '8*K' or 'n // batch', got {text!r}") from None
    for node in ast.walk(tree):
        ok = isinstance(node, (ast.Expression, ast.BinOp, ast.Constant, ast.Name, ast.Load, ast.USub, ast.UnaryOp)
                        ) or type(node) in _EXPR_OPS
        if not ok or (isinstance(node, ast.Constant) and not isinstance(node.value, (int, float))):
            raise ValueError(f"{owner} may use only numbers, names and + - * / // **, got {text!r}")
    return tree


def eval_expression(text: str, names: Mapping[str, float]) -> float:
    """Value of a checked expression with ``names`` bound (unknown names raise ValueError)."""
    tree = check_expression("expression", text)

    def ev(node):
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            if node.id not in names:
                raise ValueError(f"expression {text!r} uses unknown name {node.id!r}; known: {sorted(names)}")
            return names[node.id]
        if isinstance(node, ast.UnaryOp):
            return -ev(node.operand)
        return _EXPR_OPS[type(node.op)](ev(node.left), ev(node.right))

    return ev(tree)


def slug(text: str) -> str:
    """A run-id safe form of a label: lower case, runs of other characters become '-'."""
    s = re.sub(r"[^a-z0-9.+]+", "-", text.lower()).strip("-")
    return s or "x"


@dataclass(frozen=True)
class AlgorithmSpec:
    """One algorithm of a study: registry ``name`` (algorithms.registry), display ``label``, ``hyper``.

    A hyper-parameter given as a tuple of floats (e.g. ``eta=THESIS_ETA_GRID``)
    is chosen by the runner's pilot rule: the largest value whose short pilot
    run neither diverges nor fails to decrease the target metric. A string is
    an arithmetic expression in n, K, n_k (smallest shard), d, lam and the other
    numeric hyper-parameters, e.g. ``T="8*K"``, ``m="n // batch"``, ``eta="0.25/(lam*n)"``.
    """

    name: str
    label: str
    hyper: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"AlgorithmSpec.name must be a non-empty string, got {self.name!r}")
        if not isinstance(self.label, str) or not self.label:
            raise ValueError(f"AlgorithmSpec.label must be a non-empty string, got {self.label!r}")
        if not isinstance(self.hyper, Mapping):
            raise ValueError(f"AlgorithmSpec.hyper must be a mapping of name -> value, got {self.hyper!r}")
        # A private copy: the frozen spec must not change when the caller's dict does.
        object.__setattr__(self, "hyper", dict(self.hyper))
        for k, v in self.hyper.items():
            if isinstance(v, str):
                check_expression(f"AlgorithmSpec.hyper[{k!r}]", v)
            if isinstance(v, tuple):
                if not v or not all(isinstance(x, (int, float)) and math.isfinite(x) and x > 0 for x in v):
                    raise ValueError(
                        f"AlgorithmSpec.hyper[{k!r}] as a grid must be a non-empty tuple of finite numbers > 0, "
                        f"got {v!r}")

    @property
    def key(self) -> str:
        """The algorithm's part of a run id (slug of the label)."""
        return slug(self.label)


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset (algorithms.datasets name), the number of workers K it is spread over, its ``scale`` of n."""

    name: str
    K: int
    scale: float = 1.0

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"DatasetSpec.name must be a non-empty string, got {self.name!r}")
        _positive_int("DatasetSpec", "K", self.K)
        _finite_positive("DatasetSpec", "scale", self.scale)
        if self.scale > 1:
            raise ValueError(f"DatasetSpec.scale must be in (0, 1], got {self.scale!r}")

    @property
    def key(self) -> str:
        return slug(self.name)


@dataclass(frozen=True)
class ClusterSpec:
    """Cluster settings, built into a ``sim.cluster.Cluster`` by the runner.

    speed: kind in SPEED_KINDS with its parameters (time per unit of work, in seconds);
    straggler: kind in STRAGGLER_KINDS; ``"thesis"`` is §3.5's model (one worker
    delayed m ~ U[m_low, m_high] times with probability p); network latency and per-byte cost.
    """

    speed: str = "constant"
    speed_params: Mapping[str, float] = field(default_factory=lambda: {"time_per_work": 1e-6})
    straggler: str = "thesis"
    straggler_params: Mapping[str, float] = field(default_factory=lambda: {"p": 0.2, "m_low": 0.0, "m_high": 10.0})
    latency: float = 0.0
    per_byte: float = 0.0

    def __post_init__(self) -> None:
        if self.speed not in SPEED_KINDS:
            raise ValueError(f"ClusterSpec.speed must be one of {SPEED_KINDS}, got {self.speed!r}")
        if self.straggler not in STRAGGLER_KINDS:
            raise ValueError(f"ClusterSpec.straggler must be one of {STRAGGLER_KINDS}, got {self.straggler!r}")
        object.__setattr__(self, "speed_params", dict(self.speed_params))
        object.__setattr__(self, "straggler_params", dict(self.straggler_params))
        _finite_positive("ClusterSpec", "latency", self.latency, allow_zero=True)
        _finite_positive("ClusterSpec", "per_byte", self.per_byte, allow_zero=True)


@dataclass(frozen=True)
class BudgetSpec:
    """When a run stops (mirrors sim.driver.Budget): epochs, simulated seconds, server updates."""

    max_epochs: float | None = None
    max_time: float | None = None
    max_updates: int | None = None
    blowup: float = 1e6

    def __post_init__(self) -> None:
        if self.max_epochs is None and self.max_time is None and self.max_updates is None:
            raise ValueError("BudgetSpec needs at least one of max_epochs, max_time, max_updates; got none")
        if self.max_epochs is not None:
            _finite_positive("BudgetSpec", "max_epochs", self.max_epochs)
        if self.max_time is not None:
            _finite_positive("BudgetSpec", "max_time", self.max_time)
        if self.max_updates is not None:
            _positive_int("BudgetSpec", "max_updates", self.max_updates)
        _finite_positive("BudgetSpec", "blowup", self.blowup)


@dataclass(frozen=True)
class Target:
    """Stop (and measure time-to-target) when ``metric`` <= ``value``.

    ``relative=True``: the threshold is ``value`` times the metric at the start
    (w = 0), so one spec fits every data size; the absolute threshold of each
    run is stored in its RunResult.info["target_value"].
    """

    metric: str
    value: float
    relative: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.metric, str) or not self.metric:
            raise ValueError(f"Target.metric must be a metric name, got {self.metric!r}")
        _finite_positive("Target", "value", self.value)
        if self.relative and self.value >= 1:
            raise ValueError(f"Target.value must be in (0, 1) when relative=True, got {self.value!r}")

    def describe(self) -> str:
        return f"{self.metric} <= {self.value:g}" + (" x its initial value" if self.relative else "")


@dataclass(frozen=True)
class Claim:
    """A checkable sentence of the thesis. ``kind`` in CLAIM_KINDS:

    faster          every algorithm whose key starts with ``subject`` reaches the target in
                    less simulated time than ``baseline`` (same dataset and K; the median
                    time over seeds, a seed that never reaches the target counting as infinite);
    linear_rate     the fitted log-metric-vs-epoch line of ``subject`` has R^2 >= ``threshold``
                    and, with a baseline, a slope within a factor 1/``ratio``..``ratio`` of it;
    speedup_better  at every K > 1, time speedup (eq. 3.39) of ``subject`` >= that of ``baseline``.
    """

    text: str
    kind: str
    subject: str
    baseline: str = ""
    threshold: float = 0.9
    ratio: float = 3.0

    def __post_init__(self) -> None:
        if self.kind not in CLAIM_KINDS:
            raise ValueError(f"Claim.kind must be one of {CLAIM_KINDS}, got {self.kind!r}")
        if not self.text:
            raise ValueError("Claim.text must be a non-empty sentence, got ''")
        if self.kind in ("faster", "speedup_better") and not self.baseline:
            raise ValueError(f"Claim.baseline must name an algorithm key for kind {self.kind!r}, got ''")
        _finite_positive("Claim", "ratio", self.ratio)


@dataclass(frozen=True)
class RunDescription:
    """Everything one run needs, picklable, so that any executor can run it."""

    run_id: str
    study: str
    algorithm: AlgorithmSpec
    dataset: DatasetSpec
    K: int
    rep: int
    data_seed: int
    sim_seed: int
    problem: str
    lam: float
    problem_kw: Mapping[str, float]
    cluster: ClusterSpec
    budget: BudgetSpec
    target: Target
    records_per_epoch: float
    params: Mapping[str, Any]


@dataclass(frozen=True)
class StudySpec:
    """A registered experiment: thesis reference, claim, problem, data, algorithms, cluster, grid.

    ``parameters`` / ``test_parameters`` map grid keys (GRID_KEYS) to tuples of
    values: ``dataset`` (DatasetSpec values; default ``datasets``), ``K``
    (overrides each dataset's K), ``max_epochs`` / ``max_time`` (override ``budget``).
    ``theorems``: bounds keys whose step-size condition the report checks for
    every Dis-dfSDCA run with the run's measured staleness.
    """

    name: str
    title: str
    thesis_ref: str
    claim: str
    problem: str
    lam: float
    datasets: tuple[DatasetSpec, ...]
    algorithms: tuple[AlgorithmSpec, ...]
    cluster: ClusterSpec
    budget: BudgetSpec
    target: Target
    seeds: int = 1
    parameters: Mapping[str, tuple] = field(default_factory=dict)
    test_parameters: Mapping[str, tuple] = field(default_factory=dict)
    claims: tuple[Claim, ...] = ()
    problem_kw: Mapping[str, float] = field(default_factory=dict)
    records_per_epoch: float = 10.0
    x_axis: str = "sim_time"
    notes: str = ""
    theorems: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _ID_SAFE.match(self.name or ""):
            raise ValueError(f"StudySpec.name must match [A-Za-z0-9_.+-]+, got {self.name!r}")
        for f in ("title", "thesis_ref", "claim"):
            if not isinstance(getattr(self, f), str) or not getattr(self, f):
                raise ValueError(f"StudySpec.{f} must be a non-empty string, got {getattr(self, f)!r}")
        if self.problem not in PROBLEM_KINDS:
            raise ValueError(f"StudySpec.problem must be one of {PROBLEM_KINDS}, got {self.problem!r}")
        _finite_positive("StudySpec", "lam", self.lam)
        object.__setattr__(self, "datasets", tuple(self.datasets))
        object.__setattr__(self, "algorithms", tuple(self.algorithms))
        object.__setattr__(self, "claims", tuple(self.claims))
        if not self.datasets or not all(isinstance(d, DatasetSpec) for d in self.datasets):
            raise ValueError(f"StudySpec.datasets must be a non-empty tuple of DatasetSpec, got {self.datasets!r}")
        if not self.algorithms or not all(isinstance(a, AlgorithmSpec) for a in self.algorithms):
            raise ValueError(
                f"StudySpec.algorithms must be a non-empty tuple of AlgorithmSpec, got {self.algorithms!r}")
        keys = [a.key for a in self.algorithms]
        if len(set(keys)) != len(keys):
            raise ValueError(f"StudySpec.algorithms labels must be distinct after slugging, got {keys}")
        if not isinstance(self.cluster, ClusterSpec):
            raise ValueError(f"StudySpec.cluster must be a ClusterSpec, got {self.cluster!r}")
        if not isinstance(self.budget, BudgetSpec):
            raise ValueError(f"StudySpec.budget must be a BudgetSpec, got {self.budget!r}")
        if not isinstance(self.target, Target):
            raise ValueError(f"StudySpec.target must be a Target, got {self.target!r}")
        _positive_int("StudySpec", "seeds", self.seeds)
        _finite_positive("StudySpec", "records_per_epoch", self.records_per_epoch)
        if self.x_axis not in ("sim_time", "epoch"):
            raise ValueError(f"StudySpec.x_axis must be 'sim_time' or 'epoch', got {self.x_axis!r}")
        for gname in ("parameters", "test_parameters"):
            grid = dict(getattr(self, gname))
            object.__setattr__(self, gname, grid)
            _check_grid(f"StudySpec.{gname}", grid)
        for c in self.claims:
            for who in (c.subject, c.baseline):
                if who and not any(k.startswith(who) for k in keys):
                    raise ValueError(f"StudySpec.claims subject/baseline must prefix an algorithm key "
                                     f"(keys: {keys}), got {who!r}")
        object.__setattr__(self, "problem_kw", dict(self.problem_kw))
        object.__setattr__(self, "theorems", tuple(self.theorems))
        if not all(isinstance(t, str) and t for t in self.theorems):
            raise ValueError(f"StudySpec.theorems must be a tuple of bounds keys, got {self.theorems!r}")

    def grid(self, quick: bool) -> dict[str, tuple]:
        """The grid used for a run: ``test_parameters`` if quick else ``parameters``."""
        return dict(self.test_parameters if quick else self.parameters)


def _check_grid(owner: str, grid: Mapping[str, Any]) -> None:
    for k, vals in grid.items():
        if k not in GRID_KEYS:
            raise ValueError(f"{owner} key must be one of {GRID_KEYS}, got {k!r}")
        if not isinstance(vals, tuple) or not vals:
            raise ValueError(f"{owner}[{k!r}] must be a non-empty tuple of values, got {vals!r}")
        for v in vals:
            if k == "dataset" and not isinstance(v, DatasetSpec):
                raise ValueError(f"{owner}['dataset'] values must be DatasetSpec, got {v!r}")
            if k == "K":
                _positive_int(owner, "K", v)
            if k in ("max_epochs", "max_time"):
                _finite_positive(owner, k, v)


def run_id(study: str, params: Mapping[str, Any]) -> str:
    """``study[k=v,...]`` with sorted keys; floats in repr form (0.1 -> '0.1')."""
    parts = []
    for k in sorted(params):
        v = params[k]
        s = repr(float(v)) if isinstance(v, (float, np.floating)) else str(v)
        if not _ID_SAFE.match(s):
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
    see the same delays.
    """
    if isinstance(rep, bool) or not isinstance(rep, (int, np.integer)) or rep < 0:
        raise ValueError(f"rep must be an integer >= 0, got {rep!r}")
    pkey = _stable_hash(f"{dataset.name}|{dataset.scale!r}")
    data = np.random.SeedSequence([base, pkey]).generate_state(1, dtype=np.uint32)[0]
    sim = np.random.SeedSequence([base, pkey, int(K), int(rep)]).generate_state(1, dtype=np.uint32)[0]
    return int(data), int(sim)


def expand(spec: StudySpec, *, quick: bool = False, seeds: int | None = None,
           workers: tuple[int, ...] | None = None) -> list[RunDescription]:
    """All runs of a spec: datasets x K x algorithms x grid x repetitions, in a stable order."""
    if seeds is not None:
        _positive_int("expand", "seeds", seeds)
    grid = spec.grid(quick)
    if workers is not None:
        workers = tuple(workers)
        if not workers:
            raise ValueError("workers must be a non-empty tuple of integers >= 1, got ()")
        for k in workers:
            _positive_int("expand", "workers", k)
        grid["K"] = workers
    datasets = grid.pop("dataset", spec.datasets)
    Ks = grid.pop("K", (None,))
    other = sorted(grid)
    n_rep = spec.seeds if seeds is None else seeds
    runs = []
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
            for alg in spec.algorithms:
                params = {"algorithm": alg.key, "dataset": ds.key, "K": K, "scale": float(ds.scale),
                          "seed": rep, **extra}
                runs.append(RunDescription(
                    run_id=run_id(spec.name, params), study=spec.name, algorithm=alg, dataset=ds_k,
                    K=K, rep=rep, data_seed=data_seed, sim_seed=sim_seed, problem=spec.problem,
                    lam=float(spec.lam), problem_kw=dict(spec.problem_kw), cluster=spec.cluster,
                    budget=budget, target=spec.target, records_per_epoch=float(spec.records_per_epoch),
                    params=params))
    return runs
