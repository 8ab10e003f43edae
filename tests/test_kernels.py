"""Compiled kernels (algorithms/kernels.py) against their plain-numpy references, and the lazy
per-worker streams (algorithms.roles.LazyStreams, sim.cluster.timing_streams) against eager spawn().

The kernels promise the numpy versions' iterates bit for bit (same draws, same summation order), so
the comparisons are exact equality. The summation order of x_i^T w: sequential (left to right from
the first product) in serial SDCA / dfSDCA, kernel and reference alike; BLAS ddot's in CoCoA+'s local
solver, kernel and reference alike.
"""
from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from algorithms import kernels
from algorithms.cocoa import CoCoAPlus
from algorithms.dfsdca import dfsdca
from algorithms.problems import LogisticProblem, PCAProblem, RidgeProblem
from algorithms.roles import LazyStreams, child_seed, worker_streams
from algorithms.sdca import RowView, sdca, sequential_dot
from sim.cluster import WorkerStreams, timing_streams


def _problem(loss: str, sparse: bool, n: int, d: int, seed: int, lam: float = 0.1):
    rng = np.random.default_rng(seed)
    if sparse:
        X = sp.random(n, d, density=0.35, random_state=seed, format="csr") * 2.0
    else:
        X = rng.standard_normal((n, d)) / np.sqrt(d)
    if loss == "ridge":
        return RidgeProblem(X, rng.standard_normal(n), lam)
    return LogisticProblem(X, np.where(rng.random(n) < 0.5, -1.0, 1.0), lam)


def _same(a, b) -> None:
    for name in ("w", "alpha", "steps", "objective", "duality_gap"):
        assert np.array_equal(getattr(a, name), getattr(b, name), equal_nan=True), name


CASES = [(loss, sparse) for loss in ("ridge", "logistic") for sparse in (False, True)]


@pytest.mark.parametrize("loss,sparse", CASES)
def test_sdca_kernel_is_the_numpy_reference_bit_for_bit(loss, sparse):
    P = _problem(loss, sparse, 60, 7, 1)
    ref = sdca(P, 500, np.random.default_rng(4), record_every=37, engine="numpy")
    rng = np.random.default_rng(4)
    got = sdca(P, 500, rng, record_every=37)
    _same(ref, got)
    # the kernel path drew exactly what the reference drew: the streams continue alike
    ref_rng = np.random.default_rng(4)
    sdca(P, 500, ref_rng, engine="numpy")
    assert rng.random() == ref_rng.random()


@pytest.mark.parametrize("loss,sparse", CASES)
def test_dfsdca_kernel_is_the_numpy_reference_bit_for_bit(loss, sparse):
    P = _problem(loss, sparse, 60, 7, 2)
    eta = 0.5 / (1.0 + P.lam * P.n)
    ref = dfsdca(P, eta, 500, np.random.default_rng(5), record_every=50, engine="numpy")
    got = dfsdca(P, eta, 500, np.random.default_rng(5), record_every=50)
    _same(ref, got)


@pytest.mark.parametrize("loss,sparse", CASES)
def test_cocoa_local_solver_kernel_is_the_numpy_reference_bit_for_bit(loss, sparse):
    P = _problem(loss, sparse, 90, 6, 3)
    a, b = CoCoAPlus(P, 3, H=25, engine="numpy"), CoCoAPlus(P, 3, H=25)
    ra, rb = worker_streams(7, 3), worker_streams(7, 3)
    for _ in range(4):
        ma = [(k, a.work(k, a.read(), ra[k])) for k in range(3)]
        mb = [(k, b.work(k, b.read(), rb[k])) for k in range(3)]
        for (_, x), (_, y) in zip(ma, mb):
            assert np.array_equal(x.payload, y.payload)
        a.aggregate(ma)
        b.aggregate(mb)
    assert np.array_equal(a.w, b.w) and np.array_equal(a.alpha, b.alpha)


@settings(max_examples=15, deadline=None)
@given(n=st.integers(2, 30), d=st.integers(1, 6), seed=st.integers(0, 2**16), T=st.integers(0, 120),
       loss=st.sampled_from(["ridge", "logistic"]), sparse=st.booleans(),
       record_every=st.one_of(st.none(), st.integers(1, 50)), lam=st.sampled_from([1e-3, 0.1, 2.0]))
def test_kernels_match_references_on_random_problems(n, d, seed, T, loss, sparse, record_every, lam):
    P = _problem(loss, sparse, n, d, seed, lam)
    _same(sdca(P, T, np.random.default_rng(seed), record_every=record_every, engine="numpy"),
          sdca(P, T, np.random.default_rng(seed), record_every=record_every))
    eta = 0.9 / (1.0 + lam * n)
    _same(dfsdca(P, eta, T, np.random.default_rng(seed), record_every=record_every, engine="numpy"),
          dfsdca(P, eta, T, np.random.default_rng(seed), record_every=record_every))


