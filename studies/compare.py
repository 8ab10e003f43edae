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
        if claim.baseline:
            pb = per[_match(per["algorithm"], claim.baseline)]
            rates_b = pb["rate_per_epoch"].to_numpy(dtype=float)
            if not len(pb) or np.isnan(rates_b).any():
                why = "has no runs" if not len(pb) else \
                    f"has {int(np.isnan(rates_b).sum())} of {len(pb)} runs without a fitted rate (failed or too short)"
                return Verdict(claim, "inconclusive", f"{text}; the baseline {claim.baseline!r} {why}")
            slope_s = np.log10(np.median(rates))
            slope_b = np.log10(np.median(rates_b))
            ratio = slope_s / slope_b if np.isfinite(slope_b) and slope_b != 0 else math.nan
            text += (f"; log-rate ratio vs {claim.baseline} {_fmt(ratio)} "
                     f"(similar if within 1/{claim.ratio:g}..{claim.ratio:g})")
            if not np.isfinite(ratio):
                return Verdict(claim, "inconclusive", text)
            ok = ok and (1.0 / claim.ratio <= ratio <= claim.ratio)
        return Verdict(claim, "agrees" if ok else "disagrees", text)
    if claim.kind == "speedup_better":
        if "speedup_vs_K1" not in tab.columns:
            return Verdict(claim, "inconclusive", "K = 1 is not in the grid, so eq. 3.39's serial time is unknown")
        base = tab[_match(tab["algorithm"], claim.baseline)].set_index(["dataset", "K"])["speedup_vs_K1"]
        base = base[~base.index.duplicated()]
        rows = subj[subj["K"] > 1]
        if rows.empty:
            return Verdict(claim, "inconclusive", "no K > 1 in the grid")
        s = rows["speedup_vs_K1"].to_numpy(dtype=float)
        b = base.reindex(pd.MultiIndex.from_frame(rows[["dataset", "K"]])).to_numpy(dtype=float)
        parts = [f"{d} K={k}: {_fmt(x)} vs {_fmt(y)}" for d, k, x, y in zip(rows["dataset"], rows["K"], s, b)]
        if np.isnan(s).any() or np.isnan(b).any():
            return Verdict(claim, "inconclusive", "target not reached, a run failed or the baseline has no runs "
                                                  "in some cases; " + "; ".join(parts))
        verdict = "agrees" if np.all(s >= b) else "disagrees"
        return Verdict(claim, verdict, f"speedup (eq. 3.39) {claim.subject} vs {claim.baseline}: " + "; ".join(parts))
    if claim.kind == "lower_final":
        return _lower_final(claim, results)
    if claim.kind == "speedup_linear":
        return _speedup_linear(claim, subj, tab)
    raise ValueError(f"claim.kind must be one of {CLAIM_KINDS}, got {claim.kind!r}")


def _overall(verdicts: list[str]) -> str:
    """A claim made for every (dataset, K): disagrees if it fails somewhere, else inconclusive if it is
    undecided somewhere, else agrees."""
    return "disagrees" if "disagrees" in verdicts else "inconclusive" if "inconclusive" in verdicts else "agrees"


# --- intervals over seeds -------------------------------------------------------------------------
#: bootstrap resamples behind every 95% interval over seeds
BOOTSTRAP_RESAMPLES = 4000
#: the seed of the bootstrap's Generator: the same results give the same intervals on every report
BOOTSTRAP_SEED = 20200
LEVEL = 0.95


@dataclass(frozen=True)
class Interval:
    """A statistic, its ``level`` bootstrap percentile interval [lo, hi] over seeds, and how it was drawn."""

    point: float
    lo: float
    hi: float
    seeds: tuple[int, int]  # (subject's, baseline's)
    paired: bool
    resamples: int

    def side(self, line: float) -> str:
        """agrees (the interval lies above ``line``), disagrees (below) or inconclusive (it straddles)."""
        if math.isnan(self.lo) or math.isnan(self.hi):
            return "inconclusive"
        return "agrees" if self.lo > line else "disagrees" if self.hi < line else "inconclusive"

    def describe(self) -> str:
        """'95% [lo, hi] over n seeds, paired by seed' (the point estimate is the caller's to show)."""
        how = "paired by seed" if self.paired else "seeds resampled per side"
        n = f"{self.seeds[0]} seed{'s' * (self.seeds[0] != 1)}" if self.seeds[0] == self.seeds[1] else \
            f"{self.seeds[0]} vs {self.seeds[1]} seeds"
        return (f"95% [{_fmt(self.lo)}, {_fmt(self.hi)}] over {n}, {how}"
                + (" (one seed: no spread to resample)" if min(self.seeds) == 1 else ""))


