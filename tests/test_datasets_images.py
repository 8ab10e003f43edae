"""Tests for the image-data readers and fallbacks of algorithms.datasets: the test
split of Dataset, MNIST IDX files and CIFAR-10 python pickles written here byte by
byte (struct / hand-written pickle opcodes, independent of the reader's numpy
parsing), every malformed-file error, and the bundled digits10 / cifar_features."""
from __future__ import annotations

import gzip
import os
import pickle
import struct
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_digits
from sklearn.neighbors import NearestCentroid
from threadpoolctl import threadpool_limits

from algorithms.datasets import (
    CIFAR10_FILES,
    KNOWN_DATASETS,
    MNIST_FILES,
    THESIS_SPLITS,
    DataFormatError,
    Dataset,
    cifar_features_synthetic,
    get_dataset,
    load_cifar10,
    load_mnist,
)

MAX_MESSAGE = 400  # errors name the file and the problem, never echo file contents


# --- writers (independent of the reader) -------------------------------------------
def _idx_bytes(array: np.ndarray, *, magic: int | None = None) -> bytes:
    magic = (0x0800 | array.ndim) if magic is None else magic
    header = struct.pack(f">I{array.ndim}I", magic, *array.shape)
    return header + array.astype(np.uint8).tobytes()


def _write(path, payload: bytes, gz: bool = False):
    if gz:
        with gzip.open(path, "wb") as fh:
            fh.write(payload)
    else:
        path.write_bytes(payload)
    return path


def _mnist_arrays(seed: int = 0, n: int = 7, m: int = 3):
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 256, (n, 28, 28), dtype=np.uint8),
            rng.integers(0, 10, n, dtype=np.uint8),
            rng.integers(0, 256, (m, 28, 28), dtype=np.uint8),
            rng.integers(0, 10, m, dtype=np.uint8))


def _write_mnist(directory, arrays, *, gz=False, dotted=False):
    for stem, array in zip(MNIST_FILES, arrays):
        name = stem.replace("-idx", ".idx") if dotted else stem
        _write(directory / (name + (".gz" if gz else "")), _idx_bytes(array), gz)
    return directory


def _py2_batch(data: np.ndarray, labels: list[int]) -> bytes:
    """A CIFAR-10 batch as Python 2's cPickle wrote it (protocol 2, str as SHORT_BINSTRING),
    opcode by opcode: the shape of the real data_batch_* files."""
    n, d = data.shape
    raw = data.tobytes()
    ints = b"".join(b"K" + bytes([v]) for v in labels)
    return b"".join([
        b"\x80\x02}(U\x04data",
        b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85U\x01b\x87R",
        b"(K\x01M" + struct.pack("<H", n) + b"M" + struct.pack("<H", d) + b"\x86",
        b"cnumpy\ndtype\nU\x02u1K\x00K\x01\x87R",
        b"(K\x03U\x01|NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb",
        b"\x89T" + struct.pack("<I", len(raw)) + raw + b"tb",
        b"U\x06labels](" + ints + b"eu."])


def _cifar_arrays(seed: int = 0, sizes=(2, 3, 1, 2, 2, 3)):
    rng = np.random.default_rng(seed)
    return [(rng.integers(0, 256, (k, 3072), dtype=np.uint8),
             [int(v) for v in rng.integers(0, 10, k)]) for k in sizes]


def _write_cifar(directory, batches, *, protocol=4):
    directory.mkdir(parents=True, exist_ok=True)
    for name, (data, labels) in zip(CIFAR10_FILES, batches):
        if protocol == "py2":
            payload = _py2_batch(data, labels)
        else:
            payload = pickle.dumps({b"batch_label": name.encode(), b"labels": labels,
                                    b"data": data, b"filenames": [b"x.png"] * len(labels)},
                                   protocol=protocol)
        (directory / name).write_bytes(payload)
    return directory


def _raises_naming(path, exc_type, *phrases, loader, directory):
    with pytest.raises(exc_type) as err:
        loader(directory)
    message = str(err.value)
    assert str(path) in message, message
    for phrase in phrases:
        assert phrase in message, message
    assert len(message) < MAX_MESSAGE, message
    return message


