"""Asynchronous distributed SVRG on a parameter server (thesis Alg. 2/3, eqs. 2.32-2.33; the §3.5.2
baseline [39]) and asynchronous SGD on the same server (the AsySGD baseline of §2.4, Figs 3-4).

Distributed-AsySVRG. Round s starts with a barrier: snapshot w_tilde = w and full gradient
mu = grad P(w_tilde), computed in parallel (worker k evaluates its n_k samples). Then m messages:
worker k, given a stale read w_read, draws a mini-batch I of its shard (uniform, with replacement)
and sends the variance-reduced gradient (eq. 2.33)

    v = 1/|I| sum_{i in I} (grad phi_i(w_read) - grad phi_i(w_tilde)) + lam w_read + mu - lam w_tilde
      = batch_grad(w_read, I) - batch_grad(w_tilde, I) + mu,

which the server applies as w -= eta v (eq. 2.32). Two gradient evaluations per sample.

Step sizes are a number or a step rule (:mod:`algorithms.steps`). The epoch a rule sees at an
apply is the work applied so far (messages and barriers, gradient evaluations) over ``epoch_work``
= n: the count the simulator reports. A constant step keeps the original ``w -= eta * v``.
"""
from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp

from algorithms.problem import Problem
from algorithms.roles import GradientStepServer, Message
from algorithms.shards import check_int, shard_bounds
from algorithms.steps import Constant, Schedule, StepRule, as_step_rule

#: the metrics of Chapter 2's figures (§2.5: training loss, training and test error) plus
#: |grad f|^2, the quantity Theorems 2.3.1-2.4.2 bound; those a problem cannot support are skipped
CH2_PROBES = ("objective", "suboptimality", "grad_norm_sq", "train_error", "test_error")


def apply_step(rule: StepRule, state, w: np.ndarray, v: np.ndarray, epoch: float,
               index: np.ndarray | None = None):
    """w[index] -= step * v in place (all of w when ``index`` is None); returns the rule's new state.

    ``v`` holds one value per updated coordinate. A :class:`Constant` rule computes exactly
    ``w -= eta * v``; other rules go through ``rule.update`` (delta = -(step * v), then w += delta,
    the same rounding for scalar schedules). On a coordinate subset only scalar schedules apply.
    """
    if type(rule) is Constant:
        if index is None:
            w -= rule.eta * v
        else:
            w[index] -= rule.eta * v
        return state
    if index is None:
        delta, state = rule.update(v, state, w, epoch=epoch)
        w += delta
    else:
        delta, state = rule.update(v, state, w[index], epoch=epoch)
        w[index] += delta
    return state


def check_coords_rule(rule: StepRule, name: str, coords: int | None) -> None:
    """A rule used on a random coordinate subset must be a scalar schedule (no layer scaling)."""
    if coords is not None and not isinstance(rule, Schedule):
        raise ValueError(f"{name} must be a number or a scalar schedule (Constant, Polynomial, StepDecay, "
                         f"LinearWarmup) when coords is given, got {type(rule).__name__}")


def check_sgd_phase(sgd_epochs: object, sgd_eta: object) -> tuple[float, StepRule | None]:
    """(sgd_epochs, rule of sgd_eta) of SGD_SVRG (§2.5): SGD for sgd_epochs epochs, then SVRG."""
    ok = not isinstance(sgd_epochs, (bool, np.bool_)) and isinstance(
        sgd_epochs, (int, float, np.integer, np.floating))
    if not (ok and math.isfinite(sgd_epochs) and sgd_epochs >= 0):
        raise ValueError(f"sgd_epochs must be a finite number >= 0, got {sgd_epochs!r}")
    if sgd_eta is None:
        if sgd_epochs > 0:
            raise ValueError(f"sgd_eta must be given (a number > 0 or a step rule) when sgd_epochs > 0, "
                             f"got sgd_eta=None with sgd_epochs={sgd_epochs!r}")
        return 0.0, None
    return float(sgd_epochs), as_step_rule(sgd_eta, name="sgd_eta")


