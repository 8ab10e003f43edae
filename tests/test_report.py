"""compare + report on hand-built result files whose answers are known in closed form."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from studies import report
from studies.compare import crossing, evaluate_claims, linear_rate, summary_table
from studies.results import RunResult, StalenessSummary, StudyInfo, load_results
from studies.spec import Claim, Target

CLAIM_TEXT = "Fast beats Slow in simulated time to the target."
#: seeds per method where a decisive verdict is the point (compare.MIN_SEEDS)
SEEDS = range(5)


def _write_run(out: Path, run_id: str, alg: str, K: int, rate: float, time_per_epoch: float, *, seed: int = 0,
               epochs: int = 20, status: str = "finished", label: str | None = None) -> None:
    """A run whose metric is exactly 10**(-rate * epoch): it reaches 1e-6 at epoch 6 / rate."""
    d = out / "runs" / run_id
    d.mkdir(parents=True)
    e = np.linspace(0.0, epochs, 4 * epochs + 1)
    rec = pd.DataFrame({"step": np.arange(e.size), "sim_time": e * time_per_epoch, "epoch": e,
                        "metric": "duality_gap", "value": 10.0 ** (-rate * e)})
    rec.to_csv(d / "records.csv", index=False)
    r = RunResult(run_id=run_id, params={"algorithm": alg, "dataset": "toy", "K": K, "seed": seed, "scale": 1.0},
                  status=status, sim_time=float(e[-1] * time_per_epoch), step=int(e.size - 1),
                  epochs=float(epochs), wall_time=0.1, staleness=StalenessSummary(3, 1.5, (1.0, 2.0)),
                  label=label or alg.title(), hyper={"eta": 0.001}, info={"target_value": 1e-6})
    (d / "result.json").write_text(json.dumps(r.to_json()))


def _study(out: Path, claims) -> None:
    info = StudyInfo(name="toy", title="Toy study", thesis_ref="Fig. 99", claim=CLAIM_TEXT,
                     target=Target("duality_gap", 1e-6, relative=True), claims=tuple(claims), quick=True)
    out.mkdir(parents=True, exist_ok=True)
    (out / "study.json").write_text(json.dumps(info.to_json()))


FASTER = Claim(CLAIM_TEXT, kind="faster", subject="fast", baseline="slow")
LINEAR = Claim("Fast converges linearly like Slow.", kind="linear_rate", subject="fast", baseline="slow",
               threshold=0.99, ratio=3.0)
SPEEDUP = Claim("Fast scales better than Slow.", kind="speedup_better", subject="fast", baseline="slow")


def test_crossing_and_linear_rate_closed_forms():
    e = np.linspace(0, 10, 7)  # records not on the crossing point
    v = 0.5 ** e
    assert crossing(e, v, 0.5 ** 4.2) == pytest.approx(4.2, rel=1e-12)  # log-interpolation is exact here
    assert math.isnan(crossing(e, v, 1e-9))
    fit = linear_rate(e, v)
    assert fit.rate == pytest.approx(0.5, rel=1e-12) and fit.r2 == pytest.approx(1.0)


@settings(max_examples=40, deadline=None)
@given(st.floats(0.05, 3.0), st.floats(1e-3, 0.9), st.integers(5, 40))
def test_crossing_exact_for_geometric_curves(rate, frac, n):
    e = np.linspace(0.0, 10.0 / rate, n)
    v = 10.0 ** (-rate * e)
    target = 10.0 ** (-rate * frac * e[-1])
    assert crossing(e, v, target) == pytest.approx(frac * e[-1], rel=1e-9, abs=1e-9)


def test_report_files_claims_and_numbers(tmp_path):
    out = tmp_path / "res"
    _study(out, [FASTER, LINEAR])
    # Fast: 1 decade/epoch at 2 s/epoch -> 1e-6 at epoch 6, t = 12 s.
    # Slow: 0.5 decade/epoch at 2 s/epoch -> 1e-6 at epoch 12, t = 24 s. Five identical seeds.
    for s in SEEDS:
        _write_run(out, f"toy[algorithm=fast,seed={s}]", "fast", 4, rate=1.0, time_per_epoch=2.0, seed=s)
        _write_run(out, f"toy[algorithm=slow,seed={s}]", "slow", 4, rate=0.5, time_per_epoch=2.0, seed=s)
    files = report(out)
    assert files.markdown.exists() and files.html.exists()
    assert files.figures and all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in files.figures)
    md = files.markdown.read_text()
    ht = files.html.read_text()
    for page in (md, ht):
        assert "What the thesis claims" in page and "What this run measured" in page
        assert CLAIM_TEXT in page
        assert "12 s vs 24 s (x2; 95% [2, 2] over 5 seeds" in page  # time to target from the closed form
        for p in files.figures:
            assert p.relative_to(out).as_posix() in page
    assert "**agrees** - " + CLAIM_TEXT in md
    tab = summary_table(load_results(out))
    fast = tab[tab.algorithm == "fast"].iloc[0]
    assert fast.time_to_target == pytest.approx(12.0) and fast.epochs_to_target == pytest.approx(6.0)
    assert fast.rate_per_epoch == pytest.approx(0.1) and fast.speedup_vs_slow == pytest.approx(2.0)


def test_agreement_flips_when_the_numbers_do(tmp_path):
    out = tmp_path / "res"
    _study(out, [FASTER, LINEAR])
    for s in SEEDS:
        _write_run(out, f"toy[algorithm=fast,seed={s}]", "fast", 4, rate=0.5, time_per_epoch=2.0, seed=s)
        _write_run(out, f"toy[algorithm=slow,seed={s}]", "slow", 4, rate=5.0, time_per_epoch=2.0, seed=s)  # 10x
    v = {x.claim.kind: x for x in evaluate_claims(load_results(out))}
    assert v["faster"].verdict == "disagrees"
    assert v["linear_rate"].verdict == "disagrees"  # straight line, but the slopes differ by 10x > ratio 3
    md = report(out).markdown.read_text()
    assert "**disagrees** - " + CLAIM_TEXT in md


def test_one_seed_is_never_decisive(tmp_path):
    """The same 2x difference on one seed: no 95% interval exists, so every claim says inconclusive and why
    (a percentile bootstrap of one seed is a point: it used to say agrees)."""
    out = tmp_path / "res"
    _study(out, [FASTER, LINEAR, SPEEDUP])
    for K in (1, 4):
        _write_run(out, f"toy[K={K},algorithm=fast,seed=0]", "fast", K, rate=1.0, time_per_epoch=8.0 / K)
        _write_run(out, f"toy[K={K},algorithm=slow,seed=0]", "slow", K, rate=1.0, time_per_epoch=8.0 / K ** 0.5)
    for v in evaluate_claims(load_results(out)):
        assert v.verdict == "inconclusive", (v.claim.kind, v.evidence)
        assert "1 seed: too few for a 95% interval; need ≥ 5" in v.evidence


def test_inconclusive_when_nobody_reaches_the_target(tmp_path):
    out = tmp_path / "res"
    _study(out, [FASTER])
    _write_run(out, "toy[algorithm=fast,seed=0]", "fast", 4, rate=0.1, time_per_epoch=1.0)  # 1e-2 at the end
    _write_run(out, "toy[algorithm=slow,seed=0]", "slow", 4, rate=0.1, time_per_epoch=1.0)
    (v,) = evaluate_claims(load_results(out))
    assert v.verdict == "inconclusive"


def test_speedup_eq_3_39_and_figure(tmp_path):
    out = tmp_path / "res"
    _study(out, [SPEEDUP])
    # time per epoch falls as 1/K for Fast (ideal) and as 1/sqrt(K) for Slow; same rate per epoch
    for K in (1, 2, 4):
        for s in SEEDS:
            _write_run(out, f"toy[K={K},algorithm=fast,seed={s}]", "fast", K, rate=1.0, time_per_epoch=8.0 / K,
                       seed=s)
            _write_run(out, f"toy[K={K},algorithm=slow,seed={s}]", "slow", K, rate=1.0,
                       time_per_epoch=8.0 / K ** 0.5, seed=s)
    res = load_results(out)
    tab = summary_table(res)
    for K in (1, 2, 4):
        assert tab[(tab.algorithm == "fast") & (tab.K == K)].speedup_vs_K1.iloc[0] == pytest.approx(K)
        assert tab[(tab.algorithm == "slow") & (tab.K == K)].speedup_vs_K1.iloc[0] == pytest.approx(K ** 0.5)
    (v,) = evaluate_claims(res)
    assert v.verdict == "agrees"
    files = report(out)
    assert (out / "figures" / "speedup_toy.png").exists()
    assert "figures/speedup_toy.png" in files.markdown.read_text()


def test_report_errors(tmp_path):
    with pytest.raises(ValueError, match="results_dir"):
        report(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="study.json"):
        report(tmp_path / "empty")


def test_theorem_table_matches_eq_3_18(tmp_path):
    out = tmp_path / "res"
    _study(out, [FASTER])
    info = json.loads((out / "study.json").read_text())
    from studies.bindings import TheoremBinding, TraceStat
    from studies.thesis.ch3 import dfsdca_symbols

    info["bindings"] = [TheoremBinding("thm3.4.1", dfsdca_symbols(TraceStat("max_staleness")),
                                       applies_to=("fast",)).to_json()]
    (out / "study.json").write_text(json.dumps(info))
    _write_run(out, "toy[algorithm=fast,seed=0]", "fast", 4, rate=1.0, time_per_epoch=2.0)
    _write_run(out, "toy[algorithm=slow,seed=0]", "slow", 4, rate=0.5, time_per_epoch=2.0)
    p = out / "runs" / "toy[algorithm=fast,seed=0]" / "result.json"
    doc = json.loads(p.read_text())
    doc["info"].update({"algorithm_name": "dis-dfsdca", "L_max": 1.0, "lam": 0.1, "n": 5000})
    doc["hyper"] = {"eta": 1e-3, "H": 100, "T": 32}
    doc["staleness"] = {"max": 15, "mean": 4.0, "per_worker_mean": []}
    p.write_text(json.dumps(doc))
    from studies.analyses import theorem_table

    tab = theorem_table(load_results(out))
    assert len(tab) == 1  # only the runs the binding applies to are checked
    row = tab.iloc[0]
    admissible = 1.0 / (4 * 100 * 1.0 * 15 ** 2 + 0.1 * 5000 + 2 * 1.0)  # eq. 3.18 by hand
    assert row.max_step == pytest.approx(admissible, rel=1e-12)
    assert row["eta / max"] == pytest.approx(1e-3 / admissible, rel=1e-12)
    assert row.tau == 15 and row.L == 1.0  # bound from the trace statistic and the problem constant
    assert row.condition.startswith("violated")
    assert "Measured vs theorem" in report(out).markdown.read_text()


def test_lower_final_needs_every_seed_on_one_side_and_every_run_present(tmp_path):
    """'lower at the end' agrees only when every seed of the subject is below every seed of the baseline and
    such a separation is unlikely by chance (2 / C(n_s + n_b, n_s) < 0.05: 3 vs 3 seeds are not enough, 4 vs 4
    are); overlapping seeds or a failed run make it inconclusive, not a verdict on the remaining data."""
    claim = Claim("Fast ends lower than Slow.", kind="lower_final", subject="fast", baseline="slow")
    out = tmp_path / "res"
    _study(out, [claim])
    for seed, (rf, rs) in enumerate(((1.0, 0.5), (0.9, 0.6), (0.95, 0.55))):  # 10**(-rate * 20): fast ends lower
        _write_run(out, f"toy[algorithm=fast,seed={seed}]", "fast", 4, rate=rf, time_per_epoch=1.0, seed=seed)
        _write_run(out, f"toy[algorithm=slow,seed={seed}]", "slow", 4, rate=rs, time_per_epoch=1.0, seed=seed)
    v = evaluate_claims(load_results(out))[0]
    assert v.verdict == "inconclusive" and "3 seeds" in v.evidence and "probability 0.1 " in v.evidence
    _write_run(out, "toy[algorithm=fast,seed=3]", "fast", 4, rate=0.85, time_per_epoch=1.0, seed=3)
    _write_run(out, "toy[algorithm=slow,seed=3]", "slow", 4, rate=0.65, time_per_epoch=1.0, seed=3)
    v = evaluate_claims(load_results(out))[0]
    assert v.verdict == "agrees" and "4 seeds" in v.evidence and "exact p = 0.029" in v.evidence
    # a fifth seed where fast ends above one of slow's seeds: the seeds overlap
    _write_run(out, "toy[algorithm=fast,seed=4]", "fast", 4, rate=0.55, time_per_epoch=1.0, seed=4)
    _write_run(out, "toy[algorithm=slow,seed=4]", "slow", 4, rate=0.5, time_per_epoch=1.0, seed=4)
    assert evaluate_claims(load_results(out))[0].verdict == "inconclusive"
    # a failed run of the subject: inconclusive, however the other seeds look
    (out / "runs" / "toy[algorithm=fast,seed=4]" / "records.csv").unlink()
    doc = json.loads((out / "runs" / "toy[algorithm=fast,seed=4]" / "result.json").read_text())
    doc.update(status="failed", error="RuntimeError: boom")
    (out / "runs" / "toy[algorithm=fast,seed=4]" / "result.json").write_text(json.dumps(doc))
    v = evaluate_claims(load_results(out))[0]
    assert v.verdict == "inconclusive" and "1 of 5 runs without a value" in v.evidence


def _fail_run(out: Path, run_id: str, alg: str, K: int = 4, seed: int = 0) -> None:
    """A run that failed at construction (as CoCoA+ with H = 0 does): a result.json, no records."""
    d = out / "runs" / run_id
    d.mkdir(parents=True)
    r = RunResult(run_id=run_id, params={"algorithm": alg, "dataset": "toy", "K": K, "seed": seed, "scale": 1.0},
                  status="failed", error="ValueError: H must be >= 1, got 0", label=alg.title())
    (d / "result.json").write_text(json.dumps(r.to_json()))


@pytest.mark.parametrize("baseline", ["failed", "absent"])
def test_faster_without_a_baseline_result_is_inconclusive(tmp_path, baseline):
    """A missing time of the baseline is no value, not 'never reached': the verdict is inconclusive, with the
    reason, and no All-NaN RuntimeWarning is raised on the way."""
    import warnings

    out = tmp_path / "res"
    _study(out, [FASTER, LINEAR, SPEEDUP])
    for K in (1, 4):
        _write_run(out, f"toy[K={K},algorithm=fast,seed=0]", "fast", K, rate=1.0, time_per_epoch=2.0)
        if baseline == "failed":
            _fail_run(out, f"toy[K={K},algorithm=slow,seed=0]", "slow", K)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        v = {x.claim.kind: x for x in evaluate_claims(load_results(out))}
        report(out)
    assert v["faster"].verdict == "inconclusive", v["faster"].evidence
    assert ("failed" in v["faster"].evidence) if baseline == "failed" else ("no runs" in v["faster"].evidence)
    assert v["linear_rate"].verdict == "inconclusive" and "baseline" in v["linear_rate"].evidence
    assert v["speedup_better"].verdict == "inconclusive"


def test_a_failed_seed_is_not_a_slow_seed(tmp_path):
    """Three seeds of the subject, one failed: the median time is undefined (not the median of 'inf' and two
    times), and every claim that reads it says inconclusive."""
    out = tmp_path / "res"
    _study(out, [FASTER, LINEAR])
    for seed in (0, 1, 2):
        _write_run(out, f"toy[algorithm=slow,seed={seed}]", "slow", 4, rate=0.5, time_per_epoch=2.0, seed=seed)
        if seed < 2:
            _write_run(out, f"toy[algorithm=fast,seed={seed}]", "fast", 4, rate=1.0, time_per_epoch=2.0, seed=seed)
    _fail_run(out, "toy[algorithm=fast,seed=2]", "fast", seed=2)
    res = load_results(out)
    tab = summary_table(res)
    assert math.isnan(tab[tab.algorithm == "fast"].time_to_target.iloc[0])
    v = {x.claim.kind: x for x in evaluate_claims(res)}
    assert v["faster"].verdict == "inconclusive" and "1 of 3 runs of the subject failed" in v["faster"].evidence
    assert v["linear_rate"].verdict == "inconclusive"


def _write_curve(out: Path, run_id: str, alg: str, epochs: np.ndarray, values: np.ndarray, seed: int) -> None:
    d = out / "runs" / run_id
    d.mkdir(parents=True)
    pd.DataFrame({"step": np.arange(epochs.size), "sim_time": epochs, "epoch": epochs, "metric": "duality_gap",
                  "value": values}).to_csv(d / "records.csv", index=False)
    r = RunResult(run_id=run_id, params={"algorithm": alg, "dataset": "toy", "K": 4, "seed": seed, "scale": 1.0},
                  status="finished", sim_time=float(epochs[-1]), step=int(epochs.size - 1), epochs=float(epochs[-1]),
                  label=alg.title(), info={"target_value": 1e-6})
    (d / "result.json").write_text(json.dumps(r.to_json()))


def test_linear_rate_is_judged_on_the_worst_seed(tmp_path):
    """Seeds 0-3 converge exactly geometrically (R^2 = 1); seed 4 stalls on a plateau after 4 epochs, so its
    log-linear fit has R^2 well below the threshold: 'every run converges linearly' must disagree. Judging
    by the best seed's R^2 instead of the worst would say agrees."""
    claim = Claim("Fast converges linearly.", kind="linear_rate", subject="fast", threshold=0.95)
    out = tmp_path / "res"
    _study(out, [claim])
    e = np.linspace(0.0, 20.0, 81)
    for s in range(4):
        _write_curve(out, f"toy[algorithm=fast,seed={s}]", "fast", e, 10.0 ** (-0.5 * e), seed=s)
    stall = 10.0 ** (-0.5 * np.minimum(e, 4.0))  # geometric for 4 epochs, then flat at 1e-2
    _write_curve(out, "toy[algorithm=fast,seed=4]", "fast", e, stall, seed=4)
    r2 = {s: linear_rate(e, v).r2 for s, v in ((0, 10.0 ** (-0.5 * e)), (1, stall))}
    assert r2[0] == pytest.approx(1.0) and r2[1] < 0.95  # the premise: one seed is not geometric
    (v,) = evaluate_claims(load_results(out))
    assert v.verdict == "disagrees", v.evidence
    assert f"R^2 >= {r2[1]:.3g}" in v.evidence


