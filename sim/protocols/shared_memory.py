"""Shared memory (thesis §2.3, Alg. 1, eqs. 2.4-2.6): protocol ``"shared-memory"``.

P threads (``roles.K``) share one parameter vector. A *read* takes time, and each coordinate is
read at its own moment, so a read mixes versions; a *write* updates its coordinates without a
lock. This is the inconsistent read of eq. 2.6,

    w_hat_t = w_t - sum_{j in J(t)} (w_{j+1} - w_j)      (restricted to the coordinates missed),

and the trace records J(t), the earlier writes each read missed, so the delay bound Delta of
Assumption 2.2.4 and every update's delay are measured, not assumed.

Role interface it drives (time-free):

* ``shared``: the live shared vector (float64, shape (d,)); only ``apply`` and ``barrier`` change it;
* ``read() -> copy`` of the shared vector (the final parameters of a run);
* ``work(p, w_hat, rng_p) -> Message``: thread p computes from the read w_hat this protocol built;
  ``msg.index`` = the sorted, unique coordinates it will write (None = all), ``msg.nbytes`` its size;
* ``apply(p, msg)``: the lock-free write of those coordinates (eq. 2.4), nothing else;
* ``barrier() -> work (K,)``: snapshot and full gradient (Alg. 1 lines 2-3), each thread's share;
* ``metrics()``; attributes ``K``, ``round_length`` (m; None = no epochs), ``epoch_work``.

Time model. The cluster's workers are the threads (speed, stragglers and failures as usual);
its :class:`~sim.cluster.Network` is the memory system: a read of the d-vector takes
``latency + per_byte * 8 d``, a write ``latency + per_byte * msg.nbytes``; with
``network.channels = c`` at most c transfers run at once (a ``simpy.Resource``: contention
queues reads and writes, and shows in the trace). A read starting at t0 and lasting r reads
coordinate i at t0 + i r / d (index order, as a sequential scan); a write is applied at one
instant, the end of its transfer (its *commit*). Epochs as in the parameter server: at most m
reads are granted per round, the round ends with the m-th write, then ``barrier()`` runs for as
long as the slowest thread's share, then waiting threads read again. So J(t) lies in the round
(delay <= m - 1), and one thread's next read starts after its own write (Alg. 1's loop).

Trace. Rows as the parameter server's, with the versions (number of writes applied) at the
start of the read (``version_read``), at its end (``version_seen``: when w_hat was built) and
after the write (``version_applied``; -1 in flight). Write j (0-based) produces version j + 1.
Ragged arrays give J(t) per row: ``missed_ptr`` (rows + 1 offsets), ``missed_write`` (j) and
``missed_cut`` (q: the first q coordinates were read before write j committed, so the read
missed write j on its coordinates below q; q = d for writes after the read ended). A write that
committed during the read but touched only coordinates read after it is seen, and not listed.
The delay of write t is t - min J(t) (0 when J(t) is empty): its maximum is the realised Delta.
Replay rebuilds each w_hat exactly from the recorded cuts and the values each write overwrote,
so ``replay(trace)`` is bit-identical to ``simulate``.
"""
from __future__ import annotations

import math
import numpy as np
import simpy

from sim.driver import payload_finite
from sim.protocols.base import (GatedProcesses, Problems, Protocol, check_work, gated_round_rules, reads_after,
                                schedule_arrays, take_pending)
from sim.trace import BARRIER, IN_FLIGHT, MESSAGE, Trace

COLUMNS = ("version_read", "version_seen", "version_applied")
ARRAYS = ("missed_ptr", "missed_write", "missed_cut")


def inconsistent_read(shared: np.ndarray, missed: list[tuple[int, int]], history: dict) -> np.ndarray:
    """w_hat of eq. 2.6 from the current vector: for each missed write (j, q), newest first, put
    back the values write j overwrote on its coordinates below q (``history[j] = (index, old)``).

    The oldest missed write to a coordinate is restored last, which leaves the value the
    coordinate had when it was read. No arithmetic: the result is exact.
    """
    w_hat = shared.copy()
    for j, q in sorted(missed, reverse=True):
        index, old = history[j][:2]
        if index is None:
            w_hat[:q] = old[:q]
        else:
            keep = index < q
            w_hat[index[keep]] = old[keep]
    return w_hat


