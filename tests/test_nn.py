"""Tests for algorithms.nn: every backward pass against central finite differences, the
softmax loss against scipy / scikit-learn, the MLP objective against a plain-numpy
two-layer reference written here, layer-by-layer chaining (a pipeline stage's view),
classification error, seeded initialisation and bad input."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy.special import logsumexp, softmax
from sklearn.metrics import log_loss

from algorithms.datasets import Dataset
from algorithms.nn import MLP, Dense, MLPProblem, ReLU, Sigmoid, mlp, softmax_cross_entropy
from algorithms.problem import Block

H = 1e-6
RTOL, ATOL = 1e-6, 1e-9


def _fd(f, x, h=H):
    """Central finite-difference gradient of the scalar function f at x (any shape)."""
    x = np.array(x, dtype=np.float64)
    g = np.empty_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = h
        g[i] = (f(x + e) - f(x - e)) / (2 * h)
    return g


def _toy(rng, n=12, sizes=(5, 4, 3), activation="relu", lam=1e-2, seed=0, test=False):
    X = rng.standard_normal((n, sizes[0]))
    y = rng.integers(0, sizes[-1], n).astype(np.float64)
    kw = {}
    if test:
        kw = dict(X_test=rng.standard_normal((7, sizes[0])), y_test=rng.integers(0, sizes[-1], 7).astype(float))
    return MLPProblem(X, y, lam, sizes=sizes, activation=activation, seed=seed, **kw)


def _min_abs_preactivation(P, w, X):
    """Distance of the nearest hidden pre-activation from the ReLU kink (FD is invalid there)."""
    a, dist = X, np.inf
    for layer, blk in zip(P.net.layers, P.net.blocks):
        if isinstance(layer, ReLU):
            dist = min(dist, float(np.abs(a).min()))
        a, _ = layer.forward(w[blk.slice], a)
    return dist


# --- layers ----------------------------------------------------------------
@pytest.mark.parametrize("layer", [Dense(4, 3), ReLU(), Sigmoid()], ids=["dense", "relu", "sigmoid"])
def test_layer_backward_matches_finite_differences(layer):
    """g_in and g_w_k of backward are the gradients of <R, forward(w_k, a)> for a fixed R."""
    rng = np.random.default_rng(1)
    n_in = layer.n_in if isinstance(layer, Dense) else 5
    a = rng.standard_normal((3, n_in))
    if isinstance(layer, ReLU):
        a = np.sign(a) * (0.1 + np.abs(a))  # keep every input away from the kink
    w_k = rng.standard_normal(layer.n_params)
    out, cache = layer.forward(w_k, a)
    R = rng.standard_normal(out.shape)
    g_in, g_w = layer.backward(w_k, cache, R)
    np.testing.assert_allclose(g_in, _fd(lambda x: np.sum(R * layer.forward(w_k, x)[0]), a), rtol=RTOL, atol=ATOL)
    assert g_w.shape == (layer.n_params,)
    if layer.n_params:
        np.testing.assert_allclose(g_w, _fd(lambda v: np.sum(R * layer.forward(v, a)[0]), w_k),
                                   rtol=RTOL, atol=ATOL)


def test_dense_forward_layout_and_views_share_memory():
    """Block = W row-major (n_in, n_out) then b; the views alias w_k (the hot path copies nothing)."""
    layer = Dense(2, 3)
    w_k = np.arange(9.0)
    W, b = layer.views(w_k)
    assert np.shares_memory(W, w_k) and np.shares_memory(b, w_k)
    np.testing.assert_array_equal(W, [[0, 1, 2], [3, 4, 5]])
    np.testing.assert_array_equal(b, [6, 7, 8])
    out, _ = layer.forward(w_k, np.array([[1.0, 2.0]]))
    np.testing.assert_array_equal(out, [[0 + 6 + 6, 1 + 8 + 7, 2 + 10 + 8]])


def test_sigmoid_is_stable_at_extreme_inputs():
    """No overflow warning and correct limits for |a| up to 1e4."""
    a = np.array([[-1e4, -800.0, 0.0, 800.0, 1e4]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out, _ = Sigmoid().forward(np.zeros(0), a)
    np.testing.assert_allclose(out, [[0.0, 0.0, 0.5, 1.0, 1.0]], atol=1e-300)


# --- loss ------------------------------------------------------------------
def test_softmax_cross_entropy_matches_finite_differences():
    rng = np.random.default_rng(2)
    z, y = rng.standard_normal((4, 5)), rng.integers(0, 5, 4)
    _, g = softmax_cross_entropy(z, y)
    np.testing.assert_allclose(g, _fd(lambda v: softmax_cross_entropy(v, y)[0], z), rtol=RTOL, atol=ATOL)


def test_softmax_cross_entropy_matches_scipy_softmax_and_sklearn_log_loss():
    """g * B + onehot(y) is scipy's softmax; the loss is sklearn's log_loss of those probabilities."""
    rng = np.random.default_rng(3)
    z, y = 3 * rng.standard_normal((6, 4)), np.array([0, 1, 2, 3, 1, 0])
    loss, g = softmax_cross_entropy(z, y)
    P = softmax(z, axis=1)
    np.testing.assert_allclose(g * 6 + np.eye(4)[y], P, rtol=1e-12, atol=1e-15)
    assert loss == pytest.approx(log_loss(y, P, labels=np.arange(4)), rel=1e-12)


def test_softmax_cross_entropy_is_stable_for_huge_logits():
    """Logits of order 1e4 (exp overflows) give the log-sum-exp value, finite, without warnings."""
    z = np.array([[1e4, 0.0, -1e4], [5e3, 5e3 + 1.0, 0.0]])
    y = np.array([1, 0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss, g = softmax_cross_entropy(z, y)
    ref = np.mean(logsumexp(z, axis=1) - z[[0, 1], y])
    assert loss == pytest.approx(ref, rel=1e-12)
    assert np.all(np.isfinite(g))


# --- the problem: gradients --------------------------------------------------
@pytest.mark.parametrize("activation", ["relu", "sigmoid"])
def test_batch_grad_grad_and_value_match_finite_differences(activation):
    """batch_grad on a batch (with a repeat) and grad on all samples, 5x4x3 net, lam > 0."""
    rng = np.random.default_rng(4)
    P = _toy(rng, activation=activation)
    w = P.initial_point() + 0.3 * rng.standard_normal(P.d)
    assert _min_abs_preactivation(P, w, P.X) > 1e-3
    idx = np.array([3, 0, 7, 3])
    sub = MLPProblem(P.X[idx], P.y[idx], P.lam, sizes=P.net.sizes, activation=activation)
    np.testing.assert_allclose(P.batch_grad(w, idx), _fd(sub.value, w), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(P.grad(w), _fd(P.value, w), rtol=RTOL, atol=ATOL)


@settings(max_examples=60, deadline=None)
@given(sizes=st.lists(st.integers(1, 4), min_size=2, max_size=4).map(tuple),
       activation=st.sampled_from(["relu", "sigmoid"]), lam=st.sampled_from([0.0, 1e-3, 0.5]),
       batch=st.integers(1, 5), seed=st.integers(0, 2**32 - 1))
def test_batch_grad_matches_finite_differences_for_random_sizes(sizes, activation, lam, batch, seed):
    rng = np.random.default_rng(seed)
    P = _toy(rng, n=6, sizes=sizes, activation=activation, lam=lam)
    w = P.initial_point() + 0.5 * rng.standard_normal(P.d)
    idx = rng.integers(0, P.n, batch)
    assume(_min_abs_preactivation(P, w, P.X[idx]) > 1e-4)
    sub = MLPProblem(P.X[idx], P.y[idx], lam, sizes=sizes, activation=activation)
    np.testing.assert_allclose(P.batch_grad(w, idx), _fd(sub.value, w), rtol=RTOL, atol=1e-8)


def test_full_batch_equals_grad_and_mean_of_single_samples_equals_grad():
    rng = np.random.default_rng(5)
    P = _toy(rng)
    w = P.initial_point() + 0.1 * rng.standard_normal(P.d)
    g = P.grad(w)
    np.testing.assert_allclose(P.batch_grad(w, np.arange(P.n)), g, rtol=1e-13, atol=1e-15)
    singles = np.mean([P.batch_grad(w, np.array([i])) for i in range(P.n)], axis=0)
    np.testing.assert_allclose(singles, g, rtol=1e-12, atol=1e-15)


def test_value_decreases_along_negative_gradient():
    rng = np.random.default_rng(6)
    P = _toy(rng)
    w = P.initial_point()
    g = P.grad(w)
    f0, f1 = P.value(w), P.value(w - 1e-3 * g)
    assert f1 < f0
    assert f0 - f1 == pytest.approx(1e-3 * g @ g, rel=1e-2)  # first-order decrease


def test_chaining_layer_forward_and_backward_reproduces_batch_grad():
    """A pipeline stage's view: each layer run alone on its block; the data term of batch_grad."""
    rng = np.random.default_rng(7)
    P = _toy(rng, sizes=(5, 4, 6, 3), lam=0.1)
    w = P.initial_point() + 0.1 * rng.standard_normal(P.d)
    idx = np.array([1, 4, 4, 9])
    a, caches = P.X[idx], []
    for k, blk in enumerate(P.layers):
        a, cache = P.layer_forward(k, w[blk.slice], a)
        caches.append(cache)
    _, g = softmax_cross_entropy(a, P.y[idx])
    parts = [None] * len(P.layers)
    for k in reversed(range(len(P.layers))):
        g, parts[k] = P.layer_backward(k, w[P.layers[k].slice], caches[k], g)
    assert g.shape == (4, 5)
    np.testing.assert_allclose(np.concatenate(parts), P.batch_grad(w, idx) - P.lam * w, rtol=1e-12, atol=1e-15)


