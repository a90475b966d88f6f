"""Reduce the LR when a metric stops improving, and stop training when it stops for good.

:class:`ReduceLROnPlateau` is a short, readable version of
``torch.optim.lr_scheduler.ReduceLROnPlateau`` for one parameter group: the
same arguments, defaults and arithmetic, so it gives torch's LR sequence for
any stream of metrics (``tests/test_plateau.py`` compares them on hundreds of
random streams with plateaus, noise, NaNs and negative values).

>>> sched = ReduceLROnPlateau(1.0, factor=0.5, patience=2)
>>> [sched.step(loss) for loss in [1.0, 0.9, 0.95, 0.93, 0.91, 0.92]]
[1.0, 1.0, 1.0, 1.0, 0.5, 0.5]
>>> sched.cuts, sched.best, sched.num_bad_epochs
([5], 0.9, 1)

Epochs count from 1: ``cuts`` lists the epochs whose metric triggered a cut,
and ``lrs[e]`` is the LR after ``e`` steps (``lrs[0]`` the initial LR), i.e. the
LR used in epoch ``e + 1``.

It can drive an optimizer of :mod:`lrcourse.optimizers` or of ``torch.optim``
(``optimizer=``): then every step reads the optimizer's current LR, as torch
does, and writes the new one back.

:class:`KerasReduceLROnPlateau` is Keras' rule (``keras.callbacks.ReduceLROnPlateau``),
for comparison: absolute ``min_delta`` only, and a cut after ``patience`` bad
epochs rather than ``patience + 1``.

:class:`EarlyStopping` stops training after ``patience`` epochs without
improvement and can keep the best weights of a torch model:

>>> es = EarlyStopping(patience=2)
>>> [es.step(loss) for loss in [1.0, 0.9, 0.95, 0.93]]
[False, False, False, True]
>>> es.best_epoch, es.stopped_epoch
(2, 4)
"""
from __future__ import annotations

import copy
import math
import numbers
from typing import Any, Iterable

from . import _validation as check
from .i18n import gettext_ as _

__all__ = ["is_improvement", "ReduceLROnPlateau", "KerasReduceLROnPlateau", "EarlyStopping", "first_cut_epoch"]

MODES = ("min", "max")
THRESHOLD_MODES = ("rel", "abs")


def _choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        first, second = choices  # each choice here is between two modes
        raise ValueError(_("{name} must be {first!r} or {second!r}, got {value!r}").format(
            name=name, first=first, second=second, value=value))
    return value


def _metric(value: Any) -> float:
    """A metric as a float: a number, a NumPy scalar or a one-element tensor (NaN and inf allowed)."""
    if isinstance(value, (bool, str, bytes)) or value is None:
        raise ValueError(_("metric must be a number, got {value!r}").format(value=value))
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(_("metric must be a number (or a one-element tensor), got {value!r}").format(
            value=value)) from None


def is_improvement(current: float, best: float, mode: str = "min", threshold_mode: str = "rel",
                   threshold: float = 1e-4) -> bool:
    """Whether ``current`` beats ``best`` by more than ``threshold`` (torch's rule).

    ============  =====================================  =================================
    mode          ``threshold_mode="rel"``               ``threshold_mode="abs"``
    ============  =====================================  =================================
    ``"min"``     ``current < best * (1 - threshold)``   ``current < best - threshold``
    ``"max"``     ``current > best * (1 + threshold)``   ``current > best + threshold``
    ============  =====================================  =================================

    The comparisons are strict, so a tie is not an improvement, and a NaN is
    never one. In rel mode the bar is a fraction of ``best`` itself, so for a
    negative ``best`` in min mode it lies *above* ``best``: a slightly worse
    value still counts as an improvement (torch behaves so; use abs mode for
    metrics that can be negative).

    >>> is_improvement(0.9999, 1.0), is_improvement(0.9998, 1.0)
    (False, True)
    >>> is_improvement(-0.99995, -1.0)   # worse, yet "better" in rel mode
    True
    """
    mode = _choice("mode", mode, MODES)
    threshold_mode = _choice("threshold_mode", threshold_mode, THRESHOLD_MODES)
    if mode == "min":
        bar = best * (1.0 - threshold) if threshold_mode == "rel" else best - threshold
        return bool(current < bar)
    bar = best * (threshold + 1.0) if threshold_mode == "rel" else best + threshold
    return bool(current > bar)


