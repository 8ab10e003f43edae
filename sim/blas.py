"""One BLAS thread inside :func:`sim.simulate` and :func:`sim.replay`.

A simulation's metrics (and any BLAS call of the roles) sum in an order that depends on the number
of BLAS threads: with the library's default (one per core) a replay in a notebook differs from the
study runner's ``records.csv`` in the last bits, and on a shared machine the threads only fight over
cores. The entry points therefore pin BLAS to one thread themselves (threadpoolctl, restored on
exit), so a result never depends on the caller's threading.
"""
from __future__ import annotations

import functools
import sys

from threadpoolctl import ThreadpoolController  # installed with scikit-learn

_controller: tuple[int, ThreadpoolController] | None = None


def _blas_controller() -> ThreadpoolController:
    """A controller of the BLAS libraries loaded now. Building one scans the loaded libraries (about
    1 ms), so it is kept while no new module was imported (a new BLAS library arrives with an import)."""
    global _controller
    n = len(sys.modules)
    if _controller is None or _controller[0] != n:
        _controller = (n, ThreadpoolController())
    return _controller[1]


def one_blas_thread(fn):
    """Decorator: run ``fn`` with every loaded BLAS library limited to one thread."""
    @functools.wraps(fn)
    def pinned(*args, **kwargs):
        with _blas_controller().limit(limits=1, user_api="blas"):
            return fn(*args, **kwargs)
    return pinned
