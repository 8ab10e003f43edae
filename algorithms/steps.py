"""Step rules: a step size is a number or a rule with explicit state (optax's init/update split).

An algorithm turns its ``eta`` into a rule once and keeps the rule's state beside its iterate::

    rule = as_step_rule(eta)                  # float > 0 -> Constant(eta); a StepRule passes through
    state = rule.init(w0)                     # once; w0 may be None for plain schedules
    ...
    delta, state = rule.update(v, state, w, epoch=e)   # per update: delta = -(step) * v, elementwise
    w += delta

``rule.rate(state, epoch=e)`` is the scalar schedule value the *next* update would use (for logging
and theorem checks). ``Constant(eta)`` makes ``w += delta`` bit-identical to ``w -= eta * v``.

Schedules (one scalar step for every coordinate): :class:`Constant`, :class:`Polynomial` (§2.5.1),
:class:`StepDecay`, :class:`LinearWarmup` (gradual warmup of gamma_scale, §4.4.2-§4.4.4).
:class:`LayerScaled` composes with any schedule, which then plays gamma_scale, and multiplies it
per layer by the LARS (eq. 4.3) or CLARS (eq. 4.7) trust ratio. Rules are frozen dataclasses
validated on construction; states are NamedTuples counting updates; nothing is mutated.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple, Protocol, runtime_checkable

import numpy as np

from algorithms.problem import Block
from algorithms.shards import check_int, check_step


class StepState(NamedTuple):
    """State of a schedule: ``count`` updates applied so far; ``inner`` the wrapped schedule's state."""

    count: int = 0
    inner: StepState | None = None


class LayerScaledState(NamedTuple):
    """State of :class:`LayerScaled`: ``count``, the schedule's state ``inner``, and ``layer_rates``,
    the per-layer steps gamma_k of the last update, one per non-empty block (empty before the first)."""

    count: int
    inner: StepState
    layer_rates: tuple[float, ...] = ()


@runtime_checkable
class StepRule(Protocol):
    """Anything with ``init``, ``update`` and ``rate`` as described in the module docstring."""

    def init(self, w0: np.ndarray | None): ...

    def update(self, v: np.ndarray, state, w: np.ndarray, *, epoch: float,
               sample_grads: np.ndarray | None = None) -> tuple[np.ndarray, object]: ...

    def rate(self, state, *, epoch: float) -> float: ...


@runtime_checkable
class Schedule(StepRule, Protocol):
    """A StepRule whose step is one scalar ``rate`` for all coordinates; ``advance`` counts an update."""

    def advance(self, state: StepState) -> StepState: ...


def as_step_rule(eta: object, *, name: str = "eta") -> StepRule:
    """``eta`` as a rule: a finite number > 0 becomes :class:`Constant`; a StepRule passes through."""
    if isinstance(eta, StepRule) and not isinstance(eta, type):
        return eta
    try:
        return Constant(check_step(name, eta))
    except ValueError:
        raise ValueError(f"{name} must be a finite number > 0 or a step rule (init/update/rate), "
                         f"got {eta!r}") from None


def linear_scaling(gamma_base: float, batch: int, batch_base: int) -> float:
    """gamma_scale = gamma_base * B / B_base, the linear learning-rate scaling after eq. 4.3 ([28])."""
    return check_step("gamma_base", gamma_base) * check_int("batch", batch) / check_int("batch_base", batch_base)


def _check_epoch(epoch: object) -> float:
    if isinstance(epoch, (bool, np.bool_)) or not isinstance(epoch, (int, float, np.integer, np.floating)) \
            or not (math.isfinite(epoch) and epoch >= 0):
        raise ValueError(f"epoch must be a finite number >= 0, got {epoch!r}")
    return float(epoch)


def _check_real(name: str, value: object, low: float, high: float = math.inf, *,
                open_low: bool = False) -> float:
    ok = not isinstance(value, (bool, np.bool_)) and isinstance(value, (int, float, np.integer, np.floating))
    v = float(value) if ok else math.nan
    if not (math.isfinite(v) and (v > low if open_low else v >= low) and v <= high):
        lo, hi = "(" if open_low else "[", ")" if high == math.inf else "]"
        raise ValueError(f"{name} must be a finite number in {lo}{low}, {high}{hi}, got {value!r}")
    return v


