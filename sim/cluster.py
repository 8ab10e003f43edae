"""Cluster models: worker speed, stragglers, failures and the network (time only).

A *speed model* is a positive random variable: the time one unit of work
(one gradient evaluation) takes. The same classes serve as latency or
slowdown distributions. A computation of ``work`` units on worker k takes

    speed_k * work * (worker straggler multiplier) * (thesis straggler multiplier)

of busy time, stretched by any failure downtime overlapping it
(:class:`FailRecover`). A message of ``nbytes`` spends
``latency + per_byte * nbytes`` on the wire (:class:`Network`).

Randomness: :func:`timing_streams` spawns, from ``cluster_stream(seed)``,
independent per-worker streams (speed, straggler, failure, uplink, downlink)
and one stream for the cluster-level :class:`ThesisStraggler`, so adding a
worker does not shift another worker's draws.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Callable, Literal, NamedTuple, Sequence

import numpy as np

from algorithms.roles import LazyStreams, cluster_stream


def _check_number(name: str, value: object, *, low: float = 0.0, allow_low: bool = False) -> float:
    ok_type = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
    if ok_type and math.isfinite(float(value)) and (value >= low if allow_low else value > low):
        return float(value)
    rel = ">=" if allow_low else ">"
    raise ValueError(f"{name} must be a finite number {rel} {low:g}, got {value!r}")


def _check_probability(name: str, value: object) -> float:
    v = _check_number(name, value, low=0.0, allow_low=True)
    if v > 1.0:
        raise ValueError(f"{name} must be a probability in [0, 1], got {value!r}")
    return v


class Distribution:
    """A non-negative random quantity with a known ``mean`` (a duration or a factor)."""

    mean: float

    def sample(self, rng: np.random.Generator) -> float:  # pragma: no cover - interface
        raise TypeError(f"{type(self).__name__} does not define sample()")

    def sample_many(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """``size`` independent draws (vectorised where the subclass can)."""
        return np.array([self.sample(rng) for _ in range(size)], dtype=np.float64)


# --- speed models: time per unit of work --------------------------------------
@dataclass(frozen=True)
class ConstantSpeed(Distribution):
    """Deterministic: every unit of work takes ``time_per_work`` (draws nothing)."""

    time_per_work: float

    def __post_init__(self) -> None:
        _check_number("time_per_work", self.time_per_work, allow_low=True)

    @property
    def mean(self) -> float:
        return float(self.time_per_work)

    def sample(self, rng: np.random.Generator) -> float:
        return float(self.time_per_work)


@dataclass(frozen=True)
class ExponentialSpeed(Distribution):
    """Exponential with the given ``mean``."""

    mean: float

    def __post_init__(self) -> None:
        _check_number("mean", self.mean)

    def sample(self, rng: np.random.Generator) -> float:
        return float(rng.exponential(self.mean))

    def sample_many(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.exponential(self.mean, size)


@dataclass(frozen=True)
class LogNormalSpeed(Distribution):
    """Log-normal with the given ``mean`` and log-scale ``sigma``: exp(N(log mean - sigma^2/2, sigma^2))."""

    mean: float
    sigma: float

    def __post_init__(self) -> None:
        _check_number("mean", self.mean)
        _check_number("sigma", self.sigma, allow_low=True)

    def sample(self, rng: np.random.Generator) -> float:
        mu = math.log(self.mean) - 0.5 * self.sigma**2
        return float(rng.lognormal(mu, self.sigma))

    def sample_many(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.lognormal(math.log(self.mean) - 0.5 * self.sigma**2, self.sigma, size)


@dataclass(frozen=True)
class ShiftedExponentialSpeed(Distribution):
    """``shift`` + Exponential, with total mean ``mean`` (so the exponential part has mean ``mean - shift``)."""

    shift: float
    mean: float

    def __post_init__(self) -> None:
        _check_number("shift", self.shift, allow_low=True)
        _check_number("mean", self.mean)
        if not self.mean > self.shift:
            raise ValueError(f"mean must be > shift={self.shift!r} (the total mean), got {self.mean!r}")

    def sample(self, rng: np.random.Generator) -> float:
        return float(self.shift + rng.exponential(self.mean - self.shift))

    def sample_many(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return self.shift + rng.exponential(self.mean - self.shift, size)


@dataclass(frozen=True)
class UniformDistribution(Distribution):
    """Uniform on [low, high] (e.g. a slowdown factor)."""

    low: float
    high: float

    def __post_init__(self) -> None:
        _check_number("low", self.low, allow_low=True)
        _check_number("high", self.high, allow_low=True)
        if self.high < self.low:
            raise ValueError(f"high must be >= low={self.low!r}, got {self.high!r}")

    @property
    def mean(self) -> float:
        return 0.5 * (self.low + self.high)

    def sample(self, rng: np.random.Generator) -> float:
        return float(rng.uniform(self.low, self.high))

    def sample_many(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.uniform(self.low, self.high, size)


def _check_distribution(name: str, value: object) -> None:
    if not isinstance(value, Distribution):
        raise ValueError(f"{name} must be a Distribution (ConstantSpeed, ExponentialSpeed, ...), got {value!r}")


# --- stragglers and failures --------------------------------------------------
class StragglerModel:
    """Per-computation multiplier of a worker's busy time."""

    def multiplier(self, rng: np.random.Generator) -> float:  # pragma: no cover - interface
        raise TypeError(f"{type(self).__name__} does not define multiplier()")


