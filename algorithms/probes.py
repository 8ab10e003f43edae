"""Metric probes: what is measured is chosen by the study, not by the algorithm.

An algorithm exposes its state (``params``, the current w; dual methods also ``alpha``); a
:class:`Probe` computes one metric from that state and the problem, if the problem has the
capabilities the probe needs (:mod:`algorithms.problem`). A :class:`ProbeSet` is what
``roles.metrics()`` evaluates: the names a study asked for (``roles.use_probes([...])``), or the
algorithm's ``default_probes`` (those the problem supports). Adding a metric is one
:func:`register_probe` call; it never edits an algorithm.

Probes read state only: they never draw random numbers or change iterates.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping

import numpy as np
import scipy.sparse as sp

from algorithms.problem import has


class ProbeContext:
    """What a probe sees at one record: the problem, the roles, values already computed at this
    record (``values``: e.g. the objective, reused by the suboptimality), ``scratch`` for
    intermediate results shared by probes at this record, and a per-run ``cache`` for quantities
    computed once (e.g. Lemma 3.4.1's alpha*).

    A record computes each shared quantity once: :meth:`w_alpha` (w(alpha) of eq. 3.3, one X^T alpha
    pass, shared by the duality gap's primal and dual terms) and :meth:`value_at` (f at a point, one
    X w pass; the objective's and the gap's P(w(alpha)) share it when the two points are equal). The
    numbers are those of the plain formulas, bit for bit: only repeated work is skipped."""

    __slots__ = ("problem", "roles", "values", "scratch", "cache")

    def __init__(self, problem, roles, cache: dict) -> None:
        self.problem, self.roles, self.values, self.scratch, self.cache = problem, roles, {}, {}, cache

    @property
    def params(self) -> np.ndarray:
        return self.roles.params

    def w_alpha(self) -> np.ndarray:
        """w(alpha) = A alpha / (lam n) of the roles' duals (eq. 3.3), computed once per record."""
        w = self.scratch.get("w_alpha")
        if w is None:
            w = self.scratch["w_alpha"] = self.problem.primal_from_dual(self.roles.alpha)
        return w

    def value_at(self, w: np.ndarray) -> float:
        """float(problem.value(w)), computed once per record for each distinct point (compared exactly)."""
        seen = self.scratch.setdefault("value_at", [])
        for point, v in seen:
            if point is w or (point.shape == np.shape(w) and np.array_equal(point, w)):
                return v
        v = float(self.problem.value(w))
        seen.append((np.asarray(w), v))
        return v


@dataclass(frozen=True)
class Probe:
    """One metric: ``compute(ctx)`` returns a float, or None where it is undefined at this state
    (then the metric is left out of the record: a NaN would read as divergence).

    ``needs``: problem capabilities (``"a|b"`` = either); ``state``: roles attributes it reads;
    ``when``: an extra availability test on (problem, roles), e.g. a scalar dual.
    """

    name: str
    compute: Callable[[ProbeContext], float | None]
    needs: tuple[str, ...] = ()
    state: tuple[str, ...] = ("params",)
    when: Callable[[object, object], bool] | None = None
    doc: str = ""

    def available(self, problem, roles) -> str | None:
        """None if this probe can run on (problem, roles), else why not (one clause)."""
        for cap in self.needs:
            if not any(has(problem, c) for c in cap.split("|")):
                return f"the problem lacks capability {cap!r}"
        for attr in self.state:
            if not hasattr(roles, attr):
                return f"the algorithm does not expose {attr!r}"
        if self.when is not None and not self.when(problem, roles):
            return "it does not apply to this problem and algorithm"
        return None


PROBES: dict[str, Probe] = {}


def register_probe(probe: Probe, *, replace: bool = False) -> Probe:
    """Make ``probe`` available by name to studies and to ``roles.use_probes``."""
    if not isinstance(probe, Probe):
        raise TypeError(f"probe must be an algorithms.probes.Probe, got {type(probe).__name__}")
    if probe.name in PROBES and not replace:
        raise ValueError(f"probe name {probe.name!r} is already registered; pass replace=True to overwrite it")
    PROBES[probe.name] = probe
    return probe


def get_probe(name: str) -> Probe:
    try:
        return PROBES[name]
    except (KeyError, TypeError):
        raise ValueError(f"probe must be one of {sorted(PROBES)}, got {name!r}") from None


class ProbeSet:
    """The probes evaluated at each record of one run, in the order given.

    ``strict=True``: a probe that cannot run on (problem, roles) is an error naming it and why;
    ``strict=False`` (an algorithm's defaults): it is left out.
    """

    def __init__(self, names: Iterable[str], problem, roles, *, strict: bool = True) -> None:
        names = [names] if isinstance(names, str) else list(names)
        probes = []
        for name in names:
            probe = get_probe(name)
            why = probe.available(problem, roles)
            if why is None:
                probes.append(probe)
            elif strict:
                raise ValueError(f"probe {name!r} cannot measure {type(roles).__name__} on problem "
                                 f"{getattr(problem, 'name', '?')!r}: {why}")
        self.probes = tuple(probes)
        self.problem, self.roles = problem, roles
        self._cache: dict = {}

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.probes)

    def __call__(self) -> dict[str, float]:
        ctx = ProbeContext(self.problem, self.roles, self._cache)
        for probe in self.probes:
            v = probe.compute(ctx)
            if v is not None:
                ctx.values[probe.name] = float(v)
        return ctx.values


