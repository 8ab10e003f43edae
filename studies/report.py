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
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from .compare import (bound_config, bound_verdict_lines, contraction_curves, contraction_table,  # noqa: E402
                      evaluate_claims, per_run, step_limit_table, summary_table, theorem_table)
from .results import StudyResults, atomic_write_text, load_results  # noqa: E402


@dataclass(frozen=True)
class ReportFiles:
    """Paths written by :func:`report`."""

    markdown: Path
    html: Path
    figures: tuple[Path, ...]


def _savefig(fig, path: Path) -> None:
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.png")
    fig.savefig(tmp, dpi=110, bbox_inches="tight")
    plt.close(fig)
    os.replace(tmp, path)


def _colors(keys) -> dict:
    cmap = plt.get_cmap("tab10")
    return {k: cmap(i % 10) for i, k in enumerate(sorted(keys))}


def curve_figures(results: StudyResults, figdir: Path) -> list[Path]:
    """One figure per (dataset, K): the target metric vs simulated time (left) and vs epochs (right)."""
    frame = results.to_frame()
    metric = results.info.target.metric
    frame = frame[frame["metric"] == metric]
    if frame.empty:
        return []
    labels = {r.params.get("algorithm"): (r.label or r.params.get("algorithm")) for r in results.runs}
    targets = per_run(results).set_index("run_id")["target_value"]
    colors = _colors(frame["algorithm"].unique())
    paths = []
    for (ds, K), sub in frame.groupby(["dataset", "K"], sort=True):
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
        for (alg, seed), run in sub.groupby(["algorithm", "seed"], sort=True):
            run = run.sort_values("step")
            y = run["value"].to_numpy(dtype=float)
            y = np.where(y > 0, y, np.nan)  # log axis: exact zeros are not drawable
            for ax, x in zip(axes, ("sim_time", "epoch")):
                ax.plot(run[x], y, color=colors[alg], lw=1.4 if seed == 0 else 0.7,
                        alpha=1.0 if seed == 0 else 0.5, label=labels.get(alg, alg) if seed == 0 else None)
        tv = targets.reindex(sub["run_id"].unique()).to_numpy(dtype=float)
        for ax, xl in zip(axes, ("simulated time (s)", "epochs")):
            ax.set_yscale("log")
            ax.set_xlabel(xl)
            ax.set_ylabel(metric.replace("_", " "))
            if np.isfinite(tv).any():
                ax.axhline(float(np.nanmedian(tv)), color="0.4", ls="--", lw=0.8, label="target")
            ax.grid(True, which="major", alpha=0.3)
        axes[0].legend(fontsize=8)
        fig.suptitle(f"{results.info.name}: {ds}, K = {K} ({results.info.thesis_ref})", fontsize=10)
        path = figdir / f"{metric}_{ds}_K{K}.png"
        _savefig(fig, path)
        paths.append(path)
    return paths


def speedup_figures(results: StudyResults, figdir: Path) -> list[Path]:
    """Time speedup (eq. 3.39) vs K per dataset, when the grid has K = 1 and another K."""
    tab = summary_table(results)
    if "speedup_vs_K1" not in tab.columns:
        return []
    paths = []
    colors = _colors(tab["algorithm"].unique())
    for ds, sub in tab.groupby("dataset", sort=True):
        if sub["K"].nunique() < 2:
            continue
        fig, ax = plt.subplots(figsize=(5, 3.8))
        for alg, s in sub.groupby("algorithm", sort=True):
            s = s.sort_values("K")
            ax.plot(s["K"], s["speedup_vs_K1"], "o-", color=colors[alg], label=s["label"].iloc[0])
        ks = np.sort(sub["K"].unique())
        ax.plot(ks, ks, color="0.5", ls=":", label="ideal (K)")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("workers K")
        ax.set_ylabel("time speedup (eq. 3.39)")
        ax.legend(fontsize=8)
        ax.grid(True, alpha=0.3)
        ax.set_title(f"{results.info.name}: {ds} ({results.info.thesis_ref})", fontsize=10)
        path = figdir / f"speedup_{ds}.png"
        _savefig(fig, path)
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
                        "wall_time", "staleness_max", "staleness_mean", "hyper.eta") if c in rf.columns]
    return rf[cols]


