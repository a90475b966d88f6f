"""Notebook 03's optimizer-step checks: torch gives the expected states, and wrong steps are rejected."""
from __future__ import annotations

import numpy as np
import pytest

from lrcourse import losses
from lrcourse import optimizers as O
from lrcourse.exercises import NotAttemptedError
from lrcourse.exercises import optimizers as ex

STEP_EXERCISES = [e for e in ex.EXERCISES if isinstance(e, ex.StepExercise)]


@pytest.mark.parametrize("exercise", STEP_EXERCISES, ids=lambda e: e.name)
def test_expected_states_come_from_torch_and_equal_the_reference_run_step_by_step(exercise):
    for case in exercise.cases:
        expected = exercise.expected(case)
        assert len(expected) == 1 + len(case.grads) >= 4
        kwargs = dict(case.kwargs)
        for k, (grad, want) in enumerate(zip((case.kwargs["grad"], *case.grads), expected, strict=True), start=1):
            kwargs["grad"] = grad
            if exercise.counter:
                kwargs[exercise.counter] = k
            got = exercise.reference(**kwargs)
            for a, e in zip(got, want, strict=True):
                np.testing.assert_allclose(a, e, rtol=1e-12, atol=1e-15)
            kwargs["params"] = got[0]
            for (name, _), value in zip(exercise.state, got[1:], strict=True):
                kwargs[name] = value


@pytest.mark.parametrize("exercise", STEP_EXERCISES, ids=lambda e: e.name)
def test_the_library_optimizer_gives_the_same_steps(exercise):
    # The notebook's prose says lrcourse.optimizers is what the exercises rebuild.
    case = exercise.cases[0]
    names = {"momentum_step": "SGD", "adagrad_step": "Adagrad", "rmsprop_step": "RMSprop", "adam_step": "Adam",
             "adamw_step": "AdamW"}
    opt = getattr(O, names[exercise.name])(**exercise.torch_args(case.kwargs))
    params = case.kwargs["params"]
    for grad, want in zip((case.kwargs["grad"], *case.grads), exercise.expected(case), strict=True):
        params = opt.step(params, grad)
        np.testing.assert_allclose(params, want[0], rtol=1e-12, atol=1e-15)


def test_a_wrong_state_is_caught_even_when_the_parameters_are_right():
    def buffer_scaled(params, grad, buf, lr, momentum, dampening=0.0, nesterov=False):
        new, buf = ex._momentum_step(params, grad, buf, lr, momentum, dampening, nesterov)
        return new, 2 * buf

    with pytest.raises(AssertionError, match=r"\[step 1 of 6\].*your new_buf is"):
        ex.momentum_step.check(buffer_scaled)


def test_a_mistake_that_only_shows_later_is_reported_at_its_step_with_the_learners_state():
    def adam_t_frozen(params, grad, m, v, t, lr, betas=(0.9, 0.999), eps=1e-8):
        return ex._adam_step(params, grad, m, v, 1, lr, betas, eps)   # always corrects as if t == 1

    with pytest.raises(AssertionError) as info:
        ex.adam_step.check(adam_t_frozen)
    message = str(info.value)
    assert "t=2, " in message and "[step 2 of 7, state from your previous step]" in message
    assert "what torch.optim.Adam gives" in message


def test_updating_the_state_in_place_is_reported():
    def in_place(params, grad, sum_sq, lr, eps=1e-10):
        sum_sq += grad ** 2
        return params - lr * grad / (np.sqrt(sum_sq) + eps), sum_sq

    with pytest.raises(AssertionError, match="changed its input sum_sq in place"):
        ex.adagrad_step.check(in_place)


@pytest.mark.parametrize("returned", [None, 1.0, "params", ()])
def test_returning_something_other_than_the_tuple_is_explained(returned):
    with pytest.raises(AssertionError, match=r"return the tuple \(new_params, new_square_avg\)"):
        ex.rmsprop_step.check(lambda params, grad, square_avg, lr, alpha=0.99, eps=1e-8: returned)


