"""Slow, obviously-correct references for the Chapter 3 algorithms, and tiny drivers.

References loop over samples one at a time, keep the full dfSDCA duals
alpha_i in R^d (Alg. 5 as printed, no alpha_hat trick) and solve SDCA's 1-D
subproblem (eq. 3.4) with scipy's brentq instead of the closed form / Newton.
They draw from the random stream exactly as the fast versions document:
SDCA/dfSDCA draw ``rng.integers(n)`` per step; a Dis-dfSDCA worker draws its
block with ``rng.choice(n_k, H, replace=False)`` (``rng.integers(n_k, size=1)``
for H = 1).

The drivers run roles with zero delay (``stale=False``) or with a FIFO
pipeline where every worker holds one outstanding read (staleness K - 1),
keeping the async contract of algorithms/roles.py (barrier before the first
round and every ``round_length`` applied messages; no read granted after
``round_length`` reads in a round).
"""
from __future__ import annotations

from collections import deque
from typing import Callable

import numpy as np
from scipy.optimize import brentq

from algorithms.roles import worker_streams

GradFn = Callable[[np.ndarray, int], np.ndarray]


# --- SDCA (Alg. 4) ----------------------------------------------------------
def ref_sdca(X: np.ndarray, y: np.ndarray, lam: float, T: int, rng: np.random.Generator, loss: str):
    """Alg. 4 with a dense X, one sample per step; returns (w, alpha)."""
    n, d = X.shape
    alpha, w = np.zeros(n), np.zeros(d)
    for _ in range(T):
        i = int(rng.integers(n))
        x = X[i]
        q = (x @ x) / (lam * n)
        m = x @ w
        if loss == "squared":
            # d/dDelta [ (a+D) y - (a+D)^2/2 - m D - q D^2/2 ] = 0
            delta = (y[i] - alpha[i] - m) / (1.0 + q)
        else:
            ya = y[i] * alpha[i]

            def h(b):  # derivative of the subproblem in beta = y (alpha + D), times -y
                return np.log(b / (1.0 - b)) + y[i] * m + q * (b - ya)

            beta = brentq(h, 1e-300, 1.0 - 1e-16, xtol=1e-300, rtol=4 * np.finfo(float).eps, maxiter=500)
            delta = y[i] * beta - alpha[i]
        alpha[i] += delta
        w = w + delta / (lam * n) * x
    return w, alpha


# --- dfSDCA (Alg. 5) ----------------------------------------------------------
def ref_dfsdca(grad_i: GradFn, n: int, d: int, lam: float, eta: float, T: int, rng: np.random.Generator):
    """Alg. 5 line by line with alpha_i in R^d; returns (w, alpha (n, d))."""
    alpha, w = np.zeros((n, d)), np.zeros(d)
    for _ in range(T):
        i = int(rng.integers(n))
        kappa = grad_i(w, i) + alpha[i]
        alpha[i] = alpha[i] - eta * lam * n * kappa
        w = w - eta * kappa
    return w, alpha


def ref_worker_block(grad_i: GradFn, alpha: np.ndarray, w_read: np.ndarray, I, eta: float, lam: float, scale: float):
    """Alg. 7's inner loop over i in I_t at the fixed read w_read; updates alpha, returns v_k."""
    v = np.zeros_like(w_read)
    for i in I:
        kappa = grad_i(w_read, int(i)) + alpha[i]  # eq. 3.6
        alpha[i] = alpha[i] - eta * lam * scale * kappa  # eq. 3.7 (scale n) / Alg. 7 (scale n_k)
        v = v + kappa  # eq. 3.8
    return v


def ref_dis_dfsdca(
    grad_i: GradFn, n: int, d: int, lam: float, *, K: int, eta: float, H: int, T: int,
    rounds: int, seed: int, stale: bool, dual_scale: str = "n",
):
    """Alg. 6/7 on contiguous shards under the same schedule as :func:`run_async`; returns (w, alpha (n, d))."""
    sizes = [len(a) for a in np.array_split(np.arange(n), K)]
    offsets = np.concatenate(([0], np.cumsum(sizes)))[:-1]
    rngs = worker_streams(seed, K)
    alpha, w = np.zeros((n, d)), np.zeros(d)

    def work(k, w_read):
        rng = rngs[k]
        I = rng.integers(sizes[k], size=1) if H == 1 else rng.choice(sizes[k], size=H, replace=False)
        scale = n if dual_scale == "n" else sizes[k]
        return ref_worker_block(grad_i, alpha, w_read, I + offsets[k], eta, lam, scale)

    for order in _schedule(K, T, rounds, stale):
        reads = {}
        for op, k, slot in order:
            if op == "read":
                reads[slot] = (k, w.copy())
            else:
                kk, w_read = reads.pop(slot)
                w = w - eta * work(kk, w_read)  # eq. 3.5
    return w, alpha


