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


# --------------------------------------------------------------------------- results: numbers, not graphs
PLAIN_EXERCISES = [(nb, e) for nb, e in ALL_EXERCISES if not isinstance(e.reference, type)]


def _with_graph(value, converted: list):
    """``value`` with every float and float array in it made a torch tensor that requires grad (what a loop that
    keeps ``loss`` instead of ``loss.item()`` returns); a returned function gives such tensors. ``converted``
    records that something was."""
    if isinstance(value, (bool, np.bool_, int, np.integer, str)) or value is None:
        return value
    if isinstance(value, (float, np.floating)) or (isinstance(value, np.ndarray) and value.dtype.kind == "f"):
        converted.append(True)
        return torch.tensor(value, dtype=torch.float64, requires_grad=True) * 1.0
    if isinstance(value, (list, tuple)):
        return type(value)(_with_graph(v, converted) for v in value)
    if inspect.isfunction(value):
        return lambda *args, **kwargs: _with_graph(value(*args, **kwargs), converted)
    return value


@pytest.mark.parametrize("notebook, exercise", PLAIN_EXERCISES, ids=_ids)
def test_numbers_returned_as_tensors_that_hold_their_graph_are_rejected_and_told_to_use_item(notebook, exercise,
                                                                                              capsys):
    fn, converted = _learner_function(notebook, exercise), []
    try:
        exercise.check(lambda *args, **kwargs: _with_graph(fn(*args, **kwargs), converted))
    except AssertionError as err:
        assert converted and ("requires grad" in str(err) or "holding its whole graph" in str(err)), str(err)[:600]
        assert ".item()" in str(err), str(err)[:600]
    else:
        assert not converted, f"{exercise.name} accepted numbers returned as tensors holding their graph"
    assert capsys.readouterr().err == ""


# --------------------------------------------------------------------------- results: in the order they are named
def _reversed_tuples(fn, changed: list):
    def reversed_fn(*args, **kwargs):
        result = fn(*args, **kwargs)
        if isinstance(result, tuple) and len(result) >= 2:
            flipped = result[::-1]
            if not all(_same_value(a, b) for a, b in zip(result, flipped)):
                changed.append(True)
            return flipped
        return result
    return reversed_fn


def _same_value(a, b) -> bool:
    try:
        return type(a) is type(b) and bool(np.array_equal(np.asarray(a), np.asarray(b)))
    except Exception:
        return False


@pytest.mark.parametrize("notebook, exercise", PLAIN_EXERCISES, ids=_ids)
def test_a_tuple_returned_in_another_order_is_rejected_and_told_so(notebook, exercise, capsys):
    changed = []
    try:
        exercise.check(_reversed_tuples(_learner_function(notebook, exercise), changed))
    except AssertionError as err:
        assert changed, str(err)[:300]
        assert any(cause in str(err) for cause in ("in another order", "the order the docstring gives", "swap")), \
            str(err)[:800]
    else:
        assert not changed, f"{exercise.name} accepted its tuple in another order"
    capsys.readouterr()


# --------------------------------------------------------------------------- models: the mode they come in and leave in
def _model_modes(notebook, exercise) -> list[bool]:
    """``model.training`` of each model the check hands to the learner's function."""
    fn, modes = _learner_function(notebook, exercise), []

    def spy(*args, **kwargs):
        modes.extend(getattr(v, "_inner", v).training for v in [*args, *kwargs.values()]
                     if isinstance(getattr(v, "_inner", v), torch.nn.Module))
        return fn(*args, **kwargs)
    exercise.check(spy)
    return modes


MODEL_EXERCISES = [(nb, e) for nb, e in PLAIN_EXERCISES if "model" in _signature(e.reference).parameters]


def test_the_model_exercises_are_those_of_notebook_06():
    assert {e.name for _, e in MODEL_EXERCISES} == {"replace_head", "param_groups", "set_trainable", "fine_tune"}


