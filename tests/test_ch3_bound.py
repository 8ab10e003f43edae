"""Study ch3-bound: verdict logic on synthetic curves, the step-limit search, the theorem's step, end to end."""
from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

import bounds
from studies import get_study, report, run_study
from studies.cli import main
from studies.compare import bound_excess, check_bound, log_looseness
from studies.runner import get_problem, select_hyper
from studies.search import empirical_step_limit
from studies.spec import DatasetSpec, StepLimitSearch, expand
from studies.thesis.ch3 import CH3_BOUND

RHO = 0.9


def geometric(q: float, S: int = 30, seeds: int = 5, noise: float = 0.0, seed: int = 0) -> np.ndarray:
    """Curves C_s/C_0 = q^s (1 + noise * N(0, 1)) per seed, with C_0/C_0 = 1 exactly."""
    rng = np.random.default_rng(seed)
    c = np.tile(q ** np.arange(S + 1.0), (seeds, 1))
    c[:, 1:] *= 1.0 + noise * rng.standard_normal((seeds, S))
    return c


# --- the verdict on synthetic curves ------------------------------------------------------------
@pytest.mark.parametrize("kind", ["outer", "round"])
def test_verdict_holds_violated_and_condition_not_met(kind):
    below, above = geometric(0.85), geometric(0.95)
    assert check_bound(below, RHO, kind, admissible=True).verdict == "holds"
    v = check_bound(above, RHO, kind, admissible=True)
    assert v.verdict == v.nominal == "violated" and v.worst_z == math.inf  # identical seeds: no noise to hide in
    assert v.worst_round >= 1
    out = check_bound(above, RHO, kind, admissible=False)
    assert out.verdict == "condition not met" and out.nominal == "violated"
    assert check_bound(below, RHO, kind, admissible=False).nominal == "holds"


def test_verdict_tolerates_seed_noise_but_not_a_clear_excess():
    """5 seeds with 1% noise whose expectation is 0.5% under the bound hold (some single seeds are
    above it); the same curves 3% above the bound (many standard errors) are violated."""
    on = geometric(RHO, noise=0.01)
    on[:, 1:] *= 0.995
    assert (on > RHO ** np.arange(31.0)).any()
    assert check_bound(on, RHO, "outer", admissible=True).verdict == "holds"
    assert check_bound(on, RHO, "outer", admissible=True, z=0.0).verdict == "violated"  # z = 0: no tolerance
    high = on.copy()
    high[:, 10:] *= 1.035
    v = check_bound(high, RHO, "outer", admissible=True)
    assert v.verdict == "violated" and v.worst_z > 3 and v.worst_round >= 10
    # a single round above the bound is enough for the per-round theorem (eq. 3.19)
    jump = geometric(0.8)
    jump[:, 7] = jump[:, 6]  # C does not decrease in round 6 -> 7
    assert check_bound(jump, RHO, "round", admissible=True).worst_round == 7
    assert check_bound(jump, RHO, "round", admissible=True).verdict == "violated"
    assert check_bound(jump, RHO, "outer", admissible=True).verdict == "holds"


