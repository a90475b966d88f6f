"""Checks and hints for notebook 04, reduce-on-plateau and early stopping (``from lrcourse.exercises import plateau as ex``).

``is_improvement`` and ``first_cut_epoch`` are functions, checked on a table
of inputs against torch's rule. ``PlateauScheduler`` and ``EarlyStopping`` are
classes the learner writes: a check builds one per case, feeds it a stream of
metrics epoch by epoch, and after every ``step`` compares the returned value
and the object's state (``best``, ``num_bad_epochs``, ``best_epoch``) with a
live ``torch.optim.lr_scheduler.ReduceLROnPlateau`` (for the scheduler) or the
library's :class:`lrcourse.plateau.EarlyStopping`. The first epoch that differs
is reported with the metrics so far and the known mistake whose answers match
the learner's. ``plateau_settings`` asks for a configuration that meets stated
goals on a recorded loss curve and reports each goal it misses. Each
exercise's ``grade_id`` in the notebook equals its name here.
"""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from .. import plateau as P
from ..i18n import N_, gettext_ as _
from ._core import Bound, Case, Mistake, fmt
from .kinds import GoalExercise, StreamCase, StreamExercise, TableExercise

__all__ = ["is_improvement", "PlateauScheduler", "first_cut_epoch", "EarlyStopping", "plateau_settings",
           "SETTINGS_STREAM", "SETTINGS_GOALS", "settings_report", "EXERCISES"]


def compare_bool(actual: Any, expected: Any) -> str | None:
    if not isinstance(actual, (bool, np.bool_)):
        return _("return True or False, not {type}").format(type=type(actual).__name__)
    return None if bool(actual) == bool(expected) else ""


def compare_epoch(actual: Any, expected: Any) -> str | None:
    if expected is None or actual is None:
        return None if actual is expected else ""
    if isinstance(actual, bool) or not isinstance(actual, (int, np.integer)):
        return _("return the epoch as an int (or None), not {type}").format(type=type(actual).__name__)
    return None if int(actual) == int(expected) else ""


def _stream(*values: float) -> tuple:
    return tuple(float(v) for v in values)


# --------------------------------------------------------------------------- is_improvement
def _is_improvement(current, best, mode="min", threshold_mode="rel", threshold=1e-4):
    return P.is_improvement(current, best, mode, threshold_mode, threshold)


def _improvement_variant(compare=None, bar=None):
    def fn(current, best, mode="min", threshold_mode="rel", threshold=1e-4):
        if bar is not None:
            b = bar(best, mode, threshold_mode, threshold)
        elif mode == "min":
            b = best * (1 - threshold) if threshold_mode == "rel" else best - threshold
        else:
            b = best * (1 + threshold) if threshold_mode == "rel" else best + threshold
        if compare is not None:
            return compare(current, b, mode)
        return bool(current < b) if mode == "min" else bool(current > b)
    return fn


def _relative_change(current, best, mode="min", threshold_mode="rel", threshold=1e-4):
    change = (best - current) if mode == "min" else (current - best)
    if threshold_mode == "rel":
        change = change / best
    return bool(change > threshold)


def _swapped_mode_bar(best, mode, threshold_mode, threshold):
    if threshold_mode == "abs":
        return best * (1 - threshold) if mode == "min" else best * (1 + threshold)
    return best - threshold if mode == "min" else best + threshold


