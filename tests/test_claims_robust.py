"""Robust comparative claims: bootstrap intervals over seeds, a claim's step grid (StepGrid) expanded into
runs, and the verdict three ways on hand-built result files whose answers are known."""
from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from studies import get_study, report
from studies.compare import (BOOTSTRAP_RESAMPLES, MIN_SEEDS, WAYS, Interval, _overall, _tally, bootstrap_interval,
                             evaluate_claims, judge_pair, median_ratio, robust_verdicts, separation_p, speedup_interval,
                             time_measure)
from studies.plan import expand
from studies.results import RunResult, StudyInfo, load_results
from studies.spec import Claim, StepGrid, Target, log_grid


# --- the bootstrap --------------------------------------------------------------------------------
def test_identical_seeds_give_a_zero_width_interval():
    iv = bootstrap_interval(np.full(5, 24.0), np.full(5, 12.0), seeds_a=range(5), seeds_b=range(5))
    assert iv.point == iv.lo == iv.hi == 2.0 and iv.paired and iv.resamples == BOOTSTRAP_RESAMPLES
    assert iv.side(1.0) == "agrees" and iv.side(3.0) == "disagrees"


def test_two_seeds_closed_form():
    """Resampling two values x1 < x2: the median is x1 w.p. 1/4, (x1 + x2)/2 w.p. 1/2, x2 w.p. 1/4, so the
    95% interval of median(a) / 1 is [x1, x2] exactly; the draw frequencies match those probabilities."""
    rng = np.random.default_rng(7)
    iv = bootstrap_interval([1.0, 3.0], [1.0], rng=rng, resamples=20000)
    assert (iv.point, iv.lo, iv.hi) == (2.0, 1.0, 3.0) and not iv.paired
    idx = np.random.default_rng(7).integers(0, 2, size=(20000, 2))
    draws = median_ratio(np.array([1.0, 3.0])[idx], np.ones((20000, 1)))
    assert np.mean(draws == 2.0) == pytest.approx(0.5, abs=0.02)
    assert np.mean(draws == 1.0) == pytest.approx(0.25, abs=0.02)


def test_separated_agrees_overlapping_inconclusive_and_reproducible():
    rng = np.random.default_rng(0)
    slow, fast = 20.0 + rng.uniform(0, 2, 6), 10.0 + rng.uniform(0, 2, 6)
    iv = bootstrap_interval(slow, fast)
    assert iv.lo > 1.0 and iv.side(1.0) == "agrees"
    assert bootstrap_interval(fast, slow).side(1.0) == "disagrees"
    a, b = 10.0 + rng.uniform(0, 6, 6), 10.0 + rng.uniform(0, 6, 6)  # same distribution
    over = bootstrap_interval(a, b)
    assert over.lo < 1.0 < over.hi and over.side(1.0) == "inconclusive"
    assert bootstrap_interval(a, b) == over  # explicit Generator: same data, same interval


def test_never_reached_is_infinite_and_neither_is_no_evidence():
    inf = np.full(3, np.inf)
    assert bootstrap_interval(inf, [1.0, 2.0, 3.0]).side(1.0) == "agrees"  # baseline never reached: x inf
    assert bootstrap_interval([1.0, 2.0, 3.0], inf).side(1.0) == "disagrees"  # subject never reached: x 0
    both = bootstrap_interval(inf, inf)
    assert both.point == 1.0 and both.side(1.0) == "inconclusive"
    with pytest.raises(ValueError, match="without NaN"):
        bootstrap_interval([1.0, np.nan], [1.0])


# --- the grid and its runs -------------------------------------------------------------------------
def test_log_grid_and_the_ch3_grid_covers_the_thesis_grid():
    from studies.thesis.ch3 import FINE_ETA, THESIS_ETA_GRID

    g = log_grid(1e-5, 10.0, per_decade=3)
    assert g[0] == 1e-5 and g[-1] == 10.0 and len(g) == 19
    assert np.allclose(np.diff(np.log10(g)), 1 / 3, atol=3e-3)  # log-spaced (values rounded to 3 digits)
    assert set(THESIS_ETA_GRID) <= set(FINE_ETA.values)
    assert min(FINE_ETA.values) < min(THESIS_ETA_GRID) and max(FINE_ETA.values) > max(THESIS_ETA_GRID)
    assert "3 per decade" in FINE_ETA.text
    with pytest.raises(ValueError, match="StepGrid.values"):
        StepGrid("eta", (0.1, -1.0))
    with pytest.raises(ValueError, match="Claim.steps is for kinds"):
        Claim("x", kind="linear_rate", subject="a", steps=StepGrid("eta", (0.1,)))


