"""Tidy results of a study: frozen :class:`RunResult` values plus long-format metric records.

On disk (one directory per run, written by :mod:`studies.runner`)::

    OUT/study.json                 what the report needs about the study (claim, target, claims)
    OUT/runs.json                  the run ids of the latest run_study into OUT (its sweep)
    OUT/runs/<run_id>/result.json  the RunResult (written last: its presence marks a complete run)
    OUT/runs/<run_id>/records.csv  step, sim_time, epoch, metric, value
    OUT/runs/<run_id>/trace.npz    the simulation trace (sim.trace.Trace.save)

:func:`load_results` rebuilds a :class:`StudyResults` from these files only: the runs that
``runs.json`` lists, so runs left in OUT by an earlier sweep of another size (e.g. ``--quick``, then
full size into the same ``--out``) do not mix into the medians of the report.
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import pandas as pd

from .spec import Claim, Target

STATUSES = ("finished", "target_reached", "diverged", "failed")
#: statuses a resumed sweep does not run again (a failed run is retried)
COMPLETE = ("finished", "target_reached", "diverged")
RECORD_COLUMNS = ("step", "sim_time", "epoch", "metric", "value")
FRAME_COLUMNS = ("run_id", "study", "algorithm", "dataset", "K", "seed", "step", "sim_time", "epoch",
                 "metric", "value")


@dataclass(frozen=True)
class StalenessSummary:
    """Staleness (server version applied - version read) measured from the trace."""

    max: int
    mean: float
    per_worker_mean: tuple[float, ...] = ()


@dataclass(frozen=True)
class RunResult:
    """One run: its id and parameters, how it ended, and what it cost.

    status: finished (budget spent) | target_reached | diverged (``diverged_at`` = server step)
    | failed (``error`` = the exception message). ``sim_time`` in simulated seconds,
    ``wall_time`` in real seconds, ``epochs`` in passes over the data.
    ``hyper`` holds the hyper-parameters actually used (after eta selection);
    ``info`` holds problem facts (n, d, lam, P*) and how grids were resolved.
    """

    run_id: str
    params: Mapping[str, Any]
    status: str
    diverged_at: int | None = None
    error: str | None = None
    sim_time: float = 0.0
    step: int = 0
    epochs: float = 0.0
    wall_time: float = 0.0
    staleness: StalenessSummary | None = None
    label: str = ""
    hyper: Mapping[str, Any] = field(default_factory=dict)
    info: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"RunResult.status must be one of {STATUSES}, got {self.status!r}")
        if self.status == "diverged" and self.diverged_at is None:
            raise ValueError("RunResult.diverged_at must be the step of divergence when status is 'diverged', got None")
        if self.status == "failed" and not self.error:
            raise ValueError("RunResult.error must hold the error message when status is 'failed', got nothing")

    def to_json(self) -> dict:
        return _jsonable(asdict(self))

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "RunResult":
        d = dict(d)
        st = d.get("staleness")
        if st is not None:
            d["staleness"] = StalenessSummary(int(st["max"]), float(st["mean"]), tuple(st.get("per_worker_mean", ())))
        return cls(**d)


def _jsonable(x: Any) -> Any:
    if isinstance(x, Mapping):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if hasattr(x, "item") and callable(x.item) and getattr(x, "ndim", 1) == 0:
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return repr(x)  # JSON has no inf/nan; keep them readable
    return x


MANIFEST = "runs.json"


def write_manifest(out: Path, run_ids: Iterable[str]) -> None:
    """Record the run ids of this sweep as OUT/runs.json (what ``load_results(OUT)`` reads)."""
    atomic_write_text(Path(out) / MANIFEST, json.dumps(list(run_ids), indent=1))


def _umask() -> int:
    """The process's umask, read without changing it where the system allows (Linux /proc); the
    os.umask round trip otherwise (briefly sets it, so only as the fallback)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    old = os.umask(0o022)
    os.umask(old)
    return old


