"""Asynchronous distributed SVRG on a parameter server: the thesis's §3.5.2 baseline ([39]).

Round s starts with a barrier: snapshot w_tilde = w and full gradient
mu = grad P(w_tilde), computed in parallel (worker k evaluates its n_k
samples). Then m messages: worker k, given a stale read w_read, draws a
mini-batch I of its shard (uniform, with replacement) and sends the
variance-reduced gradient

    v = 1/|I| sum_{i in I} (grad phi_i(w_read) - grad phi_i(w_tilde)) + lam w_read + mu - lam w_tilde
      = batch_grad(w_read, I) - batch_grad(w_tilde, I) + mu,

which the server applies as w -= eta v. Two gradient evaluations per sample.
"""
from __future__ import annotations


import numpy as np

from algorithms.problem import Problem
from algorithms.roles import GradientStepServer, Message
from algorithms.shards import check_int, check_step, shard_bounds


class AsyncSVRG(GradientStepServer):
    """Asynchronous distributed SVRG as roles, protocol "async", round_length = m."""

    name = "async-svrg"
    protocol = "async"

    def __init__(self, problem: Problem, K: int, *, eta: float, batch: int, m: int) -> None:
        self.K = check_int("K", K)
        self.eta = check_step("eta", eta)
        self.batch = check_int("batch", batch)
        self.samples_per_message = self.batch
        self.m = check_int("m", m)
        if self.K > problem.n:
            raise ValueError(f"K must be an integer <= n = {problem.n}, got {self.K}")
        self.problem = problem
        self.round_length = self.m
        self.epoch_work = float(problem.n)
        bounds = shard_bounds(problem.n, self.K)
        self._offsets = bounds[:-1]
        self._sizes = np.diff(bounds)
        # The snapshot and mu are broadcast to every worker at the barrier; all
        # workers hold the same copy, so one shared array stands for the K copies.
        self._w_tilde: np.ndarray | None = None
        self._mu: np.ndarray | None = None
        super().__init__(problem.initial_point())

    def work(self, k: int, params: np.ndarray, rng: np.random.Generator) -> Message:
        if self._w_tilde is None:
            raise RuntimeError("AsyncSVRG.barrier() must run (snapshot and full gradient) before work()")
        idx = rng.integers(int(self._sizes[k]), size=self.batch) + self._offsets[k]
        p = self.problem
        v = p.batch_grad(params, idx) - p.batch_grad(self._w_tilde, idx)
        v += self._mu
        return Message(payload=v, work=2 * self.batch, nbytes=self._nbytes)

    def barrier(self) -> np.ndarray:
        """Snapshot w_tilde = w and mu = grad P(w_tilde); worker k's share is n_k evaluations."""
        self._w_tilde = self._w.copy()
        self._mu = np.asarray(self.problem.grad(self._w_tilde), dtype=np.float64)
        return self._sizes.astype(np.float64)
