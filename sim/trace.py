"""Traces: one row per server event, as columnar numpy arrays, and staleness statistics.

Row kinds: ``MESSAGE`` (a worker's message applied by the server),
``BARRIER`` (a synchronous phase: broadcast / snapshot, worker = -1) and
``IN_FLIGHT`` (a read the server granted and the worker computed on, whose
message had not reached the server when the run stopped; version_applied =
-1, times as they would have been). In-flight rows come last: ``work``
changes a worker's local state (e.g. the duals behind the duality gap)
when it reads, so replay must compute them too to end in the same state.
Columns: kind, worker, version_read, version_applied, t_read, t_done,
t_arrival, work. For a message, ``version_read`` is the server version d(t)
the worker read (thesis eq. 3.11, Assumption 3.4.2), ``version_applied`` the
version its application produced, ``t_read`` the server time of the read,
``t_done`` the end of its computation, ``t_arrival`` its arrival (and
application) at the server. For a barrier both versions are the version it
acted on, t_read/t_done its start/end and ``work`` the summed phase work.
Staleness tau = version_applied - 1 - version_read (0 for a fresh read).
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from typing import Iterable, Mapping

import numpy as np

MESSAGE = 0
BARRIER = 1
IN_FLIGHT = 2
_KIND_NAMES = np.array(["message", "barrier", "in_flight"])
_INT_COLS = ("kind", "worker", "version_read", "version_applied")
_FLOAT_COLS = ("t_read", "t_done", "t_arrival", "work")


@dataclass(frozen=True, eq=False)
class Trace:
    """A run's server events (see module docstring) plus protocol metadata.

    ``t_end`` is the simulated time at which the run stopped.
    """

    kind: np.ndarray
    worker: np.ndarray
    version_read: np.ndarray
    version_applied: np.ndarray
    t_read: np.ndarray
    t_done: np.ndarray
    t_arrival: np.ndarray
    work: np.ndarray
    K: int
    protocol: str
    round_length: int | None
    t_end: float

    def __post_init__(self) -> None:
        for name in _INT_COLS:
            object.__setattr__(self, name, np.ascontiguousarray(getattr(self, name), dtype=np.int64))
        for name in _FLOAT_COLS:
            object.__setattr__(self, name, np.ascontiguousarray(getattr(self, name), dtype=np.float64))
        n = len(self.kind)
        for name in _INT_COLS + _FLOAT_COLS:
            col = getattr(self, name)
            if col.ndim != 1 or len(col) != n:
                raise ValueError(f"{name} must be a 1-d array of length {n} (len(kind)), got shape {col.shape}")
        if isinstance(self.K, bool) or not isinstance(self.K, (int, np.integer)) or self.K < 1:
            raise ValueError(f"K must be an integer >= 1, got {self.K!r}")
        if self.protocol not in ("async", "sync"):
            raise ValueError(f"protocol must be 'async' or 'sync', got {self.protocol!r}")
        R = self.round_length
        if R is not None and (isinstance(R, bool) or not isinstance(R, (int, np.integer)) or R < 1):
            raise ValueError(f"round_length must be an integer >= 1 or None, got {R!r}")
        if not np.isfinite(self.t_end):
            raise ValueError(f"t_end must be finite, got {self.t_end!r}")

    def __len__(self) -> int:
        return len(self.kind)

    @property
    def messages(self) -> np.ndarray:
        """Boolean mask of message rows."""
        return self.kind == MESSAGE

    @property
    def n_events(self) -> int:
        """Rows before the in-flight suffix: the messages and barriers the server processed."""
        return len(self) - int(np.count_nonzero(self.kind == IN_FLIGHT))

    def staleness(self) -> np.ndarray:
        """tau = version_applied - 1 - version_read of every message, in application order."""
        m = self.messages
        return self.version_applied[m] - 1 - self.version_read[m]

    def to_frame(self):
        """A pandas DataFrame with one row per event (kind as 'message'/'barrier'/'in_flight';
        staleness NaN for barriers and in-flight reads)."""
        import pandas as pd

        cols = {name: getattr(self, name) for name in _INT_COLS + _FLOAT_COLS}
        cols["kind"] = _KIND_NAMES[self.kind]
        st = np.full(len(self), np.nan)
        st[self.messages] = self.staleness()
        cols["staleness"] = st
        return pd.DataFrame(cols)

    # --- persistence --------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        """Write an .npz file atomically (temporary name, then rename)."""
        path = os.fspath(path)
        arrays = {name: getattr(self, name) for name in _INT_COLS + _FLOAT_COLS}
        arrays["meta_int"] = np.array([self.K, -1 if self.round_length is None else self.round_length], dtype=np.int64)
        arrays["meta_protocol"] = np.array(self.protocol)
        arrays["meta_t_end"] = np.array(self.t_end, dtype=np.float64)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), suffix=".npz.tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, **arrays)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.remove(tmp)
            raise

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Trace":
        """Read a trace written by :meth:`save`."""
        with np.load(os.fspath(path), allow_pickle=False) as z:
            K, R = (int(v) for v in z["meta_int"])
            cols = {name: z[name] for name in _INT_COLS + _FLOAT_COLS}
            return cls(**cols, K=K, protocol=str(z["meta_protocol"]), round_length=None if R < 0 else R,
                       t_end=float(z["meta_t_end"]))

    # --- hand-made traces ---------------------------------------------------
    @classmethod
    def from_schedule(cls, events: Iterable[tuple[int, int]], *, K: int, protocol: str = "async",
                      round_length: int | None = None) -> "Trace":
        """Build a trace from (worker, version_read) messages in application order.

        Barriers are inserted where the protocol calls them (version 0, then
        every ``round_length`` versions; for "sync" every ``round_length``
        rounds, a round being K consecutive messages). Message i arrives at
        time i + 1 and reads at time version_read; work is NaN (unknown until
        replayed). The result is validated (:meth:`validate`).
        """
        ev = [(int(w), int(v)) for w, v in events]
        rows: list[tuple[int, int, int, int, float, float, float, float]] = []
        nan = float("nan")
        rows.append((BARRIER, -1, 0, 0, 0.0, 0.0, 0.0, nan))
        version = 0
        for i, (w, vr) in enumerate(ev):
            if protocol == "sync":
                va = i // K + 1
                t = float(va)
            else:
                va = i + 1
                t = float(i + 1)
            rows.append((MESSAGE, w, vr, va, float(vr), t, t, nan))
            last_of_round = protocol != "sync" or (i + 1) % K == 0
            if last_of_round:
                version = va
                if round_length is not None and version % round_length == 0 and i + 1 < len(ev):
                    rows.append((BARRIER, -1, version, version, t, t, t, nan))
        arr = list(zip(*rows))
        trace = cls(*(np.array(c) for c in arr), K=K, protocol=protocol, round_length=round_length,
                    t_end=float(rows[-1][6]))
        trace.validate()
        return trace

    # --- validation -----------------------------------------------------------
    def validate(self) -> None:
        """Check the trace is one the protocol could produce; raise ValueError naming the first bad row."""
        n = len(self)
        if n == 0:  # a run that diverged at version 0 has no events
            return
        if self.kind[0] != BARRIER or self.version_applied[0] != 0:
            raise ValueError("trace must start with the barrier at version 0 (row 0: kind=barrier, version 0)")
        bad = np.flatnonzero((self.kind != MESSAGE) & (self.kind != BARRIER) & (self.kind != IN_FLIGHT))
        if bad.size:
            raise ValueError(f"row {bad[0]}: kind must be {MESSAGE} (message), {BARRIER} (barrier) or "
                             f"{IN_FLIGHT} (in flight), got {self.kind[bad[0]]}")
        m = self.kind != BARRIER
        w = self.worker[m]
        if w.size and (w.min() < 0 or w.max() >= self.K):
            i = np.flatnonzero(m)[np.flatnonzero((w < 0) | (w >= self.K))[0]]
            raise ValueError(f"row {i}: worker must be in [0, K={self.K}), got {self.worker[i]}")
        body = self.n_events
        late = np.flatnonzero(self.kind[:body] == IN_FLIGHT)
        if late.size:
            raise ValueError(f"row {late[0]}: in-flight reads must come after every message and barrier")
        times = np.stack([self.t_read, self.t_done, self.t_arrival])
        if not np.all(np.isfinite(times)):
            raise ValueError(f"row {np.flatnonzero(~np.isfinite(times).all(0))[0]}: times must be finite")
        order_bad = np.flatnonzero((self.t_done < self.t_read) | (self.t_arrival < self.t_done))
        if order_bad.size:
            raise ValueError(f"row {order_bad[0]}: times must satisfy t_read <= t_done <= t_arrival")
        events = self if body == n else self._head(body)
        if self.protocol == "async":
            events._validate_async()
        else:
            events._validate_sync()
        if body < n:
            self._validate_in_flight(body)

    def _head(self, n: int) -> "Trace":
        return Trace(*(getattr(self, c)[:n] for c in _INT_COLS + _FLOAT_COLS), K=self.K, protocol=self.protocol,
                     round_length=self.round_length, t_end=self.t_end)

    def _validate_in_flight(self, body: int) -> None:
        """In-flight reads: one per worker at most, read no earlier than that worker's last applied
        message and no later than the final version; under sync, one whole round of K."""
        rows = np.arange(body, len(self))
        w, vr = self.worker[rows], self.version_read[rows]
        final = int(np.count_nonzero(self.kind[:body] == MESSAGE))
        if self.protocol == "sync":
            final //= self.K
            if not (len(rows) == self.K and np.array_equal(w, np.arange(self.K)) and np.all(vr == final)):
                raise ValueError(f"rows {body}..{len(self) - 1}: in-flight reads of a sync run must be one round "
                                 f"of K={self.K} reads, workers 0..K-1 in order, all of version {final}")
        dup = np.flatnonzero(np.bincount(w, minlength=self.K) > 1)
        if dup.size:
            raise ValueError(f"worker {dup[0]} has more than one in-flight read (one message in flight per worker)")
        last = np.full(self.K, 0, dtype=np.int64)
        m = np.flatnonzero(self.kind[:body] == MESSAGE)
        np.maximum.at(last, self.worker[m], self.version_applied[m])
        for i, k, v in zip(rows.tolist(), w.tolist(), vr.tolist()):
            if not last[k] <= v <= final or self.version_applied[i] != -1:
                raise ValueError(f"row {i}: an in-flight read must have version_applied = -1 and a version_read "
                                 f"from worker {k}'s last applied version {last[k]} to the final version {final}, "
                                 f"got version_read={v}, version_applied={self.version_applied[i]}")

    def _validate_async(self) -> None:
        # Vectorised: each rule yields its first offending row; the earliest row is reported.
        R, n = self.round_length, len(self)
        rows = np.arange(n)
        is_msg = self.kind == MESSAGE
        version = np.cumsum(is_msg)  # server version after each row
        problems: list[tuple[int, str]] = []

        def first(mask: np.ndarray, text) -> None:
            bad = np.flatnonzero(mask)
            if bad.size:
                problems.append((int(bad[0]), text(int(bad[0]))))

        va, vr, w = self.version_applied, self.version_read, self.worker
        first(is_msg & (va != version), lambda i: f"version_applied must be {version[i]} (messages applied one "
              f"at a time), got {va[i]}")
        first(is_msg & ((vr < 0) | (vr > va - 1)), lambda i: f"staleness must be >= 0, i.e. 0 <= version_read <= "
              f"version_applied - 1 = {va[i] - 1}, got version_read={vr[i]}")
        bar = ~is_msg & (rows > 0)
        ok_bar = (va == version) & (version > 0) & ((version % R == 0) if R is not None else False)
        ok_bar &= np.concatenate(([False], is_msg[:-1]))  # right after the message that ended the round
        first(bar & ~ok_bar, lambda i: f"a barrier is only allowed at a round end (round_length={R}), i.e. right "
              f"after the message making a positive multiple of round_length; here version={version[i]}, "
              f"row says {va[i]}")
        if R is not None:
            prev_version = version - is_msg  # version before this row
            prev_is_barrier = np.concatenate(([True], ~is_msg[:-1]))
            first(is_msg & (prev_version > 0) & (prev_version % R == 0) & ~prev_is_barrier,
                  lambda i: f"missing barrier at the round end version {version[i] - 1} (round_length={R})")
            first(is_msg & (vr // R != (va - 1) // R), lambda i: f"round gating violated: read in round "
                  f"{vr[i] // R} but applied in round {(va[i] - 1) // R} (round_length={R}, staleness must be "
                  "<= round_length - 1)")
        m = np.flatnonzero(is_msg)
        order = m[np.lexsort((va[m], w[m]))]  # each worker's messages in application order
        same = w[order[1:]] == w[order[:-1]]
        early = np.zeros(n, dtype=bool)
        early[order[1:][same & (vr[order[1:]] < va[order[:-1]])]] = True
        first(early, lambda i: f"worker {w[i]} read version {vr[i]} before its previous message was applied "
              "(one message in flight per worker)")
        back = np.zeros(n, dtype=bool)
        back[m[1:][np.diff(self.t_arrival[m]) < 0]] = True
        first(back, lambda i: "messages must be applied in arrival order (t_arrival decreased)")
        if problems:
            i, text = min(problems, key=lambda p: p[0])
            raise ValueError(f"row {i}: {text}")

    def _validate_sync(self) -> None:
        R, K = self.round_length, self.K
        i, version = 1, 0
        while i < len(self):
            if self.kind[i] == BARRIER:
                if R is None or version == 0 or version % R != 0 or self.version_applied[i] != version:
                    raise ValueError(f"row {i}: a barrier is only allowed every round_length={R} rounds, "
                                     f"here after round {version}")
                i += 1
                continue
            if R is not None and version > 0 and version % R == 0 and self.kind[i - 1] != BARRIER:
                raise ValueError(f"row {i}: missing barrier after round {version} (round_length={R})")
            block = slice(i, i + K)
            ok = (i + K <= len(self) and np.all(self.kind[block] == MESSAGE)
                  and np.array_equal(self.worker[block], np.arange(K))
                  and np.all(self.version_read[block] == version)
                  and np.all(self.version_applied[block] == version + 1))
            if not ok:
                raise ValueError(f"rows {i}..{i + K - 1}: a sync round must be K={K} messages from workers "
                                 f"0..K-1 in order, all reading version {version} and applied as {version + 1}")
            version += 1
            i += K


class TraceBuilder:
    """Appends rows into preallocated columns grown by doubling (O(T) scalars, no per-row objects)."""

    def __init__(self, capacity: int = 1024) -> None:
        self._cols = [np.empty(capacity, dtype=np.int64) for _ in _INT_COLS]
        self._cols += [np.empty(capacity, dtype=np.float64) for _ in _FLOAT_COLS]
        self.n = 0

    def append(self, kind: int, worker: int, version_read: int, version_applied: int,
               t_read: float, t_done: float, t_arrival: float, work: float) -> None:
        n = self.n
        c = self._cols
        if n == len(c[0]):
            self._cols = c = [np.concatenate([col, np.empty_like(col)]) for col in c]
        # one scalar store per column is cheaper than building a row array
        c[0][n] = kind
        c[1][n] = worker
        c[2][n] = version_read
        c[3][n] = version_applied
        c[4][n] = t_read
        c[5][n] = t_done
        c[6][n] = t_arrival
        c[7][n] = work
        self.n = n + 1

    def build(self, *, K: int, protocol: str, round_length: int | None, t_end: float) -> Trace:
        return Trace(*(col[: self.n].copy() for col in self._cols), K=K, protocol=protocol, round_length=round_length,
                     t_end=t_end)


@dataclass(frozen=True)
class WorkerStaleness:
    """Staleness of one worker's messages: count, max and mean."""

    count: int
    max: int
    mean: float


@dataclass(frozen=True)
class StalenessStats:
    """max / mean staleness (tau of Assumption 3.4.2), histogram[s] = #messages with tau = s, per worker."""

    max: int
    mean: float
    histogram: np.ndarray
    per_worker: Mapping[int, WorkerStaleness] = field(default_factory=dict)


def staleness_stats(trace: Trace) -> StalenessStats:
    """Staleness statistics of a trace's messages (mean is NaN when there are none)."""
    tau = trace.staleness()
    workers = trace.worker[trace.messages]
    hist = np.bincount(tau, minlength=1) if tau.size else np.zeros(1, dtype=np.int64)
    per: dict[int, WorkerStaleness] = {}
    counts = np.bincount(workers, minlength=trace.K)
    sums = np.bincount(workers, weights=tau, minlength=trace.K)
    maxs = np.zeros(trace.K, dtype=np.int64)
    np.maximum.at(maxs, workers, tau)
    for k in range(trace.K):
        c = int(counts[k])
        per[k] = WorkerStaleness(c, int(maxs[k]), float(sums[k] / c) if c else float("nan"))
    return StalenessStats(int(tau.max()) if tau.size else 0, float(tau.mean()) if tau.size else float("nan"),
                          hist, per)

