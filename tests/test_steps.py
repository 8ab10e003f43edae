"""Step rules (algorithms/steps.py): schedules against closed forms, LARS/CLARS against direct
per-block computations of eqs. 4.3 and 4.7, purity of init/update/rate, and input validation."""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays

from algorithms.problem import Block
from algorithms.steps import (Constant, LayerScaled, LayerScaledState, LinearWarmup, Polynomial, StepDecay,
                              StepState, as_step_rule, linear_scaling)

finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
THESIS_ALPHAS = (1e-2, 5e-2, 1e-3, 5e-3, 1e-4, 5e-4, 1e-5, 5e-5)   # §2.5.1
THESIS_BETAS = tuple(k / 10 for k in range(11))                     # 0, 0.1, ..., 1
#: a 4-layer net in a 10-vector: a dense block, a parameter-free layer, a gap w[5:7], two blocks
BLOCKS = (Block("fc1", 0, 3, ((3,),)), Block("relu", 3, 3, ()), Block("fc2", 3, 5, ((2,),)),
          Block("fc3", 7, 10, ((3,),)))
GAP = np.r_[5:7]


def _direct_ratio(w_k, den, coef):
    """Trust ratio with the TF/optax guard: 1 when ||w_k|| or the denominator is zero."""
    wn = math.sqrt(sum(float(x) * float(x) for x in w_k))
    return coef * wn / den if wn > 0 and den > 0 else 1.0


def _draw(seed, d=10, B=5):
    rng = np.random.default_rng(seed)
    return rng.normal(size=d), rng.normal(size=d), rng.normal(size=(B, d))


# ---------------------------------------------------------------- Constant

@settings(max_examples=200)
@given(st.integers(1, 40).flatmap(lambda d: st.tuples(arrays(np.float64, d, elements=finite),
                                                       arrays(np.float64, d, elements=finite))),
       st.floats(1e-8, 1e3))
def test_constant_step_is_bit_identical_to_w_minus_eta_v(wv, eta):
    w, v = wv
    rule = as_step_rule(eta)
    ref = w.copy()
    ref -= eta * v
    delta, state = rule.update(v, rule.init(w), w, epoch=0.0)
    new = w.copy()
    new += delta
    assert new.view(np.uint64).tobytes() == ref.view(np.uint64).tobytes()
    assert state == StepState(1) and rule.rate(state, epoch=3.0) == eta


def test_as_step_rule_passes_rules_through_and_wraps_numbers():
    rule = Polynomial(0.1, 0.5)
    assert as_step_rule(rule) is rule
    assert as_step_rule(3) == Constant(3.0) and as_step_rule(np.float32(0.5)) == Constant(0.5)


# ---------------------------------------------------------------- schedules

@pytest.mark.parametrize("alpha", THESIS_ALPHAS)
@pytest.mark.parametrize("beta", THESIS_BETAS)
def test_polynomial_matches_closed_form_on_thesis_grid(alpha, beta):
    """eta_s = alpha / (1+s)^beta with s the epoch number: epochs 0, 0.5, 1, 2.7 are s = 0, 0, 1, 2."""
    rule = Polynomial(alpha, beta)
    state = rule.init(None)
    for epoch, s in ((0, 0), (0.5, 0), (1, 1), (2.7, 2)):
        ref = alpha * math.exp(-beta * math.log(1 + s))
        assert rule.rate(state, epoch=epoch) == pytest.approx(ref, rel=1e-14, abs=0)
    if beta == 0:
        assert all(rule.rate(state, epoch=e) == alpha for e in (0, 1.5, 99.9))


def test_polynomial_update_steps_by_its_rate_and_counts():
    rule, (w, v, _) = Polynomial(0.05, 0.5), _draw(0)
    state = rule.init(w)
    for k, epoch in enumerate((0.0, 0.5, 1.0, 2.7)):
        delta, state = rule.update(v, state, w, epoch=epoch)
        np.testing.assert_array_equal(delta, -(0.05 / (1 + math.floor(epoch)) ** 0.5 * v))
        assert state.count == k + 1


@given(st.floats(1e-6, 1.0), st.floats(0, 1), st.floats(0, 50), st.floats(0, 50))
def test_polynomial_is_nonincreasing_in_epoch(alpha, beta, e1, e2):
    rule = Polynomial(alpha, beta)
    lo, hi = sorted((e1, e2))
    assert rule.rate(rule.init(None), epoch=hi) <= rule.rate(rule.init(None), epoch=lo)


