"""Notebook 07's checks: their expected answers are the library's (held against the reference packages
elsewhere), and wrong answers a learner could write fail."""
from __future__ import annotations

import math

import numpy as np
import pytest

from lrcourse import optimizers as O
from lrcourse import scale, schedules as S
from lrcourse.exercises import scale as ex


def test_expected_answers_are_the_librarys():
    for case in ex.scaled_lr.cases:
        kw = case.kwargs
        rule = scale.linear_scaling if kw["rule"] == "linear" else scale.sqrt_scaling
        assert ex.scaled_lr.expected(case) == pytest.approx(rule(kw["base_lr"], kw["base_batch"], kw["batch"]), rel=1e-12)
    for case in ex.noise_scale.cases:
        assert ex.noise_scale.expected(case) == pytest.approx(scale.noise_scale(case.kwargs["grads"])["B_simple"],
                                                              rel=1e-12)
    for case in ex.lamb_trust_ratio.cases:
        kw = {"eps": 1e-6, **case.kwargs}  # one LAMB step with beta1 = 0, no bias correction: lr * trust * update
        opt = O.LAMB(lr=1.0, betas=(0.0, 0.5), eps=kw["eps"], bias_correction=False)
        opt.step(kw["weight"], kw["update"])
        update = kw["update"] / (np.sqrt(0.5 * kw["update"] ** 2) + kw["eps"])
        assert opt.tensor_state[0]["trust_ratio"] == pytest.approx(
            ex.lamb_trust_ratio.reference(kw["weight"], update, kw["eps"]), rel=1e-12)
    for case in ex.wsd_schedule.cases:
        want = S.evaluate(S.wsd(**case.kwargs, decay="1-sqrt"), case.steps)
        np.testing.assert_array_equal(ex.wsd_schedule.expected(case), want)


def test_sf_update_is_the_optimizers_step_with_the_plain_average():
    """Schedule-free SGD (r = 0, no warmup, constant LR) takes exactly the exercise's step."""
    rng = np.random.default_rng(0)
    opt = O.SGDScheduleFree(lr=0.1, momentum=0.8, weight_lr_power=0.0)
    y = rng.standard_normal(4)
    x, z = y.copy(), y.copy()
    for t in range(12):
        grad = rng.standard_normal(4)
        y = opt.step(y, grad)
        x, z, y_ex = ex.sf_update.reference(x, z, grad, 0.1, 0.8, t)
        np.testing.assert_allclose(y, y_ex, rtol=1e-12)
        np.testing.assert_allclose(opt.eval_params(y), x, rtol=1e-12)
        np.testing.assert_allclose(opt.tensor_state[0]["z"], z, rtol=1e-12)


def test_mup_lr_is_the_param_groups_of_the_library():
    model = scale.width_mlp(64, 10, width=96, base_width=32, depth=2, parametrization="mup")
    groups = scale.adam_param_groups(model, 5e-4)
    hidden = next(g for g in groups if len(g["params"]) == 1)
    assert hidden["lr"] == pytest.approx(ex.mup_lr.reference(5e-4, 32, 96, "hidden"))
    assert groups[-1]["lr"] == ex.mup_lr.reference(5e-4, 32, 96, "input") == ex.mup_lr.reference(5e-4, 32, 96, "output")


def _wsd(decay=lambda p: 1 - math.sqrt(p), warm=lambda t, w: t / w):
    def factory(lr, warmup_steps, stable_steps, decay_steps, min_lr=0.0):
        start = warmup_steps + stable_steps

        def schedule(step):
            if step < warmup_steps:
                return lr * warm(step, warmup_steps)
            if step < start:
                return lr
            if step < start + decay_steps:
                return min_lr + (lr - min_lr) * decay((step - start) / decay_steps)
            return min_lr
        return schedule
    return factory


