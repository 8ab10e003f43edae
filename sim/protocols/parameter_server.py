"""The gated asynchronous parameter server (thesis Alg. 2/3, Alg. 6/7, Fig. 5): protocol ``"async"``.

Role interface it drives (time-free, numbers only):

* ``read() -> params``: the server's parameters, a copy the worker keeps (its stale read);
* ``work(k, params, rng_k) -> Message``: worker k turns a read into a message (may change only
  worker k's local state); ``rng_k`` is worker k's own stream (``algorithms.roles.worker_streams``);
* ``apply(k, msg)``: the server applies one message (eq. 2.32 / 3.5);
* ``barrier() -> work (K,)``: numeric work at a round boundary (broadcast, snapshot and full
  gradient), each worker's share in gradient evaluations;
* ``metrics()``; attributes ``K``, ``round_length`` (T of Alg. 6, m of Alg. 2; None = no rounds),
  ``epoch_work``;
* optional ``work_now(k, rng_k) -> Message``: equal to ``work(k, read(), rng_k)`` bit for bit, but
  computed from the server's current state, reading only what it touches (no O(d) copy).

Copy-on-write reads (roles with ``work_now``): a granted read is not copied. When the worker
computes its message and the server is still at the version it was granted (always, unless an
update or barrier lands at the same simulated instant in between), it calls ``work_now``; before
the server changes state (an apply or a barrier), every read granted but not yet computed on is
materialised as a copy (``read()``) and later computed with ``work``. So a read costs what the
message touches, the numbers are those of copying every read, and replay (which computes each read
right after the event it follows) always calls ``work_now``. The downlink time of a read is that of
``read().nbytes``, measured once.

Fast replay (``sim.replay.replay(..., engine="fast")``, roles with the optional
``replay_ops(ops, workers, pos, rngs, version, work, stop_version, *, codes)``): the protocol turns
the trace into one schedule of ops -- ``OP_READ`` = 0 (worker k computes its message from the current
state, what ``work_now`` does), ``OP_APPLY`` = 1 (worker k's pending message), ``OP_BARRIER`` = 2 --
in exactly the order the Python replay makes its role calls, and the roles run it in compiled code,
returning to the protocol at any op other than read and apply (barriers), after the apply that
makes the version ``stop_version`` (the next record the run's schedule asks for) and at a non-finite
message. ``codes`` = (``OP_READ``, ``OP_APPLY``): roles compiled for other codes must refuse them;
see :meth:`AsyncParameterServer.replay_fast`.

Worker k loops: it is granted a read (server version v, params = roles.read()), computes its
message at once, then waits for the time the cluster says this takes -- downlink of the params,
computation of ``msg.work`` units, uplink of ``msg.nbytes`` -- in one timeout. On arrival the
server applies it (version v -> v + 1) and replies with fresh params. Round gating
(``round_length`` = T): at most T reads per round; when T messages have been applied the round
ends with ``roles.barrier()``, a phase lasting the slowest worker's compute time for its barrier
work, after which waiting workers are granted reads in request order. Hence staleness <= T - 1
(Assumption 3.4.2 with tau = T - 1; Assumption 2.2.4's Delta for Alg. 2/3).

Trace columns: ``version_read`` (the server version d(t) a message read, eq. 3.11) and
``version_applied`` (the version its application produced); staleness tau = version_applied - 1
- version_read. :mod:`sim.protocols.sync_rounds` shares these columns and helpers.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np

from sim.driver import payload_finite
from sim.protocols.base import (GatedProcesses, Problems, Protocol, ProtocolProcesses, check_work, gated_round_rules,
                                reads_after, schedule_arrays, take_pending)
from sim.trace import BARRIER, IN_FLIGHT, MESSAGE, Trace

PS_COLUMNS = ("version_read", "version_applied")


class ServerProcesses(ProtocolProcesses):
    """What the parameter-server protocols log: versions read and applied."""

    def log_in_flight(self, k: int, entry: tuple) -> None:
        v, t_read, t_done, t_arr, work = entry
        self.trace.append(IN_FLIGHT, k, t_read, t_done, t_arr, work, v, -1)

    def log_barrier(self, t: float, t_end: float, work: float) -> None:
        v = self.run.version
        self.trace.append(BARRIER, -1, t, t_end, t_end, work, v, v)


class ServerProtocol(Protocol):
    """Shared by the parameter-server protocols: columns, staleness, in-flight rules, hand-made traces."""

    int_columns = PS_COLUMNS

    def staleness(self, trace: Trace) -> np.ndarray:
        m = trace.messages
        return trace.version_applied[m] - 1 - trace.version_read[m]

    def validate(self, trace: Trace) -> None:
        if trace.kind[0] != BARRIER or trace.version_applied[0] != 0:
            raise ValueError("trace must start with the barrier at version 0 (row 0: kind=barrier, version 0)")
        body = trace.n_events
        events = trace if body == len(trace) else trace.head(body)
        self.validate_events(events)
        if body < len(trace):
            self.validate_in_flight(trace, body)

    def validate_events(self, trace: Trace) -> None:  # pragma: no cover - subclasses
        raise TypeError(f"{type(self).__name__} does not define validate_events()")

    def validate_in_flight(self, trace: Trace, body: int) -> None:
        """In-flight reads: one per worker at most, read no earlier than that worker's last applied
        message and no later than the final version."""
        rows = np.arange(body, len(trace))
        w, vr = trace.worker[rows], trace.version_read[rows]
        final = self.final_version(trace, body)
        dup = np.flatnonzero(np.bincount(w, minlength=trace.K) > 1)
        if dup.size:
            raise ValueError(f"worker {dup[0]} has more than one in-flight read (one message in flight per worker)")
        last = np.full(trace.K, 0, dtype=np.int64)
        m = np.flatnonzero(trace.kind[:body] == MESSAGE)
        np.maximum.at(last, trace.worker[m], trace.version_applied[m])
        for i, k, v in zip(rows.tolist(), w.tolist(), vr.tolist()):
            if not last[k] <= v <= final or trace.version_applied[i] != -1:
                raise ValueError(f"row {i}: an in-flight read must have version_applied = -1 and a version_read "
                                 f"from worker {k}'s last applied version {last[k]} to the final version {final}, "
                                 f"got version_read={v}, version_applied={trace.version_applied[i]}")

    def final_version(self, trace: Trace, body: int) -> int:
        return int(np.count_nonzero(trace.kind[:body] == MESSAGE))

    def applied_version(self, i: int, K: int) -> int:
        """The version the i-th message (0-based) of a schedule produces."""
        return i + 1

    def from_schedule(self, events: Iterable[tuple[int, int]], *, K: int, round_length: int | None) -> Trace:
        """Build a trace from (worker, version_read) messages in application order.

        Barriers are inserted where the protocol calls them (version 0, then every
        ``round_length`` versions). Message i arrives at time ``applied version`` and reads at
        time version_read; work is NaN (unknown until replayed).
        """
        ev = [(int(w), int(v)) for w, v in events]
        nan = float("nan")
        rows = [(BARRIER, -1, 0.0, 0.0, 0.0, nan, 0, 0)]
        for i, (w, vr) in enumerate(ev):
            va = self.applied_version(i, K)
            if not 0 <= vr <= va - 1:
                raise ValueError(f"event {i} (worker {w}): version_read must be in [0, {va - 1}] (a version "
                                 f"already produced when update {va} is applied), got {vr}")
            t = float(va)
            rows.append((MESSAGE, w, float(vr), t, t, nan, vr, va))
            last_of_version = i + 1 == len(ev) or self.applied_version(i + 1, K) != va
            if last_of_version and round_length is not None and va % round_length == 0 and i + 1 < len(ev):
                rows.append((BARRIER, -1, t, t, t, nan, va, va))
        names = ("kind", "worker", "t_read", "t_done", "t_arrival", "work") + PS_COLUMNS
        cols = {name: np.array(c) for name, c in zip(names, zip(*rows))}
        return Trace(cols, K=K, protocol=self.name, round_length=round_length, t_end=float(rows[-1][4]))


class AsyncParameterServer(ServerProtocol):
    """Protocol ``"async"``: see the module docstring."""

    name = "async"
    role_methods = ("read", "work", "apply", "barrier")

    def processes(self, env, roles, clock, run, builder, rngs, stop) -> "AsyncProcesses":
        return AsyncProcesses(env, roles, clock, run, builder, rngs, stop)

    def validate_events(self, trace: Trace) -> None:
        problems = Problems()
        is_msg, _ = gated_round_rules(trace, len(trace), problems)
        va, vr = trace.version_applied, trace.version_read
        problems.first(is_msg & ((vr < 0) | (vr > va - 1)), lambda i: f"staleness must be >= 0, i.e. 0 <= "
                       f"version_read <= version_applied - 1 = {va[i] - 1}, got version_read={vr[i]}")
        problems.raise_first()

    def from_delays(self, workers, delays, scans=None, *, K: int, round_length: int | None,
                    meta: dict | None = None) -> Trace:
        """The stalest trace the protocol's rules allow for given per-message delays (adversarial searches).

        Message i (producing version i + 1) by ``workers[i]`` reads version_read = max(i - delays[i],
        the worker's previous applied version, the start of its round): one message in flight per
        worker and round gating hold, and its staleness (eq. 3.11) is i - version_read <= delays[i].
        ``scans`` and ``meta`` are accepted for the common signature and unused (a read here is one
        version). Built with :meth:`from_schedule`, validated.
        """
        workers, delays, _ = schedule_arrays(workers, delays, scans, K)
        last = np.zeros(K, dtype=np.int64)
        events = []
        for i, (k, s) in enumerate(zip(workers.tolist(), delays.tolist())):
            start = (i // round_length) * round_length if round_length is not None else 0
            events.append((k, max(i - s, int(last[k]), start)))
            last[k] = i + 1
        trace = self.from_schedule(events, K=K, round_length=round_length)
        trace.validate()
        return trace

    def replay(self, trace: Trace, roles, rngs, run) -> None:
        kind, worker = trace.kind.tolist(), trace.worker.tolist()
        t_arrival, recorded = trace.t_arrival.tolist(), trace.work.tolist()
        after = reads_after(trace, "version_read")
        pending: list[tuple[int, object] | None] = [None] * roles.K
        work, read, apply = roles.work, roles.read, roles.apply
        work_now = getattr(roles, "work_now", None)
        if not callable(work_now):
            def work_now(k, rng):
                return work(k, read(), rng)
        for i in range(trace.n_events):
            if kind[i] == BARRIER:
                check_work(trace, i, run.barrier(roles.barrier(), float(trace.t_read[i])))
            else:
                k = worker[i]
                msg = take_pending(pending, k, i)
                w = float(msg.work)
                if w != recorded[i] and recorded[i] == recorded[i]:  # NaN = work unknown (hand-made trace)
                    check_work(trace, i, w)
                apply(k, msg)
                run.applied(w, payload_finite(msg.payload), t_arrival[i])
            if run.done:
                return
            for j in after[i]:
                k = worker[j]
                pending[k] = (j, work_now(k, rngs[k]))  # the state is the read's version
        for i in range(trace.n_events, len(kind)):  # in flight at the stop: computed above, never applied
            check_work(trace, i, float(take_pending(pending, worker[i], i).work))

    def replay_fast(self, trace: Trace, roles, rngs, run) -> None:
        """:meth:`replay` in compiled code through ``roles.replay_ops`` (module docstring), bit for bit
        the same params, records and stopping version. Barriers and records stay in Python: before each
        call the run's record schedule is asked (:meth:`sim.driver.RunState.first_record`, once per
        version, with each apply's arrival time and the epochs its work implies) which of the next
        applies (up to the next barrier, at most ``FAST_CHUNK``) is the next record, and the kernel
        stops there. The first call applies one message, to learn the roles' work per message."""
        if not callable(getattr(roles, "replay_ops", None)):
            raise ValueError(f"engine='fast' needs roles with replay_ops(); {type(roles).__name__} has none "
                             "(use engine='python')")
        ops, workers, rows = replay_schedule(trace)
        t_read = trace.t_read
        apply_at = np.flatnonzero(ops == OP_APPLY)  # schedule positions of the applies, in order
        apply_rows = rows[apply_at]
        t_apply, rec_apply = trace.t_arrival[apply_rows], trace.work[apply_rows]
        barrier_at = np.flatnonzero(ops == OP_BARRIER)
        # the number of applies before each barrier, and a last entry for the end of the schedule
        applies_before = np.append(np.searchsorted(apply_at, barrier_at), len(apply_at)).tolist()
        barrier_at = np.append(barrier_at, len(ops)).tolist()
        codes = (OP_READ, OP_APPLY)
        pos, n, nb = 0, len(ops), 0  # nb: index of the next barrier at or after pos
        msg_work, first_bad = None, None
        while pos < n:
            if pos == barrier_at[nb]:
                i = int(rows[pos])
                check_work(trace, i, run.barrier(roles.barrier(), float(t_read[i])))
                pos += 1
                nb += 1
                if run.done:
                    return
                continue
            a = run.version  # applies so far (a replay starts at version 0, one version per apply)
            b = min(applies_before[nb], a + FAST_CHUNK)
            if msg_work is None or a == b:  # one message (or only reads): RunState asks the schedule itself
                stop, due = a + 1, None
            else:
                i = run.first_record(t_apply[a:b], msg_work)
                stop, due = a + (i + 1 if i >= 0 else b - a), i >= 0
            new_pos, version, work_before, work_after, finite, w = roles.replay_ops(
                ops, workers, pos, rngs, a, run.work, stop, codes=codes)
            if w != msg_work:  # the first call, or roles whose work per message changed
                msg_work = w
                rest = rec_apply[a:]
                bad = np.flatnonzero(~np.isnan(rest) & (rest != w))
                first_bad = a + int(bad[0]) if bad.size else len(rec_apply)
            if version > a:
                if first_bad < version:
                    check_work(trace, int(apply_rows[first_bad]), msg_work)
                # every message but the last: versions and work only (replay has no budget, no progress)
                run.version, run.work = version - 1, work_before
                run.applied(msg_work, bool(finite), float(t_apply[version - 1]), due=due if version == stop else None)
                if run.done:
                    return
            pos = new_pos
            while barrier_at[nb] < pos:
                nb += 1
        in_flight = np.arange(trace.n_events, len(trace))
        if in_flight.size and msg_work is not None:  # computed by their reads above, never applied
            for i in in_flight.tolist():
                check_work(trace, i, msg_work)


#: op codes of the async replay schedule (:func:`replay_schedule`); ``replay_ops`` gets (read, apply)
OP_READ, OP_APPLY, OP_BARRIER = 0, 1, 2
#: at most this many applies per compiled call of the fast replay (bounds the schedule look-ahead)
FAST_CHUNK = 4096


def replay_schedule(trace: Trace) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ops int8, workers int64, rows int64): the async replay's role calls in order (see the module
    docstring): each row's event, then the reads taken right after it (:func:`reads_after`, in row
    order). ValueError if a message is applied by a worker whose pending read is another row's (as
    :func:`take_pending`). Vectorised: one sort of events and reads by (anchor row, read after event, row)."""
    from sim.trace import MESSAGE

    n, body = len(trace), trace.n_events
    kind = trace.kind
    if body == 0:
        return np.zeros(0, dtype=np.int8), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    version = np.cumsum(kind[:body] == MESSAGE)
    anchor = np.zeros(int(version[-1]) + 1, dtype=np.int64)
    np.maximum.at(anchor, version, np.arange(body))  # the last event at each version
    reads = np.flatnonzero(kind != BARRIER)
    at = anchor[trace.version_read[reads]]
    events = np.arange(body)
    key_a = np.concatenate((events, at))
    is_read = np.concatenate((np.zeros(body, dtype=bool), np.ones(reads.size, dtype=bool)))
    rows_a = np.concatenate((events, reads))
    order = np.lexsort((rows_a, is_read, key_a))
    rows_a, is_read = rows_a[order], is_read[order]
    ops = np.where(is_read, OP_READ, np.where(kind[rows_a] == BARRIER, OP_BARRIER, OP_APPLY)).astype(np.int8)
    workers = trace.worker[rows_a].astype(np.int64)
    # each apply's pending read: the worker's previous read/apply op, if it is a read (else none, -1)
    acts = np.flatnonzero(ops != OP_BARRIER)
    by_worker = acts[np.argsort(workers[acts], kind="stable")]
    same = np.concatenate(([False], workers[by_worker[1:]] == workers[by_worker[:-1]]))
    prev = np.concatenate(([0], by_worker[:-1]))
    pending = np.where(same & (ops[prev] == OP_READ), rows_a[prev], -1)
    bad = (ops[by_worker] == OP_APPLY) & (pending != rows_a[by_worker])
    if bad.any():
        first = int(np.argmin(np.where(bad, by_worker, len(ops))))
        p = by_worker[first]
        raise ValueError(f"trace row {rows_a[p]}: worker {workers[p]}'s pending read belongs to row {pending[first]}")
    return ops, workers, rows_a


class AsyncProcesses(GatedProcesses, ServerProcesses):
    """The async protocol's processes: one per worker, plus the server's barriers (round gating
    from :class:`~sim.protocols.base.GatedProcesses`); copy-on-write reads for roles with
    ``work_now`` (see the module docstring)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = callable(getattr(self.roles, "work_now", None))
        self.unread: set[int] = set()  # granted reads not yet copied nor computed on (lazy roles)
        self.copies: dict[int, np.ndarray] = {}  # reads copied because the server moved first
        self.read_nbytes = int(self.roles.read().nbytes)

    def grant(self, k: int, t: float) -> tuple:
        if self.lazy:
            self.unread.add(k)
            return (None, self.run.version, t)
        return (self.roles.read(), self.run.version, t)

    def _materialise(self) -> None:
        """The server is about to change: copy every granted read no worker has computed on yet."""
        read = self.roles.read
        for k in self.unread:
            self.copies[k] = read()
        self.unread.clear()

    def _barrier_phase(self, t: float) -> float:
        if self.unread:
            self._materialise()
        return super()._barrier_phase(t)

    def _apply(self, k: int, msg, v_read: int, t_read: float, t_done: float, t_arr: float) -> None:
        del self.in_flight[k]
        if self.unread:
            self._materialise()
        self.roles.apply(k, msg)
        run = self.run
        self.trace.append(MESSAGE, k, t_read, t_done, t_arr, msg.work, v_read, run.version + 1)
        run.applied(float(msg.work), run.finite(msg.payload), t_arr)
        if run.done:
            self._finish()
            return
        self.updated(k, t_arr)

    def _worker(self, k: int):
        roles, clock, rng, run, env = self.roles, self.clock, self.rngs[k], self.run, self.env
        unread, nbytes = self.unread, self.read_nbytes
        while True:
            got = yield from self.wait_for_grant(k)
            if got is None:
                return
            params, v_read, t_read = got
            if k in unread:  # the server is still at v_read: read only what the message touches
                unread.discard(k)
                msg, read_bytes = roles.work_now(k, rng), nbytes
            else:
                if params is None:
                    params = self.copies.pop(k)
                msg, read_bytes = roles.work(k, params, rng), params.nbytes
            t_start = t_read + clock.downlink(k, read_bytes)
            t_done = clock.done(k, t_start, float(msg.work))
            t_arr = t_done + clock.uplink(k, int(msg.nbytes))
            self.in_flight[k] = (v_read, t_read, t_done, t_arr, float(msg.work))
            yield env.timeout(max(0.0, t_arr - env.now))
            if run.done or run.beyond_time(t_arr):
                return
            self._apply(k, msg, v_read, t_read, t_done, t_arr)
