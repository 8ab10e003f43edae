"""Study specs: validation names the field, run ids, seed derivation, grid expansion, registry."""
from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from studies import get_study, list_studies
from studies.spec import (AlgorithmSpec, BudgetSpec, Claim, ClusterSpec, DatasetSpec, StudySpec, Target,
                          derive_seeds, eval_expression, expand, run_id)


def _spec(**over) -> StudySpec:
    base = dict(
        name="toy", title="Toy", thesis_ref="Fig. 0", claim="A is faster than B.", problem="ridge", lam=0.1,
        datasets=(DatasetSpec("ijcnn1", K=2, scale=0.02), DatasetSpec("covtype", K=4, scale=0.002)),
        algorithms=(AlgorithmSpec("dis-dfsdca", "A", {"eta": 1e-3, "H": 10, "T": "4*K"}),
                    AlgorithmSpec("cocoa+", "B", {"H": 10})),
        cluster=ClusterSpec(), budget=BudgetSpec(max_epochs=3), target=Target("duality_gap", 1e-3),
        seeds=2, claims=(Claim("A beats B", kind="faster", subject="a", baseline="b"),))
    base.update(over)
    return StudySpec(**base)


@pytest.mark.parametrize("field, value, needle", [
    ("lam", -1.0, "StudySpec.lam"),
    ("lam", float("nan"), "StudySpec.lam"),
    ("problem", "lasso", "StudySpec.problem"),
    ("seeds", 0, "StudySpec.seeds"),
    ("name", "bad name", "StudySpec.name"),
    ("datasets", (), "StudySpec.datasets"),
    ("algorithms", (AlgorithmSpec("cocoa+", "B", {}), AlgorithmSpec("cocoa+", "b", {})), "StudySpec.algorithms"),
    ("parameters", {"colour": (1,)}, "StudySpec.parameters"),
    ("test_parameters", {"K": (0,)}, "StudySpec.test_parameters"),
    ("test_parameters", {"K": 4}, "StudySpec.test_parameters"),
    ("claims", (Claim("x", kind="faster", subject="zzz", baseline="b"),), "StudySpec.claims"),
    ("x_axis", "wall", "StudySpec.x_axis"),
])
def test_study_spec_errors_name_the_field(field, value, needle):
    with pytest.raises(ValueError) as e:
        _spec(**{field: value})
    assert needle in str(e.value)
    assert "got" in str(e.value)


@pytest.mark.parametrize("make, needle", [
    (lambda: DatasetSpec("ijcnn1", K=0), "DatasetSpec.K"),
    (lambda: DatasetSpec("ijcnn1", K=2, scale=1.5), "DatasetSpec.scale"),
    (lambda: DatasetSpec("", K=2), "DatasetSpec.name"),
    (lambda: AlgorithmSpec("", "x"), "AlgorithmSpec.name"),
    (lambda: AlgorithmSpec("cocoa+", "x", {"eta": ()}), "AlgorithmSpec.hyper['eta']"),
    (lambda: AlgorithmSpec("cocoa+", "x", {"T": "__import__('os')"}), "AlgorithmSpec.hyper['T']"),
    (lambda: BudgetSpec(), "BudgetSpec"),
    (lambda: BudgetSpec(max_epochs=-2), "BudgetSpec.max_epochs"),
    (lambda: Target("duality_gap", 0.0), "Target.value"),
    (lambda: Target("duality_gap", 2.0, relative=True), "Target.value"),
    (lambda: ClusterSpec(speed="warp"), "ClusterSpec.speed"),
    (lambda: ClusterSpec(latency=-1e-3), "ClusterSpec.latency"),
    (lambda: Claim("x", kind="maybe", subject="a"), "Claim.kind"),
    (lambda: Claim("x", kind="faster", subject="a"), "Claim.baseline"),
])
def test_component_errors_name_the_field(make, needle):
    with pytest.raises(ValueError, match=re.escape(needle)):
        make()


def test_spec_is_frozen_and_copies_hyper():
    hyper = {"H": 10}
    alg = AlgorithmSpec("cocoa+", "B", hyper)
    hyper["H"] = 99
    assert alg.hyper["H"] == 10
    with pytest.raises(AttributeError):
        alg.name = "x"


def test_run_id_format_sorted_keys():
    assert run_id("ch3-gap", {"seed": 0, "K": 4, "algorithm": "cocoa+-h-100", "scale": 0.1}) == \
        "ch3-gap[K=4,algorithm=cocoa+-h-100,scale=0.1,seed=0]"
    with pytest.raises(ValueError, match="run-id value for 'dataset'"):
        run_id("s", {"dataset": "a/b"})