def test_step_grid_expands_into_runs_of_their_own():
    """ch3-gap quick: the study's own tasks keep their ids and order (a resumed sweep finds them); each
    Dis-dfSDCA arm gets one run per quick grid value and seed on ijcnn1 only; CoCoA+ (no eta) gets none."""
    spec = get_study("ch3-gap")
    plain = replace(spec, claims=tuple(replace(c, steps=None) for c in spec.claims))
    tasks, own = expand(spec, quick=True), expand(plain, quick=True)
    assert [t.run_id for t in tasks[:len(own)]] == [t.run_id for t in own]
    grid = tasks[len(own):]
    seeds = spec.n_seeds(True)
    assert len(grid) == 2 * 2 * seeds  # 2 arms x 2 values x seeds
    for t in grid:
        assert t.params["grid"] == "eta" and t.dataset.name == "ijcnn1" and t.algorithm.name == "dis-dfsdca"
        assert t.algorithm.hyper["eta"] in (0.000464, 0.00215) and f"eta={t.params['eta']}" in t.run_id
        twin = next(o for o in own if o.params["algorithm"] == t.params["algorithm"] and o.K == t.K
                    and o.rep == t.rep and o.dataset == t.dataset)
        assert (t.data_seed, t.sim_seed) == (twin.data_seed, twin.sim_seed)  # same data and delays per seed
    assert len(expand(spec)) - len(expand(plain)) == 2 * 19 * 3 * spec.seeds  # full: every dataset


# --- verdicts three ways on result files ---------------------------------------------------------
def _run(out: Path, alg: str, seed: int, time_to_target: float | None, *, eta: str | None = None,
         status: str = "finished", dataset: str = "toy") -> None:
    """A run whose gap falls as 10**(-epoch) at 1 s per epoch until the end: it reaches the target 1e-6 at
    ``time_to_target`` seconds (the curve is stretched to that), or never (None: it stays at 1e-2)."""
    params = {"algorithm": alg, "dataset": dataset, "K": 4, "seed": seed, "scale": 1.0}
    if eta is not None:
        params.update(grid="eta", eta=eta)
    rid = "toy[" + ",".join(f"{k}={v}" for k, v in sorted(params.items())) + "]"  # the study is "toy"
    d = out / "runs" / rid
    d.mkdir(parents=True)
    t = np.linspace(0.0, 100.0, 401)
    v = 10.0 ** (-6.0 * t / time_to_target) if time_to_target else np.full(t.size, 1e-2)
    if status != "failed":
        pd.DataFrame({"step": np.arange(t.size), "sim_time": t, "epoch": t, "metric": "duality_gap",
                      "value": v}).to_csv(d / "records.csv", index=False)
    r = RunResult(run_id=rid, params=params, status=status, error="boom" if status == "failed" else None,
                  diverged_at=400 if status == "diverged" else None,
                  sim_time=100.0, step=400, epochs=100.0,
                  label=alg.title(), hyper={"eta": float(eta) if eta else 0.001}, info={"target_value": 1e-6})
    (d / "result.json").write_text(json.dumps(r.to_json()))


FAST = Claim("Fast beats Slow.", kind="faster", subject="fast", baseline="slow",
             steps=StepGrid("eta", (0.1, 1.0, 10.0)))


def _study(out: Path, claims) -> None:
    info = StudyInfo(name="toy", title="Toy study", thesis_ref="Fig. 99", claim="Fast beats Slow.",
                     target=Target("duality_gap", 1e-6, relative=True), claims=tuple(claims))
    out.mkdir(parents=True, exist_ok=True)
    (out / "study.json").write_text(json.dumps(info.to_json()))


