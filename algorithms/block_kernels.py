"""Compiled worker blocks of the distributed Chapter 3 algorithms (numba), bit-identical to numpy.

This module imports numba; the roles import it lazily, on their first message, so importing
``algorithms`` never compiles nor loads numba. Every kernel is ``cache=True`` and is compiled on
its first call (a few specialisations only: float64 data, int64 indices, CSR as the three arrays
``data, indices, indptr``). The plain-numpy code it replaces stays the reference oracle
(``tests/test_block_kernels.py``).

Bit identity with the numpy path rests on three things, each tested:

* **The index draw**: :mod:`algorithms.draws` (``choice_into_marks`` and friends), the same
  stream and values as ``rng.choice`` / ``rng.integers``.
* **BLAS**: ``Xi @ w`` and ``Xi.T @ kappa`` on dense rows call the very ``cblas_dgemv`` numpy's
  ``matmul`` calls (numpy's bundled OpenBLAS, found by symbol), with the arguments numpy passes
  (column-major/transposed for ``Xi @ w``, row-major/transposed for ``Xi.T @ kappa``). When
  that symbol cannot be found (another numpy build), :func:`blas_gemv` returns 0; and for
  H = 1 or d = 1 numpy takes a dot-product path instead of gemv. In those cases the roles keep
  their numpy path.
* **Sparse rows** follow scipy's ``csr_matvec`` (row sums in stored order, from 0.0) and
  ``csc_matvec`` (``v[j] += x_ij kappa_i``, rows in order); element-wise steps are the same
  IEEE operations as numpy's (no fast-math, no fused multiply-add).
"""
from __future__ import annotations

import ctypes
import glob
import os

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from algorithms.draws import (  # noqa: F401  (re-exported: the roles and tests reach the draws through bk)
    TAIL_CUTOFF, TAIL_MIN_POP, choice_into, choice_into_marks, choice_into_table, choice_marks, rng_handles,
    uniform_into)
from algorithms.kernels import kernels as _serial_kernels
from algorithms.kernels import prefetch_intrinsic

#: CBLAS enums (cblas.h)
ROW_MAJOR, COL_MAJOR, NO_TRANS, TRANS = 101, 102, 111, 112


# --------------------------------------------------------------------------- C calls
@intrinsic
def _cblas_dgemv(typingctx, fn, order, trans, M, N, A, lda, x, y):
    """cblas_dgemv(order, trans, M, N, 1.0, A, lda, x, 1, 0.0, y, 1) of an ILP64 CBLAS (addresses as integers)."""
    sig = types.void(fn, order, trans, M, N, A, lda, x, y)

    def codegen(context, builder, signature, args):
        i32, i64, dbl = ir.IntType(32), ir.IntType(64), ir.DoubleType()
        dp = dbl.as_pointer()
        fnty = ir.FunctionType(ir.VoidType(), [i32, i32, i64, i64, dbl, dp, i64, dp, i64, dbl, dp, i64])
        f = builder.inttoptr(args[0], fnty.as_pointer())
        fn_, order_, trans_, M_, N_, A_, lda_, x_, y_ = args
        one, zero, inc = ir.Constant(dbl, 1.0), ir.Constant(dbl, 0.0), ir.Constant(i64, 1)
        builder.call(f, [builder.trunc(order_, i32), builder.trunc(trans_, i32), M_, N_, one,
                         builder.inttoptr(A_, dp), lda_, builder.inttoptr(x_, dp), inc, zero,
                         builder.inttoptr(y_, dp), inc])
        return context.get_dummy_value()

    return sig, codegen


_GEMV: int | None = None


def blas_gemv() -> int:
    """Address of the ``cblas_dgemv`` numpy's own ``matmul`` uses (ILP64 scipy-openblas), or 0."""
    global _GEMV
    if _GEMV is None:
        _GEMV = 0
        libdir = os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs")
        for path in sorted(glob.glob(os.path.join(libdir, "libscipy_openblas64_*.so"))):
            try:
                f = ctypes.CDLL(path).scipy_cblas_dgemv64_
            except (OSError, AttributeError):
                continue
            _GEMV = int(ctypes.cast(f, ctypes.c_void_p).value)
            if not _gemv_agrees(_GEMV):
                _GEMV = 0
            break
    return _GEMV