def test_verdict_diverged_curves_and_the_accuracy_floor():
    nan = geometric(0.8)
    nan[2, 12:] = np.nan  # a seed that diverged
    assert check_bound(nan, RHO, "outer", admissible=True).verdict == "violated"
    plateau = geometric(0.2)  # reaches the accuracy of w* (1e-25) long before the bound does (0.9^s)
    plateau[:, 40 // 2:] = 1e-25
    assert check_bound(plateau, RHO, "outer", admissible=True).verdict == "holds"
    # the per-round check ignores rounds sitting at the floor, not those above it
    assert check_bound(plateau, RHO, "round", admissible=True).verdict == "holds"
    assert check_bound(plateau, RHO, "round", admissible=True, floor=0.0).verdict == "violated"


def test_bound_excess_shapes_and_errors():
    c = geometric(0.5, S=4, seeds=2)
    ex, scale = bound_excess(c, 0.5, "outer")
    assert ex.shape == (2, 4) and np.allclose(ex, 0) and np.allclose(scale[0], 0.5 ** np.arange(1, 5))
    ex, scale = bound_excess(c, 0.5, "round")
    assert ex.shape == (2, 4) and np.allclose(ex, 0)
    with pytest.raises(ValueError, match="kind must be"):
        bound_excess(c, 0.5, "middle")
    with pytest.raises(ValueError, match="rho must be"):
        bound_excess(c, 1.5, "outer")
    with pytest.raises(ValueError, match=r"curves must have shape"):
        bound_excess(np.ones(3), 0.5, "outer")
    with pytest.raises(ValueError, match="z must be"):
        check_bound(c, 0.5, "outer", admissible=True, z=-1.0)


def test_looseness_closed_form():
    q, rho = 0.5, 0.99
    loose, s = log_looseness(0.5 ** np.arange(21.0), rho)
    assert s == 20 and loose == pytest.approx(math.log(q) / math.log(rho), rel=1e-12)
    # stops at the accuracy floor: a plateau at 1e-30 does not dilute the rate
    c = np.concatenate([0.1 ** np.arange(8.0), np.full(10, 1e-30)])
    loose, s = log_looseness(c, rho)
    assert s == 7 and loose == pytest.approx(math.log(0.1) / math.log(rho))


# --- the empirical step limit ---------------------------------------------------------------------
@pytest.mark.parametrize("start", [1e-6, 0.37, 5.0])
def test_step_limit_search_brackets_a_known_threshold(start):
    lo, hi, tried = empirical_step_limit(lambda eta: eta < 0.37, start, rel_tol=0.05)
    assert lo < 0.37 <= hi and hi / lo <= 1.05
    assert all(ok == (eta < 0.37) for eta, ok in tried)
    assert tried[0][0] == start


def test_step_limit_search_limits_and_errors():
    lo, hi, _ = empirical_step_limit(lambda eta: True, 1.0, max_doublings=5)
    assert lo == 32.0 and hi == math.inf
    lo, hi, _ = empirical_step_limit(lambda eta: False, 1.0, max_doublings=5)
    assert lo == 0.0 and hi == 1.0 / 32
    with pytest.raises(ValueError, match="start must be"):
        empirical_step_limit(lambda eta: True, 0.0)
    with pytest.raises(ValueError, match=r"StepLimitSearch.seeds must be an integer >= 1, got 0"):
        replace(CH3_BOUND.searches[0], seeds=0)
    with pytest.raises(ValueError, match=r"StepLimitSearch.points must hold \(K, T\) pairs"):
        StepLimitSearch("eta", points=((1, 0),), start=CH3_BOUND.searches[0].start, probe_updates="1", metric="m")


# --- the study uses the theorem's own step ------------------------------------------------------
def test_theorem_arms_use_bounds_max_step():
    """The arms' eta is the theorem's own max_step(L = L_max, lam, n, H, tau = T - 1), as bound in the study."""
    tasks = [t for t in expand(CH3_BOUND, quick=True) if t.kind == "run" and t.rep == 0]
    problem = get_problem(tasks[0])
    H, T = 100, 8 * tasks[0].K
    c = problem.constants()
    arms = {t.algorithm.label: t for t in tasks}
    for label, key in (("eta of (3.18)", "thm3.4.1"), ("eta corrected", "thm3.4.1-corrected")):
        hyper, how = select_hyper(arms[label], problem)
        want = bounds.get(key).max_step(L=c.L_max, lam=0.1, n=problem.n, H=H, tau=T - 1)
        assert hyper["eta"] == want and key in how
    # eq. 3.18 by hand, L = L_max = 1 for unit-norm rows
    assert select_hyper(arms["eta of (3.18)"], problem)[0]["eta"] == \
        pytest.approx(1.0 / (4 * H * c.L_max * (T - 1) ** 2 + 0.1 * problem.n + 2 * c.L_max), rel=1e-14)


# --- end to end -----------------------------------------------------------------------------------
def _tiny_spec():
    search = replace(CH3_BOUND.searches[0], quick_points=((1, 1), (2, 4)), probe_updates="max(ceil(2*n/H), 3*T)")
    return replace(CH3_BOUND, quick_values={"rounds": 12}, quick_seeds=3, searches=(search,),
                   test_parameters={"dataset": (DatasetSpec("ijcnn1", K=2, scale=0.02),)})


def test_tiny_study_end_to_end_page_resume_and_determinism(tmp_path):
    spec = _tiny_spec()
    a = run_study(spec, quick=True, out=tmp_path / "a", progress=False)
    assert {r.status for r in a.runs} == {"finished"} and len(a.runs) == 3 * 3 + 2
    files = report(tmp_path / "a")
    page = files.markdown.read_text()
    assert "Verdict per theorem" in page and "**[holds]** thm3.4.2, eta of (3.18)" in page
    assert "**[condition not met]** thm3.4.2, eta thesis grid" in page
    assert "Step-size limit vs delay" in page and "COUNTEREXAMPLE" not in page
    names = sorted(p.name for p in files.figures)
    assert names[0].startswith("contraction_") and names[-1] == "step_limit_ijcnn1_thm3.4.1.png"
    # the admissible arm's measured contraction: below the bound, and faster (looseness > 1)
    contraction, step_limit = spec.analyses
    tab = contraction.table(a)
    row = tab[(tab.theorem == "thm3.4.2") & (tab.arm == "eta of (3.18)")].iloc[0]
    assert row.measured < row.bound < 1 and row.looseness > 1 and row.condition == "holds"
    sl = step_limit.table(a)
    assert (sl["ratio thm3.4.1"] >= 1).all() and (sl.tau <= sl["T"] - 1).all()
    # resume: nothing runs again
    again = run_study(spec, quick=True, out=tmp_path / "a", progress=False)
    assert again.skipped == len(a.runs)
    # determinism: same seeds, same numbers, bit for bit
    run_study(spec, quick=True, out=tmp_path / "b", progress=False)
    for ra in a.runs:
        da, db = (tmp_path / x / "runs" / ra.run_id for x in ("a", "b"))
        ja, jb = (json.loads((d / "result.json").read_text()) for d in (da, db))
        assert ja["info"] == jb["info"] and ja["hyper"] == jb["hyper"]
        if (da / "records.csv").exists():
            pd.testing.assert_frame_equal(pd.read_csv(da / "records.csv"), pd.read_csv(db / "records.csv"))


def test_cli_runs_the_registered_quick_study(tmp_path, capsys, monkeypatch):
    """`delaylab study run ch3-bound --quick` runs the bound study through the one runner and prints the verdicts."""
    spec = _tiny_spec()
    from studies import registry

    # the registered study at a tiny size (same code path as the real --quick)
    get_study("ch3-bound")
    monkeypatch.setitem(registry._STUDIES, "ch3-bound", spec)
    assert get_study("ch3-bound") is spec
    out = tmp_path / "cli"
    assert main(["study", "run", "ch3-bound", "--quick", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "[holds] thm3.4.1, eta of (3.18)" in text and "[condition not met]" in text
    assert "step limit: empirical largest stable eta / max_step(tau)" in text
    (out / "report.md").unlink()
    assert main(["report", str(out)]) == 0 and "Verdict per theorem" in (out / "report.md").read_text()
    # the library entry point runs the same study
    res = run_study("ch3-bound", quick=True, out=out, progress=False)
    assert res.skipped == len(res.runs)
