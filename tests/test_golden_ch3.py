"""The Chapter 3 regression gate: quick runs of ch3-gap, ch3-speedup and ch3-bound give the numbers
the pre-refactor code gave (``tests/golden/``, see its README for where they came from).

A subset of each quick study is re-run with the current code (the run ids are the quick study's
own, so they match the golden ones): ch3-gap on its quick ijcnn1 dataset (3 algorithms x 3
seeds, the eta pilot included), all of ch3-speedup's quick runs, and ch3-bound's quick
contraction runs of its first arm (eta of (3.18), a FromTheorem step) plus one step-limit point
(K=2, T=4). Per run we compare the run id, status, final step, sim_time, epochs, the eta used,
the maximum and mean staleness, and for every recorded metric its first, middle and last value
(step-limit points record no metrics: their bracket eta_stable / eta_unstable instead).

Integers and strings must be equal; numbers equal to a relative tolerance of 1e-9 (absolute
1e-14 for values at or near zero). On the machine that wrote the golden the runs are bit-identical
(one BLAS thread fixes the summation order, :func:`studies.runner.execute_task`); the tolerance
only allows last-bit differences of another BLAS or CPU, which would otherwise fail the gate for
no mathematical reason. Anything a refactor changes in the numerics shows up far above it.

Regenerate deliberately (see tests/golden/README.md)::

    python tests/test_golden_ch3.py                     # from the current code
    python tests/test_golden_ch3.py --from /work/golden # from saved results dirs DIR/<study>/
"""
from __future__ import annotations

import csv
import dataclasses
import json
import math
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = Path(__file__).resolve().parent / "golden"
STUDIES = ("ch3-gap", "ch3-speedup", "ch3-bound")
COLUMNS = ("run_id", "status", "step", "sim_time", "epochs", "eta", "staleness_max", "staleness_mean",
           "metric", "first", "middle", "last")
INTS = ("step", "staleness_max")
FLOATS = ("sim_time", "epochs", "eta", "staleness_mean", "first", "middle", "last")
RTOL, ATOL = 1e-9, 1e-14
#: what a step-limit point records instead of metrics (its bracket of the largest stable step)
STEP_LIMIT_INFO = ("eta_stable", "eta_unstable")


def subset(name: str):
    """The part of quick study ``name`` that the gate re-runs (run ids unchanged)."""
    from studies import get_study

    spec = get_study(name)
    # the claims' step grids add runs of their own (grid=... in their ids); the gate holds the study's runs
    spec = dataclasses.replace(spec, claims=tuple(dataclasses.replace(c, steps=None) for c in spec.claims))
    # the golden's records were taken on the per-epoch grid; a study's sparser schedule (ch3-speedup's
    # "near_target") keeps the same stops and ends, checked by test_near_target_keeps_the_golden_stops
    spec = dataclasses.replace(spec, records="epoch") if spec.records == "near_target" else spec
    if name == "ch3-gap":
        (ijcnn1,) = [d for d in spec.test_parameters["dataset"] if d.name == "ijcnn1"]
        return dataclasses.replace(spec, test_parameters={**spec.test_parameters, "dataset": (ijcnn1,)})
    if name == "ch3-bound":
        # the first arm is also the step-limit search's algorithm, so its tasks keep their ids
        (search,) = spec.searches
        return dataclasses.replace(spec, algorithms=spec.algorithms[:1],
                                   searches=(dataclasses.replace(search, quick_points=((2, 4),)),))
    return spec


def run_ids(name: str) -> list[str]:
    from studies.spec import expand

    return [t.run_id for t in expand(subset(name), quick=True)]


def _num(x) -> str:
    """An integer as itself, a float with 17 significant digits (exact), None as ''."""
    if x is None:
        return ""
    if isinstance(x, int) and not isinstance(x, bool):
        return str(x)
    return f"{float(x):.17g}"


