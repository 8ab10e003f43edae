"""Datasets for the workbench: the :class:`Dataset` record, bundled and synthetic
Table-2-shaped sets, LIBSVM files, and :func:`get_dataset`, the one entry point by name.

Held here:

* ``digits``, ``breast_cancer``: scikit-learn's bundled sets (no download).
* ``ijcnn1``, ``covtype``, ``rcv1``: synthetic sets with the shape and
  sparsity of thesis Table 2 (§3.5.1), labels from a planted linear model with
  label noise. They are *not* the LIBSVM files; load those with
  ``get_dataset("libsvm:/path")`` (:func:`load_libsvm`) when you have them on disk.
* ``unit_norm``: the §3.5.2 data of eq. 3.40 (Gaussian vectors, mean
  subtracted, unit norm) plus the random vector ``b``.

Held in :mod:`algorithms.image_data`, reached through :func:`get_dataset` and
re-exported here under the same names (``load_mnist``, ``load_cifar10``,
``cifar_features_synthetic``, ``MNIST_FILES``, ``CIFAR10_FILES``,
``CIFAR_FEATURES_SHAPE``, ``DIGITS10_TEST_FRACTION``, ``THESIS_SPLITS``):

* ``digits10``: scikit-learn's digits with all 10 classes and a seeded
  stratified train/test split; a small stand-in for MNIST (§2.5.1).
* ``cifar_features``: a synthetic 384-d, 10-class set shaped like the CNN
  features of §2.5.2 (not CIFAR-10; see ``cifar_features_synthetic``).
* ``mnist:/dir``, ``cifar10:/dir``: MNIST IDX files and CIFAR-10 python
  batches a user already has (``load_mnist``, ``load_cifar10``).

:mod:`algorithms.image_data` imports :class:`Dataset`, :class:`DataFormatError` and a few
small helpers from here; this module imports it only lazily (inside :func:`get_dataset`
and on first access to a re-exported name), so either module may be imported first.

Nothing here downloads anything. Every draw in this module comes from
``numpy.random.default_rng(seed)`` built once per call.
"""
from __future__ import annotations

