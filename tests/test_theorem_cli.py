"""The `delaylab theorems` / `delaylab check` subcommands (studies/theorem_cli.py), run in-process."""
from __future__ import annotations

import argparse
import json

import pytest

import bounds
from studies.theorem_cli import CLIError, main, parse_params, register, run_check

EXAMPLE = ["check", "thm3.4.1", "--L", "1", "--lam", "0.1", "--n", "49990", "--H", "100", "--tau", "3",
           "--eta", "1e-4"]


def test_theorems_lists_every_registered_theorem():
    code, out = run_check(["theorems"])
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[0].split()[:2] == ["key", "title"]
    listed = [ln.split()[0] for ln in lines[1:]]
    assert listed == list(bounds.keys())
    row = [ln for ln in lines if ln.startswith("thm3.4.1 ")][0]
    assert "(3.18)" in row and "E[C_T]/E[C_0]" in row


def test_theorems_json():
    code, out = run_check(["theorems", "--json"])
    assert code == 0
    data = json.loads(out)
    assert [d["key"] for d in data] == list(bounds.keys())
    assert "eta" in [d for d in data if d["key"] == "thm3.4.2"][0]["params"]


def test_check_example_prints_conditions_step_and_bound():
    code, out = run_check(EXAMPLE + ["--T", "1000"])
    assert code == 0
    limit = 1 / (4 * 100 * 9 + 0.1 * 49990 + 2)
    assert "(3.18)   holds" in out
    assert f"largest admissible eta: {limit:.6g}" in out
    assert f"bound: E[C_T]/E[C_0] <= {1 - 1e-4 * 0.1 * 100:.6g}" in out
    assert "all conditions hold" in out


def test_check_json_matches_library_report():
    for argv in (EXAMPLE + ["--json"], ["check", "--json"] + EXAMPLE[1:], EXAMPLE + ["--T=5", "--json"]):
        code, out = run_check(argv)
        assert code == 0, out
        d = json.loads(out)
        rep = bounds.get("thm3.4.1").check(L=1, lam=0.1, n=49990, H=100, tau=3, eta=1e-4,
                                           **({"T": 5} if "--T=5" in argv else {}))
        assert d["max_step"] == rep.max_step
        assert [c["status"] for c in d["conditions"]] == ["holds"] * (4 if "--T=5" in argv else 3)
        assert d["conditions"][0]["margin"] == rep.conditions[0].margin


def test_check_violated_step():
    code, out = run_check(["check", "thm3.4.3", "--L", "1", "--lam", "0.1", "--n", "1000", "--H", "10",
                           "--tau", "2", "--eta", "0.01", "--json"])
    assert code == 0
    d = json.loads(out)
    assert d["holds"] is False and d["conditions"][0]["status"] == "violated"
    assert d["conditions"][0]["margin"] < 0


def test_T_alias_for_outer_rounds():
    args = EXAMPLE[2:] + ["--S", "7", "--eps", "1e-6", "--C0", "1", "--json"]
    code, out = run_check(["check", "thm3.4.2"] + args)
    code2, out2 = run_check(["check", "thm3.4.2"] + [a if a != "--S" else "--T" for a in args])
    assert code == code2 == 0
    a, b = json.loads(out), json.loads(out2)
    assert a["bound"] == b["bound"] == pytest.approx((1 - 1e-4 * 0.1 * 100) ** 7)
    assert a["quantities"]["outer_iterations"] > 0


@pytest.mark.parametrize("argv,fragment", [
    (["check", "thm3.4.1", "--L", "1", "--lam", "0.1", "--n", "49990", "--H", "100", "--eta", "1e-4"],
     "missing parameter 'tau' for thm3.4.1: tau must be an integer >= 0"),
    (EXAMPLE[:9] + ["0"] + EXAMPLE[10:], "H must be an integer >= 1, got 0"),
    (EXAMPLE + ["--foo", "3"], "unknown parameter --foo for thm3.4.1; its parameters are: --L, --lam, --n, "
                               "--H, --tau, --eta, --T"),
    (EXAMPLE[:3] + ["abc"] + EXAMPLE[4:], "L must be a finite number > 0, got 'abc'"),
    (EXAMPLE + ["--eta", "1"], "--eta given twice"),
    (EXAMPLE + ["--T"], "--T needs a value"),
    (["check", "thm9.9.9", "--L", "1"], "unknown theorem 'thm9.9.9'; known theorems: "),
])
def test_bad_input_is_one_line_error_exit_2(argv, fragment):
    code, out = run_check(argv)
    assert code == 2
    assert out.count("\n") == 1 and out.startswith("delaylab: error: ")
    assert fragment in out
    if "unknown theorem" in fragment:
        assert "thm3.4.1, thm3.4.1-corrected" in out


