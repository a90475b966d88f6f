"""Checks and hints for notebook 07, the learning rate at scale (``from lrcourse.exercises import scale as ex``).

The references are :mod:`lrcourse.scale`, :func:`lrcourse.schedules.wsd` and the
schedule-free update of :mod:`lrcourse.optimizers`, each held against its
reference package in the tests. Each exercise's ``grade_id`` in the notebook
equals its name here.
"""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from .. import schedules as S
from ..i18n import N_, gettext_ as _
from ._core import Bound, Case, Exercise, Mistake, compare_close, fmt_pair
from .kinds import ScheduleCase, ScheduleExercise

__all__ = ["scaled_lr", "noise_scale", "lamb_trust_ratio", "wsd_schedule", "sf_update", "mup_lr", "EXERCISES"]

RULES = ("linear", "sqrt")
LAYERS = ("input", "hidden", "output")


def _arr(*rows) -> np.ndarray:
    return np.array(rows, dtype=np.float64)


# --------------------------------------------------------------------------- scaled_lr
def _scaled_lr_reference(base_lr, base_batch, batch, rule):
    if rule not in RULES:
        raise ValueError(_("rule must be 'linear' or 'sqrt', got {rule!r}").format(rule=rule))
    ratio = batch / base_batch
    return base_lr * (ratio if rule == "linear" else math.sqrt(ratio))


