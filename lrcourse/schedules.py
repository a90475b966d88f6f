"""Learning-rate schedules: small factories that return a pure function ``step -> lr``.

Written in the style of optax's schedules: each factory validates its arguments
once, then returns a plain function of the (integer, 0-based) step. Every
factory gives the same learning rates as its ``torch.optim.lr_scheduler``
counterpart for the same base LR, step for step (``tests/test_schedules.py``
checks it over thousands of steps and random configurations):

==================  ==========================================================
factory             torch counterpart
==================  ==========================================================
``constant``        a constant LR
``step_decay``      ``StepLR``
``multistep``       ``MultiStepLR``
``exponential``     ``ExponentialLR``
``polynomial``      ``PolynomialLR``
``cosine``          ``CosineAnnealingLR(T_max=total_steps, eta_min=min_lr)``
``linear_warmup``   ``LinearLR``
``warmup_cosine``   ``SequentialLR([LinearLR, CosineAnnealingLR], [warmup_steps])``
``cosine_restarts`` ``CosineAnnealingWarmRestarts`` (integer steps)
``cyclic``          ``CyclicLR`` (triangular, triangular2, exp_range)
``one_cycle``       ``OneCycleLR``
``wsd``             warmup-stable-decay: ``pytorch_optimizer.get_wsd_schedule`` (torch has none)
``join``            optax ``join_schedules``: each piece counts its own steps
==================  ==========================================================

"Step" means one call of ``scheduler.step()``: step 0 is the LR the optimizer
uses before the first ``scheduler.step()``. Whether a step is a batch or an
epoch is up to the training loop.

>>> sched = cosine(0.1, total_steps=100)
>>> round(sched(0), 6), round(sched(50), 6), round(sched(100), 6)
(0.1, 0.05, 0.0)

:func:`to_torch` turns any schedule (also a hand-written one) into a torch
scheduler, and :func:`torch_counterpart` builds the torch scheduler that a
factory call equals, so the two can be compared (:func:`torch_lrs`).

The schedules are written by hand rather than wrapping torch: they are the
readable reference a notebook shows, and ``import lrcourse.schedules`` does not
import torch.
"""
from __future__ import annotations

import bisect
import functools
import math
import numbers
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from ._validation import as_float, choice_error, integer, non_negative, positive
from .i18n import gettext_ as _

__all__ = [
    "Schedule",
    "constant",
    "step_decay",
    "multistep",
    "exponential",
    "polynomial",
    "cosine",
    "linear_warmup",
    "warmup_cosine",
    "cosine_restarts",
    "cyclic",
    "one_cycle",
    "one_cycle_momentum",
    "wsd",
    "join",
    "evaluate",
    "to_torch",
    "torch_counterpart",
    "torch_lrs",
    "FACTORIES",
]

Schedule = Callable[[int], float]

CYCLIC_MODES = ("triangular", "triangular2", "exp_range")
WSD_DECAYS = ("1-sqrt", "linear", "cosine", "1-square")
ANNEAL_STRATEGIES = ("cos", "linear")


# --------------------------------------------------------------------------- helpers
def _step(step: Any) -> int:
    """Validate the argument of a schedule: a non-negative integer."""
    if isinstance(step, bool) or not isinstance(step, numbers.Integral) or step < 0:
        raise ValueError(_("step must be a non-negative integer, got {step!r}").format(step=step))
    return int(step)


def _named(fn: Callable, factory: str, **params: Any) -> Callable:
    """Give a schedule a readable name, e.g. ``cosine(lr=0.1, total_steps=100, min_lr=0.0)``."""
    args = ", ".join(f"{k}={v!r}" for k, v in params.items())
    fn.__name__ = factory
    fn.__qualname__ = f"{factory}({args})"
    fn.__doc__ = f"The learning rate at ``step`` of {fn.__qualname__}."
    return fn


def _unit_interval(name: str, value: Any, *, open_left: bool = False) -> float:
    value = as_float(name, value)
    low_ok = value > 0 if open_left else value >= 0
    if not (low_ok and value <= 1):
        interval = "(0, 1]" if open_left else "[0, 1]"
        raise ValueError(_("{name} must be in {interval}, got {value!r}").format(
            name=name, interval=interval, value=value))
    return value


def _min_lr(min_lr: Any, lr: float, lr_name: str = "lr") -> float:
    min_lr = non_negative("min_lr", min_lr)
    if min_lr > lr:
        raise ValueError(_("min_lr must be <= {lr_name} ({lr!r}), got {min_lr!r}").format(
            lr_name=lr_name, lr=lr, min_lr=min_lr))
    return min_lr


