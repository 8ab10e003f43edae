"""Shared-AsySVRG (Alg. 1), lock-free SGD, their serial references, and the Chapter 2 parameter-server roles.

References are independent: a plain-numpy SVRG/SGD on ridge with the gradients written out from the
loss, the closed-form ridge optimum, and a copy of AsyncSVRG's arithmetic before it took step rules.
"""
from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

from algorithms.asysvrg import SerialRun, SharedAsySGD, SharedAsySVRG, sgd, svrg
from algorithms.problem import Block
from algorithms.problems import LogisticProblem, RidgeProblem
from algorithms.registry import ALGORITHMS, make_roles
from algorithms.roles import GradientStepServer, Message, Roles, worker_streams
from algorithms.shards import check_int, shard_bounds
from algorithms.steps import LayerScaled, Polynomial
from algorithms.svrg import AsyncSVRG, AsySGD
from reference_ch3 import pca_data, ridge_data, run_async

LAM = 0.1


def ridge(n: int = 40, d: int = 6, seed: int = 0) -> tuple[np.ndarray, np.ndarray, RidgeProblem]:
    X, y = ridge_data(n, d, seed=seed)
    return X, y, RidgeProblem(X, y, LAM)


# --- independent plain-numpy references (ridge, gradients from the loss) ---------------------
def ridge_batch_grad(X, y, w, idx):
    Xi = X[idx]
    return Xi.T @ (Xi @ w - y[idx]) / len(idx) + LAM * w


def ref_svrg(X, y, *, eta, batch, m, epochs, rng, coords=None):
    n, d = X.shape
    w = np.zeros(d)
    for _ in range(epochs):
        w_tilde = w.copy()
        mu = X.T @ (X @ w_tilde - y) / n + LAM * w_tilde
        for _ in range(m):
            I = rng.integers(n, size=batch)
            k = np.arange(d) if coords is None else np.sort(rng.choice(d, size=coords, replace=False))
            v = ridge_batch_grad(X, y, w, I) - ridge_batch_grad(X, y, w_tilde, I) + mu
            w[k] = w[k] - eta * v[k]
    return w


def ref_sgd(X, y, *, alpha, beta, batch, T, rng, coords=None):
    n, d = X.shape
    w = np.zeros(d)
    for t in range(T):
        I = rng.integers(n, size=batch)
        k = np.arange(d) if coords is None else np.sort(rng.choice(d, size=coords, replace=False))
        step = alpha / (1 + math.floor(t * batch / n)) ** beta
        w[k] = w[k] - step * ridge_batch_grad(X, y, w, I)[k]
    return w


def drive(roles, writes: int, seed: int) -> list[Message]:
    """Hand driver, no delay: barrier first and after every round_length writes; each write is
    computed at the current vector by thread t % K; returns the messages."""
    rngs = worker_streams(seed, roles.K)
    msgs = []
    for t in range(writes):
        if t == 0 or (roles.round_length and t % roles.round_length == 0):
            roles.barrier()
        p = t % roles.K
        msg = roles.work(p, roles.read(), rngs[p])
        roles.apply(p, msg)
        msgs.append(msg)
    return msgs


# --- serial references ---------------------------------------------------------------------
@pytest.mark.parametrize("coords", [None, 1, 4])
def test_serial_svrg_matches_plain_numpy_svrg(coords):
    """svrg() draws I_t then k_t and applies eq. 2.4/2.5 as a plain-numpy SVRG does on the same stream."""
    X, y, P = ridge()
    res = svrg(P, eta=0.3, batch=3, m=25, epochs=6, rng=np.random.default_rng(7), coords=coords)
    ref = ref_svrg(X, y, eta=0.3, batch=3, m=25, epochs=6, rng=np.random.default_rng(7), coords=coords)
    assert isinstance(res, SerialRun) and res.status == "finished" and res.updates == 150
    np.testing.assert_allclose(res.w, ref, rtol=0, atol=1e-12)
    # records: the start and every epoch, epoch = work / n with the full gradients counted
    np.testing.assert_allclose(res.epoch, [s * (1 + 25 * 2 * 3 / 40) for s in range(7)])
    assert res.objective[0] == pytest.approx(P.value(np.zeros(6)))


