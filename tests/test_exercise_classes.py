"""Wrong answers of the kinds learners wrote that once passed, and the feedback each must get.

Five classes of answers were accepted as correct before the checks enforced the
properties in tests/test_exercise_properties.py: an argument the cases never
varied, an edge no case touched, state in what must be a pure function, a
training loop's steps in the wrong order, and code that fits one model only.
Each class has at least two answers per exercise it affected. The second half
asserts the messages that used to name the wrong cause.
"""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from lrcourse import descent as D
from lrcourse import losses
from lrcourse import plateau as P
from lrcourse import schedules as S
from lrcourse.exercises import NotAttemptedError
from lrcourse.exercises import descent as ex_descent
from lrcourse.exercises import finetune as ex_finetune
from lrcourse.exercises import optimizers as ex_optimizers
from lrcourse.exercises import plateau as ex_plateau
from lrcourse.exercises import schedules as ex_schedules
from lrcourse.exercises import search as ex_search
from test_exercise_properties import _counting as _counter  # a schedule that counts its calls

_TRAP = losses.TwoBasins()
_stage = ex_finetune._stage  # a parameter's stage from its name, as the checks sort them


# --------------------------------------------------------------------------- 1. an argument never varied
def _basin(loss, x0, lr, num_steps):
    traj = D.run(loss, [x0], lr, num_steps)
    if traj.diverged:
        return "diverged"
    return D.nearest_minimum(loss, float(traj.final[0]))


def _first_cut(metrics, patience, mode="min", threshold=1e-4, threshold_mode="rel"):
    sched = P.ReduceLROnPlateau(1.0, patience=patience, mode=mode, threshold=threshold,
                                threshold_mode=threshold_mode)
    for epoch, metric in enumerate(metrics, start=1):
        if sched.step(metric) < 1.0:
            return epoch
    return None


def _adamw(params, grad, m, v, t, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
    b1, b2 = betas
    params = params * (1 - lr * weight_decay)
    m = b1 * m + (1 - b1) * grad
    v = b2 * v + (1 - b2) * grad * grad
    return params - lr * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps), m, v


def _lambda_scheduler(optimizer, warmup_steps, total_steps, base=None):
    def factor(step):
        f = step / warmup_steps if step < warmup_steps else \
            0.5 * (1 + math.cos(math.pi * min((step - warmup_steps) / (total_steps - warmup_steps), 1.0)))
        return f if base is None else f * base / optimizer.param_groups[0]["lr"]
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _loop(step_lr_of=None, head_only=False):
    def fine_tune(model, optimizer, scheduler, batches, epochs):
        losses_ = []
        for _ in range(epochs):
            model.train()
            for inputs, targets in batches:
                optimizer.zero_grad()
                out = model.fc(model(inputs)) if head_only else model(inputs)
                loss = F.cross_entropy(out, targets)
                loss.backward()
                optimizer.step()
                scheduler.step()
                losses_.append(loss.item())
        return losses_
    return fine_tune


def _loop_sgd_state(model, optimizer, scheduler, batches, epochs):
    """Builds its own SGD at the notebook's settings, ignoring the optimizer it is given."""
    own = torch.optim.SGD(model.parameters(), lr=0.03, momentum=0.9)
    return _loop()(model, own, scheduler, batches, epochs)


ARGUMENT_NEVER_VARIED = [
    (ex_descent.basin_reached, lambda loss, x0, lr, num_steps=200: _basin(loss, x0, lr, 200)),
    (ex_descent.basin_reached, lambda loss, x0, lr, num_steps=200: _basin(loss, x0, lr, 500)),
    (ex_plateau.first_cut_epoch, lambda metrics, patience, mode="min", threshold=1e-4, threshold_mode="rel":
        _first_cut(metrics, patience, mode)),
    (ex_plateau.first_cut_epoch, lambda metrics, patience, mode="min", threshold=1e-4, threshold_mode="rel":
        _first_cut(metrics, patience, mode, threshold)),
    (ex_optimizers.adamw_step, lambda params, grad, m, v, t, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2:
        _adamw(params, grad, m, v, t, lr, betas, 1e-8, weight_decay)),
    (ex_optimizers.adamw_step, lambda params, grad, m, v, t, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1:
        _adamw(params, grad, m, v, t, lr, betas, eps, weight_decay)),
    (ex_finetune.warmup_cosine, lambda optimizer, warmup_steps, total_steps:
        _lambda_scheduler(optimizer, warmup_steps, total_steps, base=0.01)),
    (ex_finetune.warmup_cosine, lambda optimizer, warmup_steps, total_steps: torch.optim.lr_scheduler.LambdaLR(
        torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1), lambda step: 1.0)),
    (ex_finetune.fine_tune, _loop(head_only=True)),
    (ex_finetune.fine_tune, _loop_sgd_state),
]


