"""Cheap records (issue 7, target 4): a record computes each shared quantity once, with the numbers of
the plain formulas bit for bit; record schedules (every N messages, geometric) chosen per run or study."""
from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp

from algorithms.probes import ProbeSet
from algorithms.problems import LogisticProblem, RidgeProblem
from sim import Budget, Cluster, EveryMessages, ExponentialSpeed, Geometric, Network, replay, simulate
from toy_roles import NoisyQuadratic


# --- the old formulas (before issue 7), kept as the reference ------------------------------------
def ref_w_alpha(p, alpha):
    return np.asarray(p.X.T @ alpha) / (p.lam * p.n)  # eq. 3.3


def ref_dual(p, alpha):
    """D(alpha) of eq. 3.2 exactly as the old code evaluated it (w(alpha) recomputed inside)."""
    v = ref_w_alpha(p, alpha)
    quad = 0.5 * p.lam * float(v @ v)
    if isinstance(p, RidgeProblem):
        return float(np.mean(alpha * p.y - 0.5 * alpha * alpha) - quad)
    a = alpha * p.y
    ent = -(a * np.log(a) + (1.0 - a) * np.log1p(-a))  # xlogy without the 0 log 0 case (a in (0, 1))
    return float(np.mean(ent) - quad)


def ref_gap(p, alpha):
    return float(p.value(ref_w_alpha(p, alpha)) - ref_dual(p, alpha))


class State:
    """What a probe reads: params and the scalar duals."""

    def __init__(self, params, alpha):
        self.params, self.alpha = params, alpha


def _problem(kind: str, sparse: bool, seed: int = 0):
    rng = np.random.default_rng(seed)
    n, d = 300, 7
    X = rng.standard_normal((n, d)) * (rng.random((n, d)) < 0.5)
    X = sp.csr_matrix(X) if sparse else X
    if kind == "ridge":
        y = rng.standard_normal(n)
        return RidgeProblem(X, y, 0.1), rng.standard_normal(n)
    y = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    return LogisticProblem(X, y, 0.1), y * rng.uniform(0.05, 0.95, n)  # alpha_i y_i in (0, 1)


@pytest.mark.parametrize("kind", ["ridge", "logistic"])
@pytest.mark.parametrize("sparse", [False, True])
def test_shared_passes_give_the_old_numbers_bit_for_bit(kind, sparse):
    p, alpha = _problem(kind, sparse)
    w = np.random.default_rng(1).standard_normal(p.d)
    # the plain formulas, bit for bit (the xlogy reference only to rounding)
    exact = kind == "ridge"
    for got, want in ((p.duality_gap(alpha), ref_gap(p, alpha)), (p.dual_value(alpha), ref_dual(p, alpha))):
        assert got == want if exact else math.isclose(got, want, rel_tol=1e-13)
    vals = ProbeSet(["objective", "suboptimality", "duality_gap"], p, State(w, alpha))()
    assert vals["objective"] == float(p.value(w))
    assert vals["suboptimality"] == float(p.value(w)) - float(p.solution().value)
    assert vals["duality_gap"] == p.duality_gap(alpha)  # the probe and the problem's method agree exactly
    # the gap at w = w(alpha): P shared with the objective, still the same number
    same = ProbeSet(["objective", "duality_gap"], p, State(p.primal_from_dual(alpha), alpha))()
    assert same["duality_gap"] == p.duality_gap(alpha)


def _count(p, monkeypatch):
    calls = {"primal_from_dual": 0, "value": 0}
    for name in calls:
        orig = getattr(p, name)

        def counted(*a, _orig=orig, _name=name, **kw):
            calls[_name] += 1
            return _orig(*a, **kw)
        monkeypatch.setattr(p, name, counted)
    return calls


def test_a_record_makes_one_transpose_pass_and_one_margins_pass_per_point(monkeypatch):
    p, alpha = _problem("ridge", False)
    p.solution()
    w = np.random.default_rng(2).standard_normal(p.d)
    calls = _count(p, monkeypatch)
    probes = ProbeSet(["objective", "suboptimality", "duality_gap"], p, State(w, alpha))
    probes()
    # w(alpha) once (was twice: P(w(alpha)) and D(alpha) each computed it); f at w and at w(alpha)
    assert calls == {"primal_from_dual": 1, "value": 2}
    calls.update(primal_from_dual=0, value=0)
    ProbeSet(["objective", "suboptimality", "duality_gap"], p, State(p.primal_from_dual(alpha), alpha))()
    assert calls == {"primal_from_dual": 2, "value": 1}  # one call was ours; w = w(alpha): one f pass
    calls.update(primal_from_dual=0, value=0)
    p.duality_gap(alpha)
    assert calls == {"primal_from_dual": 1, "value": 1}
    probes()  # a new record recomputes (nothing is carried over between records)
    assert calls == {"primal_from_dual": 2, "value": 3}


