"""The properties every exercise check enforces, tested on every exercise of lrcourse.exercises.

A new exercise cannot skip them: each test below runs over all exercises of
all notebooks. Where a property makes no sense for an exercise, the exercise
says so in ``exempt`` with its reason, and the test reads that.

The learner's side is the solution notebook's own function (its signature and
defaults are what learners see); a recording wrapper around it captures the
arguments each check really passes.
"""
from __future__ import annotations

import copy
import inspect
import itertools
import warnings

import numpy as np
import pytest
import torch

from _course import solution_namespace
from lrcourse.exercises import NotAttemptedError
from lrcourse.exercises._core import CRASHED, PROPERTIES, CheckRun, _silenced
from test_exercises import ALL_EXERCISES

PROBE = "probe warning raised by the learner's code"


def _ids(value):
    return getattr(value, "name", None) or str(value)[:30]


def _learner_function(notebook: str, exercise):
    return solution_namespace(notebook)[exercise.name]


def _signature(fn) -> inspect.Signature:
    if isinstance(fn, type):
        sig = inspect.signature(fn.__init__)
        return sig.replace(parameters=list(sig.parameters.values())[1:])  # without self
    return inspect.signature(fn)


def _fingerprint(value):
    """What makes two argument values different for a learner's code (a model: its architecture, not its weights)."""
    value = getattr(value, "_inner", value)  # the fine-tuning checks' spies
    if value is None or isinstance(value, (bool, int, float, str)):
        return ("value", repr(value))
    if isinstance(value, np.generic):
        return ("value", repr(value.item()))
    if isinstance(value, np.ndarray):
        return ("array", value.shape, value.dtype.str, value.tobytes())
    if isinstance(value, torch.Tensor):
        return ("tensor", tuple(value.shape), str(value.dtype), value.detach().numpy().tobytes())
    if isinstance(value, np.random.Generator):  # by its state: a copied generator prints with its address
        return ("rng", repr(value.bit_generator.state))
    if isinstance(value, torch.nn.Module):
        return ("module", repr(value))
    if isinstance(value, torch.optim.Optimizer):
        return ("optimizer", type(value).__name__, repr(value.defaults), tuple(g["lr"] for g in value.param_groups))
    if isinstance(value, torch.optim.lr_scheduler.LRScheduler):
        return ("scheduler", type(value).__name__)
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(_fingerprint(v) for v in value))
    if isinstance(value, dict):
        return ("dict", tuple((k, _fingerprint(v)) for k, v in value.items()))
    if callable(value) and hasattr(value, "__name__"):
        return ("callable", value.__name__)
    return ("object", repr(value))


def _recorded_calls(notebook: str, exercise) -> tuple[inspect.Signature, list[dict]]:
    """Every call the check makes to the learner's function: ``{argument: (fingerprint, shape or None)}``."""
    fn = _learner_function(notebook, exercise)
    sig = _signature(fn)
    calls: list[dict] = []

    def record(args, kwargs):
        bound = sig.bind(*args, **kwargs)
        passed = set(bound.arguments)
        bound.apply_defaults()
        calls.append({name: (_fingerprint(v), v.shape if isinstance(v, np.ndarray) else None, name in passed)
                      for name, v in bound.arguments.items()})

    if isinstance(fn, type):
        class Recorded(fn):
            def __init__(self, *args, **kwargs):
                record(args, kwargs)
                super().__init__(*args, **kwargs)
        spy = Recorded
    else:
        def spy(*args, **kwargs):
            record(args, kwargs)
            return fn(*args, **kwargs)
    exercise.check(spy)
    return sig, calls


def _exempt(exercise, prop: str) -> bool:
    return prop in exercise.exempt


# --------------------------------------------------------------------------- the declarations
@pytest.mark.parametrize("notebook, exercise", ALL_EXERCISES, ids=_ids)
def test_exemptions_name_a_property_and_give_a_reason(notebook, exercise):
    assert set(exercise.exempt) <= set(PROPERTIES), set(exercise.exempt) - set(PROPERTIES)
    for prop, reason in exercise.exempt.items():
        assert isinstance(reason, str) and len(reason) >= 20, (prop, reason)
    assert not (exercise.bounds and "bounds" in exercise.exempt), "declares bounds and is exempt from them"


# --------------------------------------------------------------------------- arguments
@pytest.mark.parametrize("notebook, exercise", ALL_EXERCISES, ids=_ids)
def test_every_argument_takes_two_values_and_every_default_is_overridden_and_used(notebook, exercise, capsys):
    if _exempt(exercise, "arguments"):
        pytest.skip(exercise.exempt["arguments"])
    sig, calls = _recorded_calls(notebook, exercise)
    assert calls
    for name, param in sig.parameters.items():
        values = {call[name][0] for call in calls}
        assert len(values) >= 2, f"{exercise.name}: every case gives {name} the same value"
        if param.default is not inspect.Parameter.empty:
            assert values - {_fingerprint(param.default)}, \
                f"{exercise.name}: {name} is left at its default {param.default!r} in every case"
            # and some case leaves it out, so that the learner's own default is what runs (a wrong default is caught)
            assert any(not call[name][2] for call in calls), \
                f"{exercise.name}: every case passes {name}, so a wrong default {name}= in the learner's code passes"
    assert capsys.readouterr().err == ""


