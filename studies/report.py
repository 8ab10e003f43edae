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
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .compare import (MIN_SEEDS, SEPARATION_ALPHA, WAYS, _match, claim_measure, evaluate_claims, main_results,
                      per_run, robust_verdicts, summary_table)
from .results import StudyResults, atomic_write_text, load_results


class _Pyplot:
    """``matplotlib.pyplot`` with the Agg backend (files only; never needs a display), imported on
    first use: importing this module (every CLI command does) does not load matplotlib."""

    def __getattr__(self, name: str):
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot

        return getattr(matplotlib.pyplot, name)


plt = _Pyplot()


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


def seed_band(runs: list[tuple[np.ndarray, np.ndarray]], points: int = 200):
    """(x, median, low, high) of several seeds' curves (x_i, y_i) on a common x grid from 0 to the longest
    run's end: each curve interpolated in log10(y), and held at its last record after it ends (a run that
    stopped at the target stays there); low/high = min/max over the seeds."""
    end = max(float(np.max(x)) for x, _ in runs if len(x))
    grid = np.linspace(0.0, end, points)
    logs = np.full((len(runs), points), np.nan)
    for j, (x, y) in enumerate(runs):
        ok = np.isfinite(y) & (y > 0)
        if ok.sum() < 2:
            continue
        xs, ly = x[ok], np.log10(y[ok])
        inside = grid >= xs[0]
        logs[j, inside] = np.interp(grid[inside], xs, ly)  # beyond xs[-1]: np.interp holds the last value
    have = np.isfinite(logs).any(axis=0)
    med, lo, hi = (np.full(points, np.nan) for _ in range(3))
    if have.any():
        cols = logs[:, have]
        med[have] = 10.0 ** np.nanmedian(cols, axis=0)
        lo[have], hi[have] = 10.0 ** np.nanmin(cols, axis=0), 10.0 ** np.nanmax(cols, axis=0)
    return grid, med, lo, hi


