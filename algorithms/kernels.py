"""Compiled (numba) inner loops of the sequential coordinate solvers.

Serial SDCA (thesis Alg. 4, coordinate step eq. 3.4), serial dfSDCA (Alg. 5, lines 4-6) and
CoCoA+'s local SDCA solver (§3.5.1, eq. 3.4 with curvature scaled by sigma') take one sample at a
time and each step depends on the previous one, so they cannot be vectorised across samples; these
kernels run a block of such steps in one compiled call. The plain-numpy versions
(:func:`algorithms.sdca.sdca` and :func:`algorithms.dfsdca.dfsdca` with ``engine="numpy"``,
:meth:`algorithms.cocoa.CoCoAPlus.work_reference`) are the reference oracles (tests/test_kernels.py).

Bit-identity with the numpy versions:

- the sample indices are drawn by the caller with the same Generator calls (``rng.integers(n,
  size=m)`` consumes the stream exactly like m calls ``rng.integers(n)``), and passed in;
- x_i^T w, serial SDCA (Alg. 4, eq. 3.4) and serial dfSDCA (Alg. 5, line 4): summed in sequential
  order, ((x_i1 w_1 + x_i2 w_2) + x_i3 w_3) + ..., from the first product (a CSR row over its stored
  non-zeros in stored order), as :func:`algorithms.sdca.sequential_dot` sums it in the reference. A
  plain loop compiled without ``fastmath``: LLVM neither reassociates the sum nor fuses a product into
  it. This is a deliberate change made for speed: up to a4cacef both solvers took BLAS ``ddot``'s
  order (numpy's ``x_i @ w``), whose call cost most of a step at d = 22; the serial iterates differ
  from that version's in the last bits (benchmarks/README.md, ``bench_kernels``);
- x_i^T w, CoCoA+'s local solver: ``np.dot`` of two contiguous float64 vectors, which numba hands to
  BLAS ``ddot``: the summation order numpy's ``x_i @ w`` uses in :meth:`CoCoAPlus.work_reference`
  (a CSR row's non-zeros are gathered into a scratch buffer first, as numpy's
  ``data[a:b] @ w[indices[a:b]]`` does), unchanged so that Chapter 3's distributed runs keep their
  iterates. numba calls scipy's BLAS, numpy its own; where the two libraries' ``ddot`` kernels
  differ, iterates differ in the last bits (tests/test_kernels.py asserts equality, so such an
  install shows up there);
- every other operation is written in the numpy version's order (``w -= eta * (kappa * x_i)``
  is ``w_j - eta * (kappa * x_ij)``), and numba does not contract ``a * b + c`` into a fused
  multiply-add without ``fastmath``;
- ``exp`` is the C library's, as Python's ``math.exp`` and scipy's ``expit`` use;
- the serial kernels and CoCoA+'s local solver prefetch the data of step t + 8 (``llvm.prefetch``):
  the row x_i, alpha_i, y_i and the curvature entry (q_i, CoCoA+'s sigma'|x_i|^2/(lam n)), which
  moves loads earlier and changes no value.

Specialisations are kept few: always float64 data and int64 indices; a dense X as a 2-D
C-contiguous array, a CSR X as its three arrays (``data``, ``indices`` as int64, ``indptr`` as
int64). numba is imported on the first call of :func:`kernels` (never when this module or a solver
module is imported), and the compiled code is cached on disk (``cache=True``).
"""
from __future__ import annotations

import functools
import math
import threading
import time
from types import SimpleNamespace

import numpy as np

SQUARED, LOGISTIC = 0, 1  # the loss codes the kernels take (algorithms.sdca.loss_kind)
LOSS_CODES = {"squared": SQUARED, "logistic": LOGISTIC}

_NEWTON_MAXITER = 100  # as algorithms.sdca.coordinate_delta
_NEWTON_TOL = 1e-15
_AHEAD = 8  # the serial and CoCoA+ kernels prefetch the data of step t + _AHEAD while running step t
_PREFETCH_LINES = 16  # at most this many 64-byte cache lines of a row are prefetched

_KERNELS: SimpleNamespace | None = None
_BUILD_LOCK = threading.Lock()
COMPILE_SECONDS: dict[str, float] = {}  # wall time of each kernel's first call (compile or cache load)


