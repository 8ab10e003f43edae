"""Adversarial delays: search the delay traces a theorem's assumption allows for the one that makes the
measured metric largest relative to the theorem's bound, at an admissible step.

A search is declared (:class:`AdversarySearch`, the catalogue in ``studies/thesis/adversarial.py``):
an algorithm on a problem with K workers and a round length R, a theorem whose delay symbol (tau of
Assumption 3.4.2, Delta of Assumption 2.2.4) is bounded by ``delay`` (at most R - 1, what round
gating allows, so every trace the simulator can produce is in the search space), the step =
``step_scale`` x the theorem's largest admissible step at that delay, and a :class:`Measure`
turning the replayed records into (measured, bound).

The space: one *schedule* per trace, N = rounds x R updates, each with a worker, a delay s in
[0, delay] and a scan fraction in [0, 1]; the protocol's ``from_delays`` turns it into the stalest
trace its rules allow (one update in flight per worker, round gating; under shared memory the scan
fraction says how many of the missed writes landed during the read, on a coordinate prefix, eq.
2.6). Every realised delay is <= s <= delay, so each candidate satisfies the assumption. The worker
sequence is the adversary's too (``workers="free"``) or an i.i.d. uniform draw it cannot change
(``"uniform"``: where each worker samples its own shard, an adversarial order would break the
analyses' premise that an update's samples are uniform over all n, e.g. E v_i^t = grad P after 3.13).

One evaluation replays the real algorithm numerics over the candidate trace
(:func:`sim.replay.replay`, fresh roles, ``seeds`` algorithm seeds averaged: the theorems bound
expectations over the algorithm's sampling, not over the delays) and returns measured / bound, the
bound taken at the declared delay bound (the instance of the theorem every candidate satisfies, so
the bound is the same for every trace and the search maximises the metric; the ratio with the bound
at the trace's realised maximum delay, a sharper instance it also satisfies, is reported beside).
The optimiser: random restarts (the first from the all-maximal-delay round-robin
schedule, the second from a one-straggler schedule) and hill climbing by local mutations of
windows of the schedule, all draws from one
``numpy.random.Generator(seed)``, budgeted in evaluations. A ratio > 1 is a violation of the
theorem's statement: a finding, reported with its trace, not an error.

The baseline: the same evaluation on the trace a simulation on the declared cluster produced (same
K, R, N), whose delays are within the same bound. The worst trace is saved (``worst.npz`` plus
``worst.json``: what replays it) and :func:`replay_saved` recomputes its ratio from the files.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from .bindings import SOURCES, Constant, Expr, Hyper, Measured, RunFacts, TraceStat, Value, resolve
from .spec import ClusterSpec

__all__ = ["AverageBound", "RoundContraction", "AdversarySearch", "Evaluation", "SearchResult", "Setup",
           "setup", "evaluate", "search", "baseline", "save_worst", "replay_saved", "write_report"]


# --- what is measured -------------------------------------------------------------------------
@dataclass(frozen=True)
class AverageBound:
    """The mean of ``probe`` over the iterates w_0 .. w_{N-1} (seed mean) against the theorem's bound
    after N iterations (its iteration symbol), with theorem symbols bound to the first record of a
    probe (``first``, e.g. an initial suboptimality). Along the trace: the running mean against the
    bound at t iterations."""

    probe: str
    first: Mapping[str, str] = field(default_factory=dict)
    kind = "average"

    def probes(self) -> tuple[str, ...]:
        return (self.probe,) + tuple(self.first.values())

    def record_every(self, R: int) -> int:
        return 1

    def secondary(self, measured: float, bound: float) -> tuple[str, float] | None:
        return None

    def judge(self, thm, params: dict, values: dict[str, np.ndarray], N: int, R: int):
        """(measured, bound, curve (t, running mean, bound at t)) from seed-mean records at versions 0..N."""
        x = values[self.probe][:N]
        measured = float(np.mean(x))
        sym = {**params, **{s: float(values[p][0]) for s, p in self.first.items()}}
        t = np.arange(1, N + 1, dtype=np.float64)
        bounds = np.asarray(thm.bound(T=t, **sym), dtype=np.float64)
        return measured, float(bounds[-1]), (t, np.cumsum(x) / t, bounds)


@dataclass(frozen=True)
class RoundContraction:
    """The worst per-round contraction E[C_{s+1}] / E[C_s] of ``probe`` recorded at round boundaries
    (seed means) against the theorem's per-round bound; along the trace: E[C_s]/E[C_0] against
    bound^s."""

    probe: str
    kind = "contraction"

    def probes(self) -> tuple[str, ...]:
        return (self.probe,)

    def record_every(self, R: int) -> int:
        return R

    def secondary(self, measured: float, bound: float) -> tuple[str, float] | None:
        """(1 - bound)/(1 - measured): the decrease per round the theorem promises over the one measured
        (> 1 exactly when measured > bound, a violation; near 1 ratios hide how loose a bound near 1 is)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            v = (1.0 - bound) / (1.0 - measured) if measured < 1 else math.inf
        return "promised / measured decrease per round, (1 - bound)/(1 - measured)", float(v)

    def judge(self, thm, params: dict, values: dict[str, np.ndarray], N: int, R: int):
        c = values[self.probe]
        bound = float(thm.evaluate_bound(T=R, **params))
        with np.errstate(divide="ignore", invalid="ignore"):
            per_round = c[1:] / c[:-1]
        per_round = np.where(np.isfinite(per_round), per_round, np.inf)
        s = np.arange(c.size, dtype=np.float64)
        return float(np.max(per_round)), bound, (s, c / c[0], bound ** s)