def _gemv_agrees(fn: int) -> bool:
    """The symbol reproduces numpy's ``Xi @ w`` and ``Xi.T @ k`` bit for bit on a few random blocks."""
    rng = np.random.default_rng(12345)
    for H, d in ((2, 2), (7, 22), (100, 22), (37, 54)):
        Xi, w, k = rng.standard_normal((H, d)), rng.standard_normal(d), rng.standard_normal(H)
        m, v = np.empty(H), np.empty(d)
        gemv_rows(fn, Xi, w, m)
        gemv_cols(fn, Xi, k, v)
        if not (np.array_equal(m, Xi @ w) and np.array_equal(v, Xi.T @ k)):
            return False
    return True


@njit(cache=True)
def gemv_rows(fn, Xi, w, out):
    """out = Xi @ w as numpy's matmul does it: cblas_dgemv(ColMajor, Trans, d, H, Xi, lda=d)."""
    H, d = Xi.shape
    _cblas_dgemv(fn, COL_MAJOR, TRANS, d, H, Xi.ctypes.data, d, w.ctypes.data, out.ctypes.data)


@njit(cache=True)
def gemv_cols(fn, Xi, k, out):
    """out = Xi.T @ k as numpy's matmul does it: cblas_dgemv(RowMajor, Trans, H, d, Xi, lda=d)."""
    H, d = Xi.shape
    _cblas_dgemv(fn, ROW_MAJOR, TRANS, H, d, Xi.ctypes.data, d, k.ctypes.data, out.ctypes.data)


# --------------------------------------------------------------------------- Dis-dfSDCA (eqs. 3.6-3.8)
@njit(cache=True)
def _ridge_duals(idx, m, y, alpha, dual_step):
    """kappa_i = (m_i - y_i) + alpha_i (eq. 3.6, ridge phi_i' = m - y), alpha_i -= c kappa_i (eq. 3.7);
    kappa overwrites m."""
    for r in range(idx.shape[0]):
        i = idx[r]
        k = (m[r] - y[i]) + alpha[i]
        alpha[i] = alpha[i] - dual_step * k
        m[r] = k


@njit(cache=True)
def dfsdca_ridge_dense(fn, st, gemv, n_k, offset, X, y, alpha, dual_step, w, idx, Xi, m, marks, out):
    """One Dis-dfSDCA block (Alg. 7, eqs. 3.6-3.8) on dense rows, ridge loss; v_k into ``out``.

    Draws I_t into ``idx`` (H = len(idx)) from the worker's stream (scratch ``marks``, see
    :func:`choice_into_marks`), gathers the rows into the scratch ``Xi`` (H, d), m = Xi @ w (BLAS),
    kappa and the dual step, v = Xi.T @ kappa (BLAS). All the block's rows are prefetched before the
    gather, so their cache misses overlap instead of queueing row after row.
    """
    _draw_block(fn, st, n_k, offset, idx, marks)
    _prefetch_rows(X, y, alpha, idx)
    dense_block_into(gemv, X, y, alpha, dual_step, w, idx, Xi, m, out)


@njit(cache=True)
def _draw_block(fn, st, n_k, offset, idx, marks):
    """I_t: H distinct rows of the shard [offset, offset + n_k) into ``idx``, numpy's stream."""
    choice_into_marks(fn, st, n_k, idx.shape[0], idx, marks)
    for r in range(idx.shape[0]):
        idx[r] += offset


@njit(cache=True)
def dense_block_into(gemv, X, y, alpha, dual_step, w, idx, Xi, m, out):
    """The block of :func:`dfsdca_ridge_dense` on rows ``idx`` already drawn; v_k into ``out``."""
    H, d = Xi.shape
    for r in range(H):
        i = idx[r]
        for j in range(d):
            Xi[r, j] = X[i, j]
    gemv_rows(gemv, Xi, w, m)
    _ridge_duals(idx, m, y, alpha, dual_step)
    gemv_cols(gemv, Xi, m, out)