def test_serial_svrg_converges_linearly_to_the_ridge_optimum():
    """Constant step, strongly convex ridge: f - f* contracts by a fixed factor every epoch."""
    X, y, P = ridge(n=60)
    w_star = np.linalg.solve(X.T @ X / 60 + LAM * np.eye(6), X.T @ y / 60)
    res = svrg(P, eta=0.3, batch=2, m=60, epochs=25, rng=np.random.default_rng(1))
    sub = res.objective - P.value(w_star)
    assert np.all(sub[1:13] <= 0.5 * sub[:12])  # linear rate until rounding
    assert sub[-1] < 1e-13 * sub[0]
    np.testing.assert_allclose(res.w, w_star, atol=1e-7)
    # the coordinate version of Theorem 2.3.1 (one coordinate per step) converges too, slower
    one = svrg(P, eta=0.3, batch=2, m=120, epochs=25, rng=np.random.default_rng(1), coords=1)
    assert one.objective[-1] - P.value(w_star) < 1e-6 * sub[0]


def test_serial_sgd_polynomial_schedule_matches_plain_numpy_sgd():
    """sgd() with Polynomial(alpha, beta): the t-th step is alpha/(1+floor(t b/n))^beta."""
    X, y, P = ridge()
    for coords in (None, 2):
        res = sgd(P, eta=Polynomial(0.5, 0.7), batch=3, epochs=4, rng=np.random.default_rng(3), coords=coords)
        ref = ref_sgd(X, y, alpha=0.5, beta=0.7, batch=3, T=54, rng=np.random.default_rng(3), coords=coords)
        assert res.updates == 54  # ceil(4 * 40 / 3)
        np.testing.assert_allclose(res.w, ref, rtol=0, atol=1e-12)
    assert sgd(P, eta=0.1, batch=4, epochs=2, rng=np.random.default_rng(0)).updates == 20


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # overflow on the way to inf is the point
def test_serial_run_reports_divergence():
    X, y, P = ridge()
    res = sgd(P, eta=50.0, batch=2, epochs=30, rng=np.random.default_rng(0))
    assert res.status == "diverged" and not np.isfinite(res.objective[-1])


# --- Shared-AsySVRG and SharedAsySGD roles --------------------------------------------------
@pytest.mark.parametrize("coords", [None, 1, 3])
def test_shared_asysvrg_one_thread_is_bit_identical_to_svrg(coords):
    X, y, P = ridge()
    roles = SharedAsySVRG(P, 1, eta=0.3, batch=3, m=20, coords=coords)
    assert isinstance(roles, Roles) and roles.protocol == "shared-memory" and roles.round_length == 20
    drive(roles, 5 * 20, seed=11)
    res = svrg(P, eta=0.3, batch=3, m=20, epochs=5, rng=worker_streams(11, 1)[0], coords=coords, record=False)
    assert np.array_equal(roles.shared, res.w)
    assert roles.epoch == pytest.approx(5 + 5 * 20 * 6 / 40)


def test_shared_asysgd_one_thread_is_bit_identical_to_sgd():
    X, y, P = ridge()
    for eta, coords in ((0.2, None), (Polynomial(0.4, 0.5), 2)):
        roles = SharedAsySGD(P, 1, eta=eta, batch=3, coords=coords)
        assert roles.round_length is None
        drive(roles, 70, seed=5)
        res = sgd(P, eta=eta, batch=3, updates=70, rng=worker_streams(5, 1)[0], coords=coords, record=False)
        assert np.array_equal(roles.shared, res.w)


@pytest.mark.parametrize("cls,kw,cost", [
    (SharedAsySVRG, dict(eta=0.2, batch=4, m=5, coords=3), 8),
    (SharedAsySVRG, dict(eta=0.2, batch=4, m=5), 8),
    (SharedAsySGD, dict(eta=0.2, batch=4, coords=3), 4),
])
def test_messages_and_writes_touch_only_their_coordinates(cls, kw, cost):
    """index sorted, unique, int64, of size coords (None = all d); one payload value per written
    coordinate; apply changes only those; barrier never changes the shared vector; work in evaluations."""
    X, y, P = ridge(n=41)
    roles = cls(P, 3, **kw)
    rng = np.random.default_rng(0)
    roles.shared[:] = rng.standard_normal(6)
    before = roles.read()
    shares = roles.barrier()
    assert np.array_equal(roles.shared, before)
    if cls is SharedAsySVRG:
        assert np.array_equal(shares, [14.0, 14.0, 13.0]) and shares.sum() == 41
    else:
        assert np.array_equal(shares, [0.0, 0.0, 0.0])
    streams = worker_streams(3, 3)
    for t in range(30):
        p = t % 3
        w_hat = roles.read() + 0.01 * rng.standard_normal(6)  # an inconsistent read
        msg = roles.work(p, w_hat, streams[p])
        assert msg.work == cost
        coords = kw.get("coords")
        if coords is None:
            assert msg.index is None and msg.payload.shape == (6,)
            mask = np.ones(6, dtype=bool)
        else:
            k = msg.index
            assert k.dtype == np.int64 and k.shape == (coords,) and np.all(np.diff(k) > 0)
            assert 0 <= k[0] and k[-1] < 6 and msg.payload.shape == (coords,)
            mask = np.zeros(6, dtype=bool)
            mask[k] = True
        before = roles.read()
        roles.apply(p, msg)
        after = roles.shared
        assert np.array_equal(after[~mask], before[~mask])
        np.testing.assert_array_equal(after[mask], before[mask] - 0.2 * msg.payload)


