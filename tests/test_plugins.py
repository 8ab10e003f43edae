"""Plug-ins registered from outside the core run a study end to end, no core file edited.

Defined here, registered from this file and removed again afterwards:

* protocol ``"test-round-robin"``: K workers take turns; worker ``v mod K`` reads the current
  parameters (version v), computes, and its update is applied before the next worker reads. Its
  trace column ``turn`` (the version the read saw), its validation, staleness (always 0) and replay;
* problem ``"test-separable-quadratic"``: f(w) = 1/(2n) sum_i |w - c_i|^2 + lam/2 |w|^2 with c_i the
  data rows shifted by ``offset`` in every coordinate (a problem keyword, given through
  ``StudySpec.problem_kw``); w* = mean(c)/(1 + lam) in closed form (capability ``known_optimum``);
* algorithm ``"test-rr-sgd"``: mini-batch SGD whose roles use the round-robin protocol and inherit
  :class:`algorithms.probes.Measured` (default probes objective, suboptimality);
* probe ``"test_dist_to_opt_sq"``: |w - w*|^2, asked for through ``StudySpec(probes=...)``.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import scipy.optimize
import scipy.sparse as sp

import algorithms.probes as probes_mod
import algorithms.registry as registry
import sim.protocols as protocols
import studies.runner as runner
from algorithms.datasets import get_dataset
from algorithms.problem import Constants, KnownOptimum, Problem, Solution, require
from algorithms.probes import Measured, Probe, register_probe
from algorithms.registry import make_problem, make_roles, register_algorithm, register_problem
from algorithms.roles import Message
from sim import Budget, replay, simulate
from sim.cluster import Cluster, ConstantSpeed, Network
from sim.driver import payload_finite
from sim.protocols import Protocol, ProtocolProcesses, get_protocol, register_protocol
from sim.protocols.base import check_work
from sim.trace import IN_FLIGHT, MESSAGE, Trace, staleness_stats
from studies import AlgorithmSpec, BudgetSpec, ClusterSpec, DatasetSpec, StudySpec, Target, report, run_study
from studies.spec import Sweep, Tune, derive_seeds

PROTOCOL = "test-round-robin"
PROBLEM = "test-separable-quadratic"
ALGORITHM = "test-rr-sgd"
PROBE = "test_dist_to_opt_sq"


# --- the toy protocol --------------------------------------------------------------------------
class RoundRobin(Protocol):
    """Workers take turns: read at version v by worker v mod K, applied as version v + 1."""

    name = PROTOCOL
    int_columns = ("turn",)
    role_methods = ("read", "work", "apply")

    def processes(self, env, roles, clock, run, builder, rngs, stop):
        return RoundRobinProcesses(env, roles, clock, run, builder, rngs, stop)

    def validate(self, trace: Trace) -> None:
        n, K = trace.n_events, trace.K
        rows = np.arange(n)
        bad = np.flatnonzero((trace.kind[:n] != MESSAGE) | (trace.worker[:n] != rows % K)
                             | (trace.turn[:n] != rows))
        if bad.size:
            i = int(bad[0])
            raise ValueError(f"row {i}: a round-robin row i must be a message of worker i mod K = {i % K} "
                             f"reading turn {i}, got kind={trace.kind[i]}, worker={trace.worker[i]}, "
                             f"turn={trace.turn[i]}")
        early = np.flatnonzero(trace.t_read[1:n] < trace.t_arrival[:n - 1]) + 1 if n > 1 else []
        if len(early):
            raise ValueError(f"row {early[0]}: read before the previous turn's update was applied")
        flying = np.arange(n, len(trace))
        if flying.size > 1 or (flying.size and (trace.worker[n] != n % K or trace.turn[n] != n)):
            raise ValueError(f"rows {n}..{len(trace) - 1}: at most one read in flight, worker {n % K}'s at turn {n}")

    def staleness(self, trace: Trace) -> np.ndarray:
        return np.zeros(int(np.count_nonzero(trace.messages)), dtype=np.int64)

    def replay(self, trace: Trace, roles, rngs, run) -> None:
        worker, t_arrival = trace.worker.tolist(), trace.t_arrival.tolist()
        for i in range(trace.n_events):
            k = worker[i]
            msg = roles.work(k, roles.read(), rngs[k])
            check_work(trace, i, float(msg.work))
            roles.apply(k, msg)
            run.applied(float(msg.work), payload_finite(msg.payload), t_arrival[i])
            if run.done:
                return
        for i in range(trace.n_events, len(trace)):  # computed at the stop, never applied
            check_work(trace, i, float(roles.work(worker[i], roles.read(), rngs[worker[i]]).work))


class RoundRobinProcesses(ProtocolProcesses):
    def start(self) -> None:
        self.env.process(self._turns())

    def log_in_flight(self, k, entry) -> None:
        turn, t_read, t_done, t_arr, work = entry
        self.trace.append(IN_FLIGHT, k, t_read, t_done, t_arr, work, turn)

    def _turns(self):
        roles, clock, run, env = self.roles, self.clock, self.run, self.env
        t = 0.0
        while not run.done:
            turn = run.version
            k = turn % self.K
            params = roles.read()
            msg = roles.work(k, params, self.rngs[k])
            t_done = clock.done(k, t + clock.downlink(k, params.nbytes), float(msg.work))
            t_arr = t_done + clock.uplink(k, int(msg.nbytes))
            self.in_flight = {k: (turn, t, t_done, t_arr, float(msg.work))}
            yield env.timeout(max(0.0, t_arr - env.now))
            if run.done or run.beyond_time(t_arr):
                break
            self.in_flight = {}
            roles.apply(k, msg)
            self.trace.append(MESSAGE, k, t, t_done, t_arr, float(msg.work), turn)
            run.applied(float(msg.work), run.finite(msg.payload), t_arr)
            t = t_arr
        self._finish()


# --- the toy problem, algorithm and probe --------------------------------------------------------
class SeparableQuadratic(Problem, KnownOptimum):
    """f(w) = 1/(2n) sum_i |w - c_i|^2 + lam/2 |w|^2; w* = mean_i c_i / (1 + lam)."""

    name = PROBLEM

    def __init__(self, C: np.ndarray, lam: float, offset: float = 0.0) -> None:
        self.C = np.asarray(C.toarray() if sp.issparse(C) else C, dtype=np.float64) + float(offset)
        self.n, self.d = self.C.shape
        self.lam = float(lam)
        self.c_bar = self.C.mean(axis=0)

    def value(self, w):
        r = w - self.C
        return 0.5 * float(np.einsum("ij,ij->", r, r)) / self.n + 0.5 * self.lam * float(w @ w)

    def grad(self, w):
        return (1.0 + self.lam) * w - self.c_bar

    def batch_grad(self, w, idx):
        return (1.0 + self.lam) * w - self.C[np.asarray(idx)].mean(axis=0)

    def constants(self):
        return Constants(L=1.0, L_max=1.0, mu=1.0 + self.lam, lam=self.lam, n=self.n, d=self.d,
                         exact={"L": True, "L_max": True, "mu": True}, how={"L": "Hessian (1 + lam) I"})

    def solution(self):
        w = self.c_bar / (1.0 + self.lam)
        return Solution(w, self.value(w), "closed form mean(c)/(1 + lam)")


def separable_quadratic(data, *, lam: float = 0.1, offset: float = 0.0) -> SeparableQuadratic:
    return SeparableQuadratic(data.X, lam, offset)


class RoundRobinSGD(Measured):
    """w <- w - eta * (mini-batch gradient at the current w), one worker per turn."""

    name = ALGORITHM
    protocol = PROTOCOL
    round_length = None

    def __init__(self, problem, K: int, *, eta: float, batch: int = 4) -> None:
        require(problem, "known_optimum", who=ALGORITHM)
        self.problem, self.K, self.eta, self.batch = problem, int(K), float(eta), int(batch)
        self.epoch_work = float(problem.n)
        self.samples_per_message = self.batch
        self._w = np.array(problem.initial_point(), dtype=np.float64)

    @property
    def params(self) -> np.ndarray:
        return self._w

    def read(self) -> np.ndarray:
        return self._w.copy()

    def work(self, k, params, rng) -> Message:
        g = self.problem.batch_grad(params, rng.integers(0, self.problem.n, size=self.batch))
        return Message(g, float(self.batch), g.nbytes)

    def apply(self, k, msg) -> None:
        self._w -= self.eta * msg.payload


def _dist_to_opt_sq(ctx) -> float:
    r = ctx.params - ctx.problem.solution().w
    return float(r @ r)


# --- registration, undone after each test --------------------------------------------------------
@pytest.fixture
def plugins():
    saved = (dict(protocols._REGISTRY), dict(registry.ALGORITHMS), dict(registry.PROBLEMS), dict(probes_mod.PROBES))
    register_protocol(RoundRobin())
    register_problem(PROBLEM, separable_quadratic)
    register_algorithm(ALGORITHM, RoundRobinSGD)
    register_probe(Probe(PROBE, _dist_to_opt_sq, needs=("known_optimum",), doc="|w - w*|^2"))
    try:
        yield
    finally:
        for table, old in zip((protocols._REGISTRY, registry.ALGORITHMS, registry.PROBLEMS, probes_mod.PROBES), saved):
            table.clear()
            table.update(old)
        for cache in (runner._PROBLEMS, runner._PILOTS):  # the runner's per-process caches
            for key in [k for k in cache if PROBLEM in k or any(str(x).startswith("test-plugins") for x in k)]:
                del cache[key]
        assert PROTOCOL not in protocols.protocol_names() and ALGORITHM not in registry.ALGORITHMS


DATASET = DatasetSpec("ijcnn1", K=3, scale=0.01)  # n = 500, d = 22, unit-norm rows
OFFSET = 1.0  # moves w* away from w0 = 0, so that the step size matters
CLUSTER = ClusterSpec(speed="constant", speed_params={"time_per_work": 1e-6}, straggler="none", latency=1e-5)


def the_cluster(K: int) -> Cluster:
    """The cluster CLUSTER describes, built here by hand (independently of the runner)."""
    return Cluster.homogeneous(K, speed=ConstantSpeed(1e-6), network=Network(latency=1e-5))


def toy_spec(name: str, hyper: dict, **kw) -> StudySpec:
    fields = dict(title="Round-robin SGD on a separable quadratic", thesis_ref="none (a plug-in test)",
                  claim="Round-robin SGD converges on a strongly convex quadratic.", problem=PROBLEM, lam=0.1,
                  datasets=(DATASET,), algorithms=(AlgorithmSpec(ALGORITHM, "RR SGD", hyper),), cluster=CLUSTER,
                  problem_kw={"offset": OFFSET}, budget=BudgetSpec(max_epochs=2.0),
                  target=Target("suboptimality", 1e-3, relative=True), seeds=2)
    fields.update(kw)
    return StudySpec(name=name, **fields)


def fresh_problem(task_dataset=DATASET):
    data_seed = derive_seeds(task_dataset, task_dataset.K, 0)[0]
    return make_problem(PROBLEM, get_dataset(task_dataset.name, scale=task_dataset.scale, seed=data_seed), lam=0.1,
                        offset=OFFSET)


# --- the tests ------------------------------------------------------------------------------------
def test_toy_problem_optimum_matches_scipy(plugins):
    """The closed-form w* agrees with an L-BFGS solve, and make_problem finds the toy problem."""
    p = fresh_problem()
    assert "known_optimum" in p.capabilities
    ref = scipy.optimize.minimize(p.value, np.zeros(p.d), jac=p.grad, method="L-BFGS-B",
                                  options={"gtol": 1e-12, "ftol": 1e-15})
    np.testing.assert_allclose(p.solution().w, ref.x, atol=1e-7)
    assert p.solution().value == pytest.approx(ref.fun, rel=1e-12)
    np.testing.assert_allclose(p.batch_grad(ref.x, np.arange(p.n)), p.grad(ref.x), atol=1e-12)


def test_round_robin_trace_rules(plugins):
    """Simulated traces validate (turns in order, staleness 0); a swapped turn is refused; the
    protocol's column survives save/load."""
    roles = make_roles(ALGORITHM, fresh_problem(), 3, eta=0.1)
    res = simulate(roles, the_cluster(3), seed=5, budget=Budget(max_updates=20))
    tr = res.trace
    assert tr.protocol == PROTOCOL and len(tr) == 20 and res.step == 20
    assert tr.worker.tolist() == [i % 3 for i in range(20)] and tr.turn.tolist() == list(range(20))
    assert staleness_stats(tr).max == 0 and np.all(tr.t_read[1:] >= tr.t_arrival[:-1])
    cols = dict(tr.columns)
    cols["worker"] = tr.worker.copy()
    cols["worker"][[3, 4]] = cols["worker"][[4, 3]]
    with pytest.raises(ValueError, match="row 3: a round-robin row"):
        Trace(cols, K=3, protocol=PROTOCOL, round_length=None, t_end=tr.t_end).validate()
    timed = Budget(max_time=float(tr.t_arrival[4]) + 1e-7)
    cut = simulate(make_roles(ALGORITHM, fresh_problem(), 3, eta=0.1), the_cluster(3), seed=5, budget=timed)
    assert cut.step == 5 and cut.trace.kind[-1] == IN_FLIGHT and cut.trace.turn[-1] == 5
    r = replay(cut.trace, make_roles(ALGORITHM, fresh_problem(), 3, eta=0.1), seed=5)
    assert np.array_equal(r.params, cut.params)