def test_a_stub_that_raises_later_is_still_not_attempted():
    calls = []

    def half_done(params, grad, m, v, t, lr, betas=(0.9, 0.999), eps=1e-8):
        calls.append(t)
        raise NotImplementedError()

    with pytest.raises(NotAttemptedError):
        ex.adam_step.check(half_done)
    assert calls == [1]


def test_momentum_speedup_reference_values():
    # GD on a diagonal quadratic at 2/(L+mu) contracts every coordinate by exactly (kappa-1)/(kappa+1),
    # so its count equals the prediction; heavy ball's repeated eigenvalue makes it slower than its rate.
    assert ex._momentum_speedup(100.0) == (559, 81)
    assert ex._predicted_steps(100.0) == (559, 56)
    assert ex._momentum_speedup(10.0) == (51, 21)


def test_steps_to_reach_and_heavy_ball():
    f = losses.ill_conditioned(100.0)
    hb = O.heavy_ball(f)
    assert hb.lr == pytest.approx(4 / 11 ** 2) and hb.hyperparameters["momentum"] == pytest.approx((9 / 11) ** 2)
    assert O.steps_to_reach(O.SGD(lr=2 / 101), f, [0.0, 0.0], tol=1e-8) == 0
    assert O.steps_to_reach(O.SGD(lr=1e-6), f, [1.0, 1.0], tol=1e-8, max_steps=10) is None
    assert O.steps_to_reach(O.SGD(lr=0.05), f, [1.0, 1.0], tol=1e-8) is None   # diverges: lr > 2/L
    traj = O.run(O.heavy_ball(f), f, [1.0, 1.0], 200)
    first = int(np.argmax(traj.losses < 1e-8))
    assert O.steps_to_reach(hb, f, [1.0, 1.0], tol=1e-8) == first == 81
    with pytest.raises(ValueError, match="tol"):
        O.steps_to_reach(hb, f, [1.0, 1.0], tol=0)
    with pytest.raises(ValueError, match="optimizer"):
        O.steps_to_reach("sgd", f, [1.0, 1.0], tol=1e-8)


@pytest.mark.parametrize("make", [lambda: O.SGD(lr=0.02, momentum=0.9, nesterov=True), lambda: O.Adam(lr=0.05),
                                  lambda: O.RMSprop(lr=0.01), lambda: O.Adagrad(lr=0.5)],
                         ids=["SGD", "Adam", "RMSprop", "Adagrad"])
def test_steps_to_reach_counts_what_the_public_step_counts(make):
    """Its loop skips step()'s checks of its arguments; the count, the state and the step counter are those of
    step() itself (and a subclass that overrides step() keeps it)."""
    rng = np.random.default_rng(3)
    for _ in range(3):
        A = rng.normal(size=(3, 3))
        f = losses.Quadratic(A @ A.T + 0.2 * np.eye(3))
        x0 = rng.normal(size=3)
        fast, slow = make(), make()
        count = O.steps_to_reach(fast, f, x0, tol=1e-6, max_steps=3000)
        x, t = x0, 0
        while t < 3000 and float(f(x)) >= 1e-6:
            x, t = slow.step(x, f.grad(x)), t + 1
        assert count == (t if float(f(x)) < 1e-6 else None)
        assert fast.steps == slow.steps
        for key, value in slow.state.items():
            np.testing.assert_array_equal(fast.state[key], value)

    class Counted(O.SGD):
        calls = 0

        def step(self, params, grad):
            Counted.calls += 1
            return super().step(params, grad)

    O.steps_to_reach(Counted(lr=0.1), losses.ill_conditioned(10.0), [1.0, 1.0], tol=1e-8)
    assert Counted.calls > 0


def _sgd_no_momentum(params, grad, buf, lr, momentum, dampening=0.0, nesterov=False):
    return params - lr * grad, buf


def _adagrad_sum_not_returned(params, grad, sum_sq, lr, eps=1e-10):
    new_sum = sum_sq + grad * grad
    return params - lr * grad / (np.sqrt(new_sum) + eps), sum_sq


def _adam_torch_eps_hat_but_wrong_m(params, grad, m, v, t, lr, betas=(0.9, 0.999), eps=1e-8):
    new, m, v = ex._adam_step(params, grad, m, v, t, lr, betas, eps)
    return new, m / (1 - betas[0] ** t), v