class SharedMemory(Protocol):
    """Protocol ``"shared-memory"``: see the module docstring."""

    name = "shared-memory"
    int_columns = COLUMNS
    role_methods = ("read", "work", "apply", "barrier")

    def check_roles(self, roles) -> None:
        super().check_roles(roles)
        shared = getattr(roles, "shared", None)
        if not (isinstance(shared, np.ndarray) and shared.ndim == 1 and shared.dtype == np.float64 and shared.size):
            raise ValueError(f"roles.shared must be the shared parameter vector, a non-empty 1-d float64 array, "
                             f"got {type(shared).__name__}")

    def check_cluster(self, cluster, roles) -> None:
        if cluster.K != roles.K:
            raise ValueError(f"cluster has K={cluster.K} workers but roles.K={roles.K} threads; they must match")

    def trace_meta(self, roles) -> dict:
        return {"d": int(roles.shared.size)}

    def processes(self, env, roles, clock, run, builder, rngs, stop) -> "SharedProcesses":
        return SharedProcesses(env, roles, clock, run, builder, rngs, stop)

    # --- traces ---------------------------------------------------------------------------
    @staticmethod
    def missed(trace: Trace, row: int) -> tuple[np.ndarray, np.ndarray]:
        """(writes j, cuts q) of J(t) for ``row``."""
        a = trace.arrays
        lo, hi = int(a["missed_ptr"][row]), int(a["missed_ptr"][row + 1])
        return a["missed_write"][lo:hi], a["missed_cut"][lo:hi]

    def staleness(self, trace: Trace) -> np.ndarray:
        rows = np.flatnonzero(trace.messages)
        ptr, writes = trace.arrays["missed_ptr"], trace.arrays["missed_write"]
        lo, hi = ptr[rows], ptr[rows + 1]
        t = trace.version_applied[rows] - 1
        oldest = np.minimum.reduceat(writes, lo[lo < hi]) if writes.size else np.zeros(0, dtype=np.int64)
        out = np.zeros(rows.size, dtype=np.int64)
        out[lo < hi] = t[lo < hi] - oldest
        return out

    def validate(self, trace: Trace) -> None:
        n, d = len(trace), int(trace.meta.get("d", 0))
        if d < 1:
            raise ValueError(f"a shared-memory trace needs meta['d'] (the dimension), an integer >= 1, got {d!r}")
        a = trace.arrays
        missing = [k for k in ARRAYS if k not in a]
        if missing:
            raise ValueError(f"a shared-memory trace needs the arrays {list(ARRAYS)}; missing {missing}")
        ptr, writes, cuts = (np.asarray(a[k], dtype=np.int64) for k in ARRAYS)
        if ptr.shape != (n + 1,) or ptr[0] != 0 or np.any(np.diff(ptr) < 0) or ptr[-1] != writes.size \
                or cuts.shape != writes.shape:
            raise ValueError(f"missed_ptr must be {n + 1} non-decreasing offsets from 0 to len(missed_write) = "
                             f"{writes.size}, and missed_cut as long as missed_write")
        kind, vr, vs, va = trace.kind, trace.version_read, trace.version_seen, trace.version_applied
        if trace.kind[0] != BARRIER or va[0] != 0:
            raise ValueError("trace must start with the barrier at version 0 (row 0: kind=barrier, version 0)")
        body = trace.n_events
        problems = Problems()
        is_msg, version = gated_round_rules(trace, body, problems, what="write", who="thread")
        problems.first(is_msg & ~((0 <= vr[:body]) & (vr[:body] <= vs[:body]) & (vs[:body] <= va[:body] - 1)),
                       lambda i: f"versions must satisfy 0 <= version_read <= version_seen <= version_applied - 1, "
                                 f"got {vr[i]}, {vs[i]}, {va[i]}")
        # J(t): writes increasing within [version_read, t); cut in [1, d]; cut = d and all listed past version_seen
        row = np.repeat(np.arange(n), np.diff(ptr))
        t_of = np.where(kind == MESSAGE, va - 1, vs)[row]  # in flight: nothing after the read's end
        bad_entry = (kind[row] == BARRIER) | (writes < vr[row]) | (writes >= t_of) | (cuts < 1) | (cuts > d)
        bad_entry |= (writes >= vs[row]) & (cuts != d)
        bad_entry[1:] |= (row[1:] == row[:-1]) & (writes[1:] <= writes[:-1])
        if bad_entry.any():
            e = int(np.flatnonzero(bad_entry)[0])
            problems.add(int(row[e]), f"missed write {writes[e]} (cut {cuts[e]}) must be an earlier write "
                         f"in [version_read, t) listed once in increasing order, with cut in [1, d={d}] and "
                         f"cut = d for writes after the read ended")
        after = np.bincount(row, weights=(writes >= vs[row]), minlength=n)
        problems.first(is_msg & (after[:body] != va[:body] - 1 - vs[:body]), lambda i: f"every write between the "
                       f"read's end (version {vs[i]}) and this write must be listed as missed; {int(after[i])} of "
                       f"{va[i] - 1 - vs[i]} are")
        problems.raise_first()
        if body < n:
            self._validate_in_flight(trace, body, int(version[-1]) if body else 0)

    # --- hand-made traces -------------------------------------------------------------------
    def from_schedule(self, events, *, K: int, round_length: int | None, d: int | None = None) -> Trace:
        """A trace from writes in commit order, each ``(thread, version_read, version_seen, cuts)``.

        Write i (0-based) produces version i + 1. Its read started at ``version_read`` and ended at
        ``version_seen`` (0 <= version_read <= version_seen <= i); ``cuts`` has one entry per write j
        in [version_read, version_seen), the writes that committed while the read scanned: q_j
        coordinates (0..d) had been read before write j committed, so the read missed write j on
        coordinates below q_j (0 = seen everywhere, not listed). A sequential scan reads coordinates
        in index order, so the cuts are non-decreasing. Writes in [version_seen, i) committed after the
        read ended: missed on every coordinate (cut d). J(t) of eq. 2.6 is thus fully determined.
        Barriers at version 0 and after each round's last write (``round_length``); times are the
        versions (t_read = version_read, commit = i + 1); work is NaN (unknown until replayed).
        Validated like a simulated trace (round gating, one write in flight per thread, ...).
        """
        d = _check_positive_int("d", d)
        nan = float("nan")
        rows: list[tuple] = [(BARRIER, -1, 0.0, 0.0, 0.0, nan, 0, 0, 0)]
        ptr, m_write, m_cut = [0, 0], [], []
        events = list(events)
        for i, ev in enumerate(events):
            try:
                p, vr, vs, cuts = ev
                p, vr, vs = int(p), int(vr), int(vs)
                cuts = [int(q) for q in cuts]
            except (TypeError, ValueError):
                raise ValueError(f"event {i} must be (thread, version_read, version_seen, cuts), got {ev!r}") from None
            if not 0 <= vr <= vs <= i:
                raise ValueError(f"event {i} (thread {p}): versions must satisfy 0 <= version_read <= version_seen "
                                 f"<= {i} (the writes committed before write {i}), got {vr}, {vs}")
            if len(cuts) != vs - vr or any(not 0 <= q <= d for q in cuts) or any(
                    b < a for a, b in zip(cuts, cuts[1:])):
                raise ValueError(f"event {i} (thread {p}): cuts must be {vs - vr} non-decreasing integers in "
                                 f"[0, d={d}] (one per write in [version_read, version_seen)), got {cuts}")
            missed = [(j, q) for j, q in zip(range(vr, vs), cuts) if q > 0] + [(j, d) for j in range(vs, i)]
            t = float(i + 1)
            rows.append((MESSAGE, p, float(vr), t, t, nan, vr, vs, i + 1))
            m_write += [j for j, _ in missed]
            m_cut += [q for _, q in missed]
            ptr.append(len(m_write))
            if round_length is not None and (i + 1) % round_length == 0 and i + 1 < len(events):
                rows.append((BARRIER, -1, t, t, t, nan, i + 1, i + 1, i + 1))
                ptr.append(len(m_write))
        names = ("kind", "worker", "t_read", "t_done", "t_arrival", "work") + COLUMNS
        cols = {name: np.array(c) for name, c in zip(names, zip(*rows))}
        cols["kind"] = cols["kind"].astype(np.int64)
        arrays = {"missed_ptr": np.array(ptr, dtype=np.int64), "missed_write": np.array(m_write, dtype=np.int64),
                  "missed_cut": np.array(m_cut, dtype=np.int64)}
        trace = Trace(cols, K=K, protocol=self.name, round_length=round_length, t_end=float(rows[-1][4]),
                      arrays=arrays, meta={"d": d})
        trace.validate()
        return trace

    def from_delays(self, workers, delays, scans=None, *, K: int, round_length: int | None,
                    meta: dict | None = None) -> Trace:
        """The stalest trace the protocol's rules allow for given per-write delays (adversarial searches).

        Write i by thread ``workers[i]`` reads from version_read = max(i - delays[i], the thread's
        previous write + 1, the start of its round) (one write in flight per thread, round gating),
        so its delay t - min J(t) is exactly i - version_read <= delays[i]. ``scans[i]`` in [0, 1]
        (default 0) is the fraction of the writes in [version_read, i) that committed *during* the
        read: they commit evenly over the scan, write j at fraction f_j = (j - version_read + 1) /
        (count + 1), and the read missed it below coordinate ceil(f_j d) (at least 1); the rest
        committed after the read ended (missed everywhere). ``meta['d']``: the dimension.
        """
        d = _check_positive_int("meta['d']", (meta or {}).get("d"))
        workers, delays, scans = schedule_arrays(workers, delays, scans, K)
        last = np.zeros(K, dtype=np.int64)
        events = []
        for i, (p, s, u) in enumerate(zip(workers.tolist(), delays.tolist(), scans.tolist())):
            start = (i // round_length) * round_length if round_length is not None else 0
            vr = max(i - s, int(last[p]), start)
            during = int(math.floor(u * (i - vr)))
            cuts = [max(1, math.ceil((j + 1) / (during + 1) * d)) for j in range(during)]
            events.append((p, vr, vr + during, cuts))
            last[p] = i + 1
        return self.from_schedule(events, K=K, round_length=round_length, d=d)

    def _partials(self, trace: Trace, after: list[list[int]]) -> tuple[dict, set, dict]:
        """For replay: each read row's partially missed writes [(j, cut)], the writes some read needs
        to put back, and per anchor row the writes no read needs after it (so they can be freed)."""
        vs = trace.version_seen
        anchor = {j: i for i, rows in enumerate(after) for j in rows}
        partials: dict[int, list[tuple[int, int]]] = {}
        last: dict[int, int] = {}
        for j, i in anchor.items():
            writes, cuts = self.missed(trace, j)
            part = [(int(a), int(q)) for a, q in zip(writes, cuts) if a < vs[j]]
            if part:
                partials[j] = part
                for a, _ in part:
                    last[a] = max(last.get(a, -1), i)
        expire: dict[int, list[int]] = {}
        for a, i in last.items():
            expire.setdefault(i, []).append(a)
        return partials, set(last), expire

    def _validate_in_flight(self, trace: Trace, body: int, final: int) -> None:
        rows = np.arange(body, len(trace))
        w = trace.worker[rows]
        dup = np.flatnonzero(np.bincount(w, minlength=trace.K) > 1)
        if dup.size:
            raise ValueError(f"thread {dup[0]} has more than one in-flight read (one update in flight per thread)")
        for i in rows.tolist():
            vr, vs, va = (int(trace.columns[c][i]) for c in COLUMNS)
            if va != -1 or not 0 <= vr <= vs <= final:
                raise ValueError(f"row {i}: an in-flight read must have version_applied = -1 and "
                                 f"0 <= version_read <= version_seen <= the final version {final}, "
                                 f"got {vr}, {vs}, {va}")

    def replay(self, trace: Trace, roles, rngs, run) -> None:
        kind, worker = trace.kind.tolist(), trace.worker.tolist()
        t_arrival = trace.t_arrival.tolist()
        after = reads_after(trace, "version_seen")
        partials, needed, expire = self._partials(trace, after)
        shared = roles.shared
        history: dict = {}  # only the writes some read missed in part, until that read is built
        pending: list[tuple[int, object] | None] = [None] * roles.K
        for i in range(trace.n_events):
            if kind[i] == BARRIER:
                check_work(trace, i, run.barrier(roles.barrier(), float(trace.t_read[i])))
            else:
                k = worker[i]
                msg = take_pending(pending, k, i, "thread")
                check_work(trace, i, float(msg.work))
                if run.version in needed:
                    history[run.version] = _overwritten(shared, msg.index)
                roles.apply(k, msg)
                run.applied(float(msg.work), payload_finite(msg.payload), t_arrival[i])
            if run.done:
                return
            for j in after[i]:
                k = worker[j]
                pending[k] = (j, roles.work(k, inconsistent_read(shared, partials.get(j, []), history),
                                            rngs[k]))
            for a in expire.get(i, ()):
                history.pop(a, None)
        for i in range(trace.n_events, len(kind)):  # in flight at the stop: computed, never written
            check_work(trace, i, float(take_pending(pending, worker[i], i, "thread").work))


def _check_positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1 (the dimension), got {value!r}")
    return int(value)


def _overwritten(shared: np.ndarray, index: np.ndarray | None) -> tuple:
    """(index, the values a write to ``index`` is about to overwrite)."""
    return (None, shared.copy()) if index is None else (index, shared[index])


class SharedProcesses(GatedProcesses):
    """One simpy process per thread plus the barriers (round gating from
    :class:`~sim.protocols.base.GatedProcesses`); the memory bus a ``simpy.Resource``."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.shared = self.roles.shared
        self.d = int(self.shared.size)
        channels = self.clock.cluster.network.channels
        self.bus = simpy.Resource(self.env, capacity=channels) if channels is not None else None
        self.history: dict = {}  # write j -> (index, old values, commit time) while a read may need it
        self.reading: dict[int, int] = {}  # thread -> version_read of its read in progress
        self.ptr, self.m_write, self.m_cut = [0], [], []

    def arrays(self) -> dict:
        return {"missed_ptr": np.array(self.ptr, dtype=np.int64),
                "missed_write": np.array(self.m_write, dtype=np.int64),
                "missed_cut": np.array(self.m_cut, dtype=np.int64)}

    # --- logging ------------------------------------------------------------------------------
    def _row(self, kind: int, p: int, t0: float, t_done: float, t_arr: float, work: float,
             vr: int, vs: int, va: int, missed: list[tuple[int, int]]) -> None:
        self.trace.append(kind, p, t0, t_done, t_arr, work, vr, vs, va)
        for j, q in missed:
            self.m_write.append(j)
            self.m_cut.append(q)
        self.ptr.append(len(self.m_write))

    def log_barrier(self, t: float, t_end: float, work: float) -> None:
        v = self.run.version
        self._row(BARRIER, -1, t, t_end, t_end, work, v, v, v, [])

    def log_in_flight(self, p: int, entry: tuple) -> None:
        vr, vs, t0, t_done, work, partial = entry
        self._row(IN_FLIGHT, p, t0, t_done, t_done, work, vr, vs, -1, partial)

    def _barrier(self, t: float):
        self.history.clear()  # every read of the round has been written
        return (yield from super()._barrier(t))

    def _transfer(self, duration: float):
        """Hold a bus channel (if the medium is contended) for ``duration``."""
        if self.bus is None:
            if duration > 0:
                yield self.env.timeout(duration)
            return
        with self.bus.request() as req:
            yield req
            if duration > 0:
                yield self.env.timeout(duration)

    # --- a thread -----------------------------------------------------------------------------
    def _worker(self, p: int):
        roles, clock, run, env, rng = self.roles, self.clock, self.run, self.env, self.rngs[p]
        while True:
            if (yield from self.wait_for_grant(p)) is None:
                return
            # the read: coordinate i at t0 + i r / d
            r = clock.downlink(p, 8 * self.d)
            if self.bus is not None:
                req = self.bus.request()
                yield req
            t0, vr = env.now, run.version
            self.reading[p] = vr
            if r > 0:
                yield env.timeout(r)
            if self.bus is not None:
                self.bus.release(req)
            if run.done:
                return
            vs = run.version
            partial = self._missed_during(t0, r, vr, vs)
            w_hat = inconsistent_read(self.shared, partial, self.history)
            del self.reading[p]  # the read is over: the history it needed may go
            msg = roles.work(p, w_hat, rng)
            t1 = t0 + r
            t_done = clock.done(p, t1, float(msg.work))
            self.in_flight[p] = (vr, vs, t0, t_done, float(msg.work), partial)
            yield env.timeout(max(0.0, t_done - env.now))
            if run.done:
                return
            yield from self._transfer(clock.uplink(p, int(msg.nbytes)))
            t_commit = env.now
            if run.done or run.beyond_time(t_commit):
                return
            self._commit(p, msg, vr, vs, t0, t_done, t_commit, partial)
            if run.done:
                self._finish()
                return

    def _missed_during(self, t0: float, r: float, vr: int, vs: int) -> list[tuple[int, int]]:
        """(j, cut) for the writes committed while the read ran that it missed on some coordinate."""
        out = []
        for j in range(vr, vs):
            index, _old, c = self.history[j]
            q = min(self.d, max(0, math.ceil((c - t0) * self.d / r))) if r > 0 else 0
            if q > 0 and (index is None or int(index.min()) < q):
                out.append((j, q))
        return out

    def _commit(self, p: int, msg, vr: int, vs: int, t0: float, t_done: float, t_commit: float,
                partial: list[tuple[int, int]]) -> None:
        run = self.run
        del self.in_flight[p]
        j = run.version
        index, old = _overwritten(self.shared, msg.index)
        self.roles.apply(p, msg)
        self.history[j] = (index, old, t_commit)
        missed = partial + [(i, self.d) for i in range(vs, j)]
        self._row(MESSAGE, p, t0, t_done, t_commit, msg.work, vr, vs, j + 1, missed)
        oldest = min(self.reading.values(), default=j + 1)
        for old_j in [k for k in self.history if k < oldest]:
            del self.history[old_j]
        run.applied(float(msg.work), run.finite(msg.payload), t_commit)
        if not run.done:
            self.updated(p, t_commit)