def test_register_into_a_foreign_parser_and_cli_error_type():
    parser = argparse.ArgumentParser(prog="delaylab")
    sub = parser.add_subparsers(dest="command")
    register(sub)
    args = parser.parse_args(EXAMPLE[:4] + ["--bogus", "1"])
    with pytest.raises(CLIError, match="unknown parameter --bogus") as e:
        args.func(args)
    assert isinstance(e.value, ValueError)
    with pytest.raises(CLIError, match="expected --PARAM VALUE"):
        parse_params(bounds.get("thm3.4.1"), ["L", "1"])


def test_main_returns_2_on_error(capsys):
    assert main(["check", "thm3.4.1", "--L", "-1"]) == 2
    err = capsys.readouterr().err
    assert "L must be a finite number > 0, got -1.0" in err
    assert main(["theorems"]) == 0


# -- layer-wise theorems: the same arrays as the Python API, comma-separated (issue 8) ---------------
LAYER = ["--L", "1,0.01", "--Mk", "3,3", "--L_g", "1", "--B", "64", "--M", "1", "--Delta", "1", "--T", "100"]


@pytest.mark.parametrize("key", ["thm4.3.1", "thm4.3.1-corrected", "thm4.3.2", "thm4.3.2-corrected", "cor4.3.1",
                                 "cor4.3.2"])
def test_layerwise_cli_takes_per_layer_arrays(key):
    thm = bounds.get(key)
    extra = (["--gamma", "0.001"] if "gamma" in thm.param_names else []) + (
        ["--beta", "0.5"] if "beta" in thm.param_names else [])
    code, out = run_check(["check", key, "--json"] + LAYER + extra)
    assert code == 0, out
    d = json.loads(out)
    kw = dict(L=[1.0, 0.01], Mk=[3.0, 3.0], L_g=1.0, B=64.0, M=1.0, Delta=1.0, T=100)
    kw.update({"gamma": 0.001} if "gamma" in thm.param_names else {})
    kw.update({"beta": 0.5} if "beta" in thm.param_names else {})
    rep = thm.check(**kw)
    assert d == json.loads(json.dumps(rep.to_dict()))
    # the aggregates the theorem computed: K = 2, sum 1/L_k = 101, L_min = 0.01, M_max = 3
    assert d["params"]["K"] == 2 and d["params"]["Linv_sum"] == pytest.approx(101.0)
    assert d["params"]["L_min"] == 0.01 and d["params"]["M_max"] == 3


def test_layerwise_single_layer_and_listing():
    code, out = run_check(["check", "thm4.3.1", "--L", "2", "--L_g", "2", "--B", "1", "--Mk", "0", "--gamma", "0.1"])
    assert code == 0 and "K=1" in out and "Linv_sum=0.5" in out
    code, out = run_check(["theorems", "--json"])
    rows = {r["key"]: r for r in json.loads(out)}
    assert rows["thm4.3.2"]["array_params"] == ["L", "Mk"] and rows["thm3.4.1"]["array_params"] == []


