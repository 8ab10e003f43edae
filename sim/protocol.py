"""What the simpy protocols share: their wiring, stopping, and the barrier phase."""
from __future__ import annotations

from typing import Callable

import numpy as np
import simpy

from sim.cluster import ClusterClock
from sim.trace import BARRIER, IN_FLIGHT, TraceBuilder


class ProtocolProcesses:
    """Base of the protocol drivers; numbers stay in the roles, times in the clock."""

    def __init__(self, env: simpy.Environment, roles, clock: ClusterClock, run, builder: TraceBuilder,
                 rngs: list[np.random.Generator], stop: simpy.Event) -> None:
        self.env, self.roles, self.clock, self.run, self.trace = env, roles, clock, run, builder
        self.rngs, self.stop = rngs, stop
        self.K = roles.K
        self.R = roles.round_length
        # worker -> (version_read, t_read, t_done, t_arrival, work) of a message computed but not yet applied
        self.in_flight: dict[int, tuple[int, float, float, float, float]] = {}

    def record_in_flight(self) -> None:
        """Log the reads still in flight at the stop (their ``work`` already ran), in worker order."""
        for k in sorted(self.in_flight):
            v, t_read, t_done, t_arr, work = self.in_flight[k]
            self.trace.append(IN_FLIGHT, k, v, -1, t_read, t_done, t_arr, work)

    def halt(self, why: Callable[[], None]) -> None:
        if not self.run.done:
            why()
        self._finish()

    def _finish(self) -> None:
        if not self.stop.triggered:
            self.stop.succeed()

    def _barrier_phase(self, t: float) -> float:
        """``roles.barrier()`` at time t, logged; returns when its phase ends.

        The phase lasts as long as the slowest worker's computation of its
        share of the barrier work (e.g. SVRG's full gradient).
        """
        work = self.roles.barrier()
        total = self.run.barrier(work, t)
        t_end = self.clock.barrier_end(t, np.asarray(work, dtype=np.float64))
        v = self.run.version
        self.trace.append(BARRIER, -1, v, v, t, t_end, t_end, total)
        return t_end