class SVRGPhases:
    """SVRG's snapshot barrier and SGD_SVRG's warm start (§2.5), shared by Distributed-AsySVRG
    (Alg. 2/3, parameter server) and Shared-AsySVRG (Alg. 1, shared memory).

    While fewer than ``sgd_epochs`` epochs of work are applied, messages are plain SGD steps applied
    with ``sgd_eta`` and barriers take no snapshot (zero work); the first barrier at or after
    ``sgd_epochs`` takes the snapshot w_tilde = w, mu = grad f(w_tilde), and SVRG starts. Hosts set
    ``problem``, ``K``, ``epoch_work``, ``_w``, ``_work`` and ``_rule``, and provide
    ``_apply_rule(rule, state, msg)`` and ``_barrier_shares()`` (each worker's share of n evaluations).
    """

    def _init_phases(self, sgd_epochs: object, sgd_eta: object, coords: int | None = None) -> None:
        self.sgd_epochs, self._sgd_rule = check_sgd_phase(sgd_epochs, sgd_eta)
        if self._sgd_rule is not None:
            check_coords_rule(self._sgd_rule, "sgd_eta", coords)
        self._state = self._rule.init(self._w)
        self._sgd_state = None if self._sgd_rule is None else self._sgd_rule.init(self._w)
        # The snapshot and mu are broadcast at the barrier; every worker (thread) holds the same
        # copy, so one array stands for the K copies.
        self._w_tilde: np.ndarray | None = None
        self._mu: np.ndarray | None = None
        self._phase: str | None = None  # "sgd" or "svrg", set by barrier()

    @property
    def phase(self) -> str | None:
        """"sgd" (SGD_SVRG's warm start), "svrg", or None before the first barrier."""
        return self._phase

    @property
    def snapshot(self) -> np.ndarray | None:
        """w_tilde^s of the current epoch (None before the first snapshot)."""
        return self._w_tilde

    def apply(self, k: int, msg: Message) -> None:
        # Round gating applies every message of a round before its closing barrier, so the phase
        # at apply is the phase the message was computed in.
        if self._phase == "sgd":
            self._sgd_state = self._apply_rule(self._sgd_rule, self._sgd_state, msg)
        else:
            self._state = self._apply_rule(self._rule, self._state, msg)

    def barrier(self) -> np.ndarray:
        """Snapshot w_tilde = w and mu = grad f(w_tilde) (Alg. 1 lines 2-3, Alg. 2); each worker's share
        of the n evaluations. During SGD_SVRG's SGD phase: nothing, no work."""
        if self._phase != "svrg" and self._work / self.epoch_work < self.sgd_epochs:
            self._phase = "sgd"
            return np.zeros(self.K)
        self._phase = "svrg"
        self._w_tilde = self._w.copy()
        self._mu = np.asarray(self.problem.grad(self._w_tilde), dtype=np.float64)
        self._work += float(self.problem.n)
        return self._barrier_shares()


class ScheduledSteps:
    """Steps from a rule taken at apply time: the epoch a rule sees is the work applied so far
    (messages or writes, and barriers) over ``epoch_work``. Hosts set ``_w``, ``epoch_work`` and
    ``_work = 0.0``."""

    @property
    def epoch(self) -> float:
        """Work applied so far over ``epoch_work`` (the simulator's epoch count)."""
        return self._work / self.epoch_work

    def _apply_rule(self, rule: StepRule, state, msg: Message):
        """w[msg.index] -= step * payload (all of w when ``index`` is None, eq. 2.32; the lock-free
        write of eq. 2.4 otherwise); returns the rule's new state."""
        state = apply_step(rule, state, self._w, msg.payload, self._work / self.epoch_work, msg.index)
        self._work += msg.work
        return state


class _ScheduledServer(ScheduledSteps, GradientStepServer):
    """A parameter server whose step comes from a rule evaluated at apply time (epoch = applied work / n)."""

    def _init_steps(self, problem: Problem, K: int, eta: object) -> None:
        self.K = check_int("K", K)
        self._rule = as_step_rule(eta, name="eta")
        # a float eta stays a float (as before); a rule is kept as given
        self.eta = self._rule.eta if isinstance(eta, (int, float, np.integer, np.floating)) else eta
        if self.K > problem.n:
            raise ValueError(f"K must be an integer <= n = {problem.n}, got {self.K}")
        self.problem = problem
        self.epoch_work = float(problem.n)
        bounds = shard_bounds(problem.n, self.K)
        self._offsets = bounds[:-1]
        self._sizes = np.diff(bounds)
        self._work = 0.0  # gradient evaluations applied: messages and barriers