def test_three_ways_on_known_times(tmp_path):
    """Slow (no eta): 24 s. Fast at the study's rule: 30 s (disagrees); on its grid: eta=0.1 48 s, eta=1 12 s,
    eta=10 never (stopped at 100 s, after Slow's 24 s: known slower), eta=100 diverges. So (a) disagrees, (b) at
    its best step eta=1 agrees (x2), (c) agrees on 1 of 4 step pairs, 1 of 3 where both converge; five seeds
    each, jittered by < 0.5 s, so every interval is non-degenerate and on one side of 1."""
    out = tmp_path / "res"
    claim = replace(FAST, steps=StepGrid("eta", (0.1, 1.0, 10.0, 100.0)))
    _study(out, [claim])
    for seed, j in enumerate((0.0, 0.3, -0.2, 0.1, -0.4)):
        _run(out, "slow", seed, 24.0 + j)
        _run(out, "fast", seed, 30.0 - j)
        _run(out, "fast", seed, 48.0 + j, eta="0.1")
        _run(out, "fast", seed, 12.0 + j, eta="1.0")
        _run(out, "fast", seed, None, eta="10.0")
        _run(out, "fast", seed, None, eta="100.0", status="diverged")
    res = load_results(out)
    ways, detail = robust_verdicts(claim, res)
    assert [w.way for w in ways] == list(WAYS)
    assert [w.verdict for w in ways] == ["disagrees", "agrees", "holds on 1 of 4 step pairs; 1 of 3 where both "
                                                                "converge"]
    assert ways[2].fraction == pytest.approx(1 / 4)
    assert "stable steps: subject 0.1..10.0 (3 of 4 steps converge), baseline its one setting" in ways[2].evidence
    row = detail.iloc[0]
    assert row["subject best step"] == "1.0" and row["baseline best step"] == "its one setting"
    assert row["speedup at best"] == pytest.approx(24.0 / 12.0)
    assert (row["agrees"], row["disagrees"], row["inconclusive"]) == (1, 3, 0)
    assert row["fraction agrees (converged)"] == pytest.approx(1 / 3)
    assert "5 seeds, paired by seed" in ways[1].evidence and "grid=" not in ways[0].evidence
    # fewer than 2 x MIN_SEEDS seeds: the best step is chosen on the seeds it is judged on, and it says so
    assert "chosen on the same 5 seeds it is judged on (favours the side with more steps: subject best of 4, " \
           "baseline best of 1)" in ways[1].evidence
    # the study's own verdict and table do not mix in the grid's runs
    (a,) = evaluate_claims(res)
    assert a.verdict == "disagrees" and "x0.8" in a.evidence
    md = report(out).markdown.read_text()
    assert "Robustness to the step" in md and "holds on 1 of 4 step pairs" in md
    assert "figures/steps_claim1_toy_K4.png" in md and (out / "figures" / "steps_claim1_toy_K4.png").exists()


def test_fraction_over_step_pairs_of_two_grids(tmp_path):
    """Both methods on grids: fast {10 s, 20 s} x slow {15 s, 25 s, 5 s}: fast is faster on 3 of the 6 pairs
    (10<15, 10<25, 20<25) and slower on the other 3; at each one's best step (10 s vs 5 s) it disagrees."""
    out = tmp_path / "res"
    claim = replace(FAST, steps=StepGrid("eta", {"fast": (0.1, 1.0), "slow": (0.1, 1.0, 10.0)}))
    _study(out, [claim])
    for seed, j in enumerate((0.0, 0.1, -0.1, 0.2, -0.2)):
        _run(out, "slow", seed, 24.0 + j)
        _run(out, "fast", seed, 30.0 + j)
        for eta, t in (("0.1", 10.0), ("1.0", 20.0)):
            _run(out, "fast", seed, t + j, eta=eta)
        for eta, t in (("0.1", 15.0), ("1.0", 25.0), ("10.0", 5.0)):
            _run(out, "slow", seed, t + j, eta=eta)
    ways, detail = robust_verdicts(claim, load_results(out))
    assert ways[2].verdict == "holds on 3 of 6 step pairs; 3 of 6 where both converge" and ways[2].fraction == 0.5
    assert ways[1].verdict == "disagrees" and tuple(detail.iloc[0][["subject best step", "baseline best step"]]) \
        == ("0.1", "10.0")
    assert tuple(detail.iloc[0][["agrees", "disagrees", "inconclusive"]]) == (3, 3, 0)