#: ``_prefetch(arr, k)``: a read prefetch of arr's element k (flat offset, C-contiguous arr) into every cache
#: level, LLVM's ``llvm.prefetch``: a hint that starts a cache miss without waiting for it; changes no value.
#: One intrinsic serves the serial kernels (algorithms.kernels) and these blocks.
_prefetch = prefetch_intrinsic()


#: ``_prefetch_span(a, lo, hi, lines)``: every 64-byte line of a[lo:hi] (flat offsets), up to ``lines`` of
#: them -- the serial kernels' helper (:mod:`algorithms.kernels`), compiled there; uncapped here
_prefetch_span = _serial_kernels().prefetch_span


@njit(cache=True)
def _prefetch_rows(X, y, alpha, idx):
    """Prefetch the rows ``idx`` of ``X`` (C order) and their ``y``, ``alpha`` entries: hints only, no
    arithmetic (a prefetch of an address outside the arrays does not fault)."""
    d = X.shape[1]
    for r in range(idx.shape[0]):
        i = idx[r]
        _prefetch_span(X, i * d, i * d + d, d)
        _prefetch(y, i)
        _prefetch(alpha, i)


@njit(cache=True)
def _touch_rows(data, indices, indptr, idx):
    """Prefetch the block's rows: first their ``indptr`` entries, then every cache line of their
    data and indices. The misses of a large matrix then overlap instead of queueing row after row
    (a row's arithmetic is a chain of dependent adds that fills the reorder window); changes no value."""
    for r in range(idx.shape[0]):
        _prefetch(indptr, idx[r])
    for r in range(idx.shape[0]):
        a, b = indptr[idx[r]], indptr[idx[r] + 1]
        _prefetch_span(data, a, b, b - a)
        _prefetch_span(indices, a, b, b - a)


@njit(cache=True)
def _row_dot(data, indices, indptr, i, w):
    s = 0.0
    for jj in range(indptr[i], indptr[i + 1]):
        s += data[jj] * w[indices[jj]]
    return s


@njit(cache=True)
def csr_rows_dot(data, indices, indptr, idx, w, out):
    """out[r] = x_{idx[r]}^T w, scipy's csr_matvec order (stored order, from 0.0).

    Four rows at a time, each with its own sum in its own order (the same bits as one row after
    the other): four independent chains of adds instead of one."""
    _touch_rows(data, indices, indptr, idx)
    H = idx.shape[0]
    r = 0
    while r + 4 <= H:
        a0, e0 = indptr[idx[r]], indptr[idx[r] + 1]
        a1, e1 = indptr[idx[r + 1]], indptr[idx[r + 1] + 1]
        a2, e2 = indptr[idx[r + 2]], indptr[idx[r + 2] + 1]
        a3, e3 = indptr[idx[r + 3]], indptr[idx[r + 3] + 1]
        L = min(e0 - a0, e1 - a1, e2 - a2, e3 - a3)
        s0 = s1 = s2 = s3 = 0.0
        for t in range(L):
            s0 += data[a0 + t] * w[indices[a0 + t]]
            s1 += data[a1 + t] * w[indices[a1 + t]]
            s2 += data[a2 + t] * w[indices[a2 + t]]
            s3 += data[a3 + t] * w[indices[a3 + t]]
        for jj in range(a0 + L, e0):
            s0 += data[jj] * w[indices[jj]]
        for jj in range(a1 + L, e1):
            s1 += data[jj] * w[indices[jj]]
        for jj in range(a2 + L, e2):
            s2 += data[jj] * w[indices[jj]]
        for jj in range(a3 + L, e3):
            s3 += data[jj] * w[indices[jj]]
        out[r], out[r + 1], out[r + 2], out[r + 3] = s0, s1, s2, s3
        r += 4
    for q in range(r, H):
        out[q] = _row_dot(data, indices, indptr, idx[q], w)


