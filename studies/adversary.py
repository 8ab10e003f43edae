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
``numpy.random.Generator(seed)``, budgeted in evaluations. Each evaluation replays with the compiled
engine when the roles have one (``replay(..., engine="fast")``, the same records bit for bit) and in
Python otherwise.

The verdict: the search's best ratio is the maximum over many evaluations on the same few algorithm
seeds, so it is biased upward (it selects the luckiest noise) and is reported as the search's
*candidate*, not judged. The worst trace is then replayed on fresh algorithm seeds (:func:`held_out`,
``held_out_seeds`` of them): their estimate and its 95% percentile bootstrap interval over seeds decide
-- "violation" (a finding, reported with its trace, not an error) when the interval lies above 1, "no
violation found" when below, "inconclusive" when it contains 1.

The baseline: the same evaluation on the trace a simulation on the declared cluster produced (same
K, R, N), whose delays are within the same bound. The worst trace is saved (``worst.npz`` plus
``worst.json``: what replays it) and :func:`replay_saved` recomputes its ratio from the files.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from .bindings import SOURCES, Expr, Measured, RunFacts, TraceStat, resolve
from .compare import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, LEVEL
from .results import atomic_write_text, atomic_write_with
from .spec import ClusterSpec

__all__ = ["AverageBound", "RoundContraction", "AdversarySearch", "Evaluation", "HeldOut", "SearchResult", "Setup",
           "setup", "seed_records", "evaluate", "held_out", "verdict", "search", "baseline", "save_worst",
           "replay_saved", "write_report"]


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

    def judge(self, thm, params: dict, values: dict[str, np.ndarray], N: int, R: int, curve: bool = True):
        """(measured, bound, curve (t, running mean, bound at t)) from seed-mean records at versions 0..N
        (``curve=False``: the bound at N only, the curve None)."""
        x = values[self.probe][:N]
        measured = float(np.mean(x))
        sym = {**params, **{s: float(values[p][0]) for s, p in self.first.items()}}
        if not curve:
            return measured, float(np.asarray(thm.bound(T=np.array([float(N)]), **sym), dtype=np.float64)[-1]), None
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

    def judge(self, thm, params: dict, values: dict[str, np.ndarray], N: int, R: int, curve: bool = True):
        c = values[self.probe]
        bound = float(thm.evaluate_bound(T=R, **params))
        with np.errstate(divide="ignore", invalid="ignore"):
            per_round = c[1:] / c[:-1]
        per_round = np.where(np.isfinite(per_round), per_round, np.inf)
        if not curve:
            return float(np.max(per_round)), bound, None
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
    held_out_seeds: int = 8
    quick_held_out_seeds: int = 3
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
        for what, v in (("held_out_seeds", self.held_out_seeds), ("quick_held_out_seeds", self.quick_held_out_seeds)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 2:
                raise ValueError(f"AdversarySearch.{what} must be an integer >= 2 (a verdict needs a spread over "
                                 f"seeds), got {v!r}")
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
    engine: str = "python"
    engine_note: str = ""  # why not the compiled replay, when "auto" fell back

    @property
    def theorem(self):
        import bounds

        return bounds.get(self.spec.theorem)

    def roles(self):
        from algorithms.registry import make_roles

        probes = ("objective",) + tuple(p for p in self.spec.measure.probes() if p != "objective")
        return make_roles(self.spec.algorithm, self.problem, self.spec.K, **self.hyper).use_probes(probes)


#: replay engines of :func:`sim.replay.replay`; "auto" = the compiled one when the roles have it
ENGINES = ("auto", "fast", "python")


def setup(spec: AdversarySearch, *, quick: bool = False, seeds: tuple[int, ...] | None = None,
          engine: str = "auto") -> Setup:
    """The problem, the step (step_scale x the theorem's max_step at the declared delay) and the rest.

    ``engine``: how every evaluation replays a trace (:func:`sim.replay.replay`): "fast" (the compiled
    replay, ValueError when the roles have none), "python", or "auto" (fast when a one-round replay with
    it succeeds, python otherwise); both give the same records bit for bit."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
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
    st = Setup(spec=spec, quick=quick, problem=problem, hyper=hyper, R=R,
               N=R * (spec.quick_rounds if quick else spec.rounds), delay=delay, eta=eta, max_step=float(limit),
               params=params, seeds=tuple(seeds) if seeds is not None else tuple(range(n_seeds)), protocol=proto,
               meta=proto.trace_meta(roles), check=check)
    if engine != "python":
        ok, why = _fast_replays(st)
        if not ok and engine == "fast":
            raise ValueError(f"engine 'fast': {spec.name}'s roles have no compiled replay ({why}); use 'python' "
                             "or 'auto'")
        st.engine, st.engine_note = ("fast", "") if ok else ("python", why)
    return st


def _fast_replays(st: Setup) -> tuple[bool, str]:
    """(whether the compiled replay runs these roles, why not): one round of the stalest schedule replayed
    with engine="fast"; a ValueError (no ``replay_ops``, or a problem its kernels do not cover) means no."""
    from sim.replay import replay

    K, R = st.spec.K, st.R
    trace = st.protocol.from_delays(np.arange(R, dtype=np.int64) % K, np.full(R, st.delay, dtype=np.int64),
                                    np.zeros(R), K=K, round_length=R, meta=st.meta)
    try:
        replay(trace, st.roles(), seed=0, record_every=R, engine="fast")
    except ValueError as exc:
        return False, str(exc)
    return True, ""


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


def seed_records(st: Setup, trace, seed: int) -> tuple[str, dict[str, np.ndarray] | None]:
    """(status, records): one replay of ``trace`` with fresh roles and algorithm seed ``seed`` (engine
    ``st.engine``), the measure's probes at versions 0, e, 2e, .. N (e = its record spacing); records None
    when the run diverged or stopped before N."""
    from sim.replay import replay

    every = st.spec.measure.record_every(st.R)
    n_rec = st.N // every + 1
    res = replay(trace, st.roles(), seed=int(seed), record_every=every, engine=st.engine)
    if res.status == "diverged" or res.step < st.N:
        return res.status, None
    out = {p: np.zeros(n_rec) for p in st.spec.measure.probes()}
    for step, _t, _e, name, value in res.records:
        if name in out and step % every == 0 and step // every < n_rec:
            out[name][step // every] = value
    return res.status, out


def _seed_mean(st: Setup, per_seed: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    acc = {p: np.zeros_like(per_seed[0][p]) for p in st.spec.measure.probes()}
    for rec in per_seed:
        for p in acc:
            acc[p] += rec[p] / len(per_seed)
    return acc


def _max_delay(st: Setup, trace) -> int:
    delays = trace.staleness()
    max_delay = int(delays.max()) if delays.size else 0
    if max_delay > st.delay:
        raise ValueError(f"the trace's delay {max_delay} exceeds the bound {st.spec.delay_symbol} = {st.delay} "
                         "the search holds the theorem to")
    return max_delay


def _judge(st: Setup, values: dict[str, np.ndarray], max_delay: int) -> Evaluation:
    params = {**st.params, st.spec.delay_symbol: st.delay, st.spec.step: st.eta}
    measured, bound, curve = st.spec.measure.judge(st.theorem, params, values, st.N, st.R)
    _, tight, _ = st.spec.measure.judge(st.theorem, {**params, st.spec.delay_symbol: max_delay}, values, st.N, st.R,
                                        curve=False)
    ratio = measured / bound if bound > 0 else math.inf
    return Evaluation(float(ratio), measured, bound, max_delay, curve, "finished",
                      float(measured / tight) if tight > 0 else math.inf)


def _failed(status: str, max_delay: int) -> Evaluation:
    return Evaluation(math.inf, math.inf, math.nan, max_delay, (np.zeros(0),) * 3, status, math.inf)


def evaluate(st: Setup, trace, seeds: tuple[int, ...] | None = None) -> Evaluation:
    """Replay the algorithm over ``trace`` for each seed (fresh roles), average the records, judge."""
    seeds = st.seeds if seeds is None else tuple(seeds)
    max_delay = _max_delay(st, trace)
    per_seed = []
    for s in seeds:
        status, rec = seed_records(st, trace, s)
        if rec is None:
            return _failed(status, max_delay)
        per_seed.append(rec)
    return _judge(st, _seed_mean(st, per_seed), max_delay)


# --- the verdict: held-out seeds -------------------------------------------------------------------
VIOLATION, NO_VIOLATION, INCONCLUSIVE = "violation", "no violation found", "inconclusive"


def verdict(lo: float, hi: float) -> str:
    """"violation" when the interval lies above ratio 1, "no violation found" when below, else inconclusive."""
    if math.isnan(lo) or math.isnan(hi):
        return INCONCLUSIVE
    return VIOLATION if lo > 1 else NO_VIOLATION if hi < 1 else INCONCLUSIVE


@dataclass
class HeldOut:
    """The worst trace judged on fresh algorithm seeds: ``estimate`` (the evaluation with all of them
    averaged, as the search evaluates), each seed's own ratio, and the 95% percentile bootstrap interval
    of the estimate's ratio over seeds (``resamples`` draws of the seeds with replacement, each judged as
    the estimate is: seed-mean records, then measured / bound); the verdict from the interval."""

    estimate: Evaluation
    seeds: tuple[int, ...]
    ratios: np.ndarray
    lo: float
    hi: float
    level: float
    resamples: int
    verdict: str

    @property
    def ratio(self) -> float:
        return self.estimate.ratio

    def describe(self) -> str:
        f = lambda v: f"{v:.6g}" if math.isfinite(v) else str(v)  # noqa: E731
        return (f"{f(self.ratio)}, {self.level:.0%} [{f(self.lo)}, {f(self.hi)}] over {len(self.seeds)} held-out "
                f"seeds (percentile bootstrap over seeds, {self.resamples} resamples)")


class _Memo:
    """A theorem's ``bound`` and ``evaluate_bound`` remembered by their arguments (the same numbers)."""

    def __init__(self, thm) -> None:
        self.thm, self.seen = thm, {}

    def _call(self, name: str, kw: dict):
        key = (name,) + tuple(sorted((k, np.asarray(v).tobytes() if isinstance(v, np.ndarray) else v)
                                     for k, v in kw.items()))
        if key not in self.seen:
            self.seen[key] = getattr(self.thm, name)(**kw)
        return self.seen[key]

    def bound(self, **kw):
        return self._call("bound", kw)

    def evaluate_bound(self, **kw):
        return self._call("evaluate_bound", kw)