# --------------------------------------------------------------------------- arrays
@pytest.mark.parametrize("notebook, exercise", ALL_EXERCISES, ids=_ids)
def test_array_arguments_come_in_two_shapes_one_of_them_two_dimensional(notebook, exercise):
    if _exempt(exercise, "arrays"):
        pytest.skip(exercise.exempt["arrays"])
    sig, calls = _recorded_calls(notebook, exercise)
    for name in sig.parameters:
        shapes = {call[name][1] for call in calls} - {None}
        if shapes:
            assert len(shapes) >= 2, f"{exercise.name}: {name} always has shape {shapes}"
            assert max(len(s) for s in shapes) >= 2, f"{exercise.name}: {name} is never 2-D ({shapes})"


# --------------------------------------------------------------------------- bounds
@pytest.mark.parametrize("notebook, exercise", ALL_EXERCISES, ids=_ids)
def test_every_named_bound_has_a_case_on_it_and_one_on_each_side(notebook, exercise):
    if _exempt(exercise, "bounds"):
        pytest.skip(exercise.exempt["bounds"])
    assert exercise.bounds, f"{exercise.name} declares no bounds and is not exempt from them"
    for bound in exercise.bounds:
        margins = [m for case in exercise.cases for m in bound.margins(case)]
        assert any(m == 0 for m in margins), f"{exercise.name}: no case lands exactly on {bound.name}"
        assert any(m < 0 for m in margins), f"{exercise.name}: no case below {bound.name}"
        assert any(m > 0 for m in margins), f"{exercise.name}: no case above {bound.name}"


# --------------------------------------------------------------------------- pure
def _returns_a_function(exercise) -> bool:
    try:
        result = _silenced(exercise.reference, copy.deepcopy(list(exercise.cases[0].kwargs.values())))
    except Exception:
        return False
    return inspect.isfunction(result) or inspect.ismethod(result)


def _counting(reference):
    """The right schedule's values, looked up by how many times it was called: right only in order 0, 1, 2, ..."""
    def factory(*args, **kwargs):
        schedule, calls = reference(*args, **kwargs), itertools.count()
        return lambda step: schedule(next(calls))
    return factory


def _chained(reference):
    """Multiplies its last value by the ratio of consecutive steps, as a recursive scheduler does."""
    def factory(*args, **kwargs):
        schedule, state = reference(*args, **kwargs), {}

        def stateful(step):
            if state.get("step") == step - 1:  # the next step: chain (from the closed form after an LR of 0)
                previous = schedule(step - 1)
                value = state["value"] * schedule(step) / previous if previous != 0 else schedule(step)
            else:
                value = schedule(step) if "value" not in state else state["value"]
            state.update(step=step, value=value)
            return value
        return stateful
    return factory


FUNCTION_EXERCISES = [(nb, e) for nb, e in ALL_EXERCISES if _returns_a_function(e)]


def test_the_schedule_exercises_return_functions():
    assert {e.name for _, e in FUNCTION_EXERCISES} == {
        "step_decay", "exponential", "cosine", "linear_warmup", "warmup_cosine", "cyclic", "wsd_schedule"}


@pytest.mark.parametrize("make", [_counting, _chained], ids=["counter", "chained"])
@pytest.mark.parametrize("notebook, exercise", FUNCTION_EXERCISES, ids=_ids)
def test_a_returned_function_that_keeps_state_is_rejected(notebook, exercise, make):
    if _exempt(exercise, "pure"):
        pytest.skip(exercise.exempt["pure"])
    with pytest.raises(AssertionError, match="keeps state between calls") as info:
        exercise.check(make(exercise.reference))
    assert "pure function of step" in str(info.value)


# --------------------------------------------------------------------------- loop order
LOOP_EXERCISES = [(nb, e) for nb, e in ALL_EXERCISES
                  if {"optimizer", "scheduler", "batches"} <= set(_signature(e.reference).parameters)]


class _Reordered:
    """An optimizer whose step() first does ``before()``: how a loop with its calls in the wrong order looks."""

    def __init__(self, inner, before):
        self._inner, self._before = inner, before

    def step(self, *args, **kwargs):
        self._before()
        return self._inner.step(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._inner, name)


class _Idle:
    def __init__(self, inner):
        self._inner = inner

    def step(self, *args, **kwargs):
        return None

    def __getattr__(self, name):
        return getattr(self._inner, name)