def file_mode() -> int:
    """The mode a plain ``open(path, "w")`` gives a new file: 0o666 minus the umask (0o644 under the
    usual 022). tempfile.mkstemp creates 0o600, which would keep a shared results directory private."""
    return 0o666 & ~_umask()


def atomic_write_with(path: Path, write: Callable[[str], None], suffix: str = ".part") -> None:
    """``write(temporary path)``, then give it the umask's default mode and os.replace it onto ``path``
    (same directory, so the rename is atomic); the temporary file is removed if anything fails."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, file_mode())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file in the same directory and os.replace; the file
    gets the mode ``open(path, "w")`` would (umask-respecting), not mkstemp's 0o600."""
    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)

    atomic_write_with(path, write)


@dataclass(frozen=True)
class StudyInfo:
    """What a report needs to know about the study, saved as OUT/study.json."""

    name: str
    title: str
    thesis_ref: str
    claim: str
    target: Target
    claims: tuple[Claim, ...] = ()
    x_axis: str = "sim_time"
    quick: bool = False
    notes: str = ""
    bindings: tuple = ()
    analyses: tuple = ()
    figure_metrics: tuple = ()
    #: what, besides the study's name, makes its runs what they are: {"overrides": {key: value}
    #: (``--set``), "data": {dataset: its real files' names, sizes and sha256} (``--data-dir``, only the
    #: datasets read from it; see studies.runner.data_used)}, each only when given; written into every
    #: result.json too
    setup: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict:
        d = {f: getattr(self, f) for f in ("name", "title", "thesis_ref", "claim", "x_axis", "quick", "notes")}
        d["setup"] = dict(self.setup)
        d["target"] = asdict(self.target)
        d["claims"] = [asdict(c) for c in self.claims]
        d["bindings"] = [b.to_json() for b in self.bindings]
        d["analyses"] = [a.to_json() for a in self.analyses]
        d["figure_metrics"] = list(self.figure_metrics)
        return _jsonable(d)

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "StudyInfo":
        from .analyses import analysis_from_json
        from .bindings import TheoremBinding

        d = dict(d)
        d.pop("theorems", None)  # study.json files written before theorem bindings
        d["target"] = Target(**d["target"])
        d["claims"] = tuple(Claim(**c) for c in d.get("claims", ()))
        d["bindings"] = tuple(TheoremBinding.from_json(b) for b in d.get("bindings", ()))
        d["analyses"] = tuple(analysis_from_json(a) for a in d.get("analyses", ()))
        d["figure_metrics"] = tuple(d.get("figure_metrics", ()))
        d["setup"] = dict(d.get("setup") or {})
        if not isinstance(d.get("name"), str) or not NAME_SAFE.match(d["name"]):
            raise ValueError(f"name must be a study name of [A-Za-z0-9_.+-], got {quote(d.get('name'))}")
        return cls(**d)


class StudyResults:
    """The runs of a study and their records; ``to_frame()`` is long format, ``summary()`` the table."""

    def __init__(self, info: StudyInfo, runs: Iterable[RunResult], records: pd.DataFrame,
                 out: Path | None = None, skipped: int = 0) -> None:
        self.info = info
        self.runs: tuple[RunResult, ...] = tuple(runs)
        self._records = records
        self.out = None if out is None else Path(out)
        self.skipped = int(skipped)

    def __repr__(self) -> str:
        counts = pd.Series([r.status for r in self.runs]).value_counts().to_dict() if self.runs else {}
        return f"StudyResults({self.info.name!r}, runs={len(self.runs)}, status={counts}, out={str(self.out)!r})"

    def to_frame(self) -> pd.DataFrame:
        """Long format: run_id, study, algorithm, dataset, K, seed, step, sim_time, epoch, metric, value."""
        return self._records.copy()

    def runs_frame(self) -> pd.DataFrame:
        """One row per run: parameters, status, diverged_at, sim/wall time, staleness."""
        rows = []
        for r in self.runs:
            st = r.staleness
            rows.append({"run_id": r.run_id, "label": r.label, **dict(r.params), "status": r.status,
                         "diverged_at": r.diverged_at, "error": r.error, "sim_time": r.sim_time,
                         "step": r.step, "epochs": r.epochs, "wall_time": r.wall_time,
                         "staleness_max": None if st is None else st.max,
                         "staleness_mean": None if st is None else st.mean,
                         "data": dict(r.info).get("data"),
                         **{f"hyper.{k}": v for k, v in dict(r.hyper).items()}})
        return pd.DataFrame(rows)

    def summary(self, baseline: str | None = None) -> pd.DataFrame:
        """Per dataset/K/algorithm: time and epochs to the target, speedup vs ``baseline`` (see compare)."""
        from .compare import summary_table  # compare builds on this module
        return summary_table(self, baseline=baseline)


