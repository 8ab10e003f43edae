"""``replay``: re-run roles in a trace's recorded order, without simpy.

Given a trace (simulated, logged on a real system, or hand-made with
:meth:`sim.trace.Trace.from_schedule`), replay hands the roles to the trace's protocol
(:mod:`sim.protocols`), which calls the roles in the recorded order -- each read's ``work`` at
the state it read, after the barrier of that version, with worker k's own stream from
``worker_streams(seed, K)`` -- and applies updates in trace order. Freshly constructed roles and
the same seed give params and records bit-identical to the simulation that recorded the trace
(records take sim_time from the trace; epochs from the roles' reported work). Reads still in
flight when the recording run stopped (``IN_FLIGHT`` rows) are computed and never applied, as in
the run. Memory: at most one pending update per worker, O(K d).
"""
from __future__ import annotations

import math

import numpy as np

from algorithms.roles import worker_streams
from sim.blas import one_blas_thread
from sim.driver import RunState, SimResult, check_record_every, check_roles, check_target
from sim.records import RecordSchedule
from sim.trace import Trace


@one_blas_thread
def replay(trace: Trace, roles, *, seed: int | np.random.SeedSequence, record_every: int | RecordSchedule = 1,
           blowup: float = 1e6, target: tuple[str, float] | None = None, engine: str = "python") -> SimResult:
    """Re-run ``roles`` on ``trace``; status "diverged"/"target_reached" end it early as in simulate.

    ``engine="python"`` calls the roles one message at a time; ``engine="fast"`` hands the whole
    schedule to the roles' compiled replay (protocol ``"async"``: roles with ``replay_ops``, e.g.
    Dis-dfSDCA on ridge), returning to Python only at barriers and records -- the same params and
    records bit for bit, at a fraction of the cost per message. To compare algorithms or step
    sizes on the same delays, simulate once and replay the trace with fresh roles::

        res = simulate(DisDfSDCA(problem, K, eta=1e-4, H=100, T=64), cluster, seed=0, budget=budget)
        for eta in (5e-5, 1e-4, 2e-4):
            out = replay(res.trace, DisDfSDCA(problem, K, eta=eta, H=100, T=64), seed=0,
                         record_every=50, engine="fast")

    The same ``seed`` draws the same samples (worker k's stream); another seed draws other samples
    on the same delays. ValueError if the protocol or the roles have no fast engine. BLAS runs on
    one thread during the call (:mod:`sim.blas`), whatever the caller set.
    """
    if engine not in ("python", "fast"):
        raise ValueError(f"engine must be 'python' or 'fast', got {engine!r}")
    if not isinstance(trace, Trace):
        raise ValueError(f"trace must be a sim.trace.Trace, got {type(trace).__name__}")
    proto = check_roles(roles)
    if (roles.K, proto.name, roles.round_length) != (trace.K, trace.protocol, trace.round_length):
        raise ValueError(
            f"roles (K={roles.K}, protocol={roles.protocol!r}, round_length={roles.round_length}) do not match "
            f"the trace (K={trace.K}, protocol={trace.protocol!r}, round_length={trace.round_length})")
    check_record_every(record_every)
    if not (isinstance(blowup, (int, float)) and math.isfinite(blowup) and blowup > 0):
        raise ValueError(f"blowup must be a finite number > 0, got {blowup!r}")
    check_target(target)
    trace.validate()
    rngs = worker_streams(seed, roles.K)
    run = RunState(roles, record_every=record_every, blowup=float(blowup), target=target)
    run.begin()
    if not run.done and len(trace):
        (proto.replay_fast if engine == "fast" else proto.replay)(trace, roles, rngs, run)
    run.end(trace.t_end)
    return SimResult(run.status, run.version, run.t_end, run.epochs, tuple(run.records), trace,
                     roles.read(), run.diverged_at, run.stopped_by)