def _read_lr(optimizer: Any) -> float:
    if hasattr(optimizer, "param_groups"):
        return float(optimizer.param_groups[0]["lr"])
    return float(optimizer.lr)


def _write_lr(optimizer: Any, lr: float) -> None:
    if hasattr(optimizer, "param_groups"):
        optimizer.param_groups[0]["lr"] = lr
    else:
        optimizer.lr = lr


def _check_optimizer(optimizer: Any) -> Any:
    groups = getattr(optimizer, "param_groups", None)
    if groups is not None:
        if len(groups) != 1:
            raise ValueError(_("optimizer must have one parameter group, got {n_groups} (use "
                               "torch.optim.lr_scheduler.ReduceLROnPlateau for several)").format(
                n_groups=len(groups)))
        return optimizer
    if not isinstance(getattr(optimizer, "lr", None), numbers.Real):
        raise ValueError(_("optimizer must be an lrcourse.optimizers or torch.optim optimizer, got "
                           "{optimizer!r}").format(
            optimizer=optimizer))
    return optimizer


class _PlateauBase:
    """What both plateau rules share: the LR (own or an optimizer's), the history and ``run``."""

    def _init_rule(self, lr: float | None, optimizer: Any, mode: str, factor: float, patience: int,
                   cooldown: int, min_lr: float) -> None:
        """Validate and store what both rules take; start the state (best, cooldown) and the history."""
        self.mode = _choice("mode", mode, MODES)
        self.factor = check.as_float("factor", factor)
        if not 0 <= self.factor < 1:
            raise ValueError(_("factor must be in [0, 1) (each cut multiplies the LR by it), got {factor!r}").format(
                factor=factor))
        self.patience = check.integer("patience", patience, minimum=0)
        self.cooldown = check.integer("cooldown", cooldown, minimum=0)
        self.min_lr = check.non_negative("min_lr", min_lr)
        self._init_lr(lr, optimizer)
        self.best = math.inf if self.mode == "min" else -math.inf
        self.cooldown_counter = 0

    def _init_lr(self, lr: float | None, optimizer: Any) -> None:
        if optimizer is None:
            if lr is None:
                raise ValueError(_("lr must be given when there is no optimizer to read it from"))
            self._lr = check.positive("lr", lr)
        else:
            _check_optimizer(optimizer)
            if lr is not None:
                _write_lr(optimizer, check.positive("lr", lr))
            self._lr = _read_lr(optimizer)
        self.optimizer = optimizer
        self.last_epoch = 0
        self.lrs: list[float] = [self._lr]
        self.metrics: list[float] = []
        self.bests: list[float] = []
        self.cuts: list[int] = []

    @property
    def lr(self) -> float:
        """The current LR (the one the next epoch uses)."""
        return self._lr

    def _current_lr(self) -> float:
        return self._lr if self.optimizer is None else _read_lr(self.optimizer)

    def _record(self, metric: float, lr: float, cut: bool) -> float:
        self._lr = lr
        if self.optimizer is not None:
            _write_lr(self.optimizer, lr)
        self.metrics.append(metric)
        self.bests.append(self.best)
        self.lrs.append(lr)
        if cut:
            self.cuts.append(self.last_epoch)
        return lr

    def run(self, metrics: Iterable[float]):
        """Step once per metric in ``metrics``; return ``self`` (for ``.lrs``, ``.cuts``)."""
        for metric in metrics:
            self.step(metric)
        return self

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0