def _left_to_right(x, w) -> float:
    """x^T w as plain Python floats, ((x_0 w_0 + x_1 w_1) + x_2 w_2) + ... (Python's sum() is compensated)."""
    if len(x) == 0:
        return 0.0
    s = float(x[0]) * float(w[0])
    for a, b in zip(x[1:].tolist(), w[1:].tolist()):
        s = s + a * b
    return s


def test_sequential_dot_is_the_left_to_right_sum():
    """The serial solvers' margin, numpy reference and both compiled forms (dense row, CSR row), is the
    left-to-right sum of the products, checked against plain Python floats; the draws have terms over
    many magnitudes with cancellation, so other orders (reversed, BLAS ddot) give other sums."""
    k = kernels.kernels()
    rng = np.random.default_rng(42)
    orders_differ = 0
    for d in [0, 1, 2, 3, 7, 22, 64, 257]:
        for _ in range(20):
            X = rng.standard_normal((3, d)) * 10.0 ** rng.integers(-8, 9, size=(3, d))
            w = rng.standard_normal(d) * 10.0 ** rng.integers(-8, 9, size=d)
            ref = _left_to_right(X[1], w)
            assert sequential_dot(X[1], w) == ref
            assert k.seq_dot_row(X, 1, w) == ref
            A = sp.csr_matrix(X)
            a, b = A.indptr[1], A.indptr[2]
            assert k.seq_dot_csr(A.data, A.indices.astype(np.int64), a, b, w) == ref
            assert RowView(A).seq_dot(1, w) == ref and RowView(X).seq_dot(1, w) == ref
            orders_differ += _left_to_right(X[1][::-1], w[::-1]) != ref or float(X[1] @ w) != ref
    assert orders_differ > 50  # the test tells sequential order from others


@pytest.mark.parametrize("loss,sparse", CASES)
def test_serial_solvers_reach_the_independent_solution(loss, sparse):
    """sdca and dfsdca (compiled and numpy engines) converge to the optimum of eq. 3.38 / of logistic
    regression computed by scikit-learn (Ridge's Cholesky closed form; LogisticRegression's
    Newton-Cholesky at tol 1e-14), well within the solvers' accuracy after 60 epochs."""
    from sklearn.linear_model import LogisticRegression, Ridge

    P = _problem(loss, sparse, 80, 6, 11, lam=0.1)
    n, lam = P.n, P.lam
    if loss == "ridge":
        w_star = Ridge(alpha=lam * n, fit_intercept=False, solver="cholesky").fit(P.X, P.y).coef_
    else:
        w_star = LogisticRegression(C=1.0 / (lam * n), fit_intercept=False, solver="newton-cholesky", tol=1e-14,
                                    max_iter=200).fit(P.X, P.y).coef_.ravel()
    T, eta = 60 * n, 1.0 / (float(P.constants().L_max) + lam * n)
    for engine in ("numba", "numpy"):
        s = sdca(P, T, np.random.default_rng(3), engine=engine)
        np.testing.assert_allclose(s.w, w_star, rtol=0, atol=1e-9)
        assert abs(s.duality_gap[-1]) < 1e-12
        f = dfsdca(P, eta, T, np.random.default_rng(3), engine=engine)
        np.testing.assert_allclose(f.w, w_star, rtol=0, atol=1e-9)


@pytest.mark.parametrize("loss,sparse", CASES)
def test_records_are_the_problems_objective_and_gap(loss, sparse):
    """Every record is P(w) and G(alpha) as the problem computes them, bit for bit: also the first,
    at alpha = 0, w = 0, which the runner takes from P(w) and D(alpha) without forming w(alpha)."""
    P = _problem(loss, sparse, 40, 5, 12)
    for res in (sdca(P, 0, np.random.default_rng(0)), dfsdca(P, 0.01, 0, np.random.default_rng(0)),
                sdca(P, 0, np.random.default_rng(0), engine="numpy")):
        assert res.objective.tolist() == [P.value(np.zeros(P.d))]
        assert res.duality_gap.tolist() == [P.duality_gap(np.zeros(P.n))]
    res = sdca(P, 90, np.random.default_rng(1), record_every=30)
    assert res.objective[-1] == P.value(res.w) and res.duality_gap[-1] == P.duality_gap(res.alpha)
    assert res.objective[0] == P.value(np.zeros(P.d)) and res.duality_gap[0] == P.duality_gap(np.zeros(P.n))


def test_blocked_draws_are_the_per_step_draws():
    """run_serial_blocks relies on it: rng.integers(n, size=m) consumes the stream as m scalar calls."""
    for n in (1, 2, 7, 49_990, 2**33):
        a = np.random.default_rng(9)
        scalar = [int(a.integers(n)) for _ in range(300)]
        b = np.random.default_rng(9)
        blocks = b.integers(n, size=100).tolist() + b.integers(n, size=1).tolist() + b.integers(n, size=199).tolist()
        assert scalar == blocks and a.random() == b.random()


