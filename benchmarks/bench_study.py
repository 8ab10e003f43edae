"""Wall time of a registered study at full size, run exactly as a user runs it.

Run: python benchmarks/bench_study.py [--study ch3-gap] [--jobs 2] [--seeds N] [--quick]
Times ``delaylab study run STUDY --out TMP --jobs J`` in a subprocess (imports
included), then a second invocation on the same output directory, which must
find every run finished and skip it (the cost of resuming a finished sweep).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time


def run(cmd: list[str], env: dict[str, str]) -> tuple[float, str]:
    t0 = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} exited {done.returncode}: {done.stderr.strip()[-500:]}")
    return wall, done.stdout


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--study", default="ch3-gap")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--seeds", type=int, default=None, help="override the study's number of seeds")
    ap.add_argument("--quick", action="store_true", help="quick size instead of full size")
    args = ap.parse_args(argv)
    env = dict(os.environ, MPLBACKEND="Agg")
    with tempfile.TemporaryDirectory() as out:
        cmd = [sys.executable, "-m", "studies.cli", "study", "run", args.study, "--out", out,
               "--jobs", str(args.jobs)]
        if args.quick:
            cmd.append("--quick")
        if args.seeds is not None:
            cmd += ["--seeds", str(args.seeds)]
        first, stdout = run(cmd, env)
        again, stdout2 = run(cmd, env)
        n_runs = len(os.listdir(os.path.join(out, "runs")))
    size = "quick" if args.quick else "full"
    print(f"study {args.study} ({size} size, --jobs {args.jobs}, {n_runs} runs)")
    print(f"  first run   {first:8.1f} s wall (imports, simulation, report)")
    print(f"  resumed run {again:8.1f} s wall (every run skipped; report regenerated)")
    tail = [ln for ln in stdout.splitlines() if ln.startswith("report:")]
    if tail:
        print("  " + tail[-1])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
