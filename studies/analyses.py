"""Analyses: turn a study's result files into verdicts, tables and figures.

Every study gets two analyses from its declaration: its *claims* (:func:`studies.compare.evaluate_claims`)
and its *theorem bindings* (:class:`TheoremConditions`: each bound theorem checked on every run it
applies to, with the symbols' values read from the run -- problem constants, hyper-parameters,
trace statistics, measurements). A study may add more in ``StudySpec.analyses``; each is a
frozen dataclass with a ``kind`` registered in :data:`ANALYSES`, saved in study.json, so that
``report`` rebuilds the page from the result files alone. Built in: :class:`Contraction` (measured
Lyapunov curves against a per-round and an outer-round bound, Theorems 3.4.1-3.4.4) and
:class:`StepLimit` (the empirical largest stable step against ``max_step`` at the measured delay).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from .bindings import RunFacts, TheoremBinding, Unbound, describe_source, resolve, source_from_json, source_to_json
from .compare import LOOSENESS_FLOOR, _fmt, check_bound, log_looseness
from .results import RunResult, StudyResults


@dataclass
class Section:
    """What an analysis adds to a report: a heading, a paragraph, verdict lines (``[verdict] ...``),
    tables and figures; ``counterexamples`` are lines shown first."""

    title: str
    text: str = ""
    lines: list[str] = field(default_factory=list)
    tables: list[tuple[str, pd.DataFrame]] = field(default_factory=list)
    figures: list[Path] = field(default_factory=list)
    counterexamples: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Check:
    """One theorem check as data (what a verdict line of a :class:`Section` says): the section it belongs
    to, its verdict (e.g. ``holds``, ``violated``, ``condition not met``, ``COUNTEREXAMPLE``), the sentence,
    and its ``looseness`` as a number (NaN where the check has none; what it measures is the section's:
    bound / measured, the log-contraction ratio, or the empirical stable step / max_step)."""

    section: str
    verdict: str
    text: str
    looseness: float = math.nan

    @property
    def line(self) -> str:
        return f"[{self.verdict}] {self.text}"


# --- what a binding reads about a run ---------------------------------------------------------
def run_facts(run: RunResult, records: pd.DataFrame | None = None) -> RunFacts:
    """The facts of one run for :func:`studies.bindings.resolve`, from its result files."""
    info = dict(run.info)
    consts = {**dict(info.get("values", {})),
              **{k: v for k, v in dict(info.get("constants", {})).items() if v is not None}}
    for k in ("n", "d", "lam", "L_max"):
        if k in info and k not in consts:
            consts[k] = info[k]
    consts["K"] = info.get("K", run.params.get("K"))
    hyper = {k: v for k, v in dict(run.hyper).items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    trace = {}
    if run.staleness is not None:
        trace = {"max_staleness": run.staleness.max, "mean_staleness": run.staleness.mean}
    measured: dict[str, float] = {"iterations": float(run.step)}
    if records is not None and len(records):
        for metric, g in records.groupby("metric"):
            v = g.sort_values("step")["value"].to_numpy(dtype=float)
            measured[f"first_{metric}"] = float(v[0])
            measured[f"final_{metric}"] = float(v[-1])
            measured[f"mean_{metric}"] = float(np.mean(v))
    return RunFacts(constants=consts, hyper=hyper, trace=trace, measured=measured)


def _records_of(results: StudyResults) -> dict[str, pd.DataFrame]:
    frame = results.to_frame()
    return {rid: g for rid, g in frame.groupby("run_id")} if len(frame) else {}


# --- theorem bindings ---------------------------------------------------------------------------
def theorem_table(results: StudyResults) -> pd.DataFrame:
    """Each binding's theorem checked on every run it applies to: the bound symbols' values, the
    theorem's largest admissible step, step / max, condition holds or violated (and which), the
    bound's value where all its symbols are bound. A symbol without a value for a run (an unknown
    constant) makes that row ``not evaluable`` rather than a guess."""
    import bounds

    recs = _records_of(results)
    rows = []
    for b in results.info.bindings:
        thm = bounds.get(b.theorem)  # a binding names a registered theorem (checked when it is made)
        step = thm.step.name if thm.step is not None else None
        for r in results.runs:
            if r.status == "failed" or not b.applies(r.params.get("algorithm", "")) or r.params.get("kind") \
                    == "step-limit":
                continue
            row: dict[str, Any] = {"theorem": b.theorem, "label": r.label, "dataset": r.params.get("dataset"),
                                   "K": r.params.get("K"), "seed": r.params.get("seed"), "run status": r.status}
            try:
                params = resolve(b.symbols, run_facts(r, recs.get(r.run_id)))
            except Unbound as exc:
                rows.append({**row, "condition": "not evaluable", "why": str(exc)})
                continue
            rep = thm.check(**params)
            row.update(params)
            if rep.max_step is not None and step in params:
                row["max_step"] = float(rep.max_step)
                row[f"{step} / max"] = params[step] / float(rep.max_step) if rep.max_step > 0 else math.inf
            row["condition"] = "holds" if rep.holds else "violated: " + ", ".join(c.name for c in rep.violated)
            if b.compare_to is not None:
                row["measured"] = float(run_facts(r, recs.get(r.run_id)).measured.get(b.compare_to.name, math.nan))
            if rep.bound is not None and rep.holds:  # a bound whose condition fails says nothing
                row["bound"] = float(rep.bound)
                if b.compare_to is not None:
                    m = row["measured"]
                    row["bound / measured"] = float(rep.bound) / m if m > 0 else math.nan
            rows.append(row)
    return pd.DataFrame(rows)


THEOREM_SECTION = "Measured vs theorem: step-size condition"


def theorem_section(results: StudyResults) -> Section | None:
    tab = theorem_table(results)
    if tab.empty:
        return None
    parts, lines = [], []
    for key, g in tab.groupby("theorem", sort=True):
        ratio = [c for c in g.columns if c.endswith(" / max") and g[c].notna().any()]
        held = int((g["condition"] == "holds").sum())
        unknown = int((g["condition"] == "not evaluable").sum())
        text = f"{key}: condition holds in {held} of {len(g) - unknown} evaluable runs"
        if unknown:
            text += f" ({unknown} not evaluable: {g.loc[g['condition'] == 'not evaluable', 'why'].iloc[0]})"
        if ratio:
            text += f", {ratio[0]} = {_fmt(g[ratio[0]].min())}..{_fmt(g[ratio[0]].max())}"
        parts.append(text + ".")
        if "measured" in g:
            lines += _bound_lines(key, g)
    binds = [f"{b.theorem}: " + ", ".join(f"{k} <- {describe_source(v)}" for k, v in b.symbols.items())
             + (f" (runs of {', '.join(b.applies_to)})" if b.applies_to else "") for b in results.info.bindings]
    return Section(
        title=THEOREM_SECTION,
        text=("Each run's step against the theorem's admissible step, with every symbol bound as the study "
              "declares (trace statistics measured in the run's own trace). A run that converges with "
              "step / max > 1 shows the condition is sufficient, not necessary. " + " ".join(parts)),
        lines=lines + [f"binding {s}" for s in binds], tables=[("", tab)])


def _bound_lines(key: str, g: pd.DataFrame) -> list[str]:
    return [c.line for c in _bound_checks(key, g)]


def _bound_checks(key: str, g: pd.DataFrame) -> list[Check]:
    """Per (label, dataset, K): the seed mean of the measured quantity against the bound (the theorems
    bound an expectation); [holds] / [violated] only where the condition holds for every seed, else
    [condition not met] (the bound says nothing there). Looseness: bound / measured."""
    out = []
    g = g[g["measured"].notna()]
    for (label, ds, K), grp in g.groupby(["label", "dataset", "K"], sort=True):
        mean = float(grp["measured"].mean())
        head = f"{key}, {label} ({ds} K={K}, {len(grp)} seeds): measured {_fmt(mean)}"
        if not (grp["condition"] == "holds").all():
            bad = sorted({c for c in grp["condition"] if c != "holds"})
            out.append(Check(THEOREM_SECTION, "condition not met",
                             f"{head}; the theorem's condition fails at the measured delay in "
                             f"{int((grp['condition'] != 'holds').sum())} of {len(grp)} seeds ({'; '.join(bad)}), so "
                             f"its bound does not apply"))
            continue
        if "bound" not in grp or grp["bound"].isna().any():
            out.append(Check(THEOREM_SECTION, "inconclusive",
                             f"{head}; the bound could not be evaluated (a symbol it needs is unbound)"))
            continue
        bound = float(grp["bound"].max())
        loose = bound / mean if mean > 0 else math.nan
        out.append(Check(THEOREM_SECTION, "holds" if mean <= bound else "violated",
                         f"{head} vs bound {_fmt(bound)}; looseness bound/measured {_fmt(loose)}", float(loose)))
    return out


def condition_checks(tab: pd.DataFrame) -> list[Check]:
    """Each bound theorem's step-size condition per (theorem, algorithm, dataset, K) over its seeds, from
    :func:`theorem_table`; looseness: the seeds' median bound / measured where the binding compares one."""
    rows = []
    if tab.empty:
        return rows
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
        rows.append(Check("step-size condition", verdict, text, loose))
    return rows