def _curve_figure(results, metric, ds, K, sub, labels, colors, targets, figdir: Path) -> Path:
    """Each algorithm's curve; with several seeds, the median over seeds and a min-max band across them."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for alg, runs_alg in sub.groupby("algorithm", sort=True):
        seeds = [run.sort_values("step") for _, run in runs_alg.groupby("seed", sort=True)]
        for ax, x in zip(axes, ("sim_time", "epoch")):
            if len(seeds) == 1:
                y = seeds[0]["value"].to_numpy(dtype=float)
                ax.plot(seeds[0][x], np.where(y > 0, y, np.nan), color=colors[alg], lw=1.4,  # log axis: no zeros
                        label=labels.get(alg, alg))
                continue
            g, med, lo, hi = seed_band([(r[x].to_numpy(dtype=float), r["value"].to_numpy(dtype=float))
                                        for r in seeds])
            ax.fill_between(g, lo, hi, color=colors[alg], alpha=0.2, lw=0)
            ax.plot(g, med, color=colors[alg], lw=1.4,
                    label=f"{labels.get(alg, alg)} (median, min-max of {len(seeds)} seeds)")
    tv = targets.reindex(sub["run_id"].unique()).to_numpy(dtype=float) if targets is not None else np.array([])
    from matplotlib.ticker import NullLocator  # matplotlib is loaded by now (plt.subplots)

    for ax, xl in zip(axes, ("simulated time (s)", "epochs")):
        ax.set_yscale("log")
        lo, hi = ax.get_ylim()
        if hi >= 1e3 * lo:  # several decades: no unlabelled minor ticks (a third of the figure's drawing time)
            ax.yaxis.set_minor_locator(NullLocator())
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
                        "wall_time", "staleness_max", "staleness_mean", "grid", "hyper.eta", "data") if c in rf.columns]
    return rf[cols]


def report(results_dir: str | os.PathLike) -> ReportFiles:
    """(Re)generate figures, report.md and report.html in ``results_dir`` from its result files."""
    from .analyses import sections

    out = Path(results_dir)
    if not out.is_dir():
        raise ValueError(f"results_dir must be a directory written by run_study, got {str(out)!r}")
    everything = load_results(out)
    results = main_results(everything)  # the claims' step-grid runs have a section of their own
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
              f"({', '.join(f'{v} {k}' for k, v in sorted(counts.items()))})"
              + (f", plus {len(everything.runs) - len(results.runs)} runs of the claims' step grids"
                 if len(everything.runs) > len(results.runs) else "") + "."
              + (" Quick size: small data, few seeds and short runs, for trying the study; quote the full-size "
                 "run's verdicts." if info.quick else "")),
    ]
    if counterexamples:
        blocks += [("h2", "COUNTEREXAMPLE FOUND"), ("list", counterexamples)]
    robust = {i: robust_verdicts(v.claim, everything) for i, v in enumerate(verdicts) if v.claim.steps is not None}
    if verdicts:
        table = {"What the thesis claims": [v.claim.text for v in verdicts],
                 "What this run measured": [v.evidence for v in verdicts],
                 "Agreement": [v.headline for v in verdicts]}
        if robust:
            table["Agreement"] = [f"{v.headline} ({WAYS[0]})" if i in robust else v.headline
                                  for i, v in enumerate(verdicts)]
            table[f"{WAYS[1]}"] = [robust[i][0][1].headline if i in robust else "" for i in range(len(verdicts))]
            table[f"{WAYS[2]}"] = [robust[i][0][2].verdict if i in robust else "" for i in range(len(verdicts))]
        blocks += [("h2", "What the thesis claims vs what this run measured"), ("table", pd.DataFrame(table))]
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
        blocks += [("h2", "Agreement"), ("list", [f"**{v.verdict}**{v.headline[len(v.verdict):]} - {v.claim.text} "
                                                                 f"({v.evidence})" for v in verdicts])]
    if robust:
        blocks += _robust_blocks(everything, [verdicts[i].claim for i in robust], [robust[i] for i in robust],
                                 figdir, figures)
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
    blocks += [("h2", "Runs"), ("table", _runs_table(everything))]
    if rules:
        blocks += [("h2", "How hyper-parameters were chosen"), ("list", rules)]
    if sources:
        blocks += [("h2", "Data"), ("list", sources)]
    if info.notes:
        blocks += [("h2", "Notes"), ("p", info.notes)]
    blocks += [("p", f"Regenerate this page with `delaylab report {out}`.")]

    md_path, html_path = _write_page(out, info.title, blocks)
    return ReportFiles(md_path, html_path, tuple(figures))


def _robust_blocks(results: StudyResults, claims, judged, figdir: Path, figures: list) -> list:
    """The section on claims with a step grid: their three verdicts, one row per dataset/K/subject, and a
    figure of each method's per-seed quantity against the step (median, min-max band over seeds)."""
    blocks: list[tuple[str, object]] = [
        ("h2", "Robustness to the step: each claim three ways"),
        ("p", f"A claim with a step grid is judged (1) {WAYS[0]}: the study's own rule for the step, the "
              f"verdict above; (2) {WAYS[1]}: each method run over a stated grid of its step and compared at "
              f"the value with its lowest median over seeds; with at least {2 * MIN_SEEDS} seeds the value is "
              f"chosen on the lower half of the seeds and judged on the others, with fewer it is chosen on the "
              f"seeds it is judged on, which favours the method with more steps (the evidence says so); a "
              f"dataset where the grid did not run counts as inconclusive (no grid runs); (3) {WAYS[2]}: the "
              "share of every (subject step, baseline step) pair on which the claim agrees, each pair judged like "
              "(2), and the share over the pairs where both methods converge (no run failed or diverged), with "
              "each method's stable step range. Times to the target: speedup = the baseline's median time / the "
              "subject's, with a 95% percentile bootstrap interval over seeds (seeds drawn in pairs when both "
              "methods ran the same seeds: the same straggler and speed draws where the two protocols consume "
              "the cluster's random stream alike, not the same delays in general); a run that stopped before "
              "the target is censored at its end time (its time is at least that), which widens the interval; "
              "agrees or disagrees only when the interval excludes 1, otherwise inconclusive. A metric at the "
              "end (or at an epoch): agrees or disagrees only when every seed of one method is below every seed "
              f"of the other and such a separation has exact probability 2 / C(n_s + n_b, n_s) < "
              f"{SEPARATION_ALPHA:g} under no difference (4 seeds a side at least). With fewer than {MIN_SEEDS} "
              "seeds a side no time comparison is decisive: the verdict is inconclusive and says so. A claim over "
              "several datasets or K agrees only if every one agrees, and disagrees only if none agrees and one "
              "disagrees; the counts are shown.")]
    for claim, (ways, detail) in zip(claims, judged):
        blocks += [("p", f"Claim: {claim.text} Grid: {claim.steps.text}."),
                   ("table", pd.DataFrame({"way": [w.way for w in ways], "verdict": [w.headline for w in ways],
                                           "evidence": [w.evidence for w in ways]}))]
        if len(detail):
            blocks.append(("table", detail))
        figures += robust_figures(results, claim, figdir, number=claims.index(claim) + 1)
    return blocks


