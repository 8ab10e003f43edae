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


def run_study(*args, **kwargs):
    """:func:`studies.runner.run_study`, imported on first call: ``delaylab --help`` and ``study list``
    load neither the runner (pandas) nor, through it, anything a run needs."""
    from .runner import run_study as run

    return run(*args, **kwargs)


def report(results_dir):
    """:func:`studies.report.report`, imported on first call (matplotlib only when a figure is drawn)."""
    from .report import report as write

    return write(results_dir)

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


def _data_dir(text: str) -> str:
    if not Path(text).is_dir():
        raise argparse.ArgumentTypeError(f"must be an existing directory of data files, got {text!r}")
    return text


def _assignment(text: str):
    from .overrides import parse_assignment

    try:
        return parse_assignment(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _scheduler(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("must be a Dask scheduler address (e.g. tcp://host:8786) or 'local'")
    return text.strip()


def add_sweep_options(p: argparse.ArgumentParser, *, overrides: bool = True, jobs: int = 1) -> None:
    """Options shared by every command that runs a sweep: where runs execute, which data, overrides."""
    g = p.add_argument_group("how and where the runs execute")
    g.add_argument("--jobs", type=_positive_int, default=jobs,
                   help=f"local processes (default {jobs}{': in-process' if jobs == 1 else ''})")
    g.add_argument("--scheduler", type=_scheduler, default=None, metavar="ADDRESS",
                   help="run the runs as Dask tasks on the scheduler at ADDRESS (e.g. tcp://host:8786), or "
                        "'local' for a LocalCluster on this machine; needs the dask extra "
                        "(pip install -e '.[dask]'). Same files, same resume; a run whose worker dies is retried "
                        "once, then recorded as failed. Default: the local process pool (--jobs).")
    g.add_argument("--data-dir", type=_data_dir, default=None, metavar="DIR",
                   help="a directory of the thesis's real data files: ijcnn1, covtype and rcv1 in LIBSVM format "
                        "under the LIBSVM site's names (ijcnn1[.bz2], covtype.libsvm.binary[.scale][.bz2], "
                        "rcv1_test.binary / rcv1_train.binary[.bz2]), MNIST IDX files (train-images-idx3-ubyte[.gz] "
                        "...) for digits10, CIFAR-10 python batches (cifar-10-batches-py/) for cifar_features. "
                        "A dataset without files there uses its synthetic or bundled stand-in; the report says "
                        "which data each run used. An --out remembers the files it was made with (name, size, "
                        "sha256), not the directory's path: the same files elsewhere resume it.")
    if overrides:
        g.add_argument("--set", dest="overrides", type=_assignment, action="append", default=[], metavar="KEY=VALUE",
                       help="override a study parameter (repeatable): seeds, K, scale, lam, target, max_epochs, "
                            "max_time, max_updates, a hyper-parameter (eta, H, ... or ALG.eta for one algorithm; "
                            "a list replaces a tuned grid, e.g. eta=[1e-4,2e-4,5e-4]) or a named value of the study. "
                            "Values are Python literals. The overrides are recorded in study.json: resuming into an "
                            "--out made with other overrides (or other --data-dir files) is refused, use another --out.")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog=PROG, description="delaylab: simulate asynchronous/distributed optimization, check "
                                      "the theory, reproduce the thesis's figures.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    d = sub.add_parser("demo", help="run the Chapter 3 straggler study (ch3-gap) at quick size and write a report",
                       description="Run ch3-gap (thesis Fig. 6) at quick size: Dis-dfSDCA (H=100, 1000) vs "
                                   "CoCoA+ under stragglers, print the summary table and write a report page.")
    d.add_argument("--out", default="reports/demo", help="output directory (default: reports/demo)")
    # the demo uses both cores of the machine the README quotes (one process per run otherwise idles one)
    add_sweep_options(d, overrides=False, jobs=min(2, os.cpu_count() or 1))
    d.add_argument("--seeds", type=_positive_int, default=1, help="repetitions (default 1)")
    d.add_argument("--size", type=_demo_size, default=os.environ.get("DELAYLAB_DEMO_SIZE", "quick"),
                   help="quick (default; 10-30 s on 2 cores, machine-dependent) or tiny (one small dataset, a few seconds; for tests "
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
    add_sweep_options(r)

    rp = sub.add_parser("reproduce", help="run every registered study and write an index page",
                        description="Run (or resume) every registered study into OUT/<study>, write each "
                                    "study's report and OUT/index.md + index.html: a link to each report, every "
                                    "claim with its verdict, every theorem check with its looseness. A failed "
                                    "study does not stop the others; the index says so.")
    rp.add_argument("--out", required=True, help="output directory (one sub-directory per study)")
    rp.add_argument("--quick", action="store_true", help="quick size (minutes in all) instead of full size")
    add_sweep_options(rp, overrides=False)

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


def _check_out(out) -> list[Path]:
    """--out must be (or become) a directory: a clear one-line error instead of an OSError traceback.
    Returns the directories this call created (outermost first), for :func:`_remove_created`."""
    if out is None:
        return []
    path = Path(out).absolute()
    created = [p for p in (path, *path.parents) if not p.exists()][::-1]
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--out must be a directory that can be created and written, got {str(out)!r} "
                         f"({exc.strerror or type(exc).__name__})") from None
    return created


def _remove_created(created: list[Path]) -> None:
    """Remove the directories :func:`_check_out` created if they are still empty (an invocation refused
    before it wrote anything leaves nothing behind; one that wrote files keeps them)."""
    for d in reversed(created):
        try:
            d.rmdir()
        except OSError:  # not empty (or gone): keep it and its parents
            return


def _run_and_report(spec, *, quick, out, jobs, seeds=None, workers=None, data_dir=None, overrides=None,
                    scheduler=None) -> int:
    t0 = time.perf_counter()
    created = _check_out(out)
    try:
        res = run_study(spec, quick=quick, out=out, jobs=jobs, seeds=seeds, workers=workers, data_dir=data_dir,
                        overrides=overrides, scheduler=scheduler)
    except BaseException:
        _remove_created(created)
        raise
    files = report(res.out)
    _print_summary(res, sys.stdout)
    from .compare import MIN_SEEDS, evaluate_claims
    verdicts = evaluate_claims(res)
    for v in verdicts:
        sys.stdout.write(f"  [{v.headline}] {v.claim.text}\n")
    if any("too few for a 95% interval" in v.evidence for v in verdicts):
        sys.stdout.write(f"  (a verdict needs >= {MIN_SEEDS} seeds a side to be decisive: run with --seeds "
                         f"{MIN_SEEDS} or more; the report gives the evidence per dataset)\n")
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
        raise UsageError("a command is required: demo, study, reproduce, report, theorems or check (see --help)")
    if getattr(args, "scheduler", None) is not None:  # before any study is loaded: a missing extra is one line
        from .executors import require_dask

        require_dask()
    if args.command == "demo":
        from .thesis import DEMO, demo_tiny

        spec = get_study(DEMO)
        if args.size == "tiny":
            spec = demo_tiny(spec)
        # One repetition keeps the demo well under two minutes on 2 cores;
        # `delaylab study run ch3-gap --quick` runs the study's own seeds.
        return _run_and_report(spec, quick=True, out=Path(args.out), jobs=args.jobs, seeds=args.seeds,
                               data_dir=args.data_dir, scheduler=args.scheduler)
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
                               workers=args.workers, data_dir=args.data_dir, overrides=dict(args.overrides),
                               scheduler=args.scheduler)
    if args.command == "reproduce":
        from .reproduce import reproduce

        created = _check_out(args.out)
        try:
            index = reproduce(out=args.out, quick=args.quick, jobs=args.jobs, data_dir=args.data_dir,
                              scheduler=args.scheduler, stream=sys.stdout)
        except BaseException:
            _remove_created(created)
            raise
        sys.stdout.write(f"\nindex: {index.html}  (markdown: {index.markdown}); {index.n_studies} studies, "
                         f"{len(index.failed)} failed\n")
        return 1 if index.failed and len(index.failed) == index.n_studies else 0
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
