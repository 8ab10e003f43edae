"""Synchronous rounds in simpy (CoCoA+-style, thesis §3.5 baseline).

Every round all K workers read the same server version, compute, and send;
the server waits for all K messages and aggregates them in worker order.
The round lasts exactly as long as its slowest worker: max over k of
downlink_k + compute_k (+ failure downtime) + uplink_k. Each round is one
version. ``roles.barrier()`` runs before the first round and, when
``round_length`` is set, after every ``round_length`` rounds.
"""
from __future__ import annotations

from sim.protocol import ProtocolProcesses
from sim.trace import MESSAGE


class SyncRounds(ProtocolProcesses):
    """The sync protocol as one simpy process of rounds."""

    def start(self) -> None:
        self.env.process(self._rounds())

    def _barrier(self, t: float):
        t_end = self._barrier_phase(t)
        if not self.run.done and t_end > t:
            yield self.env.timeout(max(0.0, t_end - self.env.now))
        return t_end

    def _rounds(self):
        roles, clock, run, env, K = self.roles, self.clock, self.run, self.env, self.K
        t = yield from self._barrier(0.0)
        while not run.done:
            v = run.version
            msgs, times = [], []
            for k in range(K):
                params = roles.read()
                msg = roles.work(k, params, self.rngs[k])
                t_done = clock.done(k, t + clock.downlink(k, params.nbytes), float(msg.work))
                times.append((t_done, t_done + clock.uplink(k, int(msg.nbytes))))
                msgs.append((k, msg))
            t_round = max(a for _, a in times)
            self.in_flight = {k: (v, t, t_done, t_arr, float(msg.work))
                              for (k, msg), (t_done, t_arr) in zip(msgs, times)}
            yield env.timeout(max(0.0, t_round - env.now))
            if run.done or run.beyond_time(t_round):
                break
            self.in_flight = {}
            roles.aggregate(msgs)
            work = 0.0
            finite = True
            for (k, msg), (t_done, t_arr) in zip(msgs, times):
                self.trace.append(MESSAGE, k, v, v + 1, t, t_done, t_arr, msg.work)
                work += float(msg.work)
                finite = finite and run.finite(msg.payload)
            run.applied(work, finite, t_round)
            t = t_round
            if not run.done and self.R is not None and run.version % self.R == 0:
                t = yield from self._barrier(t)
        self._finish()