_key = st.text("abcdefghijklmnopqrstuvwxyzK_", min_size=1, max_size=6)
_val = st.one_of(st.integers(0, 10**6), st.floats(1e-6, 1e6, allow_nan=False), st.text("abc-+.0123", min_size=1,
                                                                                        max_size=5))


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(_key, _val, min_size=1, max_size=5))
def test_run_id_roundtrip_and_sorted(params):
    rid = run_id("study", params)
    m = re.fullmatch(r"study\[(.*)\]", rid)
    assert m
    pairs = [p.split("=", 1) for p in m.group(1).split(",")]
    keys = [k for k, _ in pairs]
    assert keys == sorted(params)
    for k, v in pairs:
        expect = params[k]
        if isinstance(expect, float):
            assert float(v) == expect  # repr of a float round-trips exactly
        else:
            assert v == str(expect)


def test_seed_derivation_independent_reference():
    ds = DatasetSpec("ijcnn1", K=4, scale=0.1)
    import zlib
    pkey = zlib.crc32(b"ijcnn1|0.1")
    ref_data = np.random.SeedSequence([0, pkey]).generate_state(1, dtype=np.uint32)[0]
    ref_sim = np.random.SeedSequence([0, pkey, 4, 2]).generate_state(1, dtype=np.uint32)[0]
    assert derive_seeds(ds, 4, 2) == (int(ref_data), int(ref_sim))


def test_every_algorithm_of_a_repetition_gets_the_same_seeds():
    runs = expand(_spec(), quick=False)
    assert len(runs) == 2 * 2 * 2  # datasets x seeds x algorithms
    groups: dict = {}
    for r in runs:
        groups.setdefault((r.dataset.name, r.K, r.rep), set()).add((r.data_seed, r.sim_seed))
    assert all(len(v) == 1 for v in groups.values())  # same data and same cluster seed for A and B
    sims = {next(iter(v))[1] for v in groups.values()}
    assert len(sims) == len(groups)  # different repetitions / problems: different delays
    data = {(r.dataset.name, r.data_seed) for r in runs}
    assert len(data) == 2  # the data does not change with the repetition


def test_expand_quick_grid_overrides_and_workers():
    spec = _spec(test_parameters={"dataset": (DatasetSpec("ijcnn1", K=1, scale=0.01),), "K": (1, 2, 4),
                                  "max_epochs": (2,)})
    runs = expand(spec, quick=True, seeds=1)
    assert sorted({r.K for r in runs}) == [1, 2, 4]
    assert all(r.budget.max_epochs == 2 for r in runs)
    assert all("max_epochs=2" in r.run_id for r in runs)
    assert len({r.run_id for r in runs}) == len(runs) == 6
    runs = expand(spec, quick=True, seeds=3, workers=(8,))
    assert {r.K for r in runs} == {8} and {r.rep for r in runs} == {0, 1, 2}
    with pytest.raises(ValueError, match="workers"):
        expand(spec, workers=(0,))
    same = _spec(datasets=(DatasetSpec("unit_norm", K=4, scale=0.01), DatasetSpec("unit_norm", K=8, scale=0.01)))
    assert len(expand(same, seeds=1)) == 4
    assert len(expand(same, seeds=1, workers=(2,))) == 2  # both collapse to K = 2: no duplicate run ids
    with pytest.raises(ValueError, match="seeds"):
        expand(spec, seeds=0)


def test_hyper_expressions():
    assert eval_expression("8*K", {"K": 4}) == 32
    assert eval_expression("n // batch", {"n": 1001, "batch": 10}) == 100
    with pytest.raises(ValueError, match="unknown name 'q'"):
        eval_expression("q + 1", {"K": 1})


def test_registry_has_the_three_chapter3_studies():
    names = [s.name for s in list_studies()]
    assert {"ch3-gap", "ch3-speedup", "ch3-nonconvex"} <= set(names)
    gap = get_study("ch3-gap")
    assert gap.thesis_ref.startswith("Fig. 6") and gap.lam == 0.1 and gap.problem == "ridge"
    assert {(d.name, d.K) for d in gap.datasets} == {("ijcnn1", 4), ("covtype", 8), ("rcv1", 16)}
    assert get_study("ch3-nonconvex").problem_kw["mu"] == 100.0
    with pytest.raises(KeyError, match="known studies: .*ch3-gap"):
        get_study("ch9-nothing")


def test_replace_revalidates():
    with pytest.raises(ValueError, match="StudySpec.lam"):
        replace(_spec(), lam=0.0)