# --------------------------------------------------------------------------- factories
def constant(lr: float) -> Schedule:
    """The same learning rate at every step: ``lr``.

    >>> constant(0.1)(1000)
    0.1
    """
    lr = positive("lr", lr)

    def schedule(step: int) -> float:
        _step(step)
        return lr

    return _named(schedule, "constant", lr=lr)


def step_decay(lr: float, step_size: int, gamma: float = 0.1) -> Schedule:
    r"""Multiply by ``gamma`` every ``step_size`` steps (torch ``StepLR``).

    .. math:: \eta_t = \eta \, \gamma^{\lfloor t / s \rfloor}

    >>> sched = step_decay(0.1, step_size=30)
    >>> [round(sched(t), 6) for t in (0, 29, 30, 60)]
    [0.1, 0.1, 0.01, 0.001]
    """
    lr = positive("lr", lr)
    step_size = integer("step_size", step_size, minimum=1)
    gamma = positive("gamma", gamma)

    def schedule(step: int) -> float:
        return lr * gamma ** (_step(step) // step_size)

    return _named(schedule, "step_decay", lr=lr, step_size=step_size, gamma=gamma)


def multistep(lr: float, milestones: Iterable[int], gamma: float = 0.1) -> Schedule:
    r"""Multiply by ``gamma`` at each milestone step (torch ``MultiStepLR``).

    .. math:: \eta_t = \eta \, \gamma^{\#\{m \in \text{milestones} : m \le t\}}

    A milestone listed twice multiplies by ``gamma`` twice, as in torch.

    >>> sched = multistep(1.0, milestones=[10, 15], gamma=0.5)
    >>> [sched(t) for t in (9, 10, 15)]
    [1.0, 0.5, 0.25]
    """
    lr = positive("lr", lr)
    try:
        marks = sorted(integer("milestones", m, minimum=0) for m in milestones)
    except TypeError:
        raise ValueError(_("milestones must be a list of integers, got {milestones!r}").format(
            milestones=milestones)) from None
    gamma = positive("gamma", gamma)

    def schedule(step: int) -> float:
        return lr * gamma ** bisect.bisect_right(marks, _step(step))

    return _named(schedule, "multistep", lr=lr, milestones=marks, gamma=gamma)


def exponential(lr: float, gamma: float) -> Schedule:
    r"""Multiply by ``gamma`` at every step (torch ``ExponentialLR``).

    .. math:: \eta_t = \eta \, \gamma^{t}

    ``gamma > 1`` grows the LR, which is what an LR range test does.

    >>> round(exponential(0.1, gamma=0.9)(2), 6)
    0.081
    """
    lr = positive("lr", lr)
    gamma = positive("gamma", gamma)

    def schedule(step: int) -> float:
        return lr * gamma ** _step(step)

    return _named(schedule, "exponential", lr=lr, gamma=gamma)


def polynomial(lr: float, total_steps: int, power: float = 1.0) -> Schedule:
    r"""Decay to 0 over ``total_steps`` as a polynomial, then stay at 0 (torch ``PolynomialLR``).

    .. math:: \eta_t = \eta \, (1 - \min(t, T) / T)^{p}

    >>> sched = polynomial(0.1, total_steps=10, power=2.0)
    >>> round(sched(5), 6), sched(10), sched(20)
    (0.025, 0.0, 0.0)
    """
    lr = positive("lr", lr)
    total_steps = integer("total_steps", total_steps, minimum=1)
    power = positive("power", power)

    def schedule(step: int) -> float:
        return lr * (1.0 - min(total_steps, _step(step)) / total_steps) ** power

    return _named(schedule, "polynomial", lr=lr, total_steps=total_steps, power=power)


def cosine(lr: float, total_steps: int, min_lr: float = 0.0) -> Schedule:
    r"""Half a cosine from ``lr`` down to ``min_lr`` over ``total_steps`` (torch ``CosineAnnealingLR``).

    .. math:: \eta_t = \eta_{min} + (\eta - \eta_{min}) \, \frac{1 + \cos(\pi t / T)}{2}

    Past ``total_steps`` the formula goes on, so the LR climbs back up (period
    ``2 * total_steps``), exactly as torch's scheduler does; schedule the run to
    end at ``total_steps``.

    >>> sched = cosine(0.1, total_steps=10, min_lr=0.01)
    >>> round(sched(0), 6), round(sched(5), 6), round(sched(10), 6), round(sched(20), 6)
    (0.1, 0.055, 0.01, 0.1)
    """
    lr = positive("lr", lr)
    total_steps = integer("total_steps", total_steps, minimum=1)
    min_lr = _min_lr(min_lr, lr)

    def schedule(step: int) -> float:
        return min_lr + (lr - min_lr) * (1 + math.cos(math.pi * _step(step) / total_steps)) / 2

    return _named(schedule, "cosine", lr=lr, total_steps=total_steps, min_lr=min_lr)


def linear_warmup(lr: float, warmup_steps: int, start_factor: float = 1 / 3,
                  end_factor: float = 1.0) -> Schedule:
    r"""Go linearly from ``start_factor * lr`` to ``end_factor * lr`` in ``warmup_steps``, then hold (torch ``LinearLR``).

    .. math:: \eta_t = \eta \left(s + (e - s) \frac{\min(t, W)}{W}\right)

    The factors follow torch's ranges: ``start_factor`` in (0, 1] (a first step
    with LR 0 would be wasted) and ``end_factor`` in [0, 1].

    >>> sched = linear_warmup(0.3, warmup_steps=2)
    >>> [round(sched(t), 6) for t in (0, 1, 2, 3)]
    [0.1, 0.2, 0.3, 0.3]
    """
    lr = positive("lr", lr)
    warmup_steps = integer("warmup_steps", warmup_steps, minimum=1)
    start_factor = _unit_interval("start_factor", start_factor, open_left=True)
    end_factor = _unit_interval("end_factor", end_factor)

    def schedule(step: int) -> float:
        frac = min(warmup_steps, _step(step)) / warmup_steps
        return lr * (start_factor + (end_factor - start_factor) * frac)

    return _named(schedule, "linear_warmup", lr=lr, warmup_steps=warmup_steps,
                  start_factor=start_factor, end_factor=end_factor)


def warmup_cosine(lr: float, warmup_steps: int, total_steps: int, start_factor: float = 1 / 3,
                  min_lr: float = 0.0) -> Schedule:
    """Linear warmup for ``warmup_steps``, then cosine decay until ``total_steps``.

    Built by composition, as torch's ``SequentialLR([LinearLR(total_iters=W),
    CosineAnnealingLR(T_max=total_steps - W, eta_min=min_lr)], milestones=[W])``:
    ``join([linear_warmup(lr, W, start_factor), cosine(lr, total_steps - W, min_lr)], [W])``.
    The cosine part counts its own steps from 0 at step ``W``. ``warmup_steps=0``
    gives a plain cosine.

    >>> sched = warmup_cosine(0.3, warmup_steps=3, total_steps=13)
    >>> [round(sched(t), 6) for t in (0, 1, 2, 3, 8, 13)]
    [0.1, 0.166667, 0.233333, 0.3, 0.15, 0.0]
    """
    lr = positive("lr", lr)
    warmup_steps = integer("warmup_steps", warmup_steps, minimum=0)
    total_steps = integer("total_steps", total_steps, minimum=1)
    if total_steps <= warmup_steps:
        raise ValueError(_("total_steps must be > warmup_steps ({warmup_steps}), got {total_steps}").format(
            warmup_steps=warmup_steps, total_steps=total_steps))
    start_factor = _unit_interval("start_factor", start_factor, open_left=True)
    min_lr = _min_lr(min_lr, lr)
    decay = cosine(lr, total_steps - warmup_steps, min_lr)
    if warmup_steps == 0:
        schedule = join([decay], [])
    else:
        schedule = join([linear_warmup(lr, warmup_steps, start_factor), decay], [warmup_steps])
    return _named(schedule, "warmup_cosine", lr=lr, warmup_steps=warmup_steps,
                  total_steps=total_steps, start_factor=start_factor, min_lr=min_lr)


def cosine_restarts(lr: float, first_cycle: int, cycle_mult: int = 1, min_lr: float = 0.0) -> Schedule:
    r"""Cosine annealing with warm restarts, SGDR (torch ``CosineAnnealingWarmRestarts``).

    The first cycle lasts ``first_cycle`` steps, each next one ``cycle_mult``
    times longer; at the start of a cycle the LR jumps back to ``lr``.

    .. math:: \eta_t = \eta_{min} + (\eta - \eta_{min}) \frac{1 + \cos(\pi t_{cur} / T_i)}{2}

    >>> sched = cosine_restarts(0.1, first_cycle=10, cycle_mult=2)
    >>> round(sched(9), 6), sched(10), sched(30)
    (0.002447, 0.1, 0.1)
    """
    lr = positive("lr", lr)
    first_cycle = integer("first_cycle", first_cycle, minimum=1)
    cycle_mult = integer("cycle_mult", cycle_mult, minimum=1)
    min_lr = _min_lr(min_lr, lr)

    def schedule(step: int) -> float:
        t_cur, t_i = _step(step), first_cycle
        if cycle_mult == 1:
            t_cur %= t_i
        else:  # cycles grow geometrically, so this loop runs O(log step) times
            while t_cur >= t_i:
                t_cur -= t_i
                t_i *= cycle_mult
        return min_lr + (lr - min_lr) * (1 + math.cos(math.pi * t_cur / t_i)) / 2

    return _named(schedule, "cosine_restarts", lr=lr, first_cycle=first_cycle,
                  cycle_mult=cycle_mult, min_lr=min_lr)


def cyclic(base_lr: float, max_lr: float, step_size_up: int = 2000, step_size_down: int | None = None,
           mode: str = "triangular", gamma: float = 1.0) -> Schedule:
    r"""Cyclical learning rates (Smith 2017; torch ``CyclicLR``).

    The LR climbs linearly from ``base_lr`` to ``max_lr`` in ``step_size_up``
    steps, falls back in ``step_size_down`` (default: the same), and repeats.
    ``mode`` scales the amplitude: ``"triangular"`` keeps it, ``"triangular2"``
    halves it every cycle, ``"exp_range"`` multiplies it by ``gamma ** step``.

    .. math:: \eta_t = \eta_{base} + (\eta_{max} - \eta_{base}) \, h(x_t) \, \text{scale}

    >>> sched = cyclic(0.01, 0.1, step_size_up=5)
    >>> [round(sched(t), 6) for t in (0, 5, 10, 15)]
    [0.01, 0.1, 0.01, 0.1]
    """
    base_lr = non_negative("base_lr", base_lr)
    max_lr = positive("max_lr", max_lr)
    if max_lr <= base_lr:
        raise ValueError(_("max_lr must be > base_lr ({base_lr!r}), got {max_lr!r}").format(
            base_lr=base_lr, max_lr=max_lr))
    step_size_up = integer("step_size_up", step_size_up, minimum=1)
    step_size_down = step_size_up if step_size_down is None else integer(
        "step_size_down", step_size_down, minimum=1)
    if mode not in CYCLIC_MODES:
        raise choice_error("mode", mode, CYCLIC_MODES)
    gamma = positive("gamma", gamma)
    if gamma > 1:
        raise ValueError(_("gamma must be <= 1, got {gamma!r}").format(gamma=gamma))
    # The same float arithmetic as torch's CyclicLR, so the values agree to the last bits.
    total_size = float(step_size_up + step_size_down)
    step_ratio = step_size_up / total_size

    def schedule(step: int) -> float:
        step = _step(step)
        cycle = math.floor(1 + step / total_size)
        x = 1.0 + step / total_size - cycle  # position within the cycle, in [0, 1)
        if x <= step_ratio:
            height = x / step_ratio
        else:
            height = (x - 1) / (step_ratio - 1)
        if mode == "triangular":
            scale = 1.0
        elif mode == "triangular2":
            scale = 1 / (2.0 ** (cycle - 1))
        else:
            scale = gamma ** step
        return base_lr + (max_lr - base_lr) * height * scale

    return _named(schedule, "cyclic", base_lr=base_lr, max_lr=max_lr, step_size_up=step_size_up,
                  step_size_down=step_size_down, mode=mode, gamma=gamma)


def _one_cycle_shape(pct_start: Any, anneal: Any, three_phase: Any) -> float:
    """Check the arguments one_cycle and one_cycle_momentum share; return ``pct_start`` as a float."""
    pct_start = _unit_interval("pct_start", pct_start)
    if anneal not in ANNEAL_STRATEGIES:
        raise choice_error("anneal", anneal, ANNEAL_STRATEGIES)
    if not isinstance(three_phase, bool):
        raise ValueError(_("three_phase must be True or False, got {three_phase!r}").format(three_phase=three_phase))
    if three_phase and pct_start > 0.5:
        raise ValueError(_("pct_start must be <= 0.5 when three_phase=True, got {pct_start!r}").format(
            pct_start=pct_start))
    return pct_start


def _one_cycle_curve(factory: str, total_steps: int, pct_start: float, anneal: str,
                     values: Sequence[tuple[float, float]]) -> Schedule:
    """The piecewise curve of torch's ``OneCycleLR``: two or three phases, each from its start value to its end.

    The same phase boundaries and float arithmetic as torch, so the LRs (and the momenta) agree to the last bit.
    """
    warmup_end = float(pct_start * total_steps) - 1
    if warmup_end == 0:
        raise ValueError(_("pct_start * total_steps must not be 1 (a warm-up of zero length; torch divides by zero), "
                           "got pct_start={pct_start!r}, total_steps={total_steps}").format(
            pct_start=pct_start, total_steps=total_steps))
    if len(values) == 3:
        ends = [warmup_end, float(2 * pct_start * total_steps) - 2, total_steps - 1]
    else:
        ends = [warmup_end, total_steps - 1]
    phases = [(end, start_value, end_value) for end, (start_value, end_value) in zip(ends, values)]

    def anneal_cos(start: float, end: float, pct: float) -> float:
        return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)

    def anneal_linear(start: float, end: float, pct: float) -> float:
        return (end - start) * pct + start

    interpolate = anneal_cos if anneal == "cos" else anneal_linear

    def schedule(step: int) -> float:
        step = _step(step)
        if step > total_steps:
            raise ValueError(_("step must be <= total_steps ({total_steps}) for {factory}, got {step}").format(
                total_steps=total_steps, factory=factory, step=step))
        start_step = 0.0
        for i, (end_step, start_value, end_value) in enumerate(phases):
            if step <= end_step or i == len(phases) - 1:
                if end_step == start_step:
                    raise ValueError(_("step must be < total_steps ({total_steps}) for {factory} with pct_start=1, "
                                       "got {step}").format(
                        total_steps=total_steps, factory=factory, step=step))
                return interpolate(start_value, end_value, (step - start_step) / (end_step - start_step))
            start_step = end_step
        raise AssertionError("unreachable: the last phase always matches")

    return schedule


