"""Traces: one row per event, as columnar numpy arrays, and delay statistics.

Every trace has the *common* columns

    kind, worker, t_read, t_done, t_arrival, work

and the columns its protocol declares (``sim.protocols``): the parameter-server
protocols add ``version_read`` / ``version_applied``, shared memory adds the
version its read ended at and, in ragged ``arrays``, the earlier writes each
read missed. Row kinds: ``MESSAGE`` (an update applied: a worker's message at
the server, a thread's write), ``BARRIER`` (a synchronous phase: broadcast /
snapshot, worker = -1) and ``IN_FLIGHT`` (a read that was granted and computed
on, whose update had not been applied when the run stopped; in-flight rows
come last). ``t_read`` is when the read started, ``t_done`` the end of the
computation, ``t_arrival`` the moment the update was applied; for a barrier
t_read/t_done are its start/end and ``work`` the summed phase work.

What a row means beyond that, how a trace is validated, the delay of each
update (staleness, Delta) and how a trace is replayed belong to the protocol
named in ``trace.protocol``; this module only holds the data and delegates.
"""
from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass, field
from typing import Iterable, Mapping

import numpy as np

MESSAGE = 0
BARRIER = 1
IN_FLIGHT = 2
KIND_NAMES = np.array(["message", "barrier", "in_flight"])
COMMON_INT = ("kind", "worker")
COMMON_FLOAT = ("t_read", "t_done", "t_arrival", "work")
COMMON = COMMON_INT + COMMON_FLOAT
_META_KEYS = ("meta_int", "meta_protocol", "meta_t_end", "meta_json")


def _protocol(name: str):
    from sim.protocols import get_protocol  # the registry imports this module

    return get_protocol(name)


