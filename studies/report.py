"""Report pages: PNG figures plus a Markdown and an HTML page per study, from result files only.

Layout under the results directory::

    report.md, report.html   same content; figures embedded by relative path
    figures/<metric>_<dataset>_K<K>.png   metric vs simulated time and vs epochs (log y)
    figures/speedup_<dataset>.png         time speedup (eq. 3.39) vs K, when K varies

The page puts "What the thesis claims" beside "What this run measured" and
gives one computed Agreement line per claim (agrees / disagrees / inconclusive).
"""
from __future__ import annotations

import html
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from .compare import evaluate_claims, per_run, summary_table  # noqa: E402
from .results import StudyResults, atomic_write_text, load_results  # noqa: E402


@dataclass(frozen=True)
class ReportFiles:
    """Paths written by :func:`report`."""

    markdown: Path
    html: Path
    figures: tuple[Path, ...]


def savefig(fig, path: Path) -> None:
    """Write a figure atomically (temporary name, then rename) and close it."""
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.png")
    fig.savefig(tmp, dpi=110, bbox_inches="tight")
    plt.close(fig)
    os.replace(tmp, path)


def figure_path(figdir: Path, *parts) -> Path:
    """``figdir/<parts joined by '_'>.png`` with every character outside [A-Za-z0-9_.+-] replaced by '-'
    (names come from result files: a dataset named ``x/../../name`` must not place a figure outside
    ``figdir``); the path is checked to be directly inside ``figdir``."""
    name = re.sub(r"[^A-Za-z0-9_.+-]", "-", "_".join(str(p) for p in parts)).lstrip(".") or "figure"
    path = figdir / f"{name}.png"
    if path.resolve().parent != figdir.resolve():
        raise ValueError(f"figure name {name!r} would leave the figures directory {str(figdir)!r}")
    return path


def _colors(keys) -> dict:
    cmap = plt.get_cmap("tab10")
    return {k: cmap(i % 10) for i, k in enumerate(sorted(keys))}


def curve_figures(results: StudyResults, figdir: Path) -> list[Path]:
    """One figure per (metric, dataset, K): the metric vs simulated time (left) and vs epochs (right),
    every seed drawn (seed 0 bold). Metrics: the study's ``figure_metrics``, else its target metric."""
    frame = results.to_frame()
    labels = {r.params.get("algorithm"): (r.label or r.params.get("algorithm")) for r in results.runs}
    colors = _colors(frame["algorithm"].unique()) if len(frame) else {}
    paths = []
    for metric in results.info.figure_metrics or (results.info.target.metric,):
        sub_m = frame[frame["metric"] == metric]
        targets = per_run(results).set_index("run_id")["target_value"] if metric == results.info.target.metric \
            else None
        for (ds, K), sub in sub_m.groupby(["dataset", "K"], sort=True):
            paths.append(_curve_figure(results, metric, ds, K, sub, labels, colors, targets, figdir))
    return paths


def _curve_figure(results, metric, ds, K, sub, labels, colors, targets, figdir: Path) -> Path:
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for (alg, seed), run in sub.groupby(["algorithm", "seed"], sort=True):
        run = run.sort_values("step")
        y = run["value"].to_numpy(dtype=float)
        y = np.where(y > 0, y, np.nan)  # log axis: exact zeros are not drawable
        for ax, x in zip(axes, ("sim_time", "epoch")):
            ax.plot(run[x], y, color=colors[alg], lw=1.4 if seed == 0 else 0.7,
                    alpha=1.0 if seed == 0 else 0.5, label=labels.get(alg, alg) if seed == 0 else None)
    tv = targets.reindex(sub["run_id"].unique()).to_numpy(dtype=float) if targets is not None else np.array([])
    for ax, xl in zip(axes, ("simulated time (s)", "epochs")):
        ax.set_yscale("log")
        ax.set_xlabel(xl)
        ax.set_ylabel(metric.replace("_", " "))
        if np.isfinite(tv).any():
            ax.axhline(float(np.nanmedian(tv)), color="0.4", ls="--", lw=0.8, label="target")
        ax.grid(True, which="major", alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"{results.info.name}: {metric.replace('_', ' ')}, {ds}, K = {K} ({results.info.thesis_ref})",
                 fontsize=10)
    path = figure_path(figdir, metric, ds, f"K{K}")
    savefig(fig, path)
    return path