def one_cycle(max_lr: float, total_steps: int, pct_start: float = 0.3, div_factor: float = 25.0,
              final_div_factor: float = 1e4, anneal: str = "cos", three_phase: bool = False) -> Schedule:
    """The 1cycle policy (Smith & Topin 2018; torch ``OneCycleLR``).

    Warm up from ``max_lr / div_factor`` to ``max_lr`` over the first
    ``pct_start`` of the steps, then anneal down to
    ``max_lr / div_factor / final_div_factor``. With ``three_phase=True`` the LR
    first comes back down to ``max_lr / div_factor`` symmetrically (so
    ``pct_start`` must be at most 0.5), then anneals to the minimum.

    The schedule is defined for steps ``0 .. total_steps``: like torch, it
    accepts ``step == total_steps`` (one step past the last one, where the
    annealing formula extrapolates slightly) and raises ``ValueError`` for any
    later step. With ``pct_start=1`` that extra step has no defined value (torch
    divides by zero), and it raises ``ValueError`` as well.

    >>> sched = one_cycle(1.0, total_steps=100)
    >>> round(sched(0), 8), sched(29), round(sched(99), 8)
    (0.04, 1.0, 4e-06)
    """
    max_lr = positive("max_lr", max_lr)
    total_steps = integer("total_steps", total_steps, minimum=1)
    pct_start = _one_cycle_shape(pct_start, anneal, three_phase)
    div_factor = positive("div_factor", div_factor)
    final_div_factor = positive("final_div_factor", final_div_factor)
    initial_lr = max_lr / div_factor
    min_lr = initial_lr / final_div_factor
    if three_phase:
        values = [(initial_lr, max_lr), (max_lr, initial_lr), (initial_lr, min_lr)]
    else:
        values = [(initial_lr, max_lr), (max_lr, min_lr)]
    schedule = _one_cycle_curve("one_cycle", total_steps, pct_start, anneal, values)

    return _named(schedule, "one_cycle", max_lr=max_lr, total_steps=total_steps, pct_start=pct_start,
                  div_factor=div_factor, final_div_factor=final_div_factor, anneal=anneal,
                  three_phase=three_phase)


