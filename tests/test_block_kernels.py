"""Compiled worker blocks (algorithms.block_kernels) against their plain-numpy references.

The index draw must consume a Generator's stream exactly as numpy's ``Generator.choice(n,
size=H, replace=False)`` / ``integers(n, size=...)`` do (both of numpy's algorithms: Floyd's and
the tail shuffle), and the Dis-dfSDCA block must give the numpy path's messages and duals bit for
bit on dense and CSR rows.
"""
from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from algorithms import block_kernels as bk  # numba is a core dependency: no skip when it is missing
from algorithms.dfsdca import DisDfSDCA
from algorithms.problems import RidgeProblem
from algorithms.roles import worker_streams
from algorithms.shards import draw_block


def _cases(count: int, seed: int = 0):
    r = np.random.default_rng(seed)
    for s in range(count):
        kind = s % 4
        if kind == 0:
            n = int(r.integers(1, 300))
        elif kind == 1:
            n = int(r.integers(300, 10_001))
        else:  # above numpy's 10000 cut-off: tail shuffle when H > n // 50
            n = int(r.integers(10_001, 40_000))
        H = int(r.integers(1, min(n, 50 if kind < 3 else 1500) + 1))
        yield n, H, s


@pytest.mark.parametrize("pre", [0, 1])
def test_draw_consumes_the_same_stream_as_numpy(pre):
    # pre = 1 leaves a PCG64 with a buffered half word before the draw
    out = np.empty(1500, dtype=np.int64)
    branches = set()
    for n, H, s in _cases(160, seed=pre):
        a, b = np.random.default_rng(s), np.random.default_rng(s)
        for g in (a, b):
            g.integers(7, size=pre)
        want = draw_block(a, n, H)
        bk.choice_into(*bk.rng_handles(b), n, H, out)
        assert np.array_equal(out[:H], want), (n, H, s)
        # the streams continue identically (32- and 64-bit draws, doubles)
        assert a.integers(2 ** 40, size=3).tolist() == b.integers(2 ** 40, size=3).tolist()
        assert a.integers(5) == b.integers(5) and a.random() == b.random()
        branches.add("tail" if n > bk.TAIL_MIN_POP and H > n // bk.TAIL_CUTOFF else ("one" if H == 1 else "floyd"))
    assert branches == {"tail", "one", "floyd"}


@pytest.mark.parametrize("pre", [0, 1])
def test_draw_with_reused_marks_equals_numpy(pre):
    """choice_into_marks (a byte per value instead of numpy's hash set) gives numpy's values in numpy's
    order from numpy's stream, and hands its scratch back all zero, message after message."""
    marks = bk.choice_marks(40_000)
    out = np.empty(1500, dtype=np.int64)
    b = np.random.default_rng(100 + pre)
    a = np.random.default_rng(100 + pre)
    for g in (a, b):
        g.integers(7, size=pre)
    for n, H, _ in _cases(160, seed=2 + pre):
        want = draw_block(a, n, H)
        bk.choice_into_marks(*bk.rng_handles(b), n, H, out, marks)
        assert np.array_equal(out[:H], want), (n, H)
        assert not marks.any()
        assert a.integers(2 ** 40) == b.integers(2 ** 40)


def test_full_population_and_with_replacement_draws():
    out = np.empty(64, dtype=np.int64)
    for n in (2, 3, 17, 64):  # H = n: a permutation
        a, b = np.random.default_rng(n), np.random.default_rng(n)
        bk.choice_into(*bk.rng_handles(b), n, n, out[:n])
        assert np.array_equal(out[:n], a.choice(n, size=n, replace=False))
    for n, size in ((1, 3), (5, 10), (49_990, 64), (2 ** 31 + 5, 8)):
        a, b = np.random.default_rng(size), np.random.default_rng(size)
        got = np.empty(size, dtype=np.int64)
        bk.uniform_into(*bk.rng_handles(b), n, got)
        assert np.array_equal(got, a.integers(n, size=size))
        assert a.random() == b.random()


def _problem(sparse: bool, n: int = 400, d: int = 13, seed: int = 1) -> RidgeProblem:
    r = np.random.default_rng(seed)
    if sparse:
        X = sp.random(n, d, density=0.3, format="csr", random_state=seed, dtype=np.float64)
    else:
        X = r.standard_normal((n, d))
    return RidgeProblem(X, r.standard_normal(n), lam=0.1)


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("H", [1, 2, 9, 60])
def test_dfsdca_block_matches_numpy_reference(sparse, H):
    problem = _problem(sparse)
    K = 3
    fast, ref = (DisDfSDCA(problem, K, eta=0.05, H=H, T=10) for _ in range(2))
    rngs_f, rngs_r = worker_streams(4, K), worker_streams(4, K)
    r = np.random.default_rng(0)
    compiled = False
    for step in range(40):
        k = int(r.integers(K))
        w = r.standard_normal(problem.d)
        mf = fast.work(k, w, rngs_f[k])
        mr = ref.work_numpy(k, w, rngs_r[k])
        compiled |= fast._block is not False
        v = mf.payload
        if mf.index is not None:  # CSR: a sparse message on the columns the block touches
            assert sparse and np.unique(mf.index).size == mf.index.size
            v = np.zeros(problem.d)
            v[mf.index] = mf.payload
        assert np.array_equal(v, mr.payload) and mf.work == mr.work
        assert np.array_equal(fast.alpha, ref.alpha)
        # the server step on the sparse message equals the dense one bit for bit
        wf, wr = w.copy(), w.copy()
        fast._w, ref._w = wf, wr
        fast.apply(k, mf)
        ref._w -= ref.eta * mr.payload
        assert np.array_equal(wf, wr)
    # dense rows take the compiled path when H >= 2 (numpy uses a dot product, not gemv, for one row)
    assert compiled == (sparse or H >= 2)


def test_csr_block_draws_numpys_rows_with_reused_marks():
    """The CSR block's I_t (:func:`csr_block_duals`, a reused byte map shared by the workers) equals
    ``rng.choice`` on the shard plus its offset, message after message, on shards above numpy's
    10000 cut-off (Floyd's algorithm and the tail shuffle) and small ones, leaving the map all zero;
    the margins, kappa and duals are numpy's too."""
    r = np.random.default_rng(11)
    n, d = 24_003, 30
    X = sp.random(n, d, density=0.1, format="csr", random_state=11, dtype=np.float64)
    y, w = r.standard_normal(n), r.standard_normal(d)
    alpha, alpha_ref = np.zeros(n), np.zeros(n)
    sizes, offsets = [12_000, 12_000, 3], [0, 12_000, 24_000]
    marks = bk.choice_marks(max(sizes))
    streams, refs = worker_streams(9, 3), worker_streams(9, 3)
    branches = set()
    for step in range(40):
        k = step % 3
        H = (1, 2, 3)[step % 3] if k == 2 else int(r.choice([1, 50, 240, 241, 700]))
        idx, m = np.empty(H, dtype=np.int64), np.empty(H)
        bk.csr_block_duals(*bk.rng_handles(streams[k]), sizes[k], offsets[k], X.data, X.indices, X.indptr, y,
                           alpha, 0.25, w, idx, m, marks)
        want = draw_block(refs[k], sizes[k], H) + offsets[k]
        assert np.array_equal(idx, want), (k, H)
        assert not marks.any()
        kappa = (X[want] @ w - y[want]) + alpha_ref[want]
        alpha_ref[want] -= 0.25 * kappa
        assert np.array_equal(m, kappa) and np.array_equal(alpha, alpha_ref)
        branches.add("tail" if sizes[k] > bk.TAIL_MIN_POP and H > sizes[k] // bk.TAIL_CUTOFF
                     else ("one" if H == 1 else "floyd"))
    assert branches == {"tail", "one", "floyd"}
    assert all(a.random() == b.random() for a, b in zip(streams, refs))


def test_compiled_gemv_is_numpys():
    """With numpy's bundled ILP64 OpenBLAS (the wheels pip installs), blas_gemv finds its cblas_dgemv and
    the compiled products equal numpy's bit for bit. Without it (another numpy build), blas_gemv is 0 and
    Dis-dfSDCA's dense block must fall back to its numpy path, with the reference's numbers."""
    import glob
    import os

    fn = bk.blas_gemv()
    libdir = os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs")
    if fn == 0:
        assert not glob.glob(os.path.join(libdir, "libscipy_openblas64_*.so")), \
            "numpy ships scipy-openblas64 but blas_gemv did not find (or did not validate) its cblas_dgemv"
        problem = _problem(False)
        roles, ref = (DisDfSDCA(problem, 2, eta=0.05, H=9, T=10) for _ in range(2))
        w = np.random.default_rng(0).standard_normal(problem.d)
        mf, mr = roles.work(0, w, worker_streams(1, 2)[0]), ref.work_numpy(0, w, worker_streams(1, 2)[0])
        assert roles._block is False and np.array_equal(mf.payload, mr.payload)
        return
    r = np.random.default_rng(3)
    for H, d in ((2, 2), (5, 3), (100, 22), (1000, 54), (3, 300)):
        Xi, w, k = r.standard_normal((H, d)), r.standard_normal(d), r.standard_normal(H)
        m, v = np.empty(H), np.empty(d)
        bk.gemv_rows(fn, Xi, w, m)
        bk.gemv_cols(fn, Xi, k, v)
        assert np.array_equal(m, Xi @ w) and np.array_equal(v, Xi.T @ k)


def test_csr_kernels_follow_scipy():
    r = np.random.default_rng(5)
    X = sp.random(200, 40, density=0.1, format="csr", random_state=5)
    idx = r.choice(200, size=30, replace=False).astype(np.int64)
    w, k = r.standard_normal(40), r.standard_normal(30)
    m, v = np.empty(30), np.zeros(40)
    bk.csr_rows_dot(X.data, X.indices, X.indptr, idx, w, m)
    bk.csr_rows_tdot_into(X.data, X.indices, X.indptr, idx, k, v)
    assert np.array_equal(m, X[idx] @ w) and np.array_equal(v, X[idx].T @ k)


@pytest.mark.parametrize("room", [40, 2 ** 16])  # int32 and int64 slots
def test_stamped_accumulation_matches_scipy_through_stamp_wraps(room):
    """v_k on the touched columns (:func:`_accumulate_stamped`) equals scipy's dense ``X[idx].T @ k``
    there and is 0 elsewhere, columns in order of first appearance, across blocks that share columns
    and across the stamp's wrap (slots cleared), for rows of various lengths (including empty)."""
    r = np.random.default_rng(6)
    X = sp.random(120, 40, density=0.15, format="csr", random_state=6)
    X = sp.vstack([X, sp.csr_matrix((3, 40))], format="csr")  # empty rows
    for indices_dtype in (np.int32, np.int64):
        data, indices, indptr = X.data, X.indices.astype(indices_dtype), X.indptr.astype(indices_dtype)
        slot = bk.csr_slots(40, room)
        assert slot.dtype == (np.int32 if room < 2 ** 16 else np.int64)
        limit = 2 ** 15 - 1 if slot.dtype == np.int32 else 2 ** 31 - 1
        slot[40] = limit - 3  # wraps within the blocks below
        cols, vals = np.empty(40, dtype=indices_dtype), np.empty(40)
        for block in range(8):
            idx = r.choice(123, size=int(r.integers(1, 30)), replace=False).astype(np.int64)
            k = r.standard_normal(idx.size)
            k[0] = -0.0  # -0.0 products: scipy's sums start at +0.0
            u = bk._accumulate_stamped(data, indices, indptr, idx, k, slot, cols, vals)
            order = np.concatenate([X.indices[X.indptr[i]:X.indptr[i + 1]] for i in idx] + [np.empty(0, int)])
            first = order[np.sort(np.unique(order, return_index=True)[1])]
            v = X[idx].T @ k
            assert np.array_equal(cols[:u], first) and 1 <= slot[40] <= limit
            assert np.array_equal(vals[:u].view(np.int64), v[first].view(np.int64))
            assert not np.any(np.delete(v, first))
        assert slot[40] == 5  # the stamp wrapped once: limit - 2, limit - 1, limit, then 1 .. 5


@pytest.mark.parametrize("batch", [1, 2, 10])
def test_async_svrg_message_matches_numpy_reference(batch):
    from algorithms.problems import PCAProblem
    from algorithms.svrg import AsyncSVRG

    r = np.random.default_rng(8)
    X = r.standard_normal((300, 7))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    problem = PCAProblem(X, r.standard_normal(7), mu=3.0, lam=0.1)
    K = 3
    fast, ref = (AsyncSVRG(problem, K, eta=0.05, batch=batch, m=20) for _ in range(2))
    for roles in (fast, ref):
        roles._w = r.standard_normal(7) if roles is fast else fast._w.copy()
        roles.barrier()  # snapshot w_tilde and mu
    rngs_f, rngs_r = worker_streams(5, K), worker_streams(5, K)
    for step in range(30):
        k = int(r.integers(K))
        w = r.standard_normal(7)
        mf, mr = fast.work(k, w, rngs_f[k]), ref.work_numpy(k, w, rngs_r[k])
        assert np.array_equal(mf.payload, mr.payload) and mf.work == mr.work
    assert (fast._block is not False) == (batch >= 2)
