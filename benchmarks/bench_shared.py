"""Shared-memory simulation overhead (not part of the test suite).

    python benchmarks/bench_shared.py [--quick]

Shared-AsySVRG (thesis Alg. 1, eqs. 2.4-2.6; ``algorithms.asysvrg.SharedAsySVRG``) on protocol
"shared-memory" (``sim/protocols/shared_memory.py``) with P = 1, 4, 16 threads, on
(a) l2-logistic regression on ijcnn1-shaped data (d = 22) and (b) the digits10 MLP 64 x 100 x 10
(d = 7,510), each writing all coordinates (coords=None) or a random subset (1,000 coordinates as
in §2.5.1 where d allows it, else d // 8). A fixed number of updates, done three ways:

1. ``simulate`` (records only at the start and the end: record_every = 10**9, probe "objective");
2. ``replay`` of that trace with fresh roles (params checked bit-identical to simulate);
3. a bare numpy loop: the same per-update work in the trace's order -- snapshot and full gradient
   at each barrier, each read rebuilt with ``inconsistent_read`` from the trace's J(t), I_t and k_t
   drawn from the same per-thread Generators, eq. 2.5 at that read, the lock-free write (eq. 2.4)
   -- with no simpy, no roles and no RunState: the cost floor of the numerics (its params are
   checked bit-identical to replay too, so all three do the same arithmetic).

Time model: thread speeds exponential with mean 1 us per gradient evaluation; the memory is a
``Network`` with no latency and a per-byte cost making a read of the d-vector last a quarter of
an update's mean compute (2 b us), writes cost their bytes; channels unlimited. Reports us per
update of each, the ratios simulate / replay and replay / bare measured in this one run (best of
N short runs, interleaved), the trace's realised Delta (max delay, Assumption 2.2.4) and the
fraction of reads that were inconsistent (J(t) lists a write that committed during the read and
was missed on the coordinates below a cut q < d, eq. 2.6).
"""
from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
from threadpoolctl import threadpool_limits
from timing import best_interleaved  # benchmarks/timing.py (the script's own folder)

from algorithms.asysvrg import SharedAsySVRG
from algorithms.roles import worker_streams
from sim import Budget, Cluster, ExponentialSpeed, Network, replay, simulate, staleness_stats
from sim.protocols.base import reads_after
from sim.protocols.shared_memory import inconsistent_read
from sim.trace import BARRIER, MESSAGE

NEVER = 10**9  # record_every: metrics only at version 0 and at the end
TIME_PER_EVAL = 1e-6  # mean simulated seconds per gradient evaluation
READ_FRACTION = 0.25  # a read of the d-vector lasts this fraction of an update's mean compute