def one_cycle_momentum(total_steps: int, base_momentum: float = 0.85, max_momentum: float = 0.95,
                       pct_start: float = 0.3, anneal: str = "cos", three_phase: bool = False) -> Schedule:
    """The momentum cycle of the 1cycle policy: the LR's mirror image (Smith 2018; torch ``OneCycleLR``).

    Smith's *A disciplined approach to neural network hyper-parameters* (2018)
    lowers the momentum while the LR warms up and raises it again while the LR
    anneals: from ``max_momentum`` down to ``base_momentum`` over the first
    ``pct_start`` of the steps, then back up to ``max_momentum``. With
    ``three_phase=True`` it comes back up over the second phase and stays at
    ``max_momentum`` over the third. This is what torch's ``OneCycleLR`` does
    to SGD's ``momentum`` (Adam's ``beta1``) by default (``cycle_momentum=True``,
    the same defaults 0.85 and 0.95); pair it with :func:`one_cycle` with the
    same ``total_steps``, ``pct_start``, ``anneal`` and ``three_phase``, e.g.
    through ``training.train(..., momentum=one_cycle_momentum(total))``.

    >>> m = one_cycle_momentum(total_steps=100)
    >>> m(0), round(m(29), 8), round(m(99), 8)
    (0.95, 0.85, 0.95)
    """
    total_steps = integer("total_steps", total_steps, minimum=1)
    base_momentum = non_negative("base_momentum", base_momentum)
    max_momentum = non_negative("max_momentum", max_momentum)
    if base_momentum > max_momentum:
        raise ValueError(_("base_momentum must be <= max_momentum ({max_momentum!r}), got {base_momentum!r}").format(
            max_momentum=max_momentum, base_momentum=base_momentum))
    if max_momentum >= 1:
        raise ValueError(_("max_momentum must be < 1, got {max_momentum!r}").format(max_momentum=max_momentum))
    pct_start = _one_cycle_shape(pct_start, anneal, three_phase)
    if three_phase:
        values = [(max_momentum, base_momentum), (base_momentum, max_momentum), (max_momentum, max_momentum)]
    else:
        values = [(max_momentum, base_momentum), (base_momentum, max_momentum)]
    schedule = _one_cycle_curve("one_cycle_momentum", total_steps, pct_start, anneal, values)
    return _named(schedule, "one_cycle_momentum", total_steps=total_steps, base_momentum=base_momentum,
                  max_momentum=max_momentum, pct_start=pct_start, anneal=anneal, three_phase=three_phase)


