"""Datasets for the workbench: bundled, synthetic Table-2-shaped, and files on disk.

* ``digits``, ``breast_cancer``: scikit-learn's bundled sets (no download).
* ``digits10``: scikit-learn's digits with all 10 classes and a seeded
  stratified train/test split; a small stand-in for MNIST (§2.5.1).
* ``ijcnn1``, ``covtype``, ``rcv1``: synthetic sets with the shape and
  sparsity of thesis Table 2 (§3.5.1), labels from a planted linear model with
  label noise. They are *not* the LIBSVM files; load those with
  ``get_dataset("libsvm:/path")`` when you have them on disk.
* ``cifar_features``: a synthetic 384-d, 10-class set shaped like the CNN
  features of §2.5.2 (not CIFAR-10; see :func:`cifar_features_synthetic`).
* ``unit_norm``: the §3.5.2 data of eq. 3.40 (Gaussian vectors, mean
  subtracted, unit norm) plus the random vector ``b``.
* ``mnist:/dir``, ``cifar10:/dir``: MNIST IDX files and CIFAR-10 python
  batches a user already has (:func:`load_mnist`, :func:`load_cifar10`).

Nothing here downloads anything. Every draw comes from
``numpy.random.default_rng(seed)`` built once per call (or a child of
``SeedSequence(seed)`` where one call needs independent streams).
"""
from __future__ import annotations

import functools
import gzip
import math
import pickle
import types
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, NamedTuple

import numpy as np
import scipy.sparse as sp

__all__ = [
    "DataFormatError",
    "Dataset",
    "CIFAR10_FILES",
    "KNOWN_DATASETS",
    "MNIST_FILES",
    "TABLE2",
    "THESIS_SPLITS",
    "cifar_features_synthetic",
    "get_dataset",
    "load_cifar10",
    "load_libsvm",
    "load_mnist",
    "synthetic_like",
    "unit_norm_synthetic",
]


class DataFormatError(ValueError):
    """A malformed data file; the message names the file and what is wrong in it
    (the line number for text files)."""


def _check_matrix(pname: str, X) -> None:
    """X-like fields: a 2-D float64 ndarray or float64 CSR, finite, at least 1 x 1."""
    if sp.issparse(X):
        if X.format != "csr" or X.dtype != np.float64:
            raise ValueError(
                f"{pname} must be a float64 scipy CSR matrix or ndarray, "
                f"got {X.format} of {X.dtype}")
        if not np.all(np.isfinite(X.data)):
            raise ValueError(f"{pname} must contain only finite values, got NaN or inf entries")
    else:
        if not isinstance(X, np.ndarray) or X.ndim != 2 or X.dtype != np.float64:
            raise ValueError(
                f"{pname} must be a 2-D float64 ndarray or scipy CSR matrix, got "
                f"{type(X).__name__} with shape {getattr(X, 'shape', None)} "
                f"and dtype {getattr(X, 'dtype', None)}")
        if not np.all(np.isfinite(X)):
            raise ValueError(f"{pname} must contain only finite values, got NaN or inf entries")
    if X.shape[0] < 1 or X.shape[1] < 1:
        raise ValueError(f"{pname} must have at least one row and one column, got shape {X.shape}")


def _check_labels(pname: str, y) -> None:
    if not isinstance(y, np.ndarray) or y.ndim != 1 or y.dtype != np.float64:
        raise ValueError(
            f"{pname} must be a 1-D float64 ndarray, got {type(y).__name__} "
            f"with shape {getattr(y, 'shape', None)}")
    if not np.all(np.isfinite(y)):
        raise ValueError(f"{pname} must contain only finite values, got NaN or inf")


# eq=False: fields are arrays, so equality is identity (== on arrays is elementwise).
@dataclass(frozen=True, eq=False)
class Dataset:
    """A data matrix with labels, and optionally a held-out test split.

    X       (n, d) float64, dense ndarray or scipy CSR (kept sparse)
    y       (n,) float64 labels, or shape (0,) for unsupervised data
    source  one sentence on how the data was obtained or generated
    extras  named extra arrays (e.g. ``"b"``, the random vector of eq. 3.40)
    X_test  (m, d) float64 dense or CSR test rows, or None (no test split)
    y_test  (m,) float64 test labels (shape (0,) when y is unsupervised), or None
    """

    name: str
    X: np.ndarray | sp.csr_matrix
    y: np.ndarray
    source: str
    extras: Mapping[str, np.ndarray] = field(default_factory=dict)
    X_test: np.ndarray | sp.csr_matrix | None = None
    y_test: np.ndarray | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"name must be a non-empty string, got {self.name!r}")
        if not isinstance(self.source, str) or not self.source:
            raise ValueError(f"source must be a non-empty string, got {self.source!r}")
        _check_matrix("X", self.X)
        n = self.X.shape[0]
        _check_labels("y", self.y)
        if self.y.shape[0] not in (0, n):
            raise ValueError(
                f"y must have length n={n} (X rows) or 0 (unsupervised), got {self.y.shape[0]}")
        if (self.X_test is None) != (self.y_test is None):
            raise ValueError(
                "X_test and y_test must be given together (both or neither), got "
                f"X_test={type(self.X_test).__name__}, y_test={type(self.y_test).__name__}")
        if self.X_test is not None:
            _check_matrix("X_test", self.X_test)
            if self.X_test.shape[1] != self.X.shape[1]:
                raise ValueError(
                    f"X_test must have d={self.X.shape[1]} columns like X, "
                    f"got {self.X_test.shape[1]}")
            _check_labels("y_test", self.y_test)
            m = self.X_test.shape[0]
            want = 0 if self.y.shape[0] == 0 else m
            if self.y_test.shape[0] != want:
                kind = "0 (y is unsupervised)" if want == 0 else f"m={m} (X_test rows)"
                raise ValueError(f"y_test must have length {kind}, got {self.y_test.shape[0]}")
        extras = dict(self.extras)
        for key, value in extras.items():
            if not isinstance(key, str) or not isinstance(value, np.ndarray):
                raise ValueError(
                    f"extras must map str -> ndarray, got {key!r} -> {type(value).__name__}")
        object.__setattr__(self, "extras", types.MappingProxyType(extras))

    @property
    def n(self) -> int:
        return int(self.X.shape[0])

    @property
    def d(self) -> int:
        return int(self.X.shape[1])

    @property
    def n_test(self) -> int:
        """Rows of the test split (0 when there is none)."""
        return 0 if self.X_test is None else int(self.X_test.shape[0])

    @property
    def density(self) -> float:
        """Fraction of stored non-zero entries of X (Table 2's "sparsity" column)."""
        nnz = self.X.count_nonzero() if sp.issparse(self.X) else np.count_nonzero(self.X)
        return nnz / (self.n * self.d)