Measure = AverageBound | RoundContraction


# --- a search declaration ------------------------------------------------------------------------
#: who writes each update: "free" = the adversary chooses (and mutates) the worker sequence; "uniform" =
#: an i.i.d. uniform sequence drawn once from the search's Generator and never changed, for analyses
#: whose sampling premise (each update's samples uniform over all n) fails when the order is chosen
#: adversarially and every worker samples only its own shard
WORKER_MODES = ("free", "uniform")

@dataclass(frozen=True)
class AdversarySearch:
    """One adversarial search (see the module docstring). ``hyper``: the algorithm's hyper-parameters
    but the step (numbers or expressions over n, d, K, lam, L_max, L); ``round_hyper`` names the one
    that is the round length R; ``symbols``: the theorem's symbols other than the step, the delay and
    what ``measure`` binds (Constant / Hyper / Expr / Value sources, :mod:`studies.bindings`)."""

    name: str
    title: str
    theorem: str
    algorithm: str
    problem: str
    dataset: str
    K: int
    hyper: Mapping[str, Any]
    round_hyper: str
    step: str
    delay_symbol: str
    delay: str
    symbols: Mapping[str, Any]
    measure: Measure
    rounds: int
    quick_rounds: int
    scale: float = 1.0
    quick_scale: float = 1.0
    lam: float = 0.1
    problem_kw: Mapping[str, Any] = field(default_factory=dict)
    step_scale: float = 1.0
    seeds: int = 2
    quick_seeds: int = 1
    budget: int = 200
    quick_budget: int = 12
    quick_hyper: Mapping[str, Any] = field(default_factory=dict)
    restarts: int = 4
    workers: str = "free"
    cluster: ClusterSpec | None = None
    thesis_ref: str = ""
    notes: str = ""

    def __post_init__(self) -> None:
        from .bindings import check_theorem_symbols

        if not isinstance(self.name, str) or not self.name or any(c.isspace() for c in self.name):
            raise ValueError(f"AdversarySearch.name must be a non-empty string without spaces, got {self.name!r}")
        for k, v in self.symbols.items():
            if not isinstance(v, SOURCES) or isinstance(v, (TraceStat, Measured)):
                raise ValueError(f"AdversarySearch.symbols[{k!r}] must be a Constant, Hyper, Expr or Value source "
                                 f"(the delay and the measured symbols are bound by the search), got {v!r}")
        params, _ = check_theorem_symbols("AdversarySearch", self.theorem, self.symbols)
        for what, sym in (("delay_symbol", self.delay_symbol), ("step", self.step)):
            if sym not in params:
                raise ValueError(f"AdversarySearch.{what} must be one of {self.theorem}'s parameters "
                                 f"{', '.join(params)}, got {sym!r}")
        for what, v in (("K", self.K), ("rounds", self.rounds), ("quick_rounds", self.quick_rounds),
                        ("seeds", self.seeds), ("quick_seeds", self.quick_seeds), ("budget", self.budget),
                        ("quick_budget", self.quick_budget), ("restarts", self.restarts)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"AdversarySearch.{what} must be an integer >= 1, got {v!r}")
        if not (isinstance(self.step_scale, (int, float)) and 0 < self.step_scale <= 1):
            raise ValueError(f"AdversarySearch.step_scale must be in (0, 1] (an admissible step), "
                             f"got {self.step_scale!r}")
        if self.workers not in WORKER_MODES:
            raise ValueError(f"AdversarySearch.workers must be one of {WORKER_MODES}, got {self.workers!r}")
        if self.round_hyper not in self.hyper:
            raise ValueError(f"AdversarySearch.round_hyper must name one of hyper's keys {sorted(self.hyper)}, "
                             f"got {self.round_hyper!r}")