def test_overlapping_seeds_and_a_failed_grid_run_are_inconclusive(tmp_path):
    """At its best step Fast's seeds straddle Slow's: inconclusive, not agrees; a failed run at a grid value
    leaves that value out of the choice of the best step and makes its pairs inconclusive."""
    out = tmp_path / "res"
    claim = replace(FAST, steps=StepGrid("eta", (0.1, 1.0)))
    _study(out, [claim])
    for seed, (s, f) in enumerate(((20.0, 18.0), (22.0, 25.0), (24.0, 19.0), (21.0, 23.0), (23.0, 20.0))):
        _run(out, "slow", seed, s)
        _run(out, "fast", seed, 30.0)
        _run(out, "fast", seed, f, eta="1.0")
        _run(out, "fast", seed, 5.0, eta="0.1", status="failed" if seed == 2 else "finished")
    ways, detail = robust_verdicts(claim, load_results(out))
    assert ways[1].verdict == "inconclusive" and detail.iloc[0]["subject best step"] == "1.0"
    assert tuple(detail.iloc[0][["agrees", "disagrees", "inconclusive"]]) == (0, 0, 2)
    assert ways[2].fraction == 0.0


def test_a_step_grid_must_name_what_the_study_has():
    spec = get_study("ch3-gap")
    claim = spec.claims[0]
    with pytest.raises(ValueError, match="quick_datasets.*'nope'"):
        replace(spec, claims=(replace(claim, steps=replace(claim.steps, quick_datasets=("nope",), text="")),))
    with pytest.raises(ValueError, match="StepGrid over 'dual_scale'"):
        replace(spec, claims=(replace(claim, steps=StepGrid("dual_scale", (0.5, 1.0))),))


# --- honesty of the rules (issue 8 review) ---------------------------------------------------------
def _pair(values, seeds=None, reached=None):
    seeds = list(range(len(values))) if seeds is None else seeds
    return pd.DataFrame({"seed": seeds, "value": np.asarray(values, dtype=float),
                         "reached": np.ones(len(values), bool) if reached is None else reached})


def test_min_seeds_from_identical_distributions():
    """The simulation behind MIN_SEEDS: both sides draw times from the same lognormal, paired by seed. The
    percentile bootstrap alone is decisive (a false verdict) in ~all trials at 1 seed, ~half at 2, ~30% at
    3; at 5 seeds near the nominal 5%. judge_pair must say inconclusive below MIN_SEEDS, with the reason."""
    rng = np.random.default_rng(8)
    trials = 200
    share = {}
    for n in (1, 2, 3, 5):
        decisive = judged = 0
        for i in range(trials):
            a, b = rng.lognormal(0.0, 0.3, n), rng.lognormal(0.0, 0.3, n)
            decisive += bootstrap_interval(b, a, seeds_a=range(n), seeds_b=range(n), resamples=1000,
                                           rng=rng).side(1.0) != "inconclusive"
            if i < 20:  # judge_pair (4000 resamples) on a few of them: never decisive below MIN_SEEDS
                v, text, _ = judge_pair("faster", _pair(a), _pair(b), "x")
                judged += v != "inconclusive"
                if n < MIN_SEEDS:
                    assert f"{n} seed{'s' * (n != 1)}: too few for a 95% interval; need ≥ {MIN_SEEDS}" in text
        share[n] = decisive / trials
        if n < MIN_SEEDS:
            assert judged == 0
    assert share[1] == 1.0 and share[2] >= 0.3 and share[3] >= 0.2 and share[5] <= 0.10, share


def test_separation_probability_is_the_exact_mann_whitney_p():
    from scipy.stats import mannwhitneyu

    for n_a, n_b in ((1, 1), (2, 3), (3, 3), (4, 4), (5, 3)):
        a, b = np.arange(n_a, dtype=float), 10.0 + np.arange(n_b)
        assert separation_p(n_a, n_b) == pytest.approx(mannwhitneyu(a, b, method="exact").pvalue, rel=1e-12)
    assert judge_pair("lower_final", _pair([1, 2, 3]), _pair([4, 5, 6]), "x")[0] == "inconclusive"  # p = 0.1
    assert judge_pair("lower_final", _pair([1, 2, 3, 3.5]), _pair([4, 5, 6, 7]), "x")[0] == "agrees"  # p = 0.029
    assert judge_pair("lower_final", _pair([4, 5, 6, 7]), _pair([1, 2, 3, 3.5]), "x")[0] == "disagrees"