@njit(cache=True)
def csr_rows_tdot_into(data, indices, indptr, idx, k, v):
    """v += sum_r k[r] x_{idx[r]}, scipy's csc_matvec order on Xi.T (rows in order, stored order)."""
    for r in range(idx.shape[0]):
        i = idx[r]
        kr = k[r]
        for jj in range(indptr[i], indptr[i + 1]):
            v[indices[jj]] += data[jj] * kr


def csr_slots(d: int, room: int) -> np.ndarray:
    """Scratch of :func:`_accumulate_stamped` for d columns and blocks touching at most ``room``
    of them: d slots and the stamp counter, all zero. int32 slots (16 bits of place, 15 of stamp:
    half the cache footprint of int64) when ``room`` < 2^16, int64 (32 and 31 bits) otherwise."""
    return np.zeros(d + 1, dtype=np.int32 if room < 2 ** 16 else np.int64)


@njit(cache=True)
def _accumulate_stamped(data, indices, indptr, idx, kappa, slot, cols, vals):
    """v_k = sum_r kappa_r x_{idx[r]} on the touched columns only (eq. 3.8): ``cols[:u]`` in order of
    first appearance, ``vals[:u]`` = v_k there (each sum from 0.0, rows in order, as scipy's csc_matvec
    forms it in a dense v); returns u. One pass, no d-length accumulator and no reset.

    ``slot`` (:func:`csr_slots`) holds a block's stamp in its high bits and 1 + the column's
    place in ``cols`` in its low bits; ``slot[d]`` is the last stamp. A column whose stamp is
    older than this block's is new to it, so nothing is cleared between blocks (only when the
    stamp wraps): one random access per non-zero into an array of d, against four for a d-length
    flag array and accumulator."""
    bits = 16 if slot.itemsize == 4 else 32
    mask = (np.int64(1) << bits) - 1
    d = slot.shape[0] - 1
    stamp = np.int64(slot[d]) + 1
    if stamp >= np.int64(1) << (8 * slot.itemsize - 1 - bits):
        slot[:] = 0
        stamp = 1
    slot[d] = stamp
    hi = stamp << bits
    u = 0
    for r in range(idx.shape[0]):
        i = idx[r]
        kr = kappa[r]
        for jj in range(indptr[i], indptr[i + 1]):
            j = indices[jj]
            s = np.int64(slot[j])
            if s < hi:
                cols[u] = j
                vals[u] = 0.0 + data[jj] * kr  # 0.0 + x, not x: acc[j] += x from 0.0 turns -0.0 into 0.0
                u += 1
                slot[j] = hi | u
            else:
                vals[(s & mask) - 1] += data[jj] * kr
    return u


@njit(cache=True)
def dfsdca_ridge_csr_sparse(fn, st, n_k, offset, data, indices, indptr, y, alpha, dual_step, w, idx, m, slot,
                            cols, vals, marks):
    """One Dis-dfSDCA block on CSR rows, ridge loss, touching only the block's non-zeros.

    Writes the columns the block's rows touch (in order of first appearance) into ``cols[:u]``
    and v_k on them (eq. 3.8) into ``vals[:u]`` (:func:`_accumulate_stamped`, ``slot`` from
    :func:`csr_slots`), and returns u; v_k is 0 elsewhere. ``w`` is read only at the block's
    columns, so a read costs what it touches. ``cols``/``vals`` have room for min(d, nnz of the
    block). Each vals entry is the sum, in the same order, that scipy's ``Xi.T @ kappa`` forms in
    its dense v (:func:`csr_rows_tdot_into`), so ``w[cols] -= eta * vals`` equals ``w -= eta * v``
    bit for bit. No allocation: a fresh array per message would cost page faults of the order of
    the work itself.
    """
    csr_block_duals(fn, st, n_k, offset, data, indices, indptr, y, alpha, dual_step, w, idx, m, marks)
    return _accumulate_stamped(data, indices, indptr, idx, m, slot, cols, vals)