# Table 2 (§3.5.1): samples, dimension, fraction of non-zeros.
TABLE2: Mapping[str, tuple[int, int, float]] = types.MappingProxyType({
    "ijcnn1": (49_990, 22, 0.41),
    "covtype": (581_012, 54, 0.22),
    "rcv1": (677_399, 47_236, 0.0016),
})
UNIT_NORM_SHAPE = (500_000, 500)  # §3.5.2
LABEL_NOISE = 0.1
MIN_ROWS = 10
KNOWN_DATASETS = ("digits", "digits10", "breast_cancer", "ijcnn1", "covtype", "rcv1",
                  "unit_norm", "cifar_features")
# (training, test) samples used in the thesis: MNIST §2.5.1, CIFAR-10 §2.5.2.
THESIS_SPLITS: Mapping[str, tuple[int, int]] = types.MappingProxyType({
    "mnist": (10_000, 2_000),
    "cifar10": (20_000, 4_000),
})
MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
               "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
CIFAR10_FILES = ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4",
                 "data_batch_5", "test_batch")
DIGITS10_TEST_FRACTION = 1 / 6  # mirrors MNIST's 10,000 / 2,000 of §2.5.1
_CHUNK_ROWS = 1 << 16


# --- validation helpers ----------------------------------------------------
def _check_seed(seed: int) -> None:
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")


def _check_scale(scale: float) -> float:
    try:
        s = float(scale)
    except (TypeError, ValueError):
        raise ValueError(f"scale must be a finite number in (0, 1], got {scale!r}") from None
    if not (math.isfinite(s) and 0.0 < s <= 1.0):
        raise ValueError(f"scale must be a finite number in (0, 1], got {scale!r}")
    return s


def _scaled_rows(n_full: int, scale: float) -> int:
    return max(MIN_ROWS, int(round(scale * n_full)))


def _normalise_dense_rows(X: np.ndarray) -> None:
    """Scale the rows of X to unit Euclidean norm, in place (zero rows stay zero)."""
    norms = np.sqrt(np.einsum("ij,ij->i", X, X))
    norms[norms == 0.0] = 1.0
    X /= norms[:, None]


def _normalise_csr_rows(X: sp.csr_matrix) -> None:
    counts = np.diff(X.indptr)
    sq = np.add.reduceat(X.data**2, X.indptr[:-1][counts > 0]) if X.nnz else np.empty(0)
    norms = np.ones(X.shape[0])
    norms[counts > 0] = np.sqrt(sq)
    norms[norms == 0.0] = 1.0
    X.data /= np.repeat(norms, counts)


def _planted_labels(X, rng: np.random.Generator, noise: float) -> np.ndarray:
    """y = sign(x_i^T w_true) in {-1,+1}, each flipped with probability ``noise``."""
    w_true = rng.standard_normal(X.shape[1])
    y = np.where(X @ w_true >= 0.0, 1.0, -1.0)
    flip = rng.random(X.shape[0]) < noise
    y[flip] = -y[flip]
    return y


def _subsample_rows(n: int, scale: float, seed: int) -> np.ndarray | None:
    """Sorted indices of a seeded random subset of max(10, round(scale * n)) of n rows,
    or None when that is all of them."""
    m = min(n, _scaled_rows(n, scale))
    if m == n:
        return None
    return np.sort(np.random.default_rng(seed).choice(n, size=m, replace=False))


def _subsample(X, y, scale: float, seed: int):
    """A seeded random subset of round(scale * n) rows (kept in their original order)."""
    rows = _subsample_rows(X.shape[0], scale, seed)
    if rows is None:
        return X, y
    return X[rows], (y[rows] if y.size else y)


def _short(obj, limit: int = 80) -> str:
    """``str(obj)`` cut to ``limit`` characters, so file contents never flood a message."""
    text = str(obj)
    return text if len(text) <= limit else text[:limit - 3] + "..."