@dataclass(frozen=True)
class IndependentStraggler(StragglerModel):
    """Each computation, independently with probability ``p``, takes ``slowdown`` times longer.

    ``slowdown`` is a number >= 1 or a :class:`Distribution` of the factor.
    One uniform draw per computation (plus the factor's draw if a distribution).
    """

    p: float
    slowdown: float | Distribution

    def __post_init__(self) -> None:
        _check_probability("p", self.p)
        if not isinstance(self.slowdown, Distribution):
            _check_number("slowdown", self.slowdown, low=1.0, allow_low=True)

    def multiplier(self, rng: np.random.Generator) -> float:
        hit = rng.random() < self.p
        if isinstance(self.slowdown, Distribution):
            factor = self.slowdown.sample(rng)  # drawn always: the stream does not depend on hits
            return factor if hit else 1.0
        return float(self.slowdown) if hit else 1.0


@dataclass(frozen=True)
class PersistentSlow(StragglerModel):
    """A permanently slow worker: every computation takes ``factor`` times longer."""

    factor: float

    def __post_init__(self) -> None:
        _check_number("factor", self.factor)

    def multiplier(self, rng: np.random.Generator) -> float:
        return float(self.factor)


@dataclass(frozen=True)
class ThesisStraggler(StragglerModel):
    """The straggler model of thesis §3.5 (Huo 2020, "Experimental Results", before §3.5.1).

    "forcing one selected worker node to the delaying state for m times as long
    as the normal computing time of other normal workers with probability p;
    p = 0.2 and m is selected from [0, 10] randomly."

    Ambiguity (flagged): the sentence can mean an *extra* delay of m times the
    normal time (total (1 + m) x; m = 0 is no delay) -- ``mode="extra"``, the
    default -- or a *total* time of m times normal -- ``mode="total"``, where
    m < 1 would make the straggler faster than normal. "m is selected from
    [0, 10] randomly" is read as m ~ U[m_low, m_high] (continuous); the
    other reading, a random integer in {m_low, ..., m_high}, is
    ``integer_m=True``. Each computation of worker ``worker`` draws u ~ U[0,1)
    and m (both always, from the cluster's straggler stream); it is delayed
    when u < p.
    """

    p: float = 0.2
    m_low: float = 0.0
    m_high: float = 10.0
    worker: int = 0
    mode: Literal["extra", "total"] = "extra"
    integer_m: bool = False

    def __post_init__(self) -> None:
        _check_probability("p", self.p)
        _check_number("m_low", self.m_low, allow_low=True)
        _check_number("m_high", self.m_high, allow_low=True)
        if self.m_high < self.m_low:
            raise ValueError(f"m_high must be >= m_low={self.m_low!r}, got {self.m_high!r}")
        if isinstance(self.worker, bool) or not isinstance(self.worker, (int, np.integer)) or self.worker < 0:
            raise ValueError(f"worker must be an integer >= 0, got {self.worker!r}")
        if self.mode not in ("extra", "total"):
            raise ValueError(f"mode must be 'extra' or 'total', got {self.mode!r}")
        if not isinstance(self.integer_m, bool):
            raise ValueError(f"integer_m must be True or False, got {self.integer_m!r}")
        if self.integer_m and (self.m_low != int(self.m_low) or self.m_high != int(self.m_high)):
            raise ValueError(f"with integer_m=True, m_low and m_high must be whole numbers, "
                             f"got {self.m_low!r}, {self.m_high!r}")

    def multiplier(self, rng: np.random.Generator) -> float:
        hit = rng.random() < self.p
        if self.integer_m:
            m = float(rng.integers(int(self.m_low), int(self.m_high) + 1))
        else:
            m = float(rng.uniform(self.m_low, self.m_high))
        if not hit:
            return 1.0
        return 1.0 + m if self.mode == "extra" else m