@dataclass(frozen=True, eq=False)
class Trace:
    """A run's events (see the module docstring) plus protocol metadata.

    ``columns``: name -> 1-d array, one entry per row (common and protocol columns; each is
    also an attribute, e.g. ``trace.worker``). ``arrays``: the protocol's other arrays (e.g.
    ragged per-row lists). ``meta``: the protocol's scalars. ``t_end``: when the run stopped.
    """

    columns: Mapping[str, np.ndarray]
    K: int
    protocol: str
    round_length: int | None
    t_end: float
    arrays: Mapping[str, np.ndarray] = field(default_factory=dict)
    meta: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        proto = _protocol(self.protocol) if isinstance(self.protocol, str) else None
        if proto is None:
            raise ValueError(f"protocol must be a registered protocol name, got {self.protocol!r}")
        if not isinstance(self.columns, Mapping):
            raise ValueError(f"columns must map column name -> 1-d array, got {type(self.columns).__name__}")
        expected = COMMON + tuple(proto.int_columns)
        missing = [c for c in expected if c not in self.columns]
        extra = sorted(set(self.columns) - set(expected))
        if missing or extra:
            raise ValueError(f"columns of a {self.protocol!r} trace must be {list(expected)}, "
                             f"missing {missing}, unexpected {extra}")
        floats = set(COMMON_FLOAT)
        cols = {}
        for name in expected:
            dtype = np.float64 if name in floats else np.int64
            cols[name] = np.ascontiguousarray(self.columns[name], dtype=dtype)
        n = len(cols["kind"])
        for name, col in cols.items():
            if col.ndim != 1 or len(col) != n:
                raise ValueError(f"{name} must be a 1-d array of length {n} (len(kind)), got shape {col.shape}")
        object.__setattr__(self, "columns", cols)
        object.__setattr__(self, "arrays", {k: np.ascontiguousarray(v) for k, v in dict(self.arrays).items()})
        object.__setattr__(self, "meta", dict(self.meta))
        if isinstance(self.K, bool) or not isinstance(self.K, (int, np.integer)) or self.K < 1:
            raise ValueError(f"K must be an integer >= 1, got {self.K!r}")
        R = self.round_length
        if R is not None and (isinstance(R, bool) or not isinstance(R, (int, np.integer)) or R < 1):
            raise ValueError(f"round_length must be an integer >= 1 or None, got {R!r}")
        if not np.isfinite(self.t_end):
            raise ValueError(f"t_end must be finite, got {self.t_end!r}")

    def __getattr__(self, name: str) -> np.ndarray:
        cols = self.__dict__.get("columns")
        if cols is not None and name in cols:
            return cols[name]
        raise AttributeError(f"{type(self).__name__!s} has no attribute or column {name!r}")

    def __len__(self) -> int:
        return len(self.columns["kind"])

    @property
    def messages(self) -> np.ndarray:
        """Boolean mask of applied updates (message rows)."""
        return self.kind == MESSAGE

    @property
    def n_events(self) -> int:
        """Rows before the in-flight suffix: the updates and barriers that were applied."""
        return len(self) - int(np.count_nonzero(self.kind == IN_FLIGHT))

    def head(self, n: int) -> "Trace":
        """The first ``n`` rows (the protocol's arrays are kept whole)."""
        return Trace({k: v[:n] for k, v in self.columns.items()}, K=self.K, protocol=self.protocol,
                     round_length=self.round_length, t_end=self.t_end, arrays=self.arrays, meta=self.meta)

    def staleness(self) -> np.ndarray:
        """The delay of every applied update, in application order (the protocol's definition:
        server versions behind for a parameter server, t - min J(t) for shared memory)."""
        return _protocol(self.protocol).staleness(self)

    def to_frame(self):
        """A pandas DataFrame, one row per event (kind as 'message'/'barrier'/'in_flight';
        staleness NaN for barriers and in-flight reads)."""
        import pandas as pd

        cols = dict(self.columns)
        cols["kind"] = KIND_NAMES[self.kind]
        st = np.full(len(self), np.nan)
        st[self.messages] = self.staleness()
        cols["staleness"] = st
        return pd.DataFrame(cols)

    # --- persistence --------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        """Write an .npz file atomically (temporary name, then rename)."""
        path = os.fspath(path)
        out = dict(self.columns)
        out.update({f"arr_{k}": v for k, v in self.arrays.items()})
        out["meta_int"] = np.array([self.K, -1 if self.round_length is None else self.round_length], dtype=np.int64)
        out["meta_protocol"] = np.array(self.protocol)
        out["meta_t_end"] = np.array(self.t_end, dtype=np.float64)
        out["meta_json"] = np.array(json.dumps(self.meta, sort_keys=True))
        # os.open with 0o666 gives the file the mode a plain open() would (umask-respecting, e.g. 0o644),
        # where tempfile.mkstemp's 0o600 would keep a shared results directory private
        tmp = os.path.join(os.path.dirname(os.path.abspath(path)), f".{os.path.basename(path)}.{uuid.uuid4().hex}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, **out)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.remove(tmp)
            raise

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Trace":
        """Read a trace written by :meth:`save` and validate it (ValueError naming the file)."""
        path = os.fspath(path)
        try:
            with np.load(path, allow_pickle=False) as z:
                K, R = (int(v) for v in z["meta_int"])
                meta = json.loads(str(z["meta_json"])) if "meta_json" in z.files else {}
                cols = {k: z[k] for k in z.files if k not in _META_KEYS and not k.startswith("arr_")}
                arrays = {k[4:]: z[k] for k in z.files if k.startswith("arr_")}
                trace = cls(cols, K=K, protocol=str(z["meta_protocol"]), round_length=None if R < 0 else R,
                            t_end=float(z["meta_t_end"]), arrays=arrays, meta=meta)
        except (KeyError, ValueError, OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"{path!r} is not a trace written by Trace.save ({type(exc).__name__}: {exc})") from None
        try:
            trace.validate()
        except ValueError as exc:
            raise ValueError(f"{path!r}: {exc}") from None
        return trace

    # --- hand-made traces ---------------------------------------------------
    @classmethod
    def from_schedule(cls, events: Iterable[tuple[int, int]], *, K: int, protocol: str = "async",
                      round_length: int | None = None) -> "Trace":
        """A trace from (worker, version_read) updates in application order, for protocols that
        support it (the parameter-server protocols); see their ``from_schedule``. Validated."""
        trace = _protocol(protocol).from_schedule(events, K=K, round_length=round_length)
        trace.validate()
        return trace

    # --- validation -----------------------------------------------------------
    def validate(self) -> None:
        """Check the trace is one its protocol could produce; ValueError naming the first bad row."""
        n = len(self)
        if n == 0:  # a run that diverged at version 0 has no events
            return
        kind = self.kind
        bad = np.flatnonzero((kind != MESSAGE) & (kind != BARRIER) & (kind != IN_FLIGHT))
        if bad.size:
            raise ValueError(f"row {bad[0]}: kind must be {MESSAGE} (message), {BARRIER} (barrier) or "
                             f"{IN_FLIGHT} (in flight), got {kind[bad[0]]}")
        m = kind != BARRIER
        w = self.worker[m]
        if w.size and (w.min() < 0 or w.max() >= self.K):
            i = np.flatnonzero(m)[np.flatnonzero((w < 0) | (w >= self.K))[0]]
            raise ValueError(f"row {i}: worker must be in [0, K={self.K}), got {self.worker[i]}")
        late = np.flatnonzero(kind[:self.n_events] == IN_FLIGHT)
        if late.size:
            raise ValueError(f"row {late[0]}: in-flight reads must come after every message and barrier")
        times = np.stack([self.t_read, self.t_done, self.t_arrival])
        if not np.all(np.isfinite(times)):
            raise ValueError(f"row {np.flatnonzero(~np.isfinite(times).all(0))[0]}: times must be finite")
        order_bad = np.flatnonzero((self.t_done < self.t_read) | (self.t_arrival < self.t_done))
        if order_bad.size:
            raise ValueError(f"row {order_bad[0]}: times must satisfy t_read <= t_done <= t_arrival")
        _protocol(self.protocol).validate(self)


class TraceBuilder:
    """Appends rows into preallocated columns grown by doubling (O(T) scalars, no per-row objects).

    ``columns``: the protocol's own integer columns, appended after the common ones, in order:
    ``append(kind, worker, t_read, t_done, t_arrival, work, *protocol_columns)``.
    """

    def __init__(self, columns: tuple[str, ...] = (), capacity: int = 1024) -> None:
        self.names = COMMON_INT + COMMON_FLOAT + tuple(columns)
        ints = set(COMMON_INT) | set(columns)
        self._cols = [np.empty(capacity, dtype=np.int64 if c in ints else np.float64) for c in self.names]
        self.n = 0

    def append(self, *values) -> None:
        n = self.n
        c = self._cols
        if n == len(c[0]):
            self._cols = c = [np.concatenate([col, np.empty_like(col)]) for col in c]
        for col, v in zip(c, values):  # one scalar store per column is cheaper than a row array
            col[n] = v
        self.n = n + 1

    def build(self, *, K: int, protocol: str, round_length: int | None, t_end: float,
              arrays: Mapping[str, np.ndarray] | None = None, meta: Mapping[str, object] | None = None) -> Trace:
        cols = {name: col[: self.n].copy() for name, col in zip(self.names, self._cols)}
        return Trace(cols, K=K, protocol=protocol, round_length=round_length, t_end=t_end,
                     arrays=arrays or {}, meta=meta or {})


@dataclass(frozen=True)
class WorkerStaleness:
    """Delays of one worker's updates: count, max and mean."""

    count: int
    max: int
    mean: float


@dataclass(frozen=True)
class StalenessStats:
    """max / mean delay (tau of Assumption 3.4.2; the realised Delta of Assumption 2.2.4 under
    shared memory), histogram[s] = #updates with delay s, per worker."""

    max: int
    mean: float
    histogram: np.ndarray
    per_worker: Mapping[int, WorkerStaleness] = field(default_factory=dict)


def staleness_stats(trace: Trace) -> StalenessStats:
    """Delay statistics of a trace's applied updates (mean is NaN when there are none)."""
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