# --- synthetic Table-2-shaped data ----------------------------------------
def _dense_sparse_pattern(n: int, d: int, density: float, rng: np.random.Generator) -> np.ndarray:
    """n x d Gaussian entries kept with probability ``density`` (Bernoulli mask).

    Generated in row chunks so the peak memory is X plus one chunk, not 3 X.
    A row left all-zero gets one non-zero in a random column (unit norm needs it).
    """
    X = np.empty((n, d))
    for start in range(0, n, _CHUNK_ROWS):
        stop = min(n, start + _CHUNK_ROWS)
        block = X[start:stop]
        rng.standard_normal(out=block)
        block[rng.random((stop - start, d), dtype=np.float32) >= density] = 0.0
    empty = np.flatnonzero(~X.any(axis=1))
    if empty.size:
        X[empty, rng.integers(0, d, size=empty.size)] = rng.standard_normal(empty.size)
    return X


def _sparse_pattern(n: int, d: int, density: float, rng: np.random.Generator) -> sp.csr_matrix:
    """n x d CSR, built directly: each row gets ~Binomial(d, p) columns and |N(0,1)| values.

    Columns are drawn with replacement and de-duplicated; p is raised slightly so the
    expected density after de-duplication is ``density``. Values are non-negative
    like rcv1's tf-idf features.
    """
    k = density * d  # target non-zeros per row
    # E[#distinct of m draws from d] = d(1 - (1-1/d)^m); solve for the m giving k.
    m = math.log1p(-k / d) / math.log1p(-1.0 / d)
    counts = np.maximum(rng.binomial(d, min(1.0, m / d), size=n), 1)
    # Flat keys row * d + col, sorted and de-duplicated: row-major order with
    # ascending columns, i.e. canonical CSR (sort + mask; np.unique is slower here).
    keys = np.repeat(np.arange(n, dtype=np.int64) * d, counts)
    keys += rng.integers(0, d, size=keys.size, dtype=np.int64)
    keys.sort()
    keep = np.empty(keys.size, dtype=bool)
    keep[0] = True
    np.not_equal(keys[1:], keys[:-1], out=keep[1:])
    keys = keys[keep]
    del keep
    indptr = np.searchsorted(keys, np.arange(n + 1, dtype=np.int64) * d)
    idx_dtype = np.int32 if max(d, keys.size) < np.iinfo(np.int32).max else np.int64
    cols = (keys % d).astype(idx_dtype)
    del keys
    data = np.abs(rng.standard_normal(cols.size))
    return sp.csr_matrix((data, cols, indptr.astype(idx_dtype)), shape=(n, d))


def synthetic_like(name: str, *, scale: float = 1.0, seed: int = 0) -> Dataset:
    """A synthetic set with the shape and sparsity of Table 2's ``name`` (§3.5.1).

    n = max(10, round(scale * n_Table2)); d and the non-zero fraction as in
    Table 2. Rows are normalised to unit norm; labels are sign(x_i^T w_true)
    with w_true ~ N(0, I) and 10 % of labels flipped, in {-1, +1}.
    ijcnn1 and covtype are dense ndarrays, rcv1 is CSR (never densified).
    """
    if name not in TABLE2:
        raise ValueError(f"name must be one of {sorted(TABLE2)}, got {name!r}")
    scale = _check_scale(scale)
    _check_seed(seed)
    n_full, d, density = TABLE2[name]
    n = _scaled_rows(n_full, scale)
    rng = np.random.default_rng(seed)
    if name == "rcv1":
        X = _sparse_pattern(n, d, density, rng)
        _normalise_csr_rows(X)
        values = "non-negative |N(0,1)| values, CSR built directly"
    else:
        X = _dense_sparse_pattern(n, d, density, rng)
        _normalise_dense_rows(X)
        values = "N(0,1) values under a Bernoulli mask, dense ndarray"
    y = _planted_labels(X, rng, LABEL_NOISE)
    source = (
        f"synthetic stand-in for LIBSVM {name} (thesis Table 2 shape: n={n_full} x scale "
        f"{scale:g} -> {n}, d={d}, {density:.2%} non-zero; {values}); rows normalised to unit "
        f"norm; labels sign(x^T w_true), w_true ~ N(0,I), {LABEL_NOISE:.0%} flipped; "
        f"numpy default_rng(seed={seed})")
    return Dataset(name=name, X=X, y=y, source=source)


def unit_norm_synthetic(n: int, d: int, *, seed: int = 0) -> Dataset:
    """§3.5.2 data for eq. 3.40: x_i ~ N(0, I_d), mean-subtracted, normalised to |x_i| = 1.

    ``extras["b"]`` is the random vector b of eq. 3.40, drawn N(0, I_d) and
    normalised to |b| = 1 (the thesis only says "a random vector").
    y is empty (unsupervised).
    """
    for pname, v, lo in (("n", n, 2), ("d", d, 1)):
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) or v < lo:
            raise ValueError(f"{pname} must be an integer >= {lo}, got {v!r}")
    _check_seed(seed)
    rng = np.random.default_rng(seed)
    X = np.empty((int(n), int(d)))
    rng.standard_normal(out=X)
    X -= X.mean(axis=0)
    _normalise_dense_rows(X)
    b = rng.standard_normal(int(d))
    b /= np.linalg.norm(b)
    source = (
        f"synthetic §3.5.2 data: n={n}, d={d} Gaussian N(0,I) vectors, mean-subtracted, "
        "rows normalised to unit norm; extras['b'] ~ N(0,I) normalised to unit norm; "
        f"numpy default_rng(seed={seed})")
    return Dataset(name="unit_norm", X=X, y=np.empty(0), source=source, extras={"b": b})