is_improvement = TableExercise(
    name="is_improvement",
    points=2,
    reference=_is_improvement,
    compare=compare_bool,
    cases=[
        Case(dict(current=0.9, best=1.0, mode="min", threshold_mode="rel", threshold=1e-4)),
        Case(dict(current=0.99995, best=1.0, mode="min", threshold_mode="rel", threshold=1e-4),
             note=N_("better, but by less than the threshold")),
        Case(dict(current=1.25, best=1.5, mode="min", threshold_mode="abs", threshold=0.25),
             note=N_("exactly at the bar: a tie")),
        Case(dict(current=1.2, best=1.5, mode="min", threshold_mode="abs", threshold=0.25)),
        Case(dict(current=0.91, best=0.9, mode="max", threshold_mode="rel", threshold=0.01)),
        Case(dict(current=0.905, best=0.9, mode="max", threshold_mode="rel", threshold=0.01)),
        Case(dict(current=0.95, best=0.9, mode="max", threshold_mode="abs", threshold=0.01)),
        Case(dict(current=0.905, best=0.9, mode="max", threshold_mode="abs", threshold=0.01)),
        Case(dict(current=2.0, best=2.0, mode="max", threshold_mode="abs", threshold=0.0), note=N_("a tie")),
        Case(dict(current=-0.9995, best=-1.0, mode="min", threshold_mode="rel", threshold=1e-3),
             note=N_("a negative best in rel mode")),
        Case(dict(current=-1.002, best=-1.0, mode="min", threshold_mode="rel", threshold=1e-3),
             note=N_("a negative best in rel mode, clearly beaten")),
        Case(dict(current=-1.05, best=-1.0, mode="max", threshold_mode="rel", threshold=0.1),
             note=N_("a negative best in rel mode")),
        Case(dict(current=5.0, best=math.inf, mode="min", threshold_mode="rel", threshold=1e-4),
             note=N_("the first epoch: best starts at inf")),
        Case(dict(current=-3.0, best=-math.inf, mode="max", threshold_mode="abs", threshold=0.1),
             note=N_("the first epoch in max mode")),
        Case(dict(current=math.nan, best=1.0, mode="min", threshold_mode="rel", threshold=1e-4),
             note=N_("a NaN metric")),
        Case(dict(current=0.99985, best=1.0), note=N_("mode, threshold_mode and threshold left at their defaults"))
    ],
    bounds=(Bound("current against the bar", lambda case: [
        m for m in [_bar_margin(**case.kwargs)] if math.isfinite(m)]),),
    hint_text=N_("""
        Compute the bar first: in min mode best * (1 - threshold) (rel) or best - threshold (abs); in max
        mode best * (1 + threshold) or best + threshold. Then current must be strictly below the bar (min)
        or strictly above it (max). Do not take abs(best): torch multiplies best itself, and a NaN must
        compare False, which < and > already do.
    """),
    mistakes=[
        Mistake(_improvement_variant(compare=lambda c, b, m: bool(c <= b) if m == "min" else bool(c >= b)),
                N_("A value exactly at the bar is not an improvement: torch compares strictly (< in min mode, "
                "> in max mode).")),
        Mistake(_improvement_variant(bar=_swapped_mode_bar),
                N_("rel and abs are swapped: rel scales best, best * (1 - threshold); abs shifts it, best - threshold.")),
        Mistake(_improvement_variant(bar=lambda b, m, tm, t: (b - abs(b) * t if m == "min" else b + abs(b) * t)
                                     if tm == "rel" else (b - t if m == "min" else b + t)),
                N_("You used abs(best) in rel mode. That is the sensible rule, but torch multiplies best itself, so "
                "for a negative best its bar lies on the worse side and a slightly worse value counts as better "
                "(the trap of rel mode with negative metrics).")),
        Mistake(_improvement_variant(compare=lambda c, b, m: bool(c < b) if m == "min" else bool(c < b)),
                N_("In max mode (accuracy) bigger is better: the bar is best * (1 + threshold) or best + threshold "
                "and current must be above it.")),
        Mistake(_relative_change,
                N_("A relative change (best - current) / best breaks twice: on the first epoch best is inf "
                "(inf / inf is NaN), and a negative best flips its sign. Compare current with a bar, "
                "best * (1 - threshold), instead.")),
        Mistake(_improvement_variant(bar=lambda b, m, tm, t: (b * (1 - t) if tm == "rel" else (b - t if m == "min"
                                                                                          else b + t))),
                N_("In max mode the rel bar is best * (1 + threshold): a metric that must rise needs a bar above "
                "best; best * (1 - threshold) is min mode's.")),
        Mistake(_improvement_variant(bar=lambda b, m, tm, t: b),
                N_("You compared with best itself: the threshold asks for a margin, best * (1 - threshold) in rel "
                "mode or best - threshold in abs mode.")),
        Mistake(_improvement_variant(compare=lambda c, b, m: not (c >= b) if m == "min" else not (c <= b)),
                N_("A NaN metric must not count as an improvement: `not (current >= bar)` is True for NaN, "
                "`current < bar` is False.")),
    ],
)


# --------------------------------------------------------------------------- PlateauScheduler
class _TorchPlateau:
    """A live ``torch.optim.lr_scheduler.ReduceLROnPlateau`` with the learner's interface."""

    def __init__(self, lr, **kwargs):
        import torch

        self._opt = torch.optim.SGD([torch.zeros(1, dtype=torch.float64)], lr=lr)
        self._sched = torch.optim.lr_scheduler.ReduceLROnPlateau(self._opt, **kwargs)

    def step(self, metric):
        self._sched.step(metric)
        return self._opt.param_groups[0]["lr"]

    @property
    def best(self):
        return self._sched.best

    @property
    def num_bad_epochs(self):
        return self._sched.num_bad_epochs