class Rows:
    """A matrix as the kernels take it, built from an :class:`algorithms.sdca.RowView` (which has
    made a CSR matrix canonical: no duplicate column indices in a row, so ``w[indices] += ...`` is
    a plain loop): dense as 2-D C-contiguous float64, CSR as three arrays (indices int64)."""

    __slots__ = ("sparse", "X", "data", "indices", "indptr", "buf")

    def __init__(self, view) -> None:
        self.sparse = bool(view.sparse)
        if self.sparse:
            self.data = np.ascontiguousarray(view.data, dtype=np.float64)
            self.indices = np.ascontiguousarray(view.indices, dtype=np.int64)
            self.indptr = np.ascontiguousarray(view.indptr, dtype=np.int64)
            width = int(np.diff(self.indptr).max()) if len(self.indptr) > 1 else 0
            self.buf = np.empty(max(width, 1))  # a row's gathered w entries (CoCoA+'s ddot)
            self.X = None
        else:
            self.X = np.ascontiguousarray(view.X, dtype=np.float64)
            self.data = self.indices = self.indptr = self.buf = None


# The kernels, written in plain Python; :func:`_build` compiles them (numba) in place.


def _expit(u):
    # as algorithms.sdca._expit: 1/(1 + e^{-u}) without overflow for large |u|
    if u >= 0.0:
        return 1.0 / (1.0 + math.exp(-u))
    e = math.exp(u)
    return e / (1.0 + e)


def _delta(kind, margin, alpha_i, y_i, q):
    # algorithms.sdca.coordinate_delta, operation for operation (eq. 3.4)
    if kind == 0:
        return (y_i - margin - alpha_i) / (1.0 + q)
    c = y_i * margin - q * y_i * alpha_i
    lo = -c - q
    hi = -c
    u = -c - q * _expit(-c)
    dx_old = hi - lo
    dx = dx_old
    for _ in range(_NEWTON_MAXITER):
        b = _expit(u)
        h = u + q * b + c
        if h == 0.0:
            break
        if h > 0.0:
            hi = u
        else:
            lo = u
        hp = 1.0 + q * b * (1.0 - b)
        if ((u - hi) * hp - h) * ((u - lo) * hp - h) > 0.0 or abs(2.0 * h) > abs(dx_old * hp):
            dx_old = dx
            dx = 0.5 * (hi - lo)
            u = lo + dx
        else:
            dx_old = dx
            dx = h / hp
            u -= dx
        if abs(dx) <= _NEWTON_TOL * (1.0 + abs(u)):
            break
    return y_i * _expit(u) - alpha_i


def _dloss(kind, m, y_i):
    # phi_i'(m): RidgeProblem._dloss (m - y), LogisticProblem._dloss (-y expit(-y m)), with
    # scipy's expit(x) = 1/(1 + exp(-x)) written out
    if kind == 0:
        return m - y_i
    ny = -y_i
    return ny * (1.0 / (1.0 + math.exp(-(ny * m))))


def _csr_dot(data, indices, a, b, w, buf):
    nnz = b - a
    for p in range(nnz):
        buf[p] = w[indices[a + p]]
    return np.dot(data[a:b], buf[:nnz])


def _prefetch(a, k):
    # a hint to load a's element k (flat offset in a C-contiguous array) into cache; no effect on any
    # value. :func:`_build` replaces this plain-Python no-op by LLVM's ``llvm.prefetch``.
    pass


def _prefetch_span(a, lo, hi, lines):
    # a[lo:hi] (flat offsets), at most ``lines`` 64-byte cache lines from lo (also algorithms.block_kernels')
    if hi > lo:
        step = 64 // a.itemsize
        top = min(hi, lo + step * lines)
        for p in range(lo, top, step):
            _prefetch(a, p)
        _prefetch(a, top - 1)


def _prefetch_ahead(a, idx, t):
    # a's entry for the sample of step t + _AHEAD, if there is one
    if t + _AHEAD < idx.shape[0]:
        _prefetch(a, idx[t + _AHEAD])


def _seq_dot_row(X, i, w):
    # x_i^T w of a dense row in sequential order, ((x_i0 w_0 + x_i1 w_1) + x_i2 w_2) + ..., from the
    # first product (as algorithms.sdca.sequential_dot); no fastmath, so no reassociation, no FMA
    d = X.shape[1]
    if d == 0:
        return 0.0
    m = X[i, 0] * w[0]
    for j in range(1, d):
        m += X[i, j] * w[j]
    return m


def _seq_dot_csr(data, indices, a, b, w):
    # x_i^T w of a CSR row in sequential order over its stored non-zeros, in stored order
    if b <= a:
        return 0.0
    m = data[a] * w[indices[a]]
    for p in range(a + 1, b):
        m += data[p] * w[indices[p]]
    return m


# The serial and CoCoA+ kernels are bound by the latency of fetching a random row x_i (and alpha_i,
# y_i) from memory, not by arithmetic; the samples are drawn before the kernel runs, so each step
# prefetches what step t + _AHEAD reads. Prefetching changes no value, only when the loads arrive.


def _prefetch_dense(X, y, alpha, idx, t):
    if t + _AHEAD < idx.shape[0]:
        k = idx[t + _AHEAD]
        d = X.shape[1]
        _prefetch_span(X, k * d, k * d + d, _PREFETCH_LINES)
        _prefetch(alpha, k)
        _prefetch(y, k)