def speedup_figures(results: StudyResults, figdir: Path) -> list[Path]:
    """Time speedup (serial time / time with K workers: eqs. 2.52, 3.39) vs K per dataset, when the grid
    has K = 1 and another K."""
    tab = summary_table(results)
    if "speedup_vs_K1" not in tab.columns:
        return []
    paths = []
    colors = _colors(tab["algorithm"].unique())
    for ds, sub in tab.groupby("dataset", sort=True):
        if sub["K"].nunique() < 2 or not np.isfinite(sub["speedup_vs_K1"].to_numpy(dtype=float)).any():
            continue
        fig, ax = plt.subplots(figsize=(5, 3.8))
        for alg, s in sub.groupby("algorithm", sort=True):
            s = s.sort_values("K")
            ax.plot(s["K"], s["speedup_vs_K1"], "o-", color=colors[alg], label=s["label"].iloc[0])
        ks = np.sort(sub["K"].unique())
        ax.plot(ks, ks, color="0.5", ls=":", label="ideal (K)")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("workers K")
        ax.set_ylabel("time speedup: time at K = 1 / time at K")
        ax.legend(fontsize=8)
        ax.grid(True, alpha=0.3)
        ax.set_title(f"{results.info.name}: {ds} ({results.info.thesis_ref})", fontsize=10)
        path = figure_path(figdir, "speedup", ds)
        savefig(fig, path)
        paths.append(path)
    return paths


def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, (float, np.floating)):
        return "" if math.isnan(v) else f"{v:.4g}"
    return str(v)


def _md_table(df: pd.DataFrame) -> str:
    cols = list(df.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, row in df.iterrows():
        lines.append("| " + " | ".join(_cell(row[c]).replace("|", "/") for c in cols) + " |")
    return "\n".join(lines)


def _html_table(df: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_cell(row[c]))}</td>" for c in df.columns) + "</tr>"
                   for _, row in df.iterrows())
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _runs_table(results: StudyResults) -> pd.DataFrame:
    rf = results.runs_frame()
    if rf.empty:
        return rf
    cols = [c for c in ("label", "dataset", "K", "seed", "status", "diverged_at", "error", "epochs", "sim_time",
                        "wall_time", "staleness_max", "staleness_mean", "hyper.eta", "data") if c in rf.columns]
    return rf[cols]


