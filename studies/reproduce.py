"""``delaylab reproduce``: every registered study, each into ``OUT/<study>`` with its report, and one index
page (``OUT/index.md`` and ``OUT/index.html``, like the report pages) linking each report, with a table of
every claim and its verdict and every theorem check with its looseness.

Each study is run with :func:`studies.runner.run_study` (so it resumes, shows progress, locks its runs);
a study that fails (an exception, or every run failed) is listed as failed and the others go on.
"""
from __future__ import annotations

import html
import math
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import pandas as pd

from .results import atomic_write_text

_LOOSENESS = re.compile(r"looseness[^0-9\-+]*([-+]?(?:\d+\.?\d*(?:e[-+]?\d+)?|inf|nan))", re.IGNORECASE)
_VERDICT = re.compile(r"^\[([^\]]+)\]\s*(.*)$")


@dataclass(frozen=True)
class IndexFiles:
    """What :func:`reproduce` wrote: the index pages, how many studies, which failed (name -> why)."""

    markdown: Path
    html: Path
    n_studies: int
    failed: dict = field(default_factory=dict)


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
    claims: list = field(default_factory=list)   # (claim text, verdict, evidence)
    checks: list = field(default_factory=list)   # (section title, verdict, check, looseness)


def theorem_checks(results) -> list[tuple[str, str, str, float]]:
    """A study's theorem checks as (section, verdict, text, looseness or nan): each bound theorem's step-size
    condition per (theorem, algorithm, dataset, K) over its seeds, then every verdict line of the study's
    analyses (``[holds] ... looseness bound/measured 3.2``)."""
    from .analyses import sections, theorem_table

    rows = []
    tab = theorem_table(results)
    if not tab.empty:
        for (thm, label, ds, K), g in tab.groupby(["theorem", "label", "dataset", "K"], sort=True):
            evaluable = g[g["condition"] != "not evaluable"]
            held = int((evaluable["condition"] == "holds").sum())
            verdict = ("not evaluable" if evaluable.empty else "condition holds" if held == len(evaluable)
                       else "condition not met" if held == 0 else "condition holds in part")
            ratio = [c for c in g.columns if c.endswith(" / max") and g[c].notna().any()]
            text = (f"{thm}, {label} ({ds} K={K}): condition holds in {held} of {len(evaluable)} evaluable runs"
                    + (f", {ratio[0]} {g[ratio[0]].min():.3g}..{g[ratio[0]].max():.3g}" if ratio else ""))
            loose = float(g["bound / measured"].median()) if "bound / measured" in g and g["bound / measured"].notna().any() \
                else math.nan
            rows.append(("step-size condition", verdict, text, loose))
    for sec in sections(results):
        for line in sec.lines:
            m = _VERDICT.match(line)
            if not m:
                continue  # e.g. "binding ..." lines
            lm = _LOOSENESS.search(m.group(2))
            rows.append((sec.title, m.group(1), m.group(2), float(lm.group(1)) if lm else math.nan))
    return rows


def _run_one(spec, out: Path, *, quick: bool, jobs: int, data_dir, scheduler, progress) -> _Outcome:
    from .compare import evaluate_claims
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
        o.claims = [(v.claim.text, v.verdict, v.evidence) for v in evaluate_claims(res)]
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


def write_index(out: Path, outcomes: list[_Outcome], *, quick: bool, data_dir) -> tuple[Path, Path]:
    """index.md and index.html: the studies (linked), their claims and theorem checks."""
    from .report import _html_table, _md_table

    studies = pd.DataFrame([{"study": o.name, "thesis": o.thesis_ref, "title": o.title, "status": o.status,
                             "runs": o.runs, "failed runs": o.failed_runs, "seconds": round(o.seconds, 1),
                             "why": o.why} for o in outcomes])
    claims = pd.DataFrame([{"study": o.name, "claim": c, "verdict": v, "evidence": e}
                           for o in outcomes for (c, v, e) in o.claims],
                          columns=["study", "claim", "verdict", "evidence"])
    checks = pd.DataFrame([{"study": o.name, "section": s, "verdict": v, "check": t, "looseness": lo}
                           for o in outcomes for (s, v, t, lo) in o.checks],
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