def summarise(out: Path, ids: list[str]) -> list[dict]:
    """The golden rows of runs ``ids`` written under ``out/runs/`` by ``studies.run_study``."""
    rows = []
    for rid in ids:
        rdir = Path(out) / "runs" / rid
        res = json.loads((rdir / "result.json").read_text(encoding="utf-8"))
        st = res.get("staleness") or {}
        eta = res.get("hyper", {}).get("eta")
        base = {"run_id": rid, "status": res["status"], "step": _num(res["step"]), "sim_time": _num(res["sim_time"]),
                "epochs": _num(res["epochs"]), "eta": _num(eta) if isinstance(eta, (int, float)) else "",
                "staleness_max": _num(st.get("max")), "staleness_mean": _num(st.get("mean"))}
        series: dict[str, list[float]] = {}
        if (rdir / "records.csv").exists():
            with open(rdir / "records.csv", newline="", encoding="utf-8") as fh:
                for rec in csv.DictReader(fh):
                    series.setdefault(rec["metric"], []).append(float(rec["value"]))
        if not series:
            for key in STEP_LIMIT_INFO:
                if key in res.get("info", {}):
                    series[f"info:{key}"] = [float(res["info"][key])]
        assert series, f"run {rid} has neither records nor a step-limit bracket"
        for metric in sorted(series):
            v = series[metric]
            rows.append({**base, "metric": metric, "first": _num(v[0]), "middle": _num(v[len(v) // 2]),
                         "last": _num(v[-1])})
    return rows


def read_golden(name: str) -> list[dict]:
    with open(GOLDEN / f"{name}.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def write_golden(name: str, rows: list[dict]) -> None:
    GOLDEN.mkdir(exist_ok=True)
    with open(GOLDEN / f"{name}.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


def _same_number(a: str, b: str) -> bool:
    if a == "" or b == "":
        return a == b
    x, y = float(a), float(b)
    if math.isnan(x) or math.isnan(y):
        return math.isnan(x) and math.isnan(y)
    return math.isclose(x, y, rel_tol=RTOL, abs_tol=ATOL)


def differences(golden: list[dict], current: list[dict]) -> list[str]:
    """Human-readable differences between two lists of golden rows (empty when they agree)."""
    key = lambda r: (r["run_id"], r["metric"])  # noqa: E731
    g, c = {key(r): r for r in golden}, {key(r): r for r in current}
    out = [f"missing now: {k}" for k in sorted(set(g) - set(c))]
    out += [f"new now: {k}" for k in sorted(set(c) - set(g))]
    for k in sorted(set(g) & set(c)):
        for col in COLUMNS[1:]:
            a, b = g[k][col], c[k][col]
            same = _same_number(a, b) if col in FLOATS else a == b
            if not same:
                out.append(f"{k[0]} {k[1]}: {col} was {a}, is {b}")
    return out


def test_subset_ids_match_the_golden_files():
    """The gate re-runs exactly the runs the golden holds, and they are quick-study run ids."""
    from studies.spec import expand
    from studies import get_study

    for name in STUDIES:
        ids = run_ids(name)
        assert ids and ids == list(dict.fromkeys(r["run_id"] for r in read_golden(name))), name
        full_quick = {t.run_id for t in expand(get_study(name), quick=True)}
        assert set(ids) <= full_quick, name
    assert len(run_ids("ch3-gap")) == 9 and len(run_ids("ch3-speedup")) == 18 and len(run_ids("ch3-bound")) == 5


def test_comparison_detects_a_change():
    """The comparison fails on a last-digit change far above the tolerance, a status or step
    change, and a missing metric; it accepts a change at the 1e-12 relative level."""
    rows = read_golden("ch3-gap")
    assert not differences(rows, [dict(r) for r in rows])
    r0 = rows[0]
    tiny = [dict(r0, last=f"{float(r0['last']) * (1 + 1e-12):.17g}")] + rows[1:]
    assert not differences(rows, tiny)
    for change in ({"last": f"{float(r0['last']) * (1 + 1e-7):.17g}"}, {"status": "diverged"},
                   {"step": str(int(r0["step"]) + 1)}, {"eta": "0.01"}):
        assert differences(rows, [dict(r0, **change)] + rows[1:]), change
    assert differences(rows, rows[1:])


@pytest.mark.parametrize("name", STUDIES)
def test_quick_runs_match_the_pre_refactor_golden(name, tmp_path):
    """Re-run the subset with the current code and compare it with tests/golden/<name>.csv."""
    from studies import run_study

    res = run_study(subset(name), quick=True, out=tmp_path, progress=False)
    ids = run_ids(name)
    assert [r.run_id for r in res.runs] == ids
    assert all(r.status != "failed" for r in res.runs), [(r.run_id, r.error) for r in res.runs if r.error]
    diff = differences(read_golden(name), summarise(tmp_path, ids))
    assert not diff, f"{name} differs from tests/golden/{name}.csv:\n" + "\n".join(diff[:40])


def test_near_target_keeps_the_golden_stops(tmp_path):
    """ch3-speedup records with its own schedule (``records="near_target"``: the per-epoch grid, dense only
    near the target): every run stops at the golden's step, time and epoch, with the golden's first and last
    value of every metric (only the middle record, which depends on the schedule, may differ)."""
    from studies import get_study, run_study

    assert get_study("ch3-speedup").records == "near_target"
    spec = dataclasses.replace(subset("ch3-speedup"), records="near_target")
    run_study(spec, quick=True, out=tmp_path, progress=False)
    golden = [dict(r, middle="") for r in read_golden("ch3-speedup")]
    now = [dict(r, middle="") for r in summarise(tmp_path, run_ids("ch3-speedup"))]
    diff = differences(golden, now)
    assert not diff, "near_target changed ch3-speedup's stops or ends:\n" + "\n".join(diff[:40])


def main(argv: list[str]) -> None:
    """Write tests/golden/<study>.csv from saved results (``--from DIR``: DIR/<study>/runs/...)
    or from fresh quick runs of the current code."""
    import tempfile

    sys.path.insert(0, str(ROOT))
    src = Path(argv[argv.index("--from") + 1]) if "--from" in argv else None
    for name in STUDIES:
        ids = run_ids(name)
        if src is not None:
            rows = summarise(src / name, ids)
        else:
            from studies import run_study

            with tempfile.TemporaryDirectory() as tmp:
                run_study(subset(name), quick=True, out=tmp, progress=False)
                rows = summarise(Path(tmp), ids)
        write_golden(name, rows)
        print(f"tests/golden/{name}.csv: {len(ids)} runs, {len(rows)} rows")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main(sys.argv[1:])