def test_step_decay_values():
    rule = StepDecay(0.1, 0.5, every_epochs=2)
    got = [rule.rate(rule.init(None), epoch=e) for e in (0, 1.99, 2, 5.5, 6)]
    assert got == pytest.approx([0.1, 0.1, 0.05, 0.025, 0.0125], rel=1e-15)


# ---------------------------------------------------------------- warmup (§4.4.3)

@pytest.mark.parametrize("start", [0.0, 0.02])
def test_warmup_ramps_linearly_from_start_to_the_schedule(start):
    rule = LinearWarmup(Constant(0.4), warmup_epochs=5, start=start)
    state = rule.init(None)
    epochs = np.linspace(0, 8, 161)
    rates = np.array([rule.rate(state, epoch=e) for e in epochs])
    assert rates[0] == start and rule.rate(state, epoch=5) == 0.4 and rule.rate(state, epoch=2.5) \
        == pytest.approx((start + 0.4) / 2, rel=1e-14)
    assert np.all(np.diff(rates) >= 0) and np.all(rates[epochs >= 5] == 0.4)
    np.testing.assert_allclose(rates[epochs <= 5], start + (0.4 - start) * epochs[epochs <= 5] / 5, rtol=1e-14)


@given(st.floats(0, 1), st.floats(1e-4, 10), st.floats(0.1, 30), st.lists(st.floats(0, 60), min_size=2))
def test_warmup_is_monotone_and_hands_over_exactly(start_frac, target, W, epochs):
    """Over a constant schedule the ramp never decreases and equals the schedule exactly from W on."""
    rule = LinearWarmup(Constant(target), warmup_epochs=W, start=start_frac * target)
    rates = [rule.rate(rule.init(None), epoch=e) for e in sorted(epochs + [W])]
    assert all(a <= b for a, b in zip(rates, rates[1:]))
    assert all(r == target for e, r in zip(sorted(epochs + [W]), rates) if e >= W)


def test_warmup_hands_over_to_a_decaying_schedule_and_counts_updates():
    poly = Polynomial(0.1, 0.5)
    by_epoch = LinearWarmup(poly, warmup_epochs=2)
    s0 = by_epoch.init(None)
    assert by_epoch.rate(s0, epoch=1.5) == pytest.approx(0.75 * 0.1 / 2 ** 0.5, rel=1e-14)
    assert [by_epoch.rate(s0, epoch=e) for e in (2, 3.3)] == [poly.rate(s0, epoch=e) for e in (2, 3.3)]
    by_update = LinearWarmup(Constant(0.3), warmup_updates=4)
    w, v, _ = _draw(1)
    state, rates = by_update.init(w), []
    for _ in range(6):
        rates.append(by_update.rate(state, epoch=0.0))
        delta, state = by_update.update(v, state, w, epoch=0.0)
        np.testing.assert_array_equal(delta, -(rates[-1] * v))
    assert rates == pytest.approx([0.0, 0.075, 0.15, 0.225, 0.3, 0.3], rel=1e-14)
    assert state == StepState(6, StepState(6))


# ---------------------------------------------------------------- LARS / CLARS (eqs. 4.3, 4.7)

@settings(max_examples=50)
@given(st.integers(0, 2 ** 32 - 1), st.floats(0.01, 10), st.floats(0, 20))
def test_lars_layer_rates_match_eq_4_3_per_block(seed, scale, epoch):
    """gamma_k = gamma_scale * eta * ||w_k|| / ||v_k||; gaps and parameter-free layers: plain rate."""
    w, v, _ = _draw(seed)
    rule = LayerScaled(Polynomial(scale, 0.5), BLOCKS)
    state = rule.init(w)
    gamma_scale = scale / (1 + math.floor(epoch)) ** 0.5
    delta, new = rule.update(v, state, w, epoch=epoch)
    ref = []
    for b in BLOCKS[0], BLOCKS[2], BLOCKS[3]:
        v_norm = math.sqrt(sum(float(x) ** 2 for x in v[b.start:b.stop]))
        ref.append(gamma_scale * _direct_ratio(w[b.start:b.stop], v_norm, 1e-3))
        np.testing.assert_allclose(delta[b.start:b.stop], -ref[-1] * v[b.start:b.stop], rtol=1e-13)
    np.testing.assert_allclose(new.layer_rates, ref, rtol=1e-13)
    np.testing.assert_allclose(rule.layer_rates(v, state, w, epoch=epoch), ref, rtol=1e-13)
    np.testing.assert_allclose(delta[GAP], -gamma_scale * v[GAP], rtol=1e-15)
    assert rule.rate(state, epoch=epoch) == pytest.approx(gamma_scale, rel=1e-15)