def wsd(lr: float, warmup_steps: int, stable_steps: int, decay_steps: int, min_lr: float = 0.0,
        decay: str = "1-sqrt") -> Schedule:
    r"""Warmup-stable-decay: warm up, hold ``lr`` for as long as you like, then decay (Hu et al. 2024).

    .. math::
        \eta_t = \begin{cases}
        \eta\,t/W & t < W \\
        \eta & W \le t < W+S \\
        \eta_{min} + (\eta - \eta_{min})\,f\big((t-W-S)/D\big) & W+S \le t < W+S+D \\
        \eta_{min} & t \ge W+S+D
        \end{cases}

    with the decay shape ``f(p)``: ``"1-sqrt"`` :math:`1-\sqrt p` (Hägele et al. 2024
    found it the best), ``"linear"`` :math:`1-p`, ``"cosine"`` :math:`(1+\cos\pi p)/2`,
    ``"1-square"`` :math:`1-p^2`. Unlike cosine, the stable phase does not
    depend on the length of the run: a checkpoint of the stable phase can be
    decayed into a finished model at any time, or trained on.

    These are the LRs of ``pytorch_optimizer.get_wsd_schedule`` (the same code
    as Hugging Face's ``get_wsd_schedule``): step 0 has LR 0 when ``warmup_steps > 0``.
    One difference: there, ``min_lr_ratio`` floors only the ``"cosine"`` shape,
    and the other shapes go down to 0 and then jump to it at the end; here every
    shape ends at ``min_lr``. With ``min_lr=0`` or ``decay="cosine"`` the two agree.

    >>> sched = wsd(1.0, warmup_steps=2, stable_steps=3, decay_steps=4, decay="linear")
    >>> [sched(t) for t in range(10)]
    [0.0, 0.5, 1.0, 1.0, 1.0, 1.0, 0.75, 0.5, 0.25, 0.0]
    """
    lr = positive("lr", lr)
    warmup_steps = integer("warmup_steps", warmup_steps, minimum=0)
    stable_steps = integer("stable_steps", stable_steps, minimum=0)
    decay_steps = integer("decay_steps", decay_steps, minimum=1)
    min_lr = _min_lr(min_lr, lr)
    if decay not in WSD_DECAYS:
        raise choice_error("decay", decay, WSD_DECAYS)
    shape = {"1-sqrt": lambda p: 1.0 - math.sqrt(p), "linear": lambda p: 1.0 - p,
             "cosine": lambda p: 0.5 * (1.0 + math.cos(math.pi * p)), "1-square": lambda p: 1.0 - p * p}[decay]
    decay_start = warmup_steps + stable_steps

    def schedule(step: int) -> float:
        step = _step(step)
        if step < warmup_steps:
            return lr * step / warmup_steps
        if step < decay_start:
            return lr
        if step < decay_start + decay_steps:
            return min_lr + (lr - min_lr) * shape((step - decay_start) / decay_steps)
        return min_lr

    return _named(schedule, "wsd", lr=lr, warmup_steps=warmup_steps, stable_steps=stable_steps,
                  decay_steps=decay_steps, min_lr=min_lr, decay=decay)


