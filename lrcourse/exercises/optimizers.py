"""Checks and hints for notebook 03, momentum and adaptive optimizers (``from lrcourse.exercises import optimizers as ex``).

The learner writes one *step* of each optimizer as a pure function: it takes
the parameters, the gradient, the optimizer's state and its hyperparameters,
and returns the new parameters and the new state. A check runs the learner's
step several times in a row, feeding its own returned state back in, and
compares the parameters *and* the state after every step with what the real
``torch.optim`` optimizer holds after the same gradients (computed live, in
float64). The first step that differs is reported with the exact call that
produced it and the known mistake it matches. Each exercise's ``grade_id`` in
the notebook equals its name here.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import losses
from .. import optimizers as O
from ..i18n import N_, gettext_ as _
from ._core import Case, Exercise, Mistake, fmt
from .kinds import StepCase, StepExercise

__all__ = ["momentum_step", "adagrad_step", "rmsprop_step", "adam_step", "adamw_step", "momentum_speedup",
           "StepCase", "StepExercise", "EXERCISES"]


def _arr(*values) -> np.ndarray:
    return np.array(values, dtype=np.float64)


def _grads(seed: int, num: int, shape: tuple = (2,), scale: float = 1.0) -> tuple:
    rng = np.random.default_rng(seed)
    return tuple(np.round(scale * rng.normal(size=shape), 3) for _ in range(num))


# --------------------------------------------------------------------------- momentum_step
def _momentum_step(params, grad, buf, lr, momentum, dampening=0.0, nesterov=False):
    buf = np.array(grad, dtype=np.float64) if buf is None else momentum * buf + (1 - dampening) * grad
    step = grad + momentum * buf if nesterov else buf
    return params - lr * step, buf


def _momentum_variant(first=None, update=None, use_nesterov=True):
    def fn(params, grad, buf, lr, momentum, dampening=0.0, nesterov=False):
        if buf is None:
            buf = first(grad, momentum, dampening) if first else np.array(grad, dtype=np.float64)
        else:
            buf = update(buf, grad, momentum, dampening) if update else momentum * buf + (1 - dampening) * grad
        step = grad + momentum * buf if (nesterov and use_nesterov) else buf
        return params - lr * step, buf
    return fn


def _momentum_lr_in_buffer(params, grad, buf, lr, momentum, dampening=0.0, nesterov=False):
    buf = lr * grad if buf is None else momentum * buf + (1 - dampening) * lr * grad
    return params - (lr * grad + momentum * buf if nesterov else buf), buf


momentum_step = StepExercise(
    name="momentum_step",
    torch_class="SGD",
    torch_args=lambda kw: dict(lr=kw["lr"], momentum=kw["momentum"], dampening=kw.get("dampening", 0.0),
                               nesterov=kw.get("nesterov", False)),
    state=(("buf", "momentum_buffer"),),
    points=2,
    reference=_momentum_step,
    cases=[
        StepCase(dict(params=_arr(1.0, -2.0), grad=_arr(0.5, 0.25), buf=None, lr=0.1, momentum=0.9,
                      dampening=0.0, nesterov=False), grads=_grads(1, 5)),
        StepCase(dict(params=_arr(0.5, 2.0), grad=_arr(-1.0, 0.4), buf=None, lr=0.05, momentum=0.5,
                      dampening=0.5, nesterov=False), grads=_grads(2, 5), note=N_("with dampening")),
        StepCase(dict(params=_arr(1.0, 1.0), grad=_arr(2.0, -0.5), buf=None, lr=0.2, momentum=0.8,
                      dampening=0.0, nesterov=True), grads=_grads(3, 5), note=N_("Nesterov")),
        StepCase(dict(params=np.array([[1.0, 2.0], [-1.0, 0.5]]), grad=np.array([[0.1, -0.3], [0.2, 0.0]]),
                      buf=None, lr=0.3, momentum=0.7, dampening=0.1, nesterov=False),
                 grads=_grads(4, 3, (2, 2)), note=N_("a 2x2 array of parameters")),
        StepCase(dict(params=_arr(0.2, -0.4), grad=_arr(0.3, 0.1), buf=None, lr=0.1, momentum=0.6),
                 grads=_grads(17, 4), note=N_("dampening and nesterov left at their defaults")),
    ],
    exempt={"bounds": "an optimizer step applies no threshold"},
    hint_text=N_("""
        torch.optim.SGD keeps one buffer b. On the first step (buf is None) b is a copy of the
        gradient itself -- no dampening. On later steps b = momentum * b + (1 - dampening) * grad.
        The step is b, or grad + momentum * b with nesterov=True. Return (params - lr * step, b).
    """),
    mistakes=[
        Mistake(_momentum_variant(first=lambda g, m, d: (1 - d) * g),
                N_("On the first step torch sets the buffer to the gradient itself: dampening applies "
                "only from the second step on.")),
        Mistake(_momentum_variant(update=lambda b, g, m, d: m * b + g),
                N_("Did you forget the dampening factor (1 - dampening) on the gradient?")),
        Mistake(_momentum_variant(first=lambda g, m, d: (1 - m) * g, update=lambda b, g, m, d: m * b + (1 - m) * g),
                N_("That is an exponential moving average, b = momentum*b + (1 - momentum)*grad; torch's "
                "buffer is b = momentum*b + (1 - dampening)*grad, starting at grad.")),
        Mistake(_momentum_variant(use_nesterov=False),
                N_("With nesterov=True the step is grad + momentum * buf with the buffer this step has just "
                "updated, a look-ahead. Stepping with that buffer itself is plain momentum, and so is grad + "
                "momentum * (the buffer passed in), which equals it when dampening is 0.")),
        Mistake(_momentum_lr_in_buffer,
                N_("Your parameters move as torch's, but your buffer holds lr * grad terms: torch's buffer "
                "holds gradients and lr multiplies the step (it matters as soon as the LR changes).")),
    ],
)


# --------------------------------------------------------------------------- adagrad_step
def _adagrad_step(params, grad, sum_sq, lr, eps=1e-10):
    sum_sq = sum_sq + grad * grad
    return params - lr * grad / (np.sqrt(sum_sq) + eps), sum_sq


def _adagrad_eps_after_division(params, grad, sum_sq, lr, eps=1e-10):
    sum_sq = sum_sq + grad * grad
    with np.errstate(divide="ignore", invalid="ignore"):  # the learner's 0 / 0 for a weight never updated
        return params - lr * grad / np.sqrt(sum_sq) + eps, sum_sq


adagrad_step = StepExercise(
    name="adagrad_step",
    torch_class="Adagrad",
    torch_args=lambda kw: dict(lr=kw["lr"], eps=kw.get("eps", 1e-10),
                               initial_accumulator_value=float(kw["sum_sq"].flat[0])),
    state=(("sum_sq", "sum"),),
    points=1,
    reference=_adagrad_step,
    cases=[
        StepCase(dict(params=_arr(1.0, -2.0), grad=_arr(0.5, 0.25), sum_sq=_arr(0.0, 0.0), lr=0.1, eps=1e-10),
                 grads=_grads(5, 5)),
        StepCase(dict(params=_arr(0.5, 2.0, -1.0), grad=_arr(0.0, 2.0, 0.0), sum_sq=_arr(0.0, 0.0, 0.0), lr=0.5,
                      eps=1e-10), grads=(_arr(0.0, 1.0, 0.0), _arr(3.0, 1.0, 0.0), _arr(0.0, 1.0, 0.5)),
                 note=N_("sparse gradients: most entries are 0")),
        StepCase(dict(params=_arr(1.0, 1.0), grad=_arr(0.2, -0.1), sum_sq=_arr(0.1, 0.1), lr=0.3, eps=0.05),
                 grads=_grads(6, 4), note=N_("a large eps and a starting accumulator of 0.1")),
        StepCase(dict(params=np.array([[1.0, -0.5, 2.0], [0.0, 3.0, -1.0]]), grad=np.array([[0.3, 0.0, -0.2],
                      [1.0, -0.4, 0.1]]), sum_sq=np.zeros((2, 3)), lr=0.2, eps=1e-10), grads=_grads(15, 3, (2, 3)),
                 note=N_("a 2x3 array of parameters")),
        StepCase(dict(params=_arr(0.3, -0.6), grad=_arr(0.4, -0.2), sum_sq=_arr(0.0, 0.0), lr=0.1),
                 grads=_grads(18, 4, scale=1e-5), note=N_("tiny gradients; eps left at its default, 1e-10"))
    ],
    exempt={"bounds": "an optimizer step applies no threshold"},
    hint_text=N_("""
        Add the squared gradient to the running sum first: sum_sq = sum_sq + grad**2. Then divide
        by its square root *plus* eps (eps outside the root):
        params - lr * grad / (np.sqrt(sum_sq) + eps). Return (new params, new sum_sq).
    """),
    mistakes=[
        Mistake(lambda params, grad, sum_sq, lr, eps=1e-10: (
            params - lr * grad / np.sqrt(sum_sq + grad * grad + eps), sum_sq + grad * grad),
            N_("eps goes outside the square root: sqrt(sum_sq) + eps, as in torch.")),
        Mistake(lambda params, grad, sum_sq, lr, eps=1e-10: (
            params - lr * grad / (np.sqrt(sum_sq) + eps), sum_sq + grad * grad),
            N_("Add grad**2 to the sum *before* dividing: the current gradient counts in its own step.")),
        Mistake(lambda params, grad, sum_sq, lr, eps=1e-10: (
            params - lr * grad / (np.sqrt(sum_sq + np.abs(grad)) + eps), sum_sq + np.abs(grad)),
            N_("Accumulate squared gradients, grad**2, not their absolute values.")),
        Mistake(lambda params, grad, sum_sq, lr, eps=1e-10: (
            params - lr * grad / (sum_sq + grad * grad + eps), sum_sq + grad * grad),
            N_("Divide by the square root of the sum, not by the sum itself.")),
        Mistake(_adagrad_eps_after_division,
                N_("eps belongs in the denominator, params - lr * grad / (np.sqrt(sum_sq) + eps). Added after the "
                   "division it protects nothing: a weight whose gradients have all been 0 gets 0 / 0 = nan.")),
    ],
)


# --------------------------------------------------------------------------- rmsprop_step
def _rmsprop_step(params, grad, square_avg, lr, alpha=0.99, eps=1e-8):
    square_avg = alpha * square_avg + (1 - alpha) * grad * grad
    return params - lr * grad / (np.sqrt(square_avg) + eps), square_avg


def _rmsprop_variant(average, eps_inside=False):
    def fn(params, grad, square_avg, lr, alpha=0.99, eps=1e-8):
        avg = average(square_avg, grad, alpha)
        denom = np.sqrt(avg + eps) if eps_inside else np.sqrt(avg) + eps
        return params - lr * grad / denom, avg
    return fn


rmsprop_step = StepExercise(
    name="rmsprop_step",
    torch_class="RMSprop",
    torch_args=lambda kw: dict(lr=kw["lr"], alpha=kw.get("alpha", 0.99), eps=kw.get("eps", 1e-8)),
    state=(("square_avg", "square_avg"),),
    points=1,
    reference=_rmsprop_step,
    cases=[
        StepCase(dict(params=_arr(1.0, -2.0), grad=_arr(0.5, 0.25), square_avg=_arr(0.0, 0.0), lr=0.01,
                      alpha=0.99, eps=1e-8), grads=_grads(7, 5)),
        StepCase(dict(params=_arr(0.5, 2.0), grad=_arr(-1.0, 0.4), square_avg=_arr(0.0, 0.0), lr=0.1,
                      alpha=0.9, eps=1e-8), grads=_grads(8, 5), note=N_("alpha=0.9")),
        StepCase(dict(params=_arr(1.0, 1.0), grad=_arr(0.2, -0.1), square_avg=_arr(0.0, 0.0), lr=0.05,
                      alpha=0.5, eps=0.1), grads=_grads(9, 4), note=N_("a large eps")),
        StepCase(dict(params=np.array([[1.0, -1.0], [0.5, 2.0]]), grad=np.array([[0.2, -0.6], [0.0, 1.5]]),
                      square_avg=np.zeros((2, 2)), lr=0.02, alpha=0.9, eps=1e-8), grads=_grads(16, 4, (2, 2)),
                 note=N_("a 2x2 array of parameters")),
        StepCase(dict(params=_arr(0.3, -0.6), grad=_arr(0.4, -0.2), square_avg=_arr(0.0, 0.0), lr=0.01),
                 grads=_grads(19, 5), note=N_("alpha and eps left at their defaults, 0.99 and 1e-8"))
    ],
    exempt={"bounds": "an optimizer step applies no threshold"},
    hint_text=N_("""
        Update the moving average of squared gradients first:
        square_avg = alpha * square_avg + (1 - alpha) * grad**2. Then step
        params - lr * grad / (np.sqrt(square_avg) + eps) -- eps outside the square root.
        Return (new params, new square_avg).
    """),
    mistakes=[
        Mistake(_rmsprop_variant(lambda s, g, a: a * s + (1 - a) * g * g, eps_inside=True),
                N_("eps goes outside the square root: sqrt(square_avg) + eps, as in torch.")),
        Mistake(_rmsprop_variant(lambda s, g, a: a * s + g * g),
                N_("The moving average weighs the new squared gradient by (1 - alpha).")),
        Mistake(_rmsprop_variant(lambda s, g, a: (1 - a) * s + a * g * g),
                N_("alpha is the weight of the *old* average: alpha * square_avg + (1 - alpha) * grad**2.")),
        Mistake(lambda params, grad, square_avg, lr, alpha=0.99, eps=1e-8: (
            params - lr * grad / (np.sqrt(square_avg) + eps), alpha * square_avg + (1 - alpha) * grad * grad),
            N_("Update the average *before* dividing by it: the current gradient counts in its own step.")),
    ],
)


# --------------------------------------------------------------------------- adam_step
#: Adam's and AdamW's state: the learner's m and v are torch's exp_avg and exp_avg_sq.
_ADAM_STATE = (("m", "exp_avg"), ("v", "exp_avg_sq"))


def _adam_step(params, grad, m, v, t, lr, betas=(0.9, 0.999), eps=1e-8):
    beta1, beta2 = betas
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad * grad
    m_hat = m / (1 - beta1 ** t)
    v_hat = v / (1 - beta2 ** t)
    return params - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


def _adam_variant(correct1=True, correct2=True, eps_inside=False, eps_before_correction=False, shift=0,
                  return_hats=False, root_before_correction=False):
    def fn(params, grad, m, v, t, lr, betas=(0.9, 0.999), eps=1e-8):
        beta1, beta2 = betas
        m = beta1 * m + (1 - beta1) * grad
        v = beta2 * v + (1 - beta2) * grad * grad
        m_hat = m / (1 - beta1 ** (t + shift)) if correct1 else m
        v_hat = v / (1 - beta2 ** (t + shift)) if correct2 else v
        if eps_inside:
            denom = np.sqrt(v_hat + eps)
        elif eps_before_correction:
            denom = (np.sqrt(v) + eps) / math.sqrt(1 - beta2 ** t)
        elif root_before_correction:  # sqrt(v) / (1 - beta2**t): the correction outside the root
            denom = np.sqrt(v) / (1 - beta2 ** (t + shift)) + eps
        else:
            denom = np.sqrt(v_hat) + eps
        new = params - lr * m_hat / denom
        return (new, m_hat, v_hat) if return_hats else (new, m, v)
    return fn


adam_step = StepExercise(
    name="adam_step",
    torch_class="Adam",
    torch_args=lambda kw: dict(lr=kw["lr"], betas=kw.get("betas", (0.9, 0.999)), eps=kw.get("eps", 1e-8)),
    state=_ADAM_STATE,
    counter="t",
    points=2,
    reference=_adam_step,
    cases=[
        StepCase(dict(params=_arr(1.0, -2.0), grad=_arr(0.5, 0.25), m=_arr(0.0, 0.0), v=_arr(0.0, 0.0), t=1,
                      lr=0.1, betas=(0.9, 0.999), eps=1e-8), grads=_grads(10, 6)),
        StepCase(dict(params=_arr(0.5, 2.0), grad=_arr(-1.0, 0.4), m=_arr(0.0, 0.0), v=_arr(0.0, 0.0), t=1,
                      lr=0.01, betas=(0.8, 0.9), eps=1e-8), grads=_grads(11, 6), note=N_("betas=(0.8, 0.9)")),
        StepCase(dict(params=_arr(1.0, 1.0), grad=_arr(0.02, -0.01), m=_arr(0.0, 0.0), v=_arr(0.0, 0.0), t=1,
                      lr=0.05, betas=(0.9, 0.99), eps=0.01), grads=_grads(12, 5, scale=0.02),
                 note=N_("small gradients and a large eps")),
        StepCase(dict(params=np.array([[0.5, -1.0], [2.0, 0.0]]), grad=np.array([[0.1, 0.4], [-0.3, 0.0]]),
                      m=np.zeros((2, 2)), v=np.zeros((2, 2)), t=1, lr=0.1, betas=(0.9, 0.999), eps=1e-8),
                 grads=_grads(17, 4, (2, 2)), note=N_("a 2x2 array of parameters")),
        StepCase(dict(params=_arr(0.3, -0.6), grad=_arr(0.4, -0.2), m=_arr(0.0, 0.0), v=_arr(0.0, 0.0), t=1,
                      lr=0.01), grads=_grads(20, 5), note=N_("betas and eps left at their defaults"))
    ],
    exempt={"bounds": "an optimizer step applies no threshold"},
    hint_text=N_("""
        Update both moments: m = beta1*m + (1 - beta1)*grad and v = beta2*v + (1 - beta2)*grad**2.
        Correct their bias towards 0 with the step number t (1 on the first step):
        m_hat = m / (1 - beta1**t), v_hat = v / (1 - beta2**t). Step
        params - lr * m_hat / (np.sqrt(v_hat) + eps), eps outside the root.
        Return (new params, m, v): the state is the *uncorrected* m and v.
    """),
    mistakes=[
        Mistake(_adam_variant(correct1=False, correct2=False),
                N_("No bias correction: m and v start at 0, so divide them by (1 - beta1**t) and (1 - beta2**t).")),
        Mistake(_adam_variant(correct1=True, correct2=False),
                N_("Correct the bias of v too: v_hat = v / (1 - beta2**t).")),
        Mistake(_adam_variant(correct1=False, correct2=True),
                N_("Correct the bias of m too: m_hat = m / (1 - beta1**t).")),
        Mistake(_adam_variant(eps_inside=True),
                N_("eps goes outside the square root: sqrt(v_hat) + eps, as in torch.")),
        Mistake(_adam_variant(eps_before_correction=True),
                N_("Add eps after the bias correction, to sqrt(v_hat), as torch does (the paper's eps-hat "
                "variant adds it to sqrt(v) before correcting).")),
        Mistake(_adam_variant(root_before_correction=True),
                N_("The square root covers the corrected v: sqrt(v / (1 - beta2**t)). sqrt(v) / (1 - beta2**t) "
                "divides by the correction itself, not by its square root.")),
        Mistake(_adam_variant(shift=-1), N_("t is 1 on the first step: use beta**t, not beta**(t - 1).")),
        Mistake(_adam_variant(shift=1), N_("t is already the number of this step: use beta**t, not beta**(t + 1).")),
        Mistake(_adam_variant(return_hats=True),
                N_("Return the uncorrected m and v as the new state; the correction is only for the step.")),
    ],
)


# --------------------------------------------------------------------------- adamw_step
def _adamw_step(params, grad, m, v, t, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
    params = params * (1 - lr * weight_decay)
    return _adam_step(params, grad, m, v, t, lr, betas, eps)


def _adamw_l2(params, grad, m, v, t, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
    return _adam_step(params, grad + weight_decay * params, m, v, t, lr, betas, eps)


def _adamw_no_lr(params, grad, m, v, t, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
    return _adam_step(params * (1 - weight_decay), grad, m, v, t, lr, betas, eps)


def _adamw_after(params, grad, m, v, t, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
    new, m, v = _adam_step(params, grad, m, v, t, lr, betas, eps)
    return new * (1 - lr * weight_decay), m, v


def _adamw_no_correction(params, grad, m, v, t, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
    return _adam_variant(correct1=False, correct2=False)(params * (1 - lr * weight_decay), grad, m, v, t, lr,
                                                         betas, eps)


adamw_step = StepExercise(
    name="adamw_step",
    torch_class="AdamW",
    torch_args=lambda kw: dict(lr=kw["lr"], betas=kw.get("betas", (0.9, 0.999)), eps=kw.get("eps", 1e-8),
                               weight_decay=kw.get("weight_decay", 1e-2)),
    state=_ADAM_STATE,
    counter="t",
    points=2,
    reference=_adamw_step,
    cases=[
        StepCase(dict(params=_arr(1.0, -2.0), grad=_arr(0.5, 0.25), m=_arr(0.0, 0.0), v=_arr(0.0, 0.0), t=1,
                      lr=0.1, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1), grads=_grads(13, 6)),
        StepCase(dict(params=_arr(3.0, -1.0), grad=_arr(-1.0, 0.4), m=_arr(0.0, 0.0), v=_arr(0.0, 0.0), t=1,
                      lr=0.05, betas=(0.8, 0.99), eps=1e-3, weight_decay=2.0), grads=_grads(14, 6),
                 note=N_("strong decay and a larger eps")),
        StepCase(dict(params=_arr(1.0, 1.0), grad=_arr(0.0, 0.0), m=_arr(0.0, 0.0), v=_arr(0.0, 0.0), t=1,
                      lr=0.1, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.5), grads=(_arr(0.0, 0.0),) * 3,
                 note=N_("zero gradients: only the decay acts")),
        StepCase(dict(params=np.array([[2.0, -1.0], [0.5, 1.0]]), grad=np.array([[0.3, -0.1], [0.0, 0.6]]),
                      m=np.zeros((2, 2)), v=np.zeros((2, 2)), t=1, lr=0.01, betas=(0.9, 0.999), eps=1e-8),
                 grads=_grads(18, 4, (2, 2)), note=N_("a 2x2 array of parameters and the default weight_decay=0.01")),
        StepCase(dict(params=_arr(2.0, -3.0), grad=_arr(0.4, -0.2), m=_arr(0.0, 0.0), v=_arr(0.0, 0.0), t=1,
                      lr=0.1), grads=_grads(21, 5), note=N_("betas, eps and weight_decay left at their defaults"))
    ],
    exempt={"bounds": "an optimizer step applies no threshold"},
    hint_text=N_("""
        Decoupled weight decay shrinks the weights directly, before the Adam step and outside the
        moments: params = params * (1 - lr * weight_decay). Then do exactly adam_step with the raw
        gradient (you may call your adam_step). Return (new params, m, v).
    """),
    mistakes=[
        Mistake(_adamw_l2,
                N_("That is Adam with L2 regularization (the decay added to the gradient, then divided by "
                "sqrt(v)); AdamW shrinks the weights directly: params * (1 - lr * weight_decay).")),
        Mistake(_adamw_no_lr,
                N_("torch's AdamW multiplies the decay by the LR: params * (1 - lr * weight_decay).")),
        Mistake(_adamw_after,
                N_("Decay the weights *before* the Adam step (torch shrinks the old weights), not after it.")),
        Mistake(_adamw_no_correction,
                N_("The decay is right but the Adam step has no bias correction: divide m and v by "
                "(1 - beta1**t) and (1 - beta2**t).")),
    ],
)


# --------------------------------------------------------------------------- momentum_speedup
_X0 = (1.0, 1.0)


def _speedup(kappa, tol=1e-8, gd_lr=None, hb=None):
    loss = losses.ill_conditioned(kappa)
    gd = O.SGD(lr=gd_lr(loss) if gd_lr else 2.0 / (loss.L + loss.mu))
    heavy = hb(loss) if hb else O.heavy_ball(loss)
    return O.steps_to_reach(gd, loss, _X0, tol), O.steps_to_reach(heavy, loss, _X0, tol)


def _momentum_speedup(kappa, tol=1e-8):
    return _speedup(kappa, tol)


def _speedup_rotated(kappa, tol=1e-8):
    loss = losses.ill_conditioned(kappa, angle=0.5)
    gd = O.SGD(lr=2.0 / (loss.L + loss.mu))
    return O.steps_to_reach(gd, loss, _X0, tol), O.steps_to_reach(O.heavy_ball(loss), loss, _X0, tol)


def _rate(kappa: float) -> float:
    return (math.sqrt(kappa) - 1) / (math.sqrt(kappa) + 1)


def _predicted_steps(kappa, tol=1e-8):
    f0 = 0.5 * (kappa + 1.0)  # loss at (1, 1)
    steps = [math.ceil(math.log(tol / f0) / (2 * math.log(r))) for r in ((kappa - 1) / (kappa + 1), _rate(kappa))]
    return tuple(steps)


def _compare_steps(actual: Any, expected: Any) -> str | None:
    if not isinstance(actual, (tuple, list)) or len(actual) != 2:
        return _("return a pair (steps_gd, steps_momentum)")
    for name, a, e in zip(("steps_gd", "steps_momentum"), actual, expected, strict=True):
        if a is None or e is None:  # steps_to_reach's "not reached within max_steps"
            if a is not e:
                return _("{name} is {actual}, expected {expected}").format(name=name, actual=a, expected=e)
            continue
        if isinstance(a, (bool, np.bool_)) or not isinstance(a, (int, np.integer)):
            return _("{name} must be a whole number of steps, got {value} ({type})").format(
                name=name, value=fmt(a), type=type(a).__name__)
        if int(a) != e:
            return _("{name} is {actual}, expected {expected}").format(name=name, actual=a, expected=e)
    return None


momentum_speedup = Exercise(
    name="momentum_speedup",
    points=2,
    reference=_momentum_speedup,
    cases=[
        Case(dict(kappa=100.0, tol=1e-8)),
        Case(dict(kappa=10.0, tol=1e-8)),
        Case(dict(kappa=1000.0, tol=1e-8)),
        Case(dict(kappa=100.0, tol=1e-3), note=N_("a looser tolerance")),
        Case(dict(kappa=50.0), note=N_("tol left at its default, 1e-8")),
    ],
    compare=_compare_steps,
    exempt={"bounds": "the one threshold, loss < tol, is applied by optimizers.steps_to_reach, which the exercise "
                      "asks to call; the cases vary tol"},
    hint_text=N_("""
        loss = losses.ill_conditioned(kappa) has loss.L = kappa and loss.mu = 1. Make gradient
        descent at its best LR, optimizers.SGD(lr=2 / (L + mu)), and heavy-ball at its best
        setting, optimizers.heavy_ball(loss) (or SGD with lr = 4 / (sqrt(L) + sqrt(mu))**2 and
        momentum = ((sqrt(kappa) - 1) / (sqrt(kappa) + 1))**2). Count each one's steps with
        optimizers.steps_to_reach(opt, loss, [1.0, 1.0], tol) and return the pair.
    """),
    mistakes=[
        Mistake(lambda kappa, tol=1e-8: _speedup(kappa, tol, gd_lr=lambda f: 1.0 / f.L),
                N_("Gradient descent's best LR is 2 / (L + mu), not 1 / L.")),
        Mistake(lambda kappa, tol=1e-8: _speedup(
            kappa, tol, hb=lambda f: O.SGD(lr=4.0 / (math.sqrt(f.L) + math.sqrt(f.mu)) ** 2, momentum=_rate(kappa))),
            N_("Heavy-ball's best momentum is the *square* of (sqrt(kappa) - 1)/(sqrt(kappa) + 1); "
            "the rate per step is its square root.")),
        Mistake(lambda kappa, tol=1e-8: _speedup(
            kappa, tol, hb=lambda f: O.SGD(lr=2.0 / (f.L + f.mu), momentum=_rate(kappa) ** 2)),
            N_("Heavy-ball needs its own LR, 4 / (sqrt(L) + sqrt(mu))**2, not gradient descent's 2 / (L + mu).")),
        Mistake(lambda kappa, tol=1e-8: _speedup(
            kappa, tol, hb=lambda f: O.SGD(lr=O.heavy_ball(f).lr, momentum=_rate(kappa) ** 2, nesterov=True)),
            N_("That is Nesterov momentum (nesterov=True); the question is about heavy-ball, nesterov=False.")),
        Mistake(lambda kappa, tol=1e-8: _speedup(kappa, tol, hb=lambda f: O.SGD(lr=2.0 / (f.L + f.mu), momentum=0.9)),
                N_("Momentum 0.9 at gradient descent's LR is a common default, not heavy-ball's best setting: use "
                   "optimizers.heavy_ball(loss), lr = 4 / (sqrt(L) + sqrt(mu))**2 and momentum = "
                   "((sqrt(kappa) - 1) / (sqrt(kappa) + 1))**2.")),
        Mistake(lambda kappa, tol=1e-8: _speedup(kappa, tol, hb=lambda f: O.SGD(
                    lr=1.0 / f.L, momentum=(math.sqrt(f.L / f.mu) - 1) / (math.sqrt(f.L / f.mu) + 1), nesterov=True)),
                N_("That is Nesterov's method with its textbook setting (lr 1/L, momentum (sqrt(kappa) - 1) / "
                "(sqrt(kappa) + 1)); the exercise's momentum is heavy ball with its optimal setting, "
                "optimizers.heavy_ball(loss).")),
        Mistake(_speedup_rotated,
                N_("You used the notebook's rotated loss, losses.ill_conditioned(kappa, angle=0.5); the exercise "
                "asks for losses.ill_conditioned(kappa) with its default angle. (The rotation changes the path from "
                "the same start, so the counts differ a little.)")),
        Mistake(_predicted_steps,
                N_("Those are the step counts the rates predict; measure them by running the optimizers "
                "(heavy-ball on a 2-D quadratic is slower than its rate alone says).")),
        Mistake(lambda kappa, tol=1e-8: _speedup(kappa, tol)[::-1], N_("Did you swap the pair? Return (steps_gd, steps_momentum).")),
    ],
)

#: Every exercise of notebook 03, in notebook order.
EXERCISES = (momentum_step, momentum_speedup, adagrad_step, rmsprop_step, adam_step, adamw_step)