# --- schedules -----------------------------------------------------------------------------------
def _cluster(K):
    return Cluster.homogeneous(K, speed=ExponentialSpeed(1.0), network=Network(ExponentialSpeed(0.1)))


def _steps(res):
    return [r[0] for r in res.records if r[3] == "objective"]


def test_every_messages_is_every_n_versions_async_and_every_n_over_k_rounds_sync():
    K, budget = 3, Budget(max_updates=40)
    a = simulate(NoisyQuadratic(K), _cluster(K), seed=1, budget=budget, record_every=EveryMessages(7))
    b = simulate(NoisyQuadratic(K), _cluster(K), seed=1, budget=budget, record_every=7)
    assert a.records == b.records and _steps(a) == [0, 7, 14, 21, 28, 35, 40]
    sync = dict(protocol="sync", round_length=4)
    c = simulate(NoisyQuadratic(K, **sync), _cluster(K), seed=1, budget=Budget(max_updates=10),
                 record_every=EveryMessages(7))  # 7 messages = 2 rounds of K = 3 (floor, at least 1)
    assert _steps(c) == [0, 2, 4, 6, 8, 10]
    d = simulate(NoisyQuadratic(K, **sync), _cluster(K), seed=1, budget=Budget(max_updates=5),
                 record_every=EveryMessages(2))
    assert _steps(d) == [0, 1, 2, 3, 4, 5]


@pytest.mark.parametrize("axis", ["sim_time", "epoch", "version"])
def test_geometric_records_the_first_version_past_each_threshold(axis):
    K, budget, sched = 3, Budget(max_updates=300), Geometric(0.5, 1.3, axis)
    full = simulate(NoisyQuadratic(K), _cluster(K), seed=3, budget=budget, record_every=1)
    geo = simulate(NoisyQuadratic(K), _cluster(K), seed=3, budget=budget, record_every=sched)
    obj = [r for r in full.records if r[3] == "objective"]
    x = {"sim_time": lambda r: r[1], "epoch": lambda r: r[2], "version": lambda r: r[0]}[axis]
    # reference: walk the thresholds 0.5 * 1.3^j; each one picks the first version at or past it
    want, j = [0], 0
    for r in obj[1:]:
        if x(r) >= 0.5 * 1.3 ** j:
            want.append(r[0])
            while 0.5 * 1.3 ** j <= x(r):
                j += 1
    if want[-1] != obj[-1][0]:
        want.append(obj[-1][0])  # the final record
    assert _steps(geo) == want and 8 < len(want) < 40
    rows = {(r[0], r[3]): r for r in full.records}
    assert all(rows[(r[0], r[3])] == r for r in geo.records)  # the same numbers as recording everything
    assert np.array_equal(geo.params, full.params)
    rep = replay(geo.trace, NoisyQuadratic(K), seed=3, record_every=sched)  # a schedule object is reusable
    assert rep.records == geo.records


def test_geometric_stops_on_a_record_at_the_target():
    K = 3
    roles = NoisyQuadratic(K, noise=0.0, beta=0.0, eta=0.05)
    target = 0.1 * roles.metrics()["suboptimality"]
    res = simulate(roles, _cluster(K), seed=0, budget=Budget(max_updates=10_000, target=("suboptimality", target)),
                   record_every=Geometric(1.0, 1.5, "version"))
    assert res.status == "target_reached" and res.step < 10_000
    last = [r for r in res.records if r[3] == "suboptimality"][-1]
    assert last[0] == res.step and last[4] <= target


