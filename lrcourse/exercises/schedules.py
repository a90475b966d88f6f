"""Checks and hints for notebook 02, learning-rate schedules (``from lrcourse.exercises import schedules as ex``).

Every exercise asks for a schedule *factory*: a function that takes the
schedule's parameters and returns a function ``step -> lr``. A check calls the
learner's factory, evaluates the schedule it returns step by step, and compares
each LR with the one the matching ``torch.optim.lr_scheduler`` class sets on a
real optimizer. The first step that differs is reported, with the known mistake
it matches. A schedule must be a pure function of the step: once its values are
right in order, it is asked again out of order and twice, and must give the
same LRs. Each exercise's ``grade_id`` in the notebook equals its name here.
"""
from __future__ import annotations

import math
from typing import Callable

from .. import schedules as S
from ..i18n import N_
from ._core import Bound, Mistake
from .kinds import ScheduleCase, ScheduleExercise

__all__ = ["step_decay", "exponential", "cosine", "linear_warmup", "warmup_cosine", "cyclic",
           "ScheduleCase", "ScheduleExercise", "EXERCISES"]


def _steps_from(key: str, minus: str | None = None) -> Callable[[ScheduleCase], list]:
    """The margins ``step - kwargs[key]`` (less ``kwargs[minus]``) over the steps a case compares."""
    def margins(case: ScheduleCase) -> list:
        bound = case.kwargs[key] - (case.kwargs[minus] if minus else 0)
        return [t - bound for t in range(case.steps)]
    return margins