def median_ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """median(num) / median(den) along the last axis; a time of +inf (never reached) is allowed: only one
    side infinite gives inf or 0, both infinite (neither side reached it) gives 1 (no evidence either way)."""
    a, b = np.median(num, axis=-1), np.median(den, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = a / b
    return np.where(np.isinf(a) & np.isinf(b), 1.0, r)


def bootstrap_interval(a, b, stat=median_ratio, *, seeds_a=None, seeds_b=None, level: float = LEVEL,
                       resamples: int = BOOTSTRAP_RESAMPLES, rng: np.random.Generator | None = None) -> Interval:
    """``stat(a, b)`` and its percentile bootstrap interval over seeds (``resamples`` draws of the seeds with
    replacement from ``rng``, default ``default_rng(BOOTSTRAP_SEED)``). When both sides ran the same seeds
    (``seeds_a`` == ``seeds_b``, e.g. the same delays for both methods) seeds are drawn in pairs, else each
    side is resampled on its own. The bounds are order statistics (no interpolation), so they stay defined
    when a statistic is infinite. ``stat`` maps arrays (..., n_a) and (..., n_b) to (...)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.size == 0 or b.size == 0 or np.isnan(a).any() or np.isnan(b).any():
        raise ValueError(f"a and b must be non-empty arrays without NaN, got {a!r} and {b!r}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    rng = np.random.default_rng(BOOTSTRAP_SEED) if rng is None else rng
    paired = seeds_a is not None and seeds_b is not None and list(seeds_a) == list(seeds_b) and a.size == b.size
    ia = rng.integers(0, a.size, size=(resamples, a.size))
    ib = ia if paired else rng.integers(0, b.size, size=(resamples, b.size))
    draws = np.asarray(stat(a[ia], b[ib]), dtype=float)
    alpha = (1.0 - level) / 2
    lo = float(np.quantile(draws, alpha, method="lower"))
    hi = float(np.quantile(draws, 1.0 - alpha, method="higher"))
    return Interval(float(stat(a, b)), lo, hi, (int(a.size), int(b.size)), bool(paired), int(resamples))


def time_measure(pr: pd.DataFrame) -> pd.DataFrame:
    """Rows of :func:`per_run` with ``value`` = time to target: +inf for a run that ran and never reached it,
    NaN for a run without a value (failed, no record) -- never read as 'not reached'."""
    t = pr["time_to_target"].to_numpy(dtype=float)
    ok = pr["has_value"].to_numpy(dtype=bool)
    return pr.assign(value=np.where(ok, np.where(np.isnan(t), np.inf, t), np.nan))


def judge_pair(kind: str, sub: pd.DataFrame, base: pd.DataFrame, who: str) -> tuple[str, str, float]:
    """(verdict, evidence, statistic) of one comparison between the subject's runs ``sub`` and the
    baseline's ``base`` (rows with ``seed`` and ``value``; NaN = the run has no value) for one dataset, K
    and setting of each. ``faster``: value = time to target, statistic = speedup = baseline's median
    time / subject's, judged on its 95% bootstrap interval over seeds (:func:`bootstrap_interval`): agrees
    above 1, disagrees below 1, else inconclusive. ``lower_final``: value = the metric, agrees when every
    seed of the subject is below every seed of the baseline, disagrees when every one is above."""
    if base.empty or sub.empty:
        return "inconclusive", f"{who}: the {'baseline' if base.empty else 'subject'} has no runs here", math.nan
    sub, base = sub.sort_values("seed"), base.sort_values("seed")
    a, b = sub["value"].to_numpy(dtype=float), base["value"].to_numpy(dtype=float)
    if np.isnan(a).any() or np.isnan(b).any():
        missing = ", ".join(f"{int(np.isnan(x).sum())} of {x.size} runs of the {w} failed or have no record"
                            for x, w in ((a, "subject"), (b, "baseline")) if np.isnan(x).any())
        return "inconclusive", f"{who}: {missing}", math.nan
    if kind == "faster":
        iv = bootstrap_interval(b, a, seeds_a=base["seed"].tolist(), seeds_b=sub["seed"].tolist())
        text = (f"{who}: {_fmt(float(np.median(a)))} s vs {_fmt(float(np.median(b)))} s (x{_fmt(iv.point)}; "
                + iv.describe() + ")")
        if np.isinf(a).all() and np.isinf(b).all():
            return "inconclusive", text + "; neither side reached the target", iv.point
        return iv.side(1.0), text, iv.point
    if kind == "lower_final":
        text = f"{who}: {_spread(list(a))} vs {_spread(list(b))}"
        point = float(np.median(b) - np.median(a))
        return ("agrees" if a.max() < b.min() else "disagrees" if a.min() > b.max() else "inconclusive"), text, point
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
    return Verdict(claim, _overall(verdicts), _faster_head(claim, results) + "; ".join(parts))


def _faster_head(claim: Claim, results: StudyResults) -> str:
    return (f"simulated time to {results.info.target.describe()}, vs {claim.baseline} (median over seeds; "
            f"speedup = baseline's / subject's, 95% bootstrap interval, {BOOTSTRAP_RESAMPLES} resamples; "
            f"agrees/disagrees only when it excludes 1): ")


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


def claim_measure(claim: Claim, results: StudyResults, *, grid: bool) -> pd.DataFrame:
    """One row per run of the study's own runs (``grid=False``) or of its step-grid runs (``grid=True``):
    algorithm, label, dataset, K, seed, step (the grid value's label; the study's choice for its own runs)
    and ``value``, the per-seed quantity the claim compares (time to target for ``faster``, +inf if never
    reached; the metric at the end or at ``at_epoch`` for ``lower_final``; NaN if the run has no value)."""
    cols = ["run_id", "algorithm", "label", "dataset", "K", "seed", "step", "value"]
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
                         "step": step, "value": v})
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
    """The step whose median value over seeds is lowest (first on ties); settings with a failed run are not
    candidates; None if none is left."""
    best, score = None, math.inf
    for s, rows in settings.items():
        v = rows["value"].to_numpy(dtype=float)
        if not v.size or np.isnan(v).any():
            continue
        m = float(np.median(v))
        if best is None or m < score:
            best, score = s, m
    return best


def robust_verdicts(claim: Claim, results: StudyResults) -> tuple[list[RobustVerdict], pd.DataFrame]:
    """The claim judged three ways (WAYS), and one detail row per (dataset, K, subject): (a) the verdict at
    the study's own choice of the step (:func:`evaluate_claim`); (b) with each method at its own best step
    on the grid (lowest median over seeds; chosen on the same seeds it is judged on, alike for both
    sides); (c) the fraction of (subject step, baseline step) pairs -- every pair of the two methods'
    grids, a method without the hyper-parameter at its one setting -- on which the claim agrees, each pair
    judged as in (b). Data: the study's step-grid runs (``grid=<hyper>`` in their run ids), all seeds."""
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
    agree = total = 0
    for ds, K in sorted({(d, k) for d, k in zip(both["dataset"], both["K"])}):
        for alg in subjects:
            lab = next(iter(both.loc[both["algorithm"] == alg, "label"]), alg)
            who = f"{lab} on {ds} K={K}"
            s_set = _settings(grid, main, alg, gridded, ds, K)
            b_set = _settings(grid, main, bases[0], gridded, ds, K) if bases else {}
            if s_set is None or b_set is None:
                b_parts.append(f"{who}: the step grid was not run here")
                continue
            if not s_set or not b_set:
                b_verdicts.append("inconclusive")
                b_parts.append(f"{who}: the {'subject' if not s_set else 'baseline'} has no runs here")
                continue
            bs, bb = best_setting(s_set), best_setting(b_set)
            if bs is None or bb is None:
                v, text, point = "inconclusive", f"{who}: no step of the {'subject' if bs is None else 'baseline'} "                                                  f"has a value on every seed", math.nan
            else:
                v, text, point = judge_pair(claim.kind, s_set[bs], b_set[bb], f"{who} at {claim.steps.hyper}={bs} "
                                                                              f"vs {bb}")
            b_verdicts.append(v)
            b_parts.append(text)
            counts = {"agrees": 0, "disagrees": 0, "inconclusive": 0}
            for s_step, s_rows in s_set.items():
                for b_step, b_rows in b_set.items():
                    counts[judge_pair(claim.kind, s_rows, b_rows, "")[0]] += 1
            n = sum(counts.values())
            agree, total = agree + counts["agrees"], total + n
            c_parts.append(f"{who}: agrees on {counts['agrees']} of {n} step pairs ({len(s_set)} x {len(b_set)}), "
                           f"disagrees on {counts['disagrees']}, inconclusive on {counts['inconclusive']}")
            rows.append({"dataset": ds, "K": K, "subject": lab, "subject best step": bs, "baseline best step": bb,
                         ("speedup at best" if claim.kind == "faster" else "baseline - subject at best"): point, "verdict at best": v, "pairs": n,
                         "agrees": counts["agrees"], "disagrees": counts["disagrees"],
                         "inconclusive": counts["inconclusive"], "fraction agrees": counts["agrees"] / n})
    if not bases:
        b_verdicts.append("inconclusive")
        b_parts.insert(0, f"no runs of the baseline {claim.baseline!r}")
    stat = ("speedup = baseline's median time / subject's, 95% bootstrap interval over seeds"
            if claim.kind == "faster" else "median (range) over seeds")
    b = RobustVerdict(claim, WAYS[1], _overall(b_verdicts) if b_verdicts else "inconclusive",
                      head + f"Best step = lowest median over seeds, chosen on the seeds it is judged on; {stat}: "
                      + ("; ".join(b_parts) or "no step-grid runs"))
    frac = agree / total if total else math.nan
    c = RobustVerdict(claim, WAYS[2], f"holds on {agree} of {total} step pairs" if total else "inconclusive",
                      head + "Each (subject step, baseline step) pair judged as at the best step: "
                      + ("; ".join(c_parts) or "no step-grid runs"), fraction=frac)
    return [RobustVerdict(claim, WAYS[0], a.verdict, a.evidence), b, c], pd.DataFrame(rows)


def _speedup_linear(claim: Claim, subj: pd.DataFrame, tab: pd.DataFrame) -> Verdict:
    """Speedup >= threshold x K for every K <= up_to, per dataset; K* = the first K where it falls below."""
    if "speedup_vs_K1" not in tab.columns:
        return Verdict(claim, "inconclusive", "K = 1 is not in the grid, so the serial time (eq. 2.52) is unknown")
    rows = subj[subj["K"] > 1].sort_values(["dataset", "K"])
    if rows.empty:
        return Verdict(claim, "inconclusive", "no K > 1 in the grid")
    limit = claim.up_to or int(rows["K"].max())
    verdicts, parts = [], []
    for ds, grp in rows.groupby("dataset", sort=True):
        s, K = grp["speedup_vs_K1"].to_numpy(dtype=float), grp["K"].to_numpy(dtype=float)
        below = np.flatnonzero(np.isfinite(s) & (s < claim.threshold * K))
        judged = K <= limit
        stop = f"; falls below {claim.threshold:g} x K first at K={int(K[below[0]])}" if below.size else ""
        parts.append(f"{ds}: " + ", ".join(f"K={int(k)} {_fmt(x)} ({_fmt(x / k)} of ideal)" for k, x in zip(K, s))
                     + stop)
        if below.size and judged[below[0]]:
            verdicts.append("disagrees")
        elif np.isnan(s[judged]).any():
            verdicts.append("inconclusive")
        else:
            verdicts.append("agrees")
    verdict = _overall(verdicts)
    return Verdict(claim, verdict, f"time speedup (eq. 2.52) of {claim.subject}, judged up to K={limit} (median "
                                   f"time over seeds; not reached = no value): " + "; ".join(parts))


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
    is above, inconclusive when the seeds overlap or a run has no value (failed, missing, too short)."""
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
        parts.append(f"{ds} K={K}: {_spread(a)} vs {_spread(b)}")
        if not a or not b or np.isnan(a).any() or np.isnan(b).any():
            verdicts.append("inconclusive")
        elif max(a) < min(b):
            verdicts.append("agrees")
        elif min(a) > max(b):
            verdicts.append("disagrees")
        else:
            verdicts.append("inconclusive")
    verdict = _overall(verdicts)
    return Verdict(claim, verdict, f"{metric} {when}, {claim.subject} vs {claim.baseline} (median, range over "
                                   f"seeds; agrees/disagrees only when the seeds do not overlap): " + "; ".join(parts))


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