# --------------------------------------------------------------------------- 2. an edge never touched
def _gd(norm=np.linalg.norm, at_bound=False):
    def gradient_descent(grad, x0, lr, num_steps, max_norm=1e6):
        x, points = np.array(x0, dtype=float), [np.array(x0, dtype=float)]
        with np.errstate(all="ignore"):
            for _ in range(num_steps):
                x = x - lr * grad(x)
                size = norm(x)
                if not np.all(np.isfinite(x)) or size > max_norm or (at_bound and size == max_norm):
                    return np.array(points), True
                points.append(x)
        return np.array(points), False
    return gradient_descent


def _smoothed(at_bound):
    def smoothed_losses(losses_, smooth_f=0.05, diverge_th=5.0):
        out, avg, best = [], 0.0, math.inf
        for t, loss in enumerate(losses_, start=1):
            avg = (1 - smooth_f) * avg + smooth_f * loss
            smoothed = avg / (1 - (1 - smooth_f) ** t)
            out.append(smoothed)
            if not math.isfinite(smoothed):
                break
            best = min(best, smoothed)
            if smoothed > diverge_th * best or (at_bound and smoothed == diverge_th * best):
                break
        return np.array(out)
    return smoothed_losses


class _PlateauEdges:
    """ReduceLROnPlateau with one edge moved: ``eps_ge`` applies a cut of exactly eps, ``floor`` ignores min_lr."""

    eps_ge = False
    floor = True
    bar_ge = False

    def __init__(self, lr, mode="min", factor=0.1, patience=10, threshold=1e-4, threshold_mode="rel",
                 cooldown=0, min_lr=0.0, eps=1e-8):
        self.lr, self.mode, self.factor, self.patience = lr, mode, factor, patience
        self.threshold, self.threshold_mode, self.cooldown, self.min_lr, self.eps = \
            threshold, threshold_mode, cooldown, min_lr, eps
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = self.cooldown_counter = 0

    def step(self, metric):
        if self.mode == "min":
            bar = self.best * (1 - self.threshold) if self.threshold_mode == "rel" else self.best - self.threshold
            better = metric <= bar if self.bar_ge else metric < bar
        else:
            bar = self.best * (1 + self.threshold) if self.threshold_mode == "rel" else self.best + self.threshold
            better = metric >= bar if self.bar_ge else metric > bar
        if better:
            self.best, self.num_bad_epochs = metric, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            new = max(self.lr * self.factor, self.min_lr) if self.floor else self.lr * self.factor
            if self.lr - new > self.eps or (self.eps_ge and self.lr - new == self.eps):
                self.lr = new
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
        return self.lr


class _CutAtEps(_PlateauEdges):
    eps_ge = True


class _NoFloor(_PlateauEdges):
    floor = False


class _TieImproves(_PlateauEdges):
    bar_ge = True


def _first_cut_with(cls):
    def first_cut_epoch(metrics, patience, mode="min", threshold=1e-4, threshold_mode="rel"):
        sched = cls(1.0, mode=mode, patience=patience, threshold=threshold, threshold_mode=threshold_mode)
        for epoch, metric in enumerate(metrics, start=1):
            if sched.step(metric) < 1.0:
                return epoch
        return None
    return first_cut_epoch


def _basin_tolerance(tol, otherwise):
    def basin_reached(loss, x0, lr, num_steps=200):
        traj = D.run(loss, [x0], lr, num_steps)
        if traj.diverged:
            return "diverged"
        final = float(traj.final[0])
        if abs(final - loss.local_min) < tol:
            return "local"
        return "global" if abs(final - loss.global_min) < tol else otherwise
    return basin_reached


def _cosine_clamped(end_hold):
    def cosine(lr, total_steps, min_lr=0.0):
        def schedule(step):
            t = min(step, total_steps) if end_hold == "min" else step % (total_steps + 1)
            return min_lr + (lr - min_lr) * (1 + math.cos(math.pi * t / total_steps)) / 2
        return schedule
    return cosine


