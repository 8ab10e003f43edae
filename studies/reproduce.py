"""``delaylab reproduce``: every registered study, each into ``OUT/<study>`` with its report, and one index
page (``OUT/index.md`` and ``OUT/index.html``, like the report pages) linking each report, with a table of
every claim and its verdicts (at the thesis's grid and, for a claim with a step grid, each method at its own
best step and the fraction of the step grid on which it holds: :func:`studies.compare.robust_verdicts`) and
every theorem check with its looseness (:func:`studies.analyses.theorem_checks`). Both are taken as data
from those functions' records, never parsed back out of report text.

Each study is run with :func:`studies.runner.run_study` (so it resumes, shows progress, locks its runs);
a study that fails (an exception, or every run failed) is listed as failed and the others go on.
"""
from __future__ import annotations

import html
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import pandas as pd

from .results import atomic_write_text


@dataclass(frozen=True)
class IndexFiles:
    """What :func:`reproduce` wrote: the index pages, how many studies, which failed (name -> why)."""

    markdown: Path
    html: Path
    n_studies: int
    failed: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ClaimRecord:
    """A claim's verdicts as data: at the thesis's grid (the study's choice of the step,
    :func:`studies.compare.evaluate_claims`) and, for a claim with a step grid, the two robust verdicts of
    :func:`studies.compare.robust_verdicts` (each method at its own best step; the fraction of the step
    grid's pairs on which it holds). ``best_step`` / ``grid`` are "" and ``fraction`` NaN without a grid."""

    text: str
    verdict: str
    evidence: str
    best_step: str = ""
    grid: str = ""
    fraction: float = math.nan


@dataclass
class _Outcome:
    name: str
    title: str
    thesis_ref: str
    out: Path
    status: str = "ok"
    why: str = ""
    runs: int = 0
    failed_runs: int = 0
    seconds: float = 0.0
    claims: list = field(default_factory=list)   # ClaimRecord
    checks: list = field(default_factory=list)   # studies.analyses.Check


def claim_records(results) -> list[ClaimRecord]:
    """Every claim of a study (``results``: all its runs, step-grid runs included) as a :class:`ClaimRecord`."""
    from .compare import evaluate_claims, main_results, robust_verdicts

    out = []
    for v in evaluate_claims(main_results(results)):
        if v.claim.steps is None:
            out.append(ClaimRecord(v.claim.text, v.verdict, v.evidence))
            continue
        (at_grid, best, grid), _ = robust_verdicts(v.claim, results)
        out.append(ClaimRecord(v.claim.text, at_grid.verdict, at_grid.evidence, best_step=best.verdict,
                               grid=grid.verdict, fraction=float(grid.fraction)))
    return out


def theorem_checks(results) -> list:
    """A study's theorem checks as :class:`studies.analyses.Check` records (section, verdict, text,
    looseness as a number): :func:`studies.analyses.theorem_checks`."""
    from .analyses import theorem_checks as checks

    return checks(results)


def _run_one(spec, out: Path, *, quick: bool, jobs: int, data_dir, scheduler, progress) -> _Outcome:
    from .report import report
    from .runner import run_study

    o = _Outcome(spec.name, spec.title, spec.thesis_ref, out)
    t0 = time.perf_counter()
    try:
        res = run_study(spec, quick=quick, out=out, jobs=jobs, data_dir=data_dir, scheduler=scheduler,
                        progress=progress)
        report(out)
        o.runs = len(res.runs)
        o.failed_runs = sum(r.status == "failed" for r in res.runs)
        o.claims = claim_records(res)
        o.checks = theorem_checks(res)
        if o.runs and o.failed_runs == o.runs:
            o.status, o.why = "failed", f"every run failed (first: {next(r.error for r in res.runs)})"
    except Exception as exc:  # one study's failure must not stop the others
        o.status, o.why = "failed", f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    o.seconds = time.perf_counter() - t0
    return o


def reproduce(out: str | os.PathLike, *, quick: bool = False, jobs: int = 1, data_dir=None,
              scheduler: str | None = None, studies=None, progress=None, stream: TextIO | None = None) -> IndexFiles:
    """Run every registered study (or ``studies``, a list of StudySpec) into ``out/<name>``, write each
    report and the index; returns :class:`IndexFiles`."""
    from . import registry

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    specs = list(registry.list_studies() if studies is None else studies)
    stream = stream if stream is not None else sys.stdout
    outcomes = []
    for i, spec in enumerate(specs, 1):
        stream.write(f"[{i}/{len(specs)}] {spec.name} ({spec.thesis_ref}) -> {out / spec.name}\n")
        stream.flush()
        o = _run_one(spec, out / spec.name, quick=quick, jobs=jobs, data_dir=data_dir, scheduler=scheduler,
                     progress=progress)
        stream.write(f"    {o.status}{': ' + o.why if o.why else ''} ({o.runs} runs, {o.seconds:.1f} s)\n")
        outcomes.append(o)
    md, ht = write_index(out, outcomes, quick=quick, data_dir=data_dir)
    return IndexFiles(md, ht, len(outcomes), {o.name: o.why for o in outcomes if o.status == "failed"})