def test_work_before_the_first_barrier_is_an_error():
    X, y, P = ridge()
    roles = SharedAsySVRG(P, 2, eta=0.1, batch=2, m=4)
    with pytest.raises(RuntimeError, match="barrier"):
        roles.work(0, roles.read(), np.random.default_rng(0))


def test_sgd_svrg_switches_at_the_first_barrier_after_sgd_epochs():
    """SGD_SVRG = SGD for m ceil(E n/(m b)) steps (rounds of m, barriers with no work), then SVRG
    from that model on the same stream: equals sgd() followed by svrg() by hand, bit for bit."""
    X, y, P = ridge()  # n = 40
    m, b, E, sgd_eta = 7, 3, 1, Polynomial(0.3, 0.5)
    roles = SharedAsySVRG(P, 1, eta=0.25, batch=b, m=m, sgd_epochs=E, sgd_eta=sgd_eta)
    rng = worker_streams(2, 1)[0]
    phases, barrier_work = [], []
    for t in range(9 * m):
        if t % m == 0:
            barrier_work.append(roles.barrier().sum())
            phases.append(roles.phase)
        roles.apply(0, roles.work(0, roles.read(), rng))
    sgd_rounds = math.ceil(E * 40 / (m * b))  # work after the SGD rounds: 21 < 40 <= 42
    assert sgd_rounds == 2
    assert phases == ["sgd"] * sgd_rounds + ["svrg"] * (9 - sgd_rounds)
    assert barrier_work == [0.0] * sgd_rounds + [40.0] * (9 - sgd_rounds)
    rng = worker_streams(2, 1)[0]
    warm = sgd(P, eta=sgd_eta, batch=b, updates=sgd_rounds * m, rng=rng, record=False)
    res = svrg(P, eta=0.25, batch=b, m=m, epochs=9 - sgd_rounds, rng=rng, w0=warm.w, record=False)
    assert np.array_equal(roles.shared, res.w)
    # the epoch axis counts the SGD epochs too
    assert roles.epoch == pytest.approx((sgd_rounds * m * b + 7 * (40 + 2 * m * b)) / 40)


def test_shared_schedule_sees_the_applied_work_epoch():
    """With K = 2 threads, a Polynomial eta's step at each apply is alpha/(1+floor(work/n))^beta,
    work = barriers (n each) plus the writes applied before it."""
    X, y, P = ridge()
    roles = SharedAsySVRG(P, 2, eta=Polynomial(0.2, 0.8), batch=5, m=6, coords=2)
    streams = worker_streams(4, 2)
    work = 0.0
    for t in range(30):
        if t % 6 == 0:
            work += roles.barrier().sum()
        p = t % 2
        msg = roles.work(p, roles.read(), streams[p])
        before = roles.read()
        roles.apply(p, msg)
        step = 0.2 / (1.0 + math.floor(work / 40)) ** 0.8
        assert np.array_equal(roles.shared[msg.index], before[msg.index] - step * msg.payload)
        work += msg.work
    assert work / 40 == roles.epoch and math.floor(roles.epoch) >= 3


def test_default_probes_are_chapter_2_metrics():
    X, y, P = ridge()
    roles = SharedAsySVRG(P, 2, eta=0.1, batch=2, m=4)
    assert set(roles.metrics()) == {"objective", "suboptimality", "grad_norm_sq"}  # ridge: no classifier
    g = P.grad(roles.params)
    assert roles.metrics()["grad_norm_sq"] == pytest.approx(g @ g)