def _lambda_no_clamp(stop_at=None):
    def warmup_cosine(optimizer, warmup_steps, total_steps):
        def factor(step):
            if step < warmup_steps:
                return step / warmup_steps
            progress = (step - warmup_steps) / (total_steps - warmup_steps)
            if stop_at is not None and step > total_steps:
                return stop_at
            return 0.5 * (1 + math.cos(math.pi * progress))
        return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    return warmup_cosine


EDGE_NEVER_TOUCHED = [
    (ex_descent.gradient_descent, _gd(at_bound=True)),
    (ex_descent.gradient_descent, _gd(norm=lambda x: np.max(np.abs(x)))),
    (ex_descent.gradient_descent, _gd(norm=lambda x: np.sum(np.abs(x)))),
    (ex_search.smoothed_losses, _smoothed(at_bound=True)),
    (ex_search.smoothed_losses, lambda losses_, smooth_f=0.05, diverge_th=5.0:
        _smoothed(at_bound=True)(losses_, smooth_f, diverge_th * (1 - 1e-12))),
    (ex_plateau.PlateauScheduler, _CutAtEps),
    (ex_plateau.PlateauScheduler, _NoFloor),
    (ex_plateau.PlateauScheduler, _TieImproves),
    (ex_plateau.first_cut_epoch, _first_cut_with(_TieImproves)),
    (ex_plateau.first_cut_epoch, lambda metrics, patience, mode="min", threshold=1e-4, threshold_mode="rel":
        _first_cut(metrics, patience, mode, threshold * 0.999, threshold_mode)),  # a bar a hair lower
    (ex_descent.basin_reached, _basin_tolerance(1e-3, "diverged")),
    (ex_descent.basin_reached, _basin_tolerance(0.5, "global")),
    (ex_schedules.cosine, _cosine_clamped("min")),
    (ex_schedules.cosine, _cosine_clamped("wrap")),
    (ex_finetune.warmup_cosine, _lambda_no_clamp()),
    (ex_finetune.warmup_cosine, _lambda_no_clamp(stop_at=1.0)),
]


