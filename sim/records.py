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

Every schedule also records version 0 and the run's last version (the stop: target reached,
divergence or the budget), as :class:`sim.driver.RunState` always does. The target and divergence are
checked at records, so a sparse schedule detects them later (at most one schedule step).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

#: axes a :class:`Geometric` schedule may step along
AXES = ("sim_time", "epoch", "version")


class RecordSchedule:
    """Base of record schedules: ``due_function(roles, protocol)`` returns, for one run, a function
    ``due(version, t, epochs) -> bool`` called once per applied version (it may keep state)."""

    def due_function(self, roles, protocol) -> Callable[[int, float, float], bool]:
        raise NotImplementedError


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
        every = self.versions(roles, protocol)
        return lambda version, t, epochs: version % every == 0


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
        start, ratio, pick = float(self.start), float(self.ratio), AXES.index(self.axis)
        state = {"j": 0, "next": start}

        def due(version: int, t: float, epochs: float) -> bool:
            x = (t, epochs, version)[pick]
            if x < state["next"]:
                return False
            j = state["j"]
            while start * ratio ** j <= x:  # the next threshold strictly past x (from j: no drift)
                j += 1
            state["j"], state["next"] = j, start * ratio ** j
            return True

        return due


def check_schedule(record_every: object) -> None:
    """ValueError unless ``record_every`` is an integer >= 1 or a :class:`RecordSchedule`."""
    if isinstance(record_every, RecordSchedule):
        return
    if isinstance(record_every, bool) or not isinstance(record_every, (int, np.integer)) or record_every < 1:
        raise ValueError(f"record_every must be an integer >= 1 or a sim.records schedule (EveryMessages, "
                         f"Geometric), got {record_every!r}")


__all__ = ["AXES", "EveryMessages", "Geometric", "RecordSchedule", "check_schedule"]