def report(results_dir: str | os.PathLike) -> ReportFiles:
    """(Re)generate figures, report.md and report.html in ``results_dir`` from its result files."""
    out = Path(results_dir)
    if not out.is_dir():
        raise ValueError(f"results_dir must be a directory written by run_study, got {str(out)!r}")
    results = load_results(out)
    info = results.info
    figdir = out / "figures"
    figdir.mkdir(exist_ok=True)
    cfg = bound_config(results)
    if cfg is not None:
        return bound_report(results, cfg, figdir)
    figures = curve_figures(results, figdir) + speedup_figures(results, figdir)
    verdicts = evaluate_claims(results)
    summary = summary_table(results)
    show = [c for c in summary.columns if c not in ("status",)]
    summary = summary[show]
    rules = sorted({f"{r.label}, {r.params.get('dataset')} K={r.params.get('K')}: {dict(r.info)['hyper_rule']}"
                    for r in results.runs if dict(r.info).get("hyper_rule", "given") != "given"})
    counts = pd.Series([r.status for r in results.runs]).value_counts().to_dict() if results.runs else {}
    size = "quick" if info.quick else "full"

    # The page as blocks, rendered twice (Markdown and HTML) so both say the same thing.
    blocks: list[tuple[str, object]] = [
        ("h1", f"{info.title}"),
        ("p", f"Study `{info.name}` ({size} size) reproducing thesis {info.thesis_ref} (Huo 2020). "
              f"Target: {info.target.describe()}. Runs: {len(results.runs)} "
              f"({', '.join(f'{v} {k}' for k, v in sorted(counts.items()))})."),
        ("h2", "What the thesis claims vs what this run measured"),
        ("table", pd.DataFrame({"What the thesis claims": [v.claim.text for v in verdicts] or [info.claim],
                                "What this run measured": [v.evidence for v in verdicts] or ["(no claims)"],
                                "Agreement": [v.verdict for v in verdicts] or ["inconclusive"]})),
        ("h2", "What the thesis claims"),
        ("p", info.claim),
        ("h2", "What this run measured"),
        ("p", "Median over seeds per dataset, K and algorithm. time_to_target in simulated seconds, "
              "epochs_to_target in passes over the data (both interpolated in log scale between records); "
              "rate_per_epoch = contraction of the metric per epoch from a least-squares fit of log10(metric) "
              "vs epoch; speedup_vs_X = X's time to target / this algorithm's (same dataset and K)."),
        ("table", summary),
        ("h2", "Agreement"),
        ("list", [f"**{v.verdict}** - {v.claim.text} ({v.evidence})" for v in verdicts]
         or ["inconclusive - the study declares no checkable claims"]),
        ("h2", "Figures"),
    ]
    blocks += [("img", p.relative_to(out).as_posix()) for p in figures]
    thm = theorem_table(results)
    if not thm.empty:
        worst = thm.groupby("theorem")["eta / max"].agg(["min", "max"])
        blocks += [("h2", "Measured vs theorem: step-size condition"),
                   ("p", "Each Dis-dfSDCA run's step eta against the theorem's admissible step, evaluated with "
                         "the problem's L_max and the maximum staleness tau measured in the run's trace. "
                         + " ".join(f"{k}: eta / admissible = {_cell(a)}..{_cell(b)}."
                                    for k, (a, b) in worst.iterrows())
                         + " A run that converges with eta / admissible > 1 shows the condition is sufficient, "
                           "not necessary (how conservative it is, in numbers)."),
                   ("table", thm)]
    blocks += [("h2", "Runs"), ("table", _runs_table(results))]
    if rules:
        blocks += [("h2", "How hyper-parameters were chosen"), ("list", rules)]
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