def join(schedules: Sequence[Schedule], boundaries: Sequence[int]) -> Schedule:
    """Run ``schedules[0]`` until ``boundaries[0]``, then ``schedules[1]``, ... (optax ``join_schedules``).

    Each piece sees a *local* step count: at step ``boundaries[i]`` the piece
    ``schedules[i + 1]`` is called with step 0. Boundaries are strictly
    increasing positive integers, one fewer than the schedules.

    >>> sched = join([constant(0.1), cosine(0.1, total_steps=10)], boundaries=[5])
    >>> sched(4), sched(5), round(sched(10), 6)
    (0.1, 0.1, 0.05)
    """
    pieces = list(schedules)
    if not pieces or not all(callable(s) for s in pieces):
        raise ValueError(_("schedules must be a non-empty list of functions step -> lr, got {schedules!r}").format(
            schedules=schedules))
    try:
        marks = [integer("boundaries", b, minimum=1) for b in boundaries]
    except TypeError:
        raise ValueError(_("boundaries must be a list of integers, got {boundaries!r}").format(
            boundaries=boundaries)) from None
    if len(marks) != len(pieces) - 1:
        raise ValueError(_("boundaries must have one entry fewer than schedules ({n_pieces}), got {n_marks}").format(
            n_pieces=len(pieces) - 1, n_marks=len(marks)))
    if any(b <= a for a, b in zip(marks, marks[1:], strict=False)):
        raise ValueError(_("boundaries must be strictly increasing, got {marks}").format(marks=marks))
    starts = [0, *marks]

    def schedule(step: int) -> float:
        step = _step(step)
        i = bisect.bisect_right(marks, step)
        return pieces[i](step - starts[i])

    names = [getattr(s, "__qualname__", repr(s)) for s in pieces]
    schedule = _named(schedule, "join", boundaries=marks)
    schedule.__qualname__ = f"join([{', '.join(names)}], boundaries={marks})"
    return schedule