def test_blocks_longer_than_the_block_cap_match(monkeypatch):
    import algorithms.sdca as sdca_mod

    P = _problem("ridge", False, 40, 5, 6)
    ref = sdca(P, 300, np.random.default_rng(1), record_every=250, engine="numpy")
    monkeypatch.setattr(sdca_mod, "_MAX_BLOCK", 7)  # many kernel calls between two records
    _same(ref, sdca(P, 300, np.random.default_rng(1), record_every=250))


def test_nonlinear_dfsdca_keeps_the_numpy_path():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 3))
    P = PCAProblem(X, np.ones(3), mu=5.0, lam=0.5)
    _same(dfsdca(P, 0.01, 40, np.random.default_rng(2), engine="numpy"),
          dfsdca(P, 0.01, 40, np.random.default_rng(2)))


def test_kernel_newton_constants_are_the_reference_ones():
    import algorithms.sdca as sdca_mod

    assert (kernels._NEWTON_MAXITER, kernels._NEWTON_TOL) == (sdca_mod._NEWTON_MAXITER, sdca_mod._NEWTON_TOL)


def test_engine_is_checked():
    P = _problem("ridge", False, 10, 2, 0)
    for call in (lambda: sdca(P, 5, np.random.default_rng(0), engine="c"),
                 lambda: dfsdca(P, 0.1, 5, np.random.default_rng(0), engine=None),
                 lambda: CoCoAPlus(P, 2, H=3, engine="fast")):
        with pytest.raises(ValueError, match="engine must be 'numba'"):
            call()


def test_kernels_compile_lazily():
    """Importing the solvers does not import numba: only the first compiled call does."""
    import subprocess
    import sys

    code = ("import sys, algorithms.sdca, algorithms.dfsdca, algorithms.cocoa, algorithms.kernels; "
            "print('numba' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- lazy streams ------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 7, 2**40, np.random.SeedSequence(123, spawn_key=(4,))])
@pytest.mark.parametrize("K", [1, 3, 17])
def test_lazy_worker_streams_equal_eager_spawn(seed, K):
    from algorithms.roles import _fresh

    eager = [np.random.default_rng(s) for s in _fresh(seed).spawn(2)[0].spawn(K)]
    lazy = worker_streams(seed, K)
    assert len(lazy) == K
    order = list(range(K))[::-1]  # built out of order: each item depends on k only
    for k in order:
        assert lazy[k].integers(2**62, size=4).tolist() == eager[k].integers(2**62, size=4).tolist()
    assert lazy[-1] is lazy[K - 1] and lazy[0] is lazy[0]  # built once, then kept
    with pytest.raises(IndexError):
        lazy[K]


@pytest.mark.parametrize("K", [1, 4])
def test_lazy_timing_streams_equal_eager_spawn(K):
    from algorithms.roles import cluster_stream

    workers_ss, straggler_ss = cluster_stream(11).spawn(2)
    eager = [[np.random.default_rng(s) for s in ss.spawn(5)] for ss in workers_ss.spawn(K)]
    lazy, straggler = timing_streams(11, K)
    assert straggler.random() == np.random.default_rng(straggler_ss).random()
    for k in range(K):
        for j, kind in enumerate(WorkerStreams.KINDS):
            assert getattr(lazy[k], kind).random() == eager[k][j].random()


def test_child_seed_is_spawns_kth_child():
    parent = np.random.SeedSequence(2024, spawn_key=(3, 1))
    kids = np.random.SeedSequence(2024, spawn_key=(3, 1)).spawn(6)
    for k in range(6):
        c = child_seed(parent, k)
        assert c.spawn_key == kids[k].spawn_key and c.entropy == kids[k].entropy
        assert np.array_equal(c.generate_state(8), kids[k].generate_state(8))
    assert parent.n_children_spawned == 0
    seq = LazyStreams(parent, 3, factory=lambda s: s.spawn_key)
    assert seq[1:] == [(3, 1, 1), (3, 1, 2)] and list(seq) == [(3, 1, 0), (3, 1, 1), (3, 1, 2)]


def test_cluster_clock_builds_worker_state_on_first_use_from_the_spawned_streams():
    from algorithms.roles import cluster_stream
    from sim.cluster import Cluster, ExponentialSpeed

    K = 6
    clock = Cluster.homogeneous(K, speed=ExponentialSpeed(2.0)).clock(3)
    assert len(clock._speed) == 0  # nothing per worker at setup
    workers_ss, _ = cluster_stream(3).spawn(2)
    eager = [np.random.default_rng(ss.spawn(5)[0]) for ss in workers_ss.spawn(K)]
    for k in (4, 1, 5):  # out of order: worker k's draws depend on k only
        assert clock.done(k, 0.0, 1.0) == eager[k].exponential(2.0, 4)[0]
    assert sorted(clock._speed) == [1, 4, 5]