scaled_lr = Exercise(
    name="scaled_lr",
    points=1,
    reference=_scaled_lr_reference,
    cases=[
        Case(dict(base_lr=0.1, base_batch=256, batch=1024, rule="linear")),
        Case(dict(base_lr=1e-3, base_batch=64, batch=256, rule="sqrt")),
        Case(dict(base_lr=0.05, base_batch=128, batch=32, rule="linear"), note=N_("a smaller batch: a smaller LR")),
        Case(dict(base_lr=3e-4, base_batch=512, batch=128, rule="sqrt"), note=N_("a smaller batch: a smaller LR")),
        Case(dict(base_lr=0.2, base_batch=32, batch=32, rule="sqrt"), note=N_("the same batch: the same LR")),
        Case(dict(base_lr=0.01, base_batch=100, batch=150, rule="linear"),
             note=N_("a batch that is not a multiple of base_batch")),
    ],
    exempt={"bounds": "a scaling rule has no threshold: the LR is proportional to the batch size (or to its "
                      "square root) on both sides of base_batch"},
    hint_text=N_("""
        The batch grew by the factor k = batch / base_batch (a float: it may be below 1). The linear
        rule multiplies the LR by k, the square-root rule by sqrt(k): return base_lr * k or
        base_lr * math.sqrt(k).
    """),
    mistakes=[
        Mistake(lambda base_lr, base_batch, batch, rule: base_lr * batch / base_batch,
                N_("Did you use the linear rule for 'sqrt' too? Adam-type methods scale the LR by the square "
                   "root of the batch's growth: base_lr * sqrt(batch / base_batch).")),
        Mistake(lambda base_lr, base_batch, batch, rule: base_lr * math.sqrt(batch / base_batch),
                N_("Did you take the square root for 'linear' too? The linear rule multiplies the LR by "
                   "batch / base_batch itself.")),
        Mistake(lambda base_lr, base_batch, batch, rule: _scaled_lr_reference(base_lr, batch, base_batch, rule),
                N_("Your LR shrinks when the batch grows: the factor is batch / base_batch, not "
                   "base_batch / batch.")),
        Mistake(lambda base_lr, base_batch, batch, rule: base_lr * (batch // base_batch if rule == "linear"
                                                                    else math.sqrt(batch // base_batch)),
                N_("Did you use integer division (batch // base_batch)? It rounds the factor down, to 0 for a "
                   "smaller batch; use batch / base_batch.")),
        Mistake(lambda base_lr, base_batch, batch, rule: base_lr * (math.sqrt(batch / base_batch) if rule == "linear"
                                                                    else batch / base_batch),
                N_("The two rules are swapped: 'linear' multiplies base_lr by batch / base_batch, 'sqrt' by its "
                   "square root.")),
        Mistake(lambda base_lr, base_batch, batch, rule: (base_lr * batch / base_batch if rule == "linear"
                                                          else math.sqrt(base_lr * batch / base_batch)),
                N_("Take the square root of the factor only: base_lr * sqrt(batch / base_batch), not "
                   "sqrt(base_lr * batch / base_batch).")),
        Mistake(lambda base_lr, base_batch, batch, rule: base_lr * (batch / base_batch if rule == "linear"
                                                                    else batch / base_batch / 2),
                N_("The square-root rule multiplies by sqrt(batch / base_batch), not by half the factor.")),
        Mistake(lambda base_lr, base_batch, batch, rule: (base_lr * batch / base_batch if rule == "linear"
                                                          else base_lr * math.sqrt(batch) / base_batch),
                N_("The square root must cover the whole ratio: base_lr * sqrt(batch / base_batch), not "
                   "base_lr * sqrt(batch) / base_batch.")),
    ],
)


# --------------------------------------------------------------------------- noise_scale
def _noise_scale_reference(grads):
    g = np.asarray(grads, dtype=np.float64)
    mean = g.mean(axis=0)
    return float(np.sum(g.var(axis=0, ddof=1)) / (mean @ mean))


def _noise_biased(grads):
    g = np.asarray(grads, dtype=np.float64)
    mean = g.mean(axis=0)
    return float(np.sum(g.var(axis=0)) / (mean @ mean))


def _noise_uncentered(grads):
    g = np.asarray(grads, dtype=np.float64)
    mean = g.mean(axis=0)
    return float(np.mean(np.sum(g * g, axis=1)) / (mean @ mean))


def _noise_unsquared(grads):
    g = np.asarray(grads, dtype=np.float64)
    mean = g.mean(axis=0)
    return float(np.sum(g.var(axis=0, ddof=1)) / np.linalg.norm(mean))


def _noise_inverted(grads):
    return 1.0 / _noise_scale_reference(grads)


def _noise_other_axis(grads):
    g = np.asarray(grads, dtype=np.float64)  # the mean and the variance taken along the parameters
    mean = g.mean(axis=1)
    return float(g.var(axis=1, ddof=1).sum() / (mean @ mean))


def _noise_of_the_mean(grads):
    g = np.asarray(grads, dtype=np.float64)
    mean = g.mean(axis=0)
    return float(np.sum(g.var(axis=0, ddof=1)) / len(g) / (mean @ mean))


def _noise_over_n_squared(grads):
    g = np.asarray(grads, dtype=np.float64)
    mean = g.mean(axis=0)
    return float(np.sum((g - mean) ** 2) / len(g) ** 2 / (mean @ mean))


def _noise_mean_squared_norm_below(grads):
    g = np.asarray(grads, dtype=np.float64)
    return float(np.sum(g.var(axis=0, ddof=1)) / np.mean(np.sum(g * g, axis=1)))


def _noise_variance_per_example(grads):
    g = np.asarray(grads, dtype=np.float64)
    mean = g.mean(axis=0)
    return float(g.var(axis=1, ddof=1).sum() / (mean @ mean))


def _noise_per_parameter(grads):
    g = np.asarray(grads, dtype=np.float64)
    mean = g.mean(axis=0)
    return float(np.mean(g.var(axis=0, ddof=1)) / (mean @ mean))


_gen = np.random.default_rng(7)
noise_scale = Exercise(
    name="noise_scale",
    points=2,
    reference=_noise_scale_reference,
    cases=[
        Case(dict(grads=_arr([1.0, 0.0], [3.0, 0.0], [2.0, 2.0], [2.0, -2.0])),
             note=N_("4 examples, 2 parameters; their mean gradient is (2, 0)")),
        Case(dict(grads=np.round(_gen.normal(0.5, 1.0, size=(6, 3)), 3))),
        Case(dict(grads=np.round(_gen.normal(0.05, 1.0, size=(40, 10)), 4)),
             note=N_("a weak signal in much noise: a large noise scale")),
        Case(dict(grads=_arr([2.0, 1.0, 0.0, -1.0, 3.0], [2.2, 0.9, 0.1, -1.0, 2.9], [1.8, 1.1, -0.1, -1.0, 3.1])),
             note=N_("three nearly equal gradients: a small noise scale")),
    ],
    exempt={"bounds": "the noise scale is a ratio of two measured quantities, with no threshold in it",
            "arrays": "grads is a table, examples by parameters: always two-dimensional, in four shapes"},
    hint_text=N_("""
        grads has one row per example. G is the mean row, grads.mean(axis=0), and |G|^2 is G @ G.
        tr(Sigma) is the sum over the columns of each column's variance across the examples, with the
        unbiased estimate (ddof=1): grads.var(axis=0, ddof=1).sum(). Return their ratio,
        tr(Sigma) / |G|^2.
    """),
    mistakes=[
        Mistake(_noise_biased, N_("Did you use the biased variance (ddof=0)? tr(Sigma) here is the unbiased "
                                  "estimate: divide the squared deviations by n - 1, var(axis=0, ddof=1).")),
        Mistake(_noise_uncentered, N_("You averaged the squared norms of the examples' gradients, which include "
                                      "|G|^2 itself: subtract the mean gradient first (the variance), then sum "
                                      "over the parameters.")),
        Mistake(_noise_unsquared, N_("Divide by the squared norm |G|^2 = G @ G, not by the norm |G|.")),
        Mistake(_noise_inverted, N_("Your ratio is upside down: the noise scale is tr(Sigma) / |G|^2, the "
                                    "noise over the signal.")),
        Mistake(_noise_per_parameter, N_("Did you average the variances over the parameters? tr(Sigma) is "
                                         "their sum.")),
        Mistake(_noise_other_axis, N_("You took the mean and the variance along the parameters (axis=1). grads "
                                      "has one row per example: G is the mean over the examples, "
                                      "grads.mean(axis=0), and the variance is across the examples, "
                                      "grads.var(axis=0, ddof=1).")),
        Mistake(_noise_variance_per_example, N_("Your variance runs along axis=1, over each example's parameters. "
                                                "tr(Sigma) is the variance of each parameter's gradient across the "
                                                "examples, grads.var(axis=0, ddof=1), summed over the "
                                                "parameters.")),
        Mistake(_noise_of_the_mean, N_("Your tr(Sigma) is divided by the number of examples: that is the variance "
                                       "of their mean gradient. The noise scale uses the variance of one "
                                       "example's gradient, grads.var(axis=0, ddof=1) summed over the parameters; "
                                       "the 1/B of a batch is what B_simple is compared with.")),
        Mistake(_noise_over_n_squared, N_("You divided the squared deviations by n**2. Their sum over n - 1 is the "
                                          "variance of one example's gradient (unbiased); a further 1/n makes it "
                                          "the variance of their mean. Use grads.var(axis=0, ddof=1) summed over "
                                          "the parameters.")),
        Mistake(_noise_mean_squared_norm_below, N_("The denominator is the squared norm of the mean gradient, "
                                                   "|G|^2 = G @ G, not the mean of the examples' squared norms "
                                                   "(which holds the noise tr(Sigma) as well as the signal).")),
    ],
)


# --------------------------------------------------------------------------- lamb_trust_ratio
CLAMP = 10.0


def _lamb_trust_reference(weight, update, eps=1e-6):
    w = min(float(np.linalg.norm(np.asarray(weight, dtype=np.float64))), CLAMP)
    u = float(np.linalg.norm(np.asarray(update, dtype=np.float64)))
    return 1.0 if w == 0 or u == 0 else w / (u + eps)


def _lamb_no_clip(weight, update, eps=1e-6):
    w, u = float(np.linalg.norm(weight)), float(np.linalg.norm(update))
    return 1.0 if w == 0 or u == 0 else w / (u + eps)


def _lamb_no_guard(weight, update, eps=1e-6):
    with np.errstate(all="ignore"):
        return min(float(np.linalg.norm(weight)), CLAMP) / (float(np.linalg.norm(update)) + eps)


def _lamb_guarding(norm: str):
    """The trust ratio with the guard on one norm only ("weight" or "update")."""
    def ratio(weight, update, eps=1e-6):
        w, u = min(float(np.linalg.norm(weight)), CLAMP), float(np.linalg.norm(update))
        return 1.0 if (w if norm == "weight" else u) == 0 else w / (u + eps)
    return ratio


def _lamb_inverted(weight, update, eps=1e-6):
    w, u = min(float(np.linalg.norm(weight)), CLAMP), float(np.linalg.norm(update))
    return 1.0 if w == 0 or u == 0 else (u + eps) / w


def _lamb_no_eps(weight, update, eps=1e-6):
    w, u = min(float(np.linalg.norm(weight)), CLAMP), float(np.linalg.norm(update))
    return 1.0 if w == 0 or u == 0 else w / u


def _lamb_abs_sum(weight, update, eps=1e-6):
    w, u = min(float(np.abs(weight).sum()), CLAMP), float(np.abs(update).sum())
    return 1.0 if w == 0 or u == 0 else w / (u + eps)


def _lamb_eps_added(weight, update, eps=1e-6):
    w, u = min(float(np.linalg.norm(weight)), CLAMP), float(np.linalg.norm(update))
    return 1.0 if w == 0 or u == 0 else w / u + eps


def _lamb_ratio_clipped(weight, update, eps=1e-6):
    w, u = float(np.linalg.norm(weight)), float(np.linalg.norm(update))
    return 1.0 if w == 0 or u == 0 else min(w / (u + eps), CLAMP)


def _weight_norm_margins(case: Case) -> list:
    return [float(np.linalg.norm(case.kwargs["weight"])) - CLAMP]


lamb_trust_ratio = Exercise(
    name="lamb_trust_ratio",
    points=1,
    reference=_lamb_trust_reference,
    cases=[
        Case(dict(weight=_arr([3.0, 4.0]), update=_arr([0.5, -0.5]), eps=1e-6), note=N_("|weight| = 5")),
        Case(dict(weight=np.array([0.5, -1.0, 2.0]), update=np.array([0.01, 0.02, -0.02]), eps=0.01),
             note=N_("a large eps")),
        Case(dict(weight=_arr([6.0, 8.0], [0.0, 0.0]), update=_arr([1.0, 1.0], [1.0, 1.0]), eps=1e-6),
             note=N_("edge: |weight| = 10 exactly, the clip")),
        Case(dict(weight=_arr([5.0, 12.0]), update=_arr([0.3, 0.4]), eps=1e-6), note=N_("|weight| = 13 > 10")),
        Case(dict(weight=np.zeros((2, 2)), update=_arr([1.0, 2.0], [3.0, 4.0]), eps=1e-6),
             note=N_("edge: a weight of zeros")),
        Case(dict(weight=_arr([1.0, 2.0], [2.0, 4.0]), update=np.zeros((2, 2)), eps=0.001),
             note=N_("edge: an update of zeros")),
        Case(dict(weight=_arr([1.0, 2.0], [3.0, -1.0]), update=_arr([0.2, -0.1], [0.4, 0.3])),
             note=N_("a full-rank 2x2 weight, not symmetric; eps left at its default"))
    ],
    bounds=(Bound("the clip of the weight norm, |weight| == 10", _weight_norm_margins),),
    hint_text=N_("""
        Two 2-norms over all entries: w = min(np.linalg.norm(weight), 10) and u = np.linalg.norm(update).
        If either is 0 the ratio is 1.0 (a fresh layer still moves; a zero update moves nothing anyway);
        otherwise it is w / (u + eps).
    """),
    mistakes=[
        Mistake(_lamb_no_clip, N_("Did you forget to clip the weight norm at 10? LAMB uses "
                                  "min(|weight|, 10), so that very large layers do not take huge steps.")),
        Mistake(_lamb_no_guard, N_("When a norm is 0 the trust ratio is 1.0: a layer of zeros would "
                                   "otherwise never move, and a zero update would be divided by eps alone.")),
        Mistake(_lamb_guarding("weight"), N_("A zero update needs the guard too: when |update| is 0 the ratio is "
                                            "1.0, not |weight| / eps (a huge ratio that only looks harmless because "
                                            "it scales a zero step).")),
        Mistake(_lamb_guarding("update"), N_("A weight of zeros needs the guard too: when |weight| is 0 the ratio "
                                            "is 1.0, otherwise the ratio is 0 and a fresh layer of zeros never "
                                            "moves.")),
        Mistake(_lamb_inverted, N_("Your ratio is upside down: the trust ratio is |weight| / |update|, so "
                                   "that the step, ratio times update, is as long as the weight (times lr).")),
        Mistake(_lamb_no_eps, N_("Did you leave out eps? Divide by |update| + eps.")),
        Mistake(_lamb_ratio_clipped, N_("You clipped the ratio at 10; LAMB clips the weight norm, min(|weight|, "
                                        "10), and the ratio can be far above 10 when the update is small.")),
        Mistake(_lamb_eps_added, N_("You added eps to the ratio, |weight| / |update| + eps: it belongs in the "
                                    "denominator, |weight| / (|update| + eps), where it keeps a tiny update from "
                                    "blowing the ratio up.")),
        Mistake(_lamb_abs_sum, N_("Did you sum absolute values? The norms are 2-norms over all entries, "
                                  "np.linalg.norm.")),
    ],
)


# --------------------------------------------------------------------------- wsd_schedule
def _wsd_reference(lr, warmup_steps, stable_steps, decay_steps, min_lr=0.0):
    return S.wsd(lr, warmup_steps, stable_steps, decay_steps, min_lr=min_lr, decay="1-sqrt")


def _wsd_variant(shape=None, warm_shift=0, floor_only_at_end=False, progress_shift=0, after=None, warm_less=0,
                 clamped=False):
    def factory(lr, warmup_steps, stable_steps, decay_steps, min_lr=0.0):
        start = warmup_steps + stable_steps

        def schedule(step):
            if step < warmup_steps:
                return lr * (step + warm_shift) / max(warmup_steps - warm_less, 1)
            if step < start:
                return lr
            if step < start + decay_steps:
                p = (step - start + progress_shift) / decay_steps
                f = shape(p) if shape else 1 - math.sqrt(p)
                if clamped:
                    return max(lr * f, min_lr)
                return lr * f if floor_only_at_end else min_lr + (lr - min_lr) * f
            return min_lr if after is None else after
        return schedule
    return factory


def _wsd_cut_margins(key: str, *more: str):
    def margins(case: ScheduleCase) -> list:
        bound = sum(case.kwargs[k] for k in (key, *more))
        return [t - bound for t in range(case.steps)]
    return margins


wsd_schedule = ScheduleExercise(
    name="wsd_schedule",
    points=2,
    reference=_wsd_reference,
    library_source="lrcourse.schedules.wsd(..., decay='1-sqrt')",  # i18n: a function call, not prose
    cases=[
        ScheduleCase(dict(lr=1.0, warmup_steps=2, stable_steps=3, decay_steps=4, min_lr=0.0), steps=12),
        ScheduleCase(dict(lr=0.1, warmup_steps=5, stable_steps=10, decay_steps=8, min_lr=0.01), steps=30),
        ScheduleCase(dict(lr=0.3, warmup_steps=0, stable_steps=4, decay_steps=9, min_lr=0.0),
                     note=N_("edge: no warmup"), steps=16),
        ScheduleCase(dict(lr=0.05, warmup_steps=10, stable_steps=0, decay_steps=5, min_lr=0.005),
                     note=N_("edge: no stable phase"), steps=20),
        ScheduleCase(dict(lr=0.2, warmup_steps=3, stable_steps=2, decay_steps=5), steps=14,
                     note=N_("min_lr left at its default, 0"))
    ],
    bounds=(Bound("the end of the warmup, step == warmup_steps", _wsd_cut_margins("warmup_steps")),
            Bound("the start of the decay, step == warmup_steps + stable_steps",
                  _wsd_cut_margins("warmup_steps", "stable_steps")),
            Bound("the end of the decay, step == warmup_steps + stable_steps + decay_steps",
                  _wsd_cut_margins("warmup_steps", "stable_steps", "decay_steps"))),
    hint_text=N_("""
        Four phases. Warmup, step < W: lr * step / W (0 at step 0). Stable, W <= step < W + S: lr.
        Decay, W + S <= step < W + S + D: with p = (step - W - S) / D, the LR is
        min_lr + (lr - min_lr) * (1 - sqrt(p)). After it: min_lr. Compute it from step alone.
    """),
    mistakes=[
        Mistake(_wsd_variant(shape=lambda p: 1 - p),
                N_("Your decay is linear, 1 - p; the decay asked for is 1 - sqrt(p), which drops fast at first "
                   "and flattens near the end.")),
        Mistake(_wsd_variant(warm_shift=1),
                N_("Your warmup is one step ahead: step 0 has LR 0 and the LR reaches lr at step W, "
                   "lr * step / W.")),
        Mistake(_wsd_variant(floor_only_at_end=True),
                N_("Your decay goes down to 0 and the LR then jumps up to min_lr: decay from lr to min_lr, "
                   "min_lr + (lr - min_lr) * (1 - sqrt(p)).")),
        Mistake(_wsd_variant(clamped=True),
                N_("Your decay is lr * (1 - sqrt(p)) floored at min_lr: it then falls too fast and flattens at "
                   "min_lr before the decay ends. Decay the range between them, "
                   "min_lr + (lr - min_lr) * (1 - sqrt(p)).")),
        Mistake(_wsd_variant(shape=lambda p: math.sqrt(1 - p)),
                N_("Did you take sqrt(1 - p)? The decay is 1 - sqrt(p).")),
        Mistake(_wsd_variant(after=0.0),
                N_("After the decay your LR drops to 0: it stays at min_lr for every step from W + S + D on.")),
        Mistake(_wsd_variant(warm_less=1),
                N_("Your warmup divides by W - 1, so it reaches lr a step early: lr * step / W reaches lr at step "
                   "W, the first stable step.")),
        Mistake(_wsd_variant(progress_shift=1),
                N_("Your decay starts one step early: p = (step - W - S) / D is 0 at the first step of the "
                   "decay, so that step still has lr.")),
    ],
)


# --------------------------------------------------------------------------- sf_update
def _sf_reference(x, z, grad, lr, beta, t):
    z_new = z - lr * grad
    c = 1.0 / (t + 1)
    x_new = (1 - c) * x + c * z_new
    y_new = (1 - beta) * z_new + beta * x_new
    return x_new, z_new, y_new


def _sf_old_z(x, z, grad, lr, beta, t):
    z_new = z - lr * grad
    c = 1.0 / (t + 1)
    x_new = (1 - c) * x + c * z
    return x_new, z_new, (1 - beta) * z_new + beta * x_new


def _sf_swapped(x, z, grad, lr, beta, t):
    x_new, z_new, _y = _sf_reference(x, z, grad, lr, beta, t)
    return x_new, z_new, beta * z_new + (1 - beta) * x_new


def _sf_old_x(x, z, grad, lr, beta, t):
    x_new, z_new, _y = _sf_reference(x, z, grad, lr, beta, t)
    return x_new, z_new, (1 - beta) * z_new + beta * x


def _sf_ascent(x, z, grad, lr, beta, t):
    return _sf_reference(x, z, -np.asarray(grad, dtype=np.float64), lr, beta, t)


def _sf_no_average(x, z, grad, lr, beta, t):
    z_new = z - lr * grad
    return z_new, z_new, z_new


def _sf_with_c(weight: Callable[[int], float]):
    """The update with the average's weight c = weight(t) instead of 1 / (t + 1)."""
    def update(x, z, grad, lr, beta, t):
        z_new = z - lr * grad
        c = weight(t)
        x_new = (1 - c) * x + c * z_new
        return x_new, z_new, (1 - beta) * z_new + beta * x_new
    return update


def _sf_old_xz(x, z, grad, lr, beta, t):
    x_new, z_new, _y = _sf_reference(x, z, grad, lr, beta, t)
    return x_new, z_new, (1 - beta) * z + beta * x


def _compare_sf(actual: Any, expected: Any) -> str | None:
    if not isinstance(actual, (tuple, list)) or len(actual) != 3:
        return _("return the three arrays (x, z, y)")
    for name, mine, want in zip(("x", "z", "y"), actual, expected):
        problem = compare_close(mine, want)
        if problem is not None:
            if problem:
                return f"{name}: {problem}"
            a, b = fmt_pair(mine, want)
            return _("{name} is {actual}, expected {expected}").format(name=name, actual=a, expected=b)
    return None


sf_update = Exercise(
    name="sf_update",
    points=2,
    reference=_sf_reference,
    compare=_compare_sf,
    cases=[
        Case(dict(x=_arr(1.0, -1.0), z=_arr(1.0, -1.0), grad=_arr(0.5, 2.0), lr=0.1, beta=0.9, t=0),
             note=N_("edge: the first step, t = 0, so c = 1")),
        Case(dict(x=_arr(0.2, 0.4, -0.1), z=_arr(0.0, 1.0, -0.5), grad=_arr(1.0, -1.0, 0.5), lr=0.5, beta=0.9, t=4)),
        Case(dict(x=_arr([1.0, 2.0], [3.0, 4.0]), z=_arr([0.5, 1.5], [2.0, 5.0]), grad=_arr([0.2, -0.4], [1.0, 0.0]),
                  lr=0.05, beta=0.5, t=9), note=N_("a 2x2 array of parameters")),
        Case(dict(x=_arr(3.0), z=_arr(-1.0), grad=_arr(-2.0), lr=0.25, beta=0.75, t=1)),
    ],
    exempt={"bounds": "one step of the update rule: no threshold or bound, c = 1/(t+1) at every t"},
    hint_text=N_("""
        In this order: z takes the SGD step, z_new = z - lr * grad. The average moves towards the new z
        with weight c = 1 / (t + 1): x_new = (1 - c) * x + c * z_new (so x is the mean of all z so far).
        The next gradient point is between them: y_new = (1 - beta) * z_new + beta * x_new.
        Return (x_new, z_new, y_new).
    """),
    mistakes=[
        Mistake(_sf_old_z, N_("Did you average in the old z? Take the SGD step on z first, then move x "
                              "towards the new z.")),
        Mistake(_sf_swapped, N_("Your y has the weights swapped: y = (1 - beta) * z + beta * x, close to "
                                "the average x when beta is near 1.")),
        Mistake(_sf_old_x, N_("Your y uses the old x: compute y from the new z and the new x.")),
        Mistake(_sf_ascent, N_("Your z climbs the gradient: z_new = z - lr * grad, a descent step, and x and y "
                               "follow from that z.")),
        Mistake(_sf_no_average, N_("You returned z for all three: x must be the running average of the z's, "
                                   "and y the point between them.")),
        Mistake(_sf_with_c(lambda t: 1.0 / t if t else 1.0), N_("Did you use c = 1 / t? t counts the steps before this one, so this is step "
                               "t + 1 and c = 1 / (t + 1) (c = 1 at the first step: x starts at z).")),
        Mistake(_sf_old_xz, N_("Your y is built from the old x and z: compute y from the new z and the new x, "
                               "after both have been updated.")),
        Mistake(_sf_with_c(lambda t: 1.0 / (t + 2)), N_("Did you use c = 1 / (t + 2)? t counts the steps before this one, so at "
                                      "the first step t = 0 and c = 1 / (t + 1) = 1: x starts at the new z.")),
    ],
)


# --------------------------------------------------------------------------- mup_lr
def _mup_reference(base_lr, base_width, width, layer):
    if layer not in LAYERS:
        raise ValueError(_("layer must be one of 'input', 'hidden', 'output', got {layer!r}").format(layer=layer))
    return base_lr * base_width / width if layer == "hidden" else base_lr


mup_lr = Exercise(
    name="mup_lr",
    points=2,
    reference=_mup_reference,
    cases=[
        Case(dict(base_lr=1e-2, base_width=64, width=256, layer="hidden")),
        Case(dict(base_lr=1e-2, base_width=64, width=256, layer="input")),
        Case(dict(base_lr=1e-2, base_width=64, width=160, layer="hidden"), note=N_("a width that is not a multiple "
                                                                                  "of base_width: a ratio of 2.5")),
        Case(dict(base_lr=3e-3, base_width=128, width=32, layer="hidden"), note=N_("a narrower model")),
        Case(dict(base_lr=3e-3, base_width=128, width=512, layer="output")),
        Case(dict(base_lr=2e-3, base_width=16, width=16, layer="hidden"), note=N_("the base width itself")),
        Case(dict(base_lr=5e-4, base_width=32, width=96, layer="hidden")),
    ],
    exempt={"bounds": "the rule is a ratio of widths with no threshold: wider is smaller, narrower is larger"},
    hint_text=N_("""
        With Adam under muP only the hidden-to-hidden matrices, whose two dimensions both grow with
        the width, change their LR: base_lr * base_width / width. The input layer and the output layer
        (in muP its output is divided by width / base_width instead) keep base_lr.
    """),
    mistakes=[
        Mistake(lambda base_lr, base_width, width, layer: base_lr,
                N_("That is the standard parametrization, one LR for every width: under muP the hidden "
                   "matrices' LR scales as base_width / width.")),
        Mistake(lambda base_lr, base_width, width, layer: base_lr * base_width / width,
                N_("Only the hidden-to-hidden matrices get base_lr * base_width / width; the input and output "
                   "layers keep base_lr.")),
        Mistake(lambda base_lr, base_width, width, layer: base_lr * width / base_width if layer == "hidden"
                else base_lr,
                N_("Your hidden LR grows with the width: a wider layer sums more inputs, so each weight must "
                   "move less, base_lr * base_width / width.")),
        Mistake(lambda base_lr, base_width, width, layer: base_lr * math.sqrt(base_width / width)
                if layer == "hidden" else base_lr,
                N_("Did you take the square root? For Adam, muP scales the hidden LR by base_width / width "
                   "itself.")),
        Mistake(lambda base_lr, base_width, width, layer: base_lr * base_width / width
                if layer in ("hidden", "output") else base_lr,
                N_("The output layer keeps base_lr in the form of muP this exercise uses (the mup package's: the "
                   "output layer's result is multiplied by base_width / width instead). Only the "
                   "hidden-to-hidden matrices get base_lr * base_width / width.")),
        Mistake(lambda base_lr, base_width, width, layer: base_lr / (width // base_width) if layer == "hidden"
                else base_lr,
                N_("Did you use integer division (width // base_width)? It rounds the width ratio down: 2 for a "
                   "ratio of 2.5, and 0 for a narrower model, which then divides by zero. Use "
                   "base_lr * base_width / width.")),
        Mistake(lambda base_lr, base_width, width, layer: base_lr * (base_width // width) if layer == "hidden"
                else base_lr,
                N_("Did you use integer division (base_width // width)? It is 0 for any model wider than the "
                   "base one. Use base_lr * base_width / width.")),
    ],
)


#: The exercises of notebook 07, in the order they appear.
EXERCISES = [scaled_lr, noise_scale, lamb_trust_ratio, wsd_schedule, sf_update, mup_lr]