@dataclass(frozen=True)
class FailRecover:
    """Alternating up/down periods, exponential with means ``mtbf`` and ``mttr``.

    The worker starts up at time 0; while down it makes no progress, so a
    computation is stretched by exactly the downtime overlapping it.
    """

    mtbf: float
    mttr: float

    def __post_init__(self) -> None:
        _check_number("mtbf", self.mtbf)
        _check_number("mttr", self.mttr)


# --- network and cluster ------------------------------------------------------
@dataclass(frozen=True)
class Network:
    """Per-transfer delay: ``latency`` (seconds, or a Distribution) + ``per_byte`` * nbytes.

    Under the parameter-server protocols it is the network (each link the same model); under
    shared memory it is the memory system: a read of the vector and a write of an update are
    transfers of their bytes. ``channels``: how many transfers the medium carries at once (a
    ``simpy.Resource``, so contention shows in the trace); None = unlimited. Only the
    shared-memory protocol models contention; the others refuse a set ``channels``.
    """

    latency: float | Distribution = 0.0
    per_byte: float = 0.0
    channels: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.latency, Distribution):
            _check_number("latency", self.latency, allow_low=True)
        _check_number("per_byte", self.per_byte, allow_low=True)
        c = self.channels
        if c is not None and (isinstance(c, bool) or not isinstance(c, (int, np.integer)) or c < 1):
            raise ValueError(f"channels must be an integer >= 1 or None (unlimited), got {c!r}")

    def delay(self, rng: np.random.Generator, nbytes: int) -> float:
        lat = self.latency.sample(rng) if isinstance(self.latency, Distribution) else float(self.latency)
        return lat + self.per_byte * nbytes


@dataclass(frozen=True)
class WorkerSpec:
    """One worker: its speed model, optional straggler model and optional failures."""

    speed: Distribution
    straggler: StragglerModel | None = None
    failure: FailRecover | None = None

    def __post_init__(self) -> None:
        _check_distribution("speed", self.speed)
        if self.straggler is not None and not isinstance(self.straggler, StragglerModel):
            raise ValueError(f"straggler must be a StragglerModel or None, got {self.straggler!r}")
        if self.failure is not None and not isinstance(self.failure, FailRecover):
            raise ValueError(f"failure must be a FailRecover or None, got {self.failure!r}")


@dataclass(frozen=True)
class Cluster:
    """K workers, a network (same model for every link) and an optional cluster-level straggler."""

    workers: tuple[WorkerSpec, ...]
    network: Network = Network()
    straggler: ThesisStraggler | None = None

    def __post_init__(self) -> None:
        workers = tuple(self.workers) if isinstance(self.workers, (list, tuple)) else None
        if not workers:
            raise ValueError(f"workers must be a non-empty tuple of WorkerSpec (K >= 1), got {self.workers!r}")
        for k, w in enumerate(workers):
            if not isinstance(w, WorkerSpec):
                raise ValueError(f"workers[{k}] must be a WorkerSpec, got {w!r}")
        object.__setattr__(self, "workers", workers)
        if not isinstance(self.network, Network):
            raise ValueError(f"network must be a Network, got {self.network!r}")
        if self.straggler is not None:
            if not isinstance(self.straggler, ThesisStraggler):
                raise ValueError(f"straggler must be a ThesisStraggler or None, got {self.straggler!r}")
            if self.straggler.worker >= len(workers):
                raise ValueError(
                    f"straggler.worker must be in [0, K={len(workers)}), got {self.straggler.worker!r}")

    @property
    def K(self) -> int:
        return len(self.workers)

    @classmethod
    def homogeneous(cls, K: int, *, speed: Distribution = ConstantSpeed(1.0), network: Network = Network(),
                    straggler: ThesisStraggler | None = None, worker_straggler: StragglerModel | None = None,
                    failure: FailRecover | None = None) -> "Cluster":
        """K identical workers."""
        if isinstance(K, bool) or not isinstance(K, (int, np.integer)) or K < 1:
            raise ValueError(f"K must be an integer >= 1, got {K!r}")
        spec = WorkerSpec(speed, worker_straggler, failure)
        return cls(tuple(spec for _ in range(int(K))), network, straggler)

    def clock(self, seed: int | np.random.SeedSequence) -> "ClusterClock":
        """The cluster's timing state for one run (its own random streams)."""
        return ClusterClock(self, seed)


