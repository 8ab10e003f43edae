"""Declarative study specs: what to run, on which data and cluster, and what the thesis claims.

A :class:`StudySpec` is a frozen value. It names the thesis figure it reproduces
(``thesis_ref``), states the claim in a sentence, and holds a full-size grid ``parameters`` and
a quick grid ``test_parameters`` the way benchopt does. Hyper-parameters are numbers, step
rules, arithmetic expressions (``T="8*K"``), a :class:`Sweep` (one run per value, the value in
the run id), a :class:`Tune` (select one value by an explicit rule on short pilot runs) or a
:class:`FromTheorem` (a theorem's largest admissible step, its symbols bound as data).
:func:`expand` turns a spec into :class:`Task` values with ids ``name[k=v,...]`` (sorted keys) and
seeds derived from (problem, repetition) with :class:`numpy.random.SeedSequence`, so every
algorithm of a repetition sees the same data and the same cluster seed.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from .bindings import TheoremBinding
from .expr import ID_SAFE, check_expression, eval_expression, finite_positive, is_number, positive_int, slug
from .hyper import HYPER_TYPES, TUNE_RULES, FromTheorem, StepGrid, Sweep, Tune, describe_value, log_grid, value_label

SPEED_KINDS = ("constant", "exponential", "lognormal", "shifted_exponential")
STRAGGLER_KINDS = ("none", "thesis", "independent", "persistent", "slow_worker")
CLAIM_KINDS = ("faster", "linear_rate", "speedup_better", "lower_final", "speedup_linear")
GRID_KEYS = ("dataset", "K", "max_epochs", "max_time")
#: run-id keys the engine sets itself; a swept hyper-parameter may not use them
RESERVED_PARAMS = ("algorithm", "dataset", "K", "scale", "seed", "kind", "grid") + GRID_KEYS
#: claim kinds a :class:`StepGrid` can judge (a per-seed quantity of each method, compared in pairs)
GRID_CLAIM_KINDS = ("faster", "lower_final")
#: claim kinds judged only on each run's time to target (where it stops): a study (or a step grid) whose
#: claims are all of these, without ``at_epoch``, may record ``"near_target"``
TIME_CLAIM_KINDS = ("faster", "speedup_better", "speedup_linear")


def near_target_unfit(claims, stop_at_target: bool) -> str | None:
    """Why runs judged by ``claims`` may not record ``"near_target"`` (None: they may). That schedule keeps
    each run's stop and time to target, but records sparsely away from the target, so it suits only claims
    judged on the time to target, of runs that stop there."""
    if not stop_at_target:
        return "its runs do not stop at the target (stop_at_target=False)"
    for c in claims:
        if c.kind not in TIME_CLAIM_KINDS or c.at_epoch is not None:
            at = f", at_epoch={c.at_epoch}" if c.at_epoch is not None else ""
            return (f"claim {c.text!r} ({c.kind}{at}) is judged on records away from the target; "
                    f"only {TIME_CLAIM_KINDS} without at_epoch are judged on the time to target alone")
    return None


@dataclass(frozen=True)
class AlgorithmSpec:
    """One algorithm of a study: registry ``name`` (algorithms.registry), display ``label``, ``hyper``.

    A hyper-parameter is a number (or a step rule, e.g. ``Polynomial(alpha, beta)``), an arithmetic
    expression in n, K, n_k (smallest shard), d, lam, the dataset's and study's ``values`` and the
    other numeric hyper-parameters (``T="8*K"``, ``m="n // batch"``, ``eta="0.25/(lam*n)"``), a
    :class:`Sweep`, a :class:`Tune` or a :class:`FromTheorem`. A bare tuple is refused: say whether
    it is a sweep or a tuning grid. ``tags``: extra run-id fields (e.g. ``{"kind": "contraction"}``).
    """

    name: str
    label: str
    hyper: Mapping[str, Any] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"AlgorithmSpec.name must be a non-empty string, got {self.name!r}")
        if not isinstance(self.label, str) or not self.label:
            raise ValueError(f"AlgorithmSpec.label must be a non-empty string, got {self.label!r}")
        if not isinstance(self.hyper, Mapping):
            raise ValueError(f"AlgorithmSpec.hyper must be a mapping of name -> value, got {self.hyper!r}")
        # A private copy: the frozen spec must not change when the caller's dict does.
        object.__setattr__(self, "hyper", dict(self.hyper))
        object.__setattr__(self, "tags", {str(k): str(v) for k, v in dict(self.tags).items()})
        for k, v in self.hyper.items():
            if isinstance(v, str):
                check_expression(f"AlgorithmSpec.hyper[{k!r}]", v)
            if isinstance(v, (tuple, list)):
                raise ValueError(f"AlgorithmSpec.hyper[{k!r}] must be a value, an expression, Sweep(values) or "
                                 f"Tune(values, rule=...), got the bare sequence {v!r}")
            if isinstance(v, Sweep) and k in RESERVED_PARAMS:
                raise ValueError(f"AlgorithmSpec.hyper[{k!r}] cannot be swept: {k!r} is a run-id field of its own")

    @property
    def key(self) -> str:
        """The algorithm's part of a run id (slug of the label)."""
        return slug(self.label)


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset (algorithms.datasets name), the number of workers K it is spread over, its ``scale`` of n,
    and named ``values`` that expressions in problem parameters and hyper-parameters may use
    (e.g. ``{"C": 1e-3, "warm_epochs": 10}``)."""

    name: str
    K: int
    scale: float = 1.0
    values: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"DatasetSpec.name must be a non-empty string, got {self.name!r}")
        positive_int("DatasetSpec", "K", self.K)
        finite_positive("DatasetSpec", "scale", self.scale)
        if self.scale > 1:
            raise ValueError(f"DatasetSpec.scale must be in (0, 1], got {self.scale!r}")
        object.__setattr__(self, "values", dict(self.values))
        for k, v in self.values.items():
            if not (isinstance(k, str) and k.isidentifier() and is_number(v)):
                raise ValueError(f"DatasetSpec.values must map names to finite numbers, got {k!r}: {v!r}")
        if self.scale == 1:  # 1 and 1.0 name the same data (and the same seeds)
            object.__setattr__(self, "scale", 1.0)

    def __hash__(self) -> int:
        return hash((self.name, self.K, self.scale, tuple(sorted(self.values.items()))))

    @property
    def key(self) -> str:
        return slug(self.name)


@dataclass(frozen=True)
class ClusterSpec:
    """Cluster settings, built into a ``sim.cluster.Cluster`` by the runner.

    speed: kind in SPEED_KINDS with its parameters (time per unit of work, in seconds);
    straggler: kind in STRAGGLER_KINDS; ``"thesis"`` is §3.5's model (one worker delayed
    m ~ U[m_low, m_high] times with probability p), ``"slow_worker"`` one persistently slow worker
    (``{"worker": 0, "factor": 5}``); network latency and per-byte cost (the memory system under
    shared memory) and ``channels`` (transfers at once; None = unlimited).
    """

    speed: str = "constant"
    speed_params: Mapping[str, float] = field(default_factory=lambda: {"time_per_work": 1e-6})
    straggler: str = "thesis"
    straggler_params: Mapping[str, float] = field(default_factory=lambda: {"p": 0.2, "m_low": 0.0, "m_high": 10.0})
    latency: float = 0.0
    per_byte: float = 0.0
    channels: int | None = None

    def __post_init__(self) -> None:
        if self.speed not in SPEED_KINDS:
            raise ValueError(f"ClusterSpec.speed must be one of {SPEED_KINDS}, got {self.speed!r}")
        if self.straggler not in STRAGGLER_KINDS:
            raise ValueError(f"ClusterSpec.straggler must be one of {STRAGGLER_KINDS}, got {self.straggler!r}")
        object.__setattr__(self, "speed_params", dict(self.speed_params))
        object.__setattr__(self, "straggler_params", dict(self.straggler_params))
        finite_positive("ClusterSpec", "latency", self.latency, allow_zero=True)
        finite_positive("ClusterSpec", "per_byte", self.per_byte, allow_zero=True)
        if self.channels is not None:
            positive_int("ClusterSpec", "channels", self.channels)


@dataclass(frozen=True)
class BudgetSpec:
    """When a run stops (mirrors sim.driver.Budget): epochs, simulated seconds, server updates.

    ``max_updates`` may be an expression (e.g. ``"rounds*T"`` with ``rounds`` a study value).
    """

    max_epochs: float | None = None
    max_time: float | None = None
    max_updates: int | str | None = None
    blowup: float = 1e6

    def __post_init__(self) -> None:
        if self.max_epochs is None and self.max_time is None and self.max_updates is None:
            raise ValueError("BudgetSpec needs at least one of max_epochs, max_time, max_updates; got none")
        if self.max_epochs is not None:
            finite_positive("BudgetSpec", "max_epochs", self.max_epochs)
        if self.max_time is not None:
            finite_positive("BudgetSpec", "max_time", self.max_time)
        if isinstance(self.max_updates, str):
            check_expression("BudgetSpec.max_updates", self.max_updates)
        elif self.max_updates is not None:
            positive_int("BudgetSpec", "max_updates", self.max_updates)
        finite_positive("BudgetSpec", "blowup", self.blowup)


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
        finite_positive("Target", "value", self.value)
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
    speedup_better  at every K > 1, time speedup (eq. 3.39) of ``subject`` >= that of ``baseline``;
    lower_final     ``subject`` ends with a lower ``metric`` (default: the target metric) than
                    ``baseline`` (median over seeds, same dataset and K): "better in the long run";
                    with ``at_epoch``, at that epoch instead ("faster in the first epochs");
    speedup_linear  ``subject``'s time speedup at K is at least ``threshold`` x K (eq. 2.52: "near
                    linear") for every K <= ``up_to``; the evidence names the first K where it stops.

    ``datasets``: the dataset keys the claim speaks of (default: all). ``steps``: a :class:`StepGrid` (kinds
    faster and lower_final): the claim is also judged at each method's own best value of a stated grid and
    over the whole grid, not only at the study's choice of that hyper-parameter.
    """

    text: str
    kind: str
    subject: str
    baseline: str = ""
    threshold: float = 0.9
    ratio: float = 3.0
    metric: str = ""
    at_epoch: float | None = None
    datasets: tuple[str, ...] = ()
    up_to: int | None = None
    steps: StepGrid | None = None

    def __post_init__(self) -> None:
        if isinstance(self.steps, Mapping):  # read back from study.json
            object.__setattr__(self, "steps", StepGrid(**self.steps))
        if self.steps is not None:
            if not isinstance(self.steps, StepGrid):
                raise ValueError(f"Claim.steps must be a StepGrid or None, got {self.steps!r}")
            if self.kind not in GRID_CLAIM_KINDS:
                raise ValueError(f"Claim.steps is for kinds {GRID_CLAIM_KINDS}, got kind {self.kind!r}")
        if self.at_epoch is not None:
            finite_positive("Claim", "at_epoch", self.at_epoch)
        if not (isinstance(self.threshold, (int, float)) and 0 < self.threshold <= 1):
            raise ValueError(f"Claim.threshold must be in (0, 1] (an R^2 or a fraction of the ideal), "
                             f"got {self.threshold!r}")
        object.__setattr__(self, "datasets", tuple(self.datasets))
        if self.up_to is not None:
            positive_int("Claim", "up_to", self.up_to)
        if self.kind not in CLAIM_KINDS:
            raise ValueError(f"Claim.kind must be one of {CLAIM_KINDS}, got {self.kind!r}")
        if not self.text:
            raise ValueError("Claim.text must be a non-empty sentence, got ''")
        if self.kind in ("faster", "speedup_better", "lower_final") and not self.baseline:
            raise ValueError(f"Claim.baseline must name an algorithm key for kind {self.kind!r}, got ''")
        finite_positive("Claim", "ratio", self.ratio)


