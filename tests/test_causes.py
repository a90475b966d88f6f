"""The generic causes a check names when no known mistake fits (lrcourse.exercises._causes and
Exercise._ignored): each is named for a wrong answer of its shape, and never for a right answer or an answer of
another shape."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from lrcourse.exercises import Case, Exercise
from lrcourse.exercises import _causes
from lrcourse.exercises import descent as ex_descent
from lrcourse.exercises import schedules as ex_schedules

E = np.array([0.1, 0.25, 0.3, 0.45, 0.5, 0.65, 0.7])  # a ramp, as a schedule's LRs


@pytest.mark.parametrize("actual, expected, starts", [
    (-E, E, "it is the expected value with the opposite sign"),
    (-2.5, 2.5, "it is the expected value with the opposite sign"),
    (3 * E, E, "every value is 3 times the expected one"),
    (np.r_[E[0], E[:-1]], E, "your values come one step late"),
    (np.r_[E[1:], 0.9], E, "your values come one step early"),
    (E[:-1], E, "you return one value too few (6 instead of 7)"),
    (np.r_[E, 0.8], E, "you return one value too many (8 instead of 7)"),
    (np.floor(np.linspace(0, 2.9, 7)), np.linspace(0, 2.9, 7) + 0.0, "your values move in steps (3 distinct"),
    (np.arange(6.0).reshape(2, 3).T, np.arange(6.0).reshape(2, 3), "it is the expected array transposed"),
    ((True, E), (E, True), "it holds the right values in another order"),
    (torch.tensor(E, dtype=torch.float32) * 1.0000001, E, "it agrees with the expected value only to about 7"),
    (float(np.float32(np.sqrt(50.0)) * np.float32(1.0000001)), float(np.sqrt(50.0)),
     "it agrees with the expected value only to about 7"),
    ((np.r_[E[0], E[:-1]], False), (E, False), "your values come one step late"),  # a pair: the element that differs
])
def test_a_wrong_answer_of_each_shape_is_named(actual, expected, starts):
    assert _causes.of_values(actual, expected).startswith(starts)


@pytest.mark.parametrize("actual, expected", [
    (E, E),                                  # right
    (E + 0.01, E),                           # wrong, but in none of the shapes: nothing is guessed
    (0.3, 0.5),                              # one wrong number: any factor would "explain" it
    (np.r_[E[:3], E[3:] * 2], E),            # a factor on part of the values only
    (np.sort(E)[::-1], E),                   # reversed, not shifted
    ((E, False), (E, True)),                 # the flag differs: no numbers to explain
    (np.float32(E), E),                      # NumPy float32: the check's own dtype note says it
    (np.float32(E) * np.float32(1.0000001), E),  # ... nor is its rounding "1 times the expected one"
    (0.5 / 0.7 + 1e-6, 0.5 / 0.7),           # an eps added in the wrong place, in float64: not a precision
    (np.r_[0.1, 0.1, 0.3, 0.2, 0.5, 0.5, 0.7], E),  # repeats, but does not rise with the expected
])
def test_a_right_answer_or_one_of_no_known_shape_gets_no_cause(actual, expected):
    assert _causes.of_values(actual, expected) == ""


def _failure(exercise, fn) -> str:
    with pytest.raises(AssertionError) as info:
        exercise.check(fn)
    return str(info.value)


def test_an_ignored_argument_is_named_and_a_used_one_is_not():
    def ignores_lr(x, grad, lr):
        return x - 0.1 * grad

    message = _failure(ex_descent.gd_step, ignores_lr)
    assert ("Your result does not change with lr: it is not used, or a clamp, a max or min or an integer "
            "division hides it, or it cancels out.") in message
    assert "does not change with x" not in message and "does not change with grad" not in message

    def wrong_but_uses_all(x, grad, lr):
        return x - lr * grad * 1.01
    assert "does not change with" not in _failure(ex_descent.gd_step, wrong_but_uses_all)


def test_a_schedule_that_rounds_is_told_about_the_staircase():
    def exponential(lr0, gamma):
        return lambda step: lr0 * gamma ** (step // 2)

    message = _failure(ex_schedules.exponential, exponential)
    assert "Your values move in steps" in message and "integer division (//)" in message


def test_an_edge_label_is_shown_only_when_the_edge_is_why_it_fails():
    toy = Exercise(name="half", points=1, reference=lambda x: x / 2, hint_text="",
                   cases=[Case({"x": 0.0}, note="edge: zero"), Case({"x": 4.0}), Case({"x": -6.0})])

    def wrong_at_zero(x):
        return x / 2 if x else 1.0

    def wrong_everywhere(x):
        return x / 3 if x else 1.0

    assert "half(x=0.0) [edge: zero] returned 1.0" in _failure(toy, wrong_at_zero)
    message = _failure(toy, wrong_everywhere)
    assert message.startswith("half(x=0.0) returned 1.0") and "edge" not in message


def test_a_float32_computation_returned_as_a_python_float_gets_a_precision_cause():
    toy = Exercise(name="norm", points=1, reference=lambda v: float(np.linalg.norm(v)), hint_text="",
                   cases=[Case({"v": np.array([0.1, 0.2, 0.3])}), Case({"v": np.array([1.1, 2.3, 0.7])})])

    def float32_norm(v):
        return torch.linalg.norm(torch.tensor(v, dtype=torch.float32)).item()

    assert "only to about 7 significant digits" in _failure(toy, float32_norm)


# --------------------------------------------------------------------------- the causes added after the third probe
W = np.array([0.0, 0.1, 0.2, 0.3, 0.3, 0.28, 0.22, 0.15, 0.08, 0.03])  # a warmup, then a decay


@pytest.mark.parametrize("actual, expected, starts", [
    (np.r_[W[:6], W[5:-1]], W, "your values are right up to step 5 and from there come one step late"),
    (np.r_[W[:6], W[7:], 0.0], W, "your values are right up to step 5 and from there come one step early"),
    (np.r_[0.0, 0.0, 0.0, 0.0, 0.3, 0.3, 0.3, 0.3, 0.0, 0.0], W, "your values move in steps"),  # // in both phases
])
def test_a_phase_one_step_off_and_a_staircase_in_a_rise_and_fall_are_named(actual, expected, starts):
    assert _causes.of_values(actual, expected).startswith(starts)


def test_a_factor_that_is_a_count_of_the_input_is_named_and_another_is_not():
    folds = [([0, 1], [2]), ([1, 2], [0]), ([0, 2], [1]), ([0], [1, 2])]
    assert _causes.of_values(4 * E, E, {"folds": folds}).startswith(
        "every value is 4 times the expected one, and 4 is len(folds): a sum where a mean is meant")
    assert _causes.of_values(E / 3, E, {"k": 3}).startswith("every value is 0.333333 times the expected one, and 3 is k")
    assert "len(" not in _causes.of_values(3 * E, E, {"folds": folds})  # 3 is no count here: the plain factor
    assert _causes.of_values(E, E, {"folds": folds}) == ""


def test_a_wrong_default_is_named_and_a_right_one_is_not():
    def gamma_half(lr, step_size, gamma=0.5):
        return lambda t: lr * gamma ** (t // step_size)

    assert "Your default for gamma is 0.5, not 0.1: with gamma=0.1 passed explicitly your answer is right" in \
        _failure(ex_schedules.step_decay, gamma_half)

    def wrong_but_default_right(lr, step_size, gamma=0.1):
        return lambda t: lr * gamma ** (t // (step_size + 1))
    assert "Your default for" not in _failure(ex_schedules.step_decay, wrong_but_default_right)


def test_an_argument_is_called_unused_only_when_every_case_ignores_it():
    from lrcourse.exercises import plateau as ex_plateau

    def max_rel_copied_from_min(current, best, mode="min", threshold_mode="rel", threshold=1e-4):
        bar = best * (1 - threshold) if threshold_mode == "rel" else (best - threshold if mode == "min"
                                                                      else best + threshold)
        return bool(current < bar) if mode == "min" else bool(current > bar)
    assert "does not change with" not in _failure(ex_plateau.is_improvement, max_rel_copied_from_min)
    # (an argument unused on every case is still named: test_an_ignored_argument_is_named_and_a_used_one_is_not)


def test_right_on_vectors_and_wrong_on_matrices_is_named():
    from lrcourse.exercises import scale as ex_scale

    def per_row(weight, update, eps=1e-6):
        w = np.minimum(np.linalg.norm(np.atleast_2d(weight), axis=1), 10.0)
        u = np.linalg.norm(np.atleast_2d(update), axis=1)
        return float(np.mean(np.where((w == 0) | (u == 0), 1.0, w / (u + eps))))
    assert "right on every case whose arrays are vectors and wrong on one with a matrix" in \
        _failure(ex_scale.lamb_trust_ratio, per_row)

    def off_everywhere(weight, update, eps=1e-6):
        return 1.01 * ex_scale.lamb_trust_ratio.reference(weight, update, eps)
    assert "whose arrays are vectors" not in _failure(ex_scale.lamb_trust_ratio, off_everywhere)


def test_a_warning_from_a_cases_own_function_is_not_quoted_as_the_learners():
    def stops_at_norm_only(grad, x0, lr, num_steps, max_norm=1e6):
        x, points = np.array(x0, dtype=float), [np.array(x0, dtype=float)]
        for _ in range(num_steps):
            x = x - lr * grad(x)
            if np.linalg.norm(x) > max_norm:
                return np.array(points), True
            points.append(x)
        return np.array(points), False
    message = _failure(ex_descent.gradient_descent, stops_at_norm_only)
    assert "overflow encountered in exp" not in message