def _check_vectors(v: object, w: object) -> None:
    if not isinstance(w, np.ndarray) or w.ndim != 1:
        raise ValueError(f"w must be a 1-d numpy array, got {type(w).__name__} "
                         f"of shape {getattr(w, 'shape', None)}")
    if not isinstance(v, np.ndarray) or v.shape != w.shape:
        raise ValueError(f"v must be a numpy array of w's shape {w.shape}, got {type(v).__name__} "
                         f"of shape {getattr(v, 'shape', None)}")


def _scalar_step(rule: Schedule, v: np.ndarray, state: StepState, w: np.ndarray,
                 epoch: float) -> tuple[np.ndarray, StepState]:
    """delta = -(rate * v): the same rounding as ``w -= rate * v``."""
    _check_vectors(v, w)
    r = rule.rate(state, epoch=epoch)
    return -(r * v), rule.advance(state)


def _as_schedule(value: object) -> Schedule:
    rule = as_step_rule(value, name="schedule")
    if not isinstance(rule, Schedule):
        raise ValueError(f"schedule must be a scalar schedule (Constant, Polynomial, StepDecay, LinearWarmup "
                         f"or another rule with advance), got {type(rule).__name__}; "
                         f"wrap layer scaling outermost, e.g. LayerScaled(LinearWarmup(...), blocks)")
    return rule


@dataclass(frozen=True)
class Constant:
    """eta_t = eta for every update; ``update`` returns ``-(eta * v)`` (bit-identical to ``w -= eta * v``)."""

    eta: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "eta", check_step("eta", self.eta))

    def init(self, w0: np.ndarray | None = None) -> StepState:
        return StepState(0)

    def rate(self, state: StepState, *, epoch: float) -> float:
        _check_epoch(epoch)
        return self.eta

    def advance(self, state: StepState) -> StepState:
        return state._replace(count=state.count + 1)

    def update(self, v, state, w, *, epoch, sample_grads=None):
        return _scalar_step(self, v, state, w, epoch)


@dataclass(frozen=True)
class Polynomial:
    """eta_s = alpha / (1 + s)^beta with s = floor(epoch) the epoch number (§2.5.1; beta = 0 is constant).

    The thesis tunes alpha in {1e-2, 5e-2, 1e-3, 5e-3, 1e-4, 5e-4, 1e-5, 5e-5}, beta in {0, 0.1, ..., 1}.
    """

    alpha: float
    beta: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "alpha", check_step("alpha", self.alpha))
        object.__setattr__(self, "beta", _check_real("beta", self.beta, 0.0))

    def init(self, w0: np.ndarray | None = None) -> StepState:
        return StepState(0)

    def rate(self, state: StepState, *, epoch: float) -> float:
        s = math.floor(_check_epoch(epoch))
        return self.alpha / (1.0 + s) ** self.beta

    def advance(self, state: StepState) -> StepState:
        return state._replace(count=state.count + 1)

    def update(self, v, state, w, *, epoch, sample_grads=None):
        return _scalar_step(self, v, state, w, epoch)


@dataclass(frozen=True)
class StepDecay:
    """eta = eta0 * factor^floor(epoch / every_epochs): multiply by ``factor`` every ``every_epochs``."""

    eta0: float
    factor: float
    every_epochs: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "eta0", check_step("eta0", self.eta0))
        object.__setattr__(self, "factor", _check_real("factor", self.factor, 0.0, 1.0, open_low=True))
        object.__setattr__(self, "every_epochs", check_step("every_epochs", self.every_epochs))

    def init(self, w0: np.ndarray | None = None) -> StepState:
        return StepState(0)

    def rate(self, state: StepState, *, epoch: float) -> float:
        return self.eta0 * self.factor ** math.floor(_check_epoch(epoch) / self.every_epochs)

    def advance(self, state: StepState) -> StepState:
        return state._replace(count=state.count + 1)

    def update(self, v, state, w, *, epoch, sample_grads=None):
        return _scalar_step(self, v, state, w, epoch)


