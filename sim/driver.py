"""``simulate``: drive roles through a simulated cluster; budgets, records and results.

The bookkeeping shared by the simulator and :func:`sim.replay.replay`
(versions, cumulative work, metric records, stop conditions, divergence) is
:class:`RunState`, so both make the same calls in the same order and their
records agree bit for bit.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import simpy

from algorithms.roles import worker_streams
from sim.blas import one_blas_thread
from sim.cluster import Cluster, Distribution
from sim.records import RecordSchedule, check_schedule, first_due
from sim.trace import Trace, TraceBuilder

Record = tuple[int, float, float, str, float]
STATUSES = ("finished", "target_reached", "diverged")


def _opt_number(name: str, value: object, *, integer: bool = False) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a number > 0 or None, got {value!r}")
    if integer and int(value) != value:
        raise ValueError(f"{name} must be an integer >= 1 or None, got {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0 or None, got {value!r}")


@dataclass(frozen=True)
class Budget:
    """When a run stops: after ``max_updates`` server versions, ``max_time`` simulated
    seconds or ``max_epochs`` epochs (at least one is required), or once a recorded
    metric reaches ``target = (metric, value)`` (metric <= value). A recorded
    objective above ``blowup * max(1, |objective at version 0|)`` counts as divergence.
    """

    max_updates: int | None = None
    max_time: float | None = None
    max_epochs: float | None = None
    target: tuple[str, float] | None = None
    blowup: float = 1e6

    def __post_init__(self) -> None:
        _opt_number("max_updates", self.max_updates, integer=True)
        _opt_number("max_time", self.max_time)
        _opt_number("max_epochs", self.max_epochs)
        if self.max_updates is None and self.max_time is None and self.max_epochs is None:
            raise ValueError("Budget needs at least one of max_updates, max_time, max_epochs; got all None")
        check_target(self.target)
        _opt_number("blowup", self.blowup)


def check_target(target: object) -> None:
    if target is None:
        return
    ok = (isinstance(target, tuple) and len(target) == 2 and isinstance(target[0], str)
          and isinstance(target[1], (int, float, np.integer, np.floating)) and not isinstance(target[1], bool)
          and math.isfinite(target[1]))
    if not ok:
        raise ValueError(f"target must be None or a (metric_name, finite value) tuple, got {target!r}")


@dataclass(frozen=True, eq=False)
class SimResult:
    """Outcome of a run: status ("finished" | "target_reached" | "diverged"), final server
    version ``step``, ``sim_time``, ``epochs``, long-format ``records`` rows
    (step, sim_time, epoch, metric, value), the ``trace``, final ``params`` and
    ``diverged_at`` (step or None). ``stopped_by`` names the condition that ended it.
    """

    status: str
    step: int
    sim_time: float
    epochs: float
    records: tuple[Record, ...]
    trace: Trace
    params: np.ndarray
    diverged_at: int | None
    stopped_by: str

    def records_frame(self):
        """The records as a pandas DataFrame (columns step, sim_time, epoch, metric, value)."""
        import pandas as pd

        return pd.DataFrame(list(self.records), columns=["step", "sim_time", "epoch", "metric", "value"])


def payload_finite(payload: np.ndarray) -> bool:
    """True when every entry is finite. Fast path: a non-finite entry makes p.p non-finite,
    so a finite dot product settles it; overflow falls back to the exact elementwise test."""
    if payload.ndim == 1 and payload.dtype == np.float64 and math.isfinite(payload.dot(payload)):
        return True
    return bool(np.isfinite(payload).all())


class RunState:
    """Versions, work, records and stop conditions of one run (shared by simulate and replay)."""

    def __init__(self, roles, *, record_every: int | RecordSchedule, budget: Budget | None = None,
                 blowup: float = 1e6, target: tuple[str, float] | None = None,
                 progress: Callable[[float], None] | None = None) -> None:
        self.roles = roles
        self.record_every, self._due = (1, record_every.due_function(roles, check_roles(roles))) \
            if isinstance(record_every, RecordSchedule) else (int(record_every), None)
        self.budget = budget
        self.blowup = budget.blowup if budget is not None else blowup
        self.target = budget.target if budget is not None else target
        self.progress = progress
        self.epoch_work = float(roles.epoch_work)
        self.version = 0
        self.work = 0.0
        self.records: list[Record] = []
        self.status = "finished"
        self.stopped_by = "end_of_trace"
        self.diverged_at: int | None = None
        self.done = False
        self.t_end = 0.0
        self._obj0: float | None = None
        self._last_recorded = -1
        self._percent = -1

    finite = staticmethod(payload_finite)

    @property
    def epochs(self) -> float:
        return self.work / self.epoch_work

    def _stop(self, status: str, by: str, t: float) -> None:
        self.done = True
        self.status, self.stopped_by, self.t_end = status, by, t

    def record(self, t: float) -> None:
        """Append roles.metrics() rows at the current version; detect divergence and the target."""
        metrics = self.roles.metrics()
        step, epoch = self.version, self.epochs
        self.records.extend((step, t, epoch, name, float(v)) for name, v in metrics.items())
        self._last_recorded = step
        values = {name: float(v) for name, v in metrics.items()}
        obj = values.get("objective")
        if obj is not None and self._obj0 is None:
            self._obj0 = obj
        blown = obj is not None and obj > self.blowup * max(1.0, abs(self._obj0))
        if not all(math.isfinite(v) for v in values.values()) or blown:
            self.diverged_at = step
            self._stop("diverged", "diverged_sparse" if getattr(self._due, "skipped", False) else "diverged", t)
        else:
            observe = getattr(self._due, "observe", None)
            if observe is not None:
                observe(values, self.target)
            if self.target is not None and self.target[0] in values and values[self.target[0]] <= self.target[1]:
                self._stop("target_reached", "target_sparse" if getattr(self._due, "sparse_stop", False) else "target", t)

    def begin(self) -> None:
        self.record(0.0)
        self.tick(0.0)

    def applied(self, work: float, finite: bool, t: float, *, due: bool | None = None) -> None:
        """A message (async) or a round (sync) was applied at time t: the version advances.
        ``due``: whether a record is due, when the caller already asked the schedule (:meth:`first_record`)."""
        self.version += 1
        self.work += work
        if not finite:
            self.record(t)
            self.diverged_at = self.version
            self._stop("diverged", "diverged", t)
            return
        if due is None:
            due = self.version % self.record_every == 0 if self._due is None else \
                self._due(self.version, t, self.epochs)
        if due:
            self.record(t)
            if self.done:
                return
        self._check_budget(t)
        self.tick(t)

    def first_record(self, ts: np.ndarray, work: float) -> int:
        """For the next ``len(ts)`` applied messages, each of ``work``, arriving at times ``ts``: the index
        of the first at which a record is due, or -1 if none is. The schedule is consulted once per
        version in order up to that one (its state advances), with the versions and epochs
        :meth:`applied` would give it (work summed one message at a time); pass ``due=`` to those
        ``applied`` calls. The version and work do not change here."""
        n = len(ts)
        if self._due is None:
            idx = (-self.version - 1) % self.record_every
            return idx if idx < n else -1
        versions = np.arange(self.version + 1, self.version + 1 + n, dtype=np.int64)
        works = np.full(n + 1, float(work))
        works[0] = self.work
        epochs = np.add.accumulate(works)[1:] / self.epoch_work  # sequential sums: self.work += work, n times
        return first_due(self._due, versions, np.asarray(ts, dtype=np.float64), epochs)

    def barrier(self, work: np.ndarray, t: float) -> float:
        """A barrier phase with per-worker ``work`` started at t; returns its summed work."""
        work = np.asarray(work, dtype=np.float64)
        K = self.roles.K
        if work.shape != (K,):
            raise ValueError(f"roles.barrier() must return K={K} finite work values >= 0, got {work!r}")
        total = float(work.sum())
        # a finite sum has finite terms: the elementwise test runs only when the sum is not finite
        if not (math.isfinite(total) or np.all(np.isfinite(work))) or work.min() < 0:
            raise ValueError(f"roles.barrier() must return K={K} finite work values >= 0, got {work!r}")
        self.work += total
        self._check_budget(t)
        return total

    def _check_budget(self, t: float) -> None:
        b = self.budget
        if b is None or self.done:
            return
        if b.max_updates is not None and self.version >= b.max_updates:
            self._stop("finished", "max_updates", t)
        elif b.max_epochs is not None and self.epochs >= b.max_epochs:
            self._stop("finished", "max_epochs", t)

    def time_up(self, t: float) -> None:
        self._stop("finished", "max_time", t)

    def beyond_time(self, t: float) -> bool:
        return self.budget is not None and self.budget.max_time is not None and t >= self.budget.max_time

    def tick(self, t: float) -> None:
        """Report progress at most once per percent."""
        if self.progress is None or self.budget is None:
            return
        b, fracs = self.budget, []
        if b.max_updates is not None:
            fracs.append(self.version / b.max_updates)
        if b.max_time is not None:
            fracs.append(t / b.max_time)
        if b.max_epochs is not None:
            fracs.append(self.epochs / b.max_epochs)
        pct = min(100, int(100 * max(fracs)))
        if pct > self._percent:
            self._percent = pct
            self.progress(pct / 100.0)

    def end(self, t: float) -> None:
        """Final record (unless this version was just recorded) and final progress."""
        if not self.done:
            self.t_end = t
        if self._last_recorded != self.version:
            self.record(self.t_end)
        if self.progress is not None and self._percent < 100:
            self._percent = 100
            self.progress(1.0)


def check_roles(roles: object):
    """The protocol ``roles.protocol`` names, after it checked the roles (ValueError otherwise)."""
    from sim.protocols import get_protocol, protocol_names

    if not hasattr(roles, "protocol"):
        raise ValueError(f"roles must implement the role interface of a protocol (an attribute 'protocol' naming "
                         f"one of {protocol_names()}), got {type(roles).__name__}")
    try:
        proto = get_protocol(roles.protocol)
    except ValueError:
        raise ValueError(f"roles.protocol must be one of {protocol_names()}, got {roles.protocol!r}") from None
    proto.check_roles(roles)
    return proto


def _takes_no_time(cluster: Cluster) -> bool:
    """True when no computation or message can ever take time (non-negative draws with mean 0 are 0)."""
    def mean(x: object) -> object:  # a Distribution that does not state its mean may take time
        return getattr(x, "mean", None) if isinstance(x, Distribution) else float(x)

    net = cluster.network
    return mean(net.latency) == 0 and net.per_byte == 0 and all(mean(w.speed) == 0 for w in cluster.workers)


def check_record_every(record_every: object) -> None:
    check_schedule(record_every)


@one_blas_thread
def simulate(roles, cluster: Cluster, *, seed: int | np.random.SeedSequence, budget: Budget,
             record_every: int | RecordSchedule = 1, progress: Callable[[float], None] | None = None) -> SimResult:
    """Run ``roles`` on ``cluster`` in simpy until ``budget`` is spent.

    The protocol is the one ``roles.protocol`` names (:mod:`sim.protocols`); its module documents
    the role interface it drives. Worker k computes with ``worker_streams(seed, K)[k]``; the cluster's timing draws come
    from ``cluster_stream(seed)``. Metrics are recorded at version 0, every
    ``record_every`` versions (a sync round is one version) or as a :mod:`sim.records` schedule says,
    and at the end. BLAS runs on one thread during the call (:mod:`sim.blas`), whatever the caller set.
    """
    proto = check_roles(roles)
    if not isinstance(cluster, Cluster):
        raise ValueError(f"cluster must be a sim.cluster.Cluster, got {type(cluster).__name__}")
    proto.check_cluster(cluster, roles)
    if not isinstance(budget, Budget):
        raise ValueError(f"budget must be a sim.driver.Budget, got {budget!r}")
    check_record_every(record_every)
    if progress is not None and not callable(progress):
        raise ValueError(f"progress must be callable or None, got {progress!r}")
    if budget.max_updates is None and budget.max_epochs is None and _takes_no_time(cluster):
        # simulated time would stay at 0 forever: max_time is never reached and the run never ends
        raise ValueError(
            f"budget max_time={budget.max_time!r} can never be reached on a cluster where nothing takes time "
            "(every worker's speed and the network latency have mean 0, per_byte = 0); "
            "give max_updates or max_epochs")

    rngs = worker_streams(seed, roles.K)
    clock = cluster.clock(seed)
    run = RunState(roles, record_every=record_every, budget=budget, progress=progress)
    builder = TraceBuilder(proto.int_columns)
    env = simpy.Environment()
    stop = env.event()
    procs = proto.processes(env, roles, clock, run, builder, rngs, stop)
    if budget.max_time is not None:
        timer = env.timeout(budget.max_time)
        timer.callbacks.append(lambda _ev: procs.halt(lambda: run.time_up(float(budget.max_time))))
    run.begin()
    if not run.done:
        procs.start()
        env.run(until=stop)
        procs.record_in_flight()
    run.end(run.t_end)
    trace = builder.build(K=roles.K, protocol=proto.name, round_length=roles.round_length, t_end=run.t_end,
                          arrays=procs.arrays(), meta=proto.trace_meta(roles))
    return SimResult(run.status, run.version, run.t_end, run.epochs, tuple(run.records), trace,
                     roles.read(), run.diverged_at, run.stopped_by)
