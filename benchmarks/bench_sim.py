"""Simulator benchmarks (not part of the test suite).

    python benchmarks/bench_sim.py [--quick]

1. Server events per second of the async parameter-server protocol with no
   numeric work (no-op roles, d = 1) for K = 4, 64, 1024.
2. Simulation overhead on Dis-dfSDCA (Alg. 6/7; ijcnn1-shaped data, H = 100,
   K = 8): simulate vs replay of the same trace vs a bare numpy loop doing the
   same updates in the same order (plus a "roles loop": the roles' own
   read/work/apply calls in that order, to split the replay overhead into
   sim/'s bookkeeping and the roles' own). Targets: simulate <= 2.0 x replay,
   replay <= 1.3 x bare loop. Every ratio is measured in this one run.
3. Microseconds per message of simulate on the same problem (CPU time, ``time.process_time``, best
   of N interleaved), with the compiled Dis-dfSDCA block (algorithms/block_kernels.py) and with the
   roles' plain-numpy block and a copy per read (the path before the kernels; the same numbers),
   without records (start and end only) and with records as a study takes them (10 per epoch,
   the algorithm's default probes). Target: <= 20 us per message with records.
"""
from __future__ import annotations

import argparse
import time
from typing import Sequence

import numpy as np
from threadpoolctl import threadpool_limits
from timing import best_interleaved  # benchmarks/timing.py (the script's own folder)

from algorithms.roles import Message, worker_streams
from sim import Budget, Cluster, ExponentialSpeed, NearTarget, Network, ThesisStraggler, replay, simulate


class NoOpRoles:
    """Async roles that do nothing numeric: d = 1, zero payload, one unit of work per message."""

    name = "no-op"
    protocol = "async"
    round_length = None
    epoch_work = 1.0

    def __init__(self, K: int) -> None:
        self.K = K
        self._w = np.zeros(1)
        self._payload = np.zeros(1)

    def read(self) -> np.ndarray:
        return self._w

    def work(self, k: int, params: np.ndarray, rng: np.random.Generator) -> Message:
        return Message(self._payload, 1.0, 8)

    def apply(self, k: int, msg: Message) -> None:
        pass

    def aggregate(self, msgs: Sequence[tuple[int, Message]]) -> None:
        pass

    def barrier(self) -> np.ndarray:
        return np.zeros(self.K)

    def metrics(self) -> dict[str, float]:
        return {"objective": 0.0}