@pytest.mark.parametrize("argv,fragment", [
    # inconsistent hand-computed aggregates (issue 8: these used to pass)
    (["check", "thm4.3.1", "--gamma", "1e-3", "--K", "2", "--Linv_sum", "101", "--L_min", "2", "--L_max", "1",
      "--M_max", "3", "--R_max", "3", "--L_g", "2", "--B", "64"],
     "L_min must be in [0, 1] (L_min = min_k L_k <= L_max = max_k L_k"),
    (["check", "thm4.3.1", "--gamma", "1e-3", "--K", "2", "--Linv_sum", "1.5", "--L_min", "0.01", "--L_max", "1",
      "--M_max", "3", "--R_max", "300", "--L_g", "1", "--B", "64"],
     "Linv_sum must be in [2, 200] (sum_k 1/L_k of K layers lies in [K/L_max, K/L_min]"),
    (["check", "thm4.3.1", "--gamma", "1e-3", "--K", "2", "--Linv_sum", "101", "--L_min", "0.01", "--L_max", "1",
      "--M_max", "3", "--R_max", "1000", "--L_g", "1", "--B", "64"],
     "R_max must be in [3, 300]"),
    (["check", "thm4.3.2", "--gamma", "1e-3", "--beta", "0.5", "--K", "2", "--Linv_sum", "101", "--L_min", "0.01",
      "--L_max", "1", "--M_max", "3", "--R_max", "300", "--MLinv_sum", "700", "--L_g", "1", "--B", "64"],
     "MLinv_sum must be in [300, 303]"),
    (["check", "thm4.3.1", "--gamma", "1e-3", "--L", "1,abc", "--L_g", "1", "--B", "1"],
     "L must be comma-separated finite numbers"),
    (["check", "thm4.3.1", "--gamma", "1e-3", "--L", "1,-1", "--L_g", "1", "--B", "1"],
     "L must hold finite numbers > 0 (one per layer), got [1.0, -1.0]"),
    (["check", "thm4.3.1", "--gamma", "1e-3", "--L", "1,1", "--Mk", "1", "--L_g", "1", "--B", "1"],
     "Mk must hold one variance factor per layer (K=2)"),
    (["check", "thm4.3.1", "--gamma", "1e-3", "--L", "1,1", "--K", "2", "--L_g", "1", "--B", "1"],
     "give K or the per-layer L/Mk, not both"),
    (["check", "thm4.3.1", "--gamma", "1e-3", "--Mk", "1,1", "--L_g", "1", "--B", "1"], "Mk (per-layer variance "
     "factors) needs L"),
    (["check", "thm3.4.1", "--L", "1,2", "--lam", "0.1", "--n", "10", "--H", "1", "--tau", "0", "--eta", "1e-3"],
     "L must be a finite number > 0, got '1,2'"),
])
def test_layerwise_bad_input_is_one_line_exit_2(argv, fragment):
    code, out = run_check(argv)
    assert code == 2, out
    assert out.count("\n") == 1 and out.startswith("delaylab: error: ")
    assert fragment in out, out


def test_consistent_aggregates_are_accepted_and_match_arrays():
    agg = dict(K=2, Linv_sum=101.0, L_min=0.01, L_max=1.0, M_max=3.0, R_max=300.0, MLinv_sum=303.0)
    thm = bounds.get("thm4.3.2-corrected")
    a = thm.check(gamma=1e-3, beta=0.5, L_g=1.0, B=64.0, **agg)
    b = thm.check(gamma=1e-3, beta=0.5, L_g=1.0, B=64.0, L=[1.0, 0.01], Mk=[3.0, 3.0])
    assert a.max_step == pytest.approx(b.max_step, rel=1e-14) and a.holds == b.holds
    with pytest.raises(ValueError, match="Linv_sum must be in"):   # the Python API checks them too
        thm.max_step(beta=0.5, L_g=1.0, B=64.0, **{**agg, "Linv_sum": 1.0})


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_after_a_theorem_lists_its_parameters(flag, capsys):
    """``delaylab check thm4.3.1 --help`` (also after other parameters) prints that theorem's parameters,
    which are arrays and what each means, and exits 0, not "unknown parameter --help"."""
    from studies.cli import main as delaylab

    thm = bounds.get("thm4.3.1")
    for argv in (["check", "thm4.3.1", flag], ["check", "thm4.3.1", "--gamma", "0.1", flag]):
        assert delaylab(argv) == 0
        out, err = capsys.readouterr()
        assert err == "" and out.startswith("thm4.3.1: ")
        for name in thm.param_names:
            row = next(ln for ln in out.splitlines() if ln.split()[:1] == [f"--{name}"])
            assert thm.symbol(name).allowed in row and thm.symbol(name).description in row
        for name, what in thm.ARRAY_PARAMS.items():
            row = next(ln for ln in out.splitlines() if ln.split()[:1] == [f"--{name}"])
            assert "comma-separated" in row and "array" in row and what in row
    code, out = run_check(["check", "thm3.4.2", flag])  # the --T alias of an iteration symbol named otherwise
    assert code == 0 and any(ln.split()[:1] == ["--T"] for ln in out.splitlines())
