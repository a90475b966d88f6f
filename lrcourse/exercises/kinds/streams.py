"""Answers with few possible values (a table of True/False, an epoch), a class stepped through a stream of
metrics epoch by epoch, and an answer judged by the goals it meets."""
from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ...i18n import N_, gettext_ as _
from .._core import CRASHED, Case, CheckRun, Exercise, compare_close, fmt, fmt_pair, holds_graph

__all__ = ["TableExercise", "StreamCase", "StreamExercise", "GoalExercise"]

_MISSING = object()


def _same(a: Any, b: Any) -> bool:
    """Equal answers (floats to the checks' tolerance, NaN equal to NaN)."""
    if a is _MISSING or b is _MISSING or a is None or b is None:
        return a is b
    if isinstance(a, (bool, np.bool_)) or isinstance(b, (bool, np.bool_)):
        return isinstance(a, (bool, np.bool_)) and isinstance(b, (bool, np.bool_)) and bool(a) == bool(b)
    try:
        return compare_close(a, b) is None
    except (TypeError, ValueError):
        return False


@dataclass
class TableExercise(Exercise):
    """An exercise whose answers take few values (True/False, an epoch): a known mistake is
    recognised by its answers on *all* cases, not on the failing one alone."""

    def _call_text(self, case: Case) -> str:
        def show(v: Any) -> str:
            if isinstance(v, list) and len(v) <= 16:
                return "[" + ", ".join(fmt(x, 5) for x in v) + "]"
            return fmt(v)
        return f"{self.name}({', '.join(f'{k}={show(v)}' for k, v in case.kwargs.items())})"

    def _same_answer(self, mine: Any, theirs: Any) -> bool:
        return _same(mine, theirs)


@dataclass(frozen=True)
class StreamCase(Case):
    """Build the object with ``kwargs``, then call ``step(metric)`` once per metric."""

    metrics: tuple = ()