class _Plateau:
    """The notebook's solution, with hooks the known mistakes override."""

    def __init__(self, lr, mode="min", factor=0.1, patience=10, threshold=1e-4, threshold_mode="rel",
                 cooldown=0, min_lr=0.0, eps=1e-8):
        self.lr, self.mode, self.factor, self.patience = lr, mode, factor, patience
        self.threshold, self.threshold_mode = threshold, threshold_mode
        self.cooldown, self.min_lr, self.eps = cooldown, min_lr, eps
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0

    def _better(self, metric):
        return P.is_improvement(metric, self.best, self.mode, self.threshold_mode, self.threshold)

    def _count(self, metric):
        if self._better(metric):
            self.best = metric
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1

    def _cool(self):
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0

    def _too_many(self):
        return self.num_bad_epochs > self.patience

    def _new_lr(self):
        new_lr = max(self.lr * self.factor, self.min_lr)
        return new_lr if self.lr - new_lr > self.eps else self.lr

    def _after_cut(self):
        self.cooldown_counter = self.cooldown
        self.num_bad_epochs = 0

    def step(self, metric):
        self._count(metric)
        self._cool()
        if self._too_many():
            self.lr = self._new_lr()
            self._after_cut()
        return self.lr


class _KerasPatience(_Plateau):
    def _too_many(self):
        return self.num_bad_epochs >= self.patience


class _CooldownKeepsCount(_Plateau):
    def _cool(self):
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1


class _CooldownFirst(_Plateau):
    def step(self, metric):
        self._cool()
        if self._better(metric):
            self.best, self.num_bad_epochs = metric, 0
        elif self.cooldown_counter == 0:
            self.num_bad_epochs += 1
        if self._too_many():
            self.lr = self._new_lr()
            self._after_cut()
        return self.lr


class _CoolThenCount(_Plateau):
    def step(self, metric):
        self._cool()
        self._count(metric)
        if self._too_many():
            self.lr = self._new_lr()
            self._after_cut()
        return self.lr


class _NoEps(_Plateau):
    def _new_lr(self):
        return max(self.lr * self.factor, self.min_lr)


class _NoMinLr(_Plateau):
    def _new_lr(self):
        new_lr = self.lr * self.factor
        return new_lr if self.lr - new_lr > self.eps else self.lr


class _NoResetAfterCut(_Plateau):
    def _after_cut(self):
        self.cooldown_counter = self.cooldown


class _ResetOnlyWhenCut(_Plateau):
    def step(self, metric):
        self._count(metric)
        self._cool()
        if self._too_many():
            new_lr = self._new_lr()
            if new_lr < self.lr:
                self.lr = new_lr
                self._after_cut()
        return self.lr


class _FirstMetricIsBest(_Plateau):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.best = None

    def _better(self, metric):
        return self.best is None or super()._better(metric)


class _BestIsRunningMin(_Plateau):
    def _count(self, metric):
        better = self._better(metric)
        if (metric < self.best) if self.mode == "min" else (metric > self.best):
            self.best = metric
        self.num_bad_epochs = 0 if better else self.num_bad_epochs + 1


