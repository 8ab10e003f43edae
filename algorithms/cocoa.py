"""CoCoA+ (Ma et al. 2015), the thesis's synchronous primal-dual baseline (§3.5.1).

Each round every worker k starts from the round's w and runs H SDCA coordinate
steps on its local subproblem with sigma' = K (additive aggregation, gamma = 1):

    G_k(dalpha) = -1/n sum_{i in P_k} phi_i^*(-(alpha_i + dalpha_i)) - lam/(2K) |w|^2
                  - 1/n w^T A_k dalpha - lam sigma'/2 |A_k dalpha / (lam n)|^2 ,

whose coordinate step is eq. 3.4 with margin x_i^T (w + sigma' dw_k) and
curvature sigma' |x_i|^2/(lam n). Worker k keeps its duals; it sends
dw_k = A_k dalpha_k/(lam n) and the server adds w += sum_k dw_k.
With K = 1 (sigma' = 1) a round is H steps of serial SDCA (Alg. 4).

The local solver runs in a compiled kernel (:func:`algorithms.kernels.cocoa_local`) on ridge and
logistic problems alike, bit for bit the iterates of :meth:`CoCoAPlus.work_reference`, the
plain-numpy loop (``engine="numpy"`` makes ``work`` use it).
"""
from __future__ import annotations

import numpy as np

from algorithms.problem import Problem
from algorithms.roles import Message, ParameterServer
from algorithms.sdca import Engine, RowView, check_dual_lam, check_engine, coordinate_delta, loss_kind
from algorithms.shards import check_int, shard_bounds


class CoCoAPlus(ParameterServer):
    """CoCoA+ with an SDCA local solver, protocol "sync" (one read, K messages, one aggregate)."""

    name = "cocoa+"
    protocol = "sync"
    round_length = None
    default_probes = ("objective", "suboptimality", "duality_gap")

    def __init__(self, problem: Problem, K: int, *, H: int, engine: Engine = "numba") -> None:
        self.K = check_int("K", K)
        self.H = check_int("H", H)
        self.engine = check_engine(engine)
        self.samples_per_message = self.H
        self._kind = loss_kind(problem)
        check_dual_lam(problem, "CoCoA+")
        if self.K > problem.n:
            raise ValueError(f"K must be an integer <= n = {problem.n}, got {self.K}")
        self.problem = problem
        self.sigma = float(self.K)  # sigma' = gamma K with gamma = 1 (additive)
        self.epoch_work = float(problem.n)
        bounds = shard_bounds(problem.n, self.K)
        self._offsets = bounds[:-1]
        self._sizes = np.diff(bounds)
        self._rows = RowView(problem.X)
        self._y = np.ascontiguousarray(problem.y, dtype=np.float64)
        self._lam_n = float(problem.lam) * problem.n
        self._curv = self.sigma * self._rows.sq_norms / self._lam_n
        self._alpha = np.zeros(problem.n)
        self._krows = None  # the kernels' view of X, built on the first compiled work()
        super().__init__(np.zeros(problem.d))  # w(alpha^0) = 0, eq. 3.3

    @property
    def alpha(self) -> np.ndarray:
        return self._alpha

    def work(self, k: int, params: np.ndarray, rng: np.random.Generator) -> Message:
        """H local SDCA steps of worker k from the read ``params`` (compiled unless engine="numpy")."""
        if self.engine == "numpy":
            return self.work_reference(k, params, rng)
        from algorithms import kernels

        if self._krows is None:
            self._krows = kernels.Rows(self._rows)
        idx = rng.integers(int(self._sizes[k]), size=self.H) + self._offsets[k]
        w_loc = np.array(params, dtype=np.float64)  # w + sigma' dw, a private contiguous copy
        dw = np.zeros_like(w_loc)
        kernels.cocoa_local(self._krows, self._y, self._curv, self._alpha, w_loc, dw, idx,
                            kernels.LOSS_CODES[self._kind], self._lam_n, self.sigma / self._lam_n)
        return Message(payload=dw, work=self.H, nbytes=self._nbytes)

    def work_reference(self, k: int, params: np.ndarray, rng: np.random.Generator) -> Message:
        """The plain-numpy local solver, the reference of the compiled :meth:`work`."""
        # Coordinate steps depend on each other through w_loc: inherently sequential.
        rows, alpha, y, curv, kind = self._rows, self._alpha, self._y, self._curv, self._kind
        idx = rng.integers(int(self._sizes[k]), size=self.H) + self._offsets[k]
        w_loc = params.copy()  # w + sigma' dw_k
        dw = np.zeros_like(params)
        s_over = self.sigma / self._lam_n
        for i in idx.tolist():
            delta = coordinate_delta(kind, rows.dot(i, w_loc), alpha[i], y[i], curv[i])
            alpha[i] += delta
            rows.axpy(i, delta / self._lam_n, dw)
            rows.axpy(i, s_over * delta, w_loc)
        return Message(payload=dw, work=self.H, nbytes=self._nbytes)

    def apply(self, k: int, msg: Message) -> None:
        """One message's additive contribution w += dw_k (gamma = 1); a round adds all K in worker order."""
        self._w += msg.payload

    def barrier(self) -> np.ndarray:
        return np.zeros(self.K)
