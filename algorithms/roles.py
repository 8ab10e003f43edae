"""Roles: how an algorithm meets a driver (the simulator or replay), and what all roles share.

An algorithm bound to a problem is written as the roles of its pseudo-code (thesis Alg. 6/7
for Dis-dfSDCA, Alg. 1 for Shared-AsySVRG): e.g. a *server* that owns the global parameters
and applies messages, *workers* that turn a (possibly stale or inconsistent) read into a
message, and the *barrier* the algorithm needs between rounds (broadcast, SVRG snapshot).
Roles are time-free: a message says how much *work* it cost (gradient evaluations) and how
many bytes it is, never what time it is. A driver decides when things happen; the numbers
depend only on the order.

``roles.protocol`` names the protocol that drives them (``sim.protocols``); each protocol's
module documents the role interface it drives and the contract that makes ``replay`` of a trace
bit-identical to the simulation that recorded it. What every protocol needs is :class:`Roles`.
Worker k always computes with its own Generator (:func:`worker_streams`), and ``metrics()``
(the probes a study chose, :mod:`algorithms.probes`) reads state only.
"""
from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from collections.abc import Sequence
from typing import Callable, Protocol, runtime_checkable

import numpy as np

from algorithms.probes import Measured


@dataclass(frozen=True)
class Message:
    """What a worker sends: ``payload`` (e.g. the gradient message v_k of eq. 3.8), the ``work``
    it cost in gradient evaluations, its size ``nbytes`` on the wire, and the coordinates
    ``index`` it updates (None = the whole vector; a lock-free write of eq. 2.4 names its k_t)."""

    payload: np.ndarray
    work: float
    nbytes: int
    index: np.ndarray | None = None

    def __post_init__(self) -> None:
        # math, not numpy: this runs once per message, in the simulator's hot path
        if not (math.isfinite(self.work) and self.work >= 0):
            raise ValueError(f"work must be a finite number >= 0, got {self.work!r}")
        if int(self.nbytes) != self.nbytes or self.nbytes < 0:
            raise ValueError(f"nbytes must be an integer >= 0, got {self.nbytes!r}")


@runtime_checkable
class Roles(Protocol):
    """What every protocol needs of an algorithm's roles (each protocol adds its own methods)."""

    name: str
    K: int
    protocol: str
    round_length: int | None
    epoch_work: float  # work units that make one epoch (n gradient evaluations)

    def metrics(self) -> dict[str, float]:
        """Current metrics (the probes chosen for the run); reads state only."""


class ParamsHolder(Measured):
    """Roles that hold the parameter vector w: a server's global w (Alg. 2, Alg. 6) or the vector
    threads share (Alg. 1). ``read`` hands out a copy, ``params`` / ``w`` is a view for probes and tests."""

    def __init__(self, w0: np.ndarray) -> None:
        self._w = np.array(w0, dtype=np.float64)  # a private copy

    @property
    def w(self) -> np.ndarray:
        """The current parameters (a view; do not modify)."""
        return self._w

    params = w

    def read(self) -> np.ndarray:
        return self._w.copy()


class ParameterServer(ParamsHolder):
    """The server's state shared by parameter-server roles: the global w (Alg. 2, Alg. 6).

    Subclasses call ``super().__init__(w0)`` with the starting point; ``read`` hands a worker its
    own copy (the stale read it keeps).
    """

    def __init__(self, w0: np.ndarray) -> None:
        super().__init__(w0)
        self._nbytes = 8 * self._w.size  # a float64 d-vector on the wire, each way

    def aggregate(self, msgs: Sequence[tuple[int, Message]]) -> None:
        """A synchronous round's messages, applied one by one in worker order."""
        for k, msg in msgs:
            self.apply(k, msg)


class GradientStepServer(ParameterServer):
    """A server whose update is a step along the message: w <- w - eta v (eq. 3.5).

    Subclasses set ``self.eta``.
    """

    eta: float

    def apply(self, k: int, msg: Message) -> None:
        self._w -= self.eta * msg.payload


def child_seed(parent: np.random.SeedSequence, k: int) -> np.random.SeedSequence:
    """``parent.spawn(k + 1)[k]`` without spawning: the SeedSequence spawn() makes as the parent's
    k-th child, ``SeedSequence(entropy, spawn_key=parent.spawn_key + (n_children_spawned + k,))``
    (the parent's child counter is left alone)."""
    return np.random.SeedSequence(parent.entropy, spawn_key=parent.spawn_key + (parent.n_children_spawned + k,),
                                  pool_size=parent.pool_size)


class LazyStreams(Sequence):
    """K objects ``factory(child_seed(parent, k))``, each built on first use and kept.

    A sequence of Generators (``factory = np.random.default_rng``), equal to
    ``[factory(s) for s in parent.spawn(K)]`` item by item, but O(1) to create: a run that uses
    few of its K workers' streams (or a cluster whose speeds are constant) never builds the rest.
    Item k is the same object at every access (a Generator keeps its state).
    """

    __slots__ = ("_parent", "_items", "_factory", "_child")

    def __init__(self, parent: np.random.SeedSequence, K: int,
                 factory: Callable[[np.random.SeedSequence], object] = np.random.default_rng,
                 child: Callable[[np.random.SeedSequence, int], object] = child_seed) -> None:
        # child(parent, k): item k's seed handed to factory (default: the SeedSequence itself)
        self._parent = parent
        self._items: list = [None] * int(K)
        self._factory = factory
        self._child = child

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, k):
        if isinstance(k, slice):
            return [self[j] for j in range(*k.indices(len(self._items)))]
        item = self._items[k]  # IndexError / TypeError as a list's
        if item is None:
            k = operator.index(k) % len(self._items)
            item = self._items[k] = self._factory(self._child(self._parent, k))
        return item


def worker_streams(seed: int | np.random.SeedSequence, K: int) -> LazyStreams:
    """Worker k's algorithm stream (sampling of I_t etc.), independent of the cluster's.

    Derived as ``SeedSequence(seed).spawn(2)[0].spawn(K)``: adding a worker
    does not shift another worker's draws. Drivers and replay both use this.
    Worker k's Generator is built when it is first used (:class:`LazyStreams`).
    """
    algo, _cluster = _fresh(seed).spawn(2)
    return LazyStreams(algo, K)


def cluster_stream(seed: int | np.random.SeedSequence) -> np.random.SeedSequence:
    """The cluster's (timing) seed sequence: ``SeedSequence(seed).spawn(2)[1]``."""
    return _fresh(seed).spawn(2)[1]


def _fresh(seed: int | np.random.SeedSequence) -> np.random.SeedSequence:
    # spawn() advances a SeedSequence's child counter; rebuild it so that the
    # same seed always yields the same children, however often it is used.
    if isinstance(seed, np.random.SeedSequence):
        return np.random.SeedSequence(seed.entropy, spawn_key=seed.spawn_key, pool_size=seed.pool_size)
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0 or a numpy SeedSequence, got {seed!r}")
    return np.random.SeedSequence(int(seed))