def _is_float(s) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


def robust_figures(results: StudyResults, claim, figdir: Path, number: int = 1) -> list[Path]:
    """Per (dataset, K) with step-grid runs: each method's per-seed quantity (time to target, or the claim's
    metric) against its step, median over seeds with a min-max band; a method without the step as a
    horizontal line and band; a seed that never reached the target is not drawn (infinite)."""
    from .expr import slug

    # drawn: the time to target, +inf for a run that did not reach it (claim_measure's "value" is its
    # censoring time then, a lower bound for the verdicts, not a time to draw)
    grid, main = (claim_measure(claim, results, grid=g) for g in (True, False))
    grid, main = grid.assign(value=grid["upper"]), main.assign(value=main["upper"])
    mine = lambda f: f[_match(f["algorithm"], claim.subject) | _match(f["algorithm"], claim.baseline)]  # noqa: E731
    grid, main = (mine(grid), mine(main)) if len(grid) else (grid, main)
    if grid.empty:
        return []
    colors = _colors(set(grid["algorithm"]) | set(main["algorithm"]))
    hyper = {r.run_id: dict(r.hyper).get(claim.steps.hyper) for r in results.runs}
    hyper = {k: (str(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else "") for k, v in hyper.items()}
    ylabel = "simulated time to target (s)" if claim.kind == "faster" else \
        (claim.metric or results.info.target.metric).replace("_", " ")
    paths = []
    for (ds, K), g in grid.groupby(["dataset", "K"], sort=True):
        fig, ax = plt.subplots(figsize=(6, 4))
        drawn: list[float] = []  # y values drawn in data coordinates (a log axis needs one > 0)
        numeric = all(_is_float(s) for s in g["step"])
        ticks = sorted(set(g["step"]), key=lambda s: (float(s) if numeric else 0.0, s))
        for alg, rows in g.groupby("algorithm", sort=True):
            steps = [s for s in ticks if s in set(rows["step"])]
            x = np.array([float(s) if numeric else ticks.index(s) for s in steps])
            vals = [rows.loc[rows["step"] == s, "value"].to_numpy(dtype=float) for s in steps]
            # a seed that never reached the target is +inf: it lifts the median (drawn when finite) and the
            # band is drawn over the seeds that did; a failed run (NaN) leaves its step out
            stats = np.array([[np.median(v), np.min(v[np.isfinite(v)]), np.max(v[np.isfinite(v)])]
                              if not np.isnan(v).any() and np.isfinite(v).any() else [np.nan] * 3 for v in vals])
            stats[~np.isfinite(stats)] = np.nan
            ok = np.isfinite(stats).all(axis=1)
            drawn += stats[ok].ravel().tolist()
            ax.errorbar(x[ok], stats[ok, 0], yerr=[stats[ok, 0] - stats[ok, 1], stats[ok, 2] - stats[ok, 0]],
                        fmt="none", ecolor=colors[alg], capsize=3, lw=1)  # min-max over the seeds
            ax.plot(x, stats[:, 0], "o-", color=colors[alg], ms=3,
                    label=f"{rows['label'].iloc[0]} (median, bar = min-max over seeds)")
            never = [xi for xi, v in zip(x, vals) if not np.isnan(v).any() and np.median(v) == np.inf]
            if never:  # median seed never reached the target: a mark at the top of the axes
                ax.plot(never, [0.97] * len(never), "^", color=colors[alg], transform=ax.get_xaxis_transform(),
                        label=f"{rows['label'].iloc[0]}: median seed never reached")
        if numeric:  # each gridded method at the study's own choice of the step, for comparison
            for alg, rows in main[(main["dataset"] == ds) & (main["K"] == K)
                                  & main["algorithm"].isin(set(g["algorithm"]))].groupby("algorithm", sort=True):
                steps = {hyper.get(rid) for rid in rows["run_id"]}
                v = rows["value"].to_numpy(dtype=float)
                if len(steps) == 1 and _is_float(next(iter(steps))) and np.isfinite(v).all():
                    drawn.append(float(np.median(v)))
                    ax.plot([float(next(iter(steps)))], [float(np.median(v))], "*", ms=10, color=colors[alg],
                            mec="k", mew=0.5, label=f"{rows['label'].iloc[0]} at the study's rule (median)")
        m = main[(main["dataset"] == ds) & (main["K"] == K) & ~main["algorithm"].isin(set(g["algorithm"]))]
        for alg, rows in m.groupby("algorithm", sort=True):
            v = rows["value"].to_numpy(dtype=float)
            if np.isfinite(v).all():
                drawn += v.tolist()
                ax.axhspan(v.min(), v.max(), color=colors[alg], alpha=0.15, lw=0)
                ax.axhline(float(np.median(v)), color=colors[alg], ls="--",
                           label=f"{rows['label'].iloc[0]} (no {claim.steps.hyper}: one setting)")
        if numeric:
            ax.set_xscale("log")
        else:  # step rules: one position per setting, named on the axis
            ax.set_xticks(range(len(ticks)), ticks, rotation=60, fontsize=6, ha="right")
        if any(y > 0 for y in drawn):
            ax.set_yscale("log")
        else:  # no run reached the target (or no finite value): nothing to draw on a log axis
            ax.text(0.5, 0.5, "no run reached the target", ha="center", va="center", transform=ax.transAxes)
        ax.set_xlabel(f"{claim.steps.hyper} (each method's own)")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=7)
        n = g["seed"].nunique()
        ax.set_title(f"{results.info.name}: {claim.kind} over the step grid; {ds}, K = {K} "
                     f"({n} seed{'s' * (n != 1)}; bar, band = min-max)", fontsize=9)
        path = figdir / f"steps_claim{number}_{slug(str(ds))}_K{int(K)}.png"
        savefig(fig, path)
        paths.append(path)
    return paths


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


class _CallableModule(type(sys)):
    """``studies.report`` names both this module and its function :func:`report`. The package imports
    its names lazily (studies/__init__.py), so once this module is loaded the name is the module;
    calling it calls :func:`report`, so ``from studies import report; report(dir)`` works either way."""

    def __call__(self, results_dir: str | os.PathLike) -> ReportFiles:
        return report(results_dir)


sys.modules[__name__].__class__ = _CallableModule