# --------------------------------------------------------------------------- 3. state in a pure function
def _counter_step_decay(lr, step_size, gamma=0.1):
    calls = itertools.count()
    return lambda step: lr * gamma ** (next(calls) // step_size)


def _running_step_decay(lr, step_size, gamma=0.1):
    state = {"lr": lr}

    def schedule(step):
        if step and step % step_size == 0:
            state["lr"] *= gamma
        return state["lr"]
    return schedule


def _running_exponential(lr, gamma):
    state = {"next": lr}

    def schedule(step):
        value = state["next"]
        state["next"] *= gamma
        return value
    return schedule


def _last_step_remembered(factory):
    """Returns the previous call's value when asked for a step at or before it: a 'monotone' cache."""
    def made(*args, **kwargs):
        schedule, state = factory(*args, **kwargs), {}

        def stateful(step):
            if "step" in state and step <= state["step"]:
                return state["value"]
            state.update(step=step, value=schedule(step))
            return state["value"]
        return stateful
    return made


def _cyclic_ref(base_lr, max_lr, step_size):
    return S.cyclic(base_lr, max_lr, step_size_up=step_size)


def _bouncing_cyclic(base_lr, max_lr, step_size):
    state = {"lr": base_lr, "up": True}
    delta = (max_lr - base_lr) / step_size

    def schedule(step):
        value = state["lr"]
        state["lr"] += delta if state["up"] else -delta
        if state["lr"] >= max_lr - 1e-15 or state["lr"] <= base_lr + 1e-15:
            state["up"] = not state["up"]
        return value
    return schedule


STATEFUL = [
    (ex_schedules.step_decay, _counter_step_decay),
    (ex_schedules.step_decay, _running_step_decay),
    (ex_schedules.exponential, _running_exponential),
    (ex_schedules.exponential, _counter(S.exponential)),
    (ex_schedules.cosine, _counter(S.cosine)),
    (ex_schedules.cosine, _last_step_remembered(S.cosine)),
    (ex_schedules.linear_warmup, _counter(S.linear_warmup)),
    (ex_schedules.linear_warmup, _last_step_remembered(S.linear_warmup)),
    (ex_schedules.warmup_cosine, _counter(S.warmup_cosine)),
    (ex_schedules.warmup_cosine, _last_step_remembered(S.warmup_cosine)),
    (ex_schedules.cyclic, _bouncing_cyclic),
    (ex_schedules.cyclic, _counter(_cyclic_ref)),
]


# --------------------------------------------------------------------------- 4. a loop's steps in the wrong order
def _loop_order(order):
    def fine_tune(model, optimizer, scheduler, batches, epochs):
        losses_ = []
        for _ in range(epochs):
            model.train()
            for inputs, targets in batches:
                loss = None
                for op in order:
                    if op == "zero":
                        optimizer.zero_grad()
                    elif op == "loss":
                        loss = F.cross_entropy(model(inputs), targets)
                    elif op == "backward":
                        loss.backward()
                    elif op == "step":
                        optimizer.step()
                    elif op == "sched":
                        scheduler.step()
                losses_.append(loss.item())
        return losses_
    return fine_tune


WRONG_ORDER = [
    (ex_finetune.fine_tune, _loop_order(["zero", "loss", "backward", "sched", "step"])),
    (ex_finetune.fine_tune, _loop_order(["sched", "zero", "loss", "backward", "step"])),
    (ex_finetune.fine_tune, _loop_order(["loss", "backward", "zero", "step", "sched"])),
    (ex_finetune.fine_tune, _loop_order(["zero", "loss", "step", "backward", "sched"])),
]


# --------------------------------------------------------------------------- 5. code that fits one model only
def _head_64(model, num_classes):
    model.fc = nn.Linear(64, num_classes)
    return model


def _head_from_first_layer_width(model, num_classes):
    model.fc = nn.Linear(model.layer3[0].conv2.out_channels, num_classes)  # 64 on the small ResNets, 256 on ResNet-18
    return model


def _head_attribute(model, num_classes):
    model.fc.out_features = num_classes
    return model


def _groups_by_position(model, head_lr, factor):
    params = list(model.parameters())  # the small ResNet's layout: 3 stem, 9 per stage, 2 head tensors
    cuts = [0, 3, 12, 21, 30, len(params)]
    return [{"params": params[cuts[i]:cuts[i + 1]], "lr": head_lr * factor ** (4 - i)} for i in range(5)]


def _groups_by_count(model, head_lr, factor):
    named = list(model.named_parameters())
    sizes = [3, 9, 9, 9, 2]
    out, start = [], 0
    for i, size in enumerate(sizes):
        out.append({"params": [p for _, p in named[start:start + size]], "lr": head_lr * factor ** (4 - i)})
        start += size
    out[-1]["params"] += [p for _, p in named[start:]]  # anything left goes to the head
    return out


def _trainable_by_position(model, stages):
    params = list(model.parameters())
    first_trainable = [30, 21, 12, 3, 0][stages]
    for i, p in enumerate(params):
        p.requires_grad = i >= first_trainable
    return model


def _trainable_by_block(model, stages):
    order = ["layer3", "layer2", "layer1", "stem"]
    unfrozen = {"fc", *order[:stages]}
    for name, p in model.named_parameters():
        p.requires_grad = _stage(name) in unfrozen and not name.startswith("layer1.1")
    return model


ONE_MODEL_ONLY = [
    (ex_finetune.replace_head, _head_64),
    (ex_finetune.replace_head, _head_from_first_layer_width),
    (ex_finetune.replace_head, _head_attribute),
    (ex_finetune.param_groups, _groups_by_position),
    (ex_finetune.param_groups, _groups_by_count),
    (ex_finetune.set_trainable, _trainable_by_position),
    (ex_finetune.set_trainable, _trainable_by_block),
]

CLASSES = {"an argument never varied": ARGUMENT_NEVER_VARIED, "an edge never touched": EDGE_NEVER_TOUCHED,
           "state in a pure function": STATEFUL, "a loop in the wrong order": WRONG_ORDER,
           "one model only": ONE_MODEL_ONLY}


@pytest.mark.parametrize("exercise, answer", [pair for answers in CLASSES.values() for pair in answers],
                         ids=lambda v: getattr(v, "name", None) or getattr(v, "__name__", "answer"))
def test_answers_of_the_classes_that_once_passed_are_rejected(exercise, answer, capsys):
    with pytest.raises(AssertionError) as info:
        exercise.check(answer)
    assert not isinstance(info.value, NotAttemptedError)
    assert f"{exercise.name}(" in str(info.value) or "The schedule returned by" in str(info.value)
    assert capsys.readouterr() == ("", "")


@pytest.mark.parametrize("name, answers", CLASSES.items())
def test_each_class_has_two_answers_per_exercise_it_affected(name, answers):
    per_exercise: dict = {}
    for exercise, _ in answers:
        per_exercise[exercise.name] = per_exercise.get(exercise.name, 0) + 1
    assert min(per_exercise.values()) >= 2, per_exercise


def test_every_stateful_schedule_is_named_as_such():
    for exercise, answer in STATEFUL:
        with pytest.raises(AssertionError) as info:
            exercise.check(answer)
        assert "keeps state between calls" in str(info.value) or "at step" in str(info.value), exercise.name


# --------------------------------------------------------------------------- the messages that named the wrong cause
def _message(exercise, answer) -> str:
    with pytest.raises(AssertionError) as info:
        exercise.check(answer)
    return str(info.value)


def test_float32_shows_the_digits_and_the_dtype_that_differ():
    message = _message(ex_descent.gd_step, lambda x, grad, lr: (x - lr * grad).astype(np.float32))
    assert "returned [0.949999988, -2.04999995]; expected [0.95, -2.05]" in message
    assert "your result has dtype float32, which keeps only about 7 significant digits" in message


def _adamw_with_l2_too(params, grad, m, v, t, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
    return _adamw(params, grad + weight_decay * params, m, v, t, lr, betas, eps, weight_decay)


def test_adamw_with_both_decays_shows_the_digits_and_the_state_that_differ():
    message = _message(ex_optimizers.adamw_step, _adamw_with_l2_too)
    assert "your new_params is [0.890000002, -2.07999998], torch's is [0.890000002, -2.08]" in message
    assert "your new_m ([0.06, 0.005] vs [0.05, 0.025]) and new_v" in message and "differ too" in message


def _regime(h_of, slow_of=None):
    def lr_regime(a, lr):
        h = h_of(a, lr)
        if (slow_of or (lambda a, lr: h < 0.1))(a, lr):
            return "slow"
        return "divergent" if h >= 2 else "oscillating" if h > 1 else "monotone"
    return lr_regime


@pytest.mark.parametrize("answer", [_regime(lambda a, lr: lr / a), _regime(lambda a, lr: lr * a, lambda a, lr: lr < 0.1)],
                         ids=["lr / a", "slow on lr alone"])
def test_lr_regime_says_the_product_was_not_used(answer):
    message = _message(ex_descent.lr_regime, answer)
    assert "Your answer changes while lr * a stays" in message
    assert "the regime depends on the product h = lr * a alone" in message
    assert "edge" not in message.split("]", 1)[-1]  # no regime edge is blamed


def test_basin_reached_on_the_notebooks_global_loss_is_named():
    message = _message(ex_descent.basin_reached, lambda loss, x0, lr, num_steps=200: _basin(_TRAP, x0, lr, num_steps))
    assert "Your answers are those of the notebook's loss (trap = losses.TwoBasins()), whatever loss is passed" in message
    assert "final iterate, not the start point" not in message


@pytest.mark.parametrize("answer", [lambda base_lr, max_lr, step_size: (lambda t: base_lr),
                                    lambda base_lr, max_lr, step_size: (lambda t: max_lr)],
                         ids=["stuck at base_lr", "stuck at max_lr"])
def test_a_constant_cyclic_schedule_is_not_blamed_on_a_mistake_it_does_not_make(answer):
    message = _message(ex_schedules.cyclic, answer)
    # the one mistake that answers alike says what the answer does first (stuck at base_lr), then its usual cause
    stuck = [m.message for m in ex_schedules.cyclic.mistakes if m.message.startswith("Your LR stays at base_lr")]
    assert len(stuck) == 1
    assert all(m.message not in message for m in ex_schedules.cyclic.mistakes if m.message not in stuck)
    assert "your schedule gives" in message


def test_smoothed_losses_shows_the_first_value_that_differs():
    def wrong_correction(losses_, smooth_f=0.05, diverge_th=5.0):
        out, avg, best = [], 0.0, math.inf
        for t, loss in enumerate(losses_, start=1):
            avg = (1 - smooth_f) * avg + smooth_f * loss
            smoothed = avg / (1 - smooth_f ** t)
            out.append(smoothed)
            if not math.isfinite(smoothed):
                break
            best = min(best, smoothed)
            if smoothed > diverge_th * best:
                break
        return np.array(out)

    message = _message(ex_search.smoothed_losses, wrong_correction)
    assert "(the first value that differs is at step 1: yours 0.121879, expected 2.3157)" in message
    assert "1 - (1 - smooth_f) ** t, not 1 - smooth_f ** t" in message


def test_replace_head_by_setting_out_features_is_named():
    message = _message(ex_finetune.replace_head, _head_attribute)
    assert "Changing model.fc.out_features only changes a number stored on the layer" in message
    assert "the old head was kept" not in message.split(":", 1)[0]


def test_replace_head_with_a_hard_coded_input_size_fails_on_resnet18():
    message = _message(ex_finetune.replace_head, _head_64)
    assert "model=<a ResNet-18>" in message and "model.fc maps 64 features to 7, expected 512 to 7" in message
    assert "The head's input size was hard-coded as 64" in message


def test_param_groups_without_batchnorm_names_the_batchnorm_parameters():
    def no_bn(model, head_lr, factor):
        groups: dict = {s: [] for s in ex_finetune.STAGES}
        for name, p in model.named_parameters():
            if "conv" in name or "fc" in name or "downsample.0" in name:
                groups[_stage(name)].append(p)
        return [{"params": groups[s], "lr": head_lr * factor ** (4 - i)} for i, s in enumerate(ex_finetune.STAGES)]

    message = _message(ex_finetune.param_groups, no_bn)
    assert "parameters are in no group, so they would not train: bn1.weight, bn1.bias, layer1.0.bn1.weight and" \
        in message
    assert "Every one of them belongs to a BatchNorm layer" in message
    assert "the parameters of stem" not in message


def test_param_groups_with_a_bare_tensor_has_no_placeholder():
    def bare(model, head_lr, factor):
        groups = ex_finetune._param_groups(model, head_lr, factor)
        groups[-1]["params"] = model.fc.weight  # torch accepts one tensor; fc.bias is then left out
        return groups

    message = _message(ex_finetune.param_groups, bare)
    assert "?" not in message.replace("hint()", "")
    assert "1 parameter is in no group, so it would not train: fc.bias" in message


def test_set_trainable_with_a_slice_from_the_end_names_minus_zero():
    def from_end(model, stages):
        order = ["stem", "layer1", "layer2", "layer3"]
        unfrozen = {"fc", *order[-stages:]}
        for name, p in model.named_parameters():
            p.requires_grad = _stage(name) in unfrozen
        return model

    message = _message(ex_finetune.set_trainable, from_end)
    assert "order[-stages:] is order[0:] when stages is 0 (-0 == 0)" in message
    assert "Only requires_grad=True was set" not in message


def test_zero_grad_between_backward_and_step_says_the_update_saw_no_gradient():
    message = _message(ex_finetune.fine_tune, _loop_order(["loss", "backward", "zero", "step", "sched"]))
    assert "6 of the 6 updates saw only zero gradients" in message
    assert "reaches" not in message


def test_scheduler_before_optimizer_names_the_order_and_quotes_torchs_warning():
    message = _message(ex_finetune.fine_tune, _loop_order(["zero", "loss", "backward", "sched", "step"]))
    assert "scheduler.step() ran before optimizer.step()" in message
    assert "While your code ran, Python warned: UserWarning: Detected call of `lr_scheduler.step()` before " \
           "`optimizer.step()`" in message


# --------------------------------------------------------------------------- re-entrant checks
def _stalled(fn, barrier):
    """``fn``, whose first call waits until the other thread's check has started too."""
    first = [True]

    def answer(*args):
        if first[0]:
            first[0] = False
            barrier.wait(timeout=10)
        return fn(*args)

    return answer


def test_two_checks_of_one_exercise_run_at_once_from_two_threads(capsys):
    """A check keeps its state in its own CheckRun: two checks of ``gd_step`` that overlap, one right and two wrong
    in different ways, each get their own verdict and their own known mistake."""
    import threading

    answers = {"right": lambda x, grad, lr: x - lr * grad,
               "added": lambda x, grad, lr: x + lr * grad,
               "no lr": lambda x, grad, lr: x - grad}
    barrier = threading.Barrier(len(answers))
    verdicts: dict = {}

    def run(name):
        try:
            ex_descent.gd_step.check(_stalled(answers[name], barrier))
            verdicts[name] = "passed"
        except AssertionError as err:
            verdicts[name] = str(err)

    threads = [threading.Thread(target=run, args=(name,)) for name in answers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert verdicts["right"] == "passed"
    assert "Did you add the gradient instead of subtracting it?" in verdicts["added"]
    assert "Did you forget to multiply the gradient by lr?" in verdicts["no lr"]
    assert "add the gradient" not in verdicts["no lr"] and "multiply" not in verdicts["added"]
    assert capsys.readouterr().out.count("✓ gd_step: all") == 1
    assert not [k for k in vars(ex_descent.gd_step) if k.startswith("_")]  # nothing of a check left on the exercise