def test_headline_needs_every_cell_and_shows_the_counts():
    """One decisive cell among undecided ones is not a unanimous verdict: the counts are stated; agree and
    disagree together are mixed (inconclusive), not disagrees."""
    assert _overall(["agrees"] * 3) == "agrees"
    assert _overall(["agrees", "inconclusive"]) == "inconclusive"
    assert _overall(["agrees", "disagrees", "disagrees"]) == "inconclusive"
    assert _overall(["disagrees"] + ["inconclusive"] * 5) == "disagrees"
    assert _overall(["inconclusive"] * 2) == "inconclusive" and _overall([]) == "inconclusive"
    assert "6 cells: 0 agree, 1 disagree, 5 inconclusive" in _tally(["disagrees"] + ["inconclusive"] * 5)
    assert "(mixed: inconclusive)" in _tally(["agrees", "disagrees"])


def test_interval_bounds_show_their_side_of_one():
    iv = Interval(0.0360 / 0.03601, 0.0360 / 0.03601, 0.03601 / 0.036005, (5, 5), True, 100)
    text = iv.describe()
    assert "[1, 1]" not in text and "[0.9997, 1.0001]" in text
    assert iv.side(1.0) == "inconclusive"
    assert Interval(2.0, 2.0, 2.0, (5, 5), True, 1).describe().startswith("95% [2, 2]")


def _censored(times, ends, status="finished"):
    """per_run-like rows: time to target (NaN = not reached) and the time the run stopped."""
    t = np.asarray(times, dtype=float)
    return time_measure(pd.DataFrame({"seed": range(t.size), "time_to_target": t, "has_value": True,
                                      "sim_time": np.asarray(ends, dtype=float), "status": status}))


def test_a_run_stopped_by_its_budget_is_censored_not_slower():
    """Subject stopped by max_epochs at 0.01 s without reaching the target, baseline reached it at ~0.036 s:
    the subject's time is only known to be >= 0.01 s, so the comparison is unknown (it used to be 'disagrees',
    the stopped run read as never reaching it). Stopped at 0.05 s, after the baseline's time: known slower."""
    base = _censored(0.036 + 0.001 * np.arange(5), np.full(5, 0.04))
    early = _censored(np.full(5, np.nan), np.full(5, 0.01))
    late = _censored(np.full(5, np.nan), np.full(5, 0.05))
    v, text, point = judge_pair("faster", early, base, "x")
    assert v == "inconclusive" and "5 of 5 runs of the subject did not reach the target" in text
    assert math.isnan(point) and "x0..3.8" in text  # speedup only known to lie in [0, 0.038 / 0.01]
    assert judge_pair("faster", late, base, "x")[0] == "disagrees"
    diverged = _censored(np.full(5, np.nan), np.full(5, 0.001), status="diverged")
    assert judge_pair("faster", diverged, base, "x")[0] == "disagrees"  # diverged: known never to reach it
    # the baseline censored early: the subject cannot be called faster either
    fast = _censored(0.02 + 0.001 * np.arange(5), np.full(5, 0.03))
    assert judge_pair("faster", fast, _censored(np.full(5, np.nan), np.full(5, 0.01)), "x")[0] == "inconclusive"
    assert judge_pair("faster", fast, _censored(np.full(5, np.nan), np.full(5, 0.03)), "x")[0] == "agrees"


