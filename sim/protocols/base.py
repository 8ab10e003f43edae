"""What every protocol provides (:class:`Protocol`) and what its simpy processes share
(:class:`ProtocolProcesses`: wiring, stopping, the barrier phase).

A protocol is a value registered by name (:mod:`sim.protocols`). It owns

* the *role interface* it drives: the attributes and methods an algorithm's roles must have
  (``role_methods``; every protocol needs ``K``, ``round_length``, ``epoch_work`` and
  ``metrics()``), checked by :meth:`Protocol.check_roles` before a run;
* its simpy processes (:meth:`Protocol.processes`), which turn the roles' *work* into time with
  a :class:`sim.cluster.ClusterClock` and never hold mathematics;
* its trace columns (``int_columns``, after the common ones of :mod:`sim.trace`), their
  validation (:meth:`Protocol.validate`) and the delay of each update (:meth:`Protocol.staleness`);
* its replay (:meth:`Protocol.replay`): the same role calls in the recorded order, without simpy,
  bit-identical to the simulation that wrote the trace.

Numbers stay in the roles, times in the clock, bookkeeping (versions, work, records, budgets) in
:class:`sim.driver.RunState`, which simulate and replay share.
"""
from __future__ import annotations

import abc
import math
from collections import deque
from typing import Callable, ClassVar, Iterable

import numpy as np
import simpy

from sim.cluster import Cluster, ClusterClock


class Protocol(abc.ABC):
    """A protocol: see the module docstring. Subclasses set the class attributes and implement
    :meth:`processes`, :meth:`validate`, :meth:`staleness` and :meth:`replay`."""

    name: ClassVar[str]
    #: the protocol's own integer trace columns, in append order after the common ones
    int_columns: ClassVar[tuple[str, ...]] = ()
    #: methods the roles must have, besides metrics()
    role_methods: ClassVar[tuple[str, ...]] = ()

    def __repr__(self) -> str:
        return f"<protocol {self.name!r}>"

    # --- before a run -----------------------------------------------------------------
    def check_roles(self, roles: object) -> None:
        """ValueError naming the first attribute or method the roles lack or get wrong."""
        missing = [m for m in ("metrics",) + tuple(self.role_methods) if not callable(getattr(roles, m, None))]
        if missing:
            raise ValueError(f"roles for protocol {self.name!r} must have methods {list(self.role_methods)} and "
                             f"metrics(); {type(roles).__name__} lacks {missing}")
        K = getattr(roles, "K", None)
        if isinstance(K, bool) or not isinstance(K, (int, np.integer)) or K < 1:
            raise ValueError(f"roles.K must be an integer >= 1, got {K!r}")
        R = getattr(roles, "round_length", None)
        if R is not None and (isinstance(R, bool) or not isinstance(R, (int, np.integer)) or R < 1):
            raise ValueError(f"roles.round_length must be an integer >= 1 or None, got {R!r}")
        ew = getattr(roles, "epoch_work", None)
        if not (isinstance(ew, (int, float, np.integer, np.floating)) and not isinstance(ew, bool)
                and math.isfinite(ew) and ew > 0):
            raise ValueError(f"roles.epoch_work must be a finite number > 0, got {ew!r}")

    def check_cluster(self, cluster: Cluster, roles: object) -> None:
        """ValueError if the cluster cannot carry this protocol (default: K must match)."""
        if cluster.K != roles.K:
            raise ValueError(f"cluster has K={cluster.K} workers but roles.K={roles.K}; they must match")
        if cluster.network.channels is not None:
            raise ValueError(f"network.channels={cluster.network.channels!r} (a contended medium) is modelled by "
                             f"the 'shared-memory' protocol only; protocol {self.name!r} needs channels=None")

    def messages_per_version(self, roles: object) -> int:
        """How many workers' messages make one version (one applied update): 1 unless rounds aggregate."""
        return 1

    def trace_meta(self, roles: object) -> dict:
        """Protocol scalars stored with the trace (e.g. the dimension a read scans)."""
        return {}

    # --- a run ---------------------------------------------------------------------------
    @abc.abstractmethod
    def processes(self, env: simpy.Environment, roles, clock: ClusterClock, run, builder,
                  rngs: list[np.random.Generator], stop: simpy.Event) -> "ProtocolProcesses":
        """The protocol's simpy processes for one run (not yet started)."""

    # --- its traces ------------------------------------------------------------------------
    @abc.abstractmethod
    def validate(self, trace) -> None:
        """Protocol rules on a trace whose common columns are valid; ValueError naming the first bad row."""

    @abc.abstractmethod
    def staleness(self, trace) -> np.ndarray:
        """The delay of every applied update (message rows, in order), as int64."""

    @abc.abstractmethod
    def replay(self, trace, roles, rngs: list[np.random.Generator], run) -> None:
        """Re-run ``roles`` in the trace's order, advancing ``run`` exactly as the simulation did."""

    def replay_fast(self, trace, roles, rngs: list[np.random.Generator], run) -> None:
        """:meth:`replay` in compiled code, bit for bit (``sim.replay.replay(..., engine="fast")``);
        protocols that support it override, through an optional method of their role interface."""
        raise ValueError(f"protocol {self.name!r} has no fast replay engine (use engine='python')")

    def from_schedule(self, events: Iterable[tuple[int, int]], *, K: int, round_length: int | None):
        """A hand-made trace from (worker, version_read) updates; protocols that support it override."""
        raise ValueError(f"protocol {self.name!r} does not build traces from a (worker, version_read) schedule")


