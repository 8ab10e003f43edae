"""When a run records its metrics: record schedules for :func:`sim.simulate` and :func:`sim.replay`.

A record evaluates every probe of the run (a full pass over the data or more), so how often a run
records decides much of its cost. ``record_every`` takes:

- an integer N: every N versions (a version is one applied message, or one synchronous round), as
  always;
- :class:`EveryMessages` (N): every N workers' messages, whatever the protocol (a synchronous
  round of K messages is one version, so it records every max(1, N // K) rounds);
- :class:`Geometric` (start, ratio, axis): at the first version at or past each of
  start, start * ratio, start * ratio^2, ... on the axis ``"sim_time"``, ``"epoch"`` or ``"version"``:
  O(log) records over a run, as dense early (where curves fall fast) as late on a log axis.
- :class:`NearTarget` (every, ratio, margin): on the grid of every ``every`` versions, but only at
  geometrically spaced grid points until the target metric comes within ``margin`` (or the drop the
  curve's own pace predicts) of the target, then at every grid point: the run stops at the same version,
  with the same time to target and the same final iterate as with ``every`` alone, for a fraction of the
  records.

A schedule's due function may also have a method ``observe(values, target)``, which :class:`sim.driver.RunState`
calls after each record with the recorded metrics (name -> value) and the run's target ((metric, value) or
None); :class:`NearTarget` uses it.

Every schedule also records version 0 and the run's last version (the stop: target reached,
divergence or the budget), as :class:`sim.driver.RunState` always does. The target and divergence are
checked at records, so a sparse schedule detects them later (at most one schedule step).
"""
from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Callable

import numpy as np

#: axes a :class:`Geometric` schedule may step along
AXES = ("sim_time", "epoch", "version")


class RecordSchedule(ABC):
    """Abstract base of record schedules (a subclass defines :meth:`due_function`): ``due_function(roles, protocol)`` returns, for one run, a function
    ``due(version, t, epochs) -> bool`` called once per applied version (it may keep state).

    The function may also have a method ``first(versions, ts, epochs) -> int``: given the next
    applied versions in order (arrays), the index of the first one due (-1 if none), consuming the
    schedule's state exactly as calling ``due`` on each in turn up to that one would. The fast replay
    (:func:`first_due`) uses it to find record points without a Python call per message.
    """

    @abstractmethod
    def due_function(self, roles, protocol) -> Callable[[int, float, float], bool]:
        """The ``due(version, t, epochs)`` function of one run (see the class docstring)."""