def test_lars_guard_gives_zero_norm_layers_the_schedule_rate():
    w, v, _ = _draw(2)
    w[0:3] = 0.0                      # a zero-initialised layer still moves
    v[7:10] = 0.0                     # a layer with no gradient gets ratio 1 and a zero step
    rule = LayerScaled(0.5, BLOCKS)
    delta, state = rule.update(v, rule.init(w), w, epoch=0)
    assert state.layer_rates[0] == 0.5 and state.layer_rates[2] == 0.5 and state.layer_rates[1] != 0.5
    np.testing.assert_array_equal(delta[0:3], -(0.5 * v[0:3]))
    assert np.all(delta[7:10] == 0) and np.all(np.isfinite(delta))


@settings(max_examples=50)
@given(st.integers(0, 2 ** 32 - 1), st.integers(1, 8), st.floats(0.01, 10))
def test_clars_layer_rates_match_eq_4_7(seed, B, scale):
    """gamma_k = gamma_scale * eta * ||w_k|| / ((1/B) sum_i ||grad_k f_i||), eta = 0.01 (Algorithm 8);
    'clars_rms' puts sqrt((1/B) sum_i ||grad_k f_i||^2) in the denominator."""
    w, _, G = _draw(seed, B=B)
    v = G.mean(axis=0)
    got = {kind: LayerScaled(Constant(scale), BLOCKS, kind=kind).update(v, LayerScaledState(0, StepState(0)), w,
                                                                        epoch=1, sample_grads=G)[1].layer_rates
           for kind in ("lars", "clars", "clars_rms")}
    for j, b in enumerate((BLOCKS[0], BLOCKS[2], BLOCKS[3])):
        norms = [math.sqrt(sum(float(x) ** 2 for x in row[b.start:b.stop])) for row in G]
        mean_norm = sum(norms) / B
        rms_norm = math.sqrt(sum(n * n for n in norms) / B)
        assert got["clars"][j] == pytest.approx(scale * _direct_ratio(w[b.slice], mean_norm, 1e-2), rel=1e-12)
        assert got["clars_rms"][j] == pytest.approx(scale * _direct_ratio(w[b.slice], rms_norm, 1e-2), rel=1e-12)
        # eq. 4.8: CLARS = LARS(eta = 0.01) * ||mean g|| / mean ||g|| <= LARS(eta = 0.01) by the triangle inequality
        assert got["clars"][j] <= 10 * got["lars"][j] * (1 + 1e-12)
        assert got["clars_rms"][j] <= got["clars"][j] * (1 + 1e-12)
        if B == 1:
            assert got["clars"][j] == pytest.approx(10 * got["lars"][j], rel=1e-12)


def test_clars_needs_sample_grads():
    w, v, G = _draw(3)
    rule = LayerScaled(0.1, BLOCKS, kind="clars")
    for bad in (None, G[:, :4], G[0]):
        with pytest.raises(ValueError, match="sample_grads"):
            rule.update(v, rule.init(w), w, epoch=0, sample_grads=bad)


def test_layer_scaled_over_warmup_polynomial_is_schedule_rate_times_trust_ratio():
    """The thesis's LARS setting (§4.4.2): gamma_scale warmed up, then polynomially decayed."""
    w, v, _ = _draw(4)
    sched = LinearWarmup(Polynomial(6.4, 1.0), warmup_epochs=2)
    plain = LayerScaled(1.0, BLOCKS, trust_coefficient=0.002)
    composed = LayerScaled(sched, BLOCKS, trust_coefficient=0.002)
    ratios = plain.layer_rates(v, plain.init(w), w, epoch=0)
    for epoch in (0.5, 1.0, 2.0, 3.7):
        r = sched.rate(sched.init(w), epoch=epoch)
        np.testing.assert_allclose(composed.layer_rates(v, composed.init(w), w, epoch=epoch), r * ratios,
                                   rtol=1e-14)
    assert sched.rate(sched.init(w), epoch=3.7) == pytest.approx(6.4 / 4, rel=1e-15)
    assert linear_scaling(0.1, 8192, 128) == pytest.approx(6.4, rel=1e-15)