# --------------------------------------------------------------------------- using schedules
def evaluate(schedule: Schedule, num_steps: int) -> np.ndarray:
    """The learning rates ``schedule(0), ..., schedule(num_steps - 1)`` as a float64 array.

    >>> evaluate(step_decay(1.0, step_size=2, gamma=0.5), 5)
    array([1.  , 1.  , 0.5 , 0.5 , 0.25])
    """
    if not callable(schedule):
        raise ValueError(_("schedule must be a function step -> lr, got {schedule!r}").format(schedule=schedule))
    num_steps = integer("num_steps", num_steps, minimum=0)
    return np.array([schedule(t) for t in range(num_steps)], dtype=np.float64)


@functools.lru_cache(maxsize=None)
def _schedule_lr_class() -> type:
    """Define the torch scheduler class on first use, so this module does not import torch."""
    from torch.optim.lr_scheduler import LRScheduler

    class ScheduleLR(LRScheduler):
        """A torch scheduler that sets ``schedule(step)`` as the LR (one schedule per param group)."""

        def __init__(self, optimizer, schedules: list, last_epoch: int = -1):
            self.schedules = schedules
            super().__init__(optimizer, last_epoch)

        def get_lr(self) -> list[float]:
            return [float(s(self.last_epoch)) for s in self.schedules]

        _get_closed_form_lr = get_lr

        def state_dict(self) -> dict:
            # Functions do not pickle; like LambdaLR, keep only the step counters.
            return {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "schedules")}

    return ScheduleLR


def to_torch(schedule: Schedule | Sequence[Schedule], optimizer: Any, last_epoch: int = -1) -> Any:
    """A torch LR scheduler that sets exactly ``schedule(step)`` on ``optimizer``.

    Pass one schedule for every param group, or a list with one schedule per
    group (discriminative learning rates). The optimizer's own ``lr`` is
    replaced by ``schedule(0)`` on construction, as any torch scheduler does.
    Use it as any torch scheduler: ``optimizer.step()`` then ``scheduler.step()``.

    >>> import torch
    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    >>> scheduler = to_torch(step_decay(0.1, step_size=1, gamma=0.5), opt)
    >>> opt.step(); scheduler.step()
    >>> opt.param_groups[0]["lr"]
    0.05
    """
    from torch.optim import Optimizer

    if not isinstance(optimizer, Optimizer):
        raise ValueError(_("optimizer must be a torch.optim.Optimizer, got {type}").format(
            type=type(optimizer).__name__))
    groups = len(optimizer.param_groups)
    pieces = list(schedule) if isinstance(schedule, (list, tuple)) else [schedule] * groups
    if len(pieces) != groups or not all(callable(s) for s in pieces):
        raise ValueError(_("schedule must be a function step -> lr or a list of {groups} such functions (one per "
                           "param group), got {schedule!r}").format(
            groups=groups, schedule=schedule))
    return _schedule_lr_class()(optimizer, pieces, last_epoch=last_epoch)


#: The factories by name (what :func:`torch_counterpart` knows).
FACTORIES: dict[str, Callable[..., Schedule]] = {
    f.__name__: f for f in (constant, step_decay, multistep, exponential, polynomial, cosine,
                            linear_warmup, warmup_cosine, cosine_restarts, cyclic, one_cycle, wsd)
}


def _defaults(name: str, params: dict) -> dict:
    import inspect

    bound = inspect.signature(FACTORIES[name]).bind(**params)
    bound.apply_defaults()
    return dict(bound.arguments)