@dataclass(frozen=True)
class StepLimitSearch:
    """For each (K, T) in ``points`` (T overrides the algorithm's round length hyper-parameter
    ``round_hyper``), the largest value of hyper-parameter ``hyper`` for which a probe run is
    stable (neither diverged nor ending with ``metric`` above its first record): from ``start``
    (a :class:`FromTheorem` list, evaluated with tau bound to the staleness a first probe
    measured; the largest is used), doubling then bisecting in log scale to ``rel_tol``. A probe
    runs ``probe_updates`` (an expression) with records every round. ``quick_points`` /
    ``quick_seeds`` for --quick. ``algorithm``: the key of the study's algorithm to search (default
    its first; its run ids then read ``step-limit-<key>``)."""

    hyper: str
    points: tuple[tuple[int, int], ...]
    start: tuple[FromTheorem, ...]
    probe_updates: str
    metric: str
    quick_points: tuple[tuple[int, int], ...] = ()
    seeds: int = 1
    quick_seeds: int = 1
    rel_tol: float = 0.05
    round_hyper: str = "T"
    tau_symbol: str = "tau"
    algorithm: str = ""

    def __post_init__(self) -> None:
        for name in ("points", "quick_points"):
            pts = tuple(tuple(p) for p in getattr(self, name))
            object.__setattr__(self, name, pts)
            for p in pts:
                if len(p) != 2 or not all(isinstance(x, (int, np.integer)) and not isinstance(x, bool) and x >= 1
                                          for x in p):
                    raise ValueError(f"StepLimitSearch.{name} must hold (K, T) pairs of integers >= 1, got {p!r}")
        object.__setattr__(self, "start", tuple(self.start))
        if not self.start or not all(isinstance(f, FromTheorem) for f in self.start):
            raise ValueError(f"StepLimitSearch.start must be a non-empty tuple of FromTheorem, got {self.start!r}")
        check_expression("StepLimitSearch.probe_updates", self.probe_updates)
        positive_int("StepLimitSearch", "seeds", self.seeds)
        positive_int("StepLimitSearch", "quick_seeds", self.quick_seeds)
        if not (math.isfinite(self.rel_tol) and 0 < self.rel_tol <= 1):
            raise ValueError(f"StepLimitSearch.rel_tol must be in (0, 1], got {self.rel_tol!r}")


