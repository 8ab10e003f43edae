"""Numbers from records: time/epochs to target, speedup (eq. 3.39), linear rates, verdicts on claims.

Everything here reads the tidy records of :class:`~studies.results.StudyResults`
only, so a report regenerated from result files gives the same numbers.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .results import StudyResults
from .spec import CLAIM_KINDS, GRID_CLAIM_KINDS, Claim

KEYS = ["dataset", "K", "algorithm"]


def crossing(x: np.ndarray, v: np.ndarray, target: float) -> float:
    """First x where v falls to ``target``, interpolated linearly in log(v) between records.

    NaN if never reached. Records are taken at discrete steps; interpolation in
    log space matches linear convergence between two records.
    """
    x = np.asarray(x, dtype=float)
    v = np.asarray(v, dtype=float)
    hit = np.flatnonzero(v <= target)
    if hit.size == 0:
        return math.nan
    j = int(hit[0])
    if j == 0:
        return float(x[0])
    v0, v1 = v[j - 1], v[j]
    if not (v0 > 0 and v1 > 0) or v0 == v1:
        return float(x[j])
    frac = (math.log(v0) - math.log(target)) / (math.log(v0) - math.log(v1))
    return float(x[j - 1] + frac * (x[j] - x[j - 1]))


@dataclass(frozen=True)
class LinearFit:
    """log10(metric) ~ intercept + slope * epoch: ``rate`` = 10**slope, the contraction per epoch."""

    slope: float
    intercept: float
    r2: float
    rate: float
    points: int


def linear_rate(epoch: np.ndarray, value: np.ndarray, floor: float = 0.0) -> LinearFit:
    """Least-squares fit of log10(value) against epoch over records with value > floor.

    A straight line (R^2 near 1) with slope < 0 is what "linear convergence"
    means on the thesis's semi-log plots (Fig. 6, right).
    """
    e = np.asarray(epoch, dtype=float)
    v = np.asarray(value, dtype=float)
    keep = np.isfinite(v) & (v > max(floor, 0.0)) & np.isfinite(e)
    e, y = e[keep], np.log10(v[keep])
    if e.size < 3 or np.ptp(e) == 0:
        return LinearFit(math.nan, math.nan, math.nan, math.nan, int(e.size))
    A = np.column_stack([e, np.ones_like(e)])
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    resid = y - A @ coef
    ss = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - float(resid @ resid) / ss if ss > 0 else math.nan
    return LinearFit(float(coef[0]), float(coef[1]), r2, float(10 ** coef[0]), int(e.size))


#: run-id field that marks a run of a claim's step grid (:class:`studies.spec.StepGrid`); its value names
#: the hyper-parameter the grid varies
GRID_PARAM = "grid"


def is_grid_run(run) -> bool:
    """A run of a claim's step grid (judged in the robustness section, never mixed into the medians)."""
    return GRID_PARAM in dict(run.params)


def main_results(results: StudyResults) -> StudyResults:
    """The study's results without its step-grid runs (what the thesis-grid verdicts and tables use)."""
    if not any(is_grid_run(r) for r in results.runs):
        return results
    keep = [r for r in results.runs if not is_grid_run(r)]
    frame = results.to_frame()
    frame = frame[frame["run_id"].isin({r.run_id for r in keep})].reset_index(drop=True)
    return StudyResults(results.info, keep, frame, out=results.out, skipped=results.skipped)


def per_run(results: StudyResults, *, grid: bool = False) -> pd.DataFrame:
    """One row per run: time/epochs to target, final value, fitted linear rate, status.

    ``has_value``: the run ended with records of the target metric (not failed); a run with a value
    whose ``time_to_target`` is NaN ran and never reached the target. ``grid=True``: the step-grid
    runs (and only them), with their grid value in column ``step``."""
    tgt = results.info.target
    frame = results.to_frame()
    rows = []
    for r in results.runs:
        if dict(r.info).get("task", "run") != "run" or is_grid_run(r) != grid:
            continue  # a search's probes are not runs to the target; a step grid's runs are judged apart
        p = r.params
        sub = frame[(frame["run_id"] == r.run_id) & (frame["metric"] == tgt.metric)].sort_values("step")
        value = float(dict(r.info).get("target_value", math.nan))
        if not np.isfinite(value) and not tgt.relative:
            value = tgt.value
        has_value = bool(len(sub)) and np.isfinite(value) and r.status != "failed"
        if len(sub) and np.isfinite(value):
            t = crossing(sub["sim_time"].to_numpy(), sub["value"].to_numpy(), value)
            ep = crossing(sub["epoch"].to_numpy(), sub["value"].to_numpy(), value)
            fit = linear_rate(sub["epoch"].to_numpy(), sub["value"].to_numpy())
            final = float(sub["value"].iloc[-1])
        else:
            t = ep = final = math.nan
            fit = LinearFit(math.nan, math.nan, math.nan, math.nan, 0)
        rows.append({"run_id": r.run_id, "algorithm": p.get("algorithm"), "label": r.label,
                     "dataset": p.get("dataset"), "K": int(p.get("K", 0)), "seed": int(p.get("seed", 0)),
                     "status": r.status, "has_value": has_value, "time_to_target": t, "epochs_to_target": ep,
                     "target_value": value, "final_value": final, "rate_per_epoch": fit.rate, "rate_r2": fit.r2,
                     "sim_time": r.sim_time, "epochs": r.epochs, "wall_time": r.wall_time,
                     "staleness_max": None if r.staleness is None else r.staleness.max,
                     "eta": _step_label(dict(r.hyper).get("eta")),
                     **({"step": str(p.get(p[GRID_PARAM]))} if grid else {})})
    return pd.DataFrame(rows)


def _step_label(v):
    """A step size as stored: a number, or a rule ({"rule": name, field: value}) as Name(field=value)."""
    if isinstance(v, dict) and "rule" in v:
        return f"{v['rule']}(" + ", ".join(f"{k}={x:g}" if isinstance(x, (int, float)) else f"{k}={x}"
                                           for k, x in v.items() if k != "rule") + ")"
    return v


def _median(s: pd.Series) -> float:
    s = s.astype(float)
    # A seed that never reached the target makes the median time infinite, not smaller.
    return float(np.median(s.fillna(np.inf))) if len(s) else math.nan


def _median_of_values(df: pd.DataFrame) -> float:
    """Median over seeds of a time to target, a run that never reached it counting as infinite; NaN (no
    value) when a run has none at all (it failed): a failed run is not a run that was too slow."""
    if not df["has_value"].astype(bool).all():
        return math.nan
    return _median(df.iloc[:, 0])


def default_baseline(results: StudyResults) -> str | None:
    for c in results.info.claims:
        if c.baseline:
            return c.baseline
    return None


def _match(keys: pd.Series, prefix: str) -> pd.Series:
    """Algorithm keys a claim names: exactly ``prefix`` if it is one, else every key starting with it."""
    keys = keys.astype(str)
    exact = keys == prefix
    return exact if exact.any() else keys.str.startswith(prefix)