def _prefetch_csr(data, indices, indptr, y, alpha, idx, t):
    if t + _AHEAD < idx.shape[0]:
        k = idx[t + _AHEAD]
        lo, hi = indptr[k], indptr[k + 1]
        _prefetch_span(data, lo, hi, _PREFETCH_LINES)
        _prefetch_span(indices, lo, hi, _PREFETCH_LINES)
        _prefetch(alpha, k)
        _prefetch(y, k)


# --- serial SDCA (Alg. 4): alpha_i += Delta, w += Delta x_i / (lam n) -------------------
def _sdca_dense(X, y, q, alpha, w, idx, kind, lam_n):
    d = X.shape[1]
    for t in range(idx.shape[0]):
        _prefetch_dense(X, y, alpha, idx, t)
        _prefetch_ahead(q, idx, t)
        i = idx[t]
        dl = _delta(kind, _seq_dot_row(X, i, w), alpha[i], y[i], q[i])
        alpha[i] += dl
        a = dl / lam_n
        for j in range(d):
            w[j] += a * X[i, j]


def _sdca_csr(data, indices, indptr, y, q, alpha, w, idx, kind, lam_n):
    for t in range(idx.shape[0]):
        _prefetch_csr(data, indices, indptr, y, alpha, idx, t)
        _prefetch_ahead(q, idx, t)
        i = idx[t]
        lo, hi = indptr[i], indptr[i + 1]
        dl = _delta(kind, _seq_dot_csr(data, indices, lo, hi, w), alpha[i], y[i], q[i])
        alpha[i] += dl
        a = dl / lam_n
        for p in range(lo, hi):
            w[indices[p]] += a * data[p]


# --- serial dfSDCA (Alg. 5): kappa = phi_i'(x_i^T w) + alpha_i, alpha_i -= c kappa,
# w -= eta kappa x_i ----------------------------------------------------------------------
def _dfsdca_dense(X, y, alpha, w, idx, kind, eta, c):
    d = X.shape[1]
    for t in range(idx.shape[0]):
        _prefetch_dense(X, y, alpha, idx, t)
        i = idx[t]
        kappa = _dloss(kind, _seq_dot_row(X, i, w), y[i]) + alpha[i]
        alpha[i] -= c * kappa
        for j in range(d):
            w[j] -= eta * (kappa * X[i, j])


def _dfsdca_csr(data, indices, indptr, y, alpha, w, idx, kind, eta, c):
    for t in range(idx.shape[0]):
        _prefetch_csr(data, indices, indptr, y, alpha, idx, t)
        i = idx[t]
        lo, hi = indptr[i], indptr[i + 1]
        kappa = _dloss(kind, _seq_dot_csr(data, indices, lo, hi, w), y[i]) + alpha[i]
        alpha[i] -= c * kappa
        for p in range(lo, hi):
            w[indices[p]] -= eta * (kappa * data[p])


# --- CoCoA+'s local solver: eq. 3.4 at w_loc = w + sigma' dw, curvature sigma'|x_i|^2/(lam n);
# dw += Delta x_i / (lam n), w_loc += (sigma'/(lam n)) Delta x_i ---------------------------
def _cocoa_dense(X, y, curv, alpha, w_loc, dw, idx, kind, lam_n, s_over):
    d = X.shape[1]
    for t in range(idx.shape[0]):
        _prefetch_dense(X, y, alpha, idx, t)
        _prefetch_ahead(curv, idx, t)
        i = idx[t]
        x = X[i]
        dl = _delta(kind, np.dot(x, w_loc), alpha[i], y[i], curv[i])
        alpha[i] += dl
        a = dl / lam_n
        for j in range(d):
            dw[j] += a * x[j]
        b = s_over * dl
        for j in range(d):
            w_loc[j] += b * x[j]


def _cocoa_csr(data, indices, indptr, buf, y, curv, alpha, w_loc, dw, idx, kind, lam_n, s_over):
    for t in range(idx.shape[0]):
        _prefetch_csr(data, indices, indptr, y, alpha, idx, t)
        _prefetch_ahead(curv, idx, t)
        i = idx[t]
        lo, hi = indptr[i], indptr[i + 1]
        dl = _delta(kind, _csr_dot(data, indices, lo, hi, w_loc, buf), alpha[i], y[i], curv[i])
        alpha[i] += dl
        a = dl / lam_n
        for p in range(lo, hi):
            dw[indices[p]] += a * data[p]
        b = s_over * dl
        for p in range(lo, hi):
            w_loc[indices[p]] += b * data[p]