#: the named record schedules of a study (:func:`studies.runner.record_every`)
RECORDS = ("epoch", "round", "near_target")


def _is_record_schedule(value: object) -> bool:
    from sim.records import RecordSchedule  # here: a study that records per epoch does not import sim

    return isinstance(value, RecordSchedule)


@dataclass(frozen=True)
class StudySpec:
    """A registered experiment: thesis reference, claim, problem, data, algorithms, cluster, grid.

    ``parameters`` / ``test_parameters`` map grid keys (GRID_KEYS) to tuples of values:
    ``dataset`` (DatasetSpec values; default ``datasets``), ``K`` (overrides each dataset's K),
    ``max_epochs`` / ``max_time`` (override ``budget``). ``problem`` is a problem registry name
    built with ``lam`` and ``problem_kw`` (values may be expressions in n, d and ``values``).
    ``bindings``: theorems checked on every matching run (:mod:`studies.bindings`). ``probes``:
    the metrics to record (default: each algorithm's). ``records``: ``"epoch"`` (about
    ``records_per_epoch`` per epoch), ``"round"`` (at every round boundary), ``"near_target"`` (the
    ``"epoch"`` grid, dense only near the target: :class:`sim.records.NearTarget` with ratio 1.5 and
    margin 10; for studies judged on time to target: the same stops and times, fewer records) or a
    :mod:`sim.records` schedule (``EveryMessages(n)``, ``Geometric(start, ratio, axis)``: O(log) records;
    ``NearTarget(ratio=, margin=)`` on the ``"epoch"`` grid). ``values``: named
    numbers for expressions (``quick_values`` override them at quick size; so does
    ``quick_seeds`` the number of repetitions). ``stop_at_target``: stop a run at the target.
    ``analyses``: extra analyses of the results (:mod:`studies.analyses`); ``searches``:
    step-limit searches (:class:`StepLimitSearch`). ``figure_metrics``: the metrics the report draws
    against time and epochs (default: the target metric).
    """

    name: str
    title: str
    thesis_ref: str
    claim: str
    problem: str
    lam: float
    datasets: tuple[DatasetSpec, ...]
    algorithms: tuple[AlgorithmSpec, ...]
    cluster: Any
    budget: BudgetSpec
    target: Target
    seeds: int = 1
    parameters: Mapping[str, tuple] = field(default_factory=dict)
    test_parameters: Mapping[str, tuple] = field(default_factory=dict)
    claims: tuple[Claim, ...] = ()
    problem_kw: Mapping[str, Any] = field(default_factory=dict)
    records_per_epoch: float = 10.0
    x_axis: str = "sim_time"
    notes: str = ""
    bindings: tuple[TheoremBinding, ...] = ()
    probes: tuple[str, ...] | None = None
    records: Any = "epoch"
    values: Mapping[str, float] = field(default_factory=dict)
    quick_values: Mapping[str, float] = field(default_factory=dict)
    quick_seeds: int | None = None
    stop_at_target: bool = True
    analyses: tuple = ()
    searches: tuple[StepLimitSearch, ...] = ()
    figure_metrics: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not ID_SAFE.match(self.name or ""):
            raise ValueError(f"StudySpec.name must match [A-Za-z0-9_.+-]+, got {self.name!r}")
        for f in ("title", "thesis_ref", "claim"):
            if not isinstance(getattr(self, f), str) or not getattr(self, f):
                raise ValueError(f"StudySpec.{f} must be a non-empty string, got {getattr(self, f)!r}")
        from algorithms.probes import PROBES
        from algorithms.registry import ALGORITHMS, PROBLEMS, hyper_parameters

        if self.problem not in PROBLEMS:
            raise ValueError(f"StudySpec.problem must be a registered problem, one of {sorted(PROBLEMS)}, "
                             f"got {self.problem!r}")
        finite_positive("StudySpec", "lam", self.lam)
        object.__setattr__(self, "datasets", tuple(self.datasets))
        object.__setattr__(self, "algorithms", tuple(self.algorithms))
        object.__setattr__(self, "claims", tuple(self.claims))
        if not self.datasets or not all(isinstance(d, DatasetSpec) for d in self.datasets):
            raise ValueError(f"StudySpec.datasets must be a non-empty tuple of DatasetSpec, got {self.datasets!r}")
        if not self.algorithms or not all(isinstance(a, AlgorithmSpec) for a in self.algorithms):
            raise ValueError(
                f"StudySpec.algorithms must be a non-empty tuple of AlgorithmSpec, got {self.algorithms!r}")
        for a in self.algorithms:
            if a.name not in ALGORITHMS:
                raise ValueError(f"StudySpec.algorithms: {a.label!r} names algorithm {a.name!r}; registered "
                                 f"algorithms are {sorted(ALGORITHMS)}")
            unknown = sorted(set(a.hyper) - set(hyper_parameters(a.name)))
            if unknown:
                raise ValueError(f"StudySpec.algorithms: {a.label!r} gives hyper-parameter(s) {unknown} that "
                                 f"{a.name!r} does not take; it takes {list(hyper_parameters(a.name))}")
        keys = [a.key for a in self.algorithms]
        if len(set(keys)) != len(keys):
            raise ValueError(f"StudySpec.algorithms labels must be distinct after slugging, got {keys}")
        if not (isinstance(self.cluster, ClusterSpec) or callable(self.cluster)):
            raise ValueError(f"StudySpec.cluster must be a ClusterSpec or a function K -> sim.Cluster, "
                             f"got {self.cluster!r}")
        if not isinstance(self.budget, BudgetSpec):
            raise ValueError(f"StudySpec.budget must be a BudgetSpec, got {self.budget!r}")
        if not isinstance(self.target, Target):
            raise ValueError(f"StudySpec.target must be a Target, got {self.target!r}")
        positive_int("StudySpec", "seeds", self.seeds)
        if self.quick_seeds is not None:
            positive_int("StudySpec", "quick_seeds", self.quick_seeds)
        finite_positive("StudySpec", "records_per_epoch", self.records_per_epoch)
        if self.x_axis not in ("sim_time", "epoch"):
            raise ValueError(f"StudySpec.x_axis must be 'sim_time' or 'epoch', got {self.x_axis!r}")
        if isinstance(self.records, str) or not _is_record_schedule(self.records):
            if self.records not in RECORDS:
                raise ValueError(f"StudySpec.records must be 'epoch', 'round', 'near_target' or a sim.records schedule "
                                 f"(EveryMessages(n), Geometric(start, ratio, axis), NearTarget(every, ratio, margin)), got {self.records!r}")
        if self.records == "near_target":
            why = near_target_unfit(self.claims, self.stop_at_target)
            if why is not None:
                raise ValueError(f"StudySpec.records='near_target' is for studies judged on time to target: {why}")
        for gname in ("parameters", "test_parameters"):
            grid = dict(getattr(self, gname))
            object.__setattr__(self, gname, grid)
            _check_grid(f"StudySpec.{gname}", grid)
        for c in self.claims:
            for who in (c.subject, c.baseline):
                if who and not any(k.startswith(who) for k in keys):
                    raise ValueError(f"StudySpec.claims subject/baseline must prefix an algorithm key "
                                     f"(keys: {keys}), got {who!r}")
            if c.steps is not None:
                takes = [a.key for a in self.algorithms if c.steps.hyper in a.hyper
                         and not isinstance(a.hyper[c.steps.hyper], Sweep)
                         and any(c.steps.values_for(a.key, tuple(keys), q) for q in (False, True))]
                if not takes:
                    raise ValueError(f"StudySpec.claims: {c.text[:40]!r} has a StepGrid over {c.steps.hyper!r}, "
                                     f"which no algorithm it gives values for takes (keys: {keys})")
                known = {d.key for d in self.datasets} | {d.key for g in (self.parameters, self.test_parameters)
                                                          for d in dict(g).get("dataset", ())}
                bad = sorted(set(c.steps.quick_datasets or ()) - known)
                if bad:
                    raise ValueError(f"StudySpec.claims: {c.text[:40]!r} has StepGrid.quick_datasets {bad}, which "
                                     f"are not dataset keys of the study ({sorted(known)})")
        object.__setattr__(self, "problem_kw", dict(self.problem_kw))
        for k, v in self.problem_kw.items():
            if isinstance(v, str):
                check_expression(f"StudySpec.problem_kw[{k!r}]", v)
        object.__setattr__(self, "bindings", tuple(self.bindings))
        if not all(isinstance(b, TheoremBinding) for b in self.bindings):
            raise ValueError(f"StudySpec.bindings must be a tuple of TheoremBinding, got {self.bindings!r}")
        if self.probes is not None:
            object.__setattr__(self, "probes", tuple(self.probes))
            bad = [p for p in self.probes if p not in PROBES]
            if bad:
                raise ValueError(f"StudySpec.probes must be registered probes {sorted(PROBES)}, got {bad}")
            for c in self.claims:
                if c.metric and c.metric not in self.probes:
                    raise ValueError(f"StudySpec.claims: {c.text[:40]!r} judges metric {c.metric!r}, which the "
                                     f"study does not record (probes: {list(self.probes)})")
            if self.stop_at_target and self.target.metric not in self.probes:
                raise ValueError(f"StudySpec.probes must include the target metric {self.target.metric!r}, "
                                 f"got {self.probes!r}")
        for name in ("values", "quick_values"):
            vals = dict(getattr(self, name))
            object.__setattr__(self, name, vals)
            for k, v in vals.items():
                if not (isinstance(k, str) and k.isidentifier() and is_number(v)):
                    raise ValueError(f"StudySpec.{name} must map names to finite numbers, got {k!r}: {v!r}")
        object.__setattr__(self, "analyses", tuple(self.analyses))
        object.__setattr__(self, "searches", tuple(self.searches))
        object.__setattr__(self, "figure_metrics", tuple(self.figure_metrics))
        if self.probes is not None and not set(self.figure_metrics) <= set(self.probes):
            raise ValueError(f"StudySpec.figure_metrics must be among the recorded probes {self.probes!r}, "
                             f"got {self.figure_metrics!r}")
        if not all(isinstance(s, StepLimitSearch) for s in self.searches):
            raise ValueError(f"StudySpec.searches must be a tuple of StepLimitSearch, got {self.searches!r}")

    def grid(self, quick: bool) -> dict[str, tuple]:
        """The grid used for a run: ``test_parameters`` if quick else ``parameters``."""
        return dict(self.test_parameters if quick else self.parameters)

    def study_values(self, quick: bool) -> dict[str, float]:
        """The named values of a run at this size."""
        return {**self.values, **(self.quick_values if quick else {})}

    def n_seeds(self, quick: bool) -> int:
        return self.quick_seeds if quick and self.quick_seeds is not None else self.seeds


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
                positive_int(owner, "K", v)
            if k in ("max_epochs", "max_time"):
                finite_positive(owner, k, v)


# The planning half of the specs (tasks, run ids, seeds, expansion) lives in studies.plan; it is
# re-exported here, lazily, so that ``from studies.spec import expand`` keeps working whichever of the
# two modules is imported first (a process that unpickles a Task imports studies.plan first).
_PLAN_NAMES = ("Task", "derive_seeds", "expand", "run_id")


def __getattr__(name: str):
    if name in _PLAN_NAMES:
        from . import plan

        return getattr(plan, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = ["AlgorithmSpec", "BudgetSpec", "CLAIM_KINDS", "Claim", "ClusterSpec", "DatasetSpec", "FromTheorem",
           "GRID_CLAIM_KINDS", "GRID_KEYS", "HYPER_TYPES", "StepGrid", "log_grid", "RESERVED_PARAMS", "SPEED_KINDS", "STRAGGLER_KINDS", "StepLimitSearch",
           "StudySpec", "Sweep", "TUNE_RULES", "Target", "Task", "Tune", "check_expression",
           "derive_seeds", "describe_value", "eval_expression", "expand", "run_id", "slug", "value_label"]