def summary_table(results: StudyResults, baseline: str | None = None) -> pd.DataFrame:
    """Per dataset/K/algorithm (median over seeds): time and epochs to target, speedup vs baseline.

    ``speedup_vs_<baseline>`` = baseline's time to target / this algorithm's, same dataset and K.
    ``speedup_vs_K1`` (eq. 3.39) = this algorithm's time at K = 1 / time at K, when K = 1 is in the grid.
    """
    pr = per_run(results)
    baseline = baseline if baseline is not None else default_baseline(results)
    if pr.empty:
        return pd.DataFrame(columns=KEYS + ["label", "runs", "reached", "time_to_target", "epochs_to_target"])
    g = pr.groupby(KEYS, sort=True)
    tab = pd.DataFrame({
        "label": g["label"].first(),
        "runs": g.size(),
        "reached": g["time_to_target"].apply(lambda s: int(s.notna().sum())),
        "time_to_target": g[["time_to_target", "has_value"]].apply(_median_of_values),
        "epochs_to_target": g[["epochs_to_target", "has_value"]].apply(_median_of_values),
        "final_value": g["final_value"].median(),
        "rate_per_epoch": g["rate_per_epoch"].median(),
        "eta": g["eta"].first(),
        "staleness_max": g["staleness_max"].max(),
        "status": g["status"].agg(lambda s: ",".join(sorted(set(s)))),
    }).reset_index()
    tab = tab.replace([np.inf], np.nan)
    if baseline:
        base = tab[_match(tab["algorithm"], baseline)].set_index(["dataset", "K"])["time_to_target"]
        base = base[~base.index.duplicated()]
        idx = pd.MultiIndex.from_frame(tab[["dataset", "K"]])
        tab[f"speedup_vs_{baseline}"] = base.reindex(idx).to_numpy() / tab["time_to_target"].to_numpy()
    if (tab["K"] == 1).any():
        serial = tab[tab["K"] == 1].set_index(["dataset", "algorithm"])["time_to_target"]
        idx = pd.MultiIndex.from_frame(tab[["dataset", "algorithm"]])
        tab["speedup_vs_K1"] = serial.reindex(idx).to_numpy() / tab["time_to_target"].to_numpy()
    return tab


@dataclass(frozen=True)
class Verdict:
    """A claim, the verdict computed from the numbers, and the evidence in one sentence."""

    claim: Claim
    verdict: str  # "agrees" | "disagrees" | "inconclusive"
    evidence: str
    cells: tuple[int, int, int] | None = None  # (agree, disagree, inconclusive) over its (dataset, K) cells

    @property
    def headline(self) -> str:
        """The verdict, with the cell counts when the cells are not unanimous (:func:`_overall`)."""
        return _headline(self.verdict, self.cells)


def _cells(verdicts: list[str]) -> tuple[int, int, int]:
    return tuple(sum(v == w for v in verdicts) for w in ("agrees", "disagrees", "inconclusive"))


def _headline(verdict: str, cells: tuple[int, int, int] | None) -> str:
    """'disagrees (0 agree, 1 disagrees, 5 inconclusive of 6 cells)'; the bare word when the cells agree."""
    if not cells or max(cells) == sum(cells):
        return verdict
    a, d, i = cells
    return f"{verdict} ({a} agree, {d} disagree, {i} inconclusive of {sum(cells)} cells)"


def _fmt(x: float) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{x:.3g}"


def evaluate_claim(claim: Claim, results: StudyResults) -> Verdict:
    """Compute the verdict of one claim from the study's summary table (step-grid runs left out: this is
    the verdict at the thesis's grid; :func:`robust_verdicts` gives the other two)."""
    results = main_results(results)
    tab = summary_table(results, baseline=claim.baseline or None)
    subj = tab[_match(tab["algorithm"], claim.subject)]
    if subj.empty:
        return Verdict(claim, "inconclusive", f"no runs of {claim.subject!r}")
    if claim.kind == "faster":
        return _faster(claim, results, subj)
    if claim.kind == "linear_rate":
        return _linear_rate(claim, results)
    if claim.kind == "speedup_better":
        return _speedup_better(claim, results, subj, tab)
    if claim.kind == "lower_final":
        return _lower_final(claim, results)
    if claim.kind == "speedup_linear":
        return _speedup_linear(claim, subj, tab, results)
    raise ValueError(f"claim.kind must be one of {CLAIM_KINDS}, got {claim.kind!r}")


def _overall(verdicts: list[str]) -> str:
    """The headline of a claim made for every (dataset, K) cell: agrees only if every cell agrees; disagrees
    only if no cell agrees and at least one disagrees (every decided cell disagrees); otherwise (mixed, or
    nothing decided) inconclusive. :func:`_tally` states the counts beside it, so one decisive cell among
    many undecided ones is visible as such."""
    if verdicts and all(v == "agrees" for v in verdicts):
        return "agrees"
    return "disagrees" if "disagrees" in verdicts and "agrees" not in verdicts else "inconclusive"


def _tally(verdicts: list[str]) -> str:
    """'[cells: 1 agrees, 0 disagree, 5 inconclusive of 6; ...rule]' -- the counts behind :func:`_overall`."""
    n = len(verdicts)
    c = {w: sum(v == w for v in verdicts) for w in ("agrees", "disagrees", "inconclusive")}
    mixed = " (mixed: inconclusive)" if c["agrees"] and c["disagrees"] else ""
    return (f"[{n} cell{'s' * (n != 1)}: {c['agrees']} agree, {c['disagrees']} disagree, {c['inconclusive']} "
            f"inconclusive{mixed}; agrees only if every cell agrees, disagrees only if no cell agrees and one "
            f"disagrees] ")


# --- intervals over seeds -------------------------------------------------------------------------
#: bootstrap resamples behind every 95% interval over seeds
BOOTSTRAP_RESAMPLES = 4000
#: the seed of the bootstrap's Generator: the same results give the same intervals on every report
BOOTSTRAP_SEED = 20200
LEVEL = 0.95
#: Fewest seeds (per side) for a decisive verdict from a bootstrap interval. The percentile bootstrap of n
#: seeds draws only n distinct values; for n <= 3 its "95%" interval is about the min-max of the seeds.
#: Simulated with identical distributions on both sides (lognormal times, same seeds paired, 4000
#: resamples, 1000 trials; tests/test_claims_robust.py::test_min_seeds_from_identical_distributions), the
#: share of decisive verdicts -- each a false claim -- is 100% with 1 seed, 49% with 2, 26% with 3, 11% with
#: 4, 6.2% with 5, 5.1% with 6: 5 is the first n whose false-decision rate is near the nominal 5%.
MIN_SEEDS = 5
#: largest exact probability of complete separation (every seed of one side below every seed of the other)
#: under exchangeability for which ``lower_final`` is decisive: 2 / C(n_a + n_b, n_a) < 0.05 needs 4 vs 4
SEPARATION_ALPHA = 0.05


def too_few_seeds(*counts: int) -> str | None:
    """The reason a comparison on these per-side seed counts cannot be decisive, or None (>= MIN_SEEDS)."""
    n = min(counts) if counts else 0
    if n >= MIN_SEEDS:
        return None
    return f"{n} seed{'s' * (n != 1)}: too few for a 95% interval; need ≥ {MIN_SEEDS}"


def separation_p(n_a: int, n_b: int) -> float:
    """Exact two-sided probability that n_a values all fall below (or all above) n_b others when all
    n_a + n_b are exchangeable (no difference between the sides, no ties): 2 / C(n_a + n_b, n_a), capped at 1.
    It is the exact Mann-Whitney p-value of complete separation (U = 0 or n_a n_b)."""
    return min(1.0, 2.0 / math.comb(n_a + n_b, n_a))


def fmt_near(x: float, line: float = 1.0) -> str:
    """``x`` with 3 significant digits, or more (up to 10) until the printed number is on the same side of
    ``line`` as ``x`` (0.9972 vs 1 prints 0.997, 0.99996 prints 0.99996, never '1')."""
    if x is None or not np.isfinite(x):
        return _fmt(x) if x is None or np.isnan(x) else ("inf" if x > 0 else "-inf")
    for d in range(3, 11):
        s = f"{x:.{d}g}"
        if np.sign(float(s) - line) == np.sign(x - line):
            return s
    return repr(float(x))


