"""Executors beyond the local process pool: Dask (``--scheduler ADDRESS`` or ``--scheduler local``).

An executor has the runner's signature ``executor(tasks, fn, on_done) -> list[RunResult]``
(:data:`studies.runner.Executor`): ``fn(task)`` runs on a Dask worker and writes the run's files there,
atomically, exactly as in a local sweep (the results directory must be on a filesystem the workers
share); resume works the same because the runner hands the executor only the runs without a result.

A run whose worker dies (killed, out of memory, a crash in compiled code) is retried once on another
(or the restarted) worker; if that worker dies too, the run is recorded as ``failed`` with the reason.
On a LocalCluster made here the scheduler's own retry is switched off (``allowed-failures`` 0), so "once"
means once; an existing cluster (an address or a Client) applies its own
``distributed.scheduler.allowed-failures`` first.

Dask is optional (``pip install -e '.[dask]'``): this module imports it only when an executor is made.
"""
from __future__ import annotations

import functools
import uuid
from typing import Any

DASK_MISSING = ("--scheduler needs Dask, which is not installed: pip install -e '.[dask]' "
                "(the default local process pool needs nothing)")

#: how many times a run whose worker died is submitted again before it is recorded as failed
WORKER_DEATH_RETRIES = 1


def require_dask() -> None:
    """Raise the one-line ValueError :data:`DASK_MISSING` when Dask's distributed scheduler is not installed."""
    _import_distributed()


def _import_distributed():
    try:
        import distributed
    except ImportError:
        raise ValueError(DASK_MISSING) from None
    return distributed


def dask_executor(scheduler, *, n_workers: int | None = None, processes: bool = True,
                  retries: int = WORKER_DEATH_RETRIES):
    """An executor running each task as a Dask task on the scheduler at ``scheduler`` (``tcp://host:8786``),
    on a LocalCluster for ``"local"`` (``n_workers`` workers of one thread; ``processes=False`` runs them
    as threads of this process), or on an existing ``distributed.Client`` (left open). Raises ValueError
    (one line) without Dask."""
    distributed = _import_distributed()
    if not isinstance(scheduler, distributed.Client) and (not isinstance(scheduler, str) or not scheduler.strip()):
        raise ValueError(f"scheduler must be a Dask scheduler address, 'local' or a distributed.Client, "
                         f"got {scheduler!r}")

    def run(tasks, fn, on_done):
        if not tasks:
            return []
        if isinstance(scheduler, distributed.Client):
            return _gather(distributed, scheduler, tasks, fn, on_done, retries)
        import dask

        cluster = None
        with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
            if scheduler == "local":
                cluster = distributed.LocalCluster(n_workers=n_workers or 1, threads_per_worker=1,
                                                   processes=processes, dashboard_address=None)
                client = distributed.Client(cluster)
            else:
                try:
                    client = distributed.Client(scheduler, timeout="20s")
                except (OSError, TimeoutError) as exc:
                    raise ValueError(f"cannot reach the Dask scheduler at {scheduler!r} ({exc})") from None
        try:
            return _gather(distributed, client, tasks, fn, on_done, retries)
        finally:
            client.close()
            if cluster is not None:
                cluster.close()

    return run


def _gather(distributed, client, tasks, fn, on_done, retries: int) -> list:
    tag = uuid.uuid4().hex[:8]
    attempts: dict[str, int] = {}

    def submit(task):
        attempts[task.run_id] = attempts.get(task.run_id, 0) + 1
        key = f"{task.run_id}-{tag}-{attempts[task.run_id]}"
        return client.submit(fn, task, key=key, pure=False, retries=0)

    futures = {submit(t): t for t in tasks}
    done = distributed.as_completed(list(futures))
    results = []
    try:
        for fut in done:
            task = futures.pop(fut)
            try:
                res = fut.result()
                fut.release()  # the result is on disk: a worker lost later must not recompute the run
            except Exception as exc:  # the worker died (KilledWorker) or the task could not run at all
                if attempts[task.run_id] <= retries:
                    new = submit(task)
                    futures[new] = task
                    done.add(new)
                    continue
                res = record_lost(fn, task, f"{type(exc).__name__}: {exc} (after {attempts[task.run_id]} attempts)")
            on_done(res)
            results.append(res)
    except BaseException:
        for fut in list(futures):  # Ctrl-C: cancel what is queued or running; finished runs are on disk
            fut.cancel()
        raise
    return results


def record_lost(fn, task, error: str) -> Any:
    """The failed RunResult of a task whose workers died, written like any result when ``fn`` is the
    runner's ``execute_task`` (it says where)."""
    from .runner import execute_task, record_failure

    out = setup = None
    if isinstance(fn, functools.partial) and fn.func is execute_task:
        out, setup = fn.keywords.get("out"), fn.keywords.get("setup")
    return record_failure(task, error, out=out, setup=setup)