@pytest.mark.parametrize("bad, msg", [
    (lambda: Geometric(0.0), "Geometric.start must be a finite number > 0"),
    (lambda: Geometric(1.0, 1.0), "Geometric.ratio must be a finite number > 1"),
    (lambda: Geometric(1.0, 2.0, "wall"), "Geometric.axis must be one of"),
    (lambda: EveryMessages(0), "EveryMessages.n must be an integer >= 1"),
    (lambda: simulate(NoisyQuadratic(2), _cluster(2), seed=0, budget=Budget(max_updates=3), record_every="epoch"),
     "record_every must be an integer >= 1 or a sim.records schedule"),
])
def test_bad_schedules_are_named(bad, msg):
    with pytest.raises(ValueError, match=msg):
        bad()


def test_a_study_chooses_its_schedule(tmp_path):
    from studies import run_study
    from studies.spec import AlgorithmSpec, BudgetSpec, ClusterSpec, DatasetSpec, StudySpec, Target

    def spec(records):
        return StudySpec(name="rec", title="toy", thesis_ref="Fig. 6", claim="c", problem="ridge", lam=0.1,
                         datasets=(DatasetSpec("ijcnn1", K=2, scale=0.02),),
                         algorithms=(AlgorithmSpec("dis-dfsdca", "A", {"eta": 1e-3, "H": 50, "T": "4*K"}),),
                         cluster=ClusterSpec(latency=1e-5), budget=BudgetSpec(max_epochs=6.0),
                         target=Target("duality_gap", 1e-4, relative=True), records=records)

    with pytest.raises(ValueError, match="StudySpec.records must be 'epoch', 'round', 'near_target' or a sim.records schedule"):
        spec("often")
    per_epoch = run_study(spec("epoch"), out=tmp_path / "e", progress=False).to_frame()
    geo = run_study(spec(Geometric(0.25, 1.5, "epoch")), out=tmp_path / "g", progress=False).to_frame()
    every = run_study(spec(EveryMessages(5)), out=tmp_path / "m", progress=False).to_frame()
    gap = {k: f[f.metric == "duality_gap"] for k, f in (("e", per_epoch), ("g", geo), ("m", every))}
    assert gap["g"]["step"].iloc[-1] == gap["e"]["step"].iloc[-1]  # same stop, same last record
    assert gap["g"]["value"].iloc[-1] == gap["e"]["value"].iloc[-1]
    ep = gap["g"]["epoch"].to_numpy()
    assert ep[0] == 0.0 and np.all(np.diff(ep) > 0) and len(ep) < len(gap["e"])
    assert list(gap["m"]["step"].iloc[1:-1] % 5) == [0] * (len(gap["m"]) - 2)


# --- NearTarget: the grid's stop and time to target for a fraction of its records ---------------------
def _dfsdca(K=4, H=20, n_scale=0.02):
    from algorithms.datasets import get_dataset
    from algorithms.dfsdca import DisDfSDCA
    from algorithms.registry import make_problem

    p = make_problem("ridge", get_dataset("ijcnn1", seed=0, scale=n_scale), lam=0.1)
    return p, (lambda: DisDfSDCA(p, K, eta=2e-3, H=H, T=4 * K))


@pytest.mark.parametrize("rel", [1e-3, 1e-6])
def test_near_target_stops_where_the_grid_does_with_a_subset_of_its_records(rel):
    from sim import NearTarget

    K = 4
    p, roles = _dfsdca(K)
    target = ("duality_gap", rel * roles().metrics()["duality_gap"])
    every = 3
    runs = {}
    for name, sched in (("grid", every), ("near", NearTarget(every, 1.5, 10.0))):
        runs[name] = simulate(roles(), _cluster(K), seed=3, budget=Budget(max_epochs=200, target=target),
                              record_every=sched)
    grid, near = runs["grid"], runs["near"]
    assert grid.status == near.status == "target_reached" and near.stopped_by == "target"
    assert (near.step, near.sim_time, near.epochs) == (grid.step, grid.sim_time, grid.epochs)
    assert np.array_equal(near.params, grid.params)
    assert set(near.records) <= set(grid.records)  # rows (step, t, epoch, metric, value): equal where both record
    steps = sorted({r[0] for r in near.records})
    assert all(s % every == 0 for s in steps) and len(steps) < len({r[0] for r in grid.records})
    # far from the target the records thin out geometrically; near it, every grid point is recorded
    gap = {r[0]: r[4] for r in near.records if r[3] == "duality_gap"}
    dense = [s for s in steps if gap[s] <= 10.0 * target[1]]
    assert dense == list(range(dense[0], near.step + 1, every))