@dataclass(frozen=True)
class Interval:
    """A statistic, its ``level`` bootstrap percentile interval [lo, hi] over seeds, and how it was drawn.
    ``point_hi``: when some runs are right-censored (stopped before the target), the statistic itself is
    only known to lie in [point, point_hi] (NaN: known exactly)."""

    point: float
    lo: float
    hi: float
    seeds: tuple[int, int]  # (subject's, baseline's)
    paired: bool
    resamples: int
    point_hi: float = math.nan

    def side(self, line: float) -> str:
        """agrees (the interval lies above ``line``), disagrees (below) or inconclusive (it straddles)."""
        if math.isnan(self.lo) or math.isnan(self.hi):
            return "inconclusive"
        return "agrees" if self.lo > line else "disagrees" if self.hi < line else "inconclusive"

    def estimate(self, line: float = 1.0) -> str:
        """The point estimate, or its range [point, point_hi] when runs are censored."""
        if math.isnan(self.point_hi):
            return fmt_near(self.point, line)
        return f"{fmt_near(self.point, line)}..{fmt_near(self.point_hi, line)}"

    def describe(self, line: float = 1.0) -> str:
        """'95% [lo, hi] over n seeds, paired by seed' (the point estimate is the caller's to show); bounds
        printed with enough digits to show which side of ``line`` they are on."""
        how = "paired by seed" if self.paired else "seeds resampled per side"
        n = f"{self.seeds[0]} seed{'s' * (self.seeds[0] != 1)}" if self.seeds[0] == self.seeds[1] else \
            f"{self.seeds[0]} vs {self.seeds[1]} seeds"
        return f"95% [{fmt_near(self.lo, line)}, {fmt_near(self.hi, line)}] over {n}, {how}"