@dataclass(frozen=True)
class LinearWarmup:
    """Gradual warmup: the schedule's value ramped linearly from ``start`` over the first epochs or updates.

        rate = start + (schedule(e) - start) * p,   p = min(1, e / warmup_epochs)  or  min(1, count / warmup_updates)

    and exactly ``schedule(e)`` once p = 1. This is the thesis's description of gradual warmup ([28]):
    "gamma_scale is replaced with a small value at the beginning and increased back gradually after a
    few epochs" (§4.4.3); its experiments use 20 (§4.4.2, Fig. 11), {5, 10, 20} and 5 (§4.4.4) warmup
    epochs followed by polynomial decay. With LARS, wrap it inside: ``LayerScaled(LinearWarmup(...))``
    ramps gamma_scale of eq. 4.3. Give exactly one of ``warmup_epochs`` (fractional epochs allowed, so
    the ramp is smooth within an epoch) and ``warmup_updates``. With start = 0 the first update is zero.
    """

    schedule: Schedule
    warmup_epochs: float = 0.0
    warmup_updates: int = 0
    start: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "schedule", _as_schedule(self.schedule))
        object.__setattr__(self, "warmup_epochs", _check_real("warmup_epochs", self.warmup_epochs, 0.0))
        object.__setattr__(self, "warmup_updates", check_int("warmup_updates", self.warmup_updates, low=0))
        object.__setattr__(self, "start", _check_real("start", self.start, 0.0))
        if (self.warmup_epochs > 0) == (self.warmup_updates > 0):
            raise ValueError(f"exactly one of warmup_epochs (> 0) and warmup_updates (>= 1) must be given, "
                             f"got warmup_epochs={self.warmup_epochs!r}, warmup_updates={self.warmup_updates!r}")

    def init(self, w0: np.ndarray | None = None) -> StepState:
        return StepState(0, self.schedule.init(w0))

    def rate(self, state: StepState, *, epoch: float) -> float:
        target = self.schedule.rate(state.inner, epoch=epoch)
        if self.warmup_epochs > 0:
            p = _check_epoch(epoch) / self.warmup_epochs
        else:
            p = state.count / self.warmup_updates
        return target if p >= 1.0 else self.start + (target - self.start) * p

    def advance(self, state: StepState) -> StepState:
        return StepState(state.count + 1, self.schedule.advance(state.inner))

    def update(self, v, state, w, *, epoch, sample_grads=None):
        return _scalar_step(self, v, state, w, epoch)


#: kind -> default trust coefficient eta of eq. 4.3 / Algorithm 8
_TRUST = {"lars": 1e-3, "clars": 1e-2, "clars_rms": 1e-2}


