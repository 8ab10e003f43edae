"""A small numpy neural-network substrate: dense layers, activations, softmax loss, an MLP problem.

The Chapter 2 experiments train fully connected nets with a ReLU hidden layer,
softmax loss and an l2 term of weight C:

* §2.5.1 (shared memory): MNIST, 784 x 100 x 10, C = 1e-3, mini-batch |I_t| = 10;
* §2.5.2 (distributed memory): CIFAR-10 features, 384 x 50 x 10, C = 1e-4, |I_t| = 10.

:class:`MLPProblem` is that objective in the finite-sum form of eq. 2.1,

    f(w) = 1/n sum_i CE(softmax(net(x_i; w)), y_i) + lam/2 |w|^2,   lam = C,

over one flat parameter vector w. Each layer owns a contiguous block of w and
runs alone on its block (``forward``/``backward``), so a pipeline stage
(Ch. 5-6) or a layer-wise rule (Ch. 4) can drive a range of layers.
Reshaped views of w are used throughout: the hot path copies no parameters.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from scipy.linalg.blas import daxpy
from scipy.special import expit

from .datasets import Dataset
from .problem import Block, Classifier, Constants, Layered, Problem

__all__ = ["Dense", "ReLU", "Sigmoid", "ACTIVATIONS", "softmax_cross_entropy", "MLP", "MLPProblem", "mlp"]

_EMPTY = np.zeros(0)
_EMPTY.flags.writeable = False


def _check_int(name: str, value, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def _check_block(layer, w_k: np.ndarray) -> None:
    if w_k.shape != (layer.n_params,):
        raise ValueError(f"w_k must have shape ({layer.n_params},) for {layer!r}, got {w_k.shape}")


# --- layers ----------------------------------------------------------------
@dataclass(frozen=True)
class Dense:
    """Affine layer a -> a @ W + b; its block stores W row-major (n_in, n_out), then b (n_out,)."""

    n_in: int
    n_out: int

    def __post_init__(self) -> None:
        _check_int("n_in", self.n_in, 1)
        _check_int("n_out", self.n_out, 1)

    @property
    def n_params(self) -> int:
        return self.n_in * self.n_out + self.n_out

    @property
    def shapes(self) -> tuple[tuple[int, ...], ...]:
        return ((self.n_in, self.n_out), (self.n_out,))

    def views(self, w_k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(W, b) as views of the flat block w_k (no copy when w_k is contiguous)."""
        _check_block(self, w_k)
        m = self.n_in * self.n_out
        return w_k[:m].reshape(self.n_in, self.n_out), w_k[m:]

    def forward(self, w_k: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(a @ W + b, cache = a) for a batch a of shape (B, n_in)."""
        W, b = self.views(w_k)
        if a.ndim != 2 or a.shape[1] != self.n_in:
            raise ValueError(f"a must have shape (batch, {self.n_in}) for {self!r}, got {a.shape}")
        out = a @ W
        out += b
        return out, a

    def backward(self, w_k: np.ndarray, cache: np.ndarray, g_out: np.ndarray, *,
                 out: np.ndarray | None = None, need_input_grad: bool = True):
        """(g_out @ W^T, flat [a^T g_out, sum_batch g_out]); the block gradient is written into
        ``out`` when given. ``need_input_grad=False`` returns None for g_in (the first layer)."""
        W, _ = self.views(w_k)
        g_w = np.empty(self.n_params) if out is None else out
        m = self.n_in * self.n_out
        np.matmul(cache.T, g_out, out=g_w[:m].reshape(self.n_in, self.n_out))
        np.sum(g_out, axis=0, out=g_w[m:])
        return (g_out @ W.T if need_input_grad else None), g_w


@dataclass(frozen=True)
class ReLU:
    """max(a, 0) elementwise; no parameters (the subgradient at 0 is taken as 0)."""

    n_params = 0
    shapes = ()

    def forward(self, w_k: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        _check_block(self, w_k)
        out = np.maximum(a, 0.0)
        return out, out

    def backward(self, w_k: np.ndarray, cache: np.ndarray, g_out: np.ndarray, *,
                 out: np.ndarray | None = None, need_input_grad: bool = True):
        _check_block(self, w_k)
        return (g_out * (cache > 0.0) if need_input_grad else None), (_EMPTY if out is None else out)


@dataclass(frozen=True)
class Sigmoid:
    """1 / (1 + exp(-a)) elementwise (scipy's expit: no overflow for any finite a); no parameters."""

    n_params = 0
    shapes = ()

    def forward(self, w_k: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        _check_block(self, w_k)
        out = expit(a)
        return out, out

    def backward(self, w_k: np.ndarray, cache: np.ndarray, g_out: np.ndarray, *,
                 out: np.ndarray | None = None, need_input_grad: bool = True):
        _check_block(self, w_k)
        return (g_out * cache * (1.0 - cache) if need_input_grad else None), (_EMPTY if out is None else out)


ACTIVATIONS = {"relu": ReLU, "sigmoid": Sigmoid}


# --- loss ------------------------------------------------------------------
def _xent(logits: np.ndarray, labels: np.ndarray, need_loss: bool = True, need_grad: bool = True):
    """Mean softmax cross-entropy and/or its gradient (None for what is not needed), no input
    checks: the hot path (batch_grad needs only the gradient, value only the loss)."""
    B = logits.shape[0]
    rows = np.arange(B)
    e = logits - logits.max(axis=1, keepdims=True)
    loss = -float(e[rows, labels].sum()) if need_loss else None
    np.exp(e, out=e)
    s = e.sum(axis=1, keepdims=True)
    if need_loss:
        loss = (loss + float(np.log(s).sum())) / B
    if not need_grad:
        return loss, None
    e /= s
    e[rows, labels] -= 1.0
    e /= B
    return loss, e


def softmax_cross_entropy(logits: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """(1/B sum_i [logsumexp(z_i) - z_{i, y_i}], gradient of that mean w.r.t. the logits).

    The gradient is (softmax(z) - onehot(y)) / B; log-sum-exp is shifted by the row
    maximum, so no logit overflows. ``labels`` are class indices 0..C-1 (any integral dtype).
    """
    logits = np.asarray(logits, dtype=np.float64)
    if logits.ndim != 2 or logits.shape[0] < 1 or logits.shape[1] < 1:
        raise ValueError(f"logits must be a 2-D array (batch, classes), got shape {logits.shape}")
    labels = _labels("labels", labels, logits.shape[0], logits.shape[1])
    return _xent(logits, labels)


def _labels(name: str, y, n: int, n_classes: int | None) -> np.ndarray:
    """Class indices as intp after checking shape (n,), integrality and range [0, n_classes)."""
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != n:
        raise ValueError(f"{name} must have shape ({n},) (one label per row), got {y.shape}")
    if not (np.issubdtype(y.dtype, np.integer) or np.issubdtype(y.dtype, np.floating)):
        raise ValueError(f"{name} must hold class indices 0..C-1 (integers or integral floats), got dtype {y.dtype}")
    if not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
        bad = y[~np.isfinite(y) | (y != np.round(y))][0]
        raise ValueError(f"{name} must hold integral class indices 0..C-1, got {bad!r}")
    lo, hi = (int(y.min()), int(y.max())) if n else (0, -1)
    if lo < 0 or (n_classes is not None and hi >= n_classes):
        allowed = "[0, C)" if n_classes is None else f"[0, {n_classes})"
        raise ValueError(f"{name} must lie in {allowed}, got values in [{lo}, {hi}]")
    return y.astype(np.intp)


def _labels_checked(name: str, y, n: int, C: int) -> np.ndarray:
    """As :func:`_labels`, but a label >= C is reported against sizes[-1] (the net's width)."""
    y_ = _labels(name, y, n, None)
    if int(y_.max()) >= C:
        raise ValueError(f"sizes[-1] (the number of classes) must be >= max {name} + 1 = "
                         f"{int(y_.max()) + 1}, got {C}")
    return y_


# --- the network -----------------------------------------------------------
@dataclass(frozen=True)
class MLP:
    """Dense, act, Dense, act, ..., Dense over ``sizes`` (no activation after the last Dense).

    ``layers`` and ``blocks`` (one :class:`Block` per layer, contiguous in a flat w of size ``d``)
    follow from ``sizes``; activation layers have empty blocks. The thesis nets are
    MLP((784, 100, 10)) (§2.5.1) and MLP((384, 50, 10)) (§2.5.2), both ReLU.
    """

    sizes: tuple[int, ...] = (784, 100, 10)
    activation: str = "relu"
    layers: tuple = field(init=False, repr=False, compare=False)
    blocks: tuple[Block, ...] = field(init=False, repr=False, compare=False)
    d: int = field(init=False, repr=False, compare=False)
    _steps: tuple = field(init=False, repr=False, compare=False)  # (layer, its slice of w)

    def __post_init__(self) -> None:
        if not isinstance(self.sizes, (tuple, list)) or len(self.sizes) < 2:
            raise ValueError(f"sizes must be a tuple of >= 2 layer widths (inputs, ..., classes), got {self.sizes!r}")
        sizes = tuple(_check_int(f"sizes[{i}]", s, 1) for i, s in enumerate(self.sizes))
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {self.activation!r}")
        act = ACTIVATIONS[self.activation]
        layers: list = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(Dense(a, b))
            if i < len(sizes) - 2:
                layers.append(act())
        blocks, start = [], 0
        for k, layer in enumerate(layers):
            name = f"{type(layer).__name__.lower()}{k}"
            blocks.append(Block(name, start, start + layer.n_params, layer.shapes))
            start += layer.n_params
        object.__setattr__(self, "sizes", sizes)
        object.__setattr__(self, "layers", tuple(layers))
        object.__setattr__(self, "blocks", tuple(blocks))
        object.__setattr__(self, "d", start)
        object.__setattr__(self, "_steps", tuple((layer, b.slice) for layer, b in zip(layers, blocks)))

    def init(self, rng: np.random.Generator) -> np.ndarray:
        """Glorot/Xavier-uniform W ~ U(-r, r), r = sqrt(6 / (n_in + n_out)); zero biases.

        The thesis does not state its initialisation; Glorot's is the common default for
        these small nets. Draws layer by layer from ``rng`` (a numpy Generator).
        """
        if not isinstance(rng, np.random.Generator):
            raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
        w = np.zeros(self.d)
        for layer, sl in self._steps:
            if isinstance(layer, Dense):
                r = math.sqrt(6.0 / (layer.n_in + layer.n_out))
                W, _ = layer.views(w[sl])
                W[...] = rng.uniform(-r, r, size=W.shape)
        return w

    def forward(self, w: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, list]:
        """(logits, one cache per layer) for a batch a of shape (B, sizes[0])."""
        caches = []
        for layer, sl in self._steps:
            a, cache = layer.forward(w[sl], a)
            caches.append(cache)
        return a, caches

    def backward(self, w: np.ndarray, caches: list, g_logits: np.ndarray,
                 out: np.ndarray | None = None) -> np.ndarray:
        """Flat gradient (size d) of the loss whose logit gradient is ``g_logits``; into ``out`` if given."""
        g = np.empty(self.d) if out is None else out
        for k in range(len(self._steps) - 1, -1, -1):
            layer, sl = self._steps[k]
            g_logits, _ = layer.backward(w[sl], caches[k], g_logits, out=g[sl], need_input_grad=k > 0)
        return g


# --- the problem -------------------------------------------------------------
def _features(name: str, X, p: int | None) -> np.ndarray:
    if sp.issparse(X):
        raise ValueError(f"{name} must be a dense ndarray (the §2.5 nets take dense features), "
                         f"got a scipy sparse {X.format} matrix")
    X = np.asarray(X)
    if X.dtype.kind not in "fiu":
        raise ValueError(f"{name} must be a real numeric array, got dtype {X.dtype}")
    X = np.ascontiguousarray(X, dtype=np.float64)  # no copy for C-ordered float64 (the Dataset case)
    if X.ndim != 2 or X.shape[0] < 1:
        raise ValueError(f"{name} must be a 2-D array (samples, features) with >= 1 row, got shape {X.shape}")
    if p is not None and X.shape[1] != p:
        raise ValueError(f"sizes[0] must equal the number of columns of {name} ({X.shape[1]}), got {p}")
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{name} must contain only finite values, got NaN or inf entries")
    return X


class MLPProblem(Problem, Layered, Classifier):
    """Softmax cross-entropy of an MLP with l2 weight lam (thesis §2.5.1/§2.5.2, eq. 2.1 form):

        f(w) = 1/n sum_i [logsumexp(z_i) - z_{i, y_i}] + lam/2 |w|^2,   z_i = net(x_i; w).

    lam is the thesis's C (1e-3 in §2.5.1, 1e-4 in §2.5.2), read as the lam/2 |w|^2 of
    eq. 3.1. The thesis does not say whether biases are regularised: the literal reading is
    taken, the whole w (weights *and* biases) is. ``y`` holds class indices 0..C-1 (float64
    as in a Dataset); ``X_test``/``y_test`` are an optional held-out set for ``error``.
    ``initial_point`` is the Glorot draw of :meth:`MLP.init` from ``default_rng(seed)``.
    """

    name = "mlp"

    def __init__(self, X, y, lam: float, *, sizes: tuple[int, ...] = (784, 100, 10),
                 activation: str = "relu", seed: int = 0, X_test=None, y_test=None) -> None:
        self.net = MLP(tuple(sizes) if isinstance(sizes, list) else sizes, activation)
        C = self.net.sizes[-1]
        self.X = _features("X", X, self.net.sizes[0])
        self.n, self.d, self.n_classes = int(self.X.shape[0]), self.net.d, C
        self._labels = _labels_checked("y", y, self.n, C)
        self.y = self._labels.astype(np.float64)
        try:
            self.lam = float(lam)
        except (TypeError, ValueError):
            raise ValueError(f"lam must be a finite number >= 0, got {lam!r}") from None
        if not (math.isfinite(self.lam) and self.lam >= 0.0):
            raise ValueError(f"lam must be a finite number >= 0, got {lam!r}")
        self.seed = _check_int("seed", seed, 0)
        if (X_test is None) != (y_test is None):
            raise ValueError("X_test and y_test must be given together (or both None), got "
                             f"X_test={'None' if X_test is None else 'an array'}, "
                             f"y_test={'None' if y_test is None else 'an array'}")
        self.X_test = self.y_test = self._labels_test = None
        if X_test is not None:
            self.X_test = _features("X_test", X_test, None)
            if self.X_test.shape[1] != self.X.shape[1]:
                raise ValueError(f"X_test must have {self.X.shape[1]} columns like X, got {self.X_test.shape[1]}")
            self._labels_test = _labels_checked("y_test", y_test, self.X_test.shape[0], C)
            self.y_test = self._labels_test.astype(np.float64)
        self._w0: np.ndarray | None = None

    # --- checks ------------------------------------------------------------
    def _w(self, w) -> np.ndarray:
        w = np.asarray(w, dtype=np.float64)
        if w.shape != (self.d,):
            raise ValueError(f"w must have shape (d,) = ({self.d},), got {w.shape}")
        return w

    def _idx(self, idx) -> np.ndarray:
        if type(idx) is np.ndarray and idx.ndim == 1 and idx.dtype.kind in "iu" and idx.size:
            if idx.min() >= 0 and idx.max() < self.n:  # fast path: a valid integer batch
                return idx
        idx = np.asarray(idx)
        if idx.ndim != 1 or not (np.issubdtype(idx.dtype, np.integer) or idx.size == 0):
            raise ValueError(f"idx must be a 1-D integer array, got shape {idx.shape} dtype {idx.dtype}")
        if idx.size == 0:
            raise ValueError("idx must be non-empty (a mini-batch needs at least one sample)")
        lo, hi = int(idx.min()), int(idx.max())
        if lo < 0 or hi >= self.n:
            raise ValueError(f"idx must lie in [0, n) = [0, {self.n}), got values in [{lo}, {hi}]")
        return idx

    def _k(self, k) -> int:
        L = len(self.net.layers)
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 0 <= k < L:
            raise ValueError(f"k must be a layer index in [0, {L}), got {k!r}")
        return int(k)

    # --- Problem -------------------------------------------------------------
    def value(self, w: np.ndarray) -> float:
        """f(w) over all n samples, the lam/2 |w|^2 term included."""
        w = self._w(w)
        logits, _ = self.net.forward(w, self.X)
        return _xent(logits, self._labels, need_grad=False)[0] + 0.5 * self.lam * float(w @ w)

    def grad(self, w: np.ndarray) -> np.ndarray:
        """Full gradient of f (one forward and one backward pass over all n samples)."""
        w = self._w(w)
        return self._grad(w, self.X, self._labels)

    def batch_grad(self, w: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """1/|idx| sum_{i in idx} grad f_i(w) + lam w: one vectorised pass over the batch."""
        w = self._w(w)
        idx = self._idx(idx)
        return self._grad(w, self.X[idx], self._labels[idx])

    def _grad(self, w: np.ndarray, X: np.ndarray, labels: np.ndarray) -> np.ndarray:
        logits, caches = self.net.forward(w, X)
        _, g_logits = _xent(logits, labels, need_loss=False)
        g = self.net.backward(w, caches, g_logits)
        if self.lam:
            daxpy(w, g, a=self.lam)  # g += lam w in place (no temporary of size d)
        return g

    def constants(self) -> Constants:
        """lam, n, d; L, L_max and mu are unknown (None) for this non-convex net."""
        return Constants(
            L=None, L_max=None, mu=None, lam=self.lam, n=self.n, d=self.d,
            exact={"lam": True},
            how={"L": "unknown: no global smoothness constant is known for a multi-layer net "
                      "(a ReLU net's gradient is not even Lipschitz, and the sigmoid's constant "
                      "grows with |w|); not estimated",
                 "L_max": "unknown for the same reason as L; not estimated",
                 "mu": "unknown: the data term is non-convex (hidden units can be permuted), "
                       "so f is not strongly convex in general; lam alone is no modulus"})

    def initial_point(self) -> np.ndarray:
        """Glorot-uniform weights, zero biases, from ``numpy.random.default_rng(seed)``; the same
        vector (a fresh copy) on every call."""
        if self._w0 is None:
            self._w0 = self.net.init(np.random.default_rng(self.seed))
        return self._w0.copy()

    # --- Layered ---------------------------------------------------------------
    @property
    def layers(self) -> tuple[Block, ...]:
        return self.net.blocks

    def layer_forward(self, k: int, w_k: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, object]:
        return self.net.layers[self._k(k)].forward(np.asarray(w_k, dtype=np.float64), np.asarray(a, dtype=np.float64))

    def layer_backward(self, k: int, w_k: np.ndarray, cache: object,
                       g_out: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.net.layers[self._k(k)].backward(np.asarray(w_k, dtype=np.float64), cache,
                                                    np.asarray(g_out, dtype=np.float64))

    # --- Classifier ------------------------------------------------------------
    def predict(self, w: np.ndarray, X: np.ndarray) -> np.ndarray:
        """Predicted class indices argmax_c net(x; w)_c for each row of X, as intp."""
        X = _features("X", X, None)
        if X.shape[1] != self.net.sizes[0]:
            raise ValueError(f"X must have {self.net.sizes[0]} columns (sizes[0]), got {X.shape[1]}")
        return self._predict(self._w(w), X)

    def _predict(self, w: np.ndarray, X: np.ndarray) -> np.ndarray:
        return np.argmax(self.net.forward(w, X)[0], axis=1)

    def error(self, w: np.ndarray, split: str = "train") -> float:
        """Misclassification rate on "train" or "test" (NaN when there is no test set)."""
        if split == "train":
            X, labels = self.X, self._labels
        elif split == "test":
            if self.X_test is None:
                return float("nan")
            X, labels = self.X_test, self._labels_test
        else:
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        return float(np.mean(self._predict(self._w(w), X) != labels))


def mlp(data: Dataset, *, lam: float, hidden: tuple[int, ...] | int = (100,), activation: str = "relu",
        seed: int = 0) -> MLPProblem:
    """Registry factory ``"mlp"``: sizes = (p, *hidden, n_classes), n_classes = max label + 1
    over y and y_test (``hidden`` an int = one hidden layer). §2.5.1 is hidden=(100,), lam=1e-3
    on 784 features; §2.5.2 is hidden=(50,), lam=1e-4 on 384 features."""
    if isinstance(hidden, (int, np.integer)) and not isinstance(hidden, bool):
        hidden = (int(hidden),)
    if not isinstance(data, Dataset):
        raise ValueError(f"data must be a Dataset, got {type(data).__name__}")
    if data.y.shape[0] == 0:
        raise ValueError(f"data must be labelled for problem 'mlp' (dataset {data.name!r} has no labels)")
    if not isinstance(hidden, (tuple, list)):
        raise ValueError(f"hidden must be a tuple of hidden-layer widths, got {hidden!r}")
    X_test, y_test = getattr(data, "X_test", None), getattr(data, "y_test", None)
    ys = [data.y] + ([np.asarray(y_test, dtype=np.float64)] if y_test is not None and np.size(y_test) else [])
    lo, top = min(float(v.min()) for v in ys), max(float(v.max()) for v in ys)
    if not (math.isfinite(top) and lo >= 0 and top == int(top)):
        raise ValueError(f"y must hold class indices 0..C-1 (map +-1 labels to 0/1 first), "
                         f"got labels in [{lo!r}, {top!r}]")
    sizes = (data.d, *hidden, int(top) + 1)
    return MLPProblem(data.X, data.y, lam, sizes=sizes, activation=activation, seed=seed,
                      X_test=X_test, y_test=y_test)
