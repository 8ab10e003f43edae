"""The ``delaylab`` command line: demo, study list/run, report, plus theorems/check (studies.theorem_cli).

Bad arguments and library errors print exactly one line to stderr
("delaylab: error: ...") and exit with status 2, never a traceback.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from . import adversary_cli, theorem_cli
from .registry import get_study, list_studies
from .report import report
from .runner import run_study
PROG = "delaylab"
DEMO_SIZES = ("quick", "tiny")


class UsageError(Exception):
    """A command-line mistake; main() turns it into one stderr line and exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse would print usage + message and sys.exit(2)
        raise UsageError(message)


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}")
    return v


def _workers(text: str) -> tuple[int, ...]:
    parts = [p.strip() for p in text.split(",")]
    try:
        ks = tuple(int(p) for p in parts)
    except ValueError:
        ks = ()
    if not ks or any(k < 1 for k in ks):
        raise argparse.ArgumentTypeError(f"must be comma-separated integers >= 1 like 1,2,4,8, got {text!r}")
    return ks


def _demo_size(text: str) -> str:
    # argparse also passes a string default through `type`, so this checks DELAYLAB_DEMO_SIZE too.
    if text not in DEMO_SIZES:
        raise argparse.ArgumentTypeError(f"must be one of {', '.join(DEMO_SIZES)} (also via DELAYLAB_DEMO_SIZE), "
                                         f"got {text!r}")
    return text


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog=PROG, description="delaylab: simulate asynchronous/distributed optimization, check "
                                      "the theory, reproduce the thesis's figures.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    d = sub.add_parser("demo", help="run the Chapter 3 straggler study (ch3-gap) at quick size and write a report",
                       description="Run ch3-gap (thesis Fig. 6) at quick size: Dis-dfSDCA (H=100, 1000) vs "
                                   "CoCoA+ under stragglers, print the summary table and write a report page.")
    d.add_argument("--out", default="reports/demo", help="output directory (default: reports/demo)")
    d.add_argument("--jobs", type=_positive_int, default=1, help="local processes (default 1: in-process)")
    d.add_argument("--seeds", type=_positive_int, default=1, help="repetitions (default 1)")
    d.add_argument("--size", type=_demo_size, default=os.environ.get("DELAYLAB_DEMO_SIZE", "quick"),
                   help="quick (default; about 30 s) or tiny (one small dataset, a few seconds; for tests "
                        "and smoke checks). Also settable with DELAYLAB_DEMO_SIZE.")

    s = sub.add_parser("study", help="list or run registered studies",
                       description="List the registered studies or run one.")
    ssub = s.add_subparsers(dest="study_command", metavar="ACTION", parser_class=_Parser)
    ssub.add_parser("list", help="list registered studies", description="List registered studies.")
    r = ssub.add_parser("run", help="run a study and write its report", description="Run a registered study "
                        "(resuming finished runs in --out), then write report.md/report.html and figures.")
    r.add_argument("name", help="study name (see 'delaylab study list')")
    r.add_argument("--quick", action="store_true", help="quick size (seconds) instead of full size (minutes)")
    r.add_argument("--seeds", type=_positive_int, default=None, help="repetitions (default: the study's)")
    r.add_argument("--workers", type=_workers, default=None, help="grid of worker counts K, e.g. 1,2,4,8")
    r.add_argument("--out", default=None, help="output directory (default: reports/NAME[-quick])")
    r.add_argument("--jobs", type=_positive_int, default=1, help="local processes (default 1: in-process)")

    rep = sub.add_parser("report", help="regenerate a report from a results directory",
                         description="Regenerate figures and report.md/report.html from result files only.")
    rep.add_argument("results_dir", help="directory written by 'study run' or 'demo'")

    theorem_cli.register(sub)
    adversary_cli.register(sub)
    return p


def _print_summary(res, stream) -> None:
    from .analyses import sections

    if res.info.analyses:  # a study held against a theorem's bound prints its verdicts instead of a table
        stream.write(f"\n{res.info.title} ({res.info.thesis_ref})\n")
    else:
        tab = res.summary()
        cols = [c for c in ("dataset", "K", "label", "reached", "runs", "time_to_target", "epochs_to_target")
                if c in tab.columns]
        cols += [c for c in tab.columns if c.startswith("speedup_vs")]
        view = tab[cols].rename(columns={"time_to_target": "time_to_target_s"})
        stream.write(f"\n{res.info.title} (thesis {res.info.thesis_ref}); target: {res.info.target.describe()}\n")
        stream.write(view.to_string(index=False, float_format=lambda x: f"{x:.4g}", na_rep="not reached") + "\n")
    lines = [line for sec in sections(res) for line in sec.lines if not line.startswith("binding ")]
    stream.write("".join(f"  {line}\n" for line in sorted(lines, key=lambda s: not s.startswith("[COUNTEREXAMPLE]"))))