# --- runtime ------------------------------------------------------------------
class WorkerStreams:
    """Worker k's timing streams: one per kind of draw, child j of worker k's SeedSequence in the
    order (speed, straggler, failure, uplink, downlink); each Generator is built on first use."""

    __slots__ = ("_gens",)
    KINDS = ("speed", "straggler", "failure", "uplink", "downlink")

    def __init__(self, seq: np.random.SeedSequence | "_SeedKey") -> None:
        self._gens = LazyStreams(seq, len(self.KINDS))

    speed = property(lambda self: self._gens[0])
    straggler = property(lambda self: self._gens[1])
    failure = property(lambda self: self._gens[2])
    uplink = property(lambda self: self._gens[3])
    downlink = property(lambda self: self._gens[4])


def timing_streams(seed: int | np.random.SeedSequence, K: int) -> tuple[Sequence[WorkerStreams], np.random.Generator]:
    """Per-worker timing streams and the cluster-level straggler stream.

    ``cluster_stream(seed).spawn(2)`` -> (workers, straggler); workers.spawn(K)[k].spawn(5)
    -> (speed, straggler, failure, uplink, downlink) of worker k. The per-worker streams are
    built on first use (:class:`algorithms.roles.LazyStreams`), the same Generators as spawned.
    """
    workers_ss, straggler_ss = cluster_stream(seed).spawn(2)
    return (LazyStreams(workers_ss, K, factory=WorkerStreams, child=_seed_key),
            np.random.default_rng(straggler_ss))


class _SeedKey(NamedTuple):
    """What :func:`algorithms.roles.child_seed` reads of a parent SeedSequence: worker k's seed
    without building it (only its five children are built, when drawn from)."""

    entropy: object
    spawn_key: tuple
    pool_size: int
    n_children_spawned: int


def _seed_key(parent: np.random.SeedSequence, k: int) -> _SeedKey:
    # the fields of parent.spawn(k + 1)[k] (a fresh child has spawned nothing)
    return _SeedKey(parent.entropy, parent.spawn_key + (parent.n_children_spawned + k,), parent.pool_size, 0)


class FailureClock:
    """Up/down periods of one worker, generated lazily; queried with non-decreasing start times."""

    def __init__(self, failure: FailRecover, rng: np.random.Generator) -> None:
        self._f, self._rng = failure, rng
        self.up_start = 0.0
        self.up_end = float(rng.exponential(failure.mtbf))
        self.down_end = self.up_end + float(rng.exponential(failure.mttr))

    def _next_cycle(self) -> None:
        self.up_start = self.down_end
        self.up_end = self.down_end + float(self._rng.exponential(self._f.mtbf))
        self.down_end = self.up_end + float(self._rng.exponential(self._f.mttr))

    def finish(self, start: float, busy: float) -> float:
        """Time at which ``busy`` units of up-time, counted from ``start``, have elapsed."""
        if busy <= 0.0:
            return start
        t, remaining = start, busy
        while True:
            while self.down_end <= t:
                self._next_cycle()
            if t < self.up_end:
                avail = self.up_end - t
                if remaining <= avail:
                    return t + remaining
                remaining -= avail
            t = self.down_end