# --- the concrete setting -----------------------------------------------------------------------
@dataclass
class Setup:
    """A declaration made concrete: the problem, the roles' factory, R, the delay bound, the step, the
    theorem's static symbols, the protocol and what its traces need."""

    spec: AdversarySearch
    quick: bool
    problem: Any
    hyper: dict
    R: int
    N: int
    delay: int
    eta: float
    max_step: float
    params: dict
    seeds: tuple[int, ...]
    protocol: Any
    meta: dict
    check: Any

    @property
    def theorem(self):
        import bounds

        return bounds.get(self.spec.theorem)

    def roles(self):
        from algorithms.registry import make_roles

        probes = ("objective",) + tuple(p for p in self.spec.measure.probes() if p != "objective")
        return make_roles(self.spec.algorithm, self.problem, self.spec.K, **self.hyper).use_probes(probes)


def setup(spec: AdversarySearch, *, quick: bool = False, seeds: tuple[int, ...] | None = None) -> Setup:
    """The problem, the step (step_scale x the theorem's max_step at the declared delay) and the rest."""
    import bounds
    from algorithms.datasets import get_dataset
    from algorithms.registry import make_problem, make_roles
    from sim.protocols import get_protocol

    from .runner import concrete_hyper, problem_constants
    from .spec import eval_expression

    data = get_dataset(spec.dataset, scale=spec.quick_scale if quick else spec.scale, seed=0)
    names = {"n": data.n, "d": data.d, "K": spec.K, "lam": float(spec.lam)}
    kw = {"lam": float(spec.lam)}
    for k, v in spec.problem_kw.items():
        kw[k] = eval_expression(v.text, names) if isinstance(v, Expr) else v
    problem = make_problem(spec.problem, data, **kw)
    consts = {k: v for k, v in problem_constants(problem).items() if v is not None}
    names = {**consts, "K": spec.K}
    hyper = concrete_hyper({**spec.hyper, **(spec.quick_hyper if quick else {})}, names)
    R = int(hyper[spec.round_hyper])
    delay = int(eval_expression(spec.delay, {**names, **{k: v for k, v in hyper.items()
                                                          if isinstance(v, (int, float))}}))
    if not 0 <= delay <= R - 1:
        raise ValueError(f"{spec.name}: delay {spec.delay!r} = {delay} must be in [0, R - 1 = {R - 1}] (round "
                         f"gating with round length {spec.round_hyper} = {R} allows no more)")
    thm = bounds.get(spec.theorem)
    facts = RunFacts(constants=names, hyper=hyper)
    params = resolve(spec.symbols, facts)
    limit = thm.max_step(**{k: v for k, v in {**params, spec.delay_symbol: delay}.items()
                            if k != spec.step})
    if not (math.isfinite(limit) and limit > 0):
        raise ValueError(f"{spec.name}: {spec.theorem}'s max_step at {spec.delay_symbol} = {delay} is {limit!r}; "
                         "no admissible step to search at")
    eta = float(spec.step_scale * limit)
    hyper[spec.step] = eta
    check = thm.check(**{**params, spec.delay_symbol: delay, spec.step: eta})
    n_seeds = spec.quick_seeds if quick else spec.seeds
    roles = make_roles(spec.algorithm, problem, spec.K, **hyper)
    proto = get_protocol(roles.protocol)
    if not callable(getattr(proto, "from_delays", None)):
        raise ValueError(f"{spec.name}: protocol {proto.name!r} builds no trace from a delay schedule "
                         "(it has no from_delays)")
    return Setup(spec=spec, quick=quick, problem=problem, hyper=hyper, R=R,
                 N=R * (spec.quick_rounds if quick else spec.rounds), delay=delay, eta=eta, max_step=float(limit),
                 params=params, seeds=tuple(seeds) if seeds is not None else tuple(range(n_seeds)), protocol=proto,
                 meta=proto.trace_meta(roles), check=check)


