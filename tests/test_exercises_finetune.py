"""Notebook 06's checks (lrcourse.exercises.finetune), beyond what test_exercises.py runs for every notebook
(the solutions pass, each known mistake is rejected and explained, WRONG_ANSWERS below are rejected)."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from lrcourse import finetune as library
from lrcourse import models
from lrcourse.exercises import NotAttemptedError
from lrcourse.exercises import finetune as ex


def test_the_library_helpers_are_correct_answers(capsys):
    ex.replace_head.check(lambda model, num_classes: library.replace_head(model, num_classes))
    ex.param_groups.check(lambda model, head_lr, factor: library.discriminative_groups(model, head_lr, factor))
    assert capsys.readouterr().out.count("✓") == 2


def test_resetting_gradients_through_the_model_counts(capsys):
    loop = ex._loop_variant(reset_through_model=True)  # model.zero_grad() instead of optimizer.zero_grad()
    ex.fine_tune.check(loop)
    assert capsys.readouterr().out.startswith("✓ fine_tune")


def test_any_reset_of_the_gradients_counts_and_a_missing_one_is_seen_in_the_gradients(capsys):
    """The check looks at the gradients backward() adds to, not at which method was called (probe 6: p.grad = None
    by hand was told "never reset"); a reset once per epoch leaves them to pile up within it."""
    ex.fine_tune.check(ex._loop_variant(reset_by_hand=True))   # for p in model.parameters(): p.grad = None
    assert capsys.readouterr().out.count("✓ fine_tune") == 1
    with pytest.raises(AssertionError, match="backward\\(\\) added to gradients left over from an earlier batch"):
        ex.fine_tune.check(ex._loop_variant(reset_once_per_epoch=True))


def test_a_stub_is_not_attempted():
    def stub(*args, **kwargs):
        raise NotImplementedError()

    for exercise in ex.EXERCISES:
        with pytest.raises(NotAttemptedError):
            exercise.check(stub)


def _head_on_cpu_double(model, num_classes):
    model.fc = nn.Linear(model.fc.in_features, num_classes).double()
    return model


def _trainable_by_module_flag(model, stages):
    model.requires_grad_(False)
    model.fc.requires_grad_(True)
    return model


def _constant_lr(optimizer, warmup_steps, total_steps):
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)


def _linear_decay(optimizer, warmup_steps, total_steps):
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: step / warmup_steps if step < warmup_steps else
        max(0.0, (total_steps - step) / (total_steps - warmup_steps)))


def _head_and_frozen_body(model, num_classes):
    for param in model.parameters():
        param.requires_grad = False
    model.fc = torch.nn.Linear(model.fc.in_features, num_classes)
    return model


def _trainable_without_return(model, stages):
    ex._set_trainable(model, stages)


WRONG_ANSWERS = {
    "replace_head": [lambda model, num_classes: None, lambda model, num_classes: model,
                     _head_and_frozen_body,  # the right head, and the body frozen: "leave the body alone"
                     lambda model, num_classes: models.small_resnet(num_classes=num_classes, seed=0)],  # another model
    "param_groups": [lambda model, head_lr, factor: [{"params": model.parameters(), "lr": head_lr}],
                     lambda model, head_lr, factor: {"lr": head_lr},
                     # the right groups and LRs, but head first: the docstring states stem, layer1, ..., fc
                     lambda model, head_lr, factor: ex._param_groups(model, head_lr, factor)[::-1]],
    "set_trainable": [_trainable_by_module_flag, lambda model, stages: model,
                      _trainable_without_return],  # the right flags, but None back: "Return the model"
    "warmup_cosine": [_constant_lr, _linear_decay, lambda optimizer, warmup_steps, total_steps: None],
    "fine_tune": [ex._loop_variant(backward=False), lambda model, optimizer, scheduler, batches, epochs: [],
                  ex._loop_variant(set_mode=False),  # right but for model.train(): fine while handed over in train mode
                  ex._loop_variant(item=False)],  # returns the loss tensors, graph and all, not numbers
}


def test_a_head_that_breaks_the_forward_pass_is_reported():
    with pytest.raises(AssertionError, match="the model does not run on a batch of 2 images: RuntimeError"):
        ex.replace_head.check(_head_on_cpu_double)  # a float64 head on a float32 body


def test_the_stated_accuracy_is_below_what_the_reference_reaches():
    case = ex.fine_tune.cases[-1]
    reached = ex._observe_loop(ex._fine_tune, case)["accuracy"]
    assert ex.FINE_TUNE_TARGET <= reached - 0.05  # 0.717 when the target was set
    assert math.isclose(ex.FINE_TUNE_TARGET, 0.65)


def test_the_references_observations_are_remembered_per_case_and_language(capsys):
    """A check run again does not redo the reference's work (fine_tune trains a model for it); another language,
    reference or case is observed afresh, and what comes back is a copy."""
    import dataclasses

    import lrcourse

    calls = []

    def counting(fn, case):
        calls.append((fn, repr(case)))
        return ex.set_trainable.observe(fn, case)

    counted = dataclasses.replace(ex.set_trainable, observe=counting)
    learner = lambda model, stages: ex.set_trainable.reference(model, stages)  # noqa: E731  (a right answer)
    counted.check(learner)
    first = sum(fn is ex.set_trainable.reference for fn, _ in calls)
    assert first == len(counted.cases)  # each case's reference observed once
    counted.check(learner)
    assert sum(fn is ex.set_trainable.reference for fn, _ in calls) == first  # the second check: none again
    assert sum(fn is learner for fn, _ in calls) == 2 * first  # the learner's function is run every time
    seen = counted.expected(counted.cases[0])
    seen["trainable"] = ("mutated",)
    assert counted.expected(counted.cases[0])["trainable"] != ("mutated",)
    lrcourse.set_language("vi")
    try:
        counted.check(learner)
    finally:
        lrcourse.set_language("en")
    assert sum(fn is ex.set_trainable.reference for fn, _ in calls) == 2 * first  # its summary is in Vietnamese
    other = dataclasses.replace(counted, reference=lambda model, stages: ex.set_trainable.reference(model, stages))
    other.check(learner)
    assert sum(fn is other.reference for fn, _ in calls) == first
    capsys.readouterr()