def test_study_end_to_end_with_sweep_probe_replay_and_report(plugins, tmp_path):
    """A swept study with an extra probe: one run per (eta, seed) with eta in the id, the probe in
    the records, the saved trace replays bit-identically, and the report is written."""
    spec = toy_spec("test-plugins-sweep", {"eta": Sweep((0.05, 0.2)), "batch": 4},
                    probes=("objective", "suboptimality", PROBE))
    res = run_study(spec, out=tmp_path, progress=False)
    assert len(res.runs) == 4
    assert sorted(r.run_id for r in res.runs) == sorted(
        f"test-plugins-sweep[K=3,algorithm=rr-sgd,dataset=ijcnn1,eta={eta},scale=0.01,seed={s}]"
        for eta in ("0.05", "0.2") for s in (0, 1))
    for r in res.runs:
        assert r.status in ("finished", "target_reached"), (r.run_id, r.status, r.error)
        assert r.step > 0 and r.staleness.max == 0
        assert r.hyper["eta"] == float(r.params["eta"])
    frame = res.to_frame()
    assert set(frame["metric"]) == {"objective", "suboptimality", PROBE}
    assert len(frame) and set(frame["run_id"]) == {r.run_id for r in res.runs}

    p = fresh_problem()
    w_star = p.solution().w
    first = frame[(frame["metric"] == PROBE) & (frame["step"] == 0)]["value"].to_numpy()
    np.testing.assert_array_equal(first, np.full(4, float(w_star @ w_star)))  # w0 = 0

    run = next(r for r in res.runs if r.params["eta"] == "0.2" and r.params["seed"] == 1)
    rdir = tmp_path / "runs" / run.run_id
    trace = Trace.load(rdir / "trace.npz")
    assert trace.protocol == PROTOCOL and list(trace.columns)[-1] == "turn"
    saved = pd.read_csv(rdir / "records.csv")
    every = int(np.diff(np.unique(saved["step"]))[0])  # the target is only seen at a record
    # the simulated params, recomputed from the run's own seed, budget and record spacing
    budget = Budget(max_epochs=2.0, target=("suboptimality", run.info["target_value"]))
    sim_res = simulate(make_roles(ALGORITHM, p, 3, eta=0.2, batch=4).use_probes(spec.probes), the_cluster(3),
                       seed=run.info["sim_seed"], budget=budget, record_every=every)
    assert set(sim_res.trace.columns) == set(trace.columns)
    assert all(np.array_equal(sim_res.trace.columns[c], trace.columns[c]) for c in trace.columns)
    assert sim_res.status == run.status and sim_res.step == run.step
    rep = replay(trace, make_roles(ALGORITHM, p, 3, eta=0.2, batch=4).use_probes(spec.probes),
                 seed=run.info["sim_seed"], record_every=every)
    assert rep.params.tobytes() == sim_res.params.tobytes()
    assert rep.step == run.step and rep.epochs == run.epochs
    got = rep.records_frame()
    assert got["step"].tolist() == saved["step"].tolist() and got["metric"].tolist() == saved["metric"].tolist()
    assert got["value"].to_numpy().tobytes() == saved["value"].to_numpy().tobytes()

    files = report(tmp_path)
    assert files.markdown.exists() and files.html.exists()
    assert "Round-robin SGD on a separable quadratic" in files.markdown.read_text(encoding="utf-8")


