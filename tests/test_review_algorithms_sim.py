"""Regressions found in review of algorithms/ and sim/ (each test states the rule it checks)."""
from __future__ import annotations

import numpy as np
import pytest

from algorithms.cocoa import CoCoAPlus
from algorithms.dfsdca import DisDfSDCA
from algorithms.problems import RidgeProblem
from reference_ch3 import ridge_data
from sim import Budget, Cluster, ExponentialSpeed, FailRecover, Network, replay, simulate


def _ridge(n: int = 60) -> RidgeProblem:
    X, y = ridge_data(n, d=5, seed=3)
    return RidgeProblem(X, y, lam=0.1)


def _cluster(K: int) -> Cluster:
    return Cluster.homogeneous(K, speed=ExponentialSpeed(1e-2), failure=FailRecover(0.3, 0.1),
                               network=Network(ExponentialSpeed(1e-3), 1e-6))


def _same(a, b) -> None:
    assert (a.status, a.step, a.sim_time, a.epochs, a.diverged_at) == (b.status, b.step, b.sim_time, b.epochs,
                                                                        b.diverged_at)
    assert np.array_equal(a.params, b.params)
    assert a.records == b.records


@pytest.mark.parametrize("budget", [Budget(max_updates=37), Budget(max_time=0.6), Budget(max_epochs=3),
                                    Budget(max_epochs=20, target=("duality_gap", 5e-3))])
def test_replay_equals_simulate_with_worker_state_in_flight_async(budget):
    """Dis-dfSDCA's duals (read by the duality_gap metric) move when a worker computes, before the
    server applies its message; a run that stops with messages in flight must still replay bit for
    bit, final record included (replay computes the in-flight reads as the simulation did)."""
    p = _ridge()
    make = lambda: DisDfSDCA(p, 3, eta=0.05, H=4, T=5)  # noqa: E731
    res = simulate(make(), _cluster(3), seed=2, budget=budget, record_every=4)
    again = replay(res.trace, make(), seed=2, record_every=4, target=budget.target)
    _same(res, again)


@pytest.mark.parametrize("budget", [Budget(max_time=0.3), Budget(max_updates=9)])
def test_replay_equals_simulate_with_a_round_in_flight_sync(budget):
    """CoCoA+ stopped by max_time has computed (but not aggregated) one more round of local dual
    steps; replay must end in the same dual state, so the final duality_gap record agrees."""
    p = _ridge()
    res = simulate(CoCoAPlus(p, 3, H=5), _cluster(3), seed=1, budget=budget, record_every=2)
    again = replay(res.trace, CoCoAPlus(p, 3, H=5), seed=1, record_every=2)
    _same(res, again)


@pytest.mark.parametrize("run", [
    lambda p: __import__("algorithms.sdca", fromlist=["sdca"]).sdca(p, 5, np.random.default_rng(0)),
    lambda p: CoCoAPlus(p, 2, H=3),
])
def test_sdca_and_cocoa_reject_lam_zero_with_a_clear_error(run):
    """SDCA and CoCoA+ step in the dual, w = A alpha/(lam n) (eq. 3.3): lam = 0 (which RidgeProblem
    accepts) must be a ValueError naming lam, not a ZeroDivisionError mid-run."""
    X, y = ridge_data(20, d=3, seed=0)
    with pytest.raises(ValueError, match=r"lam must be > 0 .*got 0\.0"):
        run(RidgeProblem(X, y, lam=0.0))


def test_libsvm_file_with_byte_order_mark_comments_and_blank_lines(tmp_path):
    """A LIBSVM file saved with a UTF-8 byte-order mark (as Windows editors do) that starts with a
    comment, has blank lines, CRLF endings and a qid token parses like the same file without the mark."""
    from algorithms.datasets import get_dataset

    body = "# exported\r\n+1 1:0.5 3:1.0 # trailing\r\n\r\n   \r\n-1\tqid:3 2:2e-1\r\n"
    path = tmp_path / "bom.svm"
    path.write_bytes(b"\xef\xbb\xbf" + body.encode())
    data = get_dataset(f"libsvm:{path}")
    assert np.array_equal(data.X.toarray(), [[0.5, 0.0, 1.0], [0.0, 0.2, 0.0]])
    assert np.array_equal(data.y, [1.0, -1.0])