def held_out(st: Setup, trace, seeds: tuple[int, ...], *, resamples: int = BOOTSTRAP_RESAMPLES,
             level: float = LEVEL, rng: np.random.Generator | None = None) -> HeldOut:
    """Judge ``trace`` on ``seeds`` (fresh algorithm seeds, not those the search selected it on): the
    estimate, and its percentile bootstrap interval over seeds from ``rng`` (default
    ``default_rng(BOOTSTRAP_SEED)``); bounds are order statistics, so they stay defined when a resample
    holds a diverged seed (ratio inf). The search's own maximum is selected over many noisy evaluations
    and biased upward; this is the number a verdict rests on."""
    seeds = tuple(int(s) for s in seeds)
    if len(seeds) < 2 or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be at least 2 distinct algorithm seeds (a verdict needs a spread), got {seeds!r}")
    rng = np.random.default_rng(BOOTSTRAP_SEED) if rng is None else rng
    max_delay = _max_delay(st, trace)
    runs = [seed_records(st, trace, s) for s in seeds]
    recs = [rec for _, rec in runs]
    params = {**st.params, st.spec.delay_symbol: st.delay, st.spec.step: st.eta}
    thm = _Memo(st.theorem)  # a resample's bound changes only with the records it binds (e.g. F0)

    def ratio_of(idx) -> float:
        if any(recs[i] is None for i in idx):
            return math.inf
        values = _seed_mean(st, [recs[i] for i in idx])
        measured, bound, _ = st.spec.measure.judge(thm, params, values, st.N, st.R, curve=False)
        return measured / bound if bound > 0 else math.inf

    bad = next((status for status, rec in runs if rec is None), None)
    estimate = _failed(bad, max_delay) if bad is not None else _judge(st, _seed_mean(st, recs), max_delay)
    ratios = np.array([ratio_of((i,)) for i in range(len(seeds))])
    idx = rng.integers(0, len(seeds), size=(resamples, len(seeds)))
    draws = np.array([ratio_of(tuple(row)) for row in idx])
    alpha = (1.0 - level) / 2
    lo = float(np.quantile(draws, alpha, method="lower"))
    hi = float(np.quantile(draws, 1.0 - alpha, method="higher"))
    return HeldOut(estimate, seeds, ratios, lo, hi, level, int(resamples), verdict(lo, hi))


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