# --- parameter server: Distributed-AsySVRG and AsySGD ----------------------------------------
class PreviousAsyncSVRG(GradientStepServer):
    """AsyncSVRG's arithmetic before step rules (float eta only), copied for comparison."""

    protocol = "async"

    def __init__(self, problem, K, *, eta, batch, m):
        self.K, self.eta, self.batch, self.m, self.problem = K, eta, batch, m, problem
        self.round_length, self.epoch_work = m, float(problem.n)
        bounds = shard_bounds(problem.n, K)
        self._offsets, self._sizes = bounds[:-1], np.diff(bounds)
        self._w_tilde = self._mu = None
        super().__init__(problem.initial_point())

    def work(self, k, params, rng):
        idx = rng.integers(int(self._sizes[k]), size=self.batch) + self._offsets[k]
        p = self.problem
        v = p.batch_grad(params, idx) - p.batch_grad(self._w_tilde, idx)
        v += self._mu
        return Message(payload=v, work=2 * self.batch, nbytes=self._nbytes)

    def barrier(self):
        self._w_tilde = self._w.copy()
        self._mu = np.asarray(self.problem.grad(self._w_tilde), dtype=np.float64)
        return self._sizes.astype(np.float64)


@pytest.mark.parametrize("which", ["ridge", "pca"])
def test_async_svrg_float_eta_reproduces_the_previous_arithmetic(which):
    if which == "ridge":
        P = ridge(n=50)[2]
    else:
        P = pca_data(50)[2]
    new = AsyncSVRG(P, 3, eta=0.15, batch=4, m=12)
    old = PreviousAsyncSVRG(P, 3, eta=0.15, batch=4, m=12)
    run_async(new, 6, seed=9, stale=True, metrics_every_round=False)
    run_async(old, 6, seed=9, stale=True, metrics_every_round=False)
    assert np.array_equal(new.w, old.w) and not np.array_equal(new.w, np.zeros(P.d))
    assert new.eta == 0.15 and isinstance(new.eta, float)


def test_distributed_asysvrg_one_worker_is_serial_svrg_and_sgd_svrg():
    """K = 1 without delay: Distributed-AsySVRG is svrg() (whole vector); with sgd_epochs = 1 it is
    sgd() for the SGD rounds, then svrg() from there (§2.5.2's SGD_SVRG)."""
    X, y, P = ridge()
    roles = AsyncSVRG(P, 1, eta=0.3, batch=3, m=10)
    run_async(roles, 4, seed=6, metrics_every_round=False)
    res = svrg(P, eta=0.3, batch=3, m=10, epochs=4, rng=worker_streams(6, 1)[0], record=False)
    assert np.array_equal(roles.w, res.w)
    roles = AsyncSVRG(P, 1, eta=0.3, batch=3, m=10, sgd_epochs=1, sgd_eta=Polynomial(0.2, 1.0))
    run_async(roles, 5, seed=6, metrics_every_round=False)  # 30 < 40 <= 60 work: 2 SGD rounds
    rng = worker_streams(6, 1)[0]
    warm = sgd(P, eta=Polynomial(0.2, 1.0), batch=3, updates=20, rng=rng, record=False)
    res = svrg(P, eta=0.3, batch=3, m=10, epochs=3, rng=rng, w0=warm.w, record=False)
    assert roles.phase == "svrg" and np.array_equal(roles.w, res.w)
    assert roles.epoch == pytest.approx((60 + 3 * (40 + 60)) / 40)


def test_asysgd_applies_the_polynomial_step_of_the_applied_epoch():
    X, y, P = ridge()
    roles = AsySGD(P, 2, eta=Polynomial(0.3, 0.6), batch=7)
    assert roles.protocol == "async" and roles.round_length is None
    assert np.array_equal(roles.barrier(), [0.0, 0.0])
    streams = worker_streams(1, 2)
    reads = [roles.read(), roles.read()]  # each worker holds a stale read
    work = 0.0
    for t in range(30):
        k = t % 2
        msg = roles.work(k, reads[k], streams[k])
        assert msg.work == 7 and msg.index is None
        before = roles.read()
        roles.apply(k, msg)
        step = 0.3 / (1.0 + math.floor(work / 40)) ** 0.6
        assert np.array_equal(roles.w, before - step * msg.payload)
        work += msg.work
        reads[k] = roles.read()
    assert math.floor(work / 40) == 5 and roles.epoch == work / 40
    # the message is the mini-batch gradient of the worker's own shard at its read
    g = roles.work(1, reads[1], np.random.default_rng(0)).payload
    idx = np.random.default_rng(0).integers(20, size=7) + 20
    np.testing.assert_allclose(g, ridge_batch_grad(X, y, reads[1], idx), atol=1e-13)