@njit(cache=True)
def csr_block_duals(fn, st, n_k, offset, data, indices, indptr, y, alpha, dual_step, w, idx, m, marks):
    """The read half of a CSR block: draw I_t into ``idx`` (scratch ``marks``, see
    :func:`choice_into_marks`), margins m = X_I w, kappa into ``m`` and the dual step (eqs. 3.6-3.7);
    v_k is formed from (idx, m) by :func:`_accumulate_stamped`."""
    _draw_block(fn, st, n_k, offset, idx, marks)
    for r in range(idx.shape[0]):
        _prefetch(y, idx[r])  # read after the margins: their misses overlap the rows' own
        _prefetch(alpha, idx[r])
    csr_rows_dot(data, indices, indptr, idx, w, m)
    _ridge_duals(idx, m, y, alpha, dual_step)


@njit(cache=True)
def sub_scaled(w, v, eta):
    """w -= eta * v, rounded as numpy's ``w -= eta * v`` (eta * v_j, then the difference): the dense
    server step of eq. 3.5 in one call instead of two array operations."""
    for j in range(w.shape[0]):
        w[j] = w[j] - eta * v[j]


@njit(cache=True)
def sub_scaled_at(w, cols, vals, eta):
    """w[cols] -= eta * vals (distinct cols), the server step of eq. 3.5 on the touched coordinates."""
    for t in range(cols.shape[0]):
        j = cols[t]
        w[j] = w[j] - eta * vals[t]


# --------------------------------------------------------------------------- fast replay (Dis-dfSDCA)
#: op codes of the parameter server's replay schedule, as ``sim.protocols.parameter_server`` documents
#: them (read = 0, apply = 1, anything else returns to the caller). The protocol passes its codes to
#: ``replay_ops`` (``codes=``), which refuses others; tests/test_fast_replay.py checks both agree.
OP_READ, OP_APPLY = 0, 1


@njit(cache=True)
def _finite(v):
    for t in range(v.shape[0]):
        if not np.isfinite(v[t]):
            return False
    return True


@njit(cache=True)
def _draw_limit(ops, pos, version, stop_version):
    """The schedule position at which a replay call from ``pos`` stops at the latest: just after the
    apply that makes ``version`` equal ``stop_version``, or at the first op other than read and apply."""
    for p in range(pos, ops.shape[0]):
        op = ops[p]
        if op == OP_APPLY:
            version += 1
            if version == stop_version:
                return p + 1
        elif op != OP_READ:
            return p
    return ops.shape[0]


@njit(cache=True)
def _next_read(ops, pos, end):
    """The position of the first read in ops[pos:end], or ``end``."""
    for p in range(pos, end):
        if ops[p] == OP_READ:
            return p
    return end


@njit(cache=True)
def dfsdca_replay_dense(ops, workers, pos, fns, sts, gemv, sizes, offsets, steps, eta, X, y, alpha, w,
                        idx, Xi, m, pend, version, work, H, stop_version, marks):
    """Replay ops[pos:] of Dis-dfSDCA on dense rows (ridge): READ k = worker k's block from the
    current w (:func:`dfsdca_ridge_dense`, into ``pend[k]``), APPLY k = w -= eta pend[k] (eq. 3.5).
    Stops after an APPLY that makes ``version`` equal ``stop_version`` (the next record, chosen by the
    caller) or whose message is not finite, at any other op, or at the end. Returns (position, version, work before the last APPLY, work, finite).

    Software pipelining: the rows of a read depend only on its worker's stream, not on w, so each
    read's rows are drawn one read ahead (``idx`` is (2, H): this read's rows and the next's) and
    prefetched while the current block computes; every worker's draws stay in its own order and
    none is taken beyond the point where the call returns (:func:`_draw_limit`), except after a
    non-finite message, which ends the run. Same draws, same arithmetic as :func:`dfsdca_ridge_dense`.
    """
    n_ops = ops.shape[0]
    finite = True
    prev = work
    end = _draw_limit(ops, pos, version, stop_version)
    cur = 0
    nxt = _next_read(ops, pos, end)
    if nxt < end:
        j = workers[nxt]
        _draw_block(fns[j], sts[j], sizes[j], offsets[j], idx[0], marks)
        _prefetch_rows(X, y, alpha, idx[0])
    while pos < n_ops:
        op = ops[pos]
        k = workers[pos]
        if op == OP_READ:
            nxt = _next_read(ops, pos + 1, end)
            if nxt < end:
                j = workers[nxt]
                _draw_block(fns[j], sts[j], sizes[j], offsets[j], idx[1 - cur], marks)
                _prefetch_rows(X, y, alpha, idx[1 - cur])
            dense_block_into(gemv, X, y, alpha, steps[k], w, idx[cur], Xi, m, pend[k])
            cur = 1 - cur
        elif op == OP_APPLY:
            v = pend[k]
            sub_scaled(w, v, eta)
            version += 1
            prev = work
            work += H
            pos += 1
            finite = _finite(v)
            if not finite or version == stop_version:
                return pos, version, prev, work, finite
            continue
        else:
            return pos, version, prev, work, finite
        pos += 1
    return pos, version, prev, work, finite