@dataclass(frozen=True)
class EveryMessages(RecordSchedule):
    """Record every ``n`` workers' messages (every max(1, n // m) versions, m messages per version)."""

    n: int

    def __post_init__(self) -> None:
        if isinstance(self.n, bool) or not isinstance(self.n, (int, np.integer)) or self.n < 1:
            raise ValueError(f"EveryMessages.n must be an integer >= 1, got {self.n!r}")

    def versions(self, roles, protocol) -> int:
        return max(1, int(self.n) // int(protocol.messages_per_version(roles)))

    def due_function(self, roles, protocol) -> Callable[[int, float, float], bool]:
        return _EveryVersions(self.versions(roles, protocol))


@dataclass(frozen=True)
class Geometric(RecordSchedule):
    """Record at the first version at or past start * ratio^j (j = 0, 1, ...) on ``axis``."""

    start: float
    ratio: float = 1.25
    axis: str = "sim_time"

    def __post_init__(self) -> None:
        for name, lo in (("start", 0.0), ("ratio", 1.0)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) \
                    or not math.isfinite(v) or v <= lo:
                raise ValueError(f"Geometric.{name} must be a finite number > {lo:g}, got {v!r}")
        if self.axis not in AXES:
            raise ValueError(f"Geometric.axis must be one of {AXES}, got {self.axis!r}")

    def due_function(self, roles, protocol) -> Callable[[int, float, float], bool]:
        return _GeometricDue(float(self.start), float(self.ratio), AXES.index(self.axis))


@dataclass(frozen=True)
class NearTarget(RecordSchedule):
    """Records on the grid of every ``every`` versions, dense only where the target can be crossed.

    Far from the target a record is taken at grid points 1, ratio, ratio^2, ... (the first grid point
    at or past each; version 0 always); after each record the schedule compares the target metric v with
    the target value v* and switches to *every* grid point, for the rest of the run, once
    ``v <= v* * max(margin, (q ** ratio) ** 2)`` where q = (previous recorded value) / v is the drop over
    the last sparse interval: under a linear rate the next interval, ``ratio`` times longer, drops by
    q ** ratio, so the switch comes at least two predicted intervals before the crossing. It also switches
    once the target metric rises above twice its lowest recorded value: a run that starts to diverge is
    then watched at every grid point, as the plain grid would.

    Hence the run's first record at or below the target -- its stop, its time to target and its final
    iterate -- is the one the plain grid (``record_every=every``) gives, whenever the metric does not fall
    faster than predicted; the records are a subset of the grid's, equal where both record. A run that
    stops (target or divergence) at a record that followed skipped grid points says so
    (``SimResult.stopped_by`` is ``"target_sparse"`` or ``"diverged_sparse"``): its stop is then known
    only to within that sparse interval (:mod:`studies.runner` runs it again on the plain grid). A run
    without a target (or whose target value is <= 0) records at every grid point (the margin test cannot
    be made).

    ``every=None`` takes the grid from the caller: a study's ``records_per_epoch`` (studies.runner).
    """

    every: int | None = None
    ratio: float = 1.5
    margin: float = 10.0

    def __post_init__(self) -> None:
        if self.every is not None and (isinstance(self.every, bool) or not isinstance(self.every, (int, np.integer))
                                       or self.every < 1):
            raise ValueError(f"NearTarget.every must be None or an integer >= 1, got {self.every!r}")
        for name, lo in (("ratio", 1.0), ("margin", 1.0)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) \
                    or not math.isfinite(v) or v <= lo:
                raise ValueError(f"NearTarget.{name} must be a finite number > {lo:g}, got {v!r}")

    def on_grid(self, every: int) -> "NearTarget":
        """This schedule on the grid of ``every`` versions (when ``every`` was left None)."""
        return self if self.every is not None else NearTarget(int(every), self.ratio, self.margin)

    def due_function(self, roles, protocol) -> Callable[[int, float, float], bool]:
        if self.every is None:
            raise ValueError("NearTarget.every is None: give the grid (NearTarget(every=N)) or let a study "
                             "set it from its records_per_epoch")
        return _NearTargetDue(int(self.every), float(self.ratio), float(self.margin))


class _NearTargetDue:
    """due(version, t, epochs) of :class:`NearTarget`; ``observe`` switches it to the dense grid."""

    def __init__(self, every: int, ratio: float, margin: float) -> None:
        self.every, self.ratio, self.margin = every, ratio, margin
        self.k_next = 1.0  # the next grid point (index k = version // every) due while sparse
        self.k_last = 0  # the grid index of the last record (version 0 is always one)
        self.near = False
        self.last: float | None = None  # the target metric at the last record, and its lowest so far
        self.best = math.inf
        self.sparse_stop = False  # the target was reached at a record after skipped grid points
        self.skipped = False  # grid points were skipped right before the last record taken

    def _take(self, k: int) -> None:
        self.skipped = k - self.k_last > 1
        self.k_last = k
        while self.k_next <= k:
            self.k_next *= self.ratio

    def __call__(self, version: int, t: float, epochs: float) -> bool:
        if version % self.every:
            return False
        k = version // self.every
        if self.near or k >= self.k_next:
            self._take(k)
            return True
        return False

    def first(self, versions: np.ndarray, ts: np.ndarray, epochs: np.ndarray) -> int:
        versions = np.asarray(versions)
        ok = versions % self.every == 0
        if not self.near:
            ok &= versions // self.every >= self.k_next
        hit = np.flatnonzero(ok)
        if not hit.size:
            return -1
        i = int(hit[0])
        self._take(int(versions[i]) // self.every)
        return i

    def observe(self, values: dict, target: tuple[str, float] | None) -> None:
        if self.near:
            return
        if target is None or target[0] not in values or not target[1] > 0:
            self.near = True  # no margin test possible: the plain grid
            return
        v, goal = float(values[target[0]]), float(target[1])
        if v <= goal:
            self.sparse_stop = self.skipped
            return
        rising = not v <= 2.0 * self.best  # NaN rises too
        q = self.last / v if self.last is not None and v > 0 and self.last > v else 1.0
        with np.errstate(over="ignore"):
            predicted = float(np.float64(q) ** self.ratio)
        self.last, self.best = v, min(self.best, v)
        if rising or v <= goal * max(self.margin, predicted * predicted):  # inf (overflow): dense
            self.near = True


class _EveryVersions:
    """due(version, t, epochs): version is a multiple of ``every`` (stateless)."""

    def __init__(self, every: int) -> None:
        self.every = int(every)

    def __call__(self, version: int, t: float, epochs: float) -> bool:
        return version % self.every == 0

    def first(self, versions: np.ndarray, ts: np.ndarray, epochs: np.ndarray) -> int:
        if not len(versions):
            return -1
        idx = (-int(versions[0])) % self.every  # the first multiple at or past versions[0] (consecutive versions)
        return idx if idx < len(versions) and versions[idx] % self.every == 0 else -1


class _GeometricDue:
    """due(version, t, epochs) of :class:`Geometric`: the state is the next threshold start * ratio^j."""

    def __init__(self, start: float, ratio: float, pick: int) -> None:
        self.start, self.ratio, self.pick = start, ratio, pick
        self.j, self.next = 0, start

    def __call__(self, version: int, t: float, epochs: float) -> bool:
        x = (t, epochs, version)[self.pick]
        if x < self.next:  # not due: the state does not change
            return False
        j = self.j
        while self.start * self.ratio ** j <= x:  # the next threshold strictly past x (from j: no drift)
            j += 1
        self.j, self.next = j, self.start * self.ratio ** j
        return True

    def first(self, versions: np.ndarray, ts: np.ndarray, epochs: np.ndarray) -> int:
        x = (ts, epochs, versions)[self.pick]
        hit = np.flatnonzero(~(np.asarray(x) < self.next))  # as __call__: NaN counts as due
        if not hit.size:
            return -1
        i = int(hit[0])
        self(versions[i].item(), ts[i].item(), epochs[i].item())  # advance the state as the call at i would
        return i


def first_due(due: Callable[[int, float, float], bool], versions: np.ndarray, ts: np.ndarray,
              epochs: np.ndarray) -> int:
    """Index of the first of the next applied versions at which ``due`` says record (-1 if none), having
    consulted ``due`` once per version in order up to it (its ``first`` method when it has one)."""
    first = getattr(due, "first", None)
    if first is not None:
        return int(first(versions, ts, epochs))
    for i in range(len(versions)):
        if due(versions[i].item(), ts[i].item(), epochs[i].item()):
            return i
    return -1


def check_schedule(record_every: object) -> None:
    """ValueError unless ``record_every`` is an integer >= 1 or a :class:`RecordSchedule`."""
    if isinstance(record_every, RecordSchedule):
        return
    if isinstance(record_every, bool) or not isinstance(record_every, (int, np.integer)) or record_every < 1:
        raise ValueError(f"record_every must be an integer >= 1 or a sim.records schedule (EveryMessages, "
                         f"Geometric, NearTarget), got {record_every!r}")


__all__ = ["AXES", "EveryMessages", "Geometric", "NearTarget", "RecordSchedule", "check_schedule", "first_due"]
