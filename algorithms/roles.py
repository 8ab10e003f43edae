"""The role protocol: how an algorithm meets a driver (simulator or replay).

An algorithm bound to a problem and K data shards is written as the roles of
its pseudo-code (thesis Alg. 6/7 for Dis-dfSDCA): a *server* that owns the
global parameters and applies messages, *workers* that own their shard and
local state and turn a (possibly stale) read of the parameters into a message,
and the *barrier* the algorithm needs between rounds (broadcast, SVRG
snapshot). Roles are time-free: a message says how much *work* it cost
(gradient evaluations) and how many bytes it is, never what time it is.
A driver decides when things happen; the numbers depend only on the order.

Contract every driver keeps (so that ``replay`` of a trace is bit-identical
to the simulation that recorded it):

* worker k's computation is ``roles.work(k, params, rng_k)`` where ``params``
  is the array returned by ``roles.read()`` at the worker's read, and
  ``rng_k`` is worker k's own Generator (see :func:`worker_streams`);
* ``work`` may change only worker k's local state; ``apply`` / ``aggregate``
  / ``barrier`` only the server's state;
* protocol ``"async"``: messages are applied one at a time in arrival order;
  every ``round_length`` applied messages the round ends and ``barrier()`` is
  called (also once before the first round); no read is granted in a round
  after ``round_length`` reads have been granted in it, so every message is
  applied in the round it was read in (staleness <= round_length - 1);
* protocol ``"sync"``: a round is one read by every worker of the same
  version, then ``aggregate`` of all K messages in worker order;
  ``barrier()`` is called once before the first round and every
  ``round_length`` rounds if ``round_length`` is set.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Protocol, Sequence, runtime_checkable

import numpy as np

ProtocolName = Literal["async", "sync"]


@dataclass(frozen=True)
class Message:
    """What a worker sends: ``payload`` (e.g. the gradient message v_k of eq. 3.8),
    the ``work`` it cost in gradient evaluations, and its size ``nbytes`` on the wire."""

    payload: np.ndarray
    work: float
    nbytes: int

    def __post_init__(self) -> None:
        # math, not numpy: this runs once per message, in the simulator's hot path
        if not (math.isfinite(self.work) and self.work >= 0):
            raise ValueError(f"work must be a finite number >= 0, got {self.work!r}")
        if int(self.nbytes) != self.nbytes or self.nbytes < 0:
            raise ValueError(f"nbytes must be an integer >= 0, got {self.nbytes!r}")


@runtime_checkable
class Roles(Protocol):
    """An algorithm as server, workers and barrier; see the module docstring."""

    name: str
    K: int
    protocol: ProtocolName
    round_length: int | None
    epoch_work: float  # work units that make one epoch (n gradient evaluations)

    def read(self) -> np.ndarray:
        """Server: a copy of the current global parameters (what a worker receives)."""

    def work(self, k: int, params: np.ndarray, rng: np.random.Generator) -> Message:
        """Worker k: turn a (possibly stale) read into a message."""

    def apply(self, k: int, msg: Message) -> None:
        """Server, async protocol: apply one message from worker k."""

    def aggregate(self, msgs: Sequence[tuple[int, Message]]) -> None:
        """Server, sync protocol: apply one round's messages (in worker order)."""

    def barrier(self) -> np.ndarray:
        """Numeric work at a round boundary (broadcast, snapshot, full gradient).

        Returns the work, in gradient evaluations, that each of the K workers
        spends in this synchronous phase (shape (K,); zeros for a pure broadcast).
        """

    def metrics(self) -> dict[str, float]:
        """Current metrics, e.g. ``objective``, ``suboptimality``, ``duality_gap``.

        Reads state only; never draws random numbers or changes iterates.
        """


class ParameterServer:
    """The server's state shared by parameter-server roles: the global w (Alg. 6).

    Subclasses call ``super().__init__(d)``; ``read`` hands a worker its own
    copy (the stale read it keeps), ``w`` is a view for metrics and tests.
    """

    def __init__(self, d: int) -> None:
        self._w = np.zeros(d)
        self._nbytes = 8 * d  # a float64 d-vector on the wire, each way

    @property
    def w(self) -> np.ndarray:
        """The server's global parameters (a view; do not modify)."""
        return self._w

    def read(self) -> np.ndarray:
        return self._w.copy()

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


def worker_streams(seed: int | np.random.SeedSequence, K: int) -> list[np.random.Generator]:
    """Worker k's algorithm stream (sampling of I_t etc.), independent of the cluster's.

    Derived as ``SeedSequence(seed).spawn(2)[0].spawn(K)``: adding a worker
    does not shift another worker's draws. Drivers and replay both use this.
    """
    algo, _cluster = _fresh(seed).spawn(2)
    return [np.random.default_rng(s) for s in algo.spawn(K)]


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