@njit(cache=True)
def dfsdca_replay_csr(ops, workers, pos, fns, sts, sizes, offsets, steps, eta, data, indices, indptr, y, alpha, w,
                      m, pend_idx, pend_kappa, slot, cols, vals, version, work, H, stop_version, marks):
    """:func:`dfsdca_replay_dense` on CSR rows: a READ keeps the block's rows and kappa
    (``pend_idx[k]``, ``pend_kappa[k]``); an APPLY forms v_k on the touched columns exactly as
    :func:`dfsdca_ridge_csr_sparse` does and updates only those coordinates."""
    n_ops = ops.shape[0]
    finite = True
    prev = work
    while pos < n_ops:
        op = ops[pos]
        k = workers[pos]
        if op == OP_READ:
            csr_block_duals(fns[k], sts[k], sizes[k], offsets[k], data, indices, indptr, y, alpha, steps[k], w,
                            pend_idx[k], m, marks)
            pend_kappa[k, :] = m
        elif op == OP_APPLY:
            u = _accumulate_stamped(data, indices, indptr, pend_idx[k], pend_kappa[k], slot, cols, vals)
            sub_scaled_at(w, cols[:u], vals[:u], eta)
            finite = _finite(vals[:u])
            version += 1
            prev = work
            work += H
            pos += 1
            if not finite or version == stop_version:
                return pos, version, prev, work, finite
            continue
        else:
            return pos, version, prev, work, finite
        pos += 1
    return pos, version, prev, work, finite


# --------------------------------------------------------------------------- Distributed-AsySVRG (eq. 2.33)
@njit(cache=True)
def _pca_batch_grad(gemv, Xb, w, c1, bvec, m, out):
    """out = c1 * w - Xb.T @ (Xb @ w) / b - bvec, :meth:`PCAProblem.batch_grad` (eq. 3.40) in numpy's order."""
    b = Xb.shape[0]
    gemv_rows(gemv, Xb, w, m)
    gemv_cols(gemv, Xb, m, out)
    for j in range(w.shape[0]):
        out[j] = (c1 * w[j] - out[j] / b) - bvec[j]


@njit(cache=True)
def svrg_pca_dense(fn, st, gemv, n_k, offset, X, c1, bvec, w, w_tilde, mu, idx, Xb, m, g2):
    """Distributed-AsySVRG's message (Alg. 3, eq. 2.33) on eq. 3.40's PCA objective, dense rows:
    I = ``rng.integers(n_k, size=b)`` + offset (the same stream), v = grad_I(w) - grad_I(w_tilde) + mu."""
    b, d = Xb.shape
    uniform_into(fn, st, n_k, idx)
    for r in range(b):
        idx[r] += offset
        i = idx[r]
        for j in range(d):
            Xb[r, j] = X[i, j]
    v = np.empty(d)
    _pca_batch_grad(gemv, Xb, w, c1, bvec, m, v)
    _pca_batch_grad(gemv, Xb, w_tilde, c1, bvec, m, g2)
    for j in range(d):
        v[j] = (v[j] - g2[j]) + mu[j]
    return v