def report(results_dir: str | os.PathLike) -> ReportFiles:
    """(Re)generate figures, report.md and report.html in ``results_dir`` from its result files."""
    from .analyses import sections

    out = Path(results_dir)
    if not out.is_dir():
        raise ValueError(f"results_dir must be a directory written by run_study, got {str(out)!r}")
    results = load_results(out)
    info = results.info
    figdir = out / "figures"
    figdir.mkdir(exist_ok=True)
    grid_runs = [r for r in results.runs if dict(r.info).get("task", "run") == "run"]
    figures = (curve_figures(results, figdir) + speedup_figures(results, figdir)) if grid_runs else []
    verdicts = evaluate_claims(results)
    extra = sections(results, figdir)
    counterexamples = [c for sec in extra for c in sec.counterexamples]
    rules = sorted({f"{r.label}, {r.params.get('dataset')} K={r.params.get('K')}: {dict(r.info)['hyper_rule']}"
                    for r in results.runs if dict(r.info).get("hyper_rule", "given") != "given"})
    counts = pd.Series([r.status for r in results.runs]).value_counts().to_dict() if results.runs else {}
    size = "quick" if info.quick else "full"
    sources = sorted({f"{r.params.get('dataset')}: "
                      + (f"{dict(r.info)['data']} - " if dict(r.info).get("data") not in (None, dict(r.info)["data_source"])
                         else "") + dict(r.info)["data_source"] for r in results.runs if dict(r.info).get("data_source")})

    # The page as blocks, rendered twice (Markdown and HTML) so both say the same thing.
    blocks: list[tuple[str, object]] = [
        ("h1", f"{info.title}"),
        ("p", f"Study `{info.name}` ({size} size) reproducing thesis {info.thesis_ref} (Huo 2020). "
              f"Target: {info.target.describe()}. Runs: {len(results.runs)} "
              f"({', '.join(f'{v} {k}' for k, v in sorted(counts.items()))})."
              + (" Quick size: small data, few seeds and short runs, for trying the study; quote the full-size "
                 "run's verdicts." if info.quick else "")),
    ]
    if counterexamples:
        blocks += [("h2", "COUNTEREXAMPLE FOUND"), ("list", counterexamples)]
    if verdicts:
        blocks += [("h2", "What the thesis claims vs what this run measured"),
                   ("table", pd.DataFrame({"What the thesis claims": [v.claim.text for v in verdicts],
                                           "What this run measured": [v.evidence for v in verdicts],
                                           "Agreement": [v.verdict for v in verdicts]}))]
    blocks += [("h2", "What the thesis claims"), ("p", info.claim)]
    if grid_runs and not info.analyses:
        summary = summary_table(results)
        summary = summary[[c for c in summary.columns if c not in ("status",)]]
        blocks += [("h2", "What this run measured"),
                   ("p", "Median over seeds per dataset, K and algorithm. time_to_target in simulated seconds, "
                         "epochs_to_target in passes over the data (both interpolated in log scale between "
                         "records); rate_per_epoch = contraction of the metric per epoch from a least-squares fit "
                         "of log10(metric) vs epoch; speedup_vs_X = X's time to target / this algorithm's (same "
                         "dataset and K)."),
                   ("table", summary)]
    if verdicts:
        blocks += [("h2", "Agreement"), ("list", [f"**{v.verdict}** - {v.claim.text} ({v.evidence})" for v in verdicts])]
    for sec in extra:
        blocks.append(("h2", sec.title))
        if sec.text:
            blocks.append(("p", sec.text))
        if sec.lines:
            blocks.append(("list", [("**" + x.replace("] ", "]** ", 1)) if x.startswith("[") else x
                                    for x in sec.lines]))
        for caption, table in sec.tables:
            if caption:
                blocks.append(("p", caption))
            blocks.append(("table", table))
        figures += sec.figures
    blocks.append(("h2", "Figures"))
    blocks += [("img", p.relative_to(out).as_posix()) for p in figures]
    blocks += [("h2", "Runs"), ("table", _runs_table(results))]
    if rules:
        blocks += [("h2", "How hyper-parameters were chosen"), ("list", rules)]
    if sources:
        blocks += [("h2", "Data"), ("list", sources)]
    if info.notes:
        blocks += [("h2", "Notes"), ("p", info.notes)]
    blocks += [("p", f"Regenerate this page with `delaylab report {out}`.")]

    md_path, html_path = _write_page(out, info.title, blocks)
    return ReportFiles(md_path, html_path, tuple(figures))


def _write_page(out: Path, title: str, blocks: list[tuple[str, object]]) -> tuple[Path, Path]:
    """Render blocks (h1, h2, p, table, list, img) as report.md and report.html, atomically."""
    md, ht = [], []
    for kind, content in blocks:
        if kind in ("h1", "h2"):
            level = 1 if kind == "h1" else 2
            md.append("#" * level + " " + str(content))
            ht.append(f"<h{level}>{html.escape(str(content))}</h{level}>")
        elif kind == "p":
            md.append(str(content))
            ht.append(f"<p>{html.escape(str(content))}</p>")
        elif kind == "table":
            md.append(_md_table(content))
            ht.append(_html_table(content))
        elif kind == "list":
            md.append("\n".join(f"- {x}" for x in content))
            ht.append("<ul>" + "".join(f"<li>{html.escape(str(x)).replace('**', '')}</li>" for x in content)
                      + "</ul>")
        elif kind == "img":
            md.append(f"![{content}]({content})")
            ht.append(f'<p><img src="{html.escape(str(content))}" alt="{html.escape(str(content))}"></p>')
    md_path, html_path = out / "report.md", out / "report.html"
    atomic_write_text(md_path, "\n\n".join(md) + "\n")
    style = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
             "table{border-collapse:collapse;font-size:0.85em;margin:1em 0}"
             "td,th{border:1px solid #ccc;padding:3px 6px;vertical-align:top}img{max-width:100%}")
    page = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{style}</style></head><body>\n" + "\n".join(ht) + "\n</body></html>\n")
    atomic_write_text(html_path, page)
    return md_path, html_path
