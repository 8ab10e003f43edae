"""Tiny deterministic roles for the sim tests (no dependence on other helpers' algorithms).

:class:`NoisyQuadratic`: K workers, worker k holds the centre c_k of
f_k(w) = 1/2 |w - c_k|^2; the objective is f(w) = 1/K sum_k f_k(w), minimised
at w* = mean_k c_k with f* = 1/(2K) sum_k |c_k - w*|^2. Worker k keeps a local
momentum m_k <- beta m_k + (w - c_k) + noise * N(0, I) (local state, so replay
must call work in the right per-worker order) and sends m_k. The server does
w <- w - eta m_k (async) or w <- w - eta/K sum_k m_k (sync).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from algorithms.roles import Message


class NoisyQuadratic:
    name = "noisy-quadratic"

    def __init__(self, K: int, d: int = 3, *, protocol: str = "async", round_length: int | None = None,
                 eta: float = 0.2, beta: float = 0.5, noise: float = 0.1, work: float = 1.0,
                 barrier_work: float = 0.0, nan_at_call: int | None = None, seed: int = 0) -> None:
        self.K, self.d, self.protocol, self.round_length = K, d, protocol, round_length
        self.eta, self.beta, self.noise, self.msg_work = eta, beta, noise, work
        self.barrier_work = barrier_work
        self.nan_at_call = nan_at_call
        self.epoch_work = float(K * work) if work > 0 else 1.0
        self.centres = np.random.default_rng(seed).standard_normal((K, d))
        self.w = np.zeros(d)
        self.m = np.zeros((K, d))
        self.calls = 0
        self.barriers = 0
        w_star = self.centres.mean(axis=0)
        self.f_star = 0.5 * float(np.sum((self.centres - w_star) ** 2)) / K

    def read(self) -> np.ndarray:
        return self.w.copy()

    def work(self, k: int, params: np.ndarray, rng: np.random.Generator) -> Message:
        self.calls += 1
        g = params - self.centres[k] + self.noise * rng.standard_normal(self.d)
        self.m[k] = self.beta * self.m[k] + g
        payload = self.m[k].copy()
        if self.nan_at_call is not None and self.calls == self.nan_at_call:
            payload[0] = np.nan
        return Message(payload, self.msg_work, payload.nbytes)

    def apply(self, k: int, msg: Message) -> None:
        self.w -= self.eta * msg.payload

    def aggregate(self, msgs: Sequence[tuple[int, Message]]) -> None:
        total = np.zeros(self.d)
        for _, msg in msgs:
            total += msg.payload
        self.w -= self.eta / self.K * total

    def barrier(self) -> np.ndarray:
        self.barriers += 1
        return np.full(self.K, float(self.barrier_work))

    def metrics(self) -> dict[str, float]:
        obj = 0.5 * float(np.sum((self.w - self.centres) ** 2)) / self.K
        return {"objective": obj, "suboptimality": obj - self.f_star}


class SharedQuadratic:
    """Shared-memory roles: P threads minimise f(w) = 1/2 |w - c|^2 with lock-free writes.

    Thread p reads w_hat, draws ``coords`` coordinates (or all) and a noise vector from its own
    stream, and writes w[k] -= eta (w_hat[k] - c[k] + noise[k]). A per-thread counter is local
    state (replay must call work in the right per-thread order); barrier() records the
    snapshot of w (as SVRG's does) and returns ``barrier_work`` per thread.
    """

    name = "shared-quadratic"
    protocol = "shared-memory"

    def __init__(self, P: int, d: int = 6, *, coords: int | None = 2, eta: float = 0.3, noise: float = 0.1,
                 round_length: int | None = None, work: float = 1.0, barrier_work: float = 0.0,
                 seed: int = 0) -> None:
        self.K, self.d, self.coords, self.eta, self.noise = P, d, coords, eta, noise
        self.round_length, self.msg_work, self.barrier_work = round_length, work, barrier_work
        self.epoch_work = float(P * work) if work > 0 else 1.0
        self.centre = np.random.default_rng(seed).standard_normal(d)
        self._w = np.zeros(d)
        self.calls = np.zeros(P, dtype=np.int64)
        self.snapshots: list[np.ndarray] = []

    @property
    def shared(self) -> np.ndarray:
        return self._w

    def read(self) -> np.ndarray:
        return self._w.copy()

    def work(self, p: int, w_hat: np.ndarray, rng: np.random.Generator) -> Message:
        self.calls[p] += 1
        g = w_hat - self.centre + self.noise * rng.standard_normal(self.d)
        if self.coords is None:
            return Message(self.eta * g, self.msg_work, 8 * self.d)
        idx = np.sort(rng.choice(self.d, size=self.coords, replace=False))
        return Message(self.eta * g[idx], self.msg_work, 16 * self.coords, index=idx)

    def apply(self, p: int, msg: Message) -> None:
        if msg.index is None:
            self._w -= msg.payload
        else:
            self._w[msg.index] -= msg.payload

    def barrier(self) -> np.ndarray:
        self.snapshots.append(self._w.copy())
        return np.full(self.K, float(self.barrier_work))

    def metrics(self) -> dict[str, float]:
        r = self._w - self.centre
        return {"objective": 0.5 * float(r @ r)}