def test_near_target_without_a_target_is_the_grid():
    from sim import NearTarget

    K = 3
    a = simulate(NoisyQuadratic(K), _cluster(K), seed=2, budget=Budget(max_updates=200), record_every=7)
    b = simulate(NoisyQuadratic(K), _cluster(K), seed=2, budget=Budget(max_updates=200),
                 record_every=NearTarget(7))
    assert a.records == b.records


class _StepDrop(NoisyQuadratic):
    """A metric ``m`` = 1/(1 + messages applied) that drops to 1e-12 at the ``at``-th: faster than any pace."""

    def __init__(self, K: int, at: int) -> None:
        super().__init__(K, noise=0.0)
        self.applied, self.at = 0, at

    def apply(self, k, msg):
        super().apply(k, msg)
        self.applied += 1

    def metrics(self):
        m = 1.0 / (1.0 + self.applied) if self.applied < self.at else 1e-12
        return {"objective": m, "m": m}


def test_near_target_flags_a_target_reached_at_a_sparse_record():
    """A curve that falls faster than the schedule predicts is caught at a sparse record, and says so."""
    from sim import NearTarget

    K, target = 3, ("m", 1e-9)
    grid = simulate(_StepDrop(K, 40), _cluster(K), seed=0, budget=Budget(max_updates=1000, target=target),
                    record_every=1)
    res = simulate(_StepDrop(K, 40), _cluster(K), seed=0, budget=Budget(max_updates=1000, target=target),
                   record_every=NearTarget(1, ratio=2.0, margin=10.0))
    assert grid.status == res.status == "target_reached"
    assert (grid.step, grid.stopped_by) == (40, "target")
    assert (res.step, res.stopped_by) == (64, "target_sparse")  # sparse records at versions 1, 2, 4, ..., 32, 64
    assert [r[0] for r in res.records if r[3] == "m"] == [0, 1, 2, 4, 8, 16, 32, 64]


def test_near_target_fast_replay_matches_simulate():
    """The vectorised schedule lookup (``first``) consumes the state as the per-version calls do."""
    from sim import NearTarget

    K = 4
    p, roles = _dfsdca(K)
    target = ("duality_gap", 1e-4 * roles().metrics()["duality_gap"])
    sched = NearTarget(2, 1.3, 10.0)
    sim = simulate(roles(), _cluster(K), seed=5, budget=Budget(max_epochs=100, target=target), record_every=sched)
    for engine in ("python", "fast"):
        rep = replay(sim.trace, roles(), seed=5, target=target, record_every=sched, engine=engine)
        assert rep.records == sim.records and rep.step == sim.step and np.array_equal(rep.params, sim.params)


@pytest.mark.parametrize("bad, msg", [
    (lambda: __import__("sim").NearTarget(0), "NearTarget.every must be None or an integer >= 1"),
    (lambda: __import__("sim").NearTarget(2, ratio=1.0), "NearTarget.ratio must be a finite number > 1"),
    (lambda: __import__("sim").NearTarget(2, margin=float("nan")), "NearTarget.margin must be a finite number > 1"),
    (lambda: simulate(NoisyQuadratic(2), _cluster(2), seed=0, budget=Budget(max_updates=3),
                      record_every=__import__("sim").NearTarget()), "NearTarget.every is None"),
])
def test_bad_near_target_is_named(bad, msg):
    with pytest.raises(ValueError, match=msg):
        bad()


def test_near_target_watches_a_rising_curve_at_every_grid_point():
    """A target metric that rises above twice its lowest value switches the schedule to the grid: a divergence
    that builds up over more than one sparse interval is caught where the grid catches it; one that blows up
    within a single sparse interval is caught at its end (same status, later ``diverged_at``), and says so."""
    from sim import NearTarget

    class Rising(_StepDrop):
        def __init__(self, K, at, growth):
            super().__init__(K, at)
            self.growth = growth

        def metrics(self):
            a = self.applied
            m = 1.0 / (1.0 + a) if a < self.at else self.growth ** (a - self.at)
            return {"objective": m, "m": m}

    K, target = 3, ("m", 1e-9)
    out = {}
    for growth in (2.0, 10.0):  # 1e6 x the start after 20 messages past the turn, or after 6
        runs = [simulate(Rising(K, 6 if growth == 2.0 else 20, growth), _cluster(K), seed=0,
                         budget=Budget(max_updates=1000, target=target), record_every=sched)
                for sched in (1, NearTarget(1, ratio=2.0, margin=10.0))]
        assert runs[0].status == runs[1].status == "diverged"
        out[growth] = runs
    grid, near = out[2.0]
    assert (near.diverged_at, near.step) == (grid.diverged_at, grid.step)
    assert set(near.records) <= set(grid.records) and len(near.records) < len(grid.records)
    grid, near = out[10.0]
    assert near.diverged_at > grid.diverged_at and near.stopped_by == "diverged_sparse"
    assert grid.stopped_by == "diverged"