# --- drivers ------------------------------------------------------------------
def _schedule(K: int, T: int, rounds: int, stale: bool):
    """Per round, the list of ('read'|'apply', worker, slot) events of the test driver."""
    for _ in range(rounds):
        ev = []
        if not stale:
            for t in range(T):
                ev += [("read", t % K, t), ("apply", t % K, t)]
        else:
            queue, granted = deque(), 0
            for k in range(min(K, T)):
                ev.append(("read", k, granted))
                queue.append((k, granted))
                granted += 1
            while queue:
                k, slot = queue.popleft()
                ev.append(("apply", k, slot))
                if granted < T:
                    ev.append(("read", k, granted))
                    queue.append((k, granted))
                    granted += 1
        yield ev


def max_staleness(K: int, T: int, stale: bool) -> int:
    """tau of the driver's schedule: number of applies between a read and its own apply."""
    return min(K, T) - 1 if stale else 0


def run_async(roles, rounds: int, seed: int, *, stale: bool = False, metrics_every_round: bool = True):
    """Drive async roles for ``rounds`` rounds of ``roles.round_length`` messages; returns per-round metrics.

    Work is computed when the message is applied, on the parameters read
    earlier: worker k's state changes only in its own work(), so the result
    does not depend on when between read and apply the work happens.
    """
    rngs = worker_streams(seed, roles.K)
    T = roles.round_length
    records = []
    for order in _schedule(roles.K, T, rounds, stale):
        roles.barrier()
        reads = {}
        for op, k, slot in order:
            if op == "read":
                reads[slot] = (k, roles.read())
            else:
                kk, params = reads.pop(slot)
                roles.apply(kk, roles.work(kk, params, rngs[kk]))
        if metrics_every_round:
            records.append(roles.metrics())
    return records


def run_sync(roles, rounds: int, seed: int):
    """Drive sync roles: each round every worker reads the same version, then one aggregate."""
    rngs = worker_streams(seed, roles.K)
    records = []
    for r in range(rounds):
        if r == 0 or (roles.round_length and r % roles.round_length == 0):
            roles.barrier()
        params = roles.read()
        msgs = [(k, roles.work(k, params, rngs[k])) for k in range(roles.K)]
        roles.aggregate(msgs)
        records.append(roles.metrics())
    return records


def linear_grad(X: np.ndarray, y: np.ndarray, loss: str) -> GradFn:
    """grad phi_i(w) written out from the loss (independent of the problem classes)."""
    if loss == "squared":
        return lambda w, i: (X[i] @ w - y[i]) * X[i]
    return lambda w, i: -y[i] / (1.0 + np.exp(y[i] * (X[i] @ w))) * X[i]


def pca_grad(X: np.ndarray, b: np.ndarray, a: float) -> GradFn:
    """grad phi_i(w) = a w - x_i x_i^T w - b for eq. 3.40 with a = mu - lam."""
    return lambda w, i: a * w - X[i] * (X[i] @ w) - b


# --- small problems shared by the Chapter 3 algorithm tests -------------------
def ridge_data(n: int, d: int = 4, seed: int = 0, sparsify: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian X (n x d, columns scaled by 1/sqrt(d)) and y from a planted model plus noise."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) / np.sqrt(d)
    if sparsify:
        X[np.abs(X) < 0.35] = 0.0
    y = X @ rng.standard_normal(d) + 0.3 * rng.standard_normal(n)
    return X, y


def pca_data(n: int, d: int = 4, seed: int = 0, mu: float = 1.5, lam: float = 0.1):
    """Mean-subtracted unit-norm rows (as §3.5.2), a random b, and the eq. 3.40 problem on them."""
    from algorithms.problems import PCAProblem

    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    X -= X.mean(axis=0)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    b = rng.standard_normal(d)
    return X, b, PCAProblem(X, b, mu=mu, lam=lam)