class BufferedDraws:
    """Draws of one distribution from one stream, taken in vectorised blocks.

    Per-draw calls into numpy dominate a simulation's cost; blocks keep it
    low. Blocks double from 4 up to ``max_block`` so that a worker doing few
    computations (large K) does not draw many unused values. The values
    depend only on the stream, so the same seed gives the same draws.
    """

    __slots__ = ("_dist", "_rng", "_buf", "_i", "_block", "_max")

    def __init__(self, dist: Distribution, rng: np.random.Generator, max_block: int = 256) -> None:
        self._dist, self._rng, self._block, self._max = dist, rng, 4, max_block
        self._buf: list[float] = []
        self._i = 0

    def __call__(self) -> float:
        i = self._i
        if i == len(self._buf):
            self._buf = self._dist.sample_many(self._rng, self._block).tolist()
            self._block = min(2 * self._block, self._max)
            i = 0
        self._i = i + 1
        return self._buf[i]


@functools.lru_cache(maxsize=64)
def _constant(value: float) -> Callable[[], float]:
    # stateless, so one callable serves every worker with this value (cheap setup at large K)
    return lambda: value


def _draws(dist: float | Distribution, streams: Sequence[WorkerStreams], k: int, kind: str) -> Callable[[], float]:
    if isinstance(dist, ConstantSpeed) or not isinstance(dist, Distribution):
        return _constant(dist.time_per_work if isinstance(dist, ConstantSpeed) else float(dist))
    return BufferedDraws(dist, getattr(streams[k], kind))


class _PerWorker(dict):
    """Worker k's value, ``make(k)`` on first access (``dict.__missing__``), then kept: indexing
    costs what a list's does, and nothing is made for a worker that never runs."""

    __slots__ = ("_make",)

    def __init__(self, make: Callable[[int], object]) -> None:
        super().__init__()
        self._make = make

    def __missing__(self, k: int) -> object:
        value = self[k] = self._make(k)
        return value


class ClusterClock:
    """Timing state of a cluster for one run: turns work and bytes into times."""

    def __init__(self, cluster: Cluster, seed: int | np.random.SeedSequence) -> None:
        self.cluster = cluster
        self.K = cluster.K
        # O(1) setup in K: worker k's draw state, and the Generators it draws from (LazyStreams),
        # are made on its first use (_PerWorker); a constant speed or latency builds no Generator.
        streams, self._thesis_rng = timing_streams(seed, cluster.K)
        workers = cluster.workers
        self._speed = _PerWorker(lambda k: _draws(workers[k].speed, streams, k, "speed"))
        self._strag = _PerWorker(lambda k: (workers[k].straggler, streams[k].straggler)
                                 if workers[k].straggler is not None else (None, None))
        self._fail = _PerWorker(lambda k: FailureClock(workers[k].failure, streams[k].failure)
                                if workers[k].failure is not None else None)
        net = cluster.network
        self._per_byte = float(net.per_byte)
        self._up = _PerWorker(lambda k: _draws(net.latency, streams, k, "uplink"))
        self._down = _PerWorker(lambda k: _draws(net.latency, streams, k, "downlink"))
        ts = cluster.straggler
        self._thesis_worker = ts.worker if ts is not None else -1
        self._thesis = ts

    def done(self, k: int, start: float, work: float) -> float:
        """Finish time of ``work`` units started by worker k at ``start``."""
        busy = self._speed[k]() * work
        strag, srng = self._strag[k]
        if strag is not None:
            busy *= strag.multiplier(srng)
        if k == self._thesis_worker:
            busy *= self._thesis.multiplier(self._thesis_rng)
        fail = self._fail[k]
        return fail.finish(start, busy) if fail is not None else start + busy

    def uplink(self, k: int, nbytes: int) -> float:
        """Worker k -> server delay of a message of ``nbytes``."""
        return self._up[k]() + self._per_byte * nbytes

    def downlink(self, k: int, nbytes: int) -> float:
        """Server -> worker k delay of a reply/broadcast of ``nbytes``."""
        return self._down[k]() + self._per_byte * nbytes

    def barrier_end(self, start: float, work: np.ndarray) -> float:
        """End of a synchronous phase: the slowest worker's finish time for its share ``work[k]``."""
        return max(self.done(k, start, float(work[k])) for k in range(self.K))