def torch_counterpart(name: str, optimizer: Any, **params: Any) -> Any:
    """The torch scheduler that ``FACTORIES[name](**params)`` equals, attached to ``optimizer``.

    Like every torch scheduler it sets the optimizer's LR on construction.

    >>> import torch
    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    >>> type(torch_counterpart("cosine", opt, lr=0.1, total_steps=100)).__name__
    'CosineAnnealingLR'
    """
    from torch.optim import lr_scheduler as S

    if name not in FACTORIES:
        raise choice_error("name", name, FACTORIES)
    FACTORIES[name](**params)  # the same validation (and the same errors) as the factory
    p = _defaults(name, params)
    base = p.get("lr")
    if base is not None:
        for group in optimizer.param_groups:
            group["lr"] = float(base)
            group.pop("initial_lr", None)
    if name == "constant":
        return S.LambdaLR(optimizer, lambda _: 1.0)
    if name == "step_decay":
        return S.StepLR(optimizer, step_size=p["step_size"], gamma=p["gamma"])
    if name == "multistep":
        return S.MultiStepLR(optimizer, milestones=list(p["milestones"]), gamma=p["gamma"])
    if name == "exponential":
        return S.ExponentialLR(optimizer, gamma=p["gamma"])
    if name == "polynomial":
        return S.PolynomialLR(optimizer, total_iters=p["total_steps"], power=p["power"])
    if name == "cosine":
        return S.CosineAnnealingLR(optimizer, T_max=p["total_steps"], eta_min=p["min_lr"])
    if name == "linear_warmup":
        return S.LinearLR(optimizer, start_factor=p["start_factor"], end_factor=p["end_factor"],
                          total_iters=p["warmup_steps"])
    if name == "warmup_cosine":
        warmup = S.LinearLR(optimizer, start_factor=p["start_factor"], end_factor=1.0,
                            total_iters=p["warmup_steps"])
        decay = S.CosineAnnealingLR(optimizer, T_max=p["total_steps"] - p["warmup_steps"],
                                    eta_min=p["min_lr"])
        return S.SequentialLR(optimizer, [warmup, decay], milestones=[p["warmup_steps"]])
    if name == "cosine_restarts":
        return S.CosineAnnealingWarmRestarts(optimizer, T_0=p["first_cycle"], T_mult=p["cycle_mult"],
                                             eta_min=p["min_lr"])
    if name == "cyclic":
        return S.CyclicLR(optimizer, base_lr=p["base_lr"], max_lr=p["max_lr"],
                          step_size_up=p["step_size_up"], step_size_down=p["step_size_down"],
                          mode=p["mode"], gamma=p["gamma"], cycle_momentum=False)
    if name == "wsd":
        # torch has no WSD scheduler; pytorch-optimizer's (a test dependency) is the reference.
        try:
            from pytorch_optimizer.lr_scheduler import get_wsd_schedule
        except ImportError:
            raise ImportError("the counterpart of wsd is pytorch_optimizer.get_wsd_schedule: "
                              "pip install pytorch-optimizer (a test dependency)") from None
        return get_wsd_schedule(optimizer, num_warmup_steps=p["warmup_steps"], num_stable_steps=p["stable_steps"],
                                num_decay_steps=p["decay_steps"], min_lr_ratio=p["min_lr"] / p["lr"],
                                cooldown_type=p["decay"])
    # one_cycle
    return S.OneCycleLR(optimizer, max_lr=p["max_lr"], total_steps=p["total_steps"],
                        pct_start=float(p["pct_start"]), anneal_strategy=p["anneal"],
                        div_factor=p["div_factor"], final_div_factor=p["final_div_factor"],
                        three_phase=p["three_phase"], cycle_momentum=False)


def torch_lrs(name: str, num_steps: int, **params: Any) -> np.ndarray:
    """The LRs torch's counterpart of ``FACTORIES[name](**params)`` sets at steps ``0 .. num_steps - 1``.

    Drives a real float64 ``torch.optim.SGD`` in the documented order,
    ``optimizer.step()`` then ``scheduler.step()``.

    >>> torch_lrs("step_decay", 4, lr=1.0, step_size=2, gamma=0.5)
    array([1. , 1. , 0.5, 0.5])
    """
    import torch

    num_steps = integer("num_steps", num_steps, minimum=0)
    param = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([param], lr=1.0)
    scheduler = torch_counterpart(name, optimizer, **params)
    lrs = []
    for t in range(num_steps):
        lrs.append(optimizer.param_groups[0]["lr"])
        if t < num_steps - 1:
            optimizer.step()
            scheduler.step()
    return np.array(lrs, dtype=np.float64)