# ---------------------------------------------------------------- purity

RULES = (Constant(0.1), Polynomial(0.1, 0.3), StepDecay(0.1, 0.5, 1.0),
         LinearWarmup(Polynomial(0.1, 0.3), warmup_updates=3),
         LayerScaled(LinearWarmup(0.1, warmup_epochs=1.0), BLOCKS),
         LayerScaled(0.1, BLOCKS, kind="clars"))


@pytest.mark.parametrize("rule", RULES, ids=lambda r: type(r).__name__)
def test_init_update_rate_are_pure_and_states_immutable(rule):
    w, v, G = _draw(5)
    copies = w.copy(), v.copy(), G.copy()
    assert rule.init(w) == rule.init(w.copy())
    state = rule.init(w)
    state_before = state
    out1 = rule.update(v, state, w, epoch=0.7, sample_grads=G)
    out2 = rule.update(v, state, w, epoch=0.7, sample_grads=G)
    np.testing.assert_array_equal(out1[0], out2[0])
    assert out1[1] == out2[1] and out1[1].count == 1 and state is state_before and state.count == 0
    assert rule.rate(state, epoch=0.7) == rule.rate(state, epoch=0.7)
    for a, b in zip((w, v, G), copies):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(AttributeError):
        state.count = 5
    with pytest.raises(dataclasses.FrozenInstanceError):
        rule.__setattr__(dataclasses.fields(rule)[0].name, 1.0)


# ---------------------------------------------------------------- validation

@pytest.mark.parametrize("make, name", [
    (lambda: as_step_rule(0.0), "eta"), (lambda: as_step_rule(-1), "eta"), (lambda: as_step_rule(math.nan), "eta"),
    (lambda: as_step_rule("0.1"), "eta"), (lambda: as_step_rule(None), "eta"), (lambda: as_step_rule(True), "eta"),
    (lambda: as_step_rule(Constant), "eta"), (lambda: as_step_rule(0, name="gamma"), "gamma"),
    (lambda: Polynomial(0.0, 0.5), "alpha"), (lambda: Polynomial(0.1, -0.1), "beta"),
    (lambda: Polynomial(0.1, math.inf), "beta"), (lambda: StepDecay(0.1, 1.5, 1), "factor"),
    (lambda: StepDecay(0.1, 0.5, 0), "every_epochs"), (lambda: LinearWarmup(0.1), "warmup_epochs"),
    (lambda: LinearWarmup(0.1, warmup_epochs=1, warmup_updates=2), "warmup_epochs"),
    (lambda: LinearWarmup(0.1, warmup_updates=1.5), "warmup_updates"),
    (lambda: LinearWarmup(0.1, warmup_epochs=1, start=-1), "start"),
    (lambda: LinearWarmup(LayerScaled(0.1, BLOCKS), warmup_epochs=1), "schedule"),
    (lambda: LayerScaled(0.1, BLOCKS, kind="lamb"), "kind"),
    (lambda: LayerScaled(0.1, BLOCKS, trust_coefficient=0.0), "trust_coefficient"),
    (lambda: LayerScaled(0.1, (BLOCKS[0], Block("x", 2, 4, ()))), "blocks"),
    (lambda: LayerScaled(0.1, (slice(0, 3),)), "blocks"),
    (lambda: LayerScaled(0.1, (Block("x", 3, 1, ()),)), "blocks"),
    (lambda: LayerScaled(0.1, BLOCKS).init(np.zeros(9)), "blocks"),
    (lambda: Polynomial(0.1, 0.5).rate(StepState(0), epoch=-1), "epoch"),
    (lambda: Constant(0.1).update(np.zeros(3), StepState(0), np.zeros(4), epoch=0), "v"),
])
def test_bad_inputs_raise_value_error_naming_the_parameter(make, name):
    with pytest.raises(ValueError, match=rf"\b{name}\b"):
        make()
