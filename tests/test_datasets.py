"""Tests for algorithms.datasets: Table-2 shapes and sparsity, unit norms,
determinism, the bundled sets, the LIBSVM loader (against scikit-learn's
svmlight reader/writer) and bad input."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import dump_svmlight_file, load_svmlight_file
from sklearn.linear_model import LogisticRegression

from algorithms.datasets import (
    KNOWN_DATASETS,
    TABLE2,
    DataFormatError,
    Dataset,
    get_dataset,
    load_libsvm,
    synthetic_like,
    unit_norm_synthetic,
)


def _row_norms(X):
    if sp.issparse(X):
        return np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
    return np.linalg.norm(X, axis=1)


def _same(X1, X2) -> bool:
    if sp.issparse(X1):
        return (np.array_equal(X1.data, X2.data) and np.array_equal(X1.indices, X2.indices)
                and np.array_equal(X1.indptr, X2.indptr))
    return np.array_equal(X1, X2)


# --- synthetic Table-2 sets ----------------------------------------------------
@pytest.mark.parametrize("name,scale,tol", [
    ("ijcnn1", 0.02, 0.02), ("covtype", 0.002, 0.02), ("rcv1", 0.002, 0.0001)])
def test_synthetic_shape_sparsity_and_norms(name, scale, tol):
    n_full, d, density = TABLE2[name]
    data = get_dataset(name, scale=scale, seed=1)
    assert data.X.shape == (round(scale * n_full), d)
    assert sp.isspmatrix_csr(data.X) == (name == "rcv1")
    assert data.X.dtype == np.float64 and data.y.dtype == np.float64
    nnz = data.X.nnz if sp.issparse(data.X) else np.count_nonzero(data.X)
    assert abs(nnz / (data.n * d) - density) < tol
    assert data.density == pytest.approx(nnz / (data.n * d))
    np.testing.assert_allclose(_row_norms(data.X), 1.0, rtol=1e-12)
    assert set(np.unique(data.y)) == {-1.0, 1.0}
    assert 0.3 < np.mean(data.y > 0) < 0.7
    assert "synthetic" in data.source and "unit norm" in data.source


def test_synthetic_labels_follow_a_linear_model():
    """Planted model with 10 % flips: a linear classifier gets near 90 %, chance is 50 %."""
    data = get_dataset("ijcnn1", scale=0.05, seed=2)
    clf = LogisticRegression(C=100.0, fit_intercept=False, max_iter=1000).fit(data.X, data.y)
    assert clf.score(data.X, data.y) > 0.85


def test_rcv1_columns_are_sorted_and_unique():
    X = get_dataset("rcv1", scale=0.001, seed=0).X
    assert X.has_sorted_indices and X.has_canonical_format
    assert np.all(X.data > 0)  # tf-idf-like non-negative values


@pytest.mark.parametrize("name", ["ijcnn1", "rcv1", "unit_norm", "digits"])
def test_same_seed_same_arrays_and_other_seed_differs(name):
    scale = 0.01 if name != "digits" else 0.5
    a, b = get_dataset(name, scale=scale, seed=5), get_dataset(name, scale=scale, seed=5)
    c = get_dataset(name, scale=scale, seed=6)
    assert _same(a.X, b.X) and np.array_equal(a.y, b.y)
    for k in a.extras:
        assert np.array_equal(a.extras[k], b.extras[k])
    assert not (a.X.shape == c.X.shape and _same(a.X, c.X))


def test_unit_norm_synthetic():
    data = unit_norm_synthetic(300, 20, seed=3)
    assert data.X.shape == (300, 20) and data.y.shape == (0,)
    np.testing.assert_allclose(_row_norms(data.X), 1.0, rtol=1e-12)
    b = data.extras["b"]
    assert b.shape == (20,) and np.linalg.norm(b) == pytest.approx(1.0, rel=1e-12)
    # mean-subtracted before normalising: the column means are small against 1/sqrt(d)
    assert np.abs(data.X.mean(axis=0)).max() < 0.05
    full = get_dataset("unit_norm", scale=0.001)
    assert full.X.shape == (500, 500)
    with pytest.raises(TypeError):
        data.extras["b"] = np.zeros(20)  # read-only mapping


# --- bundled sets ----------------------------------------------------------------
def test_digits_and_breast_cancer():
    from sklearn.datasets import load_breast_cancer, load_digits

    dg = get_dataset("digits")
    assert dg.X.shape == (1797, 64)
    np.testing.assert_array_equal(dg.y == 1.0, load_digits().target >= 5)
    np.testing.assert_allclose(_row_norms(dg.X), 1.0, rtol=1e-12)
    assert dg.X.min() >= 0.0
    bc = get_dataset("breast_cancer")
    assert bc.X.shape == (569, 30)
    np.testing.assert_array_equal(bc.y == 1.0, load_breast_cancer().target == 1)
    np.testing.assert_allclose(_row_norms(bc.X), 1.0, rtol=1e-12)
    assert "load_breast_cancer" in bc.source and "load_digits" in dg.source
    sub = get_dataset("digits", scale=0.1, seed=0)
    assert sub.X.shape == (180, 64)
    assert all(any(np.array_equal(r, q) for q in dg.X[:]) for r in sub.X[:3])


# --- LIBSVM loader ---------------------------------------------------------------
@settings(max_examples=15, deadline=None)
@given(st.integers(1, 30), st.integers(1, 12), st.integers(0, 2**32 - 1))
def test_libsvm_round_trip_against_sklearn(tmp_path_factory, n, d, seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    X[rng.random((n, d)) < 0.6] = 0.0
    y = rng.integers(-3, 4, n).astype(np.float64)
    path = tmp_path_factory.mktemp("svm") / "data.svm"
    dump_svmlight_file(sp.csr_matrix(X), y, str(path), zero_based=False, comment="made by a test")
    ours = load_libsvm(path, n_features=d)
    Xr, yr = load_svmlight_file(str(path), n_features=d, zero_based=False)
    assert sp.isspmatrix_csr(ours.X)
    np.testing.assert_array_equal(ours.y, yr)
    np.testing.assert_allclose(ours.X.toarray(), Xr.toarray(), rtol=0, atol=0)
    np.testing.assert_allclose(ours.X.toarray(), X, rtol=1e-15)


def test_libsvm_comments_blank_lines_and_get_dataset(tmp_path):
    path = tmp_path / "small.txt"
    path.write_text("# header\n+1 3:0.5 1:2  # tail comment\n\n-1 qid:7 2:-1.5\n   \n1\n")
    data = get_dataset(f"libsvm:{path}")
    np.testing.assert_array_equal(data.y, [1.0, -1.0, 1.0])
    np.testing.assert_array_equal(data.X.toarray(), [[2.0, 0.0, 0.5], [0.0, -1.5, 0.0], [0, 0, 0]])
    assert data.X.has_sorted_indices
    assert load_libsvm(path, n_features=5).X.shape == (3, 5)


@pytest.mark.parametrize("line,what", [
    ("1 3:abc", "feature value 'abc' is not a number"),
    ("yes 1:2", "label 'yes' is not a number"),
    ("1 0:1", "feature index 0 is < 1 (indices are 1-based)"),
    ("1 2", "token '2' is not of the form index:value"),
    ("1 2:1 2:3", "feature index 2 is repeated"),
    ("1 a:3", "feature index 'a' is not an integer"),
    ("1 9:1", "feature index 9 exceeds n_features=4"),
])
def test_libsvm_malformed_line_names_file_and_line(tmp_path, line, what):
    path = tmp_path / "bad.svm"
    path.write_text(f"1 1:1\n# comment\n{line}\n-1 2:1\n")
    with pytest.raises(DataFormatError) as err:
        load_libsvm(path, n_features=4)
    assert str(err.value) == f"{path}:3: {what} in {line!r}"
    assert isinstance(err.value, ValueError)


def test_libsvm_empty_file(tmp_path):
    path = tmp_path / "empty.svm"
    path.write_text("# nothing\n\n")
    with pytest.raises(DataFormatError, match="no data lines"):
        load_libsvm(path)


# --- bad input ------------------------------------------------------------------
@pytest.mark.parametrize("scale", [0.0, -0.5, 1.5, float("nan"), "big"])
def test_bad_scale(scale):
    with pytest.raises(ValueError, match=r"scale must be a finite number in \(0, 1\]"):
        get_dataset("ijcnn1", scale=scale)


def test_unknown_name_lists_known_names():
    with pytest.raises(ValueError) as err:
        get_dataset("mnist")
    for name in KNOWN_DATASETS:
        assert name in str(err.value)
    with pytest.raises(ValueError, match="name must be one of"):
        synthetic_like("digits")
    with pytest.raises(ValueError, match="seed must be an integer >= 0"):
        get_dataset("ijcnn1", seed=-1)
    with pytest.raises(ValueError, match="n must be an integer >= 2"):
        unit_norm_synthetic(1, 3)


def test_dataset_validation():
    X = np.ones((3, 2))
    with pytest.raises(ValueError, match="y must have length n=3"):
        Dataset(name="x", X=X, y=np.zeros(2), source="s")
    with pytest.raises(ValueError, match="X must be a 2-D float64"):
        Dataset(name="x", X=X.astype(np.float32), y=np.zeros(3), source="s")
    with pytest.raises(ValueError, match="X must be a float64 scipy CSR"):
        Dataset(name="x", X=sp.csc_matrix(X), y=np.zeros(3), source="s")
    with pytest.raises(ValueError, match="source must be a non-empty string"):
        Dataset(name="x", X=X, y=np.zeros(3), source="")
    with pytest.raises(ValueError, match="extras must map str -> ndarray"):
        Dataset(name="x", X=X, y=np.zeros(3), source="s", extras={"b": [1.0]})
    data = Dataset(name="x", X=X, y=np.zeros(3), source="s")
    with pytest.raises(dataclasses.FrozenInstanceError):
        data.name = "y"


def _rcv1_reference(n: int, d: int, density: float, seed: int) -> tuple[sp.csr_matrix, np.ndarray]:
    """The rcv1-shaped build as first written (whole-array steps, no chunks), the oracle of the
    chunked, in-place build: the same draws, the same matrix and labels bit for bit."""
    import math

    rng = np.random.default_rng(seed)
    k = density * d
    m = math.log1p(-k / d) / math.log1p(-1.0 / d)
    counts = np.maximum(rng.binomial(d, min(1.0, m / d), size=n), 1)
    keys = np.repeat(np.arange(n, dtype=np.int64) * d, counts)
    keys += rng.integers(0, d, size=keys.size, dtype=np.int64)
    keys.sort()
    keep = np.empty(keys.size, dtype=bool)
    keep[0] = True
    np.not_equal(keys[1:], keys[:-1], out=keep[1:])
    keys = keys[keep]
    indptr = np.searchsorted(keys, np.arange(n + 1, dtype=np.int64) * d)
    idx_dtype = np.int32 if max(d, keys.size) < np.iinfo(np.int32).max else np.int64
    X = sp.csr_matrix((np.abs(rng.standard_normal(keys.size)), (keys % d).astype(idx_dtype),
                       indptr.astype(idx_dtype)), shape=(n, d))
    cnt = np.diff(X.indptr)
    sq = np.add.reduceat(X.data**2, X.indptr[:-1][cnt > 0])
    norms = np.ones(n)
    norms[cnt > 0] = np.sqrt(sq)
    norms[norms == 0.0] = 1.0
    X.data /= np.repeat(norms, cnt)
    w_true = rng.standard_normal(d)
    y = np.where(X @ w_true >= 0.0, 1.0, -1.0)
    flip = rng.random(n) < 0.1
    y[flip] = -y[flip]
    return X, y


@pytest.mark.parametrize("chunk", [3, 200, 1 << 20])
@pytest.mark.parametrize("scale,seed", [(0.003, 0), (0.01, 7)])
def test_rcv1_chunked_build_equals_whole_array_build(monkeypatch, chunk, scale, seed):
    """The chunked in-place rcv1 build (peak memory about the CSR matrix) makes the very matrix and
    labels of the whole-array build, for chunk sizes that split rows and key runs anywhere."""
    import algorithms.datasets as ds

    monkeypatch.setattr(ds, "_CHUNK_NNZ", chunk)
    data = ds.get_dataset("rcv1", scale=scale, seed=seed)
    n_full, d, density = ds.TABLE2["rcv1"]
    X, y = _rcv1_reference(data.n, d, density, seed)
    for name in ("data", "indices", "indptr"):
        a, b = getattr(data.X, name), getattr(X, name)
        assert a.dtype == b.dtype and np.array_equal(a.view(np.uint8), b.view(np.uint8)), name
    assert np.array_equal(data.y, y)