import math
import types
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

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
    origin  one line on which data this is, set by :func:`get_dataset`: a real file with its size and
            sha256 (``/data/ijcnn1.bz2 (1,395,175 bytes, sha256 0123...)``), ``synthetic ijcnn1-shaped``,
            ``bundled scikit-learn digits``; "" when built directly
    """

    name: str
    X: np.ndarray | sp.csr_matrix
    y: np.ndarray
    source: str
    extras: Mapping[str, np.ndarray] = field(default_factory=dict)
    X_test: np.ndarray | sp.csr_matrix | None = None
    y_test: np.ndarray | None = None
    origin: str = ""

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
_CHUNK_ROWS = 1 << 16
#: entries per chunk of the rcv1-shaped CSR build and normalisation (temporaries of 8 MiB a piece)
_CHUNK_NNZ = 1 << 20


# --- validation helpers ----------------------------------------------------
QUOTE_LIMIT = 80


def quote(text, limit: int = QUOTE_LIMIT) -> str:
    """``repr`` of file content cut to its first ``limit`` characters (then "…"): a message quoting a
    line or token of a damaged file (e.g. a binary file with no newline) never embeds all of it."""
    s = str(text)
    return repr(s) if len(s) <= limit else repr(s[:limit]) + "…"


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
    """Scale the rows of CSR X to unit Euclidean norm, in place (zero rows stay zero).

    Row chunk by row chunk, so the temporaries (squares, the per-entry norms) are one chunk's,
    not two arrays of nnz: each row's squared norm is the same ``np.add.reduceat`` segment sum
    as over the whole matrix at once, so the result is the same bit for bit."""
    n = X.shape[0]
    indptr, data = X.indptr, X.data
    rows = max(1, _CHUNK_NNZ * n // max(1, X.nnz))
    for r0 in range(0, n, rows):
        r1 = min(n, r0 + rows)
        a, b = int(indptr[r0]), int(indptr[r1])
        counts = np.diff(indptr[r0:r1 + 1])
        seg = data[a:b]
        norms = np.ones(r1 - r0)
        if b > a:
            norms[counts > 0] = np.sqrt(np.add.reduceat(seg**2, (indptr[r0:r1] - a)[counts > 0]))
        norms[norms == 0.0] = 1.0
        seg /= np.repeat(norms, counts)


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
    # Flat keys row * d + col, sorted and de-duplicated: row-major order with ascending columns,
    # i.e. canonical CSR. Built in place and chunk by chunk, so that at most the keys (8 bytes a
    # draw) and the column indices (4) are alive at once, never two arrays of keys.
    ends = np.cumsum(counts)
    keys = rng.integers(0, d, size=int(ends[-1]), dtype=np.int64)
    rows = max(1, _CHUNK_NNZ * n // keys.size)
    for r0 in range(0, n, rows):
        r1 = min(n, r0 + rows)
        keys[ends[r0 - 1] if r0 else 0:ends[r1 - 1]] += np.repeat(np.arange(r0, r1, dtype=np.int64) * d,
                                                                  counts[r0:r1])
    del ends
    keys.sort()
    step = _CHUNK_NNZ

    def first_copies(a: int, b: int) -> np.ndarray:  # keys[a:b] that differ from their predecessor
        new = np.empty(b - a, dtype=bool)
        new[0] = a == 0 or keys[a] != keys[a - 1]
        np.not_equal(keys[a + 1:b], keys[a:b - 1], out=new[1:])
        return new

    nnz = sum(int(np.count_nonzero(first_copies(a, min(keys.size, a + step)))) for a in range(0, keys.size, step))
    idx_dtype = np.int32 if max(d, nnz) < np.iinfo(np.int32).max else np.int64
    cols = np.empty(nnz, dtype=idx_dtype)
    row_nnz = np.zeros(n, dtype=np.int64)
    u = 0
    for a in range(0, keys.size, step):
        kept = keys[a:min(keys.size, a + step)][first_copies(a, min(keys.size, a + step))]
        cols[u:u + kept.size] = kept % d
        row_nnz += np.bincount(kept // d, minlength=n)
        u += kept.size
    del keys, kept
    indptr = np.concatenate(([0], np.cumsum(row_nnz))).astype(idx_dtype)
    data = rng.standard_normal(nnz)
    np.abs(data, out=data)
    return sp.csr_matrix((data, cols, indptr), shape=(n, d))


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
def _open_text(path):
    """A LIBSVM text file, plain or compressed (``.bz2``, as the LIBSVM site ships them, or ``.gz``)."""
    import bz2
    import gzip

    p = str(path)
    opener = bz2.open if p.endswith(".bz2") else gzip.open if p.endswith(".gz") else open
    kw = {"mode": "rt"} if opener is not open else {}
    return opener(path, encoding="utf-8-sig", errors="replace", **kw)


def load_libsvm(path, *, n_features: int | None = None) -> Dataset:
    """Parse a LIBSVM/svmlight text file into CSR.

    Format: ``label idx:val idx:val ...`` with 1-based, unique (any order)
    indices; text after ``#`` is a comment; blank lines are skipped; ``qid:``
    tokens are ignored. A path ending in ``.bz2`` or ``.gz`` is decompressed on the
    fly. A malformed line raises :class:`DataFormatError` ``"{path}:{lineno}: <what
    is wrong> in <the line>"`` (quoted content cut to 80 characters, :func:`quote`);
    a damaged compressed stream, ``"{path}: not a readable ... file"``. ``n_features`` fixes d
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
    compressed = str(path).endswith((".bz2", ".gz"))
    fh = _open_text(path)
    try:
        _parse_libsvm(fh, path, n_features, labels, cols, vals, indptr)
    except (EOFError, OSError) as exc:
        if not compressed or isinstance(exc, (FileNotFoundError, PermissionError, IsADirectoryError)):
            raise
        kind = "bz2" if str(path).endswith(".bz2") else "gzip"
        raise DataFormatError(f"{path}: not a readable {kind} file ({quote(exc)})") from None
    finally:
        fh.close()
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


def _parse_libsvm(fh, path, n_features, labels, cols, vals, indptr) -> None:
    """The line loop of :func:`load_libsvm`, appending to its lists."""
    for lineno, line in enumerate(fh, start=1):
        body = line.split("#", 1)[0].strip()
        if not body:
            continue
        raw = line.rstrip("\n")

        def bad(what: str) -> DataFormatError:
            return DataFormatError(f"{path}:{lineno}: {what} in {quote(raw)}")

        tokens = body.split()
        try:
            label = float(tokens[0])
        except ValueError:
            raise bad(f"label {quote(tokens[0])} is not a number") from None
        if not math.isfinite(label):
            raise bad(f"label {quote(tokens[0])} is not finite")
        seen: set[int] = set()
        for tok in tokens[1:]:
            key, sep, value = tok.partition(":")
            if not sep:
                raise bad(f"token {quote(tok)} is not of the form index:value")
            if key == "qid":
                continue
            try:
                j = int(key)
            except ValueError:
                raise bad(f"feature index {quote(key)} is not an integer") from None
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
                raise bad(f"feature value {quote(value)} is not a number") from None
            if not math.isfinite(v):
                raise bad(f"feature value {quote(value)} is not finite")
            cols.append(j - 1)
            vals.append(v)
        labels.append(label)
        indptr.append(len(cols))


