"""A schedule factory: the learner's function returns ``step -> lr``, checked against torch's schedulers (or a
library schedule torch does not have) step by step, then asked out of order to prove it pure."""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from ... import schedules as S
from ...i18n import gettext_ as _
from .._core import CRASHED, Case, CheckRun, Exercise, compare_close, fmt, fmt_pair, holds_graph

__all__ = ["ScheduleCase", "ScheduleExercise"]


def _as_number(value: Any) -> float | None:
    """``value`` as a float if it is a real number (Python, NumPy or a one-element tensor), else None."""
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, numbers.Real):
        return float(value)
    if hasattr(value, "shape") and hasattr(value, "dtype") and math.prod(value.shape) == 1:
        try:  # a NumPy array or torch tensor holding one number
            item = value.reshape(-1)[0].item()
        except (AttributeError, TypeError, ValueError, RuntimeError):
            return None
        return _as_number(item)
    return None


@dataclass(frozen=True)
class ScheduleCase(Case):
    """A case for a schedule factory: its arguments and how many steps to compare."""

    steps: int = 20


@dataclass
class ScheduleExercise(Exercise):
    """An exercise whose answer is a schedule factory, checked against torch step by step.

    ``torch_name`` names the :data:`lrcourse.schedules.FACTORIES` entry whose torch
    counterpart (``torch_class``) gives the expected LRs; ``library_params`` maps the
    learner's arguments to that factory's.
    """

    torch_name: str = ""
    torch_class: str = ""
    library_params: Callable[[dict], dict] = dict
    #: For a schedule torch does not have (WSD): the library function whose LRs are expected, named in feedback.
    library_source: str = ""

    def expected(self, case: ScheduleCase) -> np.ndarray:
        if not self.torch_name:
            return S.evaluate(self.reference(**case.kwargs), case.steps)
        return S.torch_lrs(self.torch_name, case.steps, **self.library_params(case.kwargs))

    def describe(self, value: Any) -> str:
        return _("a schedule (a function step -> lr) starting {values}").format(values=fmt(list(np.round(value[:3], 10))))

    def _values(self, run: CheckRun, schedule: Callable, case: ScheduleCase,
                order: Sequence[int] | None = None) -> list[float]:
        """The learner's LRs at steps 0 .. steps-1 (or at ``order``), or feedback on why there are none."""
        __tracebackhide__ = True
        call = self._call_text(case)
        values = []
        for t in (range(case.steps) if order is None else order):
            try:
                value = run.learner(schedule, [t])
            except NotImplementedError:
                raise self._not_attempted() from None
            except Exception as err:
                raise AssertionError(_("The schedule returned by {call} raised {error} at step {step}: {message}. {hint}").format(
                    call=call, error=type(err).__name__, step=t, message=err, hint=self._hint_ref())) from err
            if holds_graph(value):
                raise AssertionError(_("The schedule returned by {call} gives {value} at step {step}: {problem}. "
                                       "{hint}").format(call=call, value=fmt(value), step=t, problem=holds_graph(value),
                                                        hint=self._hint_ref()))
            number = _as_number(value)
            if number is None:
                raise AssertionError(_(
                    "The schedule returned by {call} returned {value} ({type}) at step {step}; expected a number, "
                    "the learning rate. {hint}").format(call=call, value=fmt(value), type=type(value).__name__, step=t,
                                                        hint=self._hint_ref()))
            values.append(number)
        return values

    def _answer(self, fn: Callable, case: ScheduleCase, call: Callable) -> Any:
        try:
            schedule = call(fn, list(case.kwargs.values()))
            return np.array([float(call(schedule, [t])) for t in range(case.steps)])
        except Exception:
            return CRASHED

    def _same_answer(self, mine: Any, theirs: Any) -> bool:
        return compare_close(mine, theirs) is None

    def _check_pure(self, run: CheckRun, schedule: Callable, case: ScheduleCase, values: list[float]) -> None:
        """Ask for every step again, last first, then each step twice: a pure schedule gives the same LRs."""
        __tracebackhide__ = True
        steps = case.steps
        order = list(range(steps - 1, -1, -1)) + [t for t in (0, steps // 2, steps - 1) for _twice in range(2)]
        again = self._values(run, schedule, case, order)
        for i, (t, value) in enumerate(zip(order, again, strict=True)):
            if compare_close(value, values[t]) is not None:
                before = _("right after step {step}").format(step=order[i - 1]) if i else _("first")
                first, later = fmt_pair(values[t], value)
                raise AssertionError(_(
                    "The schedule returned by {call} gives {first} at step {step} when the steps "
                    "are asked in order 0, 1, 2, ..., but {later} when step {step} is asked again ({before}): it "
                    "keeps state between calls (a counter, a running product, a cached value). A schedule must "
                    "be a pure function of step: compute the LR from step and the factory's arguments alone, "
                    "so that any step can be asked at any time (to plot it, or to resume a run). {hint}").format(
                    call=self._call_text(case), first=first, step=t, later=later, before=before,
                    hint=self._hint_ref()))

    def _verify(self, run: CheckRun, case: ScheduleCase, actual: Any, expected: np.ndarray) -> None:
        __tracebackhide__ = True
        call = self._call_text(case)
        if not callable(actual):
            raise AssertionError(_(
                "{call} returned {value} ({type}); it should return a schedule, a function of the step: define "
                "`def schedule(step): ...` inside {name} and `return schedule`. {hint}").format(
                call=call, value=fmt(actual), type=type(actual).__name__, name=self.name, hint=self._hint_ref()))
        values = self._values(run, actual, case)
        for t, (value, want) in enumerate(zip(values, expected, strict=True)):
            if compare_close(value, want) is not None:
                note = self._label(run, case)
                mine, theirs = fmt_pair(value, want)
                if self.torch_class:
                    text = _("{call}{note}: at step {step} your schedule gives {actual}; expected {expected}, "
                             "the LR torch's {torch} sets.")
                else:
                    text = _("{call}{note}: at step {step} your schedule gives {actual}; expected {expected}, "
                             "the LR of {source}.")
                raise AssertionError(text.format(call=call, note=note, step=t, actual=mine, expected=theirs,
                                                 torch=self.torch_class, source=self.library_source)
                                     + f"{self._diagnose(run, case, values, expected)} {self._hint_ref()}")
        self._check_pure(run, actual, case, values)