@pytest.mark.parametrize("protocol", ["async", "sync"])
def test_max_time_alone_on_a_cluster_where_nothing_takes_time_is_an_error(protocol):
    """With zero-time workers and network (the 'zero-delay' cluster) simulated time never leaves 0,
    so a budget of max_time alone would never end the run: simulate must say so instead of looping."""
    from sim import ConstantSpeed
    from toy_roles import NoisyQuadratic

    class Bounded(NoisyQuadratic):  # without the check the run would loop forever; stop it loudly
        def work(self, k, params, rng):
            if self.calls >= 2000:
                raise RuntimeError("simulate did not stop: max_time is never reached")
            return super().work(k, params, rng)

    cluster = Cluster.homogeneous(2, speed=ConstantSpeed(0.0), network=Network(0.0, 0.0))
    with pytest.raises(ValueError, match=r"max_time=1\.0 can never be reached.*max_updates or max_epochs"):
        simulate(Bounded(2, protocol=protocol), cluster, seed=0, budget=Budget(max_time=1.0))
    res = simulate(Bounded(2, protocol=protocol), cluster, seed=0, budget=Budget(max_time=1.0, max_updates=7))
    assert (res.status, res.step, res.sim_time, res.stopped_by) == ("finished", 7, 0.0, "max_updates")


def test_libsvm_file_with_non_utf8_bytes(tmp_path):
    """A Latin-1 comment is ignored like any comment; a non-UTF-8 byte inside a data token is a
    DataFormatError naming the file and line (not a UnicodeDecodeError without either)."""
    from algorithms.datasets import DataFormatError, get_dataset

    ok = tmp_path / "latin1.svm"
    ok.write_bytes(b"# donn\xe9es\n1 1:0.5\n-1 2:1\n")
    data = get_dataset(f"libsvm:{ok}")
    assert np.array_equal(data.X.toarray(), [[0.5, 0.0], [0.0, 1.0]])
    bad = tmp_path / "bad.svm"
    bad.write_bytes(b"1 1:0.5\n-1 2:1\xe9\n")
    with pytest.raises(DataFormatError, match=r"bad\.svm:2: feature value"):
        get_dataset(f"libsvm:{bad}")


def test_replay_equals_simulate_when_metrics_read_worker_state_many_settings():
    """Random small settings (async/sync, with and without rounds, barrier work, failures, network
    costs, every kind of budget): a metric that reads every worker's local state agrees record for
    record between simulate and replay."""
    from sim import ConstantSpeed, WorkerSpec
    from toy_roles import NoisyQuadratic

    class LocalMetric(NoisyQuadratic):
        def metrics(self):
            out = super().metrics()
            out["local"] = float(np.abs(self.m).sum())  # worker momenta: changed by work(), not apply()
            return out

    rng = np.random.default_rng(7)
    for _ in range(40):
        K, protocol = int(rng.integers(1, 5)), ("async", "sync")[int(rng.integers(2))]
        R = None if rng.random() < 0.3 else int(rng.integers(1, 6))
        barrier_work = float(rng.choice([0.0, 2.0]))
        fail = FailRecover(3.0, 1.0) if rng.random() < 0.4 else None
        speeds = [ExponentialSpeed(float(rng.uniform(0.5, 2))) if rng.random() < 0.6 else ConstantSpeed(1.0)
                  for _ in range(K)]
        cluster = Cluster(tuple(WorkerSpec(s, failure=fail) for s in speeds),
                          Network(float(rng.choice([0.0, 0.1])), float(rng.choice([0.0, 0.01]))))
        budget = [Budget(max_updates=int(rng.integers(1, 30))), Budget(max_time=float(rng.uniform(0.5, 15))),
                  Budget(max_epochs=float(rng.uniform(0.3, 6))),
                  Budget(max_epochs=10, target=("suboptimality", float(rng.uniform(0.01, 1))))][int(rng.integers(4))]
        seed, every = int(rng.integers(1000)), int(rng.integers(1, 4))
        make = lambda: LocalMetric(K, protocol=protocol, round_length=R, barrier_work=barrier_work, eta=0.3)  # noqa: E731
        res = simulate(make(), cluster, seed=seed, budget=budget, record_every=every)
        again = replay(res.trace, make(), seed=seed, record_every=every, target=budget.target)
        _same(res, again)