# --- the thesis's real files in a data directory -----------------------------
#: thesis dataset name -> (training files, optional test files): the names the LIBSVM binary-class
#: page uses (each plain or .bz2), first existing one wins. rcv1: thesis Table 2's 677,399 rows are
#: the LIBSVM site's rcv1_test.binary (its rcv1_train.binary has 20,242), so that file comes first.
LIBSVM_FILES: Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]] = types.MappingProxyType({
    "ijcnn1": (("ijcnn1", "ijcnn1.bz2"), ("ijcnn1.t", "ijcnn1.t.bz2")),
    "covtype": (("covtype.libsvm.binary.scale", "covtype.libsvm.binary.scale.bz2",
                 "covtype.libsvm.binary", "covtype.libsvm.binary.bz2"), ()),
    "rcv1": (("rcv1_test.binary", "rcv1_test.binary.bz2", "rcv1_train.binary", "rcv1_train.binary.bz2"), ()),
})


_DIGESTS: dict[tuple, str] = {}


def file_digest(path) -> tuple[int, str]:
    """(size in bytes, first 16 hex digits of the file's sha256); cached per process by resolved path,
    size and modification time, so a file is hashed once however often a sweep asks."""
    import hashlib

    p = Path(path).resolve()
    st = p.stat()
    key = (str(p), st.st_size, st.st_mtime_ns, st.st_ino)
    if key not in _DIGESTS:
        h = hashlib.sha256()
        with open(p, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        _DIGESTS[key] = h.hexdigest()[:16]
    return st.st_size, _DIGESTS[key]


def file_fingerprint(path) -> str:
    """``path (N bytes, sha256 <first 16 hex digits>)``: says exactly which file a run used."""
    size, digest = file_digest(path)
    return f"{path} ({size:,} bytes, sha256 {digest})"


def data_identity(name: str, data_dir) -> str | None:
    """Which real files of ``data_dir`` dataset ``name`` would be read from, independent of where the
    directory is mounted: ``"ijcnn1.bz2 (1,395,175 bytes, sha256 ...)"`` (each file by its name inside
    ``data_dir``, its size and sha256; ``; `` between files), or None when ``data_dir`` (or None) holds no
    files of ``name``, i.e. its synthetic / bundled stand-in is used. Two data directories give a study the
    same data exactly when the identities of its datasets are equal."""
    if data_dir is None:
        return None
    files = real_data_files(name, data_dir)
    if not files:
        return None
    root = Path(data_dir)
    parts = []
    for f in files:
        size, digest = file_digest(f)
        rel = f.relative_to(root) if f.is_relative_to(root) else Path(f.name)
        parts.append(f"{rel.as_posix()} ({size:,} bytes, sha256 {digest})")
    return "; ".join(parts)


def _first_file(directory: Path, names: tuple[str, ...]) -> Path | None:
    return next((directory / n for n in names if (directory / n).is_file()), None)


def real_data_files(name: str, data_dir) -> list[Path]:
    """The files in ``data_dir`` that hold thesis dataset ``name`` ([] if none): LIBSVM files under the
    site's names (:data:`LIBSVM_FILES`), MNIST IDX files for ``digits10`` and CIFAR-10 python batches for
    ``cifar_features`` (see :func:`algorithms.image_data.real_image_files`)."""
    from .image_data import real_image_files

    directory = Path(data_dir)
    if name in LIBSVM_FILES:
        train, test = LIBSVM_FILES[name]
        first = _first_file(directory, train)
        if first is None:
            return []
        t = _first_file(directory, test) if test else None
        return [first] + ([t] if t is not None else [])
    return real_image_files(name, directory)


def _binary_labels(y: np.ndarray, path) -> tuple[np.ndarray, str]:
    """Two-valued labels other than {-1, +1} (covtype.binary's {1, 2}) mapped to -1 (smaller), +1."""
    values = np.unique(y)
    if values.size == 2 and not np.array_equal(values, [-1.0, 1.0]):
        return np.where(y == values[1], 1.0, -1.0), f"; labels {values[0]:g} -> -1, {values[1]:g} -> +1"
    if values.size > 2:
        raise DataFormatError(f"{path}: {values.size} distinct labels, expected 2 (a binary-class set)")
    return y, ""


def _real_libsvm(name: str, files: list[Path], scale: float, seed: int) -> Dataset:
    train = load_libsvm(files[0])
    y, note = _binary_labels(train.y, files[0])
    X, X_test, y_test = train.X, None, None
    origin = file_fingerprint(files[0])
    if len(files) > 1:
        test = load_libsvm(files[1])
        d = max(train.d, test.d)
        X = sp.csr_matrix((X.data, X.indices, X.indptr), shape=(X.shape[0], d))
        X_test = sp.csr_matrix((test.X.data, test.X.indices, test.X.indptr), shape=(test.n, d))
        y_test, _ = _binary_labels(test.y, files[1])
        origin += f"; test split {file_fingerprint(files[1])}"
    source = (f"real {name}: LIBSVM file {files[0]} ({train.n} rows, {X.shape[1]} features, values as stored"
              f"{note}){'' if X_test is None else f'; test split {files[1]} ({X_test.shape[0]} rows)'}")
    data = Dataset(name=name, X=X, y=y, source=source, X_test=X_test, y_test=y_test, origin=origin)
    return _with_subsample(data, scale, seed)


def _with_origin(data: Dataset, origin: str) -> Dataset:
    return data if data.origin else replace(data, origin=origin)


# --- the one entry point -----------------------------------------------------
def get_dataset(name: str, *, scale: float = 1.0, seed: int = 0, data_dir=None) -> Dataset:
    """A dataset by name: one of :data:`KNOWN_DATASETS`, ``"libsvm:/path/to/file"``,
    ``"mnist:/dir"`` or ``"cifar10:/dir"`` (files loaded as they are, all rows).

    ``data_dir``: a directory of the thesis's real files. When it holds the files of ``name``
    (:func:`real_data_files`: ijcnn1, covtype, rcv1 under the LIBSVM site's names; MNIST for
    ``digits10``; CIFAR-10 batches for ``cifar_features``) they are used instead of the synthetic or
    bundled set, else the synthetic / bundled set is. ``Dataset.origin`` says which it was.

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
    if data_dir is not None:
        if not Path(data_dir).is_dir():
            raise ValueError(f"data_dir must be an existing directory, got {str(data_dir)!r}")
        files = real_data_files(name, data_dir)
        if files:
            from .image_data import load_real_images

            return _real_libsvm(name, files, scale, seed) if name in LIBSVM_FILES else \
                load_real_images(name, files, scale=scale, seed=seed)
    data = _build_dataset(name, scale, seed)
    if name in TABLE2 or name in ("unit_norm", "cifar_features"):
        return _with_origin(data, f"synthetic {name}-shaped")
    if name in KNOWN_DATASETS:
        return _with_origin(data, f"bundled scikit-learn {name}")
    return data


def _build_dataset(name: str, scale: float, seed: int) -> Dataset:
    """:func:`get_dataset` by name alone (no data directory)."""
    from .image_data import _FILE_READERS, _digits10, _pixels_dataset, cifar_features_synthetic

    if name.startswith("libsvm:"):
        path = name[len("libsvm:"):]
        if not path:
            raise ValueError("name 'libsvm:' needs a file path, e.g. 'libsvm:/data/ijcnn1'")
        data = load_libsvm(path)
        return _with_subsample(_with_origin(data, file_fingerprint(path)), scale, seed)
    kind, colon, path = name.partition(":")
    if colon and kind in _FILE_READERS:
        if not path:
            raise ValueError(f"name '{kind}:' needs a directory, e.g. '{kind}:/data/{kind}'")
        raw = _FILE_READERS[kind](Path(path))
        data = _pixels_dataset(raw, n_train=None, n_test=None, scale=scale, seed=seed)
        return _with_origin(data, file_fingerprint(raw.train_file))
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
                   extras=dict(data.extras), X_test=data.X_test, y_test=data.y_test, origin=data.origin)


# --- re-exports of algorithms.image_data -------------------------------------
# Resolved on first access (PEP 562) rather than by an import at the top or bottom:
# image_data imports Dataset and the helpers above from this module, so an eager import
# here would fail whenever image_data is the module imported first.
_IMAGE_DATA_NAMES = frozenset({
    "CIFAR10_FILES", "CIFAR_FEATURES_SHAPE", "DIGITS10_TEST_FRACTION", "MNIST_FILES",
    "THESIS_SPLITS", "cifar_features_synthetic", "load_cifar10", "load_mnist"})

if TYPE_CHECKING:  # the same names, for type checkers and editors
    from .image_data import (  # noqa: F401
        CIFAR10_FILES,
        CIFAR_FEATURES_SHAPE,
        DIGITS10_TEST_FRACTION,
        MNIST_FILES,
        THESIS_SPLITS,
        cifar_features_synthetic,
        load_cifar10,
        load_mnist,
    )


def __getattr__(name: str):
    if name in _IMAGE_DATA_NAMES:
        from . import image_data

        value = getattr(image_data, name)
        globals()[name] = value  # later look-ups skip this hook
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _IMAGE_DATA_NAMES)