# --- Dataset test split ------------------------------------------------------------
def test_dataset_accepts_a_test_split_and_old_constructions_still_work():
    X, y = np.ones((3, 2)), np.zeros(3)
    old = Dataset("x", X, y, "s", {"b": np.zeros(2)})  # positional, as before
    assert old.X_test is None and old.y_test is None and old.n_test == 0
    data = Dataset(name="x", X=X, y=y, source="s", X_test=np.ones((4, 2)), y_test=np.ones(4))
    assert data.n_test == 4
    csr = Dataset(name="x", X=sp.csr_matrix(X), y=y, source="s",
                  X_test=sp.csr_matrix(np.ones((1, 2))), y_test=np.ones(1))
    assert csr.n_test == 1
    unsup = Dataset(name="x", X=X, y=np.empty(0), source="s",
                    X_test=np.ones((2, 2)), y_test=np.empty(0))
    assert unsup.n_test == 2


@pytest.mark.parametrize("X_test,y_test,match", [
    (np.ones((4, 2)), None, "X_test and y_test must be given together"),
    (None, np.ones(4), "X_test and y_test must be given together"),
    (np.ones((4, 3)), np.ones(4), "X_test must have d=2 columns like X, got 3"),
    (np.ones((4, 2)), np.ones(3), r"y_test must have length m=4 \(X_test rows\), got 3"),
    (np.ones((4, 2), dtype=np.float32), np.ones(4), "X_test must be a 2-D float64"),
    (sp.csc_matrix(np.ones((4, 2))), np.ones(4), "X_test must be a float64 scipy CSR"),
    (np.full((4, 2), np.nan), np.ones(4), "X_test must contain only finite values"),
    (np.ones((0, 2)), np.ones(0), "X_test must have at least one row"),
    (np.ones((4, 2)), np.ones(4, dtype=int), "y_test must be a 1-D float64 ndarray"),
    (np.ones((4, 2)), np.array([1.0, 2.0, np.inf, 0.0]), "y_test must contain only finite"),
])
def test_dataset_rejects_a_bad_test_split(X_test, y_test, match):
    with pytest.raises(ValueError, match=match):
        Dataset(name="x", X=np.ones((3, 2)), y=np.zeros(3), source="s",
                X_test=X_test, y_test=y_test)


def test_unsupervised_data_has_an_unlabelled_test_split():
    with pytest.raises(ValueError, match=r"y_test must have length 0 \(y is unsupervised\)"):
        Dataset(name="x", X=np.ones((3, 2)), y=np.empty(0), source="s",
                X_test=np.ones((2, 2)), y_test=np.ones(2))


# --- MNIST ---------------------------------------------------------------------------
@pytest.mark.parametrize("gz,dotted", [(False, False), (True, False), (False, True), (True, True)])
def test_mnist_round_trip(tmp_path, gz, dotted):
    arrays = _mnist_arrays()
    _write_mnist(tmp_path, arrays, gz=gz, dotted=dotted)
    data = load_mnist(tmp_path)
    Xtr, ytr, Xte, yte = arrays
    np.testing.assert_array_equal(data.X, Xtr.reshape(7, 784).astype(np.float64) / 255.0)
    np.testing.assert_array_equal(data.y, ytr.astype(np.float64))
    np.testing.assert_array_equal(data.X_test, Xte.reshape(3, 784).astype(np.float64) / 255.0)
    np.testing.assert_array_equal(data.y_test, yte.astype(np.float64))
    assert data.X.dtype == data.y.dtype == data.X_test.dtype == np.float64
    assert 0.0 <= data.X.min() and data.X.max() <= 1.0 and data.d == 784
    assert data.name == f"mnist:{tmp_path}" and "MNIST" in data.source