@pytest.mark.parametrize("notebook, exercise", MODEL_EXERCISES, ids=_ids)
def test_a_model_comes_in_train_mode_in_one_case_and_in_eval_mode_in_another(notebook, exercise, capsys):
    modes = _model_modes(notebook, exercise)
    assert True in modes and False in modes, f"{exercise.name}: every model comes in {'train' if modes[0] else 'eval'} mode"
    capsys.readouterr()


def _mode_flipped(fn):
    """Right, but leaves the model in the other mode (a stray model.train() or model.eval())."""
    def flipped(model, *args, **kwargs):
        result = fn(model, *args, **kwargs)
        model.train(not model.training)
        return result
    return flipped


def _never_train_mode(fn):
    """Right, but never calls model.train(): it trains in whatever mode the model came in."""
    def untrained(model, *args, **kwargs):
        model.train = lambda mode=True: model
        return fn(model, *args, **kwargs)
    return untrained


@pytest.mark.parametrize("notebook, exercise", MODEL_EXERCISES, ids=_ids)
def test_the_mode_a_model_is_left_in_or_trained_in_is_checked(notebook, exercise, capsys):
    fn = _learner_function(notebook, exercise)
    if exercise in [e for _, e in LOOP_EXERCISES]:  # a loop sets train mode itself
        with pytest.raises(AssertionError, match="ran in eval mode while training"):
            exercise.check(_never_train_mode(fn))
    else:  # a function that prepares a model leaves its mode alone
        with pytest.raises(AssertionError, match="must not call model.train"):
            exercise.check(_mode_flipped(fn))
    capsys.readouterr()


# --------------------------------------------------------------------------- matrices: full rank, out of order
def _matrices(notebook, exercise) -> dict:
    """Every 2-D float array (both sides 2 or more) the check passes, by argument name; inside lists too."""
    fn, sig, found = _learner_function(notebook, exercise), None, {}
    sig = _signature(fn)

    def collect(name, value):
        if isinstance(value, np.ndarray) and value.ndim == 2 and min(value.shape) >= 2 and value.dtype.kind == "f":
            found.setdefault(name, []).append(value.copy())
        elif isinstance(value, (list, tuple)):
            for item in value:
                collect(name, item)

    def spy(*args, **kwargs):
        for name, value in sig.bind(*args, **kwargs).arguments.items():
            collect(name, value)
        return fn(*args, **kwargs)
    if not isinstance(fn, type):
        exercise.check(spy)
    return found


def _out_of_order(matrix) -> bool:
    values = np.linalg.eigvals(matrix).real
    return not (np.all(np.diff(values) >= 0) or np.all(np.diff(values) <= 0))


@pytest.mark.parametrize("notebook, exercise", PLAIN_EXERCISES, ids=_ids)
def test_a_matrix_argument_is_full_rank_and_non_symmetric_in_a_case_or_symmetric_with_eigenvalues_out_of_order(
        notebook, exercise, capsys):
    if _exempt(exercise, "matrices"):
        pytest.skip(exercise.exempt["matrices"])
    for name, matrices in _matrices(notebook, exercise).items():
        symmetric = [m.shape[0] == m.shape[1] and np.allclose(m, m.T) for m in matrices]
        if all(symmetric):  # symmetric by definition (a Hessian): the eigenvalues' order is what can be got wrong
            assert any(_out_of_order(m) for m in matrices), \
                f"{exercise.name}: {name}'s eigenvalues come in order in every case (np.linalg.eigvals' order works)"
        else:
            assert any(not s and np.linalg.matrix_rank(m) == min(m.shape) for m, s in zip(matrices, symmetric)), \
                f"{exercise.name}: no case gives {name} as a full-rank, non-symmetric matrix"
    capsys.readouterr()


def test_the_matrix_property_tells_a_full_rank_non_symmetric_matrix_and_eigenvalues_out_of_order():
    assert _out_of_order(np.diag([1.0, 5.0, 3.0])) and not _out_of_order(np.diag([1.0, 3.0, 5.0]))
    assert not _out_of_order(np.diag([1.0, 10.0]))  # two eigenvalues are always in one order or the other
    assert np.linalg.matrix_rank(np.array([[1.0, 2.0], [2.0, 4.0]])) == 1
