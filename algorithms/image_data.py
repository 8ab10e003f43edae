"""Image data for the workbench: MNIST and CIFAR-10 files a user already has, and the
bundled / synthetic stand-ins for them.

* :func:`load_mnist`: MNIST from its IDX files (§2.5.1's data), named by ``MNIST_FILES``;
  every IDX header is checked against its payload.
* :func:`load_cifar10`: CIFAR-10 from its "python version" batches (``CIFAR10_FILES``),
  read by a restricted unpickler that rebuilds numpy arrays and nothing else, so a data
  file cannot run code. These are raw pixels, *not* §2.5.2's 384-d CNN features.
* :func:`cifar_features_synthetic` (``get_dataset("cifar_features")``): a synthetic 384-d,
  10-class set shaped like the CNN features of §2.5.2 (``CIFAR_FEATURES_SHAPE``); it is
  not CIFAR-10.
* ``digits10`` (``get_dataset("digits10")``): scikit-learn's bundled digits with all 10
  classes and a seeded stratified train/test split; a small stand-in for MNIST (§2.5.1).
* ``THESIS_SPLITS``: the (training, test) sizes the thesis used (§2.5.1, §2.5.2).

:mod:`algorithms.datasets` re-exports every public name here, and its ``get_dataset``
dispatches to this module for ``"mnist:/dir"``, ``"cifar10:/dir"``, ``"digits10"`` and
``"cifar_features"``. :class:`Dataset`, :class:`DataFormatError` and the scale / seed
helpers come from :mod:`algorithms.datasets`; that module imports this one only lazily,
so there is no import cycle.

Nothing here downloads anything. Random draws come from children of
``numpy.random.SeedSequence(seed)`` (digits10's test split: one; cifar_features: three,
for model / train / test) or, for a ``scale`` subset of files, ``default_rng(seed)``.
"""
from __future__ import annotations

import functools
import gzip
import math
import pickle
import types
import zlib
from pathlib import Path
from typing import Mapping, NamedTuple

import numpy as np

from .datasets import (
    DataFormatError,
    Dataset,
    _check_scale,
    _check_seed,
    _scaled_rows,
    _subsample_rows,
)

__all__ = [
    "CIFAR10_FILES",
    "CIFAR_FEATURES_SHAPE",
    "DIGITS10_TEST_FRACTION",
    "MNIST_FILES",
    "THESIS_SPLITS",
    "cifar_features_synthetic",
    "load_cifar10",
    "load_mnist",
]


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


# --- image files a user already has: MNIST (IDX) and CIFAR-10 (python pickles) ----------
def _short(obj, limit: int = 80) -> str:
    """``str(obj)`` cut to its first ``limit`` characters (then "…"), so file contents never flood a
    message (as :func:`algorithms.datasets.quote`, unquoted)."""
    text = str(obj)
    return text if len(text) <= limit else text[:limit] + "…"


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


def _mnist_spellings(name: str) -> tuple[str, ...]:
    """The spellings an MNIST file may have: as named, dotted (train-images.idx3-ubyte), either + .gz."""
    dotted = name.replace("-idx", ".idx")
    return name, dotted, name + ".gz", dotted + ".gz"


def _read_mnist(directory: Path) -> _Pixels:
    files = _locate(directory, "MNIST", MNIST_FILES, _mnist_spellings,
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


# get_dataset's "mnist:/dir" and "cifar10:/dir" names -> the reader of that directory.
_FILE_READERS = {"mnist": _read_mnist, "cifar10": _read_cifar10}

#: a data directory's real files for a stand-in's name (``get_dataset(name, data_dir=...)``): the
#: MNIST IDX files replace ``digits10`` (§2.5.1), the CIFAR-10 python batches ``cifar_features``
#: (§2.5.2; raw pixels, not the thesis's CNN features). Sub-directories looked in, in order.
REAL_IMAGE_SETS: Mapping[str, tuple[str, tuple[str, ...]]] = types.MappingProxyType({
    "digits10": ("mnist", (".", "mnist", "MNIST")),
    "cifar_features": ("cifar10", ("cifar-10-batches-py", ".", "cifar10", "cifar-10")),
})


def real_image_files(name: str, directory: Path) -> list[Path]:
    """The files of ``name``'s real set in ``directory`` or its usual sub-directory ([] if absent):
    all four MNIST IDX files (plain or .gz) for ``digits10``, all six CIFAR-10 batches for
    ``cifar_features``. An incomplete set counts as absent (the stand-in is used)."""
    if name not in REAL_IMAGE_SETS:
        return []
    kind, subdirs = REAL_IMAGE_SETS[name]
    expected, spellings = (MNIST_FILES, _mnist_spellings) if kind == "mnist" else (CIFAR10_FILES, lambda n: (n,))
    for sub in subdirs:
        d = Path(directory) / sub
        found = [next((d / c for c in spellings(e) if (d / c).is_file()), None) for e in expected]
        if all(f is not None for f in found):
            return found
    return []


def load_real_images(name: str, files: list[Path], *, scale: float = 1.0, seed: int = 0) -> Dataset:
    """The real set behind stand-in ``name`` from ``files`` (:func:`real_image_files`), at the thesis's
    sizes (``THESIS_SPLITS``: the first 10,000 / 2,000 MNIST and 20,000 / 4,000 CIFAR-10 samples), then a
    seeded ``scale`` subset of the training rows."""
    from dataclasses import replace

    from .datasets import file_fingerprint

    kind = REAL_IMAGE_SETS[name][0]
    raw = _FILE_READERS[kind](files[0].parent)
    n_train, n_test = THESIS_SPLITS[kind]
    data = _pixels_dataset(raw, n_train=min(n_train, raw.X_train.shape[0]), n_test=min(n_test, raw.X_test.shape[0]),
                           scale=scale, seed=seed)
    note = (f"real {kind} used for {name}: " if kind == "mnist" else
            f"real {kind} used for {name} (raw 3072 pixels, not the 384 CNN features of §2.5.2): ")
    return replace(data, name=name, source=note + data.source,
                   origin=f"{file_fingerprint(files[0])} and {len(files) - 1} more {kind} files")


# --- bundled stand-in for MNIST: digits10 (§2.5.1) ----------------------------------
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


# --- synthetic stand-in for §2.5.2's CIFAR-10 CNN features -------------------------
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