def save_worst(result: SearchResult, out: Path, held: HeldOut | None = None) -> Path:
    """Write ``worst.npz`` (the trace) and ``worst.json`` (what replays it, what it gave on the search's
    seeds and, with ``held``, on the held-out seeds with the verdict), each atomically."""
    st = result.setup
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_with(out / "worst.npz", result.best_trace.save, suffix=".npz")
    info = {"search": st.spec.name, "theorem": st.spec.theorem, "algorithm": st.spec.algorithm,
            "problem": st.spec.problem, "dataset": st.spec.dataset, "quick": st.quick, "K": st.spec.K,
            "hyper": {k: (v if isinstance(v, (int, float, str)) else repr(v)) for k, v in st.hyper.items()},
            "step": st.eta, "max_step": st.max_step, "delay_bound": st.delay, "seeds": list(st.seeds),
            "updates": st.N, "budget": result.budget, "search_seed": result.seed,
            "ratio": _num(result.best.ratio), "measured": _num(result.best.measured),
            "bound": _num(result.best.bound), "max_delay": result.best.max_delay,
            "ratio_at_realised_delay": _num(result.best.ratio_realised), "seconds": result.seconds,
            "engine": st.engine}
    if held is not None:
        info["held_out"] = {"seeds": list(held.seeds), "ratio": _num(held.ratio), "lo": _num(held.lo),
                            "hi": _num(held.hi), "level": held.level, "resamples": held.resamples,
                            "seed_ratios": [_num(float(r)) for r in held.ratios], "verdict": held.verdict}
    path = out / "worst.json"
    atomic_write_text(path, json.dumps(info, indent=1, sort_keys=True))
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
VERDICT_TEXT = {VIOLATION: "VIOLATION: on held-out seeds the measured metric exceeds the theorem's bound on an "
                           "admissible trace (the 95% interval of the ratio lies above 1)",
                NO_VIOLATION: "no violation found: on held-out seeds the 95% interval of the ratio lies below 1",
                INCONCLUSIVE: "inconclusive: on held-out seeds the 95% interval of the ratio contains 1"}