def _scheduler_first(reference):
    def loop(model, optimizer, scheduler, batches, epochs):
        return reference(model, _Reordered(optimizer, scheduler.step), _Idle(scheduler), batches, epochs)
    return loop


def _blind_updates(reference):
    def loop(model, optimizer, scheduler, batches, epochs):
        return reference(model, _Reordered(optimizer, optimizer.zero_grad), scheduler, batches, epochs)
    return loop


def test_fine_tune_is_the_training_loop():
    assert [e.name for _, e in LOOP_EXERCISES] == ["fine_tune"]


@pytest.mark.parametrize("notebook, exercise", LOOP_EXERCISES, ids=_ids)
def test_a_loop_that_steps_the_scheduler_first_is_rejected_with_the_lr_each_update_used(notebook, exercise):
    if _exempt(exercise, "loop order"):
        pytest.skip(exercise.exempt["loop order"])
    with pytest.raises(AssertionError) as info:
        exercise.check(_scheduler_first(exercise.reference))
    message = str(info.value)
    assert "scheduler.step() ran before optimizer.step()" in message
    assert "update 1 used" in message
    assert "Detected call of `lr_scheduler.step()` before `optimizer.step()`" in message  # torch's warning, quoted


@pytest.mark.parametrize("notebook, exercise", LOOP_EXERCISES, ids=_ids)
def test_a_loop_whose_updates_see_no_gradient_is_rejected(notebook, exercise):
    with pytest.raises(AssertionError, match="updates saw only zero gradients"):
        exercise.check(_blind_updates(exercise.reference))


# --------------------------------------------------------------------------- warnings
def _warning_first(fn):
    if isinstance(fn, type):
        class Warns(fn):
            def __init__(self, *args, **kwargs):
                warnings.warn(PROBE, UserWarning, stacklevel=2)
                super().__init__(*args, **kwargs)
        return Warns

    def warns(*args, **kwargs):
        warnings.warn(PROBE, UserWarning, stacklevel=2)
        return fn(*args, **kwargs)
    return warns


@pytest.mark.parametrize("notebook, exercise", ALL_EXERCISES, ids=_ids)
def test_a_warning_from_the_learners_code_is_quoted_in_the_feedback(notebook, exercise, capsys):
    if _exempt(exercise, "warnings"):
        pytest.skip(exercise.exempt["warnings"])
    with pytest.raises(AssertionError) as info:
        exercise.check(_warning_first(exercise.mistakes[0].fn))
    assert not isinstance(info.value, NotAttemptedError)
    assert f"While your code ran, Python warned: UserWarning: {PROBE}" in str(info.value)
    assert exercise.mistakes[0].message in str(info.value)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("notebook, exercise", ALL_EXERCISES, ids=_ids)
def test_a_right_answer_that_warns_still_passes_without_a_word_on_stderr(notebook, exercise, capsys):
    exercise.check(_warning_first(_learner_function(notebook, exercise)))
    out, err = capsys.readouterr()
    assert out.startswith(f"✓ {exercise.name}: ") and out.count("\n") == 1
    assert err == ""


# --------------------------------------------------------------------------- known mistakes
def _answers(exercise, fn):
    return [exercise._answer(fn, case, _silenced) for case in exercise._diagnosis_cases(exercise.cases)]


def _differs(exercise, a, b) -> bool:
    if (a is CRASHED) != (b is CRASHED):
        return True
    return a is not CRASHED and not exercise._same_answer(a, b)


@pytest.mark.parametrize("notebook, exercise", ALL_EXERCISES, ids=_ids)
def test_a_known_mistakes_message_needs_agreement_on_every_case(notebook, exercise):
    """An answer that makes a mistake's error on one case and is right elsewhere does not get its message."""
    right = _answers(exercise, exercise.reference)
    tried = 0
    for mistake in exercise.mistakes:
        wrong = _answers(exercise, mistake.fn)
        differing = [i for i, (r, w) in enumerate(zip(right, wrong, strict=True)) if _differs(exercise, r, w)]
        assert differing, f"{exercise.name}: a known mistake gives the right answer on every case"
        if len(differing) < 2:
            continue  # the hybrid below would be the mistake itself
        tried += 1
        run = CheckRun(object(), exercise.cases)  # a check's state, its learner's answers already known
        run.mine = [w if i == differing[0] else r for i, (r, w) in enumerate(zip(right, wrong, strict=True))]
        assert mistake.message not in exercise._diagnose(run)
        run.mine = wrong
        assert exercise._diagnose(run).strip()  # the mistake itself (or one that answers alike) is recognised
    if len(exercise._diagnosis_cases(exercise.cases)) >= 2:
        assert tried, f"{exercise.name}: no known mistake differs from the reference on two cases"