class ProtocolProcesses:
    """Base of a protocol's simpy processes; numbers stay in the roles, times in the clock."""

    def __init__(self, env: simpy.Environment, roles, clock: ClusterClock, run, builder,
                 rngs: list[np.random.Generator], stop: simpy.Event) -> None:
        self.env, self.roles, self.clock, self.run, self.trace = env, roles, clock, run, builder
        self.rngs, self.stop = rngs, stop
        self.K = roles.K
        self.R = roles.round_length
        # worker -> what record_in_flight needs about a read computed on but not yet applied
        self.in_flight: dict[int, tuple] = {}

    def start(self) -> None:  # pragma: no cover - every protocol overrides
        raise TypeError(f"{type(self).__name__} does not define start()")

    def record_in_flight(self) -> None:
        """Log the reads still in flight at the stop (their ``work`` already ran), in worker order."""
        for k in sorted(self.in_flight):
            self.log_in_flight(k, self.in_flight[k])

    def log_in_flight(self, k: int, entry: tuple) -> None:  # pragma: no cover - protocols with reads override
        raise TypeError(f"{type(self).__name__} does not log in-flight reads")

    def log_barrier(self, t: float, t_end: float, work: float) -> None:  # pragma: no cover
        raise TypeError(f"{type(self).__name__} does not log barriers")

    def arrays(self) -> dict:
        """The protocol's non-row arrays for the trace (default none)."""
        return {}

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
        self.log_barrier(t, t_end, total)
        return t_end