class Measured:
    """Mixin of roles: ``metrics()`` evaluates the study's probes, else ``default_probes``.

    Subclasses set ``problem`` and ``default_probes`` and expose ``params`` (and ``alpha``)."""

    default_probes: tuple[str, ...] = ("objective", "suboptimality")
    problem: object

    def use_probes(self, names: Iterable[str]):
        """Measure exactly these probes (an error names any that cannot run here); returns self."""
        self._probe_set = ProbeSet(names, self.problem, self, strict=True)
        return self

    def metrics(self) -> dict[str, float]:
        ps = self.__dict__.get("_probe_set")
        if ps is None:
            ps = self._probe_set = ProbeSet(self.default_probes, self.problem, self, strict=False)
        return ps()


# --- the probes ------------------------------------------------------------------------------
def _objective(ctx: ProbeContext) -> float:
    return ctx.value_at(ctx.params)


def _suboptimality(ctx: ProbeContext) -> float:
    return _objective(ctx) - float(ctx.problem.solution().value)


def _duality_gap(ctx: ProbeContext) -> float:
    """G(alpha) = P(w(alpha)) - D(alpha) (§3.2) as ``problem.duality_gap`` computes it, with w(alpha)
    and P(w(alpha)) shared with the other probes of this record."""
    w_alpha = ctx.w_alpha()
    return float(ctx.value_at(w_alpha) - ctx.problem.dual_value_from(ctx.roles.alpha, w_alpha))


def _grad_norm_sq(ctx: ProbeContext) -> float:
    g = np.asarray(ctx.problem.grad(ctx.params))
    return float(g @ g)


def _scalar_dual(problem, roles) -> bool:
    return np.ndim(roles.alpha) == 1