def write_report(result: SearchResult, base: Evaluation | None, held: HeldOut, out: Path) -> Path:
    """report.md and figure.png (each written atomically): metric vs bound along the worst trace (and
    the baseline), best ratio vs evaluations; the verdict from ``held`` (the worst trace on held-out
    seeds), the search's in-sample maximum reported as its candidate."""
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
    if math.isfinite(held.lo) and math.isfinite(held.hi):
        b.errorbar([len(result.history)], [held.ratio], yerr=[[held.ratio - held.lo], [held.hi - held.ratio]],
                   fmt="o", color="C3", capsize=3, label="worst trace, held-out seeds (95%)")
    b.set_xlabel("evaluations")
    b.set_ylabel("measured / bound")
    seen = np.concatenate([result.history, [1.0, held.lo, held.hi]])
    seen = seen[np.isfinite(seen)]
    if seen.min() > 0 and seen.max() / seen.min() > 10:
        b.set_yscale("log")
    b.legend(fontsize=7)
    fig.tight_layout()
    out.mkdir(parents=True, exist_ok=True)
    try:
        atomic_write_with(out / "figure.png", lambda tmp: fig.savefig(tmp, dpi=110, format="png"), suffix=".png")
    finally:
        plt.close(fig)
    fmt = lambda v: f"{v:.4g}" if isinstance(v, float) else str(v)  # noqa: E731
    lines = [
        f"# Adversarial delays: {spec.name}", "", spec.title + (f" ({spec.thesis_ref})" if spec.thesis_ref else ""),
        "", f"**Verdict: {VERDICT_TEXT[held.verdict]}.**", "",
        "| | value |", "|---|---|",
        f"| theorem | {spec.theorem} |", f"| algorithm / problem / data | {spec.algorithm} / {spec.problem} / "
        f"{spec.dataset} (n = {st.problem.n}, d = {st.problem.d}) |",
        f"| K, round length R, updates N | {spec.K}, {st.R}, {st.N} |",
        f"| delay bound {spec.delay_symbol} | {st.delay} (every trace searched satisfies it) |",
        f"| worker sequence | {'chosen by the adversary' if spec.workers == 'free' else 'i.i.d. uniform, fixed'} |",
        f"| step | {fmt(st.eta)} = {spec.step_scale:g} x max_step {fmt(st.max_step)}; conditions "
        f"{'hold' if st.check.holds else 'FAIL: ' + ', '.join(c.name for c in st.check.violated)} |",
        f"| algorithm seeds averaged in the search | {list(st.seeds)} |",
        f"| budget (evaluations), search seed, replay engine, run time | {result.budget}, {result.seed}, "
        f"{st.engine}{' (no compiled replay: ' + st.engine_note[:160] + ')' if st.engine_note else ''}, "
        f"{result.seconds:.1f} s |",
        f"| worst trace on held-out seeds {list(held.seeds)}: ratio measured / bound, 95% interval (verdict) | "
        f"**{fmt(held.ratio)}**, [{fmt(held.lo)}, {fmt(held.hi)}] (percentile bootstrap over seeds, "
        f"{held.resamples} resamples) |",
        f"| each held-out seed alone | {', '.join(fmt(float(r)) for r in held.ratios)} |",
        f"| search's candidate: in-sample maximum over {len(result.history)} evaluations (selected, biased "
        f"upward; not a verdict) | {fmt(best.ratio)} (measured {fmt(best.measured)}, bound "
        f"{fmt(best.bound)} at {spec.delay_symbol} = {st.delay}) |",
        f"| same, bound at the trace's realised max delay {best.max_delay} | {fmt(best.ratio_realised)} |",
    ]
    extra = spec.measure.secondary(best.measured, best.bound)
    if extra is not None:
        lines.append(f"| {extra[0]}, worst trace | {fmt(extra[1])} |")
        if base is not None:
            lines.append(f"| the same, simulated trace | {fmt(spec.measure.secondary(base.measured, base.bound)[1])} |")
    if base is not None:
        lines.append(f"| baseline: simulated trace (cluster model) | {fmt(base.ratio)} (realised max delay "
                     f"{base.max_delay}); adversary / baseline = {fmt(best.ratio / base.ratio)} |")
    lines += ["", "![metric vs bound; best ratio vs evaluations](figure.png)", "",
              "The worst trace is `worst.npz`; `worst.json` says what replays it "
              "(`delaylab adversary replay worst.json`).", ""]
    if spec.notes:
        lines += [spec.notes, ""]
    path = out / "report.md"
    atomic_write_text(path, "\n".join(lines))
    return path