class AsyncSVRG(SVRGPhases, _ScheduledServer):
    """Distributed-AsySVRG (Alg. 2 server, Alg. 3 workers) as roles, protocol "async", round_length = m.

    ``eta``: a number (the thesis's constant step) or a step rule. ``sgd_epochs > 0`` gives SGD_SVRG
    (§2.5.2: one epoch of SGD): while fewer than ``sgd_epochs`` epochs of work are applied, workers send
    plain mini-batch gradients of their shard (b evaluations), applied with ``sgd_eta``, and barriers
    take no snapshot (zero work); the first barrier at or after ``sgd_epochs`` takes the snapshot and
    SVRG starts. The epoch axis then counts the SGD epochs too.
    """

    name = "async-svrg"
    protocol = "async"

    def __init__(self, problem: Problem, K: int, *, eta: float | StepRule, batch: int, m: int,
                 sgd_epochs: float = 0, sgd_eta: float | StepRule | None = None) -> None:
        self._init_steps(problem, K, eta)
        self.batch = check_int("batch", batch)
        self.samples_per_message = self.batch
        self.m = check_int("m", m)
        self.round_length = self.m
        super().__init__(problem.initial_point())
        self._init_phases(sgd_epochs, sgd_eta)
        self._block = None  # the compiled SVRG message, built on the first one (False: numpy path)

    def work(self, k: int, params: np.ndarray, rng: np.random.Generator) -> Message:
        """Worker k's message (eq. 2.33). On eq. 3.40's PCA problem with dense rows and b >= 2 the SVRG
        message runs the compiled kernel of :mod:`algorithms.block_kernels` (the same draws and
        rounding as :meth:`work_numpy`, bit for bit); otherwise :meth:`work_numpy`."""
        if self._phase == "svrg":
            block = self._block
            if block is None:
                block = self._block = self._compiled_block()
            if block is not False:
                return Message(payload=block(k, params, rng), work=2 * self.batch, nbytes=self._nbytes)
        return self.work_numpy(k, params, rng)

    def _compiled_block(self):
        from algorithms.problems import PCAProblem

        p = self.problem
        if type(p).batch_grad is not PCAProblem.batch_grad or sp.issparse(p.X) or self.batch < 2 or p.d < 2 \
                or int(self._sizes.max()) >= 2 ** 32 - 1:
            return False
        from algorithms import block_kernels as bk

        gemv = bk.blas_gemv()
        if gemv == 0:
            return False
        X, c1, bvec = p.X, float(p.a + p.lam), np.asarray(p.b, dtype=np.float64)
        idx, Xb, m, g2 = (np.empty(self.batch, dtype=np.int64), np.empty((self.batch, p.d)), np.empty(self.batch),
                          np.empty(p.d))
        handles = [None] * self.K

        def block(k, params, rng):
            h = handles[k]
            if h is None or h[0] is not rng:
                h = handles[k] = (rng, *bk.rng_handles(rng))
            return bk.svrg_pca_dense(h[1], h[2], gemv, int(self._sizes[k]), int(self._offsets[k]), X, c1, bvec,
                                     params, self._w_tilde, self._mu, idx, Xb, m, g2)
        return block

    def work_numpy(self, k: int, params: np.ndarray, rng: np.random.Generator) -> Message:
        """Worker k's message in plain numpy (the reference the compiled kernel is tested against)."""
        if self._phase is None:
            raise RuntimeError("AsyncSVRG.barrier() must run (snapshot and full gradient) before work()")
        idx = rng.integers(int(self._sizes[k]), size=self.batch) + self._offsets[k]
        p = self.problem
        if self._phase == "sgd":
            return Message(payload=p.batch_grad(params, idx), work=self.batch, nbytes=self._nbytes)
        v = p.batch_grad(params, idx) - p.batch_grad(self._w_tilde, idx)
        v += self._mu
        return Message(payload=v, work=2 * self.batch, nbytes=self._nbytes)

    def _barrier_shares(self) -> np.ndarray:
        return self._sizes.astype(np.float64)  # worker k evaluates its n_k samples


class AsySGD(_ScheduledServer):
    """Asynchronous SGD on the parameter server (the AsySGD baseline of §2.4, [59]), protocol "async".

    Worker k, given a stale read w_read, draws a mini-batch I of its shard (uniform, with
    replacement) and sends g = batch_grad(w_read, I) (b evaluations); the server applies
    w -= eta_s g with eta_s from ``eta`` (a number or a rule, e.g. ``Polynomial(alpha, beta)``,
    eta = alpha/(1+s)^beta with s the epoch, §2.5.1). No rounds; the barrier does nothing.
    """

    name = "asysgd"
    protocol = "async"
    round_length = None
    default_probes = CH2_PROBES

    def __init__(self, problem: Problem, K: int, *, eta: float | StepRule, batch: int) -> None:
        self._init_steps(problem, K, eta)
        self.batch = check_int("batch", batch)
        self.samples_per_message = self.batch
        super().__init__(problem.initial_point())
        self._state = self._rule.init(self._w)

    def work(self, k: int, params: np.ndarray, rng: np.random.Generator) -> Message:
        idx = rng.integers(int(self._sizes[k]), size=self.batch) + self._offsets[k]
        return Message(payload=self.problem.batch_grad(params, idx), work=self.batch, nbytes=self._nbytes)

    def apply(self, k: int, msg: Message) -> None:
        self._state = self._apply_rule(self._rule, self._state, msg)

    def barrier(self) -> np.ndarray:
        """No snapshot: zero work."""
        return np.zeros(self.K)