@dataclass(frozen=True)
class Case:
    """One problem of the benchmark: the problem, its batch gradient for the bare loop, hyper-parameters."""

    label: str
    problem: object
    batch_grad: Callable[[np.ndarray, np.ndarray], np.ndarray]
    eta: float
    batch: int
    m: int

    @property
    def coord_choices(self) -> tuple[int | None, int]:
        d = self.problem.d
        return None, (1000 if d >= 4000 else max(1, d // 8))


def linear_batch_grad(problem) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """_LinearProblem.batch_grad's arithmetic (same bits) without its argument checks."""
    X, lam, dloss = problem.X, problem.lam, problem.dloss

    def batch_grad(w: np.ndarray, idx: np.ndarray) -> np.ndarray:
        Xb = X[idx]
        return (Xb.T @ dloss(Xb @ w, idx, check_input=False)) / idx.size + lam * w

    return batch_grad


def make_cases() -> list[Case]:
    from algorithms.datasets import get_dataset
    from algorithms.registry import make_problem

    logistic = make_problem("logistic", get_dataset("ijcnn1", scale=0.2, seed=0), lam=1e-4)
    mlp = make_problem("mlp", get_dataset("digits10", seed=0), lam=1e-3, hidden=(100,))
    # The MLP's checks are a fast path (a valid int64 batch): its public batch_grad is the floor.
    return [Case("logistic ijcnn1", logistic, linear_batch_grad(logistic), eta=0.1, batch=10, m=1000),
            Case("mlp digits10", mlp, mlp.batch_grad, eta=0.05, batch=10, m=150)]


def cluster_for(P: int, d: int, batch: int) -> Cluster:
    per_byte = READ_FRACTION * 2 * batch * TIME_PER_EVAL / (8 * d)
    return Cluster.homogeneous(P, speed=ExponentialSpeed(TIME_PER_EVAL),
                               network=Network(latency=0.0, per_byte=per_byte))


def bare_shared_svrg(case: Case, trace, *, coords: int | None, seed: int) -> np.ndarray:
    """Alg. 1's updates in the trace's order in plain numpy (module docstring, item 3)."""
    problem, grad = case.problem, case.batch_grad
    n, d, b, eta = problem.n, problem.d, case.batch, float(case.eta)
    rngs = worker_streams(seed, trace.K)
    kind, worker, vs = trace.kind.tolist(), trace.worker.tolist(), trace.version_seen.tolist()
    a = trace.arrays
    ptr, m_write, m_cut = a["missed_ptr"].tolist(), a["missed_write"].tolist(), a["missed_cut"].tolist()
    after = reads_after(trace, "version_seen")
    # Each read's partially missed writes (those committed during it), and the row after which a
    # write's old values are last needed: only those are kept, and only that long.
    partial: dict[int, list[tuple[int, int]]] = {}
    last_use: dict[int, int] = {}
    for i in range(trace.n_events):
        for r in after[i]:
            partial[r] = [(m_write[e], m_cut[e]) for e in range(ptr[r], ptr[r + 1]) if m_write[e] < vs[r]]
            for j, _ in partial[r]:
                last_use[j] = i
    expire: dict[int, list[int]] = {}
    for j, i in last_use.items():
        expire.setdefault(i, []).append(j)
    w = problem.initial_point()
    w_tilde = mu = None
    history: dict = {}  # write j -> (index, the values it overwrote) while a later read needs them
    pending: list = [None] * trace.K
    version = 0
    problem.value(w)  # the two records simulate and replay make
    for i in range(trace.n_events):
        if kind[i] == BARRIER:
            w_tilde = w.copy()
            mu = problem.grad(w_tilde)
        else:
            index, step = pending[worker[i]]
            if version in last_use:
                history[version] = (None, w.copy()) if index is None else (index, w[index])
            if index is None:
                w -= step
            else:
                w[index] -= step
            version += 1
        for r in after[i]:
            # computed at once, before any later write: a consistent read needs no copy
            w_hat = inconsistent_read(w, partial[r], history) if partial[r] else w
            rng = rngs[worker[r]]
            idx = rng.integers(n, size=b)
            v = grad(w_hat, idx) - grad(w_tilde, idx)
            v += mu
            if coords is None:
                pending[worker[r]] = (None, eta * v)
            else:
                k = rng.choice(d, size=coords, replace=False)
                k.sort()
                pending[worker[r]] = (k, eta * v[k])
        for j in expire.get(i, ()):
            del history[j]
    problem.value(w)
    return w


def inconsistent_fraction(trace) -> float:
    """Fraction of applied updates whose read missed, on the coordinates below a cut q < d, a write
    that committed during the read (J(t) entries with j < version_seen: eq. 2.6's mixed versions)."""
    a, d = trace.arrays, int(trace.meta["d"])
    ptr = a["missed_ptr"]
    row = np.repeat(np.arange(len(trace)), np.diff(ptr))
    partial = (a["missed_write"] < trace.version_seen[row]) & (a["missed_cut"] < d)
    hit = np.zeros(len(trace), dtype=bool)
    hit[row[partial]] = True
    msgs = trace.kind == MESSAGE
    return float(hit[msgs].mean()) if msgs.any() else 0.0


def bench_case(case: Case, P: int, coords: int | None, updates: int, repeats: int, seed: int = 0) -> dict:
    cluster = cluster_for(P, case.problem.d, case.batch)

    def roles():
        return SharedAsySVRG(case.problem, P, eta=case.eta, batch=case.batch, m=case.m,
                             coords=coords).use_probes(["objective"])

    budget = Budget(max_updates=updates)
    res = simulate(roles(), cluster, seed=seed, budget=budget, record_every=NEVER)
    if res.step != updates:
        raise RuntimeError(f"{case.label} P={P} coords={coords}: run ended {res.status} at {res.step}")
    timed = best_interleaved({
        "simulate": lambda: simulate(roles(), cluster, seed=seed, budget=budget, record_every=NEVER),
        "replay": lambda: replay(res.trace, roles(), seed=seed, record_every=NEVER),
        "bare": lambda: bare_shared_svrg(case, res.trace, coords=coords, seed=seed),
    }, repeats)
    (t_sim, sim2), (t_rep, rep), (t_bare, w) = timed.values()
    assert np.array_equal(sim2.params, res.params), "simulate is not deterministic"
    assert np.array_equal(rep.params, res.params), "replay params differ from simulate's"
    assert np.array_equal(w, res.params), "the bare loop's params differ from simulate's"
    return {"sim": t_sim / updates, "rep": t_rep / updates, "bare": t_bare / updates,
            "delta": staleness_stats(res.trace).max, "incons": inconsistent_fraction(res.trace)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (seconds)")
    args = parser.parse_args(argv)
    quick = args.quick
    # many short interleaved runs rather than a few long ones: on a shared machine the best of
    # each then more likely falls in a quiet moment
    repeats = 3 if quick else 7
    updates = {"logistic ijcnn1": 1_000 if quick else 4_000, "mlp digits10": 400 if quick else 1_200}
    print(f"Shared-AsySVRG (Alg. 1) on protocol shared-memory: us per update, best of {repeats}; "
          f"read = {READ_FRACTION:g} x an update's mean compute; bit-identical params in all three")
    head = (f"{'problem':<16} {'d':>5} {'b':>3} {'m':>5} {'P':>3} {'coords':>6} {'updates':>7} {'simulate':>9} "
            f"{'replay':>8} {'bare':>7} {'sim/rep':>8} {'rep/bare':>8} {'sim/bare':>8} {'Delta':>5} {'incons':>6}")
    print(head)
    t_start = time.perf_counter()
    for case in make_cases():
        case.problem.initial_point()  # cached draws: keep one-off set-up out of the timings
        U = updates[case.label]
        for P in (1, 4, 16):
            for coords in case.coord_choices:
                r = bench_case(case, P, coords, U, repeats)
                print(f"{case.label:<16} {case.problem.d:>5} {case.batch:>3} {case.m:>5} {P:>3} "
                      f"{'all' if coords is None else coords:>6} {U:>7} {1e6 * r['sim']:>9.1f} "
                      f"{1e6 * r['rep']:>8.1f} {1e6 * r['bare']:>7.1f} {r['sim'] / r['rep']:>8.2f} "
                      f"{r['rep'] / r['bare']:>8.2f} {r['sim'] / r['bare']:>8.2f} {r['delta']:>5} "
                      f"{r['incons']:>6.2f}", flush=True)
    print(f"total wall {time.perf_counter() - t_start:.0f} s")
    return 0


if __name__ == "__main__":
    # One BLAS thread, as in every study run (studies.runner) and bench_sim.py.
    with threadpool_limits(limits=1, user_api="blas"):
        raise SystemExit(main())