# --- registered analyses --------------------------------------------------------------------------
ANALYSES: dict[str, type] = {}


def register_analysis(cls: type) -> type:
    """Class decorator: make an analysis kind loadable from study.json."""
    ANALYSES[cls.kind] = cls
    return cls


def analysis_from_json(d: Mapping[str, Any]):
    d = dict(d)
    kind = d.pop("kind", None)
    if kind not in ANALYSES:
        raise ValueError(f"analysis kind must be one of {sorted(ANALYSES)}, got {kind!r}")
    return ANALYSES[kind].from_json(d)


def _symbols_json(symbols: Mapping[str, Any]) -> dict:
    return {k: source_to_json(v) for k, v in symbols.items()}


def _symbols_from(d: Mapping[str, Any]) -> dict:
    return {k: source_from_json(v) for k, v in dict(d).items()}


@register_analysis
@dataclass(frozen=True)
class Contraction:
    """Measured C(s,0)/C(0,0) against a theorem's per-round and outer-round contraction (Theorems
    3.4.1-3.4.4): runs tagged ``tag`` (default kind=contraction), records taken at every round boundary, grouped
    by (dataset, K, label) over seeds. ``symbols``: the theorems' symbols (the delay bound to the
    largest staleness measured in the group). Verdicts: holds / violated (the seed mean of the
    excess above ``z`` standard errors at some round) / condition not met (step outside the
    theorem's condition), with the looseness of the bound."""

    kind = "contraction"
    metric: str
    round_theorems: tuple[str, ...]
    outer_theorems: tuple[str, ...]
    symbols: Mapping[str, Any]
    z: float = 3.0
    tag: tuple[str, str] = ("kind", "contraction")

    def to_json(self) -> dict:
        return {"kind": self.kind, "metric": self.metric, "round_theorems": list(self.round_theorems),
                "outer_theorems": list(self.outer_theorems), "symbols": _symbols_json(self.symbols), "z": self.z,
                "tag": list(self.tag)}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "Contraction":
        return cls(metric=d["metric"], round_theorems=tuple(d["round_theorems"]),
                   outer_theorems=tuple(d["outer_theorems"]), symbols=_symbols_from(d["symbols"]),
                   z=float(d.get("z", 3.0)), tag=tuple(d.get("tag", ("kind", "contraction"))))

    def curves(self, results: StudyResults) -> dict[tuple, tuple[np.ndarray, list]]:
        """(dataset, K, label) -> (curves (seeds, S + 1) of C(s,0)/C(0,0), the runs); a run that
        diverged or stopped early is padded with NaN."""
        frame = results.to_frame()
        frame = frame[frame["metric"] == self.metric]
        groups: dict[tuple, list] = {}
        for r in results.runs:
            if r.params.get(self.tag[0]) != self.tag[1] or r.status == "failed":
                continue
            groups.setdefault((r.params.get("dataset"), int(r.params.get("K")), r.label), []).append(r)
        out = {}
        for key, runs in sorted(groups.items()):
            runs = sorted(runs, key=lambda r: int(r.params.get("seed", 0)))
            S = max(_rounds(r) for r in runs)
            curves = np.full((len(runs), S + 1), np.nan)
            for j, r in enumerate(runs):
                sub = frame[frame["run_id"] == r.run_id]
                T = _round_length(r)
                sub = sub[sub["step"] % T == 0]
                s = (sub["step"].to_numpy() // T).astype(int)
                v = sub["value"].to_numpy(dtype=float)
                keep = s <= S
                curves[j, s[keep]] = v[keep]
                curves[j] /= curves[j, 0]
            out[key] = (curves, runs)
        return out

    def _params(self, runs: list) -> dict[str, float]:
        base = run_facts(runs[0])
        taus = [r.staleness.max for r in runs if r.staleness is not None]
        trace = {**base.trace, "max_staleness": max(taus) if taus else base.trace.get("max_staleness")}
        return resolve(self.symbols, RunFacts(base.constants, base.hyper, trace, base.measured))

    def table(self, results: StudyResults) -> pd.DataFrame:
        import bounds

        rows = []
        kinds = [(k, "round") for k in self.round_theorems] + [(k, "outer") for k in self.outer_theorems]
        for (ds, K, arm), (curves, runs) in self.curves(results).items():
            params = self._params(runs)
            mean = np.nanmean(curves, axis=0) if np.isfinite(curves).any() else np.full(curves.shape[1], np.nan)
            S = curves.shape[1] - 1
            for key, kind in kinds:
                thm = bounds.get(key)
                step = thm.step.name
                rep = thm.check(**params)
                rho = float(thm.bound(1, **params))
                chk = check_bound(curves, rho, kind, admissible=rep.holds, z=float(self.z))
                loose, s_used = log_looseness(mean, rho)
                if kind == "round":
                    with np.errstate(divide="ignore", invalid="ignore"):
                        per = np.where(mean[:-1] > LOOSENESS_FLOOR, mean[1:] / mean[:-1], np.nan)
                    worst = float(np.nanmax(per)) if np.isfinite(per).any() else math.nan
                    quantity, measured, bound = "max_s E[C_s+1]/E[C_s]", worst, rho
                else:
                    quantity, measured, bound = "E[C_S,0]/E[C_0,0]", float(mean[-1]), rho ** S
                rows.append({"theorem": key, "arm": arm, "dataset": ds, "K": K, **params, "seeds": len(runs), "S": S,
                             "max_eta": float(rep.max_step), "eta / max": params[step] / float(rep.max_step),
                             "condition": "holds" if rep.holds else "not met", "quantity": quantity,
                             "measured": measured, "bound": bound, "worst excess (SE)": chk.worst_z,
                             "at round": chk.worst_round, "nominal": chk.nominal, "verdict": chk.verdict,
                             "looseness": loose, "rounds used": s_used})
        return pd.DataFrame(rows)

    TITLE = "Verdict per theorem: measured contraction vs bound"

    def checks(self, results: StudyResults, tab: pd.DataFrame | None = None) -> list[Check]:
        """One :class:`Check` per table row; looseness = measured log-contraction per round / the bound's."""
        tab = self.table(results) if tab is None else tab
        return [Check(self.TITLE, str(r["verdict"]),
                      f"{r['theorem']}, {r['arm']} ({r['dataset']} K={r['K']}, eta={r['eta']:.3g}, "
                      f"eta/admissible={r['eta / max']:.3g}): {r['quantity']} measured {r['measured']:.6g} vs "
                      f"bound {r['bound']:.6g}; looseness {_fmt(r['looseness'])}"
                      + ("" if r["verdict"] != "condition not met" else f" (comparison alone: {r['nominal']})"),
                      float(r["looseness"]))
                for _, r in tab.iterrows()]

    def evaluate(self, results: StudyResults, figdir: Path | None = None) -> Section:
        tab = self.table(results)
        lines = [c.line for c in self.checks(results, tab)]
        figures = self.figures(results, figdir) if figdir is not None else []
        text = (f"Contraction: {self.metric} (C_t of the theorem) recorded at every outer round, i.e. every round "
                f"of T server updates, for several seeds per step size. The theorems bound E[C]: the mean over seeds "
                f"is compared with the bound; a violation needs the seed mean of the excess to exceed {self.z:g} "
                f"standard errors at some round. Per-round theorems: E[C(s+1,0)] <= rho E[C(s,0)] at every s; outer "
                f"theorems: E[C(s,0)]/E[C(0,0)] <= rho^s, rho = the theorem's bound after one round. eta / max is "
                f"taken at the largest staleness measured in the group's traces. looseness = measured "
                f"log-contraction per round / the bound's (1 = tight).")
        return Section(self.TITLE, text=text, lines=lines, tables=[("", tab)], figures=figures)

    def figures(self, results: StudyResults, figdir: Path) -> list[Path]:
        import bounds

        from .report import plt, savefig
        from .spec import slug

        paths = []
        for (ds, K, arm), (curves, runs) in self.curves(results).items():
            params = self._params(runs)
            s = np.arange(curves.shape[1])
            fig, ax = plt.subplots(figsize=(6, 4))
            for j, c in enumerate(curves):
                ax.plot(s, np.where(c > 0, c, np.nan), color="tab:blue", lw=0.6, alpha=0.5,
                        label="measured, per seed" if j == 0 else None)
            mean = np.nanmean(curves, axis=0)
            ax.plot(s, np.where(mean > 0, mean, np.nan), color="tab:blue", lw=2.0, label=f"mean of {len(runs)} seeds")
            styles = ["--", ":", "-.", (0, (5, 1))]
            for i, key in enumerate(self.outer_theorems):
                b = np.asarray(bounds.get(key).bound(s, **params), dtype=float)
                ax.plot(s, np.where(b > 0, b, np.nan), color=f"C{i + 1}", ls=styles[i % len(styles)], lw=1.4,
                        label=f"bound {key}")
            ax.set_yscale("log")
            ax.set_xlabel(f"outer round s ({_round_length(runs[0])} server updates each)")
            ax.set_ylabel(f"C(s,0) / C(0,0)  [{self.metric}]")
            ax.grid(True, which="major", alpha=0.3)
            ax.legend(fontsize=7)
            ax.set_title(f"{results.info.name}: {arm}, eta = {params.get('eta', math.nan):.3g}; {ds}, K = {K}",
                         fontsize=9)
            path = figdir / f"contraction_{slug(arm)}_{slug(str(ds))}_K{int(K)}.png"
            savefig(fig, path)
            paths.append(path)
        return paths


def _round_length(r: RunResult) -> int:
    info = dict(r.info)
    return int(info.get("round_length") or dict(r.hyper).get("T") or 1)


def _rounds(r: RunResult) -> int:
    budget = dict(dict(r.info).get("budget", {}))
    T = _round_length(r)
    return int(budget.get("max_updates") or 0) // T or r.step // T


@register_analysis
@dataclass(frozen=True)
class StepLimit:
    """The step-limit searches (task kind ``step-limit``): per (dataset, K, T, seed) the measured
    tau, the theorems' max_step(tau), the empirical largest stable step and their ratio (< 1: the
    sufficient condition admits a step that diverges -- a counterexample)."""

    kind = "step-limit"
    theorems: tuple[str, ...]
    round_hyper: str = "T"

    def to_json(self) -> dict:
        return {"kind": self.kind, "theorems": list(self.theorems), "round_hyper": self.round_hyper}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "StepLimit":
        return cls(theorems=tuple(d["theorems"]), round_hyper=d.get("round_hyper", "T"))

    def table(self, results: StudyResults) -> pd.DataFrame:
        rows = []
        R = self.round_hyper
        for r in results.runs:
            if r.params.get("kind") != "step-limit" or r.status == "failed":
                continue
            info = dict(r.info)
            row = {"dataset": r.params.get("dataset"), "K": int(r.params.get("K")), R: int(r.params.get(R)),
                   "seed": int(r.params.get("seed", 0)), "tau": int(info["tau"]),
                   "eta empirical": float(info["eta_stable"]), "eta unstable": float(info["eta_unstable"]),
                   "probes": len(info["probes"])}
            if not set(self.theorems) & set(info.get("theory", {})):
                continue
            for key in self.theorems:
                th = float(info["theory"].get(key, math.nan))
                row[f"max_step {key}"] = th
                row[f"ratio {key}"] = float(info["eta_stable"]) / th
            rows.append(row)
        return (pd.DataFrame(rows).sort_values(["dataset", "tau", "K", R, "seed"]).reset_index(drop=True)
                if rows else pd.DataFrame(rows))

    @property
    def title(self) -> str:
        return f"Step-size limit vs delay ({', '.join(self.theorems)})"

    def checks(self, results: StudyResults, sl: pd.DataFrame | None = None) -> list[Check]:
        """Per theorem: ``COUNTEREXAMPLE`` if some empirical largest stable step is below ``max_step`` (the
        sufficient condition admits a step that diverges), else ``holds``; looseness = the smallest
        empirical largest stable step / max_step (>= 1: how conservative the condition is)."""
        sl = self.table(results) if sl is None else sl
        out = []
        for key in self.theorems:
            col = f"ratio {key}"
            if sl.empty or col not in sl or not sl[col].notna().any():
                continue
            lo, hi = float(sl[col].min()), float(sl[col].max())
            text = (f"{key} step limit: empirical largest stable eta / max_step(tau) = {_fmt(lo)}..{_fmt(hi)} "
                    f"over tau = {int(sl['tau'].min())}..{int(sl['tau'].max())}"
                    + (" - below 1: the sufficient condition admits a step that diverges" if lo < 1 else ""))
            out.append(Check(self.title, "COUNTEREXAMPLE" if lo < 1 else "holds", text, lo))
        return out

    def evaluate(self, results: StudyResults, figdir: Path | None = None) -> Section:
        sl = self.table(results)
        lines, bad = [], []
        for c in self.checks(results, sl):  # a counterexample is shown first, marked; the others plain
            (bad if c.verdict == "COUNTEREXAMPLE" else lines).append(c.line if c.verdict == "COUNTEREXAMPLE" else c.text)
        text = ("Step limit: for each (K, T), the largest eta whose probe neither diverges nor ends with the metric "
                "above its start, by doubling then bisection, against max_step(tau) with tau measured in the probe's "
                "trace.")
        figures = self.figures(results, sl, figdir) if figdir is not None and not sl.empty else []
        return Section(self.title, text=text, lines=bad + lines,
                       tables=[("", sl)] if not sl.empty else [], figures=figures, counterexamples=bad)

    def figures(self, results: StudyResults, sl: pd.DataFrame, figdir: Path) -> list[Path]:
        from .report import plt, savefig
        from .spec import slug

        paths = []
        for ds, sub in sl.groupby("dataset", sort=True):
            fig, ax = plt.subplots(figsize=(6, 4))
            x = sub["tau"].to_numpy(dtype=float) + 1.0
            ax.plot(x, sub["eta empirical"], "o", color="tab:blue", label="empirical largest stable eta")
            for i, key in enumerate(self.theorems):
                pts = sub.sort_values("tau")
                ax.plot(pts["tau"] + 1.0, pts[f"max_step {key}"], color=f"C{i + 1}", ls="--" if i == 0 else ":",
                        marker=".", label=f"{key} max_step(tau)")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("tau + 1 (tau = max staleness measured in the trace)")
            ax.set_ylabel("step size eta")
            ax.grid(True, which="major", alpha=0.3)
            ax.legend(fontsize=7)
            ax.set_title(f"{results.info.name}: step limit vs delay; {ds}", fontsize=9)
            path = figdir / f"step_limit_{slug(str(ds))}_{slug(self.theorems[0])}.png"
            savefig(fig, path)
            paths.append(path)
        return paths


def sections(results: StudyResults, figdir: Path | None = None) -> list[Section]:
    """The theorem-binding section and every declared analysis's section, in order."""
    out = []
    thm = theorem_section(results)
    if thm is not None:
        out.append(thm)
    out += [a.evaluate(results, figdir) for a in results.info.analyses]
    return out


def theorem_checks(results: StudyResults) -> list[Check]:
    """Every theorem check of a study as data: each bound theorem's step-size condition
    (:func:`condition_checks`), the measured-vs-bound verdicts of its bindings, and each declared analysis's
    checks (its ``checks(results)``; an analysis without one gives its ``[verdict] ...`` lines, looseness NaN)."""
    tab = theorem_table(results)
    out = condition_checks(tab)
    if not tab.empty and "measured" in tab:
        for key, g in tab.groupby("theorem", sort=True):
            out += _bound_checks(key, g)
    for a in results.info.analyses:
        if hasattr(a, "checks"):
            out += a.checks(results)
            continue
        sec = a.evaluate(results, None)
        for line in sec.lines:
            verdict, sep, text = line[1:].partition("] ") if line.startswith("[") else ("", "", "")
            if sep:
                out.append(Check(sec.title, verdict, text))
    return out


__all__ = ["ANALYSES", "Check", "Contraction", "Section", "StepLimit", "TheoremBinding", "analysis_from_json",
           "condition_checks", "register_analysis", "run_facts", "sections", "theorem_checks", "theorem_section",
           "theorem_table"]