class GatedProcesses(ProtocolProcesses):
    """Round gating, shared by the asynchronous parameter server and shared memory: at most
    ``round_length`` reads are granted per round; the update that completes a round starts
    ``roles.barrier()`` (a phase as long as the slowest worker's share), after which waiting workers
    are granted reads in request order. So every update is applied in the round it read in.

    Subclasses define ``_worker(k)`` (a simpy generator) and ``grant(k, t)``, what a granted read
    hands the worker (e.g. the parameters and the version).
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.reads_in_round = 0
        self.waiting: deque[int] = deque()
        self.granted: list[object | None] = [None] * self.K
        self.wake: list[simpy.Event | None] = [None] * self.K

    def start(self) -> None:
        self.waiting.extend(range(self.K))
        for k in range(self.K):
            self.env.process(self._worker(k))
        self.env.process(self._barrier(0.0))

    def _worker(self, k: int):  # pragma: no cover - every gated protocol defines its workers
        raise TypeError(f"{type(self).__name__} does not define _worker()")

    def grant(self, k: int, t: float) -> object:
        return True

    def _grant(self, k: int, t: float) -> None:
        self.reads_in_round += 1
        self.granted[k] = self.grant(k, t)
        ev = self.wake[k]
        if ev is not None:
            self.wake[k] = None
            ev.succeed()

    def _request(self, k: int, t: float) -> None:
        if self.R is None or self.reads_in_round < self.R:
            self._grant(k, t)
        else:
            self.waiting.append(k)

    def wait_for_grant(self, k: int):
        """Yield until worker k holds a granted read; returns it (None if the run stopped meanwhile)."""
        if self.granted[k] is None:
            ev = self.wake[k] = self.env.event()
            yield ev
            if self.run.done:
                return None
        got, self.granted[k] = self.granted[k], None
        return got

    def updated(self, k: int, t: float) -> None:
        """After worker k's update was applied at t: end the round with a barrier, or grant its next read."""
        if self.R is not None and self.run.version % self.R == 0:
            self.waiting.append(k)
            self.env.process(self._barrier(t))
        else:
            self._request(k, t)

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


class Problems:
    """Collects each rule's first offending row; :meth:`raise_first` reports the earliest."""

    def __init__(self) -> None:
        self.items: list[tuple[int, str]] = []

    def first(self, mask: np.ndarray, text: Callable[[int], str]) -> None:
        bad = np.flatnonzero(mask)
        if bad.size:
            self.items.append((int(bad[0]), text(int(bad[0]))))

    def add(self, row: int, text: str) -> None:
        self.items.append((row, text))

    def raise_first(self) -> None:
        if self.items:
            i, text = min(self.items, key=lambda p: p[0])
            raise ValueError(f"row {i}: {text}")