# §2.5.2 CIFAR-10 features: 20,000 training and 4,000 test samples, 384 features, 10 classes.
CIFAR_FEATURES_SHAPE = (20_000, 4_000, 384, 10)
# Generator of cifar_features_synthetic: latent dimension, sub-clusters per class,
# spread of class means, of sub-clusters around them, within-cluster noise, ReLU bias.
# Tuned so nearest-centroid test accuracy is ~0.6-0.65 and a 384x50x10 net gets ~0.8.
_CF_LATENT, _CF_SUBCLUSTERS = 48, 3
_CF_CLASS_SPREAD, _CF_SUB_SPREAD, _CF_NOISE, _CF_BIAS = 0.3, 1.0, 2.0, -0.5


def cifar_features_synthetic(*, scale: float = 1.0, seed: int = 0) -> Dataset:
    """A synthetic stand-in for §2.5.2's 384-d CNN features of CIFAR-10 (it is not CIFAR-10).

    The thesis used features from the second fully connected layer of a pretrained
    TensorFlow-tutorial CNN; delaylab can neither ship nor download that model. This
    set has the same shape: 10 balanced classes, max(10, round(scale * 20000)) training
    and max(10, round(scale * 4000)) test rows, 384 non-negative (ReLU-output) features.

    Generator, r = 48 latent dimensions:
      class means      mu_k ~ N(0, 0.3^2 I_r), k = 0..9
      sub-clusters     c_ks = mu_k + N(0, I_r), s = 0..2 (each class a 3-part mixture)
      latent sample    z = c_{y,s} + N(0, 2^2 I_r), s uniform; labels i mod 10, shuffled
      features         x = max(0, W^T z + b), W ~ N(0, 1/r) (r x 384), b_j ~ N(-0.5, 0.1^2)
    The model (mu, c, W, b) depends on the seed only, not on scale; the model, training
    and test draws use three children of ``SeedSequence(seed)``. Nearest-centroid test
    accuracy is about 0.6-0.65 (chance 0.1): the mixture classes reward a hidden layer.
    """
    scale = _check_scale(scale)
    _check_seed(seed)
    n_full, m_full, d, k = CIFAR_FEATURES_SHAPE
    r, n_sub = _CF_LATENT, _CF_SUBCLUSTERS
    model_rng, train_rng, test_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3))
    means = _CF_CLASS_SPREAD * model_rng.standard_normal((k, r))
    centres = means[:, None, :] + _CF_SUB_SPREAD * model_rng.standard_normal((k, n_sub, r))
    W = model_rng.standard_normal((r, d)) / math.sqrt(r)
    bias = _CF_BIAS + 0.1 * model_rng.standard_normal(d)

    def draw(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        labels = rng.permutation(np.arange(n) % k)
        z = centres[labels, rng.integers(0, n_sub, size=n)]
        z += _CF_NOISE * rng.standard_normal((n, r))
        X = z @ W
        X += bias
        np.maximum(X, 0.0, out=X)
        return X, labels.astype(np.float64)

    n, m = _scaled_rows(n_full, scale), _scaled_rows(m_full, scale)
    X, y = draw(train_rng, n)
    X_test, y_test = draw(test_rng, m)
    source = (
        f"synthetic stand-in for §2.5.2's CIFAR-10 CNN features (NOT CIFAR-10: the thesis's "
        f"pretrained TensorFlow CNN cannot be shipped or downloaded): n={n_full} train / "
        f"{m_full} test x scale {scale:g} -> {n} / {m}, d={d}, {k} balanced classes; "
        f"each class a {n_sub}-component Gaussian mixture in {r} latent dimensions "
        f"(class means N(0,{_CF_CLASS_SPREAD:g}^2 I), sub-clusters +N(0,{_CF_SUB_SPREAD:g}^2 I), "
        f"noise N(0,{_CF_NOISE:g}^2 I)) pushed through a fixed random ReLU layer "
        f"max(0, W^T z + b), W ~ N(0,1/{r}), b ~ N({_CF_BIAS:g},0.1^2); "
        f"numpy SeedSequence(seed={seed}).spawn(3) for model / train / test")
    return Dataset(name="cifar_features", X=X, y=y, source=source, X_test=X_test, y_test=y_test)


# --- bundled scikit-learn sets ----------------------------------------------
def _digits() -> Dataset:
    from sklearn.datasets import load_digits

    raw = load_digits()
    X = raw.data.astype(np.float64) / 16.0  # pixel intensities are 0..16
    _normalise_dense_rows(X)
    y = np.where(raw.target >= 5, 1.0, -1.0)
    source = ("scikit-learn load_digits (bundled): digits 0-4 -> -1, 5-9 -> +1; pixels "
              "divided by 16 to [0, 1], then rows normalised to unit norm")
    return Dataset(name="digits", X=X, y=y, source=source)


def _stratified_test_rows(labels: np.ndarray, fraction: float,
                          rng: np.random.Generator) -> np.ndarray:
    """Sorted rows of a test split holding round(fraction * n_k) rows of each class k."""
    picks = [rng.choice(rows, size=int(round(fraction * rows.size)), replace=False)
             for rows in (np.flatnonzero(labels == c) for c in np.unique(labels))]
    return np.sort(np.concatenate(picks))


def _digits10(seed: int) -> Dataset:
    from sklearn.datasets import load_digits

    raw = load_digits()
    X = raw.data.astype(np.float64) / 16.0  # pixel intensities are 0..16
    y = raw.target.astype(np.float64)
    # A child stream: the scale subset of get_dataset draws from default_rng(seed) itself.
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
    test = np.zeros(y.size, dtype=bool)
    test[_stratified_test_rows(raw.target, DIGITS10_TEST_FRACTION, rng)] = True
    source = ("scikit-learn load_digits (bundled), all 10 classes, labels 0..9; pixels divided "
              "by 16 to [0, 1] (64 features, rows not normalised); stratified test split of "
              "round(n_k/6) samples per class (1/6, like MNIST's 10,000/2,000 in §2.5.1), "
              f"numpy SeedSequence(seed={seed}).spawn(1)")
    return Dataset(name="digits10", X=X[~test], y=y[~test], source=source,
                   X_test=X[test], y_test=y[test])


def _breast_cancer() -> Dataset:
    from sklearn.datasets import load_breast_cancer

    raw = load_breast_cancer()
    X = raw.data.astype(np.float64)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    _normalise_dense_rows(X)
    y = np.where(raw.target == 1, 1.0, -1.0)
    source = ("scikit-learn load_breast_cancer (bundled): malignant (0) -> -1, benign (1) -> +1; "
              "features standardised (zero mean, unit variance), then rows normalised to unit norm")
    return Dataset(name="breast_cancer", X=X, y=y, source=source)


# --- LIBSVM text format -----------------------------------------------------
def load_libsvm(path, *, n_features: int | None = None) -> Dataset:
    """Parse a LIBSVM/svmlight text file into CSR.

    Format: ``label idx:val idx:val ...`` with 1-based, unique (any order)
    indices; text after ``#`` is a comment; blank lines are skipped; ``qid:``
    tokens are ignored. A malformed line raises :class:`DataFormatError`
    ``"{path}:{lineno}: <what is wrong> in {line!r}"``. ``n_features`` fixes d
    (an index above it is an error); by default d is the largest index seen.
    """
    if n_features is not None and (
            isinstance(n_features, bool) or not isinstance(n_features, (int, np.integer))
            or n_features < 1):
        raise ValueError(f"n_features must be None or an integer >= 1, got {n_features!r}")
    labels: list[float] = []
    cols: list[int] = []
    vals: list[float] = []
    indptr = [0]
    # utf-8-sig: a leading byte-order mark is not part of line 1. errors="replace": a byte
    # that is not UTF-8 (e.g. a Latin-1 comment) must not abort the file; in a data token
    # it becomes U+FFFD and the token fails to parse with the file and line number.
    with open(path, encoding="utf-8-sig", errors="replace") as fh:
        for lineno, line in enumerate(fh, start=1):
            body = line.split("#", 1)[0].strip()
            if not body:
                continue
            raw = line.rstrip("\n")

            def bad(what: str) -> DataFormatError:
                return DataFormatError(f"{path}:{lineno}: {what} in {raw!r}")

            tokens = body.split()
            try:
                label = float(tokens[0])
            except ValueError:
                raise bad(f"label {tokens[0]!r} is not a number") from None
            if not math.isfinite(label):
                raise bad(f"label {tokens[0]!r} is not finite")
            seen: set[int] = set()
            for tok in tokens[1:]:
                key, sep, value = tok.partition(":")
                if not sep:
                    raise bad(f"token {tok!r} is not of the form index:value")
                if key == "qid":
                    continue
                try:
                    j = int(key)
                except ValueError:
                    raise bad(f"feature index {key!r} is not an integer") from None
                if j < 1:
                    raise bad(f"feature index {j} is < 1 (indices are 1-based)")
                if n_features is not None and j > n_features:
                    raise bad(f"feature index {j} exceeds n_features={n_features}")
                if j in seen:
                    raise bad(f"feature index {j} is repeated")
                seen.add(j)
                try:
                    v = float(value)
                except ValueError:
                    raise bad(f"feature value {value!r} is not a number") from None
                if not math.isfinite(v):
                    raise bad(f"feature value {value!r} is not finite")
                cols.append(j - 1)
                vals.append(v)
            labels.append(label)
            indptr.append(len(cols))
    if not labels:
        raise DataFormatError(f"{path}: no data lines found")
    d = n_features if n_features is not None else (max(cols) + 1 if cols else 1)
    X = sp.csr_matrix(
        (np.asarray(vals, dtype=np.float64), np.asarray(cols, dtype=np.int64),
         np.asarray(indptr, dtype=np.int64)), shape=(len(labels), int(d)))
    X.sort_indices()
    source = f"LIBSVM text file {path} parsed by delaylab.load_libsvm (values as stored)"
    return Dataset(name=f"libsvm:{path}", X=X, y=np.asarray(labels, dtype=np.float64),
                   source=source)


# --- image files a user already has: MNIST (IDX) and CIFAR-10 (python pickles) ----------
class _Pixels(NamedTuple):
    """An image set as stored: (N, d) uint8 pixels and integer labels 0..9 per split."""
    name: str
    source: str
    train_file: Path
    test_file: Path
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


def _locate(directory: Path, what: str, expected: tuple[str, ...], spellings,
            note: str = "") -> list[Path]:
    """The file of each expected name in ``directory`` (first existing spelling)."""
    if not directory.is_dir():
        raise ValueError(f"{what} directory {directory} does not exist or is not a directory; "
                         f"expected a directory holding {', '.join(expected)}{note}")
    found, missing = [], []
    for name in expected:
        hit = next((directory / c for c in spellings(name) if (directory / c).is_file()), None)
        if hit is None:
            missing.append(name)
        else:
            found.append(hit)
    if missing:
        raise ValueError(f"{what} directory {directory} lacks {', '.join(missing)}; "
                         f"expected {', '.join(expected)}{note}")
    return found


def _check_count(pname: str, value, available: int, path: Path) -> int:
    if value is None:
        return available
    if (isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer))
            or not 1 <= value <= available):
        raise ValueError(f"{pname} must be None or an integer in [1, {available}] "
                         f"(samples in {path}), got {value!r}")
    return int(value)


