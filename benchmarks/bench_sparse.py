"""Sparse data stays sparse: Dis-dfSDCA (Alg. 6/7) on rcv1-shaped CSR data (not part of the test suite).

    python benchmarks/bench_sparse.py [--scale 1.0] [--quick] [--repeat 3]

The synthetic rcv1-shaped ridge problem (``algorithms.datasets``, Table 2: n = 677,399 at scale 1,
d = 47,236, 0.16 % non-zero, CSR), K = 16, H = 100, T = 8K, exponential speeds and latency, the
thesis's straggler. Reports

* **per-message CPU time of simulate** (``time.process_time``: the machine is shared), by differencing two runs (U1 and U2 messages, records only at
  the start and the end, probe ``objective``), so the fixed costs (setup, the two records) cancel;
  each the best of ``--repeat`` runs (a shared machine's load only ever adds time);
* **peak traced memory** (tracemalloc, in a first pass: it slows allocations, so the timings run
  without it) over building the problem and a run, and over the run alone, each as a multiple of the CSR matrix's bytes (data + indices + indptr).

Run it on two trees (``PYTHONPATH=<tree>``) to compare before and after: it uses only public APIs.
"""
from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np
from threadpoolctl import threadpool_limits


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--quick", action="store_true", help="scale 0.05, fewer messages")
    ap.add_argument("--repeat", type=int, default=3, help="best of this many timed runs of each length")
    args = ap.parse_args(argv)
    scale = 0.05 if args.quick else args.scale
    U1, U2 = (200, 1200) if args.quick else (300, 2300)
    from algorithms.datasets import get_dataset
    from algorithms.dfsdca import DisDfSDCA
    from algorithms.registry import make_problem
    from sim import Budget, Cluster, ExponentialSpeed, Network, ThesisStraggler, simulate

    K, H = 16, 100
    tracemalloc.start()
    t0 = time.perf_counter()
    problem = make_problem("ridge", get_dataset("rcv1", seed=0, scale=scale), lam=0.1)
    t_build = time.perf_counter() - t0
    X = problem.X
    csr = X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
    cluster = Cluster.homogeneous(K, speed=ExponentialSpeed(1.0), network=Network(ExponentialSpeed(0.05)),
                                  straggler=ThesisStraggler())

    def run(U: int):
        roles = DisDfSDCA(problem, K, eta=1e-5, H=H, T=8 * K)
        roles.use_probes(["objective"])
        t = time.process_time()
        res = simulate(roles, cluster, seed=0, budget=Budget(max_updates=U), record_every=U)
        return time.process_time() - t, res

    run(50)  # warm-up (compiles the kernels on first use)
    _, peak_build = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    base, _ = tracemalloc.get_traced_memory()
    run(U1)
    _, peak_run = tracemalloc.get_traced_memory()
    tracemalloc.stop()  # it slows every allocation: time without it
    best = {}
    for _ in range(max(1, args.repeat)):
        for U in (U1, U2):
            t, res = run(U)
            best[U] = min(best.get(U, np.inf), t)
    per_msg = (best[U2] - best[U1]) / (U2 - U1)
    print(f"rcv1-shaped ridge, scale {scale:g}: n={problem.n}, d={problem.d}, nnz={X.nnz}, CSR {csr / 2**20:.1f} MiB "
          f"(built in {t_build:.1f} s); Dis-dfSDCA K={K}, H={H}, T={8 * K}")
    print(f"simulate: {best[U1]:.3f} s for {U1} messages, {best[U2]:.3f} s for {U2}: {1e6 * per_msg:.1f} us/message "
          f"(one epoch = {problem.n / H:.0f} messages = {per_msg * problem.n / H:.2f} s)")
    print(f"peak traced memory: build + warm-up {peak_build / csr:.2f} x CSR, "
          f"the runs {(peak_run - base) / csr:.3f} x CSR above what was live before them; "
          f"overall {max(peak_build, peak_run) / csr:.2f} x CSR")
    print(f"final objective after {U2} messages: {res.records[-1][4]!r}")
    return 0


if __name__ == "__main__":
    with threadpool_limits(limits=1, user_api="blas"):
        raise SystemExit(main())