def test_mnist_first_rows_and_get_dataset_subset(tmp_path):
    arrays = _mnist_arrays(n=30, m=5)
    _write_mnist(tmp_path, arrays)
    full = load_mnist(tmp_path)
    first = load_mnist(tmp_path, n_train=4, n_test=2)
    np.testing.assert_array_equal(first.X, full.X[:4])
    np.testing.assert_array_equal(first.y_test, full.y_test[:2])
    assert "first 4 of 30 training and 2 of 5 test" in first.source
    with pytest.raises(ValueError, match=r"n_train must be None or an integer in \[1, 30\]"):
        load_mnist(tmp_path, n_train=31)
    assert THESIS_SPLITS["mnist"] == (10_000, 2_000)
    sub = get_dataset(f"mnist:{tmp_path}", scale=0.5, seed=3)
    assert sub.n == 15 and sub.n_test == 5  # training rows subsampled, test kept whole
    np.testing.assert_array_equal(sub.X_test, full.X_test)
    rows = [int(np.flatnonzero((full.X == r).all(axis=1))[0]) for r in sub.X]
    assert rows == sorted(set(rows))
    np.testing.assert_array_equal(sub.y, full.y[rows])
    again = get_dataset(f"mnist:{tmp_path}", scale=0.5, seed=3)
    assert again.X.tobytes() == sub.X.tobytes()
    assert get_dataset(f"mnist:{tmp_path}").X.tobytes() == full.X.tobytes()


def _bad_mnist(tmp_path, which: int, payload: bytes, gz: bool = False):
    _write_mnist(tmp_path, _mnist_arrays())
    name = MNIST_FILES[which] + (".gz" if gz else "")
    if gz:
        (tmp_path / MNIST_FILES[which]).unlink()
    return _write(tmp_path / name, payload, gz)


IMAGES = _mnist_arrays()[0]
LABELS = _mnist_arrays()[1]


MALFORMED_MNIST = {  # case -> (which file, its bytes, phrases the error must hold)
    "bad_magic": (0, _idx_bytes(IMAGES, magic=0x12345678),
                  ["bad IDX magic number 0x12345678", "0x00000803"]),
    "labels_magic_on_images": (0, _idx_bytes(IMAGES.reshape(7, 784), magic=0x00000801),
                               ["declares 1 dimensions", "0x00000803"]),
    "images_magic_on_labels": (1, _idx_bytes(IMAGES, magic=0x00000803),
                               ["declares 3 dimensions", "0x00000801"]),
    "float_dtype_code": (0, _idx_bytes(IMAGES, magic=0x00000D03),
                         ["data type code 0x0D (float)", "0x08"]),
    "truncated_payload": (0, _idx_bytes(IMAGES)[:-1],
                          ["payload is 5487 bytes", "7 x 28 x 28 need 5488", "truncated"]),
    "trailing_bytes": (0, _idx_bytes(IMAGES) + b"\0\0", ["2 trailing bytes"]),
    "shorter_than_magic": (1, b"\0\0\x08", ["too short for the 4-byte IDX magic"]),
    "truncated_header": (0, _idx_bytes(IMAGES)[:10], ["too short for its 16-byte IDX header"]),
    "count_mismatch": (1, _idx_bytes(LABELS[:6]), ["holds 7 images", "holds 6 labels"]),
    "label_out_of_range": (3, _idx_bytes(np.array([1, 2, 10], dtype=np.uint8)),
                           ["label 10 at position 2 is outside 0..9"]),
    "not_28x28": (2, _idx_bytes(np.zeros((3, 32, 32), np.uint8)),
                  ["images are 32 x 32 pixels, expected 28 x 28"]),
    "no_images": (0, _idx_bytes(np.zeros((0, 28, 28), np.uint8)), ["header declares 0 images"]),
    "gzip_without_gz_name": (0, gzip.compress(_idx_bytes(IMAGES)),
                             ["bad IDX magic", "looks gzip-compressed"]),
}


@pytest.mark.parametrize("case", sorted(MALFORMED_MNIST))
def test_mnist_malformed_file_names_file_and_problem(tmp_path, case):
    which, payload, phrases = MALFORMED_MNIST[case]
    path = _bad_mnist(tmp_path, which, payload)
    message = _raises_naming(path, DataFormatError, *phrases, loader=load_mnist, directory=tmp_path)
    if case == "count_mismatch":  # names both files
        assert str(tmp_path / MNIST_FILES[0]) in message