#: what a name read back from a result file may be (run ids, datasets, algorithms, metrics): no path
#: separators, so a name can never steer a file written from it out of its directory
NAME_SAFE = re.compile(r"^[A-Za-z0-9_.+-]+$")
DIR_SAFE = re.compile(r"^[A-Za-z0-9_.+=,\[\]-]+$")
RUN_ID_SAFE = re.compile(r"^[A-Za-z0-9_.+-]+\[[A-Za-z0-9_.+=,-]*\]$")


def quote(text: Any, limit: int = 80) -> str:
    """``repr`` of file content cut to ``limit`` characters (then "…"): a message quoting a file
    never embeds a whole damaged line."""
    s = str(text)
    return repr(s) if len(s) <= limit else repr(s[:limit]) + "…"


def cut(text: Any, limit: int = 80) -> str:
    """``str(text)`` cut to its first ``limit`` characters (then "…"), unquoted."""
    s = str(text)
    return s if len(s) <= limit else s[:limit] + "…"


def _bad_file(path: Path, lineno: int | None, what: str) -> ValueError:
    where = f"{path}" if lineno is None else f"{path}:{lineno}"
    return ValueError(f"{where}: {what}; the file is not a complete records.csv written by run_study "
                      f"(delete the run's directory and resume to run it again)")


