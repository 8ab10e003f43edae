"""Dual-free SDCA: serial (thesis Alg. 5) and distributed asynchronous Dis-dfSDCA (Alg. 6/7).

dfSDCA keeps one dual vector alpha_i in R^d per sample and the primal-dual
relation w = 1/(lam n) sum_i alpha_i (eq. 3.3). For linear models
grad phi_i(w) = phi_i'(x_i^T w) x_i, so alpha_i = x_i alpha_hat_i with a scalar
alpha_hat in R^n (O(n) storage, §3.2.2 / §3.5.1) and w = X^T alpha_hat/(lam n).
Non-linear problems (PCA, eq. 3.40) keep alpha in R^{n x d} (O(nd), §3.5.2).

Sign: at the optimum kappa = 0, so alpha_i^* = -grad phi_i(w^*) (§3.3.2),
i.e. alpha_hat_i^* = -phi_i'(x_i^T w^*): exactly the maximiser of the dual
eq. 3.2, whose optimality gives w^* = A alpha^*/(lam n) with
alpha_i^* = -phi_i'(x_i^T w^*). So alpha_hat is passed to
``problem.duality_gap`` unchanged.

Serial dfSDCA on a linear model sums its margin x_i^T w (Alg. 5, line 4) in sequential order
(:func:`algorithms.sdca.sequential_dot`), compiled kernel and numpy reference alike: a deliberate
change made for speed (up to a4cacef it took BLAS ddot's order, numpy's ``x_i @ w``), so its
iterates differ from that version's in the last bits. Dis-dfSDCA's blocks are unchanged.
"""
from __future__ import annotations

from typing import Literal

import numpy as np
import scipy.sparse as sp

from algorithms.problem import Problem, has, require
from algorithms.roles import GradientStepServer, Message
from algorithms.problems import LogisticProblem, RidgeProblem
from algorithms.sdca import Engine, RowView, SerialResult, check_engine, loss_kind, run_serial, run_serial_blocks
from algorithms.shards import check_int, check_step, draw_block, shard_bounds

DualScale = Literal["n", "n_k"]


def dfsdca(
    problem: Problem, eta: float, T: int, rng: np.random.Generator, *, record_every: int | None = None,
    engine: Engine = "numba",
) -> SerialResult:
    """Serial dfSDCA, Alg. 5, from alpha^0 = 0 and w^0 = w(alpha^0) = 0.

    Step t draws i = ``rng.integers(n)``; kappa = grad phi_i(w) + alpha_i
    (line 4; phi_i'(x_i^T w) x_i on a linear model, x_i^T w summed in sequential order),
    alpha_i -= eta lam n kappa (line 5), w -= eta kappa (line 6).
    ``engine="numba"`` runs ridge and logistic problems in a compiled kernel
    (:mod:`algorithms.kernels`), bit for bit the iterates of ``engine="numpy"`` (the plain-numpy
    reference, which every other problem uses).
    """
    eta = check_step("eta", eta)
    T = check_int("T", T, low=0)
    engine = check_engine(engine)
    n, lam = problem.n, float(problem.lam)
    c = eta * lam * n
    w = np.zeros(problem.d)
    require(problem, "linear_model|per_sample_grads", who="dfSDCA (Alg. 5)")
    linear = has(problem, "linear_model")
    alpha = np.zeros(n) if linear else np.zeros((n, problem.d))
    rows = RowView(problem.X) if linear else None
    if linear and engine == "numba" and isinstance(problem, (RidgeProblem, LogisticProblem)):
        from algorithms import kernels

        krows, code = kernels.Rows(rows), kernels.LOSS_CODES[loss_kind(problem)]
        y = np.ascontiguousarray(problem.y, dtype=np.float64)

        def steps(idx: np.ndarray) -> None:
            kernels.dfsdca_steps(krows, y, alpha, w, idx, code, eta, c)

        return run_serial_blocks(problem, T, rng, record_every, w, alpha, steps)

    def step(i: int) -> None:
        nonlocal w
        idx = np.array([i])
        if linear:
            kappa = float(problem.dloss(np.array([rows.seq_dot(i, w)]), idx)[0]) + alpha[i]
            alpha[i] -= c * kappa
            rows.sub_scaled(i, eta, kappa, w)
        else:
            kappa = problem.sample_grads(w, idx)[0] + alpha[i]
            alpha[i] -= c * kappa
            w -= eta * kappa

    return run_serial(problem, T, rng, record_every, w, alpha, step)