@dataclass(frozen=True)
class LayerScaled:
    """Layer-wise steps gamma_k = rate * ratio_k on block k (Ch. 4); ``rate`` from ``schedule`` is gamma_scale.

    ``kind="lars"`` (eq. 4.3, You et al. [106]), with v the direction (the mini-batch gradient):
        ratio_k = eta * ||(w_t)_k||_2 / ||v_k||_2                                       eta = 0.001
    ``kind="clars"`` (eq. 4.7, as stated; eq. 4.8 is the same value written as LARS times a factor):
        ratio_k = eta * ||(w_t)_k||_2 / ((1/B) sum_{i in I_t} ||grad_k f_i(w_t)||_2)     eta = 0.01 (Alg. 8)
    ``kind="clars_rms"``: ratio_k = eta * ||(w_t)_k||_2 / sqrt((1/B) sum_i ||grad_k f_i(w_t)||_2^2).

    Discrepancy flagged: eq. 4.7 (and 4.8) averages per-sample *norms*, but Algorithm 8 line 4 computes
    "(1/B) sum ||grad_k grad f_i(w_t)||_2^2", the average of *squared* norms, and then applies eq. 4.7.
    Put into eq. 4.7 verbatim that would divide a norm by a squared norm (a step with the wrong units,
    not invariant to rescaling f); ``clars_rms`` is the dimensionally consistent reading of line 4.
    §4.4.4 estimates the per-sample norms on a small batch J_t (|J_t| = 512): pass those rows as
    ``sample_grads``. It also uses squared norms, ||mean g||^2 / mean ||g_j||^2, and calls that "M_k"
    although §4.4.3 defines M_k as the reciprocal ratio; LARS times that squared factor (eq. 4.8 with
    squares) would be a third reading, not implemented here.

    ``sample_grads`` (update keyword, shape (B, d), rows grad f_i(w_t)) is required by the CLARS kinds.
    Guard (TF's LARSOptimizer, optax's scale_by_trust_ratio): if ||(w_t)_k|| = 0 or the denominator is 0,
    ratio_k = 1, so such a layer takes the plain schedule step (a zero-initialised layer can move).
    Empty blocks (layers without parameters) are skipped; coordinates outside every block take the
    plain schedule step. ``trust_coefficient`` defaults to the thesis's eta for ``kind``.
    """

    schedule: Schedule
    blocks: tuple[Block, ...]
    kind: str = "lars"
    trust_coefficient: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "schedule", _as_schedule(self.schedule))
        if self.kind not in _TRUST:
            raise ValueError(f"kind must be one of {sorted(_TRUST)}, got {self.kind!r}")
        coef = _TRUST[self.kind] if self.trust_coefficient is None else self.trust_coefficient
        object.__setattr__(self, "trust_coefficient", check_step("trust_coefficient", coef))
        blocks = tuple(self.blocks) if isinstance(self.blocks, (tuple, list)) else None
        if blocks is None or not all(isinstance(b, Block) for b in blocks):
            raise ValueError(f"blocks must be a tuple of algorithms.problem.Block, got {self.blocks!r}")
        for b in blocks:
            if not (isinstance(b.start, (int, np.integer)) and isinstance(b.stop, (int, np.integer))
                    and 0 <= b.start <= b.stop):
                raise ValueError(f"blocks must have integers 0 <= start <= stop, got {b!r}")
        ordered = sorted((b for b in blocks if b.stop > b.start), key=lambda b: b.start)
        for a, b in zip(ordered, ordered[1:]):
            if b.start < a.stop:
                raise ValueError(f"blocks must not overlap, got {a!r} and {b!r}")
        object.__setattr__(self, "blocks", blocks)

    @property
    def scaled_blocks(self) -> tuple[Block, ...]:
        """The non-empty blocks, in the order of ``layer_rates``."""
        return tuple(b for b in self.blocks if b.stop > b.start)

    def _check_fits(self, d: int) -> None:
        end = max((b.stop for b in self.blocks), default=0)
        if end > d:
            raise ValueError(f"blocks must lie inside w of length {d}, got a block ending at {end}")

    def init(self, w0: np.ndarray | None = None) -> LayerScaledState:
        if w0 is not None:
            self._check_fits(np.shape(w0)[0])
        return LayerScaledState(0, self.schedule.init(w0), ())

    def rate(self, state: LayerScaledState, *, epoch: float) -> float:
        """gamma_scale: the schedule's value for the next update (per-layer steps need w and v)."""
        return self.schedule.rate(state.inner, epoch=epoch)

    def layer_rates(self, v: np.ndarray, state: LayerScaledState, w: np.ndarray, *, epoch: float,
                    sample_grads: np.ndarray | None = None) -> np.ndarray:
        """gamma_k for each of ``scaled_blocks`` at (w, v): eq. 4.3 or 4.7 (see the class docstring)."""
        _check_vectors(v, w)
        self._check_fits(w.shape[0])
        return self.rate(state, epoch=epoch) * self._ratios(v, w, sample_grads)

    def _ratios(self, v: np.ndarray, w: np.ndarray, sample_grads: np.ndarray | None) -> np.ndarray:
        blocks = self.scaled_blocks
        w_norm = np.array([np.linalg.norm(w[b.slice]) for b in blocks])
        if self.kind == "lars":
            den = np.array([np.linalg.norm(v[b.slice]) for b in blocks])
        else:
            if not (isinstance(sample_grads, np.ndarray) and sample_grads.ndim == 2
                    and sample_grads.shape[0] >= 1 and sample_grads.shape[1] == w.shape[0]):
                raise ValueError(f"sample_grads must be a (B, {w.shape[0]}) array with B >= 1 for kind="
                                 f"{self.kind!r}, got {getattr(sample_grads, 'shape', sample_grads)!r}")
            norms = [np.linalg.norm(sample_grads[:, b.slice], axis=1) for b in blocks]
            den = np.array([n.mean() if self.kind == "clars" else math.sqrt(np.mean(n * n)) for n in norms])
        guarded = (w_norm > 0) & (den > 0)
        return np.where(guarded, self.trust_coefficient * w_norm / np.where(guarded, den, 1.0), 1.0)

    def update(self, v, state, w, *, epoch, sample_grads=None):
        _check_vectors(v, w)
        self._check_fits(w.shape[0])
        r = self.rate(state, epoch=epoch)
        gammas = r * self._ratios(v, w, sample_grads)
        steps = np.full(w.shape[0], r)
        for b, g in zip(self.scaled_blocks, gammas):
            steps[b.slice] = g
        new = LayerScaledState(state.count + 1, self.schedule.advance(state.inner), tuple(gammas.tolist()))
        return -(steps * v), new