# --- the page of a study held against a theorem's bound (studies.ch3_bound) ------------------------
def contraction_figures(results: StudyResults, cfg: dict, figdir: Path) -> list[Path]:
    """Per (dataset, K, arm): C^{s,0}/C^{0,0} per seed (thin) and their mean (thick) vs outer round s,
    with each outer theorem's bound (1 - eta lam H)^s (dashed), log y."""
    import bounds

    paths = []
    for (ds, K, arm), (curves, runs) in contraction_curves(results, cfg["metric"]).items():
        info, hyper = dict(runs[0].info), dict(runs[0].hyper)
        s = np.arange(curves.shape[1])
        fig, ax = plt.subplots(figsize=(6, 4))
        for j, c in enumerate(curves):
            ax.plot(s, np.where(c > 0, c, np.nan), color="tab:blue", lw=0.6, alpha=0.5,
                    label="measured, per seed" if j == 0 else None)
        mean = np.nanmean(curves, axis=0)
        ax.plot(s, np.where(mean > 0, mean, np.nan), color="tab:blue", lw=2.0, label=f"mean of {len(runs)} seeds")
        styles = ["--", ":", "-.", (0, (5, 1))]
        for i, key in enumerate(cfg["outer_theorems"]):
            b = np.asarray(bounds.get(key).bound(s, eta=hyper["eta"], lam=info["lam"], H=hyper["H"]), dtype=float)
            ax.plot(s, np.where(b > 0, b, np.nan), color=f"C{i + 1}", ls=styles[i % len(styles)], lw=1.4,
                    label=f"bound {key}: (1 - {'eta lam H/4' if '3.4.4-c' in key else 'eta lam H'})^s")
        ax.set_yscale("log")
        ax.set_xlabel(f"outer round s (T = {hyper['T']} server updates each)")
        ax.set_ylabel(f"C(s,0) / C(0,0)  [{cfg['metric']}]")
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=7)
        ax.set_title(f"{results.info.name}: {arm}, eta = {hyper['eta']:.3g}; {ds}, K = {K}, H = {hyper['H']}",
                     fontsize=9)
        path = figdir / f"contraction_{slug_name(arm)}_{ds}_K{K}.png"
        _savefig(fig, path)
        paths.append(path)
    return paths


def slug_name(text: str) -> str:
    from .spec import slug

    return slug(text)


def step_limit_figure(results: StudyResults, cfg: dict, figdir: Path) -> list[Path]:
    """Empirical largest stable eta vs tau (points) and each step theorem's max_step(tau) (lines), log-log."""
    import bounds

    tab = step_limit_table(results, cfg)
    if tab.empty:
        return []
    paths = []
    for ds, sub in tab.groupby("dataset", sort=True):
        info = next(dict(r.info) for r in results.runs
                    if r.params.get("kind") == "step-limit" and r.params.get("dataset") == ds and r.status != "failed")
        H = int(sub["H"].iloc[0])
        fig, ax = plt.subplots(figsize=(6, 4))
        x = sub["tau"].to_numpy(dtype=float) + 1.0
        ax.plot(x, sub["eta empirical"], "o", color="tab:blue", label="empirical largest stable eta")
        grid = np.arange(0, int(sub["tau"].max()) + 1)
        for i, key in enumerate(cfg["step_theorems"]):
            th = np.asarray(bounds.get(key).max_step(L=info["L_max"], lam=info["lam"], n=info["n"], H=H, tau=grid))
            ax.plot(grid + 1.0, th, color=f"C{i + 1}", ls="--" if i == 0 else ":", label=f"{key} max_step(tau)")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("tau + 1 (tau = max staleness measured in the trace)")
        ax.set_ylabel("step size eta")
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=7)
        ax.set_title(f"{results.info.name}: step limit vs delay; {ds}, H = {H}", fontsize=9)
        path = figdir / f"step_limit_{ds}.png"
        _savefig(fig, path)
        paths.append(path)
    return paths