@dataclass
class StreamExercise(Exercise):
    """An exercise whose answer is a class with ``step(metric)``, checked epoch by epoch.

    ``reference(**kwargs)`` builds the object that gives the expected answers;
    ``attributes`` are compared after every step as well as the returned value;
    ``returns`` says what ``step`` returns, ``source`` where the answers come from.
    """

    attributes: tuple = ()
    returns: str = ""
    source: str = N_("the reference")

    def _call_text(self, case: Case) -> str:
        args = ", ".join(f"{k}={fmt(v)}" for k, v in case.kwargs.items())
        return f"{self.name}({args})"

    def _answer(self, cls: Any, case: StreamCase, call: Callable) -> Any:
        """The returned values and attributes after every epoch of ``case``."""
        try:
            obj = call(lambda kwargs: cls(**kwargs), [copy.deepcopy(case.kwargs)])
            found = []
            for metric in case.metrics:
                out = call(obj.step, [metric])
                found.append((out, *(getattr(obj, a, _MISSING) for a in self.attributes)))
            return found
        except Exception:
            return CRASHED

    def _same_answer(self, mine: Any, theirs: Any) -> bool:
        return len(mine) == len(theirs) and all(_same(a, b) for m, t in zip(mine, theirs, strict=True)
                                                for a, b in zip(m, t, strict=True))

    def expected(self, case: StreamCase) -> list:
        """The reference's returned value and attributes after every epoch of ``case``."""
        ref = self.reference(**copy.deepcopy(case.kwargs))
        return [(ref.step(m), *(getattr(ref, a) for a in self.attributes)) for m in case.metrics]

    def _so_far(self, case: StreamCase, epoch: int) -> str:
        shown = case.metrics[:epoch]
        text = ", ".join(fmt(m, 4) for m in shown[-8:])
        return (_("metrics ") if len(shown) <= 8 else _("metrics (epochs {first}-{last}) ...").format(
            first=epoch - 7, last=epoch)) + text

    def _check(self, run: CheckRun) -> None:
        """Build the learner's class for every case and step it through the case's metrics."""
        __tracebackhide__ = True
        cls = run.fn
        for case in run.cases:
            call = self._call_text(case)
            note = self._label(run, case)
            try:
                obj = run.learner(lambda kwargs: cls(**kwargs), [copy.deepcopy(case.kwargs)])
            except NotImplementedError:
                raise self._not_attempted() from None
            except Exception as err:
                raise AssertionError(_("{call} raised {error}: {message}. {hint}").format(
                    call=call, error=type(err).__name__, message=err, hint=self._hint_ref())) from err
            ref = self.reference(**copy.deepcopy(case.kwargs))
            history = []
            for epoch, metric in enumerate(case.metrics, start=1):
                want = (ref.step(metric), *(getattr(ref, a) for a in self.attributes))
                try:
                    out = run.learner(obj.step, [metric])
                except NotImplementedError:
                    raise self._not_attempted() from None
                except Exception as err:
                    raise AssertionError(_(
                        "{call}{note}: step({metric}) at epoch {epoch} raised {error}: {message}; expected {expected}. "
                        "{hint}").format(call=call, note=note, metric=fmt(metric), epoch=epoch, error=type(err).__name__,
                                         message=err, expected=fmt(want[0]), hint=self._hint_ref())) from err
                got = (out, *(getattr(obj, a, _MISSING) for a in self.attributes))
                history.append(got)
                problem = self._compare_epoch(got, want)
                if problem is not None:
                    raise AssertionError(_("{call}{note}, {so_far}: at epoch {epoch} (metric {metric}) {problem}.").format(
                        call=call, note=note, so_far=self._so_far(case, epoch), epoch=epoch, metric=fmt(metric, 4),
                        problem=problem) + f"{self._diagnose(run)} {self._hint_ref()}")
        self._passed(run, len(run.cases))

    def _compare_epoch(self, got: tuple, want: tuple) -> str | None:
        out, expected = got[0], want[0]
        detail = self.compare(out, expected)
        if detail is not None:
            extra = f" ({detail})" if detail else ""
            state = self._state_text(got, want)
            return _("step returned {actual}; expected {expected}, what {source} gives{extra}{state}").format(
                actual=fmt(out), expected=fmt(expected), source=_(self.source), extra=extra, state=state)
        for name, mine, theirs in zip(self.attributes, got[1:], want[1:], strict=True):
            if mine is _MISSING:
                return _("your object has no attribute {name}; expected {expected}, what {source} has: keep it as "
                         "self.{attribute}").format(name=repr(name), expected=fmt(theirs), source=_(self.source),
                                                    attribute=name)
            if not _same(mine, theirs):
                mine_text, theirs_text = fmt_pair(mine, theirs)
                return _("step returned {value} as expected, but {name} is {actual}; expected {expected}, what "
                         "{source} has").format(value=fmt(out), name=name, actual=mine_text, expected=theirs_text,
                                                source=_(self.source))
        return None

    def _state_text(self, got: tuple, want: tuple) -> str:
        parts = [_("{name}: yours {actual}, expected {expected}").format(name=name, actual=fmt_pair(m, t)[0],
                                                                         expected=fmt_pair(m, t)[1])
                 for name, m, t in zip(self.attributes, got[1:], want[1:], strict=True) if not _same(m, t)]
        return f" [{'; '.join(parts)}]" if parts else ""


@dataclass
class GoalExercise(Exercise):
    """Any answer that meets the goals passes; feedback lists each goal missed."""

    def _verify(self, run: CheckRun, case: Case, actual: Any, expected: Any) -> None:
        __tracebackhide__ = True
        problem = holds_graph(actual) or self.compare(actual, expected)
        if problem is not None and isinstance(actual, tuple) and not holds_graph(actual) and any(
                self.compare(order, expected) is None for order in itertools.permutations(actual)):
            problem = _("it holds values that meet the goals, in another order: return them in the order the "
                        "docstring gives")
        if problem is not None:
            raise AssertionError(_(
                "{call} returned {actual}, which misses the goals: {problem}; the expected answer meets all three."
            ).format(call=self._call_text(case), actual=fmt(actual), problem=problem)
                + f"{self._diagnose(run, case, actual)} {self._hint_ref()}")

    def _same_answer(self, mine: Any, theirs: Any) -> bool:
        return _same(mine, theirs)