# --- hyper-parameters, registry, layering ---------------------------------------------------
X0, Y0, P0 = ridge()
CASES = [
    (SharedAsySVRG, dict(eta=0.0), "eta"),
    (SharedAsySVRG, dict(eta=float("inf")), "eta"),
    (SharedAsySVRG, dict(batch=0), "batch"),
    (SharedAsySVRG, dict(m=1.5), "m"),
    (SharedAsySVRG, dict(coords=0), "coords"),
    (SharedAsySVRG, dict(coords=7), "coords"),
    (SharedAsySVRG, dict(K=0), "K"),
    (SharedAsySVRG, dict(sgd_epochs=-1), "sgd_epochs"),
    (SharedAsySVRG, dict(sgd_epochs=1), "sgd_eta"),
    (SharedAsySVRG, dict(sgd_epochs=1, sgd_eta=-0.1), "sgd_eta"),
    (SharedAsySVRG, dict(coords=2, eta=LayerScaled(Polynomial(0.1, 0.0), (Block("a", 0, 6, ((6,),)),))), "eta"),
    (SharedAsySGD, dict(eta="fast"), "eta"),
    (SharedAsySGD, dict(coords=-2), "coords"),
    (AsySGD, dict(batch=True), "batch"),
    (AsySGD, dict(K=41), "K"),
    (AsyncSVRG, dict(sgd_epochs=float("nan"), sgd_eta=0.1), "sgd_epochs"),
    (AsyncSVRG, dict(sgd_epochs=2), "sgd_eta"),
]


@pytest.mark.parametrize("cls,kw,name", CASES)
def test_rejects_bad_hyper_parameters(cls, kw, name):
    base = {SharedAsySVRG: dict(K=2, eta=0.1, batch=2, m=5), SharedAsySGD: dict(K=2, eta=0.1, batch=2),
            AsySGD: dict(K=2, eta=0.1, batch=2), AsyncSVRG: dict(K=2, eta=0.1, batch=2, m=5)}[cls]
    args = {**base, **kw}
    K = args.pop("K")
    with pytest.raises(ValueError, match=rf"\b{name}\b"):
        cls(P0, K, **args)


@pytest.mark.parametrize("fn,kw,name", [
    (svrg, dict(eta=0.1, batch=2, m=0, epochs=1), "m"),
    (svrg, dict(eta=0.1, batch=2, m=3, epochs=-1), "epochs"),
    (svrg, dict(eta=0.1, batch=2, m=3, epochs=1, rng=0), "rng"),
    (svrg, dict(eta=0.1, batch=2, m=3, epochs=1, w0=np.zeros(5)), "w0"),
    (sgd, dict(eta=0.1, batch=2), "epochs"),
    (sgd, dict(eta=0.1, batch=2, epochs=1, updates=3), "updates"),
    (sgd, dict(eta=0.1, batch=2, epochs=-0.5), "epochs"),
    (sgd, dict(eta=0.0, batch=2, epochs=1), "eta"),
    (sgd, dict(eta=0.1, batch=2, epochs=1, coords=9), "coords"),
])
def test_serial_loops_reject_bad_arguments(fn, kw, name):
    kw = {"rng": np.random.default_rng(0), **kw}
    with pytest.raises(ValueError, match=rf"\b{name}\b"):
        fn(P0, **kw)


def test_integer_checks_are_the_shared_ones():
    """Integer hyper-parameters are checked by algorithms.shards.check_int: the same message."""
    for name, kw in (("batch", dict(batch=0, m=3)), ("m", dict(batch=2, m=0)), ("K", dict(batch=2, m=3))):
        with pytest.raises(ValueError) as want:
            check_int(name, 0)
        with pytest.raises(ValueError) as got:
            SharedAsySVRG(P0, 0 if name == "K" else 2, eta=0.1, **kw)
        assert str(got.value) == str(want.value)


def test_registry_builds_the_chapter_2_algorithms():
    L = LogisticProblem(X0, np.where(Y0 > 0, 1.0, -1.0), LAM)
    assert make_roles("distributed-asysvrg", L, 2, eta=0.1, batch=2, m=4).__class__ is AsyncSVRG
    assert ALGORITHMS["distributed-asysvrg"] is ALGORITHMS["async-svrg"]
    r = make_roles("shared-asysvrg", L, 4, eta=0.1, batch=10, m=50, coords=3, sgd_epochs=1, sgd_eta=0.05)
    assert isinstance(r, SharedAsySVRG) and r.coords == 3 and r.K == 4
    assert isinstance(make_roles("shared-asysgd", L, 2, eta=Polynomial(0.1, 0.5), batch=2), SharedAsySGD)
    assert isinstance(make_roles("asysgd", L, 2, eta=0.1, batch=2), AsySGD)


def test_algorithms_never_import_sim_studies_or_bounds():
    code = ("import sys, algorithms.asysvrg, algorithms.svrg, algorithms.registry; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('sim', 'studies', 'bounds')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