class ReduceLROnPlateau(_PlateauBase):
    """torch's ``ReduceLROnPlateau`` for one LR: ``new_lr = sched.step(metric)`` once per epoch.

    A metric that :func:`is_improvement` over ``best`` becomes the new
    ``best`` and resets ``num_bad_epochs``; any other (a NaN included) adds one
    bad epoch. During ``cooldown`` epochs after a cut, bad epochs are not
    counted. When ``num_bad_epochs`` exceeds ``patience``, the LR becomes
    ``max(lr * factor, min_lr)`` (unless that changes it by ``eps`` or less),
    the count resets and the cooldown starts. ``best`` starts at ``inf``
    (``-inf`` in max mode), so the first finite metric always improves.

    ``lr`` is the initial LR; with ``optimizer`` (an :mod:`lrcourse.optimizers`
    or a one-group ``torch.optim`` optimizer) it may be left out and is read
    from the optimizer, whose LR each step then sets.
    """

    def __init__(self, lr: float | None = None, mode: str = "min", factor: float = 0.1, patience: int = 10,
                 threshold: float = 1e-4, threshold_mode: str = "rel", cooldown: int = 0, min_lr: float = 0.0,
                 eps: float = 1e-8, optimizer: Any = None):
        self.threshold = check.non_negative("threshold", threshold)
        self.threshold_mode = _choice("threshold_mode", threshold_mode, THRESHOLD_MODES)
        self.eps = check.non_negative("eps", eps)
        self._init_rule(lr, optimizer, mode, factor, patience, cooldown, min_lr)
        self.num_bad_epochs = 0

    @property
    def hyperparameters(self) -> dict[str, Any]:
        """The arguments, as ``torch.optim.lr_scheduler.ReduceLROnPlateau`` takes them."""
        return {"mode": self.mode, "factor": self.factor, "patience": self.patience, "threshold": self.threshold,
                "threshold_mode": self.threshold_mode, "cooldown": self.cooldown, "min_lr": self.min_lr,
                "eps": self.eps}

    def to_torch(self, optimizer: Any) -> Any:
        """A torch ``ReduceLROnPlateau`` with these arguments on ``optimizer`` (a torch optimizer)."""
        from torch.optim.lr_scheduler import ReduceLROnPlateau as TorchPlateau

        return TorchPlateau(optimizer, **self.hyperparameters)

    def step(self, metric: float) -> float:
        """Feed one epoch's metric; return the LR for the next epoch."""
        current = _metric(metric)
        self.last_epoch += 1
        if is_improvement(current, self.best, self.mode, self.threshold_mode, self.threshold):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs in the cooldown do not count
        lr = old_lr = self._current_lr()
        cut = False
        if self.num_bad_epochs > self.patience:
            new_lr = max(old_lr * self.factor, self.min_lr)
            if old_lr - new_lr > self.eps:
                lr, cut = new_lr, True
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        return self._record(current, lr, cut)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.hyperparameters.items())
        return f"ReduceLROnPlateau(lr={self.lr!r}, {args})"


class KerasReduceLROnPlateau(_PlateauBase):
    """Keras' ``ReduceLROnPlateau`` callback (Keras 3) as a stepper, to compare with torch's rule.

    Differences from :class:`ReduceLROnPlateau`:

    * improvement is ``current < best - min_delta`` (``>`` ``best + min_delta``
      in max mode): an absolute threshold only;
    * the LR is cut when the count of bad epochs *reaches* ``patience`` (torch:
      when it *exceeds* it), so Keras cuts one epoch earlier;
    * in the cooldown, the counter is decremented *before* the comparison and
      bad epochs are not counted while it is still positive; a cut happens only
      while ``lr > min_lr``, and there is no ``eps``.

    Keras keeps the LR in float32; this port computes in float64.
    """

    def __init__(self, lr: float | None = None, mode: str = "min", factor: float = 0.1, patience: int = 10,
                 min_delta: float = 1e-4, cooldown: int = 0, min_lr: float = 0.0, optimizer: Any = None):
        self.min_delta = check.non_negative("min_delta", min_delta)
        self._init_rule(lr, optimizer, mode, factor, patience, cooldown, min_lr)
        self.wait = 0

    @property
    def num_bad_epochs(self) -> int:
        """Keras calls it ``wait``."""
        return self.wait

    def step(self, metric: float) -> float:
        """Feed one epoch's metric (``on_epoch_end``); return the LR for the next epoch."""
        current = _metric(metric)
        self.last_epoch += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.wait = 0
        lr = old_lr = self._current_lr()
        cut = False
        if is_improvement(current, self.best, self.mode, "abs", self.min_delta):
            self.best = current
            self.wait = 0
        elif not self.in_cooldown:
            self.wait += 1
            if self.wait >= self.patience and old_lr > self.min_lr:
                lr, cut = max(old_lr * self.factor, self.min_lr), True
                self.cooldown_counter = self.cooldown
                self.wait = 0
        return self._record(current, lr, cut)

    def __repr__(self) -> str:
        return (f"KerasReduceLROnPlateau(lr={self.lr!r}, mode={self.mode!r}, factor={self.factor!r}, "
                f"patience={self.patience!r}, min_delta={self.min_delta!r}, cooldown={self.cooldown!r}, "
                f"min_lr={self.min_lr!r})")


