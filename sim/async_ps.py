"""Asynchronous parameter server in simpy (thesis Alg. 6 server / Alg. 7 workers, Fig. 5).

Worker k loops: it is granted a read (server version v, params = roles.read()),
computes its message at once (``roles.work(k, params, rng_k)``, numerics only),
then waits for the time the cluster says this takes -- downlink of the params,
computation of ``msg.work`` units, uplink of ``msg.nbytes`` -- in one timeout.
On arrival the server applies it (eq. 3.5, version v -> v + 1) and replies
with fresh params. Round gating (``round_length`` = T of Alg. 6): at most T
reads per round; when T messages have been applied the round ends with
``roles.barrier()`` (the broadcast ``w^{s+1,0} = w^{s,T}``), a phase lasting
the slowest worker's compute time for its barrier work, after which waiting
workers are granted reads in request order. Hence staleness <= T - 1
(Assumption 3.4.2 with tau = T - 1).
"""
from __future__ import annotations

from collections import deque

import simpy

from sim.protocol import ProtocolProcesses
from sim.trace import MESSAGE


class AsyncParameterServer(ProtocolProcesses):
    """The async protocol's processes: one per worker, plus the server's barriers."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.reads_in_round = 0
        self.waiting: deque[int] = deque()
        self.granted: list[tuple | None] = [None] * self.K
        self.wake: list[simpy.Event | None] = [None] * self.K

    # --- control ------------------------------------------------------------
    def start(self) -> None:
        self.waiting.extend(range(self.K))
        for k in range(self.K):
            self.env.process(self._worker(k))
        self.env.process(self._barrier(0.0))

    # --- server ---------------------------------------------------------------
    def _grant(self, k: int, t: float) -> None:
        self.reads_in_round += 1
        self.granted[k] = (self.roles.read(), self.run.version, t)
        ev = self.wake[k]
        if ev is not None:
            self.wake[k] = None
            ev.succeed()

    def _request(self, k: int, t: float) -> None:
        if self.R is None or self.reads_in_round < self.R:
            self._grant(k, t)
        else:
            self.waiting.append(k)

    def _apply(self, k: int, msg, v_read: int, t_read: float, t_done: float, t_arr: float) -> None:
        del self.in_flight[k]
        self.roles.apply(k, msg)
        run = self.run
        self.trace.append(MESSAGE, k, v_read, run.version + 1, t_read, t_done, t_arr, msg.work)
        run.applied(float(msg.work), run.finite(msg.payload), t_arr)
        if run.done:
            self._finish()
            return
        if self.R is not None and run.version % self.R == 0:
            self.waiting.append(k)
            self.env.process(self._barrier(t_arr))
        else:
            self._request(k, t_arr)

    def _barrier(self, t: float):
        """Round boundary: roles.barrier(), a phase as long as the slowest worker, then reads."""
        t_end = self._barrier_phase(t)
        if self.run.done:
            self._finish()
            return
        if t_end > t:
            yield self.env.timeout(max(0.0, t_end - self.env.now))
            if self.run.done:
                return
        self.reads_in_round = 0
        while self.waiting and (self.R is None or self.reads_in_round < self.R):
            self._grant(self.waiting.popleft(), t_end)

    # --- workers --------------------------------------------------------------
    def _worker(self, k: int):
        roles, clock, rng, run, env = self.roles, self.clock, self.rngs[k], self.run, self.env
        while True:
            if self.granted[k] is None:
                ev = self.wake[k] = env.event()
                yield ev
                if run.done:
                    return
            params, v_read, t_read = self.granted[k]
            self.granted[k] = None
            msg = roles.work(k, params, rng)
            t_start = t_read + clock.downlink(k, params.nbytes)
            t_done = clock.done(k, t_start, float(msg.work))
            t_arr = t_done + clock.uplink(k, int(msg.nbytes))
            self.in_flight[k] = (v_read, t_read, t_done, t_arr, float(msg.work))
            yield env.timeout(max(0.0, t_arr - env.now))
            if run.done or run.beyond_time(t_arr):
                return
            self._apply(k, msg, v_read, t_read, t_done, t_arr)