def test_best_step_is_chosen_on_held_out_seeds(tmp_path):
    """Ten seeds: eta=0.1 is best on seeds 0-4 (10 s vs 20 s) and worst on seeds 5-9 (40 s vs 11 s); over all
    ten, eta=1 has the lower median. The best step is chosen on seeds 0-4 (eta=0.1) and judged on 5-9 only,
    where it is slower than Slow's 24 s: disagrees. Choosing on all seeds would pick eta=1 and agree."""
    out = tmp_path / "res"
    claim = replace(FAST, steps=StepGrid("eta", (0.1, 1.0)))
    _study(out, [claim])
    for seed in range(10):
        j = 0.1 * seed
        _run(out, "slow", seed, 24.0 + j)
        _run(out, "fast", seed, 30.0 + j)
        _run(out, "fast", seed, (10.0 if seed < 5 else 40.0) + j, eta="0.1")
        _run(out, "fast", seed, (20.0 if seed < 5 else 11.0) + j, eta="1.0")
    ways, detail = robust_verdicts(claim, load_results(out))
    assert detail.iloc[0]["subject best step"] == "0.1" and ways[1].verdict == "disagrees"
    assert "best step chosen on seeds 0..4, judged on the other 5" in ways[1].evidence


def test_a_dataset_without_grid_runs_is_inconclusive_not_skipped(tmp_path):
    """The grid ran on toy only (as a quick_datasets grid does): toy2's best-step cell is inconclusive (no grid
    runs), so the headline is not 'agrees' on toy alone."""
    out = tmp_path / "res"
    claim = replace(FAST, steps=StepGrid("eta", (0.1, 1.0)))
    _study(out, [claim])
    for seed in range(5):
        for ds in ("toy", "toy2"):
            _run(out, "slow", seed, 24.0 + 0.1 * seed, dataset=ds)
            _run(out, "fast", seed, 12.0 + 0.1 * seed, dataset=ds)
        _run(out, "fast", seed, 12.0 + 0.1 * seed, eta="0.1")
        _run(out, "fast", seed, 14.0 + 0.1 * seed, eta="1.0")
    ways, detail = robust_verdicts(claim, load_results(out))
    assert ways[1].verdict == "inconclusive", ways[1].evidence
    assert "Fast on toy2 K=4: inconclusive (no grid runs)" in ways[1].evidence
    assert "2 cells: 1 agree, 0 disagree, 1 inconclusive" in ways[1].evidence
    assert list(detail["verdict at best"]) == ["agrees", "inconclusive (no grid runs)"]
    assert ways[1].headline == "inconclusive (1 agree, 0 disagree, 1 inconclusive of 2 cells)"
    md = report(out).markdown.read_text()
    assert "inconclusive (1 agree, 0 disagree, 1 inconclusive of 2 cells)" in md


def test_censored_interval_without_censoring_is_the_plain_bootstrap():
    """No censored run: speedup_interval draws the same seeds as bootstrap_interval of median_ratio and gives
    the same interval; censoring one subject run can only widen it (its bounds contain the plain ones)."""
    rng = np.random.default_rng(3)
    for paired in (True, False):
        b, a = rng.lognormal(0, 0.4, 6), rng.lognormal(0, 0.4, 6 if paired else 7)
        seeds_b, seeds_a = list(range(6)), list(range(a.size))
        plain = bootstrap_interval(b, a, seeds_a=seeds_b, seeds_b=seeds_a)
        cens = speedup_interval(b, a, seeds_base=seeds_b, seeds_sub=seeds_a)
        assert (cens.point, cens.lo, cens.hi, cens.paired) == (plain.point, plain.lo, plain.hi, plain.paired)
        reached = np.ones(a.size, bool)
        reached[0] = False  # its time is only known to be >= a[0]
        wide = speedup_interval(b, a, sub_reached=reached, seeds_base=seeds_b, seeds_sub=seeds_a)
        assert wide.lo <= plain.lo and wide.hi >= plain.hi


def test_report_of_a_grid_where_no_run_reached_the_target(tmp_path):
    """No run, gridded or not, reached the target: the step figure has nothing to put on a log axis; the
    report is still written (matplotlib refused to log-scale an empty axis), and the claim is inconclusive."""
    out = tmp_path / "res"
    claim = replace(FAST, steps=StepGrid("eta", (0.1, 1.0)))
    _study(out, [claim])
    for seed in range(5):
        _run(out, "slow", seed, None)
        _run(out, "fast", seed, None)
        _run(out, "fast", seed, None, eta="0.1")
        _run(out, "fast", seed, None, eta="1.0")
    files = report(out)
    assert any(p.name.startswith("steps_claim1") for p in files.figures)
    ways, _ = robust_verdicts(claim, load_results(out))
    assert ways[0].verdict == "inconclusive", ways[0].evidence