class EarlyStopping:
    """Stop after ``patience`` epochs in a row without an improvement of more than ``min_delta``.

    ``should_stop = es.step(metric)`` once per epoch. Improvement is absolute,
    as in Keras and PyTorch Lightning: ``metric < best - min_delta`` in min
    mode, ``metric > best + min_delta`` in max mode; a NaN is never one.
    Training should stop when ``num_bad_epochs`` reaches ``patience``; note
    that :class:`ReduceLROnPlateau` cuts only when the count *exceeds* its
    patience, so with equal patience the LR cut comes one epoch after the stop.

    Pass the torch ``model`` to :meth:`step` to keep a copy of its weights at
    every improvement; :meth:`restore` loads the best ones back. ``best_epoch``
    and ``stopped_epoch`` count epochs from 1.
    """

    def __init__(self, patience: int, min_delta: float = 0.0, mode: str = "min"):
        self.patience = check.integer("patience", patience, minimum=1)
        self.min_delta = check.non_negative("min_delta", min_delta)
        self.mode = _choice("mode", mode, MODES)
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch: int | None = None
        self.num_bad_epochs = 0
        self.epoch = 0
        self.stopped_epoch: int | None = None
        self.best_state: dict | None = None

    @property
    def should_stop(self) -> bool:
        return self.stopped_epoch is not None

    def step(self, metric: float, model: Any = None) -> bool:
        """Feed one epoch's metric (and the model, to keep its best weights); return whether to stop."""
        current = _metric(metric)
        self.epoch += 1
        if is_improvement(current, self.best, self.mode, "abs", self.min_delta):
            self.best = current
            self.best_epoch = self.epoch
            self.num_bad_epochs = 0
            if model is not None:
                self.best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            self.num_bad_epochs += 1
        if self.num_bad_epochs >= self.patience and self.stopped_epoch is None:
            self.stopped_epoch = self.epoch
        return self.num_bad_epochs >= self.patience

    def restore(self, model: Any) -> int:
        """Load the best weights seen into ``model``; return the epoch they are from."""
        if self.best_state is None:
            raise ValueError(_("no weights to restore: pass model= to step() (and have at least one improvement)"))
        model.load_state_dict(copy.deepcopy(self.best_state))
        return self.best_epoch

    def __repr__(self) -> str:
        return (f"EarlyStopping(patience={self.patience}, min_delta={self.min_delta}, mode={self.mode!r}; "
                f"epoch {self.epoch}, best {self.best:.4g} at epoch {self.best_epoch})")


def first_cut_epoch(metrics: Iterable[float], **kwargs: Any) -> int | None:
    """The epoch (from 1) at which :class:`ReduceLROnPlateau` first cuts the LR on ``metrics``, or None.

    ``kwargs`` are the scheduler's arguments (``patience``, ``threshold``, ...).

    >>> first_cut_epoch([1.0, 0.5, 0.6, 0.7, 0.8], patience=2)
    5
    """
    sched = ReduceLROnPlateau(kwargs.pop("lr", 1.0), **kwargs)
    for metric in metrics:
        sched.step(metric)
        if sched.cuts:
            return sched.cuts[0]
    return None