def test_tune_best_final_picks_the_lowest_pilot(plugins, tmp_path):
    """Tune(values, rule="best-final") picks the value whose pilot ends lowest; each pilot re-run
    here by hand (repetition 0's seed, max_epochs capped at pilot_epochs). A diverging value is
    excluded, and the pick is not the first value (the rule's fallback)."""
    values = (0.002, 3.0, 0.3, 0.05)
    tune = Tune(values, rule="best-final", metric="suboptimality", pilot_epochs=1.0)
    spec = toy_spec("test-plugins-tune", {"eta": tune}, seeds=1, stop_at_target=False)
    res = run_study(spec, out=tmp_path, progress=False)
    (run,) = res.runs
    assert run.status == "finished", run.error
    assert "eta" not in run.run_id

    p = fresh_problem()
    seed = derive_seeds(DATASET, 3, 0)[1]
    finals = {}
    for eta in values:
        pilot = simulate(make_roles(ALGORITHM, p, 3, eta=eta), the_cluster(3), seed=seed, budget=Budget(max_epochs=1.0))
        last = [v for (_, _, _, m, v) in pilot.records if m == "suboptimality"][-1]
        if pilot.status != "diverged" and math.isfinite(last):
            finals[eta] = last
    assert 3.0 not in finals and len(set(finals.values())) == len(finals)
    best = min(finals, key=finals.get)
    assert best != values[0]
    assert run.hyper["eta"] == best, (run.hyper, finals, run.info["hyper_rule"])
    assert "best-final" in run.info["hyper_rule"]


def test_registrations_are_undone():
    """Outside the fixture the toy plug-ins are unknown (the fixture restored the registries)."""
    with pytest.raises(ValueError, match="protocol must be one of"):
        get_protocol(PROTOCOL)
    assert ALGORITHM not in registry.ALGORITHMS and PROBLEM not in registry.PROBLEMS
    assert PROBE not in probes_mod.PROBES