WRONG_ANSWERS = {
    "scaled_lr": [
        lambda base_lr, base_batch, batch, rule: base_lr,
        lambda base_lr, base_batch, batch, rule: base_lr * (batch / base_batch) ** 2 if rule == "sqrt"
        else base_lr * batch / base_batch,
        lambda base_lr, base_batch, batch, rule: str(base_lr * batch / base_batch),
        lambda base_lr, base_batch, batch, rule: base_lr * batch / base_batch if rule == "sqrt"
        else base_lr * math.sqrt(batch / base_batch),  # the rules swapped
        lambda base_lr, base_batch, batch, rule: round(base_lr * batch / base_batch, 2) if rule == "linear"
        else base_lr * math.sqrt(batch / base_batch),
    ],
    "noise_scale": [
        lambda grads: float(np.sum(grads.var(axis=1, ddof=1)) / (grads.mean(0) @ grads.mean(0))),  # wrong axis
        lambda grads: float(np.sum(grads.var(axis=0, ddof=1))),  # no division
        lambda grads: float(np.sum(grads.var(axis=0, ddof=1)) / (grads.sum(0) @ grads.sum(0))),  # G as the sum
        lambda grads: grads.var(axis=0, ddof=1) / (grads.mean(0) @ grads.mean(0)),  # per parameter
        lambda grads: float(np.sum(grads.std(axis=0, ddof=1)) / (grads.mean(0) @ grads.mean(0))),
    ],
    "lamb_trust_ratio": [
        # the spectral norm (ord=2 on a matrix) instead of the norm over all entries: the full-rank case tells them apart
        lambda weight, update, eps=1e-6: ex._lamb_trust_reference(
            np.linalg.norm(weight, 2) * np.ones(1) if np.ndim(weight) == 2 else weight,
            np.linalg.norm(update, 2) * np.ones(1) if np.ndim(update) == 2 else update, eps),
        lambda weight, update, eps=1e-6: 1.0,
        lambda weight, update, eps=1e-6: min(np.linalg.norm(weight), 1.0) / (np.linalg.norm(update) + eps),
        lambda weight, update, eps=1e-6: (np.linalg.norm(weight) / (np.linalg.norm(update) + eps)
                                          if np.linalg.norm(weight) and np.linalg.norm(update) else 0.0),
        lambda weight, update, eps=1e-6: min(np.linalg.norm(weight), 10) ** 2 / (np.linalg.norm(update) ** 2 + eps)
        if np.linalg.norm(weight) and np.linalg.norm(update) else 1.0,
        lambda weight, update, eps=1e-6: max(np.abs(weight).max(), 0) / (np.abs(update).max() + eps)
        if np.linalg.norm(weight) and np.linalg.norm(update) else 1.0,
    ],
    "wsd_schedule": [
        lambda lr, warmup_steps, stable_steps, decay_steps, min_lr=0.0: S.wsd(lr, warmup_steps, stable_steps,
                                                                             decay_steps, min_lr, "cosine"),
        _wsd(warm=lambda t, w: 1.0),  # no warmup at all
        _wsd(decay=lambda p: (1 - p) ** 2),
        lambda lr, warmup_steps, stable_steps, decay_steps, min_lr=0.0: lambda t: lr,  # never decays
        lambda lr, warmup_steps, stable_steps, decay_steps, min_lr=0.0: (
            lambda t: _wsd()(lr, warmup_steps, stable_steps, decay_steps, min_lr)(t) if t < warmup_steps + stable_steps
            + decay_steps else 0.0),  # falls to 0 after the decay instead of staying at min_lr
    ],
    "sf_update": [
        lambda x, z, grad, lr, beta, t: (x, z - lr * grad, z - lr * grad),
        lambda x, z, grad, lr, beta, t: ex.sf_update.reference(x, z, grad, lr, beta, t)[::-1],
        lambda x, z, grad, lr, beta, t: ex.sf_update.reference(x, z, grad, lr, beta, t + 1),
        lambda x, z, grad, lr, beta, t: ex.sf_update.reference(x, z, -grad, lr, beta, t),
        lambda x, z, grad, lr, beta, t: ex.sf_update.reference(x, z, grad, lr, beta, t)[:2],
    ],
    "mup_lr": [
        lambda base_lr, base_width, width, layer: base_lr * base_width / width if layer == "output" else base_lr,
        lambda base_lr, base_width, width, layer: base_lr * (base_width / width) ** 2 if layer == "hidden"
        else base_lr,
        lambda base_lr, base_width, width, layer: base_lr * base_width / width if layer != "input" else base_lr,
        lambda base_lr, base_width, width, layer: base_lr / width if layer == "hidden" else base_lr,
    ],
}


def test_in_place_updates_are_reported():
    def in_place(x, z, grad, lr, beta, t):
        z -= lr * grad
        c = 1 / (t + 1)
        x_new = (1 - c) * x + c * z
        return x_new, z, (1 - beta) * z + beta * x_new

    with pytest.raises(AssertionError, match="changed its input z in place"):
        ex.sf_update.check(in_place)


def test_a_stateful_wsd_schedule_is_rejected():
    def counting(lr, warmup_steps, stable_steps, decay_steps, min_lr=0.0):
        right, calls = S.wsd(lr, warmup_steps, stable_steps, decay_steps, min_lr), iter(range(10**6))
        return lambda step: right(next(calls))

    with pytest.raises(AssertionError, match="keeps state between calls"):
        ex.wsd_schedule.check(counting)


def test_wsd_feedback_names_the_library_function_not_torch():
    with pytest.raises(AssertionError) as info:
        ex.wsd_schedule.check(_wsd(decay=lambda p: 1 - p))
    message = str(info.value)
    assert "the LR of lrcourse.schedules.wsd(..., decay='1-sqrt')" in message and "torch" not in message
    assert "Your decay is linear" in message