def _check_digit_labels(path: Path, labels: np.ndarray) -> None:
    bad = np.flatnonzero((labels < 0) | (labels > 9))
    if bad.size:
        raise DataFormatError(
            f"{path}: label {labels[bad[0]]} at position {bad[0]} is outside 0..9")


def _read_bytes(path: Path) -> bytes:
    if path.suffix != ".gz":
        return path.read_bytes()
    try:
        with gzip.open(path, "rb") as fh:
            return fh.read()
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise DataFormatError(f"{path}: not a readable gzip file ({_short(exc)})") from None


_IDX_TYPES = {0x08: "unsigned byte", 0x09: "signed byte", 0x0B: "short", 0x0C: "int",
              0x0D: "float", 0x0E: "double"}


def _read_idx(path: Path, ndim: int, what: str) -> np.ndarray:
    """An IDX array of unsigned bytes with ``ndim`` dimensions, checked against its header.

    IDX: big-endian magic 0x0000TTDD (TT data type, 0x08 = unsigned byte; DD = ndim),
    then ndim big-endian uint32 sizes, then the row-major payload.
    """
    raw = _read_bytes(path)
    want = 0x0800 | ndim
    if len(raw) < 4:
        raise DataFormatError(
            f"{path}: file is {len(raw)} bytes, too short for the 4-byte IDX magic number")
    magic = int(np.frombuffer(raw, dtype=">u4", count=1)[0])
    code, dims_declared = (magic >> 8) & 0xFF, magic & 0xFF
    if magic >> 16:
        hint = " (the file looks gzip-compressed: name it *.gz)" if raw[:2] == b"\x1f\x8b" else ""
        raise DataFormatError(
            f"{path}: bad IDX magic number 0x{magic:08X}, expected 0x{want:08X} ({what}){hint}")
    if code != 0x08:
        raise DataFormatError(
            f"{path}: IDX data type code 0x{code:02X} ({_IDX_TYPES.get(code, 'unknown')}), "
            "expected 0x08 (unsigned byte)")
    if dims_declared != ndim:
        raise DataFormatError(
            f"{path}: IDX magic number 0x{magic:08X} declares {dims_declared} dimensions, "
            f"expected 0x{want:08X} ({what}, {ndim} dimensions)")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataFormatError(
            f"{path}: file is {len(raw)} bytes, too short for its {header}-byte IDX header")
    dims = tuple(int(v) for v in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    need, payload = math.prod(dims), len(raw) - header
    if payload != need:
        problem = "truncated" if payload < need else f"{payload - need} trailing bytes"
        raise DataFormatError(
            f"{path}: payload is {payload} bytes but the header's dimensions "
            f"{' x '.join(map(str, dims))} need {need} ({problem})")
    if dims[0] < 1:
        raise DataFormatError(f"{path}: header declares 0 {what}")
    return np.frombuffer(raw, dtype=np.uint8, count=need, offset=header).reshape(dims)


def _read_mnist(directory: Path) -> _Pixels:
    def spellings(name: str) -> tuple[str, ...]:
        dotted = name.replace("-idx", ".idx")
        return name, dotted, name + ".gz", dotted + ".gz"

    files = _locate(directory, "MNIST", MNIST_FILES, spellings,
                    " (each may end in .gz; the spelling train-images.idx3-ubyte is accepted)")
    split = []
    for images_path, labels_path in (files[:2], files[2:]):
        images = _read_idx(images_path, 3, "images")
        if images.shape[1:] != (28, 28):
            raise DataFormatError(f"{images_path}: images are {images.shape[1]} x "
                                  f"{images.shape[2]} pixels, expected 28 x 28 (MNIST)")
        labels = _read_idx(labels_path, 1, "labels")
        if labels.shape[0] != images.shape[0]:
            raise DataFormatError(f"{images_path}: holds {images.shape[0]} images but "
                                  f"{labels_path} holds {labels.shape[0]} labels")
        _check_digit_labels(labels_path, labels)
        split += [images.reshape(images.shape[0], 784), labels]
    source = (f"MNIST IDX files in {directory} ({files[0].name}, {files[2].name}, ...), "
              "read by delaylab.load_mnist: pixels / 255 to [0, 1], 784 features; "
              "labels 0..9; test split from the t10k files")
    return _Pixels(f"mnist:{directory}", source, files[0], files[2], *split)


def _latin1_encode(text, encoding, errors="strict"):
    """``_codecs.encode`` as a Python-3 protocol-2 pickle uses it for bytes, and nothing else."""
    if not isinstance(text, str) or encoding != "latin1" or errors != "strict":
        raise pickle.UnpicklingError(
            f"_codecs.encode is allowed only as encode(str, 'latin1'), got encoding "
            f"{_short(repr(encoding), 30)}")
    return text.encode("latin1")


@functools.lru_cache(maxsize=1)
def _pickle_globals() -> Mapping[tuple[str, str], object]:
    """The only globals a CIFAR-10 batch may name: numpy array/scalar reconstruction."""
    try:
        from numpy._core import multiarray, numeric
    except ImportError:  # numpy < 2
        from numpy.core import multiarray, numeric
    allowed: dict[tuple[str, str], object] = {
        ("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): _latin1_encode}
    for pkg in ("numpy.core", "numpy._core"):  # numpy 1.x and 2.x spellings
        allowed[(f"{pkg}.multiarray", "_reconstruct")] = multiarray._reconstruct
        allowed[(f"{pkg}.multiarray", "scalar")] = multiarray.scalar
        allowed[(f"{pkg}.numeric", "_frombuffer")] = numeric._frombuffer  # protocol 5
    return types.MappingProxyType(allowed)


class _CifarUnpickler(pickle.Unpickler):
    """Unpickles dicts, lists, bytes, ints and numpy arrays only.

    find_class is the one way a pickle reaches code; refusing every other global
    means a data file cannot run anything (e.g. ``os.system`` via ``__reduce__``).
    """

    def __init__(self, fh, path: Path) -> None:
        super().__init__(fh, encoding="bytes")  # Python-2 str -> bytes, as the batches need
        self._path = path

    def find_class(self, module: str, name: str):
        obj = _pickle_globals().get((module, name))
        if obj is None:
            raise DataFormatError(
                f"{self._path}: pickle asks for {_short(f'{module}.{name}', 60)}, which is "
                "refused (a CIFAR-10 batch needs only numpy arrays, dicts, lists, bytes, ints)")
        return obj


def _read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with open(path, "rb") as fh:
        try:
            obj = _CifarUnpickler(fh, path).load()
        except DataFormatError:
            raise
        except Exception as exc:  # a damaged stream raises many types (pickle, numpy, EOF)
            raise DataFormatError(f"{path}: not a readable pickle "
                                  f"({type(exc).__name__}: {_short(exc)})") from None
    if not isinstance(obj, dict):
        raise DataFormatError(f"{path}: holds a {type(obj).__name__}, expected a dict with "
                              "keys b'data' and b'labels'")
    missing = [k for k in (b"data", b"labels") if k not in obj]
    if missing:
        raise DataFormatError(f"{path}: dict lacks {_short(missing)}; its keys are "
                              f"{_short(sorted(map(repr, obj)))}")
    data = obj[b"data"]
    if (not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2
            or data.shape[1] != 3072 or data.shape[0] < 1):
        raise DataFormatError(
            f"{path}: b'data' must be an N x 3072 uint8 array (N >= 1 images of 32 x 32 x 3), "
            f"got {type(data).__name__} with shape {getattr(data, 'shape', None)} "
            f"and dtype {getattr(data, 'dtype', None)}")
    try:
        labels = np.asarray(obj[b"labels"])
    except Exception:
        labels = np.asarray(None)
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise DataFormatError(f"{path}: b'labels' must be a list of integers, got "
                              f"{type(obj[b'labels']).__name__} of {labels.dtype}")
    if labels.shape[0] != data.shape[0]:
        raise DataFormatError(f"{path}: holds {data.shape[0]} images (b'data' rows) but "
                              f"{labels.shape[0]} labels")
    _check_digit_labels(path, labels)
    return data, labels


def _read_cifar10(directory: Path) -> _Pixels:
    where = directory
    nested = directory / "cifar-10-batches-py"  # the folder the CIFAR-10 tarball unpacks to
    if not (directory / CIFAR10_FILES[0]).is_file() and nested.is_dir():
        directory = nested
    files = _locate(directory, "CIFAR-10", CIFAR10_FILES, lambda name: (name,),
                    " (the python-version batches, or a directory holding cifar-10-batches-py)")
    batches = [_read_cifar_batch(f) for f in files]
    X_train = np.concatenate([b[0] for b in batches[:5]])
    y_train = np.concatenate([b[1] for b in batches[:5]])
    source = (f"CIFAR-10 python batches in {directory} (data_batch_1..5, test_batch), read by "
              "delaylab.load_cifar10 with a restricted unpickler: the raw 3072 pixels "
              "(1024 R, 1024 G, 1024 B of 32 x 32) / 255 to [0, 1]; labels 0..9. NOT the "
              "thesis's 384-d features from a pretrained TensorFlow CNN (§2.5.2), which "
              "delaylab cannot ship or download")
    return _Pixels(f"cifar10:{where}", source, files[0], files[5],
                   X_train, y_train, *batches[5])


def _unit_pixels(pixels: np.ndarray) -> np.ndarray:
    X = pixels.astype(np.float64)
    X /= 255.0
    return X


def _pixels_dataset(raw: _Pixels, *, n_train: int | None, n_test: int | None,
                    scale: float = 1.0, seed: int = 0) -> Dataset:
    """The first n_train / n_test rows, then a seeded ``scale`` subset of the training rows;
    rows are selected before the float64 conversion, so a subset never costs the full set."""
    n_full, m_full = raw.X_train.shape[0], raw.X_test.shape[0]
    n = _check_count("n_train", n_train, n_full, raw.train_file)
    m = _check_count("n_test", n_test, m_full, raw.test_file)
    source = raw.source
    if (n, m) != (n_full, m_full):
        source += f"; first {n} of {n_full} training and {m} of {m_full} test samples"
    X, y = raw.X_train[:n], raw.y_train[:n]
    rows = _subsample_rows(n, scale, seed)
    if rows is not None:
        X, y = X[rows], y[rows]
        source += (f"; random subset of {rows.size} of {n} training rows (scale {scale:g}, "
                   f"seed {seed}), test split kept whole")
    return Dataset(name=raw.name, X=_unit_pixels(X), y=y.astype(np.float64), source=source,
                   X_test=_unit_pixels(raw.X_test[:m]), y_test=raw.y_test[:m].astype(np.float64))


def load_mnist(path, *, n_train: int | None = None, n_test: int | None = None) -> Dataset:
    """MNIST from the IDX files in directory ``path`` (§2.5.1's data).

    Needs train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and
    t10k-labels-idx1-ubyte (each may end in ``.gz``; ``train-images.idx3-ubyte`` spelling
    accepted). X: pixels / 255 in [0, 1], 784 float64 features; y: labels 0..9 as float64;
    the t10k files are the test split. ``n_train`` / ``n_test`` keep the first rows of each
    split; the thesis's sizes are ``THESIS_SPLITS["mnist"]`` = (10,000, 2,000).
    A damaged file raises :class:`DataFormatError` naming it; a missing one, ValueError.
    """
    return _pixels_dataset(_read_mnist(Path(path)), n_train=n_train, n_test=n_test)


def load_cifar10(path, *, n_train: int | None = None, n_test: int | None = None) -> Dataset:
    """CIFAR-10 from the "python version" batches in directory ``path``.

    Needs data_batch_1..data_batch_5 and test_batch (or a ``cifar-10-batches-py`` folder
    holding them). The pickles are read by an unpickler that allows only numpy array
    reconstruction, so a data file cannot run code. X: the raw 3072 pixels (channel-major
    R, G, B) / 255 in [0, 1]; y: labels 0..9 as float64. This is *not* §2.5.2's data,
    which was 384-d features from a pretrained TensorFlow CNN that delaylab cannot ship
    or download (see ``cifar_features`` for a synthetic stand-in of that shape).
    ``n_train`` / ``n_test`` keep the first rows (batches in order); the thesis's sizes
    are ``THESIS_SPLITS["cifar10"]`` = (20,000, 4,000).
    """
    return _pixels_dataset(_read_cifar10(Path(path)), n_train=n_train, n_test=n_test)


# --- the one entry point -----------------------------------------------------
_FILE_READERS = {"mnist": _read_mnist, "cifar10": _read_cifar10}


def get_dataset(name: str, *, scale: float = 1.0, seed: int = 0) -> Dataset:
    """A dataset by name: one of :data:`KNOWN_DATASETS`, ``"libsvm:/path/to/file"``,
    ``"mnist:/dir"`` or ``"cifar10:/dir"`` (files loaded as they are, all rows).

    ``scale`` in (0, 1] multiplies n: for the synthetic sets (ijcnn1, covtype,
    rcv1, unit_norm, cifar_features) it sets the generated n (density kept;
    cifar_features scales train and test alike); for bundled data and files it keeps
    a seeded random subset of max(10, round(scale * n)) training rows (a test split is
    kept whole).
    """
    if not isinstance(name, str):
        raise ValueError(f"name must be a string, got {name!r}")
    scale = _check_scale(scale)
    _check_seed(seed)
    if name.startswith("libsvm:"):
        path = name[len("libsvm:"):]
        if not path:
            raise ValueError("name 'libsvm:' needs a file path, e.g. 'libsvm:/data/ijcnn1'")
        data = load_libsvm(path)
        return _with_subsample(data, scale, seed)
    kind, colon, path = name.partition(":")
    if colon and kind in _FILE_READERS:
        if not path:
            raise ValueError(f"name '{kind}:' needs a directory, e.g. '{kind}:/data/{kind}'")
        return _pixels_dataset(_FILE_READERS[kind](Path(path)), n_train=None, n_test=None,
                               scale=scale, seed=seed)
    if name in TABLE2:
        return synthetic_like(name, scale=scale, seed=seed)
    if name == "unit_norm":
        n_full, d = UNIT_NORM_SHAPE
        return unit_norm_synthetic(_scaled_rows(n_full, scale), d, seed=seed)
    if name == "cifar_features":
        return cifar_features_synthetic(scale=scale, seed=seed)
    if name == "digits":
        return _with_subsample(_digits(), scale, seed)
    if name == "digits10":
        return _with_subsample(_digits10(seed), scale, seed)
    if name == "breast_cancer":
        return _with_subsample(_breast_cancer(), scale, seed)
    raise ValueError(
        f"name must be one of {list(KNOWN_DATASETS)} or 'libsvm:/path/to/file', "
        f"'mnist:/dir', 'cifar10:/dir', got {name!r}")


def _with_subsample(data: Dataset, scale: float, seed: int) -> Dataset:
    """A seeded ``scale`` subset of the training rows; a test split is kept whole."""
    if scale == 1.0:
        return data
    X, y = _subsample(data.X, data.y, scale, seed)
    return Dataset(name=data.name, X=X, y=y,
                   source=f"{data.source}; random subset of {X.shape[0]} of {data.n} "
                          f"{'training ' if data.X_test is not None else ''}rows "
                          f"(scale {scale:g}, seed {seed})"
                          f"{', test split kept whole' if data.X_test is not None else ''}",
                   extras=dict(data.extras), X_test=data.X_test, y_test=data.y_test)