def _check_out(out) -> None:
    """--out must be (or become) a directory: a clear one-line error instead of an OSError traceback."""
    if out is None:
        return
    try:
        Path(out).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--out must be a directory that can be created and written, got {str(out)!r} "
                         f"({exc.strerror or type(exc).__name__})") from None


def _run_and_report(spec, *, quick, out, jobs, seeds=None, workers=None) -> int:
    t0 = time.perf_counter()
    _check_out(out)
    res = run_study(spec, quick=quick, out=out, jobs=jobs, seeds=seeds, workers=workers)
    files = report(res.out)
    _print_summary(res, sys.stdout)
    from .compare import evaluate_claims
    for v in evaluate_claims(res):
        sys.stdout.write(f"  [{v.verdict}] {v.claim.text}\n")
    failed = [r for r in res.runs if r.status == "failed"]
    for r in failed:
        sys.stdout.write(f"  failed: {r.run_id}: {r.error}\n")
    sys.stdout.write(f"\nreport: {files.html}  (markdown: {files.markdown}); "
                     f"{len(res.runs)} runs ({res.skipped} resumed) in {time.perf_counter() - t0:.1f} s\n")
    if res.runs and len(failed) == len(res.runs):
        sys.stderr.write(f"{PROG}: every run failed (first: {failed[0].error}); nothing was measured\n")
        return 1
    return 0


def _dispatch(args, parser) -> int:
    if args.command is None:
        raise UsageError("a command is required: demo, study, report, theorems or check (see --help)")
    if args.command == "demo":
        from .thesis import DEMO, demo_tiny

        spec = get_study(DEMO)
        if args.size == "tiny":
            spec = demo_tiny(spec)
        # One repetition keeps the demo well under two minutes on 2 cores;
        # `delaylab study run ch3-gap --quick` runs the study's own seeds.
        return _run_and_report(spec, quick=True, out=Path(args.out), jobs=args.jobs, seeds=args.seeds)
    if args.command == "study":
        if args.study_command is None:
            raise UsageError("study needs an action: list or run (see 'delaylab study --help')")
        if args.study_command == "list":
            specs = list_studies()
            wn = max(len(sp.name) for sp in specs)
            wr = max(len(sp.thesis_ref) for sp in specs)
            for spec in specs:
                sys.stdout.write(f"{spec.name:{wn}s}  {spec.thesis_ref:{wr}s}  {spec.title}\n")
            return 0
        spec = get_study(args.name)
        return _run_and_report(spec, quick=args.quick, out=args.out, jobs=args.jobs, seeds=args.seeds,
                               workers=args.workers)
    if args.command == "report":
        files = report(args.results_dir)
        sys.stdout.write(f"report: {files.html}  (markdown: {files.markdown}, {len(files.figures)} figures)\n")
        return 0
    handler = getattr(args, "func", None)
    if handler is None:
        raise UsageError(f"unknown command {args.command!r}")
    rc = handler(args)
    return 0 if rc is None else int(rc)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``delaylab`` console script; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        return _dispatch(args, parser)
    except SystemExit as exc:  # --help / --version exit 0 through argparse
        return 0 if exc.code is None else int(exc.code) if isinstance(exc.code, int) else 2
    except (UsageError, ValueError, theorem_cli.CLIError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        sys.stderr.write(f"{PROG}: error: {msg}\n")
        return 2
    except KeyError as exc:
        msg = exc.args[0] if exc.args else "unknown key"
        sys.stderr.write(f"{PROG}: error: {msg}\n")
        return 2
    except BrokenPipeError:
        # e.g. `delaylab theorems | head`: the reader left; not an error of ours.
        sys.stdout = open(os.devnull, "w")
        return 0
    except KeyboardInterrupt:
        sys.stderr.write(f"{PROG}: interrupted; finished runs are saved, run the same command again to resume\n")
        return 130
    except OSError as exc:  # a file or directory that cannot be read or written
        where = f": {exc.filename!r}" if getattr(exc, "filename", None) else ""
        sys.stderr.write(f"{PROG}: error: {exc.strerror or exc}{where}\n")
        return 2


if __name__ == "__main__":  # python -m studies.cli
    sys.exit(main())