def read_records(run_dir: Path) -> pd.DataFrame:
    """A run's records.csv, validated line by line: the header is RECORD_COLUMNS, every line is
    complete (the file ends with a newline: a file cut mid-line is refused, never read as data) and has
    five fields; step is an integer >= 0, sim_time and epoch finite numbers >= 0, metric a name
    (NAME_SAFE), value a number (inf / nan allowed: a diverged run records them). Any violation is one
    ValueError naming the file and the line."""
    p = Path(run_dir) / "records.csv"
    if not p.exists():
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in RECORD_COLUMNS})
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise _bad_file(p, None, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    lines = text.split("\n")
    if not text.endswith("\n"):
        raise _bad_file(p, len(lines), f"the last line {quote(lines[-1])} is cut (no newline at the end)")
    lines.pop()  # the empty string after the final newline
    if not lines or lines[0].strip() != ",".join(RECORD_COLUMNS):
        raise _bad_file(p, 1, f"the header must be {','.join(RECORD_COLUMNS)!r}, got {quote(lines[0] if lines else '')}")
    cols: dict[str, list] = {c: [] for c in RECORD_COLUMNS}
    for lineno, row in enumerate(csv.reader(io.StringIO("\n".join(lines[1:]))), start=2):
        if len(row) != len(RECORD_COLUMNS):
            raise _bad_file(p, lineno, f"{len(row)} fields, expected {len(RECORD_COLUMNS)} "
                                       f"({','.join(RECORD_COLUMNS)}) in {quote(','.join(row))}")
        step, t, e, metric, value = row
        try:
            istep = int(step)
        except ValueError:
            raise _bad_file(p, lineno, f"step {quote(step)} is not an integer") from None
        if istep < 0:
            raise _bad_file(p, lineno, f"step {istep} is negative")
        nums = []
        for name, field_ in (("sim_time", t), ("epoch", e)):
            try:
                x = float(field_)
            except ValueError:
                raise _bad_file(p, lineno, f"{name} {quote(field_)} is not a number") from None
            if not (math.isfinite(x) and x >= 0):
                raise _bad_file(p, lineno, f"{name} {quote(field_)} must be a finite number >= 0")
            nums.append(x)
        if not NAME_SAFE.match(metric):
            raise _bad_file(p, lineno, f"metric {quote(metric)} must be a name of [A-Za-z0-9_.+-]")
        try:
            v = float(value)
        except ValueError:
            raise _bad_file(p, lineno, f"value {quote(value)} is not a number") from None
        cols["step"].append(istep)
        cols["sim_time"].append(nums[0])
        cols["epoch"].append(nums[1])
        cols["metric"].append(metric)
        cols["value"].append(v)
    return pd.DataFrame({"step": pd.Series(cols["step"], dtype="int64"),
                         "sim_time": pd.Series(cols["sim_time"], dtype="float64"),
                         "epoch": pd.Series(cols["epoch"], dtype="float64"),
                         "metric": pd.Series(cols["metric"], dtype="object"),
                         "value": pd.Series(cols["value"], dtype="float64")})


def _read_json(path: Path, build):
    """``build(json of path)``; a file that is not what run_study wrote is one ValueError naming it."""
    try:
        return build(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"{str(path)!r} must be a {path.name} written by run_study; cannot read it "
                         f"({type(exc).__name__}: {cut(exc, 200)})") from None


def _check_result(path: Path, r: RunResult) -> RunResult:
    """Names read back from a result.json go into page text and figure file names: the run id must be
    its directory's name and of the form study[k=v,...], every parameter a name (NAME_SAFE) or a finite
    number, K and seed integers."""
    def bad(what: str) -> ValueError:
        return ValueError(f"{str(path)!r}: {what}; not a result.json written by run_study")

    if not isinstance(r.run_id, str) or not RUN_ID_SAFE.match(r.run_id):
        raise bad(f"run_id must look like study[key=value,...] with [A-Za-z0-9_.+-] names, got {quote(r.run_id)}")
    if r.run_id != path.parent.name:
        raise bad(f"run_id {quote(r.run_id)} is not its directory's name {quote(path.parent.name)}")
    if not isinstance(r.params, Mapping):
        raise bad(f"params must be a mapping, got {type(r.params).__name__}")
    for k, v in r.params.items():
        if not NAME_SAFE.match(str(k)):
            raise bad(f"parameter name {quote(k)} must be of [A-Za-z0-9_.+-]")
        if isinstance(v, str):
            if not NAME_SAFE.match(v):
                raise bad(f"params[{k!r}] = {quote(v)} must be a name of [A-Za-z0-9_.+-] (no '/')")
        elif isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise bad(f"params[{k!r}] must be a name or a finite number, got {quote(repr(v))}")
    for k in ("K", "seed"):
        if k in r.params and (isinstance(r.params[k], bool) or not isinstance(r.params[k], int)):
            raise bad(f"params[{k!r}] must be an integer, got {quote(repr(r.params[k]))}")
    return r


def read_result(run_dir: Path) -> RunResult | None:
    p = Path(run_dir) / "result.json"
    if not p.exists():
        return None
    return _check_result(p, _read_json(p, RunResult.from_json))


def tidy_records(result: RunResult, study: str, records: pd.DataFrame) -> pd.DataFrame:
    """Records of one run with the run's identity columns, in FRAME_COLUMNS order."""
    df = records.loc[:, list(RECORD_COLUMNS)].copy()
    p = result.params
    df.insert(0, "run_id", result.run_id)
    df.insert(1, "study", study)
    df.insert(2, "algorithm", p.get("algorithm", ""))
    df.insert(3, "dataset", p.get("dataset", ""))
    df.insert(4, "K", int(p.get("K", 0)))
    df.insert(5, "seed", int(p.get("seed", 0)))
    return df


def setup_of(info: StudyInfo) -> dict:
    """The identity of a study's runs: its name and its setup (overrides, data directory)."""
    return _jsonable({"study": info.name, **dict(info.setup)})


def study_of_run(run_id: str) -> str:
    """The study name a run id starts with (``study[k=v,...]`` -> ``study``)."""
    return str(run_id).split("[", 1)[0]


def check_same_study(info: StudyInfo, r: RunResult, path: Path) -> None:
    """A run of another study than study.json says is refused rather than reported under the wrong title:
    its run id must start with study.json's name (always checked: the run id is the run's directory),
    and a run written by run_study also records its study's name and setup (``info["setup"]``), which
    must be study.json's (another study, other ``--set`` overrides or other data are refused)."""
    prefix = study_of_run(r.run_id)
    if prefix != info.name:
        raise ValueError(f"{str(path)!r} is a run of study {prefix!r} (its run id {quote(r.run_id)}), but "
                         f"study.json describes study {info.name!r}: the results directory mixes two studies; "
                         "report each from its own directory")
    mine = dict(r.info).get("setup")
    if mine is None:  # written before setups were recorded (or by hand): the run id is all there is
        return
    want = setup_of(info)
    if not isinstance(mine, Mapping) or mine != want:
        study = mine.get("study") if isinstance(mine, Mapping) else None
        raise ValueError(f"{str(path)!r} belongs to study {study!r} with setup "
                         f"{_setup_text(mine) if isinstance(mine, Mapping) else quote(mine)}, "
                         f"but study.json describes study {want['study']!r} with setup {_setup_text(want)}: "
                         "the results directory mixes two studies; report each from its own directory")


def _setup_text(setup: Mapping) -> str:
    rest = {k: v for k, v in setup.items() if k != "study"}
    return json.dumps(rest, sort_keys=True) if rest else "(defaults)"


def _manifest_ids(ids) -> list[str]:
    if not isinstance(ids, list):
        raise ValueError(f"must be a list of run ids, got {type(ids).__name__}")
    return [str(i) for i in ids]


def load_results(results_dir: str | os.PathLike, run_ids: Iterable[str] | None = None,
                 skipped: int = 0) -> StudyResults:
    """Rebuild StudyResults from OUT/study.json and OUT/runs/*/: only ``run_ids`` if given, else the
    runs listed in OUT/runs.json (the latest sweep), else every run directory."""
    out = Path(results_dir)
    info_path = out / "study.json"
    if not info_path.exists():
        raise ValueError(f"results_dir must contain study.json written by run_study, got {str(out)!r}")
    info = _read_json(info_path, StudyInfo.from_json)
    runs_dir = out / "runs"
    if run_ids is None and (out / MANIFEST).exists():
        run_ids = _read_json(out / MANIFEST, _manifest_ids)
        strangers = [i for i in run_ids if study_of_run(i) != info.name]
        if strangers:
            raise ValueError(f"{str(out / MANIFEST)!r} lists run {quote(strangers[0])} of study "
                             f"{study_of_run(strangers[0])!r}, but study.json describes study {info.name!r}: "
                             "the results directory mixes two studies; report each from its own directory")
    wanted = None if run_ids is None else list(run_ids)
    names = wanted if wanted is not None else sorted(p.name for p in runs_dir.iterdir() if p.is_dir()) \
        if runs_dir.exists() else []
    runs, frames = [], []
    for name in names:
        if not isinstance(name, str) or not DIR_SAFE.match(name) or name in (".", ".."):
            raise ValueError(f"{str(out / MANIFEST)!r}: run id {quote(name)} must be a directory name of "
                             "[A-Za-z0-9_.+=,[]-]; not a runs.json written by run_study")
        r = read_result(runs_dir / name)
        if r is None:
            continue
        check_same_study(info, r, runs_dir / name / "result.json")
        runs.append(r)
        rec = read_records(runs_dir / name)
        if len(rec):
            frames.append(tidy_records(r, info.name, rec))
    records = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(FRAME_COLUMNS))
    return StudyResults(info, runs, records, out=out, skipped=skipped)
