"""Asynchronous distributed SVRG (§3.5.2 baseline) and the Chapter 3 registry."""
from __future__ import annotations

import numpy as np
import pytest

from algorithms.cocoa import CoCoAPlus
from algorithms.dfsdca import DisDfSDCA
from algorithms.problems import RidgeProblem
from algorithms.registry import ALGORITHMS, hyper_parameters, make_roles
from algorithms.roles import Roles
from algorithms.svrg import AsyncSVRG
from reference_ch3 import pca_data, ridge_data, run_async


def test_converges_on_ridge_with_stale_reads():
    X, y = ridge_data(60)
    P = RidgeProblem(X, y, 0.1)
    roles = AsyncSVRG(P, 3, eta=0.2, batch=4, m=30)
    assert isinstance(roles, Roles)
    recs = run_async(roles, 40, seed=0, stale=True)
    sub = np.array([r["suboptimality"] for r in recs])
    assert sub[-1] < 1e-12 * sub[0] + 1e-15
    w_star = np.linalg.solve(X.T @ X / 60 + 0.1 * np.eye(4), X.T @ y / 60)
    np.testing.assert_allclose(roles.w, w_star, atol=1e-8)


def test_converges_on_pca_eq_3_40():
    X, b, P = pca_data(60)
    roles = AsyncSVRG(P, 4, eta=0.2, batch=3, m=40)
    recs = run_async(roles, 40, seed=1, stale=True)
    assert set(recs[-1]) == {"objective", "suboptimality"}
    assert recs[-1]["suboptimality"] < 1e-12 * recs[0]["suboptimality"] + 1e-15
    np.testing.assert_allclose(roles.w, np.linalg.solve(P.mu * np.eye(4) - X.T @ X / 60, b), atol=1e-8)


def test_message_is_unbiased_and_exact_at_snapshot():
    """E_i[v] = grad P(w_read) over a uniform single-sample batch, and v = mu at w_read = w_tilde."""
    X, y = ridge_data(n=12)
    P = RidgeProblem(X, y, 0.1)
    roles = AsyncSVRG(P, 1, eta=0.1, batch=1, m=5)
    roles._w[:] = np.array([0.3, -0.2, 0.5, 0.1])
    assert np.array_equal(roles.barrier(), [12.0])
    w_tilde = roles.w.copy()
    w_read = w_tilde + np.array([0.05, 0.1, -0.2, 0.3])
    vs = []
    for seed in range(200):
        msg = roles.work(0, w_read, np.random.default_rng(seed))
        assert msg.work == 2 and msg.nbytes == 32
        vs.append(msg.payload)
    # v_i = grad phi_i(w_read) - grad phi_i(w_tilde) + lam (w_read - w_tilde) + mu; its mean is grad P(w_read)
    per = [(X[i] @ w_read - y[i]) * X[i] - (X[i] @ w_tilde - y[i]) * X[i] for i in range(12)]
    possible = np.array(per) + 0.1 * (w_read - w_tilde) + P.grad(w_tilde)
    full = X.T @ (X @ w_read - y) / 12 + 0.1 * w_read
    np.testing.assert_allclose(possible.mean(axis=0), full, atol=1e-12)
    # every drawn message is one of the 12 possible ones
    for v in vs:
        assert np.min(np.max(np.abs(possible - v), axis=1)) < 1e-12
    at_snapshot = roles.work(0, w_tilde.copy(), np.random.default_rng(0)).payload
    np.testing.assert_allclose(at_snapshot, P.grad(w_tilde), atol=1e-14)


def test_barrier_returns_shard_shares_and_is_required():
    X, y = ridge_data(n=10)
    roles = AsyncSVRG(RidgeProblem(X, y, 0.1), 3, eta=0.1, batch=2, m=4)
    with pytest.raises(RuntimeError, match="barrier"):
        roles.work(0, roles.read(), np.random.default_rng(0))
    assert np.array_equal(roles.barrier(), [4.0, 3.0, 3.0])
    assert roles.protocol == "async" and roles.round_length == 4 and roles.epoch_work == 10


@pytest.mark.parametrize(
    "kw,name",
    [
        (dict(eta=0.0), "eta"),
        (dict(eta=float("nan")), "eta"),
        (dict(batch=0), "batch"),
        (dict(batch=1.5), "batch"),
        (dict(m=0), "m"),
        (dict(m=-3), "m"),
        (dict(K=0), "K"),
        (dict(K=61), "K"),
    ],
)
def test_rejects_bad_hyper_parameters(kw, name):
    X, y = ridge_data(60)
    args = dict(K=2, eta=0.1, batch=2, m=5)
    args.update(kw)
    K = args.pop("K")
    with pytest.raises(ValueError, match=rf"\b{name}\b"):
        AsyncSVRG(RidgeProblem(X, y, 0.1), K, **args)


# --- registry -------------------------------------------------------------------------
def test_registry_builds_each_algorithm():
    X, y = ridge_data(60)
    P = RidgeProblem(X, y, 0.1)
    assert set(ALGORITHMS) == {"dis-dfsdca", "cocoa+", "async-svrg", "distributed-asysvrg", "asysgd",
                               "shared-asysvrg", "shared-asysgd"}
    assert isinstance(make_roles("dis-dfsdca", P, 2, eta=0.01, H=3, T=4), DisDfSDCA)
    assert isinstance(make_roles("cocoa+", P, 2, H=3), CoCoAPlus)
    r = make_roles("async-svrg", P, 2, eta=0.1, batch=2, m=4)
    assert isinstance(r, AsyncSVRG) and r.m == 4
    assert hyper_parameters("dis-dfsdca") == ("eta", "H", "T", "dual_scale")


def test_registry_errors_name_the_culprit():
    X, y = ridge_data(60)
    P = RidgeProblem(X, y, 0.1)
    with pytest.raises(ValueError, match="unknown algorithm 'sgd'.*async-svrg, asysgd, cocoa\\+, dis-dfsdca"):
        make_roles("sgd", P, 2)
    with pytest.raises(ValueError, match="'gamma'.*allowed: H"):
        make_roles("cocoa+", P, 2, H=3, gamma=1.0)
    with pytest.raises(ValueError, match="missing.*'T'"):
        make_roles("dis-dfsdca", P, 2, eta=0.1, H=3)
    with pytest.raises(ValueError, match="eta"):
        make_roles("dis-dfsdca", P, 2, eta=-1.0, H=3, T=2)