def bound_report(results: StudyResults, cfg: dict, figdir: Path) -> ReportFiles:
    """The page of a bound study: claim, what was measured, a verdict per theorem and arm, the
    step-limit sweep, figures (from result files only)."""
    out, info = results.out, results.info
    figures = contraction_figures(results, cfg, figdir) + step_limit_figure(results, cfg, figdir)
    tab = contraction_table(results, cfg)
    sl = step_limit_table(results, cfg)
    lines = bound_verdict_lines(results, cfg)
    counts = pd.Series([r.status for r in results.runs]).value_counts().to_dict() if results.runs else {}
    plan = cfg["plan"]
    z = float(cfg.get("z", 3.0))
    blocks: list[tuple[str, object]] = [
        ("h1", info.title),
        ("p", f"Study `{info.name}` ({'quick' if info.quick else 'full'} size), thesis {info.thesis_ref} "
              f"(Huo 2020). Runs: {len(results.runs)} ({', '.join(f'{v} {k}' for k, v in sorted(counts.items()))})."),
    ]
    if any(s.startswith("[COUNTEREXAMPLE]") for s in lines):
        blocks += [("h2", "COUNTEREXAMPLE FOUND"),
                   ("list", [s for s in lines if s.startswith("[COUNTEREXAMPLE]")])]
    blocks += [
        ("h2", "What the thesis claims"),
        ("p", info.claim),
        ("h2", "What this run measured"),
        ("p", f"Contraction: {cfg['metric']} (C_t of the theorem, with L = L_max and A_t = the average over "
              f"samples of |alpha_i - alpha_i*|^2) recorded at every outer round, i.e. every T server updates, "
              f"for S = {plan['rounds']} rounds and several seeds per step size. The theorems bound E[C]: the "
              f"mean over seeds is compared with the bound, a violation needs the seed mean of the excess to "
              f"exceed {z:g} standard errors at some round. Per-round theorems (eq. 3.19/3.31): "
              f"E[C(s+1,0)] <= (1 - eta lam H) E[C(s,0)] at every s; outer theorems (eq. 3.25/3.36): "
              f"E[C(s,0)]/E[C(0,0)] <= (1 - eta lam H)^s (or /4 for the corrected non-convex form). "
              f"eta / max is taken at the tau measured in the runs' traces (<= T - 1, the tau the theorem arms' eta "
              f"was computed with), so an arm at a theorem's own step shows eta / max <= 1. "
              f"looseness = measured log-contraction per round / the bound's (1 = tight; T would mean one "
              f"message's worth of contraction per update). Step limit: for each (K, T), the largest eta whose "
              f"probe (max({plan['probe_epochs']:g} epochs, {plan['probe_rounds']} rounds)) neither diverges nor "
              f"ends with C above its start, by doubling then bisection to {plan['rel_tol']:.0%}, against "
              f"max_step(tau) with tau measured in the probe's trace."),
        ("h2", "Verdict per theorem"),
        ("list", [("**" + s.replace("] ", "]** ", 1)) if s.startswith("[") else s for s in lines]
         or ["(no completed runs)"]),
        ("h2", "Measured contraction vs bound"),
        ("table", tab),
    ]
    if not sl.empty:
        blocks += [("h2", "Step-size limit vs delay"), ("table", sl)]
    blocks += [("h2", "Figures")] + [("img", p.relative_to(out).as_posix()) for p in figures]
    rules = sorted({f"{r.label}: {dict(r.info)['eta_rule']}" for r in results.runs if "eta_rule" in dict(r.info)})
    if rules:
        blocks += [("h2", "How step sizes were chosen"), ("list", rules)]
    blocks += [("h2", "Runs"), ("table", _runs_table(results))]
    if info.notes:
        blocks += [("h2", "Notes"), ("p", info.notes)]
    blocks += [("p", f"Regenerate this page with `delaylab report {out}`.")]
    md_path, html_path = _write_page(out, info.title, blocks)
    return ReportFiles(md_path, html_path, tuple(figures))