#: the claims table's verdict columns: the three ways of studies.compare.WAYS, the last as a number too
CLAIM_COLUMNS = ("verdict at the thesis's grid", "each at its own best step", "over the step grid",
                 "fraction of the step grid")


def write_index(out: Path, outcomes: list[_Outcome], *, quick: bool, data_dir) -> tuple[Path, Path]:
    """index.md and index.html: the studies (linked), their claims and theorem checks."""
    from .report import _html_table, _md_table

    studies = pd.DataFrame([{"study": o.name, "thesis": o.thesis_ref, "title": o.title, "status": o.status,
                             "runs": o.runs, "failed runs": o.failed_runs, "seconds": round(o.seconds, 1),
                             "why": o.why} for o in outcomes])
    claims = pd.DataFrame([{"study": o.name, "claim": c.text, CLAIM_COLUMNS[0]: c.verdict,
                            CLAIM_COLUMNS[1]: c.best_step, CLAIM_COLUMNS[2]: c.grid, CLAIM_COLUMNS[3]: c.fraction,
                            "evidence": c.evidence}
                           for o in outcomes for c in o.claims],
                          columns=["study", "claim", *CLAIM_COLUMNS, "evidence"])
    checks = pd.DataFrame([{"study": o.name, "section": c.section, "verdict": c.verdict, "check": c.text,
                            "looseness": c.looseness} for o in outcomes for c in o.checks],
                          columns=["study", "section", "verdict", "check", "looseness"])
    failed = [o for o in outcomes if o.status == "failed"]
    size = "quick" if quick else "full"
    intro = (f"Every registered study at {size} size ({len(outcomes)} studies, {len(failed)} failed), data: "
             + (f"real files from {data_dir} where present, else synthetic / bundled stand-ins (each report's "
                "Runs table says which)" if data_dir else "synthetic / bundled stand-ins")
             + ". Regenerate with `delaylab reproduce"
             + (" --quick" if quick else "") + (f" --data-dir {data_dir}" if data_dir else "") + f" --out {out}`.")
    md = [f"# delaylab: the thesis reproduced ({size} size)", intro]
    ht = [f"<h1>delaylab: the thesis reproduced ({size} size)</h1>", f"<p>{html.escape(intro)}</p>"]
    if failed:
        lines = [f"{o.name}: {o.why}" for o in failed]
        md += ["## FAILED STUDIES", "\n".join(f"- {x}" for x in lines)]
        ht += ["<h2>FAILED STUDIES</h2>", "<ul>" + "".join(f"<li>{html.escape(x)}</li>" for x in lines) + "</ul>"]
    md.append("## Studies")
    ht.append("<h2>Studies</h2>")
    md.append("\n".join(f"- [{o.name}]({o.name}/report.md): {o.title} ({o.thesis_ref}) - {o.status}"
                        for o in outcomes))
    ht.append("<ul>" + "".join(f'<li><a href="{html.escape(o.name)}/report.html">{html.escape(o.name)}</a>: '
                               f"{html.escape(o.title)} ({html.escape(o.thesis_ref)}) - {html.escape(o.status)}</li>"
                               for o in outcomes) + "</ul>")
    for title, table, empty in (("Overview", studies, ""), ("Claims and verdicts", claims, "No claims were evaluated."),
                                ("Theorem checks", checks, "No theorem checks were evaluated.")):
        md.append(f"## {title}")
        ht.append(f"<h2>{html.escape(title)}</h2>")
        if table.empty:
            md.append(empty)
            ht.append(f"<p>{html.escape(empty)}</p>")
        else:
            md.append(_md_table(table))
            ht.append(_html_table(table))
    md_path, html_path = out / "index.md", out / "index.html"
    atomic_write_text(md_path, "\n\n".join(md) + "\n")
    style = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
             "table{border-collapse:collapse;font-size:0.85em;margin:1em 0}"
             "td,th{border:1px solid #ccc;padding:3px 6px;vertical-align:top}")
    atomic_write_text(html_path, "<!DOCTYPE html><html><head><meta charset='utf-8'><title>delaylab reproduce"
                                 f"</title><style>{style}</style></head><body>\n" + "\n".join(ht)
                      + "\n</body></html>\n")
    return md_path, html_path