def test_near_target_flags_no_sparse_stop_on_consecutive_grid_points():
    """Grid points 1, 2 and 3 are all recorded (ratio 1.5): a target crossed there is exact, not 'sparse'."""
    from sim import NearTarget

    K, target = 3, ("m", 1e-9)
    for at in (2, 3):
        grid = simulate(_StepDrop(K, at), _cluster(K), seed=0, budget=Budget(max_updates=1000, target=target),
                        record_every=1)
        res = simulate(_StepDrop(K, at), _cluster(K), seed=0, budget=Budget(max_updates=1000, target=target),
                       record_every=NearTarget(1, ratio=1.5, margin=10.0))
        assert (res.step, res.stopped_by) == (grid.step, "target") and res.records == grid.records


def test_a_study_reruns_a_sparse_stop_on_the_plain_grid(tmp_path, monkeypatch):
    """records="near_target": a run whose target is caught after skipped grid points is run again on the plain
    grid, so its stop and time to target are the grid's whatever the curve did."""
    from sim.records import _NearTargetDue
    from studies import run_study
    from studies.spec import AlgorithmSpec, BudgetSpec, Claim, ClusterSpec, DatasetSpec, StudySpec, Target

    def spec(records):
        return StudySpec(name="rec", title="toy", thesis_ref="Fig. 7", claim="c", problem="ridge", lam=0.1,
                         datasets=(DatasetSpec("ijcnn1", K=2, scale=0.02),),
                         algorithms=(AlgorithmSpec("dis-dfsdca", "A", {"eta": 1e-3, "H": 50, "T": "4*K"}),
                                     AlgorithmSpec("cocoa+", "B", {"H": 50})),
                         cluster=ClusterSpec(latency=1e-5), budget=BudgetSpec(max_epochs=30.0),
                         target=Target("duality_gap", 1e-3, relative=True), records=records,
                         claims=(Claim("A is faster", kind="faster", subject="a", baseline="b"),))

    grid = run_study(spec("epoch"), out=tmp_path / "e", progress=False)
    calls = []
    original = _NearTargetDue.observe

    def never_near(self, values, target):  # the worst case: the schedule never sees the target coming
        original(self, values, target)
        self.near = False
        calls.append(self.sparse_stop)

    monkeypatch.setattr(_NearTargetDue, "observe", never_near)
    near = run_study(spec("near_target"), out=tmp_path / "n", progress=False)
    assert any(calls)  # some run was caught at a sparse record, and was run again
    for a, b in zip(grid.runs, near.runs):
        assert (a.run_id, a.status, a.step, a.sim_time) == (b.run_id, b.status, b.step, b.sim_time)
    reached = [r.run_id for r in grid.runs if r.status == "target_reached"]
    assert reached  # ... and its records are the grid's own (the run again on the plain grid)
    for rid in reached:
        assert (tmp_path / "e" / "runs" / rid / "records.csv").read_bytes() == \
            (tmp_path / "n" / "runs" / rid / "records.csv").read_bytes()


def test_near_target_is_only_for_time_to_target_studies():
    import dataclasses

    from studies import get_study
    from studies.plan import grid_records

    with pytest.raises(ValueError, match="StudySpec.records='near_target' is for studies judged on time to target"):
        dataclasses.replace(get_study("ch3-gap"), records="near_target")  # its linear_rate claim
    with pytest.raises(ValueError, match="stop_at_target=False"):
        dataclasses.replace(get_study("ch3-speedup"), stop_at_target=False)
    assert grid_records(get_study("ch3-gap")) == "near_target"  # its step grid judges 'faster' only
    assert grid_records(get_study("ch2-svrg-vs-sgd")) == "epoch"  # lower_final claims, runs not stopped