# --------------------------------------------------------------------------- step_decay
step_decay = ScheduleExercise(
    name="step_decay",
    points=1,
    reference=S.step_decay,
    torch_name="step_decay",
    torch_class="StepLR",
    cases=[
        ScheduleCase(dict(lr=0.1, step_size=4, gamma=0.5), steps=17),
        ScheduleCase(dict(lr=0.05, step_size=10), note=N_("the default gamma=0.1"), steps=35),
        ScheduleCase(dict(lr=1.0, step_size=1, gamma=0.9), note=N_("edge: step_size=1 decays every step"),
                     steps=8),
        ScheduleCase(dict(lr=0.2, step_size=7, gamma=0.3), steps=30),
    ],
    bounds=(Bound("the first decay, at step == step_size", _steps_from("step_size")),),
    hint_text=N_("""
        The LR is multiplied by gamma once per completed block of step_size steps, so the
        number of decays so far is the integer division step // step_size (floor, not round):
        return lr * gamma ** (step // step_size). Step 0 .. step_size-1 use lr itself.
    """),
    mistakes=[
        Mistake(lambda lr, step_size, gamma=0.1: lambda t: lr * gamma ** round(t / step_size),
                N_("Did you round step / step_size? Use floor division, step // step_size: the decay "
                "happens only when a block of step_size steps is complete.")),
        Mistake(lambda lr, step_size, gamma=0.1: lambda t: lr * gamma ** ((t + 1) // step_size),
                N_("Your schedule decays one step early: step 0 is the first step, so the first decay "
                "is at step == step_size. Use step // step_size.")),
        Mistake(lambda lr, step_size, gamma=0.1: lambda t: lr * gamma ** math.ceil(t / step_size),
                N_("Did you use ceil? The first step_size steps (0 .. step_size-1) keep lr; use step // step_size.")),
        Mistake(lambda lr, step_size, gamma=0.1: lambda t: lr * gamma ** (t / step_size),
                N_("Your schedule decays smoothly at every step (gamma ** (step / step_size)); step decay "
                "keeps the LR constant within a block: gamma ** (step // step_size).")),
        Mistake(lambda lr, step_size, gamma=0.1: lambda t: lr * gamma * (t // step_size) if t >= step_size else lr,
                N_("Did you multiply by gamma times the number of decays? Decays compound: gamma ** n.")),
    ],
)


# --------------------------------------------------------------------------- exponential
exponential = ScheduleExercise(
    name="exponential",
    points=1,
    reference=S.exponential,
    torch_name="exponential",
    torch_class="ExponentialLR",
    cases=[
        ScheduleCase(dict(lr=0.1, gamma=0.9), steps=20),
        ScheduleCase(dict(lr=1.0, gamma=0.5), steps=10),
        ScheduleCase(dict(lr=0.01, gamma=1.05), note=N_("gamma > 1 grows the LR (as an LR range test does)"),
                     steps=15),
    ],
    exempt={"bounds": "gamma ** step has no threshold: every step is alike"},
    hint_text=N_("""
        Every step multiplies the LR by gamma, and step 0 uses lr itself:
        return lr * gamma ** step.
    """),
    mistakes=[
        Mistake(lambda lr, gamma: lambda t: lr * gamma ** (t + 1),
                N_("Your schedule already decays at step 0; step 0 should use lr itself (gamma ** 0 = 1).")),
        Mistake(lambda lr, gamma: lambda t: lr * math.exp(-gamma * t),
                N_("Did you use exp(-gamma * step)? Here gamma is the factor per step: lr * gamma ** step.")),
        Mistake(lambda lr, gamma: lambda t: lr * (1 - gamma) ** t,
                N_("gamma is the factor the LR is multiplied by each step, not the fraction removed: "
                "lr * gamma ** step.")),
        Mistake(lambda lr, gamma: lambda t: lr * gamma * t if t else lr,
                N_("Did you multiply by gamma * step? Multiplying at every step compounds: gamma ** step.")),
    ],
)


# --------------------------------------------------------------------------- cosine
def _cos_factor(t: float, total: float) -> float:
    return (1 + math.cos(math.pi * t / total)) / 2


cosine = ScheduleExercise(
    name="cosine",
    points=2,
    reference=S.cosine,
    torch_name="cosine",
    torch_class="CosineAnnealingLR",
    cases=[
        ScheduleCase(dict(lr=0.1, total_steps=10), note=N_("the default min_lr=0.0"), steps=11),
        ScheduleCase(dict(lr=0.5, total_steps=20, min_lr=0.05), steps=21),
        ScheduleCase(dict(lr=0.3, total_steps=7, min_lr=0.1), note=N_("past total_steps the LR climbs back"),
                     steps=12),
        ScheduleCase(dict(lr=1.0, total_steps=1), note=N_("edge: total_steps=1"), steps=2),
    ],
    bounds=(Bound("the end of the half cosine, step == total_steps", _steps_from("total_steps")),),
    hint_text=N_("""
        The cosine factor (1 + cos(pi * step / total_steps)) / 2 goes from 1 at step 0 to 0 at
        step total_steps. Scale the *range* between lr and min_lr by it:
        min_lr + (lr - min_lr) * (1 + math.cos(math.pi * step / total_steps)) / 2.
        Past total_steps the same formula goes on, and the LR climbs back up, as torch's does.
    """),
    mistakes=[
        Mistake(lambda lr, total_steps, min_lr=0.0: lambda t: lr * _cos_factor(t, total_steps),
                N_("Your schedule ignores min_lr: it should end at min_lr, not at 0.")),
        Mistake(lambda lr, total_steps, min_lr=0.0: lambda t: min_lr + lr * _cos_factor(t, total_steps),
                N_("Your schedule starts at lr + min_lr: scale the range (lr - min_lr) by the cosine factor, "
                "then add min_lr.")),
        Mistake(lambda lr, total_steps, min_lr=0.0: lambda t: min_lr + (lr - min_lr) * _cos_factor(t, total_steps - 1),
                N_("Your schedule reaches min_lr at step total_steps - 1; divide by total_steps, so it "
                "reaches min_lr at step total_steps.")),
        Mistake(lambda lr, total_steps, min_lr=0.0: lambda t: min_lr + (lr - min_lr) * (1 + math.cos(math.pi * t / total_steps)),
                N_("Did you forget to halve (1 + cos(...))? Without / 2 the schedule starts at twice lr.")),
        Mistake(lambda lr, total_steps, min_lr=0.0: lambda t: min_lr + (lr - min_lr) * (1 + math.cos(t / total_steps)) / 2,
                N_("Did you forget pi? cos(pi * step / total_steps) goes from 1 to -1 over the run.")),
        Mistake(lambda lr, total_steps, min_lr=0.0: lambda t: min_lr + (lr - min_lr) * (1 - math.cos(math.pi * t / total_steps)) / 2,
                N_("Your schedule rises from min_lr to lr: use (1 + cos(...)) / 2, which starts at 1.")),
        Mistake(lambda lr, total_steps, min_lr=0.0: lambda t: min_lr + (lr - min_lr) * math.cos(math.pi * t / (2 * total_steps)),
                N_("Your schedule follows a quarter period of the cosine, cos(pi * step / (2 * total_steps)): it "
                "also goes from lr to min_lr, but falls slowly at first and steeply at the end. Cosine annealing "
                "uses half a period, (1 + cos(pi * step / total_steps)) / 2, flat at both ends.")),
        Mistake(lambda lr, total_steps, min_lr=0.0: lambda t: min_lr + (lr - min_lr) * _cos_factor(min(t, total_steps), total_steps),
                N_("Your schedule stays at min_lr after total_steps; torch's formula goes on and the LR climbs back "
                "up (section 3.3): use step itself, not min(step, total_steps).")),
    ],
)


# --------------------------------------------------------------------------- linear_warmup
def _warmup_mistake(frac: Callable[[int, int], float]) -> Callable:
    def factory(lr, warmup_steps, start_factor=1 / 3, end_factor=1.0):
        return lambda t: lr * (start_factor + (end_factor - start_factor) * frac(t, warmup_steps))
    return factory


linear_warmup = ScheduleExercise(
    name="linear_warmup",
    points=2,
    reference=S.linear_warmup,
    torch_name="linear_warmup",
    torch_class="LinearLR",
    cases=[
        ScheduleCase(dict(lr=0.3, warmup_steps=5), note=N_("the default factors 1/3 and 1"), steps=11),
        ScheduleCase(dict(lr=0.1, warmup_steps=4, start_factor=0.1), steps=9),
        ScheduleCase(dict(lr=1.0, warmup_steps=3, start_factor=0.5, end_factor=0.2),
                     note=N_("end_factor < start_factor: a linear decay"), steps=7),
        ScheduleCase(dict(lr=0.2, warmup_steps=1, start_factor=0.25), note=N_("edge: warmup_steps=1"), steps=4),
    ],
    bounds=(Bound("the end of the warmup, step == warmup_steps", _steps_from("warmup_steps")),),
    hint_text=N_("""
        The factor goes linearly from start_factor at step 0 to end_factor at step warmup_steps,
        then stays there. The fraction of the warmup done is min(step, warmup_steps) / warmup_steps:
        lr * (start_factor + (end_factor - start_factor) * min(step, warmup_steps) / warmup_steps).
    """),
    mistakes=[
        Mistake(_warmup_mistake(lambda t, w: min(t, w - 1) / (w - 1)),
                N_("Your warmup divides by warmup_steps - 1, so it reaches the end factor a step early: LinearLR "
                "moves by (end_factor - start_factor) / warmup_steps a step and gets there at step warmup_steps.")),
        Mistake(_warmup_mistake(lambda t, w: t / w),
                N_("Your LR keeps changing after warmup_steps; it should stay at end_factor * lr: "
                "use min(step, warmup_steps).")),
        Mistake(_warmup_mistake(lambda t, w: min(t + 1, w) / w),
                N_("Your warmup is one step ahead: step 0 should use start_factor * lr.")),
        Mistake(_warmup_mistake(lambda t, w: min(t, w - 1) / max(w - 1, 1)),
                N_("Your warmup reaches end_factor at step warmup_steps - 1; it should get there at step "
                "warmup_steps (divide by warmup_steps).")),
        Mistake(lambda lr, warmup_steps, start_factor=1 / 3, end_factor=1.0:
                lambda t: lr * end_factor * min(t, warmup_steps) / warmup_steps,
                N_("Your warmup starts at 0; it should start at start_factor * lr.")),
        Mistake(lambda lr, warmup_steps, start_factor=1 / 3, end_factor=1.0:
                lambda t: lr * start_factor + (end_factor - start_factor) * min(t, warmup_steps) / warmup_steps,
                N_("Multiply the whole factor by lr: lr * (start_factor + (end_factor - start_factor) * frac).")),
    ],
)


# --------------------------------------------------------------------------- warmup_cosine
def _local_cosine(lr, total, min_lr):
    return lambda t: min_lr + (lr - min_lr) * _cos_factor(t, total)


def _joined(first: Callable, second: Callable, boundary: int) -> Callable:
    return lambda t: first(t) if t < boundary else second(t - boundary)


warmup_cosine = ScheduleExercise(
    name="warmup_cosine",
    points=2,
    reference=S.warmup_cosine,
    torch_name="warmup_cosine",
    torch_class="SequentialLR([LinearLR, CosineAnnealingLR])",  # i18n: a torch class, not prose
    cases=[
        ScheduleCase(dict(lr=0.3, warmup_steps=3, total_steps=13), note=N_("the defaults start_factor=1/3, min_lr=0"),
                     steps=14),
        ScheduleCase(dict(lr=0.1, warmup_steps=5, total_steps=25, start_factor=0.1, min_lr=0.01), steps=26),
        ScheduleCase(dict(lr=1.0, warmup_steps=1, total_steps=4, start_factor=0.5, min_lr=0.2),
                     note=N_("edge: one warmup step; past total_steps the cosine climbs back"), steps=7),
    ],
    bounds=(Bound("the switch to the cosine, step == warmup_steps", _steps_from("warmup_steps")),
            Bound("the end of the cosine, step == total_steps", _steps_from("total_steps"))),
    hint_text=N_("""
        Compose the two schedules you wrote with schedules.join: the warmup runs for warmup_steps
        steps, then the cosine takes over and counts its own steps from 0, so it must last
        total_steps - warmup_steps steps:
        join([linear_warmup(lr, warmup_steps, start_factor), cosine(lr, total_steps - warmup_steps, min_lr)],
             [warmup_steps]).
    """),
    mistakes=[
        Mistake(lambda lr, warmup_steps, total_steps, start_factor=1 / 3, min_lr=0.0:
                _joined(S.linear_warmup(lr, warmup_steps, start_factor), _local_cosine(lr, total_steps, min_lr), warmup_steps),
                N_("Your cosine part lasts total_steps steps, so the run ends before the LR reaches min_lr: "
                "the cosine starts after the warmup and lasts total_steps - warmup_steps.")),
        Mistake(lambda lr, warmup_steps, total_steps, start_factor=1 / 3, min_lr=0.0:
                lambda t: (S.linear_warmup(lr, warmup_steps, start_factor)(t) if t < warmup_steps else
                           _local_cosine(lr, total_steps - warmup_steps, min_lr)(t)),
                N_("Your cosine part sees the global step, so it starts part-way down; join gives each piece "
                "a local step count that starts at 0 at the boundary.")),
        Mistake(lambda lr, warmup_steps, total_steps, start_factor=1 / 3, min_lr=0.0:
                lambda t: (S.linear_warmup(lr, warmup_steps, start_factor)(t) if t < warmup_steps else
                           _local_cosine(lr, total_steps, min_lr)(t)),
                N_("Your cosine part sees the global step and lasts total_steps: give it a local step count "
                "(join does) and total_steps - warmup_steps steps.")),
        Mistake(lambda lr, warmup_steps, total_steps, start_factor=1 / 3, min_lr=0.0:
                _joined(S.linear_warmup(lr, warmup_steps, start_factor),
                        _local_cosine(lr, total_steps - warmup_steps, 0.0), warmup_steps),
                N_("Your schedule ignores min_lr: pass it to the cosine part.")),
        Mistake(lambda lr, warmup_steps, total_steps, start_factor=1 / 3, min_lr=0.0:
                _joined(S.linear_warmup(lr, warmup_steps, start_factor),
                        _local_cosine(lr, total_steps - warmup_steps - 1, min_lr), warmup_steps + 1),
                N_("Your boundary is one step late: the cosine takes over at step warmup_steps.")),
    ],
)


# --------------------------------------------------------------------------- cyclic
def _triangle(base_lr, max_lr, step_size, height: Callable[[int, int], float]):
    return lambda t: base_lr + (max_lr - base_lr) * height(t, step_size)


def _smith(t: int, s: int) -> float:
    cycle = math.floor(1 + t / (2 * s))
    return max(0.0, 1 - abs(t / s - 2 * cycle + 1))


cyclic = ScheduleExercise(
    name="cyclic",
    points=2,
    reference=lambda base_lr, max_lr, step_size: S.cyclic(base_lr, max_lr, step_size_up=step_size),
    torch_name="cyclic",
    torch_class="CyclicLR(mode='triangular')",
    library_params=lambda kw: dict(base_lr=kw["base_lr"], max_lr=kw["max_lr"], step_size_up=kw["step_size"]),
    cases=[
        ScheduleCase(dict(base_lr=0.01, max_lr=0.1, step_size=5), steps=31),
        ScheduleCase(dict(base_lr=0.0, max_lr=1.0, step_size=4), note=N_("base_lr=0"), steps=25),
        ScheduleCase(dict(base_lr=0.001, max_lr=0.006, step_size=1), note=N_("edge: step_size=1"), steps=8),
        ScheduleCase(dict(base_lr=0.05, max_lr=0.2, step_size=3), steps=20),
    ],
    bounds=(Bound("the top of the climb, step == step_size", _steps_from("step_size")),),
    hint_text=N_("""
        One cycle lasts 2 * step_size steps: step_size up from base_lr to max_lr, step_size down.
        Smith's formula: cycle = floor(1 + step / (2 * step_size)), x = abs(step / step_size - 2 * cycle + 1),
        lr = base_lr + (max_lr - base_lr) * max(0, 1 - x).
    """),
    mistakes=[
        Mistake(lambda base_lr, max_lr, step_size: _triangle(
                    base_lr, max_lr, step_size,
                    lambda t, s: max(0.0, 1 - abs(t / s - 2 * math.floor(1 + t / s) + 1))),
                N_("A cycle lasts 2 * step_size steps (up, then down): cycle = floor(1 + t / (2 * step_size)); "
                "floor(1 + t / step_size) starts a new cycle halfway.")),
        Mistake(lambda base_lr, max_lr, step_size: _triangle(base_lr, max_lr, step_size,
                                                             lambda t, s: _smith(t, s / 2)),
                N_("Your cycle is step_size steps long; step_size is the length of *half* a cycle "
                "(the climb), so a cycle lasts 2 * step_size steps.")),
        Mistake(lambda base_lr, max_lr, step_size: _triangle(base_lr, max_lr, step_size,
                                                             lambda t, s: 1 - _smith(t, s)),
                N_("Your schedule starts at max_lr; a triangular cycle starts at base_lr and climbs.")),
        Mistake(lambda base_lr, max_lr, step_size: _triangle(base_lr, max_lr, step_size,
                                                             lambda t, s: (t % s) / s),
                N_("Your schedule is a sawtooth (it jumps back to base_lr); the triangle climbs for step_size "
                "steps, then descends for step_size steps.")),
        Mistake(lambda base_lr, max_lr, step_size: _triangle(
                    base_lr, max_lr, step_size,
                    lambda t, s: max(0.0, 1 - abs(t / s - 2 * round(1 + t / (2 * s)) + 1))),
                N_("Did you round the cycle number? Use floor: cycle = floor(1 + step / (2 * step_size)).")),
        Mistake(lambda base_lr, max_lr, step_size: _triangle(
                    base_lr, max_lr, step_size,
                    lambda t, s: max(0.0, 1 - abs(t / s - 2 * math.floor(1 + t / 2 * s) + 1))),
                N_("Check the parentheses: step / 2 * step_size is (step / 2) * step_size; you need "
                "step / (2 * step_size).")),
        Mistake(lambda base_lr, max_lr, step_size: _triangle(
                    base_lr, max_lr, step_size,
                    lambda t, s: max(0.0, 1 - abs(t / s - 2 * math.floor(t / (2 * s)) + 1))),
                N_("Your LR stays at base_lr at every step: max(0, 1 - x) is 0 throughout. The usual cause is a "
                "cycle number without the 1 +: with cycle = floor(step / (2 * step_size)), x = |step / step_size - "
                "2 * cycle + 1| is never below 1. Use cycle = floor(1 + step / (2 * step_size)).")),
        Mistake(lambda base_lr, max_lr, step_size: lambda t: max_lr * _smith(t, step_size),
                N_("Your schedule goes down to 0, not to base_lr: base_lr + (max_lr - base_lr) * max(0, 1 - x).")),
    ],
)

#: The exercises in notebook order.
EXERCISES = (step_decay, exponential, cosine, linear_warmup, warmup_cosine, cyclic)
