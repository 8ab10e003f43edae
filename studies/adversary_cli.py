"""``delaylab adversary list|run|replay``: adversarial delay searches against a theorem's bound.

``delaylab adversary list`` names the declared searches (the catalogue
``studies/thesis/adversarial.py``). ``delaylab adversary run NAME [--budget N] [--seed S] [--out DIR]
[--quick] [--restarts R] [--engine auto|fast|python]`` runs one (:mod:`studies.adversary`): the simulated baseline, the search
(a progress bar over evaluations), the worst trace re-evaluated on held-out algorithm seeds (the
verdict: violation / no violation found / inconclusive from their 95% interval; the search's in-sample
maximum is its candidate, not a verdict), the worst trace saved (``worst.npz`` + ``worst.json``) and
replayed from the files to the same ratio, and a report (``report.md``, ``figure.png``). ``--engine``
picks the replay (default auto: compiled where the roles have it, the same numbers bit for bit).
``delaylab adversary replay DIR/worst.json`` re-evaluates a saved trace. Bad input: one line on stderr, exit status 2 (``studies.cli.main``).
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from . import adversary as adv

#: the replay engines a search may use (studies.adversary.ENGINES; a test keeps the two equal). The
#: engine module itself (pandas, the bootstrap) is imported only when a search runs: ``delaylab --help``
#: stays light.
ENGINES = ("auto", "fast", "python")


def _adv():
    from . import adversary

    return adversary
from .progress import ProgressBar

#: held-out algorithm seeds start here (the search's own are 0, 1, ...)
HELD_OUT = 1000


def catalogue() -> dict[str, adv.AdversarySearch]:
    from .thesis.adversarial import SEARCHES

    return {s.name: s for s in SEARCHES}


def get_search(name: str) -> adv.AdversarySearch:
    cat = catalogue()
    if name not in cat:
        raise ValueError(f"unknown adversarial search {name!r}; known: {', '.join(sorted(cat))}")
    return cat[name]


def _int(low: int):
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            v = low - 1
        if v < low:
            raise argparse.ArgumentTypeError(f"must be an integer >= {low}, got {text!r}")
        return v
    return parse


def register(subparsers) -> None:
    """Add ``adversary`` with its actions; each sets ``func(args) -> int``."""
    a = subparsers.add_parser("adversary", help="search adversarial delay traces against a theorem's bound",
                              description="Search the delay traces a theorem's assumption allows (tau / Delta) for "
                                          "the one maximising measured metric / bound at an admissible step.")
    asub = a.add_subparsers(dest="adversary_command", metavar="ACTION")
    lst = asub.add_parser("list", help="list the declared searches", description="List the declared searches.")
    lst.set_defaults(func=cmd_list)
    r = asub.add_parser("run", help="run one search, save the worst trace and write a report",
                        description="Run one search: simulated baseline, search, held-out check, worst trace "
                                    "saved and replayed, report.md + figure.png.")
    r.add_argument("name", help="search name (see 'delaylab adversary list')")
    r.add_argument("--budget", type=_int(1), default=None, help="evaluations (default: the search's)")
    r.add_argument("--seed", type=_int(0), default=0, help="the search's random seed (default 0)")
    r.add_argument("--restarts", type=_int(1), default=None, help="random restarts (default: the search's)")
    r.add_argument("--out", default=None, help="output directory (default: reports/adversary/NAME[-quick])")
    r.add_argument("--quick", action="store_true", help="tiny problem, small budget (seconds)")
    r.add_argument("--engine", choices=ENGINES, default="auto",
                   help="replay engine of every evaluation (default auto: the compiled replay where the roles "
                        "have one, the same numbers bit for bit)")
    r.set_defaults(func=cmd_run)
    rp = asub.add_parser("replay", help="re-evaluate a saved worst trace",
                         description="Re-evaluate DIR/worst.json's trace (worst.npz beside it) and print its ratio.")
    rp.add_argument("path", help="a worst.json written by 'adversary run'")
    rp.set_defaults(func=cmd_replay)
    a.set_defaults(func=_need_action)


def _need_action(args) -> int:
    raise ValueError("adversary needs an action: list, run or replay (see 'delaylab adversary --help')")


def cmd_list(args) -> int:
    specs = sorted(catalogue().values(), key=lambda s: s.name)
    wn = max(len(s.name) for s in specs)
    for s in specs:
        sys.stdout.write(f"{s.name:{wn}s}  {s.theorem:14s}  {s.title}\n")
    return 0


def _fmt(x: float) -> str:
    return f"{x:.4g}" if math.isfinite(x) else str(x)


def run(name: str, *, budget: int | None = None, seed: int = 0, restarts: int | None = None,
        out: str | Path | None = None, quick: bool = False, engine: str = "auto", stream=None,
        progress: bool | None = None) -> dict:
    """The ``run`` action as a function (returns the numbers it prints)."""
    adv = _adv()
    stream = sys.stdout if stream is None else stream
    spec = get_search(name)
    out = Path(out) if out is not None else Path("reports") / "adversary" / (name + ("-quick" if quick else ""))
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"--out must be a directory that can be created and written, got {str(out)!r} "
                         f"({exc.strerror or type(exc).__name__})") from None
    budget = budget if budget is not None else (spec.quick_budget if quick else spec.budget)
    t0 = time.perf_counter()
    st = adv.setup(spec, quick=quick, engine=engine)
    base, base_trace = adv.baseline(st, seed=seed) if spec.cluster is not None else (None, None)
    bar = ProgressBar(label="evaluations", live=progress)
    bar.start(budget)
    result = adv.search(st, budget=budget, seed=seed, restarts=restarts,
                        progress=lambda i, best: bar.update(f"best ratio {_fmt(best)}"))
    bar.close()
    n_held = spec.quick_held_out_seeds if quick else spec.held_out_seeds
    held = adv.held_out(st, result.best_trace, tuple(HELD_OUT + s for s in range(n_held)))
    json_path = adv.save_worst(result, out, held)
    again, _ = adv.replay_saved(json_path, catalogue())
    same = again.ratio == result.best.ratio or (math.isnan(again.ratio) and math.isnan(result.best.ratio))
    report = adv.write_report(result, base, held, out)
    total = time.perf_counter() - t0
    best = result.best
    stream.write(f"\n{spec.name}: {spec.title}\n"
                 f"  {spec.theorem} at step {_fmt(st.eta)} ({spec.step_scale:g} x max_step, conditions "
                 f"{'hold' if st.check.holds else 'FAIL'}), {spec.delay_symbol} <= {st.delay}, K = {spec.K}, "
                 f"N = {st.N} updates, seeds {list(st.seeds)}, {st.engine} replay\n"
                 f"  search's candidate (in-sample maximum over {budget} evaluations, biased upward, not a verdict): "
                 f"worst ratio measured/bound {_fmt(best.ratio)} (measured {_fmt(best.measured)}, bound "
                 f"{_fmt(best.bound)} at {spec.delay_symbol} = {st.delay}; realised max delay {best.max_delay}, "
                 f"ratio there {_fmt(best.ratio_realised)})\n"
                 f"  worst trace on held-out seeds: ratio {held.describe()}\n"
                 f"  verdict: {held.verdict.upper() if held.verdict == adv.VIOLATION else held.verdict}\n")
    extra = spec.measure.secondary(best.measured, best.bound)
    if extra is not None:
        stream.write(f"  {extra[0]}: {_fmt(extra[1])}"
                     + (f" (simulated trace: {_fmt(spec.measure.secondary(base.measured, base.bound)[1])})"
                        if base is not None else "") + "\n")
    if base is not None:
        stream.write(f"  baseline (simulated trace, max delay {base.max_delay}): {_fmt(base.ratio)}; "
                     f"adversary/baseline = {_fmt(best.ratio / base.ratio)}\n")
    stream.write(f"  budget {budget} evaluations, search seed {seed}, {result.seconds:.1f} s search, "
                 f"{total:.1f} s in all\n"
                 f"  worst trace: {out / 'worst.npz'} (replayed from file: ratio {_fmt(again.ratio)}, "
                 f"{'same' if same else 'DIFFERENT'})\n  report: {report}\n")
    if not same:
        raise ValueError(f"the saved worst trace replays to ratio {again.ratio!r}, not {best.ratio!r}")
    return {"ratio": best.ratio, "baseline": None if base is None else base.ratio, "held_out": held.ratio,
            "held_out_lo": held.lo, "held_out_hi": held.hi, "verdict": held.verdict, "engine": st.engine,
            "replayed": again.ratio, "budget": budget, "seed": seed, "search_seconds": result.seconds,
            "seconds": total, "out": str(out)}


def cmd_run(args) -> int:
    run(args.name, budget=args.budget, seed=args.seed, restarts=args.restarts, out=args.out, quick=args.quick,
        engine=args.engine)
    return 0


def cmd_replay(args) -> int:
    adv = _adv()
    ev, info = adv.replay_saved(args.path, catalogue())
    sys.stdout.write(f"{info['search']} ({info['theorem']}): ratio {_fmt(ev.ratio)} (saved: {info['ratio']}), "
                     f"measured {_fmt(ev.measured)}, bound {_fmt(ev.bound)}, max delay {ev.max_delay}\n")
    return 0