def _reference_two_layer(w, X, y, lam, p, h, C):
    """A plain-numpy 784xhxC-style ReLU MLP: value (via sklearn's log_loss) and hand backprop."""
    W1 = w[: p * h].reshape(p, h)
    b1 = w[p * h: p * h + h]
    o = p * h + h
    W2 = w[o: o + h * C].reshape(h, C)
    b2 = w[o + h * C:]
    Z1 = X @ W1 + b1
    A1 = np.maximum(Z1, 0.0)
    Pr = softmax(A1 @ W2 + b2, axis=1)
    value = log_loss(y, Pr, labels=np.arange(C)) + 0.5 * lam * (w @ w)
    D2 = (Pr - np.eye(C)[y]) / len(y)
    D1 = (D2 @ W2.T) * (Z1 > 0)
    grad = np.concatenate([(X.T @ D1).ravel(), D1.sum(0), (A1.T @ D2).ravel(), D2.sum(0)]) + lam * w
    return value, grad, Pr.argmax(axis=1)


def test_matches_plain_numpy_two_layer_reference():
    rng = np.random.default_rng(8)
    p, h, C, n, lam = 6, 5, 4, 30, 1e-3
    X, y = rng.standard_normal((n, p)), rng.integers(0, C, n)
    P = MLPProblem(X, y.astype(float), lam, sizes=(p, h, C))
    assert P.d == p * h + h + h * C + C
    w = P.initial_point() + 0.2 * rng.standard_normal(P.d)
    value, grad, pred = _reference_two_layer(w, X, y, lam, p, h, C)
    assert P.value(w) == pytest.approx(value, rel=1e-12)
    np.testing.assert_allclose(P.grad(w), grad, rtol=1e-12, atol=1e-15)
    idx = np.array([2, 11, 29])
    np.testing.assert_allclose(P.batch_grad(w, idx), _reference_two_layer(w, X[idx], y[idx], lam, p, h, C)[1],
                               rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(P.predict(w, X), pred)


# --- structure, constants, error ---------------------------------------------
def test_blocks_are_contiguous_and_follow_the_layer_list():
    net = MLP((5, 4, 3), "sigmoid")
    assert [type(l) for l in net.layers] == [Dense, Sigmoid, Dense]
    assert net.blocks == (Block("dense0", 0, 24, ((5, 4), (4,))), Block("sigmoid1", 24, 24, ()),
                          Block("dense2", 24, 39, ((4, 3), (3,))))
    assert net.d == 39
    thesis = MLP()  # §2.5.1
    assert thesis.sizes == (784, 100, 10) and thesis.d == 784 * 100 + 100 + 100 * 10 + 10


def test_problem_capabilities_and_unknown_constants():
    P = _toy(np.random.default_rng(9))
    assert {"layered", "classifier"} <= P.capabilities
    c = P.constants()
    assert (c.L, c.L_max, c.mu) == (None, None, None)
    assert (c.lam, c.n, c.d) == (P.lam, P.n, P.d)
    assert all(c.how[k] for k in ("L", "L_max", "mu"))


def test_error_is_zero_for_a_perfect_hand_built_classifier_and_one_when_labels_flip():
    """2x2x2 ReLU net with W1 = W2 = I, b = 0 predicts argmax(x) on the positive quadrant."""
    rng = np.random.default_rng(10)
    X = rng.uniform(0.1, 1.0, (20, 2))
    y = X.argmax(axis=1).astype(float)
    w = np.array([1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0])
    P = MLPProblem(X, y, 0.0, sizes=(2, 2, 2), X_test=X[:5], y_test=1 - y[:5])
    assert P.error(w) == 0.0 and P.error(w, "train") == 0.0
    assert P.error(w, "test") == 1.0
    np.testing.assert_array_equal(P.predict(w, X), y)


def test_error_test_split_rules():
    rng = np.random.default_rng(11)
    P = _toy(rng)
    w = P.initial_point()
    assert np.isnan(P.error(w, "test"))
    Pt = _toy(np.random.default_rng(11), test=True)
    e = Pt.error(w, "test")
    assert e == pytest.approx(np.mean(Pt.predict(w, Pt.X_test) != Pt.y_test))
    with pytest.raises(ValueError, match="split.*'valid'"):
        P.error(w, "valid")


# --- initialisation and determinism --------------------------------------------
def test_initial_point_is_deterministic_per_seed_and_a_fresh_copy():
    rng = np.random.default_rng(12)
    X, y = rng.standard_normal((8, 5)), rng.integers(0, 3, 8).astype(float)
    A = MLPProblem(X, y, 1e-3, sizes=(5, 4, 3), seed=3)
    B = MLPProblem(X, y, 1e-3, sizes=(5, 4, 3), seed=3)
    w = A.initial_point()
    w[:] = 0.0  # mutating a returned vector must not change the next one
    assert np.array_equal(A.initial_point(), B.initial_point())
    assert np.array_equal(A.initial_point(), MLP((5, 4, 3)).init(np.random.default_rng(3)))
    assert not np.array_equal(A.initial_point(), MLPProblem(X, y, 1e-3, sizes=(5, 4, 3), seed=4).initial_point())


def test_glorot_uniform_ranges_variance_and_zero_biases():
    net = MLP((784, 100, 10))
    w = net.init(np.random.default_rng(0))
    for layer, blk in zip(net.layers, net.blocks):
        if isinstance(layer, Dense):
            W, b = layer.views(w[blk.slice])
            r = np.sqrt(6.0 / (layer.n_in + layer.n_out))
            assert np.all(np.abs(W) <= r) and np.all(b == 0.0)
            assert np.var(W) == pytest.approx(r * r / 3, rel=0.05 if W.size > 10_000 else 0.2)


# --- factory and bad input ------------------------------------------------------
def test_factory_builds_sizes_from_data_and_counts_test_classes():
    rng = np.random.default_rng(13)
    X, y = rng.standard_normal((10, 7)), rng.integers(0, 3, 10).astype(float)
    X_test, y_test = rng.standard_normal((4, 7)), np.array([0.0, 1.0, 4.0, 2.0])
    P = mlp(Dataset("toy", X, y, "random"), lam=1e-4, hidden=(6,), seed=2)
    assert P.net.sizes == (7, 6, 3) and P.n_classes == 3 and P.lam == 1e-4 and P.X_test is None
    try:
        data = Dataset("toy", X, y, "random", X_test=X_test, y_test=y_test)
    except TypeError:  # a Dataset without the optional test split: attach one by hand
        data = Dataset("toy", X, y, "random")
        object.__setattr__(data, "X_test", X_test)
        object.__setattr__(data, "y_test", y_test)
    P = mlp(data, lam=1e-3)
    assert P.net.sizes == (7, 100, 5) and P.n_classes == 5 and P.X_test.shape == (4, 7)
    with pytest.raises(ValueError, match="class indices"):
        mlp(Dataset("pm", X, np.where(y > 0, 1.0, -1.0), "random"), lam=1e-3)


def _bad_cases():
    rng = np.random.default_rng(14)
    X, y = rng.standard_normal((6, 3)), np.array([0.0, 1, 2, 0, 1, 2])
    nan = X.copy()
    nan[2, 1] = np.nan
    base = dict(X=X, y=y, lam=1e-3, sizes=(3, 4, 3))
    return [
        (dict(base, X=X[0]), "X"),
        (dict(base, X=nan), "X"),
        (dict(base, y=y[:5]), "y"),
        (dict(base, y=y + 0.5), "y"),
        (dict(base, y=y - 1), "y"),
        (dict(base, sizes=(3, 4, 2)), r"sizes\[-1\]"),
        (dict(base, sizes=(5, 4, 3)), r"sizes\[0\]"),
        (dict(base, sizes=(3, 0, 3)), r"sizes\[1\]"),
        (dict(base, sizes=(3,)), "sizes"),
        (dict(base, lam=-1.0), "lam"),
        (dict(base, lam=float("nan")), "lam"),
        (dict(base, activation="tanh"), "activation"),
        (dict(base, seed=-1), "seed"),
        (dict(base, X_test=X), "X_test"),
        (dict(base, X_test=X[:, :2], y_test=y), "X_test"),
        (dict(base, X_test=X, y_test=y + 3), "y_test"),
    ]


@pytest.mark.parametrize("kwargs,name", _bad_cases())
def test_bad_constructor_input_raises_naming_the_parameter(kwargs, name):
    kwargs = dict(kwargs)
    with pytest.raises(ValueError, match=name):
        MLPProblem(kwargs.pop("X"), kwargs.pop("y"), kwargs.pop("lam"), **kwargs)


def test_sparse_features_are_rejected_not_densified():
    import scipy.sparse as sparse
    with pytest.raises(ValueError, match="X must be a dense"):
        MLPProblem(sparse.csr_matrix(np.eye(3)), np.array([0.0, 1, 2]), 0.0, sizes=(3, 2, 3))


def test_bad_call_input_raises_naming_the_parameter():
    P = _toy(np.random.default_rng(15))
    w = P.initial_point()
    cases = [
        (lambda: P.value(w[:-1]), "w must have shape"),
        (lambda: P.batch_grad(w, np.array([0, P.n])), r"idx must lie in \[0, n\)"),
        (lambda: P.batch_grad(w, np.array([-1, 0])), r"idx must lie in \[0, n\)"),
        (lambda: P.batch_grad(w, np.array([0.0, 1.0])), "idx must be a 1-D integer"),
        (lambda: P.batch_grad(w, np.array([], dtype=int)), "idx must be non-empty"),
        (lambda: P.layer_forward(len(P.layers), w[:0], P.X), "k must be a layer index"),
        (lambda: P.layer_forward(0, w[:3], P.X), "w_k must have shape"),
        (lambda: P.layer_forward(0, w[P.layers[0].slice], P.X[:, :2]), "a must have shape"),
        (lambda: P.predict(w, P.X[:, :2]), "X must have 5 columns"),
        (lambda: softmax_cross_entropy(np.zeros((2, 3)), np.array([0, 3])), r"labels must lie in \[0, 3\)"),
        (lambda: softmax_cross_entropy(np.zeros(3), np.array([0])), "logits must be a 2-D"),
    ]
    for call, msg in cases:
        with pytest.raises(ValueError, match=msg):
            call()
    np.testing.assert_array_equal(P.batch_grad(w, [1, 2]), P.batch_grad(w, np.array([1, 2])))
