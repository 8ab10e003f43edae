"""A small progress bar for sweeps: runs done/total, elapsed, ETA, on stderr.

On a terminal the bar redraws in place; elsewhere (a pipe, CI, a log file) it
stays quiet and prints one final line. A notebook passes ``progress=`` to
:func:`studies.run_study`: ``True`` forces the bar, ``False`` silences it,
and any callable ``f(done, total, run_id)`` receives the updates instead.
"""
from __future__ import annotations

import sys
import time
from typing import Callable, TextIO


def _fmt(seconds: float) -> str:
    seconds = max(0.0, seconds)
    m, s = divmod(int(round(seconds)), 60)
    h, m = divmod(m, 60)
    return f"{h:d}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


class ProgressBar:
    """``start(total)``, ``update(run_id, skipped=False)`` per finished run, ``close()``.

    ``live``: redraw on every update (default: when ``stream`` is a TTY).
    ``clock`` is injectable so tests can check the ETA arithmetic.
    """

    def __init__(self, stream: TextIO | None = None, *, live: bool | None = None, width: int = 24,
                 label: str = "runs", clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = sys.stderr if stream is None else stream
        if live is None:
            isatty = getattr(self.stream, "isatty", None)
            live = bool(isatty and isatty())
        self.live = live
        self.width = int(width)
        self.label = label
        self.clock = clock
        self.total = 0
        self.done = 0
        self.skipped = 0
        self._t0 = 0.0
        self._timed = 0  # runs that actually ran (skipped ones do not inform the ETA)

    def start(self, total: int, *, skipped: int = 0) -> None:
        self.total = int(total)
        self.done = int(skipped)
        self.skipped = int(skipped)
        self._timed = 0
        self._t0 = self.clock()
        if self.live:
            self._draw("")

    def eta(self) -> float | None:
        """Seconds left, from the mean time of runs finished so far (None before the first)."""
        if self._timed == 0:
            return None
        per_run = (self.clock() - self._t0) / self._timed
        return per_run * (self.total - self.done)

    def line(self, note: str = "") -> str:
        frac = self.done / self.total if self.total else 1.0
        fill = int(round(frac * self.width))
        eta = self.eta()
        eta_s = "--:--" if eta is None else _fmt(eta)
        text = (f"[{'#' * fill}{'.' * (self.width - fill)}] {self.done}/{self.total} {self.label} "
                f"elapsed {_fmt(self.clock() - self._t0)} eta {eta_s}")
        return f"{text} {note}".rstrip()

    def _draw(self, note: str) -> None:
        self.stream.write("\r" + self.line(note)[:160] + "\x1b[K")
        self.stream.flush()

    def update(self, run_id: str = "", *, skipped: bool = False) -> None:
        self.done += 1
        if skipped:
            self.skipped += 1
        else:
            self._timed += 1
        if self.live:
            self._draw(run_id)

    def close(self) -> None:
        end = f"{self.done}/{self.total} {self.label} done in {_fmt(self.clock() - self._t0)}"
        if self.skipped:
            end += f" ({self.skipped} skipped: already finished)"
        self.stream.write(("\r\x1b[K" if self.live else "") + end + "\n")
        self.stream.flush()


class CallbackProgress:
    """Adapter: forwards each update to ``fn(done, total, run_id)`` (e.g. a notebook widget)."""

    def __init__(self, fn: Callable[[int, int, str], None]) -> None:
        self.fn = fn
        self.total = 0
        self.done = 0
        self.skipped = 0

    def start(self, total: int, *, skipped: int = 0) -> None:
        self.total, self.done, self.skipped = int(total), int(skipped), int(skipped)
        self.fn(self.done, self.total, "")

    def update(self, run_id: str = "", *, skipped: bool = False) -> None:
        self.done += 1
        self.skipped += int(skipped)
        self.fn(self.done, self.total, run_id)

    def close(self) -> None:
        pass


class _Silent:
    def start(self, total: int, *, skipped: int = 0) -> None:
        pass

    def update(self, run_id: str = "", *, skipped: bool = False) -> None:
        pass

    def close(self) -> None:
        pass


def make_progress(progress: bool | None | Callable | ProgressBar) -> ProgressBar | CallbackProgress | _Silent:
    """None: bar on stderr (live on a TTY, final line otherwise); True: live bar; False: silent;
    a callable ``f(done, total, run_id)``; or a ready progress object."""
    if progress is None:
        return ProgressBar()
    if progress is True:
        return ProgressBar(live=True)
    if progress is False:
        return _Silent()
    if hasattr(progress, "start") and hasattr(progress, "update") and hasattr(progress, "close"):
        return progress
    if callable(progress):
        return CallbackProgress(progress)
    raise ValueError(f"progress must be None, a bool, a callable f(done, total, run_id) "
                     f"or a progress object, got {progress!r}")