#: Plausible wrong answers beyond the known mistakes; tests/test_exercises.py feeds them to the checks.
WRONG_ANSWERS = {
    "momentum_step": [
        _sgd_no_momentum,
        lambda params, grad, buf, lr, momentum, dampening=0.0, nesterov=False: (
            params - lr * grad, grad if buf is None else momentum * buf + grad),
        lambda params, grad, buf, lr, momentum, dampening=0.0, nesterov=False: (
            params + lr * (grad if buf is None else momentum * buf + (1 - dampening) * grad),
            grad if buf is None else momentum * buf + (1 - dampening) * grad),
        lambda params, grad, buf, lr, momentum, dampening=0.0, nesterov=False: params - lr * grad,
    ],
    "momentum_speedup": [
        lambda kappa, tol=1e-8: ex._momentum_speedup(kappa, tol)[0] / ex._momentum_speedup(kappa, tol)[1],
        lambda kappa, tol=1e-8: (float(ex._momentum_speedup(kappa, tol)[0]), float(ex._momentum_speedup(kappa, tol)[1])),
        lambda kappa, tol=1e-8: ex._momentum_speedup(kappa, 1e-8),
        lambda kappa, tol=1e-8: tuple(s + 1 for s in ex._momentum_speedup(kappa, tol)),
        lambda kappa, tol=1e-8: (ex._momentum_speedup(kappa, tol)[0], None),
    ],
    "adagrad_step": [
        _adagrad_sum_not_returned,
        lambda params, grad, sum_sq, lr, eps=1e-10: (params - lr * grad, sum_sq + grad * grad),
        lambda params, grad, sum_sq, lr, eps=1e-10: (
            params - lr * grad / (np.sqrt(sum_sq + grad * grad) + eps), np.sqrt(sum_sq + grad * grad)),
        lambda params, grad, sum_sq, lr, eps=1e-10: [params - lr * np.sign(grad), sum_sq + grad * grad],
    ],
    "rmsprop_step": [
        # right but for its default: alpha=0.9 (a case leaves alpha at its default, so the default is checked)
        lambda params, grad, square_avg, lr, alpha=0.9, eps=1e-8: ex._rmsprop_step(params, grad, square_avg, lr,
                                                                                    alpha, eps),
        lambda params, grad, square_avg, lr, alpha=0.99, eps=1e-8: ex._adagrad_step(params, grad, square_avg, lr, eps),
        lambda params, grad, square_avg, lr, alpha=0.99, eps=1e-8: (
            params - lr * grad / (np.sqrt(alpha * square_avg + (1 - alpha) * grad ** 2) + eps),
            np.sqrt(alpha * square_avg + (1 - alpha) * grad ** 2)),
        lambda params, grad, square_avg, lr, alpha=0.99, eps=1e-8: ex._rmsprop_step(params, grad, square_avg, lr,
                                                                                    alpha, 1e-8),
    ],
    "adam_step": [
        _adam_torch_eps_hat_but_wrong_m,
        lambda params, grad, m, v, t, lr, betas=(0.9, 0.999), eps=1e-8: ex._adam_step(params, grad, m, v, t, lr,
                                                                                      betas[::-1], eps),
        lambda params, grad, m, v, t, lr, betas=(0.9, 0.999), eps=1e-8: ex._adamw_step(params, grad, m, v, t, lr,
                                                                                       betas, eps, 0.01),
        lambda params, grad, m, v, t, lr, betas=(0.9, 0.999), eps=1e-8: ex._adam_step(params, grad, m, v, t, lr)[:2],
    ],
    "adamw_step": [
        lambda params, grad, m, v, t, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2: ex._adam_step(
            params, grad, m, v, t, lr, betas, eps),
        lambda params, grad, m, v, t, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2: ex._adamw_step(
            params, grad, m, v, t, lr, betas, eps, 1e-2),
        lambda params, grad, m, v, t, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2: ex._adam_step(
            params - lr * weight_decay, grad, m, v, t, lr, betas, eps),
    ],
}