class _Margins(_Plateau):
    """The notebook's solution, recording where each of its rules lands against its bound."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.patience_margins, self.eps_margins, self.floor_margins, self.bar_margins = [], [], [], []

    def _better(self, metric):
        self.bar_margins.append(_bar_margin(metric, self.best, self.mode, self.threshold_mode, self.threshold))
        return super()._better(metric)

    def _too_many(self):
        self.patience_margins.append(self.num_bad_epochs - self.patience)
        return super()._too_many()

    def _new_lr(self):
        self.floor_margins.append(self.lr * self.factor - self.min_lr)
        self.eps_margins.append((self.lr - max(self.lr * self.factor, self.min_lr)) - self.eps)
        return super()._new_lr()


def _bar_margin(current, best, mode="min", threshold_mode="rel", threshold=1e-4):
    """current - the bar it must pass (torch's rule), or NaN where that is not a number (a NaN, an inf best)."""
    if mode == "min":
        bar = best * (1 - threshold) if threshold_mode == "rel" else best - threshold
    else:
        bar = best * (1 + threshold) if threshold_mode == "rel" else best + threshold
    with np.errstate(all="ignore"):
        margin = float(current) - float(bar)
    return margin if math.isfinite(margin) else math.nan


def _plateau_margins(kind: str) -> Callable[[Case], list]:
    def margins(case: Case) -> list:
        if isinstance(case, StreamCase):
            sched, metrics = _Margins(**case.kwargs), case.metrics
        else:  # first_cut_epoch: a scheduler at lr 1.0, stopped at the first cut
            kw = dict(case.kwargs)
            metrics = kw.pop("metrics")
            sched = _Margins(1.0, **kw)
        for metric in metrics:
            if sched.step(metric) < 1.0 and not isinstance(case, StreamCase):
                break
        return [m for m in getattr(sched, kind) if math.isfinite(m)]
    return margins


#: A validation loss that improves until epoch 4, then wobbles above its best.
_FLAT = _stream(1.0, 0.8, 0.7, 0.65, 0.66, 0.652, 0.67, 0.655, 0.651, 0.66, 0.653, 0.66, 0.654, 0.67)

PlateauScheduler = StreamExercise(
    name="PlateauScheduler",
    points=3,
    reference=_TorchPlateau,
    attributes=("best", "num_bad_epochs"),
    source=N_("torch's ReduceLROnPlateau"),
    cases=[
        StreamCase(dict(lr=0.1, patience=3), metrics=_FLAT, note=N_("a plateau after epoch 4")),
        StreamCase(dict(lr=1.0, factor=0.5, patience=1, cooldown=2), metrics=_stream(
            1.0, 0.9, 0.95, 0.97, 0.96, 0.98, 0.99, 0.85, 0.9, 0.91, 0.92, 0.93, 0.94), note=N_("with a cooldown")),
        StreamCase(dict(lr=0.1, factor=0.5, patience=0, min_lr=0.02), metrics=_stream(
            1.0, 1.1, 1.2, 1.3, 1.4, 1.5), note=N_("min_lr stops the cuts")),
        StreamCase(dict(lr=0.1, factor=0.95, patience=1, eps=0.01), metrics=_stream(1.0, 1.1, 1.2, 1.3, 1.4),
                   note=N_("a cut smaller than eps is ignored")),
        StreamCase(dict(lr=0.5, mode="max", factor=0.2, patience=2, threshold=0.005, threshold_mode="abs"),
                   metrics=_stream(0.6, 0.7, math.nan, 0.703, 0.72, 0.71, 0.724, 0.715, 0.72, 0.73, 0.6),
                   note=N_("accuracy, a NaN epoch")),
        StreamCase(dict(lr=1.0, patience=1), metrics=_stream(math.nan, 1.0, 0.9, 0.9, 0.9),
                   note=N_("the first epoch's metric is NaN: it is no improvement, and best stays inf")),
        StreamCase(dict(lr=0.01, patience=2), metrics=_stream(-1.0, -1.2, -1.19995, -1.1999, -1.19993, -1.25,
                                                              -1.2, -1.2, -1.2, -1.2),
                   note=N_("negative metrics in rel mode")),
        StreamCase(dict(lr=1.0, factor=0.75, patience=0, eps=0.25), metrics=_stream(1.0, 1.1, 1.2, 1.3),
                   note=N_("edge: the cut, 1.0 - 0.75, is exactly eps: not applied")),
        StreamCase(dict(lr=1.0, factor=0.5, patience=0, min_lr=0.25), metrics=_stream(1.0, 1.1, 1.2, 1.3, 1.4),
                   note=N_("edge: the second cut lands exactly on min_lr")),
        StreamCase(dict(lr=0.1, patience=1, threshold=0.5), metrics=_stream(2.0, 1.0, 0.75, 0.5, 0.4, 0.25),
                   note=N_("edge: 1.0 is exactly on the bar 2.0 * (1 - 0.5)")),
        StreamCase(dict(lr=1.0), metrics=_stream(1.0, *[0.99995] * 14),
                   note=N_("every setting left at its default: patience 10, factor 0.1, threshold 1e-4"))
    ],
    bounds=(Bound("num_bad_epochs > patience", _plateau_margins("patience_margins")),
            Bound("lr - new_lr > eps", _plateau_margins("eps_margins")),
            Bound("max(lr * factor, min_lr)", _plateau_margins("floor_margins")),
            Bound("metric beyond the threshold's bar", _plateau_margins("bar_margins"))),
    hint_text=N_("""
        In __init__ start best at math.inf (or -math.inf in max mode), num_bad_epochs and cooldown_counter at 0.
        step(metric): if is_improvement(metric, self.best, ...) set best and zero the count, else add one bad
        epoch. Then, if cooldown_counter > 0, decrement it and zero num_bad_epochs. Then, if num_bad_epochs >
        patience: new_lr = max(lr * factor, min_lr), applied only if lr - new_lr > eps; set cooldown_counter =
        cooldown and num_bad_epochs = 0. Return self.lr.
    """),
    mistakes=[
        Mistake(_KerasPatience,
                N_("You cut when num_bad_epochs reaches patience (Keras' rule, one epoch early); torch cuts when it "
                "exceeds patience: num_bad_epochs > patience.")),
        Mistake(_CooldownKeepsCount,
                N_("During the cooldown torch sets num_bad_epochs back to 0 every epoch: bad epochs in the cooldown "
                "do not count towards the next cut.")),
        Mistake(_CooldownFirst,
                N_("That is Keras' order: torch first compares the metric and counts the epoch, then handles the "
                "cooldown (decrement it and zero num_bad_epochs), then checks patience.")),
        Mistake(_CoolThenCount,
                N_("You handle the cooldown before counting the epoch, so the last bad epoch of a cooldown still "
                "counts and the next cut comes early. torch's order: compare the metric and count the epoch, then "
                "the cooldown (decrement it and zero num_bad_epochs), then the patience check.")),
        Mistake(_NoEps,
                N_("torch ignores a cut that changes the LR by eps or less: apply the new LR only if "
                "lr - new_lr > eps.")),
        Mistake(_NoMinLr, N_("The new LR is max(lr * factor, min_lr): min_lr is a floor.")),
        Mistake(_NoResetAfterCut,
                N_("After a cut torch resets num_bad_epochs to 0 (and starts the cooldown); without the reset the "
                "LR is cut again on the very next bad epoch.")),
        Mistake(_ResetOnlyWhenCut,
                N_("torch resets num_bad_epochs and starts the cooldown whenever patience runs out, even when the "
                "cut is skipped (the LR at min_lr, or a change within eps): reset after every decision to cut, "
                "applied or not.")),
        Mistake(_FirstMetricIsBest,
                N_("best starts at inf in min mode (-inf in max mode), not at the first metric: a first metric of "
                "NaN is then no improvement, while taken as best it makes every later value look worse.")),
        Mistake(_BestIsRunningMin,
                N_("best changes only when the metric is an improvement (beyond the threshold); a slightly lower "
                "value that is not an improvement leaves best where it was.")),
    ],
)


# --------------------------------------------------------------------------- first_cut_epoch
def _first_cut_with(cls, shift=0):
    def fn(metrics, patience, mode="min", threshold=1e-4, threshold_mode="rel"):
        sched = cls(1.0, patience=patience, mode=mode, threshold=threshold, threshold_mode=threshold_mode)
        for epoch, metric in enumerate(metrics, start=1):
            if sched.step(metric) < 1.0:
                return epoch + shift
        return None
    return fn


#: The reference: a live torch scheduler, replayed until its LR first falls.
_first_cut_epoch = _first_cut_with(_TorchPlateau)

first_cut_epoch = TableExercise(
    name="first_cut_epoch",
    points=1,
    reference=_first_cut_epoch,
    compare=compare_epoch,
    cases=[
        Case(dict(metrics=list(_FLAT), patience=3), note=N_("improves until epoch 4")),
        Case(dict(metrics=[1.0, 0.9, 0.95, 0.96, 0.8, 0.85, 0.86, 0.87], patience=2)),
        Case(dict(metrics=[1.0, 1.0, 1.0], patience=0), note=N_("patience 0")),
        Case(dict(metrics=[1.0, 0.9, 0.8, 0.7, 0.6], patience=1), note=N_("always improving")),
        Case(dict(metrics=[0.5, 0.6, 0.6, 0.6, 0.6], patience=2, mode="max"), note=N_("accuracy")),
        Case(dict(metrics=[1.0, 0.99995, 0.9999, 0.99992, 0.99991], patience=2),
             note=N_("gains below the 1e-4 threshold")),
        Case(dict(metrics=[1.0, 0.95, 0.92, 0.91, 0.905, 0.9], patience=1, mode="min", threshold=0.05,
                  threshold_mode="abs"),
             note=N_("an absolute threshold of 0.05: 0.95 only ties the bar")),
        Case(dict(metrics=[10.0, 9.6, 9.5, 9.4, 9.39], patience=1, mode="min", threshold=0.05,
                  threshold_mode="abs"), note=N_("an absolute threshold on a loss near 10 (a relative one is 10x larger)")),
        Case(dict(metrics=[0.5, 0.52, 0.53, 0.54, 0.545, 0.55], patience=1, mode="max", threshold=0.05),
             note=N_("accuracy must rise 5 % above its best")),
    ],
    bounds=(Bound("num_bad_epochs > patience", _plateau_margins("patience_margins")),
            Bound("metric beyond the threshold's bar", _plateau_margins("bar_margins"))),
    hint_text=N_("""
        Run your PlateauScheduler (lr=1.0 and the given arguments) over the metrics, counting epochs from 1,
        and return the first epoch after which its LR is below 1.0; None if there is none.
    """),
    mistakes=[
        Mistake(_first_cut_with(_KerasPatience),
                N_("That is where Keras would cut: torch waits until the bad epochs exceed patience, one epoch later.")),
        Mistake(_first_cut_with(_Plateau, shift=-1), N_("Epochs count from 1 (torch's first step is epoch 1).")),
        Mistake(_first_cut_with(_Plateau, shift=1),
                N_("That is the first epoch that *uses* the smaller LR; the cut happens at the end of the epoch "
                "before, whose metric triggered it.")),
        Mistake(lambda metrics, patience, mode="min", threshold=1e-4, threshold_mode="rel":
                _first_cut_epoch(metrics, patience, mode, 0.0, threshold_mode),
                N_("Gains smaller than the threshold (1e-4 of best by default) do not count as improvements.")),
        Mistake(lambda metrics, patience, mode="min", threshold=1e-4, threshold_mode="rel":
                _first_cut_epoch(metrics, patience),
                N_("Pass mode, threshold and threshold_mode on to your PlateauScheduler: with its defaults (min, "
                "1e-4, rel) an accuracy or another threshold is judged by the wrong rule.")),
        Mistake(lambda metrics, patience, mode="min", threshold=1e-4, threshold_mode="rel":
                _first_cut_epoch(metrics, patience, "min", threshold, threshold_mode),
                N_("Pass mode on to your PlateauScheduler: with its default, min, a rising accuracy counts as "
                "getting worse.")),
        Mistake(lambda metrics, patience, mode="min", threshold=1e-4, threshold_mode="rel":
                _first_cut_epoch(metrics, patience, mode, threshold, "rel"),
                N_("Pass threshold_mode on to your PlateauScheduler too: with its default, rel, an absolute threshold "
                "is read as a fraction of best.")),
        Mistake(lambda metrics, patience, mode="min", threshold=1e-4, threshold_mode="rel":
                _first_cut_epoch(metrics, patience, "min", threshold, "rel"),
                N_("Pass mode and threshold_mode on to your PlateauScheduler: with their defaults (min, rel) a "
                "rising accuracy counts as getting worse, and an absolute threshold is read as a relative one.")),
        Mistake(lambda metrics, patience, mode="min", threshold=1e-4, threshold_mode="rel":
                _first_cut_epoch(metrics, patience, mode),
                N_("Pass threshold and threshold_mode on to your PlateauScheduler too: with its defaults (1e-4, "
                "rel) a threshold of 0.05, or an absolute one, is judged by the wrong rule.")),
        Mistake(lambda metrics, patience, mode="min", threshold=1e-4, threshold_mode="rel":
                _first_cut_epoch(metrics, patience, mode, threshold, threshold_mode) or 0,
                N_("When the LR is never cut, return None, not 0: 0 reads as an epoch (and epochs count from 1).")),
    ],
)


# --------------------------------------------------------------------------- EarlyStopping
class _EarlyStopping:
    """The notebook's solution, with hooks the known mistakes override."""

    def __init__(self, patience, min_delta=0.0, mode="min"):
        self.patience, self.min_delta, self.mode = patience, min_delta, mode
        self.best = math.inf if mode == "min" else -math.inf
        self.best_epoch = None
        self.num_bad_epochs = 0
        self.epoch = 0

    def _better(self, metric):
        return P.is_improvement(metric, self.best, self.mode, "abs", self.min_delta)

    def _on_bad(self):
        self.num_bad_epochs += 1

    def _stop(self):
        return self.num_bad_epochs >= self.patience

    def step(self, metric):
        self.epoch += 1
        if self._better(metric):
            self.best, self.best_epoch, self.num_bad_epochs = metric, self._epoch_label(), 0
        else:
            self._on_bad()
        return self._stop()

    def _epoch_label(self):
        return self.epoch


def _stopping_margins(kind: str) -> Callable[[Case], list]:
    """Where the stopping rule (``"stop"``) or the improvement rule (``"bar"``) lands against its bound."""
    def margins(case: Case) -> list:
        stopper, found = _EarlyStopping(**case.kwargs), []
        for metric in case.metrics:
            if kind == "bar":
                found.append(_bar_margin(metric, stopper.best, stopper.mode, "abs", stopper.min_delta))
            stopper.step(metric)
            if kind == "stop":
                found.append(stopper.num_bad_epochs - stopper.patience)
        return [m for m in found if math.isfinite(m)]
    return margins


class _StopsAfterExceeding(_EarlyStopping):
    def _stop(self):
        return self.num_bad_epochs > self.patience


class _RelativeDelta(_EarlyStopping):
    def _better(self, metric):
        return P.is_improvement(metric, self.best, self.mode, "rel", self.min_delta)


class _TiesImprove(_EarlyStopping):
    def _better(self, metric):
        if self.mode == "min":
            return bool(metric <= self.best - self.min_delta)
        return bool(metric >= self.best + self.min_delta)


class _ZeroBasedEpoch(_EarlyStopping):
    def _epoch_label(self):
        return self.epoch - 1


class _NoReset(_EarlyStopping):
    def step(self, metric):
        self.epoch += 1
        if self._better(metric):
            self.best, self.best_epoch = metric, self.epoch
        else:
            self.num_bad_epochs += 1
        return self._stop()


EarlyStopping = StreamExercise(
    name="EarlyStopping",
    points=2,
    reference=lambda **kwargs: P.EarlyStopping(**kwargs),
    compare=compare_bool,
    attributes=("best", "best_epoch"),
    source=N_("lrcourse.plateau.EarlyStopping (Keras' and Lightning's rule)"),
    cases=[
        StreamCase(dict(patience=3, min_delta=0.01), metrics=_stream(1.0, 0.8, 0.795, math.nan, 0.7, 0.75, 0.7,
                                                                     0.695, 0.71), note=N_("with a NaN epoch")),
        StreamCase(dict(patience=2), metrics=_stream(1.0, 0.9, 0.95, 0.85, 0.9, 0.9, 0.8)),
        StreamCase(dict(patience=2, min_delta=0.25), metrics=_stream(1.5, 1.25, 1.0, 1.125, 0.875, 0.75),
                   note=N_("a gain of exactly min_delta")),
        StreamCase(dict(patience=2, mode="max"), metrics=_stream(0.5, 0.7, 0.7, 0.75, 0.6, 0.74, 0.76)),
        StreamCase(dict(patience=1, min_delta=0.05), metrics=_stream(2.0, 1.92, 1.9, 1.0)),
    ],
    bounds=(Bound("num_bad_epochs >= patience", _stopping_margins("stop")),
            Bound("an improvement of more than min_delta", _stopping_margins("bar"))),
    hint_text=N_("""
        Like the plateau rule, but with an absolute min_delta: a metric improves if metric < best - min_delta
        (min mode) or metric > best + min_delta (max mode); use is_improvement with threshold_mode="abs".
        On an improvement remember best and best_epoch (counting from 1) and zero the count; otherwise add
        one. step returns True once num_bad_epochs >= patience.
    """),
    mistakes=[
        Mistake(_StopsAfterExceeding,
                N_("Early stopping stops when the count of bad epochs reaches patience (>=); waiting until it "
                "exceeds patience is the plateau rule's convention.")),
        Mistake(_RelativeDelta, N_("min_delta is absolute: improve on best by more than min_delta, not by a fraction.")),
        Mistake(_TiesImprove,
                N_("A gain of exactly min_delta is not an improvement: the comparison is strict.")),
        Mistake(_ZeroBasedEpoch, N_("best_epoch counts epochs from 1: the first step is epoch 1.")),
        Mistake(_NoReset,
                N_("An improvement resets the count of bad epochs to 0: patience counts bad epochs in a row.")),
    ],
)


# --------------------------------------------------------------------------- plateau_settings
def _settings_stream() -> tuple:
    """60 epochs: a noisy descent (new bests at most 4 epochs apart) to epoch 30, then a plateau."""
    bests = [1, 2, 3, 5, 6, 10, 11, 12, 16, 17, 18, 23, 24, 25, 27, 30]
    rng = np.random.default_rng(4)
    level, values = 2.0, []
    for epoch in range(1, 61):
        if epoch in bests:
            level *= 0.9 if epoch < 30 else 0.97
            values.append(level)
        else:
            values.append(level * (1 + rng.uniform(0.002, 0.05)))
    return tuple(round(v, 4) for v in values)


SETTINGS_STREAM = _settings_stream()

#: What the configuration must achieve on SETTINGS_STREAM (the curve is replayed as recorded).
SETTINGS_GOALS = {
    "no_cut_before": 31,     # no cut during the noisy descent (epochs 1-30)
    "first_cut_by": 38,      # react within 8 epochs once the plateau starts
    "final_ratio": (1e-3, 1e-2),  # end between 1/1000 and 1/100 of the initial LR
}


def _settings_report(patience: int, factor: float) -> list[str]:
    sched = P.ReduceLROnPlateau(1.0, patience=patience, factor=factor).run(SETTINGS_STREAM)
    problems = []
    early = [c for c in sched.cuts if c < SETTINGS_GOALS["no_cut_before"]]
    if early:
        problems.append(_("it cuts during the noisy descent, at epoch {epoch} (a gap between new bests is not a "
                          "plateau: raise patience)").format(epoch=early[0]))
    first = sched.cuts[0] if sched.cuts else None
    if first is None or first > SETTINGS_GOALS["first_cut_by"]:
        when = _("never") if first is None else _("only at epoch {epoch}").format(epoch=first)
        problems.append(_("the first cut comes {when}, later than epoch {epoch} (lower patience)").format(
            when=when, epoch=SETTINGS_GOALS["first_cut_by"]))
    low, high = SETTINGS_GOALS["final_ratio"]
    if not low * (1 - 1e-9) <= sched.lr <= high * (1 + 1e-9):  # 0.1 * 0.1 is 0.010000000000000002
        problems.append(_("the LR ends at {ratio} of the initial after {cuts} cuts, outside [{low}, {high}] (change "
                          "factor: each cut multiplies by it)").format(ratio=f"{sched.lr:.3g}", cuts=len(sched.cuts),
                                                                        low=f"{low:g}", high=f"{high:g}"))
    return problems


def _plateau_settings():
    return 6, 0.25


def _compare_settings(actual: Any, expected: Any) -> str | None:
    if not isinstance(actual, (tuple, list)) or len(actual) != 2:
        return _("return the tuple (patience, factor)")
    patience, factor = actual
    if isinstance(patience, bool) or not isinstance(patience, (int, np.integer)) or patience < 0:
        return _("patience must be an int >= 0, got {value}").format(value=fmt(patience))
    if isinstance(factor, bool) or not isinstance(factor, (int, float, np.floating)) or not 0 < factor < 1:
        return _("factor must be a number in (0, 1), got {value}").format(value=fmt(factor))
    problems = _settings_report(int(patience), float(factor))
    return "; ".join(problems) if problems else None


def settings_report(patience: int, factor: float) -> None:
    """Print which of SETTINGS_GOALS ``(patience, factor)`` misses on SETTINGS_STREAM."""
    problem = _compare_settings((patience, factor), None)
    print(_("all goals met") if problem is None else problem)


plateau_settings = GoalExercise(
    name="plateau_settings",
    points=2,
    reference=_plateau_settings,
    compare=_compare_settings,
    cases=[Case({})],
    exempt={"bounds": "one answer is judged by three goals on a recorded curve; answers exactly on each goal's "
                      "edge are tested in tests/test_exercises_plateau.py",
            "hidden": "it takes no input to draw: the answer is a pair of settings judged by goals on one "
                      "recorded curve, and any pair that meets them is right"},
    hint_text=N_("""
        Count: the longest run of epochs without a new best in the descent sets the smallest safe
        patience (the cut needs num_bad_epochs > patience). The plateau starts after epoch 30, so the first
        cut comes at 30 + patience + 1. After it, a cut every patience + 1 epochs until epoch 60: n cuts
        leave factor ** n of the LR. Try a pair with ex.settings_report(patience, factor).
    """),
    mistakes=[
        Mistake(lambda: (10, 0.1),
                N_("torch's defaults (patience 10, factor 0.1) react too late here: the first cut needs 11 bad "
                "epochs and comes at epoch 41.")),
        Mistake(lambda: (2, 0.5),
                N_("patience 2 mistakes the gaps of the noisy descent for a plateau.")),
        Mistake(lambda: (5, 0.1), N_("Five cuts of 0.1 leave 1e-5 of the LR: with patience 5 the factor must be "
                                  "near 0.3.")),
        Mistake(lambda: (0.5, 6), N_("The order is (patience, factor).")),
    ],
)


EXERCISES = [is_improvement, PlateauScheduler, first_cut_epoch, EarlyStopping, plateau_settings]