def test_speedups_and_rate_ratio_need_their_interval_not_just_the_median(tmp_path):
    """Five seeds whose per-seed times scatter widely: the median speedups say Fast scales better (x1.1 at K=4)
    and near-linearly (0.85 K >= 0.8 K), and the median log-rate ratio is inside 1/3..3, but none of the 95%
    intervals excludes the line: every claim is inconclusive (the point medians used to say agrees)."""
    lin = Claim("Fast's speedup is near linear.", kind="speedup_linear", subject="fast", threshold=0.8, up_to=4)
    out = tmp_path / "res"
    _study(out, [SPEEDUP, lin])
    jitter = (1.0, 0.5, 1.6, 0.8, 1.3)  # time-per-epoch factors per seed, shared by both methods at K = 1
    for s, j in enumerate(jitter):
        for K in (1, 4):
            tf = 8.0 * (j if K == 1 else jitter[(s + 2) % 5]) / (K * 0.85 if K > 1 else 1)
            ts = 8.0 * (j if K == 1 else jitter[(s + 3) % 5]) / (K * 0.77 if K > 1 else 1)
            _write_run(out, f"toy[K={K},algorithm=fast,seed={s}]", "fast", K, rate=1.0, time_per_epoch=tf, seed=s)
            _write_run(out, f"toy[K={K},algorithm=slow,seed={s}]", "slow", K, rate=1.0, time_per_epoch=ts, seed=s)
    res = load_results(out)
    tab = summary_table(res).set_index(["algorithm", "K"])
    assert tab.loc[("fast", 4), "speedup_vs_K1"] >= tab.loc[("slow", 4), "speedup_vs_K1"]  # the medians agree
    assert tab.loc[("fast", 4), "speedup_vs_K1"] >= 0.8 * 4
    v = {x.claim.kind: x for x in evaluate_claims(res)}
    assert v["speedup_better"].verdict == "inconclusive" and "95% [" in v["speedup_better"].evidence
    assert v["speedup_linear"].verdict == "inconclusive" and "vs 3.2)" in v["speedup_linear"].evidence


def test_linear_rate_ratio_needs_its_interval(tmp_path):
    """Subject rates per seed straddle the band's edge: median log-rate ratio 2.5 (inside 1/3..3), but the
    interval over seeds reaches past 3: inconclusive, not agrees."""
    out = tmp_path / "res"
    _study(out, [LINEAR])
    for s, r in enumerate((0.5, 1.25, 2.0, 1.0, 1.5)):  # 10**(-r) per epoch; slow: 0.5 decade per epoch
        _write_run(out, f"toy[algorithm=fast,seed={s}]", "fast", 4, rate=r, time_per_epoch=1.0, seed=s)
        _write_run(out, f"toy[algorithm=slow,seed={s}]", "slow", 4, rate=0.5, time_per_epoch=1.0, seed=s)
    (v,) = evaluate_claims(load_results(out))
    assert "log-rate ratio vs slow 2.5 " in v.evidence and v.verdict == "inconclusive", v.evidence
