"""``replay``: re-run roles in a trace's recorded order, without simpy.

Given a trace (simulated, logged on a real system, or hand-made with
:meth:`sim.trace.Trace.from_schedule`), replay calls ``roles.work`` for each
message at the version it read -- after the barrier of that version, if any
-- with worker k's own stream from ``worker_streams(seed, K)``, and applies
messages in trace order. Freshly constructed roles and the same seed give
params and records bit-identical to the simulation that recorded the trace
(records take sim_time from the trace; epochs from the roles' reported work).
Reads still in flight when the recording run stopped (``IN_FLIGHT`` rows)
are computed at the version they read and never applied, as in the run.
Memory: at most one pending message per worker, O(K d).
"""
from __future__ import annotations

import math

import numpy as np

from algorithms.roles import Roles, worker_streams
from sim.driver import RunState, SimResult, check_target, check_record_every, check_roles, payload_finite
from sim.trace import BARRIER, MESSAGE, Trace


def replay(trace: Trace, roles: Roles, *, seed: int | np.random.SeedSequence, record_every: int = 1,
           blowup: float = 1e6, target: tuple[str, float] | None = None) -> SimResult:
    """Re-run ``roles`` on ``trace``; status "diverged"/"target_reached" end it early as in simulate."""
    if not isinstance(trace, Trace):
        raise ValueError(f"trace must be a sim.trace.Trace, got {type(trace).__name__}")
    check_roles(roles)
    if (roles.K, roles.protocol, roles.round_length) != (trace.K, trace.protocol, trace.round_length):
        raise ValueError(
            f"roles (K={roles.K}, protocol={roles.protocol!r}, round_length={roles.round_length}) do not match "
            f"the trace (K={trace.K}, protocol={trace.protocol!r}, round_length={trace.round_length})")
    check_record_every(record_every)
    if not (isinstance(blowup, (int, float)) and math.isfinite(blowup) and blowup > 0):
        raise ValueError(f"blowup must be a finite number > 0, got {blowup!r}")
    check_target(target)
    trace.validate()
    rngs = worker_streams(seed, roles.K)
    run = RunState(roles, record_every=int(record_every), blowup=float(blowup), target=target)
    run.begin()
    if not run.done and len(trace):
        (_replay_async if trace.protocol == "async" else _replay_sync)(trace, roles, rngs, run)
    run.end(trace.t_end)
    return SimResult(run.status, run.version, run.t_end, run.epochs, tuple(run.records), trace,
                     roles.read(), run.diverged_at, run.stopped_by)


def _check_work(trace: Trace, i: int, work: float) -> None:
    recorded = float(trace.work[i])
    if not math.isnan(recorded) and recorded != work:
        raise ValueError(f"trace row {i} records work {recorded!r} but the roles report {work!r}: "
                         "not the roles (or seed) that produced this trace")


def _barrier(trace: Trace, i: int, roles: Roles, run: RunState) -> None:
    total = run.barrier(roles.barrier(), float(trace.t_read[i]))
    _check_work(trace, i, total)


def _reads_after(trace: Trace) -> list[list[int]]:
    """For each row, the message (or in-flight) rows whose read is granted right after it.

    A read of version v follows the last event that leaves the server at v:
    the barrier of v if there is one, else the message that produced v.
    """
    n, body = len(trace), trace.n_events
    version = np.cumsum(trace.kind[:body] == MESSAGE)
    anchor = np.zeros(int(version[-1]) + 1, dtype=np.int64)
    np.maximum.at(anchor, version, np.arange(body))  # the last event at each version
    msg_rows = np.flatnonzero(trace.kind != BARRIER)
    at = anchor[trace.version_read[msg_rows]]
    order = np.lexsort((msg_rows, at))
    out: list[list[int]] = [[] for _ in range(n)]
    for row, a in zip(msg_rows[order].tolist(), at[order].tolist()):
        out[a].append(row)
    return out


def _replay_async(trace: Trace, roles: Roles, rngs: list[np.random.Generator], run: RunState) -> None:
    kind, worker = trace.kind.tolist(), trace.worker.tolist()
    t_arrival, recorded = trace.t_arrival.tolist(), trace.work.tolist()
    reads_after = _reads_after(trace)
    pending: list[tuple[int, object] | None] = [None] * roles.K
    work, read, apply = roles.work, roles.read, roles.apply
    for i in range(trace.n_events):
        if kind[i] == BARRIER:
            _barrier(trace, i, roles, run)
        else:
            k = worker[i]
            j, msg = pending[k]
            pending[k] = None
            if j != i:
                raise ValueError(f"trace row {i}: worker {k}'s pending read belongs to row {j}")
            w = float(msg.work)
            if w != recorded[i] and recorded[i] == recorded[i]:  # NaN = work unknown (hand-made trace)
                _check_work(trace, i, w)
            apply(k, msg)
            run.applied(w, payload_finite(msg.payload), t_arrival[i])
        if run.done:
            return
        for j in reads_after[i]:
            k = worker[j]
            pending[k] = (j, work(k, read(), rngs[k]))
    for i in range(trace.n_events, len(kind)):  # in flight at the stop: computed above, never applied
        j, msg = pending[worker[i]]
        if j != i:
            raise ValueError(f"trace row {i}: worker {worker[i]}'s pending read belongs to row {j}")
        _check_work(trace, i, float(msg.work))


def _replay_sync(trace: Trace, roles: Roles, rngs: list[np.random.Generator], run: RunState) -> None:
    K, n, i = trace.K, trace.n_events, 0
    while i < n:
        if trace.kind[i] == BARRIER:
            _barrier(trace, i, roles, run)
            i += 1
        else:
            msgs = [(k, roles.work(k, roles.read(), rngs[k])) for k in range(K)]
            work, finite = 0.0, True
            for k, msg in msgs:
                _check_work(trace, i + k, float(msg.work))
                work += float(msg.work)
                finite = finite and payload_finite(msg.payload)
            roles.aggregate(msgs)
            run.applied(work, finite, float(trace.t_arrival[i: i + K].max()))
            i += K
        if run.done:
            return
    if n < len(trace):  # a round in flight at the stop: computed, never aggregated
        for k in range(K):
            _check_work(trace, n + k, float(roles.work(k, roles.read(), rngs[k]).work))