def _lyapunov_terms(ctx: ProbeContext) -> tuple[float, float, float, float]:
    """(A_t, B_t, L_max, lam) of Lemma 3.4.1, eqs. (3.14)-(3.15), at the current state.

    A_t = 1/n sum_i |alpha_i - alpha_i^*|^2: (3.14)'s expectation over the sample i, read as the
    uniform average over i = 1..n (as in [89]); the expectation over the algorithm's randomness is
    left to the caller (average over seeds). B_t = |w^t - w^*|^2 (3.15). alpha_i^* = -grad f_i(w^*):
    for linear models the scalar alpha_hat_i^* = -loss'(x_i^T w^*) with alpha_i^* = x_i alpha_hat_i^*
    (O(n), |alpha_i - alpha_i^*|^2 = |x_i|^2 (alpha_hat_i - alpha_hat_i^*)^2), else the n x d array
    of per-sample gradients (O(nd), PCA eq. 3.40).
    """
    if "lyapunov" in ctx.scratch:
        return ctx.scratch["lyapunov"]
    p, alpha = ctx.problem, ctx.roles.alpha
    cache = ctx.cache.get("lyapunov")
    if cache is None:
        w_star = np.asarray(p.solution().w, dtype=np.float64)
        if alpha.ndim == 1:
            a_star = -p.dloss(p.margins(w_star))
            X = p.X
            sq = (np.asarray(X.multiply(X).sum(axis=1)).ravel() if sp.issparse(X)
                  else np.einsum("ij,ij->i", X, X))
        else:
            a_star = -p.sample_grads(w_star, np.arange(p.n))
            sq = None
        L = p.constants().L_max
        cache = ctx.cache["lyapunov"] = (w_star, a_star, sq, math.nan if L is None else float(L), float(p.lam))
    w_star, a_star, sq, L, lam = cache
    diff = alpha - a_star
    A = float(np.dot(sq, diff * diff)) / p.n if sq is not None else float(np.einsum("ij,ij->", diff, diff)) / p.n
    dw = ctx.params - w_star
    out = ctx.scratch["lyapunov"] = (A, float(dw @ dw), L, lam)
    return out


def _lyapunov_convex(ctx: ProbeContext) -> float | None:
    A, B, L, lam = _lyapunov_terms(ctx)
    # Undefined for lam = 0 or L = 0: left out (a NaN metric would read as divergence).
    return A / (2.0 * lam * L) + B if lam > 0 and L > 0 else None


def _lyapunov_nonconvex(ctx: ProbeContext) -> float | None:
    A, B, L, _ = _lyapunov_terms(ctx)
    return A / (4.0 * L * L) + B if L > 0 else None


def _error(split: str) -> Callable[[ProbeContext], float]:
    def compute(ctx: ProbeContext) -> float:
        return float(ctx.problem.error(ctx.params, split))
    return compute


def _has_test(problem, roles) -> bool:
    return getattr(problem, "X_test", None) is not None


_LYAP_NEEDS = ("known_optimum", "linear_model|per_sample_grads")
for _p in (
    Probe("objective", _objective, doc="f(w), regulariser included (training loss)"),
    Probe("suboptimality", _suboptimality, needs=("known_optimum",), doc="f(w) - f*"),
    Probe("duality_gap", _duality_gap, needs=("dual",), state=("params", "alpha"), when=_scalar_dual,
          doc="G(alpha) = P(w(alpha)) - D(alpha) (§3.2) of the algorithm's scalar duals"),
    Probe("grad_norm_sq", _grad_norm_sq, doc="|grad f(w)|^2, the quantity Theorems 2.3.1-2.4.2 bound"),
    Probe("lyapunov_convex", _lyapunov_convex, needs=_LYAP_NEEDS, state=("params", "alpha"),
          doc="C_t = A_t/(2 lam L) + B_t of Theorem 3.4.1 (L = L_max, Assumption 3.4.1)"),
    Probe("lyapunov_nonconvex", _lyapunov_nonconvex, needs=_LYAP_NEEDS, state=("params", "alpha"),
          doc="C_t = A_t/(4 L^2) + B_t of Theorem 3.4.3 (L = L_max)"),
    Probe("train_error", _error("train"), needs=("classifier",), doc="misclassification rate on the training set"),
    Probe("test_error", _error("test"), needs=("classifier",), when=_has_test,
          doc="misclassification rate on the test set"),
):
    register_probe(_p)
del _p


def describe() -> Mapping[str, str]:
    """Probe name -> one sentence, for listings."""
    return {name: p.doc for name, p in sorted(PROBES.items())}


__all__ = ["PROBES", "Measured", "Probe", "ProbeContext", "ProbeSet", "describe", "get_probe", "register_probe"]
