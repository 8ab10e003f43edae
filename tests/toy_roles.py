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
