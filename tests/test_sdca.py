"""Serial SDCA (Alg. 4), its coordinate maximiser (eq. 3.4) and the shard split."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from algorithms.problems import LogisticProblem, PCAProblem, RidgeProblem
from algorithms.sdca import SerialResult, coordinate_delta, sdca
from algorithms.shards import draw_block, split_shards
from reference_ch3 import ref_sdca


def ridge_data(n=40, d=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) / np.sqrt(d)
    y = X @ rng.standard_normal(d) + 0.3 * rng.standard_normal(n)
    return X, y


# --- shards -----------------------------------------------------------------
def test_split_shards_worked_example():
    shards = split_shards(10, 3)
    assert [s.tolist() for s in shards] == [[0, 1, 2, 3], [4, 5, 6], [7, 8, 9]]


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 300), data=st.data())
def test_split_shards_partitions_evenly(n, data):
    K = data.draw(st.integers(1, n))
    shards = split_shards(n, K)
    assert len(shards) == K
    assert np.array_equal(np.concatenate(shards), np.arange(n))
    sizes = [len(s) for s in shards]
    assert max(sizes) - min(sizes) <= 1


@pytest.mark.parametrize("n,K,name", [(5, 0, "K"), (5, 6, "K"), (0, 1, "n"), (5, 1.5, "K"), (5, True, "K")])
def test_split_shards_rejects(n, K, name):
    with pytest.raises(ValueError, match=name):
        split_shards(n, K)


def test_draw_block_distinct_and_in_range():
    rng = np.random.default_rng(0)
    for H in (1, 2, 7, 20):
        I = draw_block(rng, 20, H)
        assert len(np.unique(I)) == H and I.min() >= 0 and I.max() < 20


# --- coordinate maximiser ----------------------------------------------------
def _sub(kind, margin, a, y, q, D):
    """n times eq. 3.4 up to constants: -phi^*(-(a + D)) - margin D - q D^2 / 2."""
    b = a + D
    if kind == "squared":
        conj = 0.5 * b * b - b * y  # phi^*(-b) for phi(m) = (m - y)^2 / 2
    else:
        t = b * y
        if t < 0 or t > 1:
            return -np.inf
        conj = sum(v * np.log(v) for v in (t, 1 - t) if v > 0)
    return -conj - margin * D - 0.5 * q * D * D


@settings(max_examples=150, deadline=None)
@given(
    kind=st.sampled_from(["squared", "logistic"]),
    margin=st.floats(-30, 30),
    frac=st.floats(0.0, 1.0),
    yi=st.sampled_from([-1.0, 1.0]),
    q=st.floats(1e-6, 1e3),
)
def test_coordinate_delta_maximises_subproblem(kind, margin, frac, yi, q):
    a = yi * frac  # logistic needs a y in [0, 1]
    D = coordinate_delta(kind, margin, a, yi, q)
    best = _sub(kind, margin, a, yi, q, D)
    assert np.isfinite(best)
    for eps in (1e-3, 1e-5):
        for s in (-1, 1):
            assert best >= _sub(kind, margin, a, yi, q, D + s * eps) - 1e-12


# --- SDCA against the slow reference and against the closed form -------------
@pytest.mark.parametrize("sparse", [False, True])
def test_sdca_ridge_matches_reference(sparse):
    X, y = ridge_data()
    X[np.abs(X) < 0.3] = 0.0
    P = RidgeProblem(sp.csr_matrix(X) if sparse else X, y, 0.1)
    res = sdca(P, 300, np.random.default_rng(7))
    w_ref, a_ref = ref_sdca(X, y, 0.1, 300, np.random.default_rng(7), "squared")
    np.testing.assert_allclose(res.w, w_ref, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(res.alpha, a_ref, rtol=1e-10, atol=1e-13)


def test_sdca_logistic_matches_reference():
    X, y = ridge_data(n=30, seed=3)
    y = np.where(y > 0, 1.0, -1.0)
    P = LogisticProblem(X, y, 0.05)
    res = sdca(P, 200, np.random.default_rng(2))
    w_ref, a_ref = ref_sdca(X, y, 0.05, 200, np.random.default_rng(2), "logistic")
    np.testing.assert_allclose(res.w, w_ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(res.alpha, a_ref, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind", ["ridge", "logistic"])
def test_sdca_gap_nonnegative_and_shrinks(kind):
    X, y = ridge_data(n=50, d=5, seed=1)
    P = RidgeProblem(X, y, 0.1) if kind == "ridge" else LogisticProblem(X, np.sign(y), 0.1)
    res = sdca(P, 50 * 40, np.random.default_rng(0), record_every=50)
    assert isinstance(res, SerialResult)
    assert np.all(res.duality_gap >= -1e-12)
    assert res.duality_gap[-1] < 1e-6 * res.duality_gap[0]
    # gap bounds suboptimality: P(w) - P* <= G
    assert np.all(res.objective - P.solution().value <= res.duality_gap + 1e-12)
    # w = A alpha / (lam n), eq. 3.3, along the run
    np.testing.assert_allclose(res.w, P.primal_from_dual(res.alpha), rtol=1e-10, atol=1e-13)


def test_sdca_ridge_reaches_normal_equations_and_optimal_dual():
    X, y = ridge_data(n=40, d=3, seed=5)
    lam = 0.2
    res = sdca(RidgeProblem(X, y, lam), 40 * 60, np.random.default_rng(1))
    w_star = np.linalg.solve(X.T @ X / 40 + lam * np.eye(3), X.T @ y / 40)
    np.testing.assert_allclose(res.w, w_star, atol=1e-8)
    np.testing.assert_allclose(res.alpha, y - X @ w_star, atol=1e-7)  # alpha* = -phi'(x^T w*)


def test_sdca_records_and_reproducible():
    X, y = ridge_data()
    P = RidgeProblem(X, y, 0.1)
    a = sdca(P, 95, np.random.default_rng(4), record_every=20)
    b = sdca(P, 95, np.random.default_rng(4), record_every=20)
    assert a.steps.tolist() == [0, 20, 40, 60, 80, 95]
    assert np.array_equal(a.w, b.w) and np.array_equal(a.duality_gap, b.duality_gap)
    assert sdca(P, 95, np.random.default_rng(4)).steps.tolist() == [0, 95]


def test_sdca_rejects_bad_input():
    X, y = ridge_data()
    P = RidgeProblem(X, y, 0.1)
    with pytest.raises(ValueError, match="T must"):
        sdca(P, -1, np.random.default_rng(0))
    with pytest.raises(ValueError, match="record_every"):
        sdca(P, 10, np.random.default_rng(0), record_every=0)
    pca = PCAProblem(X / np.linalg.norm(X, axis=1, keepdims=True), np.ones(4), mu=2.0, lam=0.1)
    with pytest.raises(TypeError, match="PCAProblem"):
        sdca(pca, 10, np.random.default_rng(0))
