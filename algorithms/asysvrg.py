"""Shared-AsySVRG (thesis Alg. 1, eqs. 2.4-2.6), lock-free SGD, and their serial references.

Alg. 1, one epoch s: snapshot w_tilde = w and mu = grad f(w_tilde) (lines 2-3); then m inner
iterations, each by some thread: draw a mini-batch I_t of {1..n} (uniform, with replacement), compute

    v_t = 1/|I_t| sum_{i in I_t} (grad f_i(w_hat_t) - grad f_i(w_tilde)) + mu         (eq. 2.5)
        = batch_grad(w_hat_t, I_t) - batch_grad(w_tilde, I_t) + mu,

draw the coordinates k_t and write (w)_{k_t} -= eta (v_t)_{k_t} without a lock (eq. 2.4). w_hat_t
is the thread's inconsistent read of the shared vector (eq. 2.6), built by the shared-memory
protocol. Theorem 2.3.1 analyses one coordinate per iteration (``coords=1``); the experiment of
§2.5.1 writes 1,000 random coordinates (``coords=1000``); ``coords=None`` writes all d.

Random stream (per thread, and identical in the serial loops): per inner iteration
``I_t = rng.integers(n, size=batch)``, then, if coords is not None,
``k_t = sort(rng.choice(d, size=coords, replace=False))``. Nothing else draws.

Work units (gradient evaluations): an SVRG step 2b, an SGD step b, a full gradient n (split over
the threads as evenly as possible). Epochs are work / n, as the simulator counts them, full
gradients included; a step rule (``Polynomial`` of §2.5.1) sees that epoch at apply time.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from algorithms.problem import Problem
from algorithms.roles import Message, ParamsHolder
from algorithms.shards import check_int, shard_bounds
from algorithms.steps import StepRule, as_step_rule
from algorithms.svrg import CH2_PROBES, ScheduledSteps, SVRGPhases, apply_step, check_coords_rule

__all__ = ["SerialRun", "svrg", "sgd", "SharedAsySVRG", "SharedAsySGD"]


# --- shared checks and draws ------------------------------------------------------------------
def _check_problem(problem: object) -> Problem:
    if not isinstance(problem, Problem):
        raise ValueError(f"problem must be an algorithms.problem.Problem, got {type(problem).__name__}")
    return problem


def _check_coords(coords: object, d: int) -> int | None:
    if coords is None:
        return None
    c = check_int("coords", coords)
    if c > d:
        raise ValueError(f"coords must be None (all coordinates) or an integer in [1, d = {d}], got {coords!r}")
    return c


def _check_rng(rng: object) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    return rng


def _start(problem: Problem, w0: np.ndarray | None) -> np.ndarray:
    w = np.array(problem.initial_point() if w0 is None else w0, dtype=np.float64)  # a private copy
    if w.shape != (problem.d,):
        raise ValueError(f"w0 must have shape (d,) = ({problem.d},), got {w.shape}")
    return w


def _draw_coords(rng: np.random.Generator, d: int, coords: int | None) -> np.ndarray | None:
    """k_t: ``coords`` distinct coordinates, sorted (None = all d, no draw)."""
    if coords is None:
        return None
    k = rng.choice(d, size=coords, replace=False)
    k.sort()
    return k.astype(np.int64, copy=False)


def _svrg_direction(problem: Problem, w: np.ndarray, w_tilde: np.ndarray, mu: np.ndarray,
                    idx: np.ndarray) -> np.ndarray:
    """v of eq. 2.5 (the arithmetic of AsyncSVRG.work, so serial and parallel runs agree bit for bit)."""
    v = problem.batch_grad(w, idx) - problem.batch_grad(w_tilde, idx)
    v += mu
    return v


# --- serial references ------------------------------------------------------------------------
@dataclass(frozen=True)
class SerialRun:
    """Outcome of a serial run: final ``w``, the ``updates`` applied, ``status`` ("finished" or
    "diverged": a recorded objective or the final w was not finite), and the records: ``epoch``
    (work / n, full gradients included) and ``objective`` f(w) at the start and after every epoch."""

    w: np.ndarray
    updates: int
    status: str
    epoch: np.ndarray
    objective: np.ndarray

    def __post_init__(self) -> None:
        if self.status not in ("finished", "diverged"):
            raise ValueError(f"status must be 'finished' or 'diverged', got {self.status!r}")
        if len(self.epoch) != len(self.objective):
            raise ValueError(f"objective must have one entry per recorded epoch ({len(self.epoch)}), "
                             f"got {len(self.objective)}")


class _Recorder:
    def __init__(self, problem: Problem, record: bool) -> None:
        self.problem, self.on = problem, bool(record)
        self.epoch: list[float] = []
        self.objective: list[float] = []

    def __call__(self, w: np.ndarray, epoch: float) -> bool:
        """Record f(w) (if recording); False if it is not finite (the run diverged)."""
        if not self.on:
            return True
        f = float(self.problem.value(w))
        self.epoch.append(epoch)
        self.objective.append(f)
        return math.isfinite(f)

    def result(self, w: np.ndarray, updates: int, ok: bool) -> SerialRun:
        status = "finished" if ok and bool(np.all(np.isfinite(w))) else "diverged"
        return SerialRun(w, updates, status, np.array(self.epoch), np.array(self.objective))


def svrg(problem: Problem, *, eta: float | StepRule, batch: int, m: int, epochs: int,
         rng: np.random.Generator, coords: int | None = None, w0: np.ndarray | None = None,
         record: bool = True) -> SerialRun:
    """Serial SVRG: Alg. 1 with one thread (w_hat = w), ``epochs`` outer iterations of m steps each.

    Per epoch: w_tilde = w, mu = grad f(w_tilde) (n evaluations). Per step: I_t, then k_t (module
    docstring), v = eq. 2.5 at w, w[k_t] -= eta v[k_t] (eq. 2.4; all of w when ``coords`` is None).
    ``eta`` is a number or a step rule (a scalar schedule when ``coords`` is given); it sees
    epoch = work / n. Starts from ``w0`` (default ``problem.initial_point()``); records f(w) at the
    start and after every outer iteration when ``record``.
    """
    problem = _check_problem(problem)
    rule = as_step_rule(eta, name="eta")
    batch, m = check_int("batch", batch), check_int("m", m)
    epochs = check_int("epochs", epochs, low=0)
    coords = _check_coords(coords, problem.d)
    check_coords_rule(rule, "eta", coords)
    rng = _check_rng(rng)
    w = _start(problem, w0)
    n, d = problem.n, problem.d
    state, work, updates = rule.init(w), 0.0, 0
    rec = _Recorder(problem, record)
    ok = rec(w, 0.0)
    for _ in range(epochs if ok else 0):
        w_tilde = w.copy()
        mu = np.asarray(problem.grad(w_tilde), dtype=np.float64)
        work += n
        for _ in range(m):
            idx = rng.integers(n, size=batch)
            k = _draw_coords(rng, d, coords)
            v = _svrg_direction(problem, w, w_tilde, mu, idx)
            state = apply_step(rule, state, w, v if k is None else v[k], work / n, k)
            work += 2 * batch
            updates += 1
        if not rec(w, work / n):
            ok = False
            break
    return rec.result(w, updates, ok)


def sgd(problem: Problem, *, eta: float | StepRule, batch: int, epochs: float | None = None,
        rng: np.random.Generator, coords: int | None = None, w0: np.ndarray | None = None,
        updates: int | None = None, record: bool = True) -> SerialRun:
    """Serial mini-batch SGD: v = batch_grad(w, I_t), w[k_t] -= eta_s v[k_t] (the draws of the module docstring).

    Runs ``updates`` steps, or ceil(epochs n / batch) steps, i.e. until ``epochs`` epochs of work
    (give exactly one). ``eta`` is a number or a step rule (e.g. ``Polynomial(alpha, beta)``,
    eta_s = alpha/(1+s)^beta, §2.5.1); the t-th step (0-based) sees epoch = t batch / n. Records f(w)
    at the start, whenever an integer epoch is crossed, and at the end when ``record``.
    """
    problem = _check_problem(problem)
    rule = as_step_rule(eta, name="eta")
    batch = check_int("batch", batch)
    n, d = problem.n, problem.d
    if (epochs is None) == (updates is None):
        raise ValueError(f"exactly one of epochs and updates must be given, got epochs={epochs!r}, "
                         f"updates={updates!r}")
    if updates is not None:
        T = check_int("updates", updates, low=0)
    else:
        ok_type = not isinstance(epochs, (bool, np.bool_)) and isinstance(
            epochs, (int, float, np.integer, np.floating))
        if not (ok_type and math.isfinite(epochs) and epochs >= 0):
            raise ValueError(f"epochs must be a finite number >= 0, got {epochs!r}")
        T = -(-int(epochs) * n // batch) if float(epochs).is_integer() else math.ceil(epochs * n / batch)
    coords = _check_coords(coords, d)
    check_coords_rule(rule, "eta", coords)
    rng = _check_rng(rng)
    w = _start(problem, w0)
    state, work = rule.init(w), 0.0
    rec = _Recorder(problem, record)
    ok, t = rec(w, 0.0), 0
    while ok and t < T:
        idx = rng.integers(n, size=batch)
        k = _draw_coords(rng, d, coords)
        v = problem.batch_grad(w, idx)
        state = apply_step(rule, state, w, v if k is None else v[k], work / n, k)
        before, work, t = work, work + batch, t + 1
        if (work // n > before // n or t == T) and not rec(w, work / n):
            ok = False
    return rec.result(w, t, ok)


# --- roles for protocol "shared-memory" ---------------------------------------------------------
class _SharedMemoryRoles(ScheduledSteps, ParamsHolder):
    """What the shared-memory roles share: the shared vector, the random draws, the applied work."""

    protocol = "shared-memory"
    default_probes = CH2_PROBES

    def _init_shared(self, problem: Problem, K: int, batch: int, coords: int | None) -> None:
        self.problem = _check_problem(problem)
        self.K = check_int("K", K)
        self.batch = check_int("batch", batch)
        self.samples_per_message = self.batch
        self.coords = _check_coords(coords, problem.d)
        self.epoch_work = float(problem.n)
        ParamsHolder.__init__(self, _start(problem, None))
        # the full gradient's n evaluations split over the K threads (sizes differ by at most 1)
        self._shares = np.diff(shard_bounds(problem.n, self.K)).astype(np.float64)
        # a write carries its values and, for a coordinate subset, their int64 indices
        self._nbytes = 8 * problem.d if self.coords is None else 16 * self.coords
        self._work = 0.0  # gradient evaluations applied: writes and barriers

    @property
    def shared(self) -> np.ndarray:
        """The live shared parameter vector (a view; only ``apply`` and ``barrier`` change it)."""
        return self._w

    def _draw(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None]:
        idx = rng.integers(self.problem.n, size=self.batch)
        return idx, _draw_coords(rng, self.problem.d, self.coords)

    def _message(self, v: np.ndarray, k: np.ndarray | None, work: float) -> Message:
        return Message(payload=v if k is None else v[k], work=work, nbytes=self._nbytes, index=k)


class SharedAsySVRG(SVRGPhases, _SharedMemoryRoles):
    """Shared-AsySVRG (Alg. 1) as roles for protocol "shared-memory": K threads, round_length = m.

    ``work(p, w_hat, rng_p)``: thread p draws I_t then k_t from its own stream and returns a
    message whose ``index`` is k_t (None = all d) and whose ``payload`` is v_t[k_t] (eq. 2.5 at
    w_hat). ``apply``: shared[k_t] -= eta v_t[k_t] (eq. 2.4), the step from ``eta`` (a number or a
    scalar schedule) at the applied-work epoch. ``barrier()``: w_tilde = shared copy, mu = grad f
    (Alg. 1 lines 2-3), n evaluations split over the threads. With one thread reading the current
    vector, the iterates are bit-identical to :func:`svrg` with that thread's Generator.

    SGD_SVRG (§2.5.1: SVRG started from the model SGD reached after some epochs): with
    ``sgd_epochs > 0`` the threads take plain SGD steps, v = batch_grad(w_hat, I_t) (b evaluations,
    same draws), with ``sgd_eta`` (a number or a schedule, e.g. ``Polynomial``) while fewer than
    ``sgd_epochs`` epochs of work are applied; those barriers take no snapshot (zero work). The first
    barrier at or after ``sgd_epochs`` takes the snapshot and SVRG starts, so the SGD phase lasts
    m * ceil(sgd_epochs n / (m b)) steps. The epoch axis (and ``eta``'s schedule) counts the SGD
    epochs too.
    """

    name = "shared-asysvrg"

    def __init__(self, problem: Problem, K: int, *, eta: float | StepRule, batch: int, m: int,
                 coords: int | None = None, sgd_epochs: float = 0,
                 sgd_eta: float | StepRule | None = None) -> None:
        self._init_shared(problem, K, batch, coords)
        self.eta = eta
        self._rule = as_step_rule(eta, name="eta")
        check_coords_rule(self._rule, "eta", self.coords)
        self.m = check_int("m", m)
        self.round_length = self.m
        self._init_phases(sgd_epochs, sgd_eta, self.coords)

    def work(self, p: int, w_hat: np.ndarray, rng: np.random.Generator) -> Message:
        if self._phase is None:
            raise RuntimeError("SharedAsySVRG.barrier() must run (snapshot and full gradient) before work()")
        idx, k = self._draw(rng)
        if self._phase == "sgd":
            return self._message(self.problem.batch_grad(w_hat, idx), k, self.batch)
        return self._message(_svrg_direction(self.problem, w_hat, self._w_tilde, self._mu, idx), k,
                             2 * self.batch)

    def _barrier_shares(self) -> np.ndarray:
        return self._shares.copy()  # the n evaluations split over the threads


class SharedAsySGD(_SharedMemoryRoles):
    """Lock-free SGD on shared memory (Hogwild-style, the AsySGD baseline [59]), protocol "shared-memory".

    Thread p draws I_t then k_t (module docstring) and writes shared[k_t] -= eta_s g[k_t] with
    g = batch_grad(w_hat, I_t) (b evaluations); ``eta`` is a number or a scalar schedule (the
    thesis's polynomial alpha/(1+s)^beta, s the epoch). No epochs: round_length None, and the
    barrier does nothing. One thread reading the current vector reproduces :func:`sgd` bit for bit.
    """

    name = "shared-asysgd"
    round_length = None

    def __init__(self, problem: Problem, K: int, *, eta: float | StepRule, batch: int,
                 coords: int | None = None) -> None:
        self._init_shared(problem, K, batch, coords)
        self.eta = eta
        self._rule = as_step_rule(eta, name="eta")
        check_coords_rule(self._rule, "eta", self.coords)
        self._state = self._rule.init(self._w)

    def work(self, p: int, w_hat: np.ndarray, rng: np.random.Generator) -> Message:
        idx, k = self._draw(rng)
        return self._message(self.problem.batch_grad(w_hat, idx), k, self.batch)

    def apply(self, p: int, msg: Message) -> None:
        self._state = self._apply_rule(self._rule, self._state, msg)

    def barrier(self) -> np.ndarray:
        """No snapshot: zero work."""
        return np.zeros(self.K)