def test_mnist_gz_that_is_not_gzip(tmp_path):
    path = _bad_mnist(tmp_path, 0, b"")
    path.unlink()
    path = tmp_path / (MNIST_FILES[0] + ".gz")
    path.write_bytes(_idx_bytes(IMAGES))
    _raises_naming(path, DataFormatError, "not a readable gzip file",
                   loader=load_mnist, directory=tmp_path)
    path.write_bytes(gzip.compress(_idx_bytes(IMAGES))[:-12])  # cut short
    _raises_naming(path, DataFormatError, "not a readable gzip file",
                   loader=load_mnist, directory=tmp_path)


def test_mnist_missing_file_is_a_value_error_naming_directory_and_files(tmp_path):
    _write_mnist(tmp_path, _mnist_arrays())
    (tmp_path / MNIST_FILES[3]).unlink()
    with pytest.raises(ValueError) as err:
        load_mnist(tmp_path)
    assert not isinstance(err.value, DataFormatError)
    message = str(err.value)
    assert str(tmp_path) in message and f"lacks {MNIST_FILES[3]}" in message
    assert all(name in message for name in MNIST_FILES)
    with pytest.raises(ValueError, match="is not a directory"):
        load_mnist(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="name 'mnist:' needs a directory"):
        get_dataset("mnist:")


# --- CIFAR-10 ------------------------------------------------------------------------
@pytest.mark.parametrize("protocol", ["py2", 2, 4, 5])
def test_cifar10_round_trip(tmp_path, protocol):
    batches = _cifar_arrays()
    _write_cifar(tmp_path, batches, protocol=protocol)
    data = load_cifar10(tmp_path)
    X = np.concatenate([b[0] for b in batches[:5]])
    y = np.concatenate([b[1] for b in batches[:5]])
    np.testing.assert_array_equal(data.X, X.astype(np.float64) / 255.0)
    np.testing.assert_array_equal(data.y, y.astype(np.float64))
    np.testing.assert_array_equal(data.X_test, batches[5][0] / 255.0)
    np.testing.assert_array_equal(data.y_test, np.array(batches[5][1], dtype=np.float64))
    assert data.X.shape == (10, 3072) and data.X_test.shape == (3, 3072)
    assert "384" in data.source and "NOT" in data.source  # says it is not §2.5.2's features