def gated_round_rules(trace, body: int, problems: Problems, *, what: str = "message",
                      who: str = "worker") -> tuple[np.ndarray, np.ndarray]:
    """The rules a trace of gated rounds keeps (:class:`GatedProcesses`: the asynchronous parameter
    server, shared memory), vectorised over its first ``body`` rows: updates applied one at a time; a
    barrier only right after the update ending a round, and never missing; each update read in the
    round it is applied in; one update in flight per worker; updates in arrival order. Returns
    (is_msg, version after each row)."""
    from sim.trace import BARRIER, MESSAGE

    R = trace.round_length
    kind, vr, va, w = trace.kind[:body], trace.version_read[:body], trace.version_applied[:body], trace.worker
    rows = np.arange(body)
    is_msg = kind == MESSAGE
    version = np.cumsum(is_msg)
    problems.first(is_msg & (va != version), lambda i: f"version_applied must be {version[i]} ({what}s applied "
                   f"one at a time), got {va[i]}")
    bar = (kind == BARRIER) & (rows > 0)
    ok_bar = (va == version) & (version > 0) & ((version % R == 0) if R is not None else False)
    ok_bar &= np.concatenate(([False], is_msg[:-1]))  # right after the update that ended the round
    problems.first(bar & ~ok_bar, lambda i: f"a barrier is only allowed at a round end (round_length={R}), i.e. "
                   f"right after the {what} making a positive multiple of round_length; here version={version[i]}, "
                   f"row says {va[i]}")
    if R is not None:
        prev_version = version - is_msg  # version before this row
        prev_is_barrier = np.concatenate(([True], ~is_msg[:-1]))
        problems.first(is_msg & (prev_version > 0) & (prev_version % R == 0) & ~prev_is_barrier,
                       lambda i: f"missing barrier at the round end version {version[i] - 1} (round_length={R})")
        problems.first(is_msg & (vr // R != (va - 1) // R), lambda i: f"round gating violated: read in round "
                       f"{vr[i] // R} but applied in round {(va[i] - 1) // R} (round_length={R}, staleness must "
                       "be <= round_length - 1)")
    m = np.flatnonzero(is_msg)
    order = m[np.lexsort((va[m], w[m]))]  # each worker's updates in application order
    same = w[order[1:]] == w[order[:-1]]
    early = np.zeros(body, dtype=bool)
    early[order[1:][same & (vr[order[1:]] < va[order[:-1]])]] = True
    problems.first(early, lambda i: f"{who} {w[i]} read version {vr[i]} before its previous {what} was applied "
                   f"(one {what} in flight per {who})")
    back = np.zeros(body, dtype=bool)
    back[m[1:][np.diff(trace.t_arrival[m]) < 0]] = True
    problems.first(back, lambda i: f"{what}s must be applied in arrival order (t_arrival decreased)")
    return is_msg, version


def take_pending(pending: list, k: int, i: int, who: str = "worker"):
    """Replay: the message worker k computed for trace row i (its pending read), removed from ``pending``."""
    j, msg = pending[k]
    pending[k] = None
    if j != i:
        raise ValueError(f"trace row {i}: {who} {k}'s pending read belongs to row {j}")
    return msg


def check_work(trace, i: int, work: float) -> None:
    """ValueError unless row i's recorded work (NaN = unknown, hand-made) equals what the roles report."""
    recorded = float(trace.work[i])
    if not math.isnan(recorded) and recorded != work:
        raise ValueError(f"trace row {i} records work {recorded!r} but the roles report {work!r}: "
                         "not the roles (or seed) that produced this trace")


def reads_after(trace, version_col: str) -> list[list[int]]:
    """For each row, the update (or in-flight) rows whose read is taken right after it.

    A read taken at version v (``version_col``) follows the last event that leaves the state at
    v: the barrier of v if there is one, else the update that produced v.
    """
    from sim.trace import BARRIER, MESSAGE

    n, body = len(trace), trace.n_events
    version = np.cumsum(trace.kind[:body] == MESSAGE)
    anchor = np.zeros(int(version[-1]) + 1, dtype=np.int64)
    np.maximum.at(anchor, version, np.arange(body))  # the last event at each version
    rows = np.flatnonzero(trace.kind != BARRIER)
    at = anchor[trace.columns[version_col][rows]]
    order = np.lexsort((rows, at))
    out: list[list[int]] = [[] for _ in range(n)]
    for row, a in zip(rows[order].tolist(), at[order].tolist()):
        out[a].append(row)
    return out


def schedule_arrays(workers, delays, scans, K: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A per-update delay schedule for a protocol's ``from_delays`` (adversarial searches): (workers, delays,
    scans) as arrays of one length, checked: workers in [0, K), delays integers >= 0, scans in [0, 1] (None = 0)."""
    w = np.asarray(workers)
    s = np.asarray(delays)
    u = np.zeros(w.shape) if scans is None else np.asarray(scans, dtype=np.float64)
    if w.ndim != 1 or s.shape != w.shape or u.shape != w.shape:
        raise ValueError(f"workers, delays and scans must be 1-d arrays of one length, got shapes "
                         f"{w.shape}, {s.shape}, {u.shape}")
    if w.size and (not np.issubdtype(w.dtype, np.integer) or w.min() < 0 or w.max() >= K):
        raise ValueError(f"workers must be integers in [0, K={K}), got values from {w.min()} to {w.max()}")
    if s.size and (not np.issubdtype(s.dtype, np.integer) or s.min() < 0):
        raise ValueError(f"delays must be integers >= 0, got values from {s.min()} to {s.max()}")
    if u.size and not (np.all(np.isfinite(u)) and u.min() >= 0 and u.max() <= 1):
        raise ValueError(f"scans must be fractions in [0, 1], got values from {u.min()} to {u.max()}")
    return w.astype(np.int64), s.astype(np.int64), u
