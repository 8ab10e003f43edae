"""Synchronous rounds (CoCoA+-style, the thesis's §3.5 baseline): protocol ``"sync"``.

Role interface it drives: ``read()``, ``work(k, params, rng_k) -> Message`` (as for the async
parameter server), ``aggregate(msgs)`` (the server applies one round's messages, given in worker
order), ``barrier() -> work (K,)``, ``metrics()``; attributes ``K``, ``round_length``, ``epoch_work``.

Every round all K workers read the same server version, compute, and send; the server waits for
all K messages and aggregates them in worker order. The round lasts exactly as long as its
slowest worker: max over k of downlink_k + compute_k (+ failure downtime) + uplink_k. Each round
is one version. ``roles.barrier()`` runs before the first round and, when ``round_length`` is
set, after every ``round_length`` rounds. Trace columns as :mod:`sim.protocols.parameter_server`.
"""
from __future__ import annotations

import numpy as np

from sim.driver import payload_finite
from sim.protocols.base import check_work
from sim.protocols.parameter_server import ServerProcesses, ServerProtocol
from sim.trace import BARRIER, MESSAGE, Trace


class SyncRounds(ServerProtocol):
    """Protocol ``"sync"``: see the module docstring."""

    name = "sync"
    role_methods = ("read", "work", "aggregate", "barrier")

    def processes(self, env, roles, clock, run, builder, rngs, stop) -> "SyncProcesses":
        return SyncProcesses(env, roles, clock, run, builder, rngs, stop)

    def messages_per_version(self, roles) -> int:
        return int(roles.K)

    def applied_version(self, i: int, K: int) -> int:
        return i // K + 1

    def final_version(self, trace: Trace, body: int) -> int:
        return int(np.count_nonzero(trace.kind[:body] == MESSAGE)) // trace.K

    def validate_events(self, trace: Trace) -> None:
        R, K = trace.round_length, trace.K
        i, version = 1, 0
        while i < len(trace):
            if trace.kind[i] == BARRIER:
                if R is None or version == 0 or version % R != 0 or trace.version_applied[i] != version:
                    raise ValueError(f"row {i}: a barrier is only allowed every round_length={R} rounds, "
                                     f"here after round {version}")
                i += 1
                continue
            if R is not None and version > 0 and version % R == 0 and trace.kind[i - 1] != BARRIER:
                raise ValueError(f"row {i}: missing barrier after round {version} (round_length={R})")
            block = slice(i, i + K)
            ok = (i + K <= len(trace) and np.all(trace.kind[block] == MESSAGE)
                  and np.array_equal(trace.worker[block], np.arange(K))
                  and np.all(trace.version_read[block] == version)
                  and np.all(trace.version_applied[block] == version + 1))
            if not ok:
                raise ValueError(f"rows {i}..{i + K - 1}: a sync round must be K={K} messages from workers "
                                 f"0..K-1 in order, all reading version {version} and applied as {version + 1}")
            version += 1
            i += K

    def validate_in_flight(self, trace: Trace, body: int) -> None:
        rows = np.arange(body, len(trace))
        final = self.final_version(trace, body)
        if not (len(rows) == trace.K and np.array_equal(trace.worker[rows], np.arange(trace.K))
                and np.all(trace.version_read[rows] == final)):
            raise ValueError(f"rows {body}..{len(trace) - 1}: in-flight reads of a sync run must be one round "
                             f"of K={trace.K} reads, workers 0..K-1 in order, all of version {final}")
        super().validate_in_flight(trace, body)

    def replay(self, trace: Trace, roles, rngs, run) -> None:
        K, n, i = trace.K, trace.n_events, 0
        while i < n:
            if trace.kind[i] == BARRIER:
                check_work(trace, i, run.barrier(roles.barrier(), float(trace.t_read[i])))
                i += 1
            else:
                msgs = [(k, roles.work(k, roles.read(), rngs[k])) for k in range(K)]
                work, finite = 0.0, True
                for k, msg in msgs:
                    check_work(trace, i + k, float(msg.work))
                    work += float(msg.work)
                    finite = finite and payload_finite(msg.payload)
                roles.aggregate(msgs)
                run.applied(work, finite, float(trace.t_arrival[i: i + K].max()))
                i += K
            if run.done:
                return
        if n < len(trace):  # a round in flight at the stop: computed, never aggregated
            for k in range(K):
                check_work(trace, n + k, float(roles.work(k, roles.read(), rngs[k]).work))


class SyncProcesses(ServerProcesses):
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
                self.trace.append(MESSAGE, k, t, t_done, t_arr, msg.work, v, v + 1)
                work += float(msg.work)
                finite = finite and run.finite(msg.payload)
            run.applied(work, finite, t_round)
            t = t_round
            if not run.done and self.R is not None and run.version % self.R == 0:
                t = yield from self._barrier(t)
        self._finish()