class DisDfSDCA(GradientStepServer):
    """Dis-dfSDCA (Alg. 6 server, Alg. 7 workers) as roles on K contiguous shards.

    Worker k, given a stale read w^{s,d(t)}, draws I_t (H distinct samples of its
    shard) and makes one vectorised block update at that fixed read:
    kappa_i = grad phi_i(w_read) + alpha_i (eq. 3.6), alpha_i -= eta lam c kappa_i
    (eq. 3.7), v_k = sum_{i in I_t} kappa_i (eq. 3.8). Since I_t has no
    duplicates this equals Alg. 7's loop over i in I_t. The server applies
    w -= eta v_k (eq. 3.5); every T messages the round ends and w is broadcast
    (Alg. 6), a barrier that costs no work.

    DISCREPANCY (flagged): eq. 3.7 scales the dual step by lam n, the printed
    Alg. 7 by lam n_k. Only ``dual_scale="n"`` (the default, eq. 3.7) keeps the
    primal-dual relation w = A alpha/(lam n) of eq. 3.3 exact; ``dual_scale="n_k"``
    encodes Alg. 7 as printed. Even with "n", §3.3.2's "always satisfied" holds
    only when no message is in flight: a worker's duals move at work(), w only
    when the server applies v_k. The ``duality_gap`` probe is G(alpha_hat),
    i.e. evaluated at w(alpha_hat), as §3.2 defines it; the ``lyapunov_*`` probes
    (:mod:`algorithms.probes`) read ``alpha`` and ``params`` for Theorems 3.4.1/3.4.3.
    """

    name = "dis-dfsdca"
    protocol = "async"
    default_probes = ("objective", "suboptimality", "duality_gap", "lyapunov_convex", "lyapunov_nonconvex")

    def __init__(self, problem: Problem, K: int, *, eta: float, H: int, T: int, dual_scale: DualScale = "n") -> None:
        self.K = check_int("K", K)
        self.eta = check_step("eta", eta)
        self.H = check_int("H", H)
        self.T = check_int("T", T)
        self.samples_per_message = self.H
        if dual_scale not in ("n", "n_k"):
            raise ValueError(f"dual_scale must be 'n' (eq. 3.7) or 'n_k' (Alg. 7 as printed), got {dual_scale!r}")
        if self.K > problem.n:
            raise ValueError(f"K must be an integer <= n = {problem.n}, got {self.K}")
        self.problem = problem
        self.dual_scale = dual_scale
        self.round_length = self.T
        self.epoch_work = float(problem.n)
        bounds = shard_bounds(problem.n, self.K)
        self._offsets = bounds[:-1]
        self._sizes = np.diff(bounds)
        if self.H > int(self._sizes.min()):
            raise ValueError(
                f"H must be <= n_k = {int(self._sizes.min())} (the smallest shard; I_t is drawn "
                f"without replacement), got {self.H}"
            )
        lam = float(problem.lam)
        per = np.full(self.K, float(problem.n)) if dual_scale == "n" else self._sizes.astype(np.float64)
        self._dual_step = self.eta * lam * per  # eta lam n (eq. 3.7) or eta lam n_k (Alg. 7)
        require(problem, "linear_model|per_sample_grads", who="Dis-dfSDCA (Alg. 6/7)")
        self._linear = has(problem, "linear_model")
        self._X = problem.X if self._linear else None
        self._alpha = np.zeros(problem.n) if self._linear else np.zeros((problem.n, problem.d))
        self._block = None  # the compiled block, built on the first message (False: numpy path)
        self._replay = None  # the fast replay's streams and scratch
        super().__init__(np.zeros(problem.d))  # w(alpha^0) = 0, eq. 3.3

    @property
    def alpha(self) -> np.ndarray:
        """All workers' duals: alpha_hat in R^n (linear) or alpha in R^{n x d} (a view)."""
        return self._alpha

    def work(self, k: int, params: np.ndarray, rng: np.random.Generator) -> Message:
        """Worker k's block at the stale read ``params`` (eqs. 3.6-3.8).

        Ridge problems (dense rows with H, d >= 2, or CSR rows) run the compiled block of
        :mod:`algorithms.block_kernels`, compiled on the first message: the same draws from ``rng``
        and the same floating-point operations as :meth:`work_numpy`, bit for bit. On CSR rows the
        message is sparse: ``index`` = the columns the block's rows touch, ``payload`` = v_k there
        (0 elsewhere), so neither the worker nor the server touches the other d coordinates. The
        compiled messages (dense or sparse) are views of worker k's own buffers, valid until worker
        k's next message (a worker has one message in flight).
        Everything else runs :meth:`work_numpy`.
        """
        block = self._block
        if block is None:
            block = self._block = self._compiled_block()
        if block is False:
            return self.work_numpy(k, params, rng)
        handles = self._handles[k]
        if handles is None or handles[0] is not rng:
            handles = self._handles[k] = (rng, *self._kernels.rng_handles(rng))
        out = block(k, handles[1], handles[2], params)
        if type(out) is tuple:
            return Message(payload=out[1], work=self.H, nbytes=self._nbytes, index=out[0])
        return out  # dense: worker k's one Message, its payload buffer refilled

    def work_now(self, k: int, rng: np.random.Generator) -> Message:
        """Worker k's block read from the server's current w, reading only what the block touches.

        Equal to ``work(k, read(), rng)`` bit for bit, without the O(d) copy of the read: the
        parameter-server protocol calls it when the read's version is still the server's
        (:mod:`sim.protocols.parameter_server`, copy-on-write reads); the block reads w only at
        its rows' columns on CSR data (all d coordinates on dense rows) and never writes w.
        """
        return self.work(k, self._w, rng)

    def apply(self, k: int, msg: Message) -> None:
        """w -= eta v_k (eq. 3.5); a sparse message updates only its ``index`` (the same rounding)."""
        if msg.index is None:
            if self._block:  # the compiled kernels are loaded: one call, numpy's rounding
                self._kernels.sub_scaled(self._w, msg.payload, self.eta)
            else:
                self._w -= self.eta * msg.payload
        else:
            self._kernels.sub_scaled_at(self._w, msg.index, msg.payload, self.eta)

    def replay_ops(self, ops: np.ndarray, workers: np.ndarray, pos: int, rngs, version: int, work: float,
                   stop_version: int, *, codes: tuple[int, int]) -> tuple[int, int, float, float, bool, float]:
        """Fast replay (:mod:`sim.protocols.parameter_server`): run the schedule ``ops[pos:]`` in compiled code.

        ``codes`` = (read, apply): the protocol's op codes. Op read of worker k computes k's block from
        the current w with ``rngs[k]`` (what ``work_now`` does), op apply applies k's pending block
        (eq. 3.5) and counts one version and ``H`` work; any other op returns to the caller, as does an
        apply that makes ``version`` equal ``stop_version`` or whose message is not finite. Returns
        (position, version, work before the last apply, work, finite, work per message). The same
        kernels, draws and rounding as :meth:`work` / :meth:`apply`, so the iterates equal the
        simulation's bit for bit (on dense rows each read's samples are drawn one read ahead, within
        the call, so their rows are in cache when the read computes). ValueError when the compiled block does not cover this problem
        (ridge, dense with H, d >= 2, or CSR), or when ``codes`` are not the compiled kernels' codes.
        """
        block = self._block
        if block is None:
            block = self._block = self._compiled_block()
        if block is False:
            raise ValueError("the fast replay of Dis-dfSDCA needs a ridge problem (dense rows with H >= 2 and d >= 2, "
                             f"or CSR rows), got {type(self.problem).__name__} with H={self.H}, d={self.problem.d}")
        if tuple(codes) != (self._kernels.OP_READ, self._kernels.OP_APPLY):
            raise ValueError(f"codes (read, apply) must be the compiled replay's "
                             f"({self._kernels.OP_READ}, {self._kernels.OP_APPLY}), got {tuple(codes)!r}")
        st = self._replay
        if st is None or st[0] is not rngs:
            st = self._replay = (rngs, *self._replay_args(rngs))
        _, kernel, mid, tail = st
        out = kernel(ops, workers, int(pos), *mid, int(version), float(work), self.H, int(stop_version), *tail)
        return (*out, float(self.H))

    def _replay_args(self, rngs) -> tuple:
        """(kernel, its arguments between ``pos`` and ``version``, its arguments after ``stop_version``):
        the streams' handles, the data and the scratch of one fast replay, built once per set of streams."""
        bk, p = self._kernels, self.problem
        handles = [bk.rng_handles(g) for g in rngs]
        fns = np.array([h[0] for h in handles], dtype=np.int64)
        sts = np.array([h[1] for h in handles], dtype=np.int64)
        scratch = self._replay_scratch()
        shard = (self._sizes, self._offsets, self._dual_step, self.eta)
        if sp.issparse(self._X):
            X = self._X
            return (bk.dfsdca_replay_csr, (fns, sts, *shard, X.data, X.indices, X.indptr, p.y, self._alpha, self._w,
                                           *scratch[:-1]), scratch[-1:])
        idx, Xi, m, pend, marks = scratch
        return (bk.dfsdca_replay_dense, (fns, sts, bk.blas_gemv(), *shard, self._X, p.y, self._alpha, self._w, idx, Xi,
                                         m, pend), (marks,))

    def _replay_scratch(self) -> tuple:
        H, d, K = self.H, self.problem.d, self.K
        if sp.issparse(self._X):
            return (np.empty(H), np.zeros((K, H), dtype=np.int64), np.zeros((K, H)), self._kernels.csr_slots(d, d),
                    np.empty(d, dtype=np.int64), np.empty(d),
                    self._kernels.choice_marks(int(self._sizes.max())))
        return (np.empty((2, H), dtype=np.int64), np.empty((H, d)), np.empty(H), np.zeros((K, d)),
                self._kernels.choice_marks(int(self._sizes.max())))

    def _compiled_block(self):
        """The compiled block for this problem (a closure over the data and scratch), or False."""
        from algorithms.problems import RidgeProblem

        p = self.problem
        if not self._linear or type(p)._dloss is not RidgeProblem._dloss or int(self._sizes.max()) >= 2 ** 32 - 1:
            return False
        from algorithms import block_kernels as bk

        self._kernels, self._handles = bk, [None] * self.K
        H, d, alpha, y = self.H, p.d, self._alpha, p.y
        # per worker, as Python numbers: shard size, offset and dual step (eq. 3.7)
        shard = [(int(n_k), int(o), float(c)) for n_k, o, c in zip(self._sizes, self._offsets, self._dual_step)]
        idx, m = np.empty(H, dtype=np.int64), np.empty(H)
        if sp.issparse(self._X):
            X = self._X
            data, indices, indptr = X.data, X.indices, X.indptr  # no copies (int32 or int64 indices)
            room = min(d, H * int(np.diff(indptr).max()))
            slot, marks = bk.csr_slots(d, room), bk.choice_marks(int(self._sizes.max()))
            # the indices' integer type: a message's columns are half the bytes with int32 indices
            cols, vals = np.empty((self.K, room), dtype=indices.dtype), np.empty((self.K, room))  # O(K d) at most

            def block(k, fn, st, w):
                n_k, offset, c = shard[k]
                u = bk.dfsdca_ridge_csr_sparse(fn, st, n_k, offset, data, indices, indptr, y, alpha, c, w, idx, m,
                                               slot, cols[k], vals[k], marks)
                return cols[k, :u], vals[k, :u]
            return block
        gemv = bk.blas_gemv()
        if gemv == 0 or H < 2 or d < 2:
            return False
        X, Xi, marks = self._X, np.empty((H, d)), bk.choice_marks(int(self._sizes.max()))
        out = np.empty((self.K, d))  # worker k's message, valid until its next one; O(K d)
        msgs = [Message(payload=out[k], work=H, nbytes=self._nbytes) for k in range(self.K)]
        dense = bk.dfsdca_ridge_dense

        def block(k, fn, st, w):
            n_k, offset, c = shard[k]
            msg = msgs[k]
            dense(fn, st, gemv, n_k, offset, X, y, alpha, c, w, idx, Xi, m, marks, msg.payload)
            return msg
        return block

    def work_numpy(self, k: int, params: np.ndarray, rng: np.random.Generator) -> Message:
        """Worker k's block in plain numpy (the reference the compiled block is tested against)."""
        idx = draw_block(rng, int(self._sizes[k]), self.H)
        idx += self._offsets[k]
        alpha = self._alpha
        if self._linear:
            Xi = self._X[idx]
            kappa = self.problem.dloss(Xi @ params, idx, check_input=False)
            kappa += alpha[idx]
            alpha[idx] -= self._dual_step[k] * kappa
            v = Xi.T @ kappa  # 1-D float64 for ndarray and CSR rows alike
        else:
            kappa = self.problem.sample_grads(params, idx)
            kappa += alpha[idx]
            alpha[idx] -= self._dual_step[k] * kappa
            v = kappa.sum(axis=0)
        return Message(payload=v, work=self.H, nbytes=self._nbytes)

    def barrier(self) -> np.ndarray:
        """Alg. 6's broadcast of w^{s+1,0}: numerically nothing, no work."""
        return np.zeros(self.K)
