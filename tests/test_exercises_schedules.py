"""Notebook 02's schedule checks: torch gives the expected LRs, and wrong schedules are rejected."""
from __future__ import annotations

import math

import numpy as np
import pytest

from lrcourse import schedules as S
from lrcourse.exercises import NotAttemptedError
from lrcourse.exercises import schedules as ex


@pytest.mark.parametrize("exercise", ex.EXERCISES, ids=lambda e: e.name)
def test_expected_values_come_from_torch_and_equal_the_library(exercise):
    for case in exercise.cases:
        expected = exercise.expected(case)
        ours = [exercise.reference(**case.kwargs)(t) for t in range(case.steps)]
        assert len(expected) == case.steps >= 2
        np.testing.assert_allclose(ours, expected, rtol=1e-12, atol=1e-15)


def _cos(lr, total, min_lr, t):
    return min_lr + (lr - min_lr) * (1 + math.cos(math.pi * t / total)) / 2


#: Plausible wrong schedules beyond the known mistakes; tests/test_exercises.py feeds them to the checks.
WRONG_ANSWERS = {
    "step_decay": [
        lambda lr, step_size, gamma=0.1: lr * gamma,  # a number, not a schedule
        lambda lr, step_size, gamma=0.5: lambda t: lr * gamma ** (t // step_size),  # wrong default
        lambda lr, step_size, gamma=0.1: lambda t: lr * gamma ** (t // (step_size + 1)),
        lambda lr, step_size, gamma=0.1: lambda t: lr * gamma ** (t // step_size - 1),
        lambda lr, step_size, gamma=0.1: lambda t: str(lr * gamma ** (t // step_size)),
        lambda lr, step_size, gamma=0.1: lambda t: lr * gamma ** (t // step_size) if t < 20 else lr,
    ],
    "exponential": [
        lambda lr, gamma: lambda t: lr * gamma ** max(t - 1, 0),
        lambda lr, gamma: lambda t: lr / gamma ** t,
        lambda lr, gamma: lambda t: lr * gamma ** (t // 2),
        lambda lr, gamma: lambda: lr,  # a schedule that takes no step
    ],
    "cosine": [
        lambda lr, total_steps, min_lr=0.01: lambda t: _cos(lr, total_steps, min_lr, t),  # wrong default
        lambda lr, total_steps, min_lr=0.0: lambda t: _cos(lr, total_steps, min_lr, t // 2),
        lambda lr, total_steps, min_lr=0.0: lambda t: _cos(lr, total_steps + 1, min_lr, t),
        lambda lr, total_steps, min_lr=0.0: lambda t: min_lr + (lr - min_lr) * (1 - t / total_steps),
        lambda lr, total_steps, min_lr=0.0: lambda t: _cos(lr, total_steps, min_lr, t) + 1e-6,
    ],
    "linear_warmup": [
        lambda lr, warmup_steps, start_factor=0.1, end_factor=1.0: S.linear_warmup(lr, warmup_steps, start_factor,
                                                                                     end_factor),
        lambda lr, warmup_steps, start_factor=1 / 3, end_factor=1.0: S.linear_warmup(lr, warmup_steps, start_factor),
        lambda lr, warmup_steps, start_factor=1 / 3, end_factor=1.0: lambda t: lr * (
            start_factor + (end_factor - start_factor) * max(t, warmup_steps) / warmup_steps),
        lambda lr, warmup_steps, start_factor=1 / 3, end_factor=1.0: lambda t: lr * end_factor,
    ],
    "warmup_cosine": [
        lambda lr, warmup_steps, total_steps, start_factor=1 / 3, min_lr=0.0: S.cosine(lr, total_steps, min_lr),
        lambda lr, warmup_steps, total_steps, start_factor=1 / 3, min_lr=0.0: S.linear_warmup(
            lr, warmup_steps, start_factor),
        lambda lr, warmup_steps, total_steps, start_factor=1 / 3, min_lr=0.0: S.join(
            [S.linear_warmup(lr, warmup_steps, start_factor), S.cosine(lr, total_steps - warmup_steps, min_lr)],
            [warmup_steps - 1] if warmup_steps > 1 else [warmup_steps]) if warmup_steps > 1 else
        S.join([S.constant(lr * start_factor), S.cosine(lr, total_steps - 1, min_lr)], [1]),
        lambda lr, warmup_steps, total_steps, start_factor=1 / 3, min_lr=0.0: S.warmup_cosine(
            lr, warmup_steps, total_steps, 1 / 3, min_lr),  # ignores start_factor
    ],
    "cyclic": [
        lambda base_lr, max_lr, step_size: S.cyclic(base_lr, max_lr, step_size, 2 * step_size),
        lambda base_lr, max_lr, step_size: S.cyclic(base_lr, max_lr, step_size, mode="triangular2"),
        lambda base_lr, max_lr, step_size: lambda t: base_lr + (max_lr - base_lr) * abs(
            math.sin(math.pi * t / (2 * step_size))),
        lambda base_lr, max_lr, step_size: S.cyclic(base_lr, max_lr, step_size + 1),
    ],
}


def test_failure_names_the_step_the_value_and_torch():
    with pytest.raises(AssertionError) as info:
        ex.step_decay.check(lambda lr, step_size, gamma=0.1: lambda t: lr * gamma ** ((t + 1) // step_size))
    assert str(info.value) == (
        "step_decay(lr=0.1, step_size=4, gamma=0.5): at step 3 your schedule gives 0.05; expected 0.1, "
        "the LR torch's StepLR sets. Your schedule decays one step early: step 0 is the first step, so the "
        "first decay is at step == step_size. Use step // step_size. Call ex.step_decay.hint() for a hint."
    )


def test_returning_a_number_instead_of_a_schedule_is_explained():
    with pytest.raises(AssertionError, match=r"returned 0\.05 \(float\); it should return a schedule"):
        ex.step_decay.check(lambda lr, step_size, gamma=0.1: lr * gamma)


def test_a_schedule_that_crashes_reports_the_step():
    def factory(lr, total_steps, min_lr=0.0):
        return lambda t: lr / t

    with pytest.raises(AssertionError, match=r"The schedule returned by cosine\(lr=0.1, total_steps=10\) "
                                             r"raised ZeroDivisionError at step 0") as info:
        ex.cosine.check(factory)
    assert isinstance(info.value.__cause__, ZeroDivisionError)


def test_a_schedule_that_returns_text_is_explained():
    with pytest.raises(AssertionError, match=r"returned '0.1' \(str\) at step 0; expected a number"):
        ex.exponential.check(lambda lr, gamma: lambda t: str(lr))


def test_a_stub_inside_the_schedule_is_not_attempted():
    def factory(lr, gamma):
        def schedule(step):
            raise NotImplementedError()
        return schedule

    with pytest.raises(NotAttemptedError):
        ex.exponential.check(factory)


def test_numpy_and_torch_numbers_are_accepted():
    import torch

    ex.exponential.check(lambda lr, gamma: lambda t: np.float32(lr) * 0 + np.float64(lr) * gamma ** t)
    ex.exponential.check(lambda lr, gamma: lambda t: torch.tensor(lr * gamma ** t, dtype=torch.float64))
    ex.exponential.check(lambda lr, gamma: lambda t: np.array([lr * gamma ** t]))
    with pytest.raises(AssertionError, match="expected a number"):
        ex.exponential.check(lambda lr, gamma: lambda t: np.array([lr, lr]))
    with pytest.raises(AssertionError, match="expected a number"):
        ex.exponential.check(lambda lr, gamma: lambda t: True)