# --- one evaluation -------------------------------------------------------------------------------
@dataclass
class Evaluation:
    """measured / bound on one trace (seed means), the realised maximum delay and the curves."""

    ratio: float
    measured: float
    bound: float
    max_delay: int
    curve: tuple
    status: str
    ratio_realised: float = math.nan


def evaluate(st: Setup, trace, seeds: tuple[int, ...] | None = None) -> Evaluation:
    """Replay the algorithm over ``trace`` for each seed (fresh roles), average the records, judge."""
    from sim.replay import replay

    seeds = st.seeds if seeds is None else tuple(seeds)
    every = st.spec.measure.record_every(st.R)
    probes = st.spec.measure.probes()
    n_rec = st.N // every + 1
    acc = {p: np.zeros(n_rec) for p in probes}
    status = "finished"
    for s in seeds:
        res = replay(trace, st.roles(), seed=int(s), record_every=every)
        if res.status == "diverged" or res.step < st.N:
            status = res.status
            for p in probes:
                acc[p][:] = np.inf
            break
        for step, _t, _e, name, value in res.records:
            if name in acc and step % every == 0 and step // every < n_rec:
                acc[name][step // every] += value / len(seeds)
    delays = trace.staleness()
    max_delay = int(delays.max()) if delays.size else 0
    if max_delay > st.delay:
        raise ValueError(f"the trace's delay {max_delay} exceeds the bound {st.spec.delay_symbol} = {st.delay} "
                         "the search holds the theorem to")
    if status != "finished":
        return Evaluation(math.inf, math.inf, math.nan, max_delay, (np.zeros(0),) * 3, status, math.inf)
    params = {**st.params, st.spec.delay_symbol: st.delay, st.spec.step: st.eta}
    measured, bound, curve = st.spec.measure.judge(st.theorem, params, acc, st.N, st.R)
    _, tight, _ = st.spec.measure.judge(st.theorem, {**params, st.spec.delay_symbol: max_delay}, acc, st.N, st.R)
    ratio = measured / bound if bound > 0 else math.inf
    return Evaluation(float(ratio), measured, bound, max_delay, curve, status,
                      float(measured / tight) if tight > 0 else math.inf)


# --- the search space and the optimiser -----------------------------------------------------------
@dataclass
class Schedule:
    workers: np.ndarray
    delays: np.ndarray
    scans: np.ndarray

    def copy(self) -> "Schedule":
        return Schedule(self.workers.copy(), self.delays.copy(), self.scans.copy())

    def trace(self, st: Setup):
        return st.protocol.from_delays(self.workers, self.delays, self.scans, K=st.spec.K, round_length=st.R,
                                       meta=st.meta)


def stalest(st: Setup) -> Schedule:
    """Round-robin workers, every delay at the bound, every missed write after the read (scan 0)."""
    N = st.N
    return Schedule(np.arange(N, dtype=np.int64) % st.spec.K, np.full(N, st.delay, dtype=np.int64), np.zeros(N))


def straggler(st: Setup) -> Schedule:
    """Worker 0 writes once per round, last, from the round's first version (delay R - 1 when the bound
    allows); the others round-robin at the bound in between."""
    N, R, K = st.N, st.R, st.spec.K
    i = np.arange(N)
    workers = np.where(i % R == R - 1, 0, 1 + (i % R) % max(1, K - 1)) if K > 1 else np.zeros(N, dtype=np.int64)
    return Schedule(workers.astype(np.int64), np.full(N, st.delay, dtype=np.int64), np.zeros(N))


def random_schedule(st: Setup, rng: np.random.Generator) -> Schedule:
    N = st.N
    return Schedule(rng.integers(st.spec.K, size=N), rng.integers(st.delay + 1, size=N), rng.random(N))


def uniform_workers(st: Setup, rng: np.random.Generator) -> np.ndarray:
    return rng.integers(st.spec.K, size=st.N)


def mutate(sched: Schedule, st: Setup, rng: np.random.Generator) -> Schedule:
    """A local move on a random window (length 1 .. max(1, N/8)): delays set to the bound, to 0 or drawn;
    workers made round-robin from a random offset, drawn, or two swapped; scans set to 0, 1 or drawn."""
    out = sched.copy()
    N = st.N
    span = int(rng.integers(1, max(1, N // 8) + 1))
    a = int(rng.integers(0, N - span + 1))
    w = slice(a, a + span)
    move = int(rng.choice(np.array([0, 1, 2, 5]))) if st.spec.workers == "uniform" else int(rng.integers(6))
    if move == 0:
        out.delays[w] = st.delay
    elif move == 1:
        out.delays[w] = 0
    elif move == 2:
        out.delays[w] = rng.integers(st.delay + 1, size=span)
    elif move == 3:
        out.workers[w] = (np.arange(span) + int(rng.integers(st.spec.K))) % st.spec.K
    elif move == 4:
        i, j = rng.integers(N, size=2)
        out.workers[[i, j]] = out.workers[[j, i]]
        out.workers[w] = np.where(rng.random(span) < 0.25, rng.integers(st.spec.K, size=span), out.workers[w])
    else:
        out.scans[w] = rng.choice(np.array([0.0, 1.0, float(rng.random())]))
    return out


@dataclass
class SearchResult:
    setup: Setup
    budget: int
    seed: int
    best: Evaluation
    best_schedule: Schedule
    best_trace: Any
    history: np.ndarray  # best ratio after each evaluation
    seconds: float


def search(st: Setup, *, budget: int, seed: int, restarts: int | None = None,
           progress: Callable[[int, float], None] | None = None) -> SearchResult:
    """Random restarts + hill climbing over schedules, ``budget`` evaluations, draws from Generator(seed)."""
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        raise ValueError(f"budget must be an integer >= 1 (evaluations), got {budget!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    restarts = st.spec.restarts if restarts is None else restarts
    restarts = max(1, min(int(restarts), budget))
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    history = np.empty(budget)
    best = best_sched = best_trace = None
    used = 0
    # workers="uniform": one i.i.d. uniform worker sequence, fixed; only delays and scans are searched
    fixed = uniform_workers(st, rng) if st.spec.workers == "uniform" else None
    for r in range(restarts):
        share = budget // restarts + (1 if r < budget % restarts else 0)
        if fixed is not None:
            cur_sched = stalest(st) if r == 0 else random_schedule(st, rng)
            cur_sched.workers = fixed.copy()
        else:
            cur_sched = stalest(st) if r == 0 else straggler(st) if r == 1 else random_schedule(st, rng)
        cur = None
        for _ in range(share):
            cand = cur_sched if cur is None else mutate(cur_sched, st, rng)
            tr = cand.trace(st)
            ev = evaluate(st, tr)
            if cur is None or not ev.ratio < cur.ratio:
                cur, cur_sched = ev, cand
            if best is None or ev.ratio > best.ratio:
                best, best_sched, best_trace = ev, cand, tr
            history[used] = best.ratio
            used += 1
            if progress is not None:
                progress(used, best.ratio)
    return SearchResult(st, budget, seed, best, best_sched, best_trace, history, time.perf_counter() - t0)


def baseline(st: Setup, *, seed: int = 0):
    """(evaluation, trace) on the trace a simulation on the declared cluster records: same K, R and N."""
    from sim import Budget, simulate

    from .runner import build_cluster

    if st.spec.cluster is None:
        raise ValueError(f"{st.spec.name}: no cluster declared, so there is no simulated baseline")
    res = simulate(st.roles(), build_cluster(st.spec.cluster, st.spec.K), seed=seed, budget=Budget(max_updates=st.N),
                   record_every=st.N)
    tr = res.trace
    delays = tr.staleness()
    if delays.size and delays.max() > st.delay:
        raise ValueError(f"{st.spec.name}: the simulated trace's delay {int(delays.max())} exceeds the bound "
                         f"{st.delay}; the baseline would be outside the theorem's assumption")
    return evaluate(st, tr), tr


# --- files -----------------------------------------------------------------------------------
def _num(x: float):
    return x if math.isfinite(x) else str(x)


def save_worst(result: SearchResult, out: Path) -> Path:
    """Write ``worst.npz`` (the trace) and ``worst.json`` (what replays it and what it gave)."""
    st = result.setup
    out.mkdir(parents=True, exist_ok=True)
    result.best_trace.save(out / "worst.npz")
    info = {"search": st.spec.name, "theorem": st.spec.theorem, "algorithm": st.spec.algorithm,
            "problem": st.spec.problem, "dataset": st.spec.dataset, "quick": st.quick, "K": st.spec.K,
            "hyper": {k: (v if isinstance(v, (int, float, str)) else repr(v)) for k, v in st.hyper.items()},
            "step": st.eta, "max_step": st.max_step, "delay_bound": st.delay, "seeds": list(st.seeds),
            "updates": st.N, "budget": result.budget, "search_seed": result.seed,
            "ratio": _num(result.best.ratio), "measured": _num(result.best.measured),
            "bound": _num(result.best.bound), "max_delay": result.best.max_delay,
            "ratio_at_realised_delay": _num(result.best.ratio_realised), "seconds": result.seconds}
    path = out / "worst.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(info, indent=1, sort_keys=True))
    tmp.replace(path)
    return path


def replay_saved(path: str | Path, catalogue: Mapping[str, AdversarySearch]) -> tuple[Evaluation, dict]:
    """Re-evaluate a saved worst trace from its files (``worst.json`` beside ``worst.npz``)."""
    from sim.trace import Trace

    path = Path(path)
    try:
        info = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{str(path)!r} is not a worst.json written by an adversarial search "
                         f"({type(exc).__name__}: {exc})") from None
    if not isinstance(info, dict) or info.get("search") not in catalogue:
        raise ValueError(f"{str(path)!r}: 'search' must name a declared search ({', '.join(sorted(catalogue))}), "
                         f"got {info.get('search') if isinstance(info, dict) else info!r}")
    step, seeds = info.get("step"), info.get("seeds")
    if isinstance(step, bool) or not isinstance(step, (int, float)) or not (
            isinstance(seeds, list) and seeds and all(isinstance(x, int) and x >= 0 for x in seeds)):
        raise ValueError(f"{str(path)!r}: 'step' must be a number and 'seeds' a non-empty list of integers >= 0, "
                         f"got step={step!r}, seeds={seeds!r}")
    st = setup(catalogue[info["search"]], quick=bool(info.get("quick")), seeds=tuple(seeds))
    if not math.isclose(st.eta, float(info["step"]), rel_tol=1e-12):
        raise ValueError(f"{str(path)!r}: step {info['step']!r} differs from the search's step {st.eta!r} "
                         "(the theorem or the declaration changed since it was saved)")
    trace = Trace.load(path.with_suffix(".npz"))
    return evaluate(st, trace), info


# --- report --------------------------------------------------------------------------------------
def write_report(result: SearchResult, base: Evaluation | None, held_out: Evaluation | None, out: Path) -> Path:
    """report.md and figure.png: metric vs bound along the worst trace (and the baseline), best ratio
    vs evaluations."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    st, best = result.setup, result.best
    spec = st.spec
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.8))
    x, m, bd = best.curve
    if len(x):
        lab = "running mean" if spec.measure.kind == "average" else "E C_s / E C_0"
        a.plot(x, m, label=f"{lab}, worst trace")
        if base is not None and len(base.curve[0]):
            a.plot(base.curve[0], base.curve[1], "--", label=f"{lab}, simulated trace")
        a.plot(x, bd, "k:", label="theorem's bound")
        a.set_yscale("log")
        a.set_xlabel("iterations t" if spec.measure.kind == "average" else "rounds s")
    a.set_title(f"{spec.theorem}: {spec.measure.probe}")
    a.legend(fontsize=7)
    b.plot(np.arange(1, len(result.history) + 1), result.history, label="adversary (best so far)")
    if base is not None:
        b.axhline(base.ratio, color="C1", ls="--", label="simulated trace")
    b.axhline(1.0, color="k", ls=":", label="ratio 1 (violation above)")
    b.set_xlabel("evaluations")
    b.set_ylabel("measured / bound")
    seen = np.concatenate([result.history[np.isfinite(result.history)], [1.0]])
    if seen.min() > 0 and seen.max() / seen.min() > 10:
        b.set_yscale("log")
    b.legend(fontsize=7)
    fig.tight_layout()
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / "figure.png", dpi=110)
    plt.close(fig)
    verdict = ("VIOLATION: the measured metric exceeds the theorem's bound on an admissible trace"
               if best.ratio > 1 else "no violation found (ratio <= 1)")
    fmt = lambda v: f"{v:.4g}" if isinstance(v, float) else str(v)  # noqa: E731
    lines = [
        f"# Adversarial delays: {spec.name}", "", spec.title + (f" ({spec.thesis_ref})" if spec.thesis_ref else ""),
        "", f"**{verdict}.**", "",
        "| | value |", "|---|---|",
        f"| theorem | {spec.theorem} |", f"| algorithm / problem / data | {spec.algorithm} / {spec.problem} / "
        f"{spec.dataset} (n = {st.problem.n}, d = {st.problem.d}) |",
        f"| K, round length R, updates N | {spec.K}, {st.R}, {st.N} |",
        f"| delay bound {spec.delay_symbol} | {st.delay} (every trace searched satisfies it) |",
        f"| worker sequence | {'chosen by the adversary' if spec.workers == 'free' else 'i.i.d. uniform, fixed'} |",
        f"| step | {fmt(st.eta)} = {spec.step_scale:g} x max_step {fmt(st.max_step)}; conditions "
        f"{'hold' if st.check.holds else 'FAIL: ' + ', '.join(c.name for c in st.check.violated)} |",
        f"| algorithm seeds averaged | {list(st.seeds)} |",
        f"| budget (evaluations), search seed, run time | {result.budget}, {result.seed}, {result.seconds:.1f} s |",
        f"| worst ratio measured / bound | **{fmt(best.ratio)}** (measured {fmt(best.measured)}, bound "
        f"{fmt(best.bound)} at {spec.delay_symbol} = {st.delay}) |",
        f"| same, bound at the trace's realised max delay {best.max_delay} | {fmt(best.ratio_realised)} |",
    ]
    extra = spec.measure.secondary(best.measured, best.bound)
    if extra is not None:
        lines.append(f"| {extra[0]}, worst trace | {fmt(extra[1])} |")
        if base is not None:
            lines.append(f"| the same, simulated trace | {fmt(spec.measure.secondary(base.measured, base.bound)[1])} |")
    if held_out is not None:
        lines.append(f"| same worst trace, held-out seeds | {fmt(held_out.ratio)} |")
    if base is not None:
        lines.append(f"| baseline: simulated trace (cluster model) | {fmt(base.ratio)} (realised max delay "
                     f"{base.max_delay}); adversary / baseline = {fmt(best.ratio / base.ratio)} |")
    lines += ["", "![metric vs bound; best ratio vs evaluations](figure.png)", "",
              "The worst trace is `worst.npz`; `worst.json` says what replays it "
              "(`delaylab adversary replay worst.json`).", ""]
    if spec.notes:
        lines += [spec.notes, ""]
    path = out / "report.md"
    path.write_text("\n".join(lines))
    return path
