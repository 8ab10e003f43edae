"""What the simpy protocols share: their wiring, stopping, and the barrier phase."""
from __future__ import annotations

from typing import Callable

import numpy as np
import simpy

from sim.cluster import ClusterClock
from sim.trace import BARRIER, TraceBuilder


class ProtocolProcesses:
    """Base of the protocol drivers; numbers stay in the roles, times in the clock."""

    def __init__(self, env: simpy.Environment, roles, clock: ClusterClock, run, builder: TraceBuilder,
                 rngs: list[np.random.Generator], stop: simpy.Event) -> None:
        self.env, self.roles, self.clock, self.run, self.trace = env, roles, clock, run, builder
        self.rngs, self.stop = rngs, stop
        self.K = roles.K
        self.R = roles.round_length

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