def _best(fn, repeats: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def bench_events(quick: bool) -> None:
    updates = 20_000 if quick else 200_000
    print(f"\n1. async PS, no-op roles (d=1), exponential speeds + latency, {updates} server events")
    print(f"{'K':>6} {'wall s':>9} {'events/s':>12} {'us/event':>10}")
    for K in (4, 64, 1024):
        cluster = Cluster.homogeneous(K, speed=ExponentialSpeed(1.0), network=Network(ExponentialSpeed(0.01)))
        wall, res = _best(lambda: simulate(NoOpRoles(K), cluster, seed=0, budget=Budget(max_updates=updates),
                                           record_every=updates), 2 if quick else 3)
        assert res.step == updates
        print(f"{K:>6} {wall:>9.3f} {updates / wall:>12,.0f} {1e6 * wall / updates:>10.2f}")


def bare_dfsdca(problem, K: int, eta: float, H: int, trace, seed: int) -> np.ndarray:
    """Dis-dfSDCA updates (eqs. 3.5-3.8, ridge loss) in the trace's order, plain numpy, no roles/Message."""
    X, y, n, lam = problem.X, problem.y, problem.n, float(problem.lam)
    q, r = divmod(n, K)
    sizes = np.full(K, q)
    sizes[:r] += 1
    offsets = np.concatenate(([0], np.cumsum(sizes)))[:-1]
    rngs = worker_streams(seed, K)
    step = eta * lam * n
    alpha = np.zeros(n)
    w = np.zeros(problem.d)
    msg = trace.kind == 0
    rows = np.flatnonzero(msg)
    workers = trace.worker[rows]
    vread = trace.version_read[rows]
    order = np.argsort(vread, kind="stable")
    pending = [None] * K
    p = 0
    p_star = problem.solution().value

    def metrics():  # the same three numbers replay records at version 0 and at the end
        val = problem.value(w)
        return val, val - p_star, problem.duality_gap(alpha)

    metrics()
    for v in range(len(rows)):
        while p < len(order) and vread[order[p]] == v:
            k = int(workers[order[p]])
            idx = rngs[k].choice(int(sizes[k]), size=H, replace=False) + offsets[k]
            Xi = X[idx]
            kappa = Xi @ w - y[idx] + alpha[idx]
            alpha[idx] -= step * kappa
            pending[k] = Xi.T @ kappa
            p += 1
        w -= eta * pending[int(workers[v])]
    metrics()
    return w


def roles_loop(roles, trace, seed: int) -> np.ndarray:
    """The roles' own calls (read / work / apply) in the trace's order, with no driver bookkeeping."""
    K = roles.K
    rngs = worker_streams(seed, K)
    rows = np.flatnonzero(trace.kind == 0)
    workers = trace.worker[rows]
    vread = trace.version_read[rows]
    order = np.argsort(vread, kind="stable")
    pending = [None] * K
    p = 0
    roles.metrics()  # the records replay makes at version 0 and at the end
    for v in range(len(rows)):
        while p < len(order) and vread[order[p]] == v:
            k = int(workers[order[p]])
            pending[k] = roles.work(k, roles.read(), rngs[k])
            p += 1
        k = int(workers[v])
        roles.apply(k, pending[k])
    roles.metrics()
    return roles.read()


def bench_overhead(quick: bool) -> None:
    from algorithms.datasets import get_dataset
    from algorithms.dfsdca import DisDfSDCA
    from algorithms.registry import make_problem

    K, H, T, eta, seed = 8, 100, 64, 1e-4, 0
    updates = 10_000 if quick else 60_000
    repeats = 3 if quick else 5
    data = get_dataset("ijcnn1", seed=0)
    problem = make_problem("ridge", data, lam=0.1)
    problem.solution()  # cached: keep the one-off solve out of the timings
    cluster = Cluster.homogeneous(K, speed=ExponentialSpeed(1.0), network=Network(ExponentialSpeed(0.05)),
                                  straggler=ThesisStraggler())

    def roles():
        return DisDfSDCA(problem, K, eta=eta, H=H, T=T)

    budget = Budget(max_updates=updates)
    res = simulate(roles(), cluster, seed=seed, budget=budget, record_every=updates)
    timed = best_interleaved({
        "simulate": lambda: simulate(roles(), cluster, seed=seed, budget=budget, record_every=updates),
        "replay": lambda: replay(res.trace, roles(), seed=seed, record_every=updates),
        "roles loop": lambda: roles_loop(roles(), res.trace, seed),
        "bare loop": lambda: bare_dfsdca(problem, K, eta, H, res.trace, seed),
    }, repeats)
    (t_sim, _), (t_rep, rep), (t_roles, _), (t_bare, w) = timed.values()
    same = np.array_equal(res.params, rep.params)
    close = np.allclose(w, rep.params, rtol=1e-10, atol=1e-12)
    print(f"\n2. Dis-dfSDCA on ijcnn1-shaped ridge (n={problem.n}, d={problem.d}), K={K}, H={H}, T={T}, "
          f"{updates} messages, record_every={updates}")
    print(f"{'':>10} {'wall s':>9} {'us/msg':>9}")
    for name, t in (("simulate", t_sim), ("replay", t_rep), ("roles loop", t_roles), ("bare loop", t_bare)):
        print(f"{name:>10} {t:>9.3f} {1e6 * t / updates:>9.1f}")
    r1, r2 = t_sim / t_rep, t_rep / t_bare
    print(f"simulate / replay = {r1:.2f}  (target <= 2.0: {'met' if r1 <= 2.0 else 'MISSED'})")
    print(f"replay / bare     = {r2:.2f}  (target <= 1.3: {'met' if r2 <= 1.3 else 'MISSED'})")
    print(f"  of which: replay / roles loop = {t_rep / t_roles:.2f} (driver bookkeeping in sim/), "
          f"roles loop / bare = {t_roles / t_bare:.2f} (DisDfSDCA.work/apply and Problem calls)")
    print(f"replay params == simulate params bit for bit: {same}; bare loop == replay (1e-10): {close}")


def bench_messages(quick: bool) -> None:
    from algorithms.datasets import get_dataset
    from algorithms.dfsdca import DisDfSDCA
    from algorithms.registry import make_problem

    class NumpyDisDfSDCA(DisDfSDCA):  # the plain-numpy block, a copy per read: the roles before the kernels
        work_now = None

        def work(self, k, params, rng):
            return self.work_numpy(k, params, rng)

    K, H, T, eta, seed = 8, 100, 64, 1e-4, 0
    updates = 5_000 if quick else 30_000
    repeats = 3 if quick else 5
    problem = make_problem("ridge", get_dataset("ijcnn1", seed=0), lam=0.1)
    problem.solution()
    cluster = Cluster.homogeneous(K, speed=ExponentialSpeed(1.0), network=Network(ExponentialSpeed(0.05)),
                                  straggler=ThesisStraggler())
    study_every = int(problem.n / H / 10)
    simulate(DisDfSDCA(problem, K, eta=eta, H=H, T=T), cluster, seed=seed, budget=Budget(max_updates=50))  # compile
    budget = Budget(max_updates=updates)
    # records as the studies take them: ch3-gap's 10 per epoch ("epoch"), and ch3-speedup's "near_target" (the
    # same grid, dense only near its target, the duality gap at 1e-4 of its start; a run to the target)
    gap0 = DisDfSDCA(problem, K, eta=eta, H=H, T=T).metrics()["duality_gap"]
    to_target = Budget(max_updates=20 * updates, target=("duality_gap", 1e-4 * gap0))
    near = NearTarget(study_every, ratio=1.5, margin=10.0)  # studies.runner's records="near_target"
    rows = (("start+end", updates, budget), (f"every {study_every}", study_every, budget),
            (f"every {study_every}, to target", study_every, to_target), ("near_target, to target", near, to_target))
    fns = {}
    for label, every, bud in rows:
        for kind, cls in (("compiled", DisDfSDCA), ("numpy", NumpyDisDfSDCA)):
            fns[(label, kind)] = (lambda cls=cls, every=every, bud=bud: simulate(
                cls(problem, K, eta=eta, H=H, T=T), cluster, seed=seed, budget=bud, record_every=every))
    best, out = {key: float("inf") for key in fns}, {}
    for _ in range(repeats):
        for key, fn in fns.items():
            t0 = time.process_time()
            out[key] = fn()
            best[key] = min(best[key], time.process_time() - t0)
    print(f"\n3. simulate of Dis-dfSDCA, ijcnn1-shaped ridge, K={K}, H={H}, T={T}, {updates} messages (or to the "
          f"target), CPU us/message")
    print(f"{'records':>26} {'messages':>9} {'numpy block':>12} {'compiled':>10} {'ratio':>7} {'identical':>10}")
    per = {}
    for label, _, _ in rows:
        a, b = out[(label, "numpy")], out[(label, "compiled")]
        same = np.array_equal(a.params, b.params) and a.records == b.records
        ta, tb = (1e6 * best[(label, kind)] / b.step for kind in ("numpy", "compiled"))
        per[label] = tb
        print(f"{label:>26} {b.step:>9} {ta:>12.1f} {tb:>10.1f} {ta / tb:>7.2f} {str(same):>10}")
    g, n = out[(rows[2][0], "compiled")], out[(rows[3][0], "compiled")]
    assert (g.status, g.step, g.sim_time) == (n.status, n.step, n.sim_time) and np.array_equal(g.params, n.params), \
        "near_target did not stop where the grid did"
    print(f"near_target stopped where every {study_every} did ({g.status} at message {g.step}): True")
    for label in (rows[2][0], rows[3][0]):
        print(f"target <= 20 us/message with records as a study takes them ({label}): "
              f"{'met' if per[label] <= 20 else 'MISSED'} ({per[label]:.1f})")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (seconds)")
    args = parser.parse_args(argv)
    bench_events(args.quick)
    bench_overhead(args.quick)
    bench_messages(args.quick)
    return 0


if __name__ == "__main__":
    # One BLAS thread, as in every study run (studies.runner): on 2 shared cores a
    # threaded 50k x 22 mat-vec is ~10x slower and would swamp what is measured.
    with threadpool_limits(limits=1, user_api="blas"):
        raise SystemExit(main())