@functools.lru_cache(maxsize=None)
def prefetch_intrinsic():
    """``_prefetch(a, k)`` compiled (one object, shared with algorithms.block_kernels): LLVM's ``llvm.prefetch`` (read, keep in all cache levels, data) of
    the address of a's element k, k a flat offset into a C-contiguous array; an address outside the
    array is harmless (a prefetch never faults)."""
    from llvmlite import ir
    from numba import types
    from numba.extending import intrinsic

    @intrinsic
    def prefetch(typingctx, a, k):
        if not (isinstance(a, types.Array) and a.layout == "C" and isinstance(k, types.Integer)):
            return None

        def codegen(context, builder, signature, args):
            arr = context.make_array(signature.args[0])(context, builder, args[0])
            off = context.cast(builder, args[1], signature.args[1], types.intp)
            i8p, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)
            ptr = builder.bitcast(builder.gep(arr.data, [off]), i8p)
            fn = builder.module.declare_intrinsic("llvm.prefetch", fnty=ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]))
            builder.call(fn, [ptr, i32(0), i32(3), i32(1)])
            return context.get_dummy_value()

        return types.void(a, k), codegen

    return prefetch


def _build() -> SimpleNamespace:
    import numba

    jit = numba.njit(cache=True, nogil=True)
    g = globals()
    g["_prefetch"] = prefetch_intrinsic()
    for name in _JITTED:  # callees first: a kernel resolves the names it calls at compile time
        g[name] = jit(g[name])
    return SimpleNamespace(**{name[1:]: g[name] for name in _JITTED})


_JITTED = ("_expit", "_delta", "_dloss", "_csr_dot", "_prefetch_span", "_prefetch_ahead", "_seq_dot_row", "_seq_dot_csr",
           "_prefetch_dense", "_prefetch_csr", "_sdca_dense", "_sdca_csr", "_dfsdca_dense", "_dfsdca_csr",
           "_cocoa_dense", "_cocoa_csr")


def kernels() -> SimpleNamespace:
    """The compiled kernels (numba imported and the functions wrapped on the first call; each
    compiles, or loads from numba's cache, on its own first call)."""
    global _KERNELS
    if _KERNELS is None:
        with _BUILD_LOCK:  # threads of one process (e.g. a threaded Dask worker) build once
            if _KERNELS is None:
                _KERNELS = _build()
    return _KERNELS


def _timed_first(name: str, fn, *args) -> None:
    if name in COMPILE_SECONDS:
        fn(*args)
        return
    t0 = time.perf_counter()
    fn(*args)
    COMPILE_SECONDS[name] = time.perf_counter() - t0


def _i64(idx: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(idx, dtype=np.int64)


def sdca_steps(rows: Rows, y: np.ndarray, q: np.ndarray, alpha: np.ndarray, w: np.ndarray,
               idx: np.ndarray, kind: int, lam_n: float) -> None:
    """SDCA steps (Alg. 4) on the samples ``idx`` in order, updating ``alpha`` and ``w`` in place."""
    k = kernels()
    if rows.sparse:
        _timed_first("sdca_csr", k.sdca_csr, rows.data, rows.indices, rows.indptr, y, q, alpha, w, _i64(idx),
                     kind, float(lam_n))
    else:
        _timed_first("sdca_dense", k.sdca_dense, rows.X, y, q, alpha, w, _i64(idx), kind, float(lam_n))


def dfsdca_steps(rows: Rows, y: np.ndarray, alpha: np.ndarray, w: np.ndarray, idx: np.ndarray,
                 kind: int, eta: float, c: float) -> None:
    """dfSDCA steps (Alg. 5, lines 4-6) on the samples ``idx`` in order, in place; c = eta lam n."""
    k = kernels()
    if rows.sparse:
        _timed_first("dfsdca_csr", k.dfsdca_csr, rows.data, rows.indices, rows.indptr, y, alpha, w, _i64(idx),
                     kind, float(eta), float(c))
    else:
        _timed_first("dfsdca_dense", k.dfsdca_dense, rows.X, y, alpha, w, _i64(idx), kind, float(eta), float(c))


def cocoa_local(rows: Rows, y: np.ndarray, curv: np.ndarray, alpha: np.ndarray, w_loc: np.ndarray,
                dw: np.ndarray, idx: np.ndarray, kind: int, lam_n: float, s_over: float) -> None:
    """CoCoA+'s local SDCA steps on the samples ``idx`` in order, updating ``alpha``, ``w_loc``
    (w + sigma' dw) and ``dw`` in place."""
    k = kernels()
    if rows.sparse:
        _timed_first("cocoa_csr", k.cocoa_csr, rows.data, rows.indices, rows.indptr, rows.buf, y, curv, alpha,
                     w_loc, dw, _i64(idx), kind, float(lam_n), float(s_over))
    else:
        _timed_first("cocoa_dense", k.cocoa_dense, rows.X, y, curv, alpha, w_loc, dw, _i64(idx), kind,
                     float(lam_n), float(s_over))