def median_ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """median(num) / median(den) along the last axis; a time of +inf (never reached) is allowed: only one
    side infinite gives inf or 0, both infinite (neither side reached it) gives 1 (no evidence either way)."""
    a, b = np.median(num, axis=-1), np.median(den, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = a / b
    return np.where(np.isinf(a) & np.isinf(b), 1.0, r)


def _draw(rng: np.random.Generator, sizes: list[int], paired: bool, resamples: int) -> list[np.ndarray]:
    """Bootstrap indices per sample: one draw shared by all samples when paired, else one each (in order)."""
    first = rng.integers(0, sizes[0], size=(resamples, sizes[0]))
    return [first] + [first if paired else rng.integers(0, n, size=(resamples, n)) for n in sizes[1:]]


def _bounds(draws: np.ndarray, level: float, draws_hi: np.ndarray | None = None) -> tuple[float, float]:
    alpha = (1.0 - level) / 2
    hi = draws if draws_hi is None else draws_hi
    return (float(np.quantile(draws, alpha, method="lower")), float(np.quantile(hi, 1.0 - alpha, method="higher")))


def bootstrap_interval(a, b, stat=median_ratio, *, seeds_a=None, seeds_b=None, level: float = LEVEL,
                       resamples: int = BOOTSTRAP_RESAMPLES, rng: np.random.Generator | None = None) -> Interval:
    """``stat(a, b)`` and its percentile bootstrap interval over seeds (``resamples`` draws of the seeds with
    replacement from ``rng``, default ``default_rng(BOOTSTRAP_SEED)``). When both sides ran the same seeds
    (``seeds_a`` == ``seeds_b``, e.g. the same straggler draws for both methods) seeds are drawn in pairs, else
    each side is resampled on its own. The bounds are order statistics (no interpolation), so they stay
    defined when a statistic is infinite. ``stat`` maps arrays (..., n_a) and (..., n_b) to (...). The
    interval is only meaningful with at least MIN_SEEDS seeds per side: callers judge below that as
    inconclusive (:func:`too_few_seeds`)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.size == 0 or b.size == 0 or np.isnan(a).any() or np.isnan(b).any():
        raise ValueError(f"a and b must be non-empty arrays without NaN, got {a!r} and {b!r}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    rng = np.random.default_rng(BOOTSTRAP_SEED) if rng is None else rng
    paired = seeds_a is not None and seeds_b is not None and list(seeds_a) == list(seeds_b) and a.size == b.size
    ia, ib = _draw(rng, [a.size, b.size], paired, resamples)
    lo, hi = _bounds(np.asarray(stat(a[ia], b[ib]), dtype=float), level)
    return Interval(float(stat(a, b)), lo, hi, (int(a.size), int(b.size)), bool(paired), int(resamples))


def _ratio_bound(num: np.ndarray, den: np.ndarray, upper: bool) -> np.ndarray:
    """num / den as a bound: where both are infinite (or both 0) nothing is known, 0 for a lower bound and
    +inf for an upper one."""
    with np.errstate(divide="ignore", invalid="ignore"):
        r = num / den
    return np.where(np.isnan(r), np.inf if upper else 0.0, r)


def speedup_interval(base, sub, *, base_reached=None, sub_reached=None, seeds_base=None, seeds_sub=None,
                     level: float = LEVEL, resamples: int = BOOTSTRAP_RESAMPLES,
                     rng: np.random.Generator | None = None) -> Interval:
    """Speedup = the baseline's median time to target / the subject's, with right-censored runs.

    ``base`` / ``sub``: per seed, the time to target of a run that reached it, else the time the run was
    stopped (``*_reached`` False: its time to target is only known to be >= that; +inf = known never, e.g. it
    diverged). Rule: a censored time is a lower bound on its run's time, so the speedup is bounded below by
    median(base lower bounds) / median(sub with censored runs at +inf) and above by median(base with censored
    at +inf) / median(sub lower bounds). Each bootstrap resample (the same seeds for both bounds, paired by
    seed when both sides ran the same seeds) gives both bounds; the interval runs from the 2.5% quantile of
    the lower bound to the 97.5% quantile of the upper one. So a run stopped before the other side's time
    to target widens the interval to 0 or +inf (inconclusive), while a run stopped after it counts as
    slower. Without censoring this is :func:`bootstrap_interval` of :func:`median_ratio` (same draws)."""
    b_lo, s_lo = np.asarray(base, dtype=float), np.asarray(sub, dtype=float)
    if b_lo.size == 0 or s_lo.size == 0 or np.isnan(b_lo).any() or np.isnan(s_lo).any():
        raise ValueError(f"base and sub must be non-empty arrays without NaN, got {b_lo!r} and {s_lo!r}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    rb = np.ones(b_lo.size, bool) if base_reached is None else np.asarray(base_reached, dtype=bool)
    rs = np.ones(s_lo.size, bool) if sub_reached is None else np.asarray(sub_reached, dtype=bool)
    b_hi, s_hi = np.where(rb, b_lo, np.inf), np.where(rs, s_lo, np.inf)
    rng = np.random.default_rng(BOOTSTRAP_SEED) if rng is None else rng
    paired = (seeds_base is not None and seeds_sub is not None and list(seeds_base) == list(seeds_sub)
              and b_lo.size == s_lo.size)
    ib, i_s = _draw(rng, [b_lo.size, s_lo.size], paired, resamples)

    def bound(b, s, ixb, ixs, upper):
        return _ratio_bound(np.median(b[ixb], axis=-1), np.median(s[ixs], axis=-1), upper)

    lo, hi = _bounds(bound(b_lo, s_hi, ib, i_s, False), level, bound(b_hi, s_lo, ib, i_s, True))
    p_lo, p_hi = float(bound(b_lo, s_hi, ..., ..., False)), float(bound(b_hi, s_lo, ..., ..., True))
    if p_lo == p_hi or (rb.all() and rs.all()):
        p_lo, p_hi = float(median_ratio(b_lo, s_lo)), math.nan
    return Interval(p_lo, lo, hi, (int(s_lo.size), int(b_lo.size)), bool(paired), int(resamples), p_hi)


def bootstrap_many(samples, stat, *, seeds=None, level: float = LEVEL, resamples: int = BOOTSTRAP_RESAMPLES,
                   rng: np.random.Generator | None = None) -> Interval:
    """``stat(*samples)`` and its percentile bootstrap interval, for statistics of more than two samples (e.g.
    a ratio of two speedups, eq. 3.39, from four sets of seeds). Seeds are drawn jointly (one index draw for
    all) when every sample ran the same seeds (``seeds``: one list per sample), else each on its own.
    ``Interval.seeds`` gives the smallest and largest sample size."""
    xs = [np.asarray(x, dtype=float) for x in samples]
    if not xs or any(x.size == 0 or np.isnan(x).any() for x in xs):
        raise ValueError(f"samples must be non-empty arrays without NaN, got {samples!r}")
    rng = np.random.default_rng(BOOTSTRAP_SEED) if rng is None else rng
    paired = seeds is not None and all(list(s) == list(seeds[0]) for s in seeds) and len({x.size for x in xs}) == 1
    idx = _draw(rng, [x.size for x in xs], paired, resamples)
    lo, hi = _bounds(np.asarray(stat(*[x[i] for x, i in zip(xs, idx)]), dtype=float), level)
    sizes = [x.size for x in xs]
    return Interval(float(stat(*xs)), lo, hi, (min(sizes), max(sizes)), bool(paired), int(resamples))


def time_measure(pr: pd.DataFrame) -> pd.DataFrame:
    """Rows of :func:`per_run` with ``value`` = time to target for a run that reached it; for a run that ran
    and did not, the time it was stopped (``sim_time``: right-censored, its time to target is only known to
    be >= that; +inf if it diverged, known never to reach it); ``reached`` says which; ``upper`` = the time
    with censored runs at +inf; NaN for a run without a value (failed, no record) -- never 'not reached'."""
    t = pr["time_to_target"].to_numpy(dtype=float)
    ok = pr["has_value"].to_numpy(dtype=bool)
    reached = ok & np.isfinite(t)
    end = pr["sim_time"].to_numpy(dtype=float) if "sim_time" in pr else np.full(len(pr), np.nan)
    end = np.where(np.isfinite(end), end, 0.0)  # no end time known: the weakest lower bound
    end = np.where(pr["status"].to_numpy() == "diverged", np.inf, end) if "status" in pr else end
    value = np.where(ok, np.where(reached, t, end), np.nan)
    return pr.assign(value=value, reached=reached, upper=np.where(reached, t, np.where(ok, np.inf, np.nan)))


def judge_pair(kind: str, sub: pd.DataFrame, base: pd.DataFrame, who: str) -> tuple[str, str, float]:
    """(verdict, evidence, statistic) of one comparison between the subject's runs ``sub`` and the
    baseline's ``base`` (rows with ``seed`` and ``value``; NaN = the run has no value) for one dataset, K
    and setting of each. Either side with fewer than MIN_SEEDS seeds: inconclusive, with the reason.
    ``faster``: value = time to target (a ``reached`` column marks right-censored runs, see
    :func:`time_measure`), statistic = speedup = baseline's median time / subject's, judged on its 95%
    bootstrap interval over seeds with censoring (:func:`speedup_interval`): agrees above 1, disagrees below
    1, else inconclusive. ``lower_final``: value = the metric; agrees when every seed of the subject is below
    every seed of the baseline, disagrees when every one is above, and only when that complete separation
    is unlikely under no difference (:func:`separation_p` < SEPARATION_ALPHA), else inconclusive."""
    if base.empty or sub.empty:
        return "inconclusive", f"{who}: the {'baseline' if base.empty else 'subject'} has no runs here", math.nan
    sub, base = sub.sort_values("seed"), base.sort_values("seed")
    a, b = sub["value"].to_numpy(dtype=float), base["value"].to_numpy(dtype=float)
    if np.isnan(a).any() or np.isnan(b).any():
        missing = ", ".join(f"{int(np.isnan(x).sum())} of {x.size} runs of the {w} failed or have no record"
                            for x, w in ((a, "subject"), (b, "baseline")) if np.isnan(x).any())
        return "inconclusive", f"{who}: {missing}", math.nan
    few = too_few_seeds(a.size, b.size)
    if kind == "faster":
        ra = sub["reached"].to_numpy(dtype=bool) if "reached" in sub else np.isfinite(a)
        rb = base["reached"].to_numpy(dtype=bool) if "reached" in base else np.isfinite(b)
        iv = speedup_interval(b, a, base_reached=rb, sub_reached=ra, seeds_base=base["seed"].tolist(),
                              seeds_sub=sub["seed"].tolist())
        cens = [f"{int((~r).sum())} of {r.size} runs of the {w} did not reach the target (time >= their end time)"
                for r, w in ((ra, "subject"), (rb, "baseline")) if (~r).any()]

        def med(x, r):
            m = float(np.median(np.where(r, x, np.inf)))
            return _fmt(m) if np.isfinite(m) else "not reached"

        text = (f"{who}: {med(a, ra)} s vs {med(b, rb)} s (x{iv.estimate()}; " + iv.describe() + ")"
                + ("; " + ", ".join(cens) if cens else ""))
        point = iv.point if math.isnan(iv.point_hi) else math.nan
        if few:
            return "inconclusive", f"{text}; {few}", point
        if not ra.any() and not rb.any():
            return "inconclusive", text + "; neither side reached the target", point
        return iv.side(1.0), text, point
    if kind == "lower_final":
        p = separation_p(a.size, b.size)
        text = f"{who}: {_spread(list(a))} vs {_spread(list(b))}"
        point = float(np.median(b) - np.median(a))
        side = "agrees" if a.max() < b.min() else "disagrees" if a.min() > b.max() else "inconclusive"
        if side != "inconclusive" and p >= SEPARATION_ALPHA:
            return "inconclusive", (f"{text}; the seeds separate, but with {a.size} vs {b.size} seeds complete "
                                    f"separation has probability {p:.3g} >= {SEPARATION_ALPHA:g} under no "
                                    f"difference"), point
        if side != "inconclusive":
            text += f"; seeds separate (exact p = {p:.2g})"
        return side, text, point
    raise ValueError(f"kind must be one of {GRID_CLAIM_KINDS} to judge a pair, got {kind!r}")


def _faster(claim: Claim, results: StudyResults, subj: pd.DataFrame) -> Verdict:
    """Every matching subject reaches the target in less simulated time than the baseline (same dataset
    and K), judged on the 95% bootstrap interval of the speedup over seeds (:func:`judge_pair`)."""
    pr = time_measure(per_run(results))
    base_keys = sorted(set(pr.loc[_match(pr["algorithm"], claim.baseline), "algorithm"])) if len(pr) else []
    verdicts, parts = [], []
    for alg, lab, ds, K in zip(subj["algorithm"], subj["label"], subj["dataset"], subj["K"]):
        here = pr[(pr["dataset"] == ds) & (pr["K"] == K)]
        base = here[here["algorithm"] == base_keys[0]] if base_keys else here.iloc[:0]
        v, text, _ = judge_pair("faster", here[here["algorithm"] == alg], base, f"{lab} on {ds} K={K}")
        verdicts.append(v)
        parts.append(text)
    if not base_keys:
        verdicts.append("inconclusive")
        parts.insert(0, f"no runs of the baseline {claim.baseline!r}")
    return Verdict(claim, _overall(verdicts), _tally(verdicts) + _faster_head(claim, results) + "; ".join(parts),
                   _cells(verdicts))


def _faster_head(claim: Claim, results: StudyResults) -> str:
    return (f"simulated time to {results.info.target.describe()}, vs {claim.baseline} (median over seeds; "
            f"speedup = baseline's / subject's, 95% bootstrap interval, {BOOTSTRAP_RESAMPLES} resamples, a run "
            f"that did not reach the target censored at its end time; agrees/disagrees only when it excludes 1, "
            f"with >= {MIN_SEEDS} seeds a side): ")


# --- robustness of a comparative claim to the step (StepGrid) --------------------------------------
#: the three ways a claim with a StepGrid is judged
WAYS = ("at the study's choice (thesis grid)", "each at its own best step", "over the step grid")
ONE_SETTING = "its one setting"


@dataclass(frozen=True)
class RobustVerdict:
    """One of the three verdicts of a claim with a :class:`~studies.spec.StepGrid` (``way`` in WAYS);
    ``fraction``: for the third, the share of (subject step, baseline step) pairs on which it holds."""

    claim: Claim
    way: str
    verdict: str
    evidence: str
    fraction: float = math.nan
    cells: tuple[int, int, int] | None = None

    @property
    def headline(self) -> str:
        return _headline(self.verdict, self.cells)


def claim_measure(claim: Claim, results: StudyResults, *, grid: bool) -> pd.DataFrame:
    """One row per run of the study's own runs (``grid=False``) or of its step-grid runs (``grid=True``):
    algorithm, label, dataset, K, seed, step (the grid value's label; the study's choice for its own runs)
    status and ``value``, the per-seed quantity the claim compares (time to target for ``faster``, a run that
    did not reach it censored at its end time, see :func:`time_measure`; the metric at the end or at
    ``at_epoch`` for ``lower_final``; NaN if the run has no value), ``reached`` and ``upper`` (the value with
    censored runs at +inf)."""
    cols = ["run_id", "algorithm", "label", "dataset", "K", "seed", "step", "status", "value", "reached", "upper"]
    if claim.kind == "faster":
        pr = per_run(results, grid=grid)
        if pr.empty:
            return pd.DataFrame(columns=cols)
        out = time_measure(pr)
        if not grid:
            out = out.assign(step="study's rule")
    else:
        metric = claim.metric or results.info.target.metric
        frame = results.to_frame()
        recs = {rid: g for rid, g in frame[frame["metric"] == metric].groupby("run_id")}
        rows = []
        for r in results.runs:
            p = dict(r.params)
            if dict(r.info).get("task", "run") != "run" or is_grid_run(r) != grid:
                continue
            g = recs.get(r.run_id)
            v = _value_at(g, claim.at_epoch) if g is not None and r.status != "failed" else math.nan
            step = str(p.get(p["grid"])) if grid else "study's rule"
            rows.append({"run_id": r.run_id, "algorithm": str(p.get("algorithm")), "label": r.label,
                         "dataset": p.get("dataset"), "K": int(p.get("K", 0)), "seed": int(p.get("seed", 0)),
                         "step": step, "status": r.status, "value": v, "reached": True, "upper": v})
        out = pd.DataFrame(rows, columns=cols)
    if claim.datasets:
        out = out[out["dataset"].isin(claim.datasets)]
    return out[cols].reset_index(drop=True)


def _step_order(label: str) -> tuple:
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)


def _settings(grid_rows: pd.DataFrame, main_rows: pd.DataFrame, alg: str, gridded: set, ds, K) -> dict | None:
    """step label -> runs of ``alg`` at (ds, K): its grid values if it has a grid, else its one setting;
    None when it has a grid elsewhere but not here (the grid was not run on this dataset)."""
    g = grid_rows[(grid_rows["algorithm"] == alg) & (grid_rows["dataset"] == ds) & (grid_rows["K"] == K)]
    if len(g):
        return {s: g[g["step"] == s] for s in sorted(g["step"].unique(), key=_step_order)}
    if alg in gridded:
        return None
    m = main_rows[(main_rows["algorithm"] == alg) & (main_rows["dataset"] == ds) & (main_rows["K"] == K)]
    return {ONE_SETTING: m} if len(m) else {}


def best_setting(settings: dict) -> str | None:
    """The step whose median value over seeds is lowest (first on ties; a run that did not reach the target
    counts as +inf, column ``upper``); settings with a failed run are not candidates; None if none is left."""
    best, score = None, math.inf
    for s, rows in settings.items():
        v = rows["upper" if "upper" in rows else "value"].to_numpy(dtype=float)
        if not v.size or np.isnan(v).any():
            continue
        m = float(np.median(v))
        if best is None or m < score:
            best, score = s, m
    return best


def _converges(rows: pd.DataFrame) -> bool:
    """Every run of a setting has a value and none diverged (it reached the target or ran to its end)."""
    v = rows["value"].to_numpy(dtype=float)
    return bool(len(rows)) and not np.isnan(v).any() and not rows["status"].isin(("diverged", "failed")).any()


def _step_range(settings: dict) -> str:
    """'1e-05..0.0215 (12 of 19 steps converge)' over a method's settings."""
    ok = [s for s, rows in settings.items() if _converges(rows)]
    if list(settings) == [ONE_SETTING]:
        return ONE_SETTING + ("" if ok else " (does not converge)")
    if not ok:
        return f"none of {len(settings)} steps converges"
    return f"{ok[0]}..{ok[-1]} ({len(ok)} of {len(settings)} steps converge)"


def split_seeds(seeds) -> tuple[list[int], list[int]]:
    """(seeds to choose the best step on, seeds to judge it on): with at least 2 x MIN_SEEDS seeds, the lower
    half chooses and the rest judge (no selection bias); with fewer, both are all seeds."""
    seeds = sorted(set(int(s) for s in seeds))
    if len(seeds) >= 2 * MIN_SEEDS:
        half = len(seeds) // 2
        return seeds[:half], seeds[half:]
    return seeds, seeds


def robust_verdicts(claim: Claim, results: StudyResults) -> tuple[list[RobustVerdict], pd.DataFrame]:
    """The claim judged three ways (WAYS), and one detail row per (dataset, K, subject): (a) the verdict at
    the study's own choice of the step (:func:`evaluate_claim`); (b) with each method at its own best step
    on the grid (lowest median over seeds). With at least 2 x MIN_SEEDS seeds the best step is chosen on
    the lower half of the seeds and judged on the others (:func:`split_seeds`); with fewer it is chosen on
    the seeds it is judged on, which favours the side with more steps (a best of 19 against one setting),
    and the evidence says so. A (dataset, K) where the grid did not run counts as inconclusive (no grid
    runs); (c) the fraction of (subject step, baseline step) pairs -- every pair of the two methods' grids,
    a method without the hyper-parameter at its one setting -- on which the claim agrees, each pair judged
    as in (b) on all seeds; beside it the fraction over the pairs where both methods converge (no run
    failed or diverged) and each method's stable step range. Data: the study's step-grid runs
    (``grid=<hyper>`` in their run ids), all seeds."""
    if claim.steps is None or claim.kind not in GRID_CLAIM_KINDS:
        raise ValueError(f"claim must have a StepGrid and a kind in {GRID_CLAIM_KINDS}, got {claim!r}")
    a = evaluate_claim(claim, results)
    main, grid = claim_measure(claim, results, grid=False), claim_measure(claim, results, grid=True)
    both = pd.concat([main, grid], ignore_index=True)
    keys = pd.Series(sorted(set(both["algorithm"]))) if len(both) else pd.Series([], dtype=str)
    subjects = sorted(set(keys[_match(keys, claim.subject)])) if len(keys) else []
    bases = sorted(set(keys[_match(keys, claim.baseline)])) if len(keys) else []
    gridded = set(grid["algorithm"])
    mine = grid[grid["algorithm"].isin(set(subjects) | set(bases[:1]))]
    head = (f"step-grid runs of these methods: {mine['run_id'].nunique()} ({mine['seed'].nunique()} seed"
            f"{'s' * (mine['seed'].nunique() != 1)}). ")
    rows, b_verdicts, b_parts, c_parts = [], [], [], []
    agree = total = agree_c = total_c = 0
    for ds, K in sorted({(d, k) for d, k in zip(both["dataset"], both["K"])}):
        for alg in subjects:
            lab = next(iter(both.loc[both["algorithm"] == alg, "label"]), alg)
            who = f"{lab} on {ds} K={K}"
            s_set = _settings(grid, main, alg, gridded, ds, K)
            b_set = _settings(grid, main, bases[0], gridded, ds, K) if bases else {}
            if s_set is None or b_set is None:
                b_verdicts.append("inconclusive")
                b_parts.append(f"{who}: inconclusive (no grid runs)")
                rows.append({"dataset": ds, "K": K, "subject": lab, "verdict at best": "inconclusive (no grid runs)",
                             "pairs": 0})
                continue
            if not s_set or not b_set:
                b_verdicts.append("inconclusive")
                b_parts.append(f"{who}: the {'subject' if not s_set else 'baseline'} has no runs here")
                continue
            seeds = set(pd.concat(list(s_set.values()) + list(b_set.values()))["seed"])
            pick, judge = split_seeds(seeds)

            def on(setting, which):
                return {k: r[r["seed"].isin(which)] for k, r in setting.items()}

            bs, bb = best_setting(on(s_set, pick)), best_setting(on(b_set, pick))
            if pick == judge:
                how = (f"best step chosen on the same {len(judge)} seeds it is judged on (favours the side with more "
                       f"steps: subject best of {len(s_set)}, baseline best of {len(b_set)})")
            else:
                how = f"best step chosen on seeds {pick[0]}..{pick[-1]}, judged on the other {len(judge)}"
            if bs is None or bb is None:
                side = "subject" if bs is None else "baseline"
                v, text, point = "inconclusive", f"{who}: no step of the {side} has a value on every seed", math.nan
            else:
                v, text, point = judge_pair(claim.kind, on(s_set, judge)[bs], on(b_set, judge)[bb],
                                            f"{who} at {claim.steps.hyper}={bs} vs {bb}")
            b_verdicts.append(v)
            b_parts.append(f"{text} [{how}]")
            counts = {"agrees": 0, "disagrees": 0, "inconclusive": 0}
            conv = {"agrees": 0, "disagrees": 0, "inconclusive": 0}
            for s_step, s_rows in s_set.items():
                for b_step, b_rows in b_set.items():
                    w = judge_pair(claim.kind, s_rows, b_rows, "")[0]
                    counts[w] += 1
                    if _converges(s_rows) and _converges(b_rows):
                        conv[w] += 1
            n, n_c = sum(counts.values()), sum(conv.values())
            agree, total = agree + counts["agrees"], total + n
            agree_c, total_c = agree_c + conv["agrees"], total_c + n_c
            c_parts.append(f"{who}: agrees on {counts['agrees']} of {n} step pairs ({len(s_set)} x {len(b_set)}), "
                           f"disagrees on {counts['disagrees']}, inconclusive on {counts['inconclusive']}; where both "
                           f"converge: agrees on {conv['agrees']} of {n_c}; stable steps: subject "
                           f"{_step_range(s_set)}, baseline {_step_range(b_set)}")
            rows.append({"dataset": ds, "K": K, "subject": lab, "subject best step": bs, "baseline best step": bb,
                         ("speedup at best" if claim.kind == "faster" else "baseline - subject at best"): point,
                         "verdict at best": v, "pairs": n,
                         "agrees": counts["agrees"], "disagrees": counts["disagrees"],
                         "inconclusive": counts["inconclusive"], "fraction agrees": counts["agrees"] / n,
                         "converged pairs": n_c,
                         "fraction agrees (converged)": conv["agrees"] / n_c if n_c else math.nan,
                         "subject stable steps": _step_range(s_set), "baseline stable steps": _step_range(b_set)})
    if not bases:
        b_verdicts.append("inconclusive")
        b_parts.insert(0, f"no runs of the baseline {claim.baseline!r}")
    stat = ("speedup = baseline's median time / subject's, 95% bootstrap interval over seeds"
            if claim.kind == "faster" else "median (range) over seeds")
    b = RobustVerdict(claim, WAYS[1], _overall(b_verdicts) if b_verdicts else "inconclusive",
                      head + (_tally(b_verdicts) if b_verdicts else "") + f"Best step = lowest median over seeds; "
                      f"{stat}: " + ("; ".join(b_parts) or "no step-grid runs"), cells=_cells(b_verdicts))
    frac = agree / total if total else math.nan
    c = RobustVerdict(claim, WAYS[2], (f"holds on {agree} of {total} step pairs; {agree_c} of {total_c} where both "
                                       f"converge") if total else "inconclusive",
                      head + "Each (subject step, baseline step) pair judged as at the best step, on all seeds: "
                      + ("; ".join(c_parts) or "no step-grid runs"), fraction=frac)
    return [RobustVerdict(claim, WAYS[0], a.verdict, a.evidence), b, c], pd.DataFrame(rows)


def _linear_rate(claim: Claim, results: StudyResults) -> Verdict:
    """Every run of the subject converges linearly (worst R^2 >= threshold, every rate < 1); with a
    baseline, the log-rate ratio log(median subject rate) / log(median baseline rate) is within
    1/ratio..ratio: agrees when its 95% bootstrap interval over seeds lies inside that band, disagrees when
    it lies outside. Fewer than MIN_SEEDS seeds per (dataset, K, method): inconclusive, with the reason."""
    per = per_run(results)
    ps = per[_match(per["algorithm"], claim.subject)]
    fits = ps["rate_r2"].to_numpy(dtype=float)
    rates = ps["rate_per_epoch"].to_numpy(dtype=float)
    if np.isnan(fits).any():
        # a failed run, or one too short to fit, is not left out of "every run converges linearly"
        return Verdict(claim, "inconclusive", f"{int(np.isnan(fits).sum())} of {len(ps)} runs of "
                                              f"{claim.subject!r} have no fitted rate (failed or too few records)")
    ok = bool(np.nanmin(fits) >= claim.threshold and np.nanmax(rates) < 1.0)
    text = (f"log10(metric) vs epoch: contraction per epoch {_fmt(np.nanmin(rates))}.."
            f"{_fmt(np.nanmax(rates))}, R^2 >= {_fmt(np.nanmin(fits))} over {len(ps)} runs")
    counts = [int(ps.groupby(KEYS).size().min())]
    verdict = "agrees" if ok else "disagrees"
    if claim.baseline:
        pb = per[_match(per["algorithm"], claim.baseline)]
        rates_b = pb["rate_per_epoch"].to_numpy(dtype=float)
        if not len(pb) or np.isnan(rates_b).any():
            why = "has no runs" if not len(pb) else \
                f"has {int(np.isnan(rates_b).sum())} of {len(pb)} runs without a fitted rate (failed or too short)"
            return Verdict(claim, "inconclusive", f"{text}; the baseline {claim.baseline!r} {why}")
        counts.append(int(pb.groupby(KEYS).size().min()))

        def log_ratio(a, b):
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.log10(np.median(a, axis=-1)) / np.log10(np.median(b, axis=-1))

        iv = bootstrap_interval(rates, rates_b, log_ratio)
        band = f"1/{claim.ratio:g}..{claim.ratio:g}"
        text += (f"; log-rate ratio vs {claim.baseline} {_fmt(iv.point)} (95% [{_fmt(iv.lo)}, {_fmt(iv.hi)}] over "
                 f"seeds; similar if the interval is within {band})")
        if not np.isfinite(iv.point) or np.isnan(iv.lo) or np.isnan(iv.hi):
            return Verdict(claim, "inconclusive", text)
        similar = ("agrees" if 1.0 / claim.ratio <= iv.lo and iv.hi <= claim.ratio else
                   "disagrees" if iv.hi < 1.0 / claim.ratio or iv.lo > claim.ratio else "inconclusive")
        verdict = "disagrees" if not ok or similar == "disagrees" else similar
    few = too_few_seeds(*counts)
    if few:
        return Verdict(claim, "inconclusive", f"{text}; {few}")
    return Verdict(claim, verdict, text)


def _seed_times(tm: pd.DataFrame, ds, K, alg) -> pd.DataFrame:
    """The runs of ``alg`` at (ds, K) from :func:`time_measure`, sorted by seed."""
    return tm[(tm["dataset"] == ds) & (tm["K"] == K) & (tm["algorithm"] == alg)].sort_values("seed")


def _speedup_problem(groups: list[pd.DataFrame]) -> str | None:
    """Why per-seed speedups (eq. 3.39 / 2.52) cannot be bootstrapped from these runs, or None (too few seeds
    is the caller's check: the interval is still shown)."""
    if any(g.empty for g in groups):
        return "no runs here"
    n_nan = sum(int(g["upper"].isna().sum()) for g in groups)
    if n_nan:
        return f"{n_nan} runs failed or have no record"
    n_inf = sum(int(np.isinf(g["upper"].to_numpy(dtype=float)).sum()) for g in groups)
    if n_inf:
        return f"{n_inf} runs did not reach the target (speedup unknown)"
    return None


def _med(x, axis=-1):
    return np.median(x, axis=axis)


def _speedup_better(claim: Claim, results: StudyResults, subj: pd.DataFrame, tab: pd.DataFrame) -> Verdict:
    """Speedup (eq. 3.39) of the subject >= the baseline's at every K > 1: per (dataset, K), the ratio of the
    two speedups (median times over seeds) with a 95% bootstrap interval over seeds of all four run sets (K = 1
    and K of each method); agrees above 1, disagrees below, else inconclusive; inconclusive with fewer than
    MIN_SEEDS seeds, a failed run or one that did not reach the target."""
    if "speedup_vs_K1" not in tab.columns:
        return Verdict(claim, "inconclusive", "K = 1 is not in the grid, so eq. 3.39's serial time is unknown")
    rows = subj[subj["K"] > 1]
    if rows.empty:
        return Verdict(claim, "inconclusive", "no K > 1 in the grid")
    tm = time_measure(per_run(results))
    base_keys = sorted(set(tm.loc[_match(tm["algorithm"], claim.baseline), "algorithm"])) if len(tm) else []
    verdicts, parts = [], []
    for alg, ds, K in zip(rows["algorithm"], rows["dataset"], rows["K"]):
        if not base_keys:
            verdicts.append("inconclusive")
            parts.append(f"{ds} K={K}: the baseline {claim.baseline!r} has no runs")
            continue
        g = [_seed_times(tm, ds, 1, alg), _seed_times(tm, ds, K, alg),
             _seed_times(tm, ds, 1, base_keys[0]), _seed_times(tm, ds, K, base_keys[0])]
        verdict, iv, x, why = _speedup_cell(g, lambda s1, sk, b1, bk: (_med(s1) / _med(sk)) / (_med(b1) / _med(bk)),
                                            1.0)
        verdicts.append(verdict)
        if iv is None:
            parts.append(f"{ds} K={K}: {why}")
            continue
        s_pt, b_pt = _med(x[0]) / _med(x[1]), _med(x[2]) / _med(x[3])
        text = (f"{ds} K={K}: {_fmt(s_pt)} vs {_fmt(b_pt)} (ratio x{fmt_near(iv.point)}; "
                f"95% [{fmt_near(iv.lo)}, {fmt_near(iv.hi)}])")
        parts.append(text + (f"; {why}" if why else ""))
    return Verdict(claim, _overall(verdicts), _tally(verdicts) + f"speedup (eq. 3.39) {claim.subject} vs "
                   f"{claim.baseline}, median times over seeds, ratio of the speedups with a 95% bootstrap "
                   f"interval; agrees/disagrees only when it excludes 1, with >= {MIN_SEEDS} seeds: "
                   + "; ".join(parts), _cells(verdicts))


def _speedup_cell(g: list[pd.DataFrame], stat, line: float):
    """One speedup cell from per-seed times ``g`` (``_seed_times`` frames): (verdict, interval or None,
    the times, the reason it cannot be decisive or None). No interval when a run failed or did not reach
    the target (:func:`_speedup_problem`); an interval but *inconclusive* below MIN_SEEDS seeds; otherwise
    the side of ``line`` the 95% bootstrap interval of ``stat`` over seeds lies on."""
    if why := _speedup_problem(g):
        return "inconclusive", None, None, why
    why = too_few_seeds(*[len(gi) for gi in g])
    x = [gi["upper"].to_numpy(dtype=float) for gi in g]
    iv = bootstrap_many(x, stat, seeds=[gi["seed"].tolist() for gi in g])
    return ("inconclusive" if why else iv.side(line)), iv, x, why


def _speedup_linear(claim: Claim, subj: pd.DataFrame, tab: pd.DataFrame, results: StudyResults) -> Verdict:
    """Speedup (eq. 2.52, median times over seeds) >= threshold x K for every K <= up_to, per dataset, judged on
    its 95% bootstrap interval over seeds: agrees when every judged K's interval lies above threshold x K,
    disagrees when some judged K's lies below, else inconclusive (also with fewer than MIN_SEEDS seeds, a
    failed run or one that did not reach the target); K* = the first K whose speedup falls below."""
    if "speedup_vs_K1" not in tab.columns:
        return Verdict(claim, "inconclusive", "K = 1 is not in the grid, so the serial time (eq. 2.52) is unknown")
    rows = subj[subj["K"] > 1].sort_values(["dataset", "K"])
    if rows.empty:
        return Verdict(claim, "inconclusive", "no K > 1 in the grid")
    tm = time_measure(per_run(results))
    limit = claim.up_to or int(rows["K"].max())
    verdicts, parts = [], []
    for (ds, alg), grp in rows.groupby(["dataset", "algorithm"], sort=True):
        s, K = grp["speedup_vs_K1"].to_numpy(dtype=float), grp["K"].to_numpy(dtype=float)
        below = np.flatnonzero(np.isfinite(s) & (s < claim.threshold * K))
        stop = f"; falls below {claim.threshold:g} x K first at K={int(K[below[0]])}" if below.size else ""
        cells, texts = [], []
        for k in K:
            g = [_seed_times(tm, ds, 1, alg), _seed_times(tm, ds, int(k), alg)]
            line = claim.threshold * k
            verdict, iv, _, why = _speedup_cell(g, lambda t1, tk: _med(t1) / _med(tk), line)
            cells.append(verdict)
            if iv is None:
                texts.append(f"K={int(k)}: {why}")
                continue
            texts.append(f"K={int(k)} {_fmt(iv.point)} ({_fmt(iv.point / k)} of ideal; 95% [{fmt_near(iv.lo, line)}, "
                         f"{fmt_near(iv.hi, line)}] vs {line:g})" + (f"; {why}" if why else ""))
        judged = [c for c, k in zip(cells, K) if k <= limit]
        verdicts.append("disagrees" if "disagrees" in judged else
                        "agrees" if judged and all(c == "agrees" for c in judged) else "inconclusive")
        parts.append(f"{ds}: " + ", ".join(texts) + stop)
    return Verdict(claim, _overall(verdicts), _tally(verdicts) + f"time speedup (eq. 2.52) of {claim.subject}, "
                   f"judged up to K={limit} (median time over seeds, 95% bootstrap interval; agrees/disagrees only "
                   f"when it excludes {claim.threshold:g} x K, with >= {MIN_SEEDS} seeds): " + "; ".join(parts),
                   _cells(verdicts))


def _value_at(g: pd.DataFrame, at_epoch: float | None) -> float:
    """The metric's last record, or its value at ``at_epoch`` (linear interpolation in epochs)."""
    g = g.sort_values("step")
    if at_epoch is None:
        return float(g["value"].iloc[-1])
    e, v = g["epoch"].to_numpy(dtype=float), g["value"].to_numpy(dtype=float)
    return float(np.interp(at_epoch, e, v)) if e[-1] >= at_epoch else math.nan


def _lower_final(claim: Claim, results: StudyResults) -> Verdict:
    """subject's metric below baseline's at the end (or at ``claim.at_epoch``), for every (dataset, K):
    agrees when every seed of the subject is below every seed of the baseline, disagrees when every seed
    is above, each only when so complete a separation is unlikely by chance (:func:`separation_p` <
    SEPARATION_ALPHA: at least 4 vs 4 seeds); inconclusive when the seeds overlap, there are too few, or a
    run has no value (failed, missing, too short). The headline over cells follows :func:`_overall`."""
    metric = claim.metric or results.info.target.metric
    frame = results.to_frame()
    frame = frame[frame["metric"] == metric]
    recs = {rid: g for rid, g in frame.groupby("run_id")}
    values: dict[tuple, list[float]] = {}
    for r in results.runs:
        p = r.params
        key = (p.get("dataset"), int(p.get("K", 0)), str(p.get("algorithm")))
        g = recs.get(r.run_id)
        values.setdefault(key, []).append(_value_at(g, claim.at_epoch) if g is not None and r.status != "failed"
                                          else math.nan)
    keys = pd.Series([k[2] for k in values])
    subj_keys = set(keys[_match(keys, claim.subject)]) if len(keys) else set()
    base_keys = set(keys[_match(keys, claim.baseline)]) if len(keys) else set()
    pairs = sorted({(ds, K) for ds, K, a in values if a in subj_keys | base_keys
                    and (not claim.datasets or ds in claim.datasets)})
    if not pairs:
        where = f" on {', '.join(claim.datasets)}" if claim.datasets else ""
        return Verdict(claim, "inconclusive", f"no runs of {claim.subject!r} or {claim.baseline!r}{where}")
    when = "at the end" if claim.at_epoch is None else f"at epoch {claim.at_epoch:g}"
    verdicts, parts = [], []
    for ds, K in pairs:
        a = [v for (d, k, alg), vs in values.items() if (d, k) == (ds, K) and alg in subj_keys for v in vs]
        b = [v for (d, k, alg), vs in values.items() if (d, k) == (ds, K) and alg in base_keys for v in vs]
        if not a or not b or np.isnan(a).any() or np.isnan(b).any():
            verdicts.append("inconclusive")
            parts.append(f"{ds} K={K}: {_spread(a)} vs {_spread(b)}")
        else:
            v, text, _ = judge_pair("lower_final", pd.DataFrame({"seed": range(len(a)), "value": a}),
                                    pd.DataFrame({"seed": range(len(b)), "value": b}), f"{ds} K={K}")
            verdicts.append(v)
            parts.append(text)
    verdict = _overall(verdicts)
    return Verdict(claim, verdict, _tally(verdicts) + f"{metric} {when}, {claim.subject} vs {claim.baseline} (median, "
                                   f"range over seeds; agrees/disagrees only when the seeds do not overlap and such "
                                   f"a separation has exact probability 2/C(n_s+n_b, n_s) < {SEPARATION_ALPHA:g} "
                                   f"under no difference): " + "; ".join(parts), _cells(verdicts))


def _spread(v: list[float]) -> str:
    if not v:
        return "no runs"
    x = np.asarray(v, dtype=float)
    if np.isnan(x).any():
        return f"{int(np.isnan(x).sum())} of {x.size} runs without a value"
    return f"{_fmt(float(np.median(x)))} ({_fmt(x.min())}..{_fmt(x.max())}, {x.size} seed{'s' * (x.size > 1)})"


def evaluate_claims(results: StudyResults) -> list[Verdict]:
    return [evaluate_claim(c, results) for c in results.info.claims]


# --- measured contraction vs a theorem's bound (study ch3-bound) -------------------------------
#: verdicts of a measured curve against a theorem's bound
BOUND_VERDICTS = ("holds", "violated", "condition not met")
#: below this C^{s,0}/C^{0,0} a curve sits at the accuracy of w*, not at the algorithm's rate
LOOSENESS_FLOOR = 1e-10


@dataclass(frozen=True)
class BoundCheck:
    """A measured curve against a bound: the verdict and how loose the bound is.

    ``worst_z``: the largest seed-mean excess over the bound, in standard errors of that mean
    (<= ``z`` means within seed noise); ``worst_round`` where it happens. ``nominal`` is what the
    comparison alone says (holds / violated), whatever the theorem's condition; ``verdict`` is
    "condition not met" when the step size is outside the theorem's condition.
    """

    verdict: str
    nominal: str
    worst_z: float
    worst_round: int
    z: float


def bound_excess(curves: np.ndarray, rho: float, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-seed excess over the bound and the scale it is measured on, shapes (seeds, rounds).

    ``curves[j, s]`` = C^{s,0}/C^{0,0} of seed j. ``kind="outer"`` (Theorem 3.4.2, eq. 3.25):
    excess C_s/C_0 - rho^s for s = 1..S. ``kind="round"`` (Theorem 3.4.1, eq. 3.19 applied to
    each outer round): C_{s+1}/C_0 - rho C_s/C_0 for s = 0..S-1. Column j is about round j + 1.
    The expectation in the theorems is estimated by the mean of the excess over seeds.
    """
    c = np.asarray(curves, dtype=float)
    if c.ndim != 2 or c.shape[1] < 2:
        raise ValueError(f"curves must have shape (seeds, rounds + 1) with rounds >= 1, got {c.shape}")
    if not (math.isfinite(rho) and rho <= 1.0):
        raise ValueError(f"rho must be a finite contraction factor <= 1, got {rho!r}")
    if kind == "outer":
        bound = rho ** np.arange(1, c.shape[1], dtype=float) if rho >= 0 else np.full(c.shape[1] - 1, np.nan)
        return c[:, 1:] - bound[None, :], np.broadcast_to(np.abs(bound), (c.shape[0], c.shape[1] - 1))
    if kind == "round":
        return c[:, 1:] - rho * c[:, :-1], np.abs(rho) * c[:, :-1]
    raise ValueError(f"kind must be 'outer' (eq. 3.25) or 'round' (eq. 3.19), got {kind!r}")


def check_bound(curves: np.ndarray, rho: float, kind: str, *, admissible: bool, z: float = 3.0,
                rtol: float = 1e-9, floor: float = LOOSENESS_FLOOR) -> BoundCheck:
    """Verdict of measured curves against E[C] <= bound: holds / violated / condition not met.

    At every round the seed mean of the excess (:func:`bound_excess`) must be at most
    ``z`` standard errors of that mean (one seed: zero) plus ``rtol`` times the bound's scale
    (floating-point rounding). Rounds where both the measured mean and the bound's scale are
    below ``floor`` (relative to C^{0,0}) are not judged: there C sits at the accuracy of w*.
    ``admissible=False`` (the step size is outside the theorem's condition) gives
    "condition not met"; the comparison is still reported in ``nominal``.
    """
    if not (math.isfinite(z) and z >= 0):
        raise ValueError(f"z must be a finite number >= 0 (standard errors of tolerance), got {z!r}")
    ex, scale = bound_excess(curves, rho, kind)
    c = np.asarray(curves, dtype=float)
    measured = c[:, 1:]
    m = ex.shape[0]
    mean = ex.mean(axis=0)
    se = ex.std(axis=0, ddof=1) / math.sqrt(m) if m > 1 else np.zeros(ex.shape[1])
    allowed = z * se + rtol * scale.mean(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        zs = np.where(se > 0, mean / se, np.where(mean > allowed, np.inf, 0.0))
        below = (measured.mean(axis=0) < floor) & (scale.mean(axis=0) < floor)
    bad = ~(mean <= allowed) & ~below  # NaN (a diverged curve) counts as a violation
    rank = np.where(below, -np.inf, np.where(np.isnan(zs), np.inf, zs))
    worst = int(np.argmax(rank))
    nominal = "violated" if bad.any() else "holds"
    verdict = nominal if admissible else "condition not met"
    worst_z = math.nan if below[worst] else float(zs[worst])
    return BoundCheck(verdict, nominal, worst_z, worst + 1, float(z))


def log_looseness(mean_curve: np.ndarray, rho: float, *, floor: float = LOOSENESS_FLOOR) -> tuple[float, int]:
    """(measured log-contraction per round / the bound's, rounds used): how loose (1 - eta lam H)^s is.

    Measured: log(mean C_s/C_0)/s at the last round s whose mean stays above ``floor`` (below it
    the curve sits at the accuracy of w*, not at the algorithm's rate). 1 = tight, > 1 = the
    algorithm contracts faster than the bound promises, < 1 = slower (the bound fails).
    """
    c = np.asarray(mean_curve, dtype=float)
    ok = np.flatnonzero(np.isfinite(c) & (c > floor))
    s = int(ok[-1]) if ok.size else 0
    if s == 0 or not (0 < rho < 1):
        return math.nan, s
    return float(math.log(c[s]) / s / math.log(rho)), s