def test_py2_batch_writer_is_what_an_unrestricted_unpickler_reads():
    """The hand-written Python-2 pickle is a valid pickle of the batch (checks the writer)."""
    data, labels = _cifar_arrays(sizes=(2,))[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # numpy.core spelling on numpy 2
        obj = pickle.loads(_py2_batch(data, labels), encoding="bytes")
    np.testing.assert_array_equal(obj[b"data"], data)
    assert obj[b"labels"] == labels


def test_cifar10_nested_folder_first_rows_and_get_dataset(tmp_path):
    batches = _cifar_arrays(sizes=(4, 4, 4, 4, 4, 6))
    _write_cifar(tmp_path / "cifar-10-batches-py", batches)
    data = load_cifar10(tmp_path)
    assert data.n == 20 and data.n_test == 6 and data.name == f"cifar10:{tmp_path}"
    first = load_cifar10(tmp_path, n_train=5, n_test=2)
    np.testing.assert_array_equal(first.X, data.X[:5])
    np.testing.assert_array_equal(first.X[4], batches[1][0][0] / 255.0)  # batches in order
    np.testing.assert_array_equal(first.y_test, data.y_test[:2])
    with pytest.raises(ValueError, match=r"n_test must be None or an integer in \[1, 6\]"):
        load_cifar10(tmp_path, n_test=0)
    assert THESIS_SPLITS["cifar10"] == (20_000, 4_000)
    sub = get_dataset(f"cifar10:{tmp_path}", scale=0.5, seed=1)
    assert sub.n == 10 and sub.n_test == 6
    np.testing.assert_array_equal(sub.X_test, data.X_test)


class _RunsCommand:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _CallsEval:
    def __reduce__(self):
        return (eval, ("1 + 1",))


def _cifar_with_test_batch(tmp_path, payload):
    _write_cifar(tmp_path, _cifar_arrays())
    path = tmp_path / "test_batch"
    path.write_bytes(payload)
    return path


def test_cifar10_pickle_cannot_run_code(tmp_path):
    marker = tmp_path / "ran"
    payload = pickle.dumps({b"data": _RunsCommand(marker), b"labels": [1]})
    path = _cifar_with_test_batch(tmp_path, payload)
    _raises_naming(path, DataFormatError, "system", "refused", loader=load_cifar10,
                   directory=tmp_path)
    assert not marker.exists()
    path.write_bytes(pickle.dumps([_CallsEval()], protocol=2))
    _raises_naming(path, DataFormatError, "__builtin__.eval", "refused", loader=load_cifar10,
                   directory=tmp_path)


GOOD = np.zeros((3, 3072), np.uint8)


@pytest.mark.parametrize("obj,phrases", [
    ([GOOD], ["holds a list, expected a dict"]),
    ({b"data": GOOD}, ["dict lacks [b'labels']"]),
    ({"data": GOOD, "labels": [0, 1, 2]}, ["dict lacks", "'data'"]),
    ({b"data": np.zeros((3, 3000), np.uint8), b"labels": [0, 1, 2]},
     ["N x 3072 uint8", "shape (3, 3000)"]),
    ({b"data": GOOD.astype(np.float64), b"labels": [0, 1, 2]}, ["N x 3072 uint8", "float64"]),
    ({b"data": GOOD.ravel(), b"labels": [0, 1, 2]}, ["N x 3072 uint8", "shape (9216,)"]),
    ({b"data": GOOD, b"labels": [0, 1]}, ["holds 3 images", "2 labels"]),
    ({b"data": GOOD, b"labels": [0, 10, 1]}, ["label 10 at position 1 is outside 0..9"]),
    ({b"data": GOOD, b"labels": [0, -1, 1]}, ["label -1 at position 1 is outside 0..9"]),
    ({b"data": GOOD, b"labels": [b"cat", b"dog", b"cat"]},
     ["b'labels' must be a list of integers"]),
    ({b"data": GOOD, b"labels": [0.5, 1.0, 2.0]}, ["b'labels' must be a list of integers"]),
], ids=["not_a_dict", "no_labels", "str_keys", "3000_columns", "float_pixels", "flat_pixels",
        "count_mismatch", "label_10", "label_minus_1", "bytes_labels", "float_labels"])
def test_cifar10_malformed_batch_names_file_and_problem(tmp_path, obj, phrases):
    path = _cifar_with_test_batch(tmp_path, pickle.dumps(obj))
    _raises_naming(path, DataFormatError, *phrases, loader=load_cifar10, directory=tmp_path)


def test_cifar10_damaged_pickle_and_codecs_misuse(tmp_path):
    big = pickle.dumps({b"data": np.zeros((300, 3072), np.uint8), b"labels": [0] * 300})
    path = _cifar_with_test_batch(tmp_path, big[: len(big) // 2])
    _raises_naming(path, DataFormatError, "not a readable pickle", loader=load_cifar10,
                   directory=tmp_path)
    # protocol 2 spells bytes as _codecs.encode(str, 'latin1'); any other codec is refused
    path.write_bytes(pickle.dumps(b"\x01", protocol=2).replace(b"latin1", b"rot_13"))
    _raises_naming(path, DataFormatError, "only as encode(str, 'latin1')",
                   loader=load_cifar10, directory=tmp_path)


def test_cifar10_missing_batch_is_a_value_error(tmp_path):
    _write_cifar(tmp_path, _cifar_arrays())
    (tmp_path / "data_batch_3").unlink()
    with pytest.raises(ValueError) as err:
        load_cifar10(tmp_path)
    assert not isinstance(err.value, DataFormatError)
    assert str(tmp_path) in str(err.value) and "lacks data_batch_3" in str(err.value)
    assert all(name in str(err.value) for name in CIFAR10_FILES)


# --- bundled fallbacks ----------------------------------------------------------------
def test_digits10_split_is_stratified_and_complete():
    raw = load_digits()
    data = get_dataset("digits10", seed=4)
    assert data.X.shape == (1498, 64) and data.X_test.shape == (299, 64)
    counts = np.bincount(raw.target)
    np.testing.assert_array_equal(np.bincount(data.y_test.astype(int)), np.round(counts / 6))
    np.testing.assert_array_equal(np.unique(data.y), np.arange(10.0))
    # train + test is exactly load_digits / 16 with its labels, as a multiset of rows
    ours = np.column_stack([np.vstack([data.X, data.X_test]), np.r_[data.y, data.y_test]])
    ref = np.column_stack([raw.data / 16.0, raw.target])
    np.testing.assert_array_equal(ours[np.lexsort(ours.T)], ref[np.lexsort(ref.T)])
    assert 0.0 <= data.X.min() and data.X.max() <= 1.0
    assert set(get_dataset("digits").y) == {-1.0, 1.0}  # "digits" stays the binary set


def test_digits10_is_deterministic_and_scale_keeps_the_test_split():
    a, b, c = (get_dataset("digits10", seed=s) for s in (5, 5, 6))
    assert a.X.tobytes() == b.X.tobytes() and a.X_test.tobytes() == b.X_test.tobytes()
    assert a.y_test.tobytes() == b.y_test.tobytes()
    assert a.X_test.tobytes() != c.X_test.tobytes()
    sub = get_dataset("digits10", scale=0.25, seed=5)
    assert sub.n == round(0.25 * 1498) and sub.X_test.tobytes() == a.X_test.tobytes()
    assert "test split kept whole" in sub.source


def test_cifar_features_shapes_and_determinism():
    full = get_dataset("cifar_features")
    assert full.X.shape == (20_000, 384) and full.X_test.shape == (4_000, 384)
    small = cifar_features_synthetic(scale=0.05, seed=2)
    assert small.X.shape == (1000, 384) and small.X_test.shape == (200, 384)
    again = get_dataset("cifar_features", scale=0.05, seed=2)
    for f in ("X", "y", "X_test", "y_test"):
        assert getattr(small, f).tobytes() == getattr(again, f).tobytes()
    other = get_dataset("cifar_features", scale=0.05, seed=3)
    assert other.X.tobytes() != small.X.tobytes()
    assert small.X.min() >= 0.0 and small.X_test.min() >= 0.0  # ReLU outputs
    assert 0.3 < np.mean(small.X == 0.0) < 0.8  # ... with many exact zeros
    np.testing.assert_array_equal(np.bincount(small.y.astype(int)), np.full(10, 100))
    np.testing.assert_array_equal(np.bincount(small.y_test.astype(int)), np.full(10, 20))
    assert "NOT CIFAR-10" in small.source and "ReLU" in small.source


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cifar_features_nearest_centroid_accuracy_is_moderate(seed):
    """Nearest-centroid test accuracy in [0.5, 0.85] (chance 0.1), with scikit-learn's
    NearestCentroid as the reference classifier."""
    data = get_dataset("cifar_features", scale=0.1, seed=seed)
    nc = NearestCentroid().fit(data.X, data.y).score(data.X_test, data.y_test)
    assert 0.5 <= nc <= 0.85


def test_cifar_features_are_learnable_but_not_trivially():
    """A 384x50x10 ReLU net fits the training set and beats nearest centroid on the test
    set (the classes are mixtures), yet stays well below perfect test accuracy."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    data = get_dataset("cifar_features", scale=0.1, seed=0)
    nc = NearestCentroid().fit(data.X, data.y).score(data.X_test, data.y_test)
    with warnings.catch_warnings(), threadpool_limits(1):  # one BLAS thread: steady on a shared box
        warnings.simplefilter("ignore", ConvergenceWarning)  # 60 Adam epochs fit it already
        net = MLPClassifier((50,), max_iter=60, random_state=0).fit(data.X, data.y)
    assert net.score(data.X, data.y) > 0.95
    assert nc + 0.03 < net.score(data.X_test, data.y_test) < 0.95


# --- names ----------------------------------------------------------------------------
def test_get_dataset_knows_the_new_names():
    assert "digits10" in KNOWN_DATASETS and "cifar_features" in KNOWN_DATASETS
    with pytest.raises(ValueError) as err:
        get_dataset("cifar10")
    for allowed in (*KNOWN_DATASETS, "'mnist:/dir'", "'cifar10:/dir'", "'libsvm:/path/to/file'"):
        assert allowed in str(err.value)
    with pytest.raises(ValueError, match="name 'cifar10:' needs a directory"):
        get_dataset("cifar10:")
