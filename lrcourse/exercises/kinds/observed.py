"""Answers about torch objects, checked by what the learner's function did to fresh ones: which parameters
train, which group has which LR, what every group's LR is at every step, in which order a training loop called
its tools. A known mistake is recognised by equal observations."""
from __future__ import annotations

import copy
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Sequence

import numpy as np

from ...i18n import N_, gettext_ as _
from .._core import CRASHED, Case, CheckRun, Exercise, fmt

__all__ = ["ModelCase", "ObservedExercise", "SchedulerCase", "SchedulerExercise", "LoopCase", "LoopExercise"]

#: How feedback names each architecture, with its article.
_WITH_ARTICLE = {"small ResNet": N_("a small ResNet"), "deeper, narrower small ResNet": N_("a deeper, narrower small ResNet"),  # i18n: a key
                 "ResNet-18": N_("a ResNet-18")}


#: The reference's observations, by (reference, observer, case, language): the most recent _OBSERVED_KEPT.
_OBSERVED: OrderedDict = OrderedDict()
_OBSERVED_KEPT = 256


@dataclass(frozen=True)
class ModelCase(Case):
    """Build the ``arch`` model from ``seed`` (all frozen if ``frozen``, in eval mode if ``eval_mode``), then call
    with ``kwargs``."""

    seed: int = 0
    frozen: bool = False
    arch: str = "small ResNet"
    eval_mode: bool = False


@dataclass
class ObservedExercise(Exercise):
    """An exercise checked by what the learner's function did to fresh torch objects.

    ``observe(fn, case)`` runs ``fn`` and returns a dict of observations (or
    raises); ``problems(seen, expected)`` lists what differs, first problem
    first. Known mistakes are recognised by equal observations.
    """

    probe_arguments: ClassVar[bool] = False  # every answer is a run on fresh torch objects: not repeated to probe

    observe: Callable = None  # type: ignore[assignment]
    problems: Callable = None  # type: ignore[assignment]
    #: Values a case's note names in braces (``{target}``), filled in when feedback quotes the note.
    note_values: dict = field(default_factory=dict)

    def _call_text(self, case: Case) -> str:
        arch = getattr(case, "arch", "small ResNet")
        frozen = _(", all frozen") if getattr(case, "frozen", False) else ""
        shown = [f"model=<{_(_WITH_ARTICLE.get(arch, arch))}{frozen}>"]
        shown += [f"{k}={fmt(v)}" for k, v in case.kwargs.items()]
        return f"{self.name}({', '.join(shown)})"

    def _run(self, run: CheckRun, case: Case) -> dict:
        __tracebackhide__ = True
        fn = run.fn
        try:
            return run.learner(lambda: self.observe(fn, case), ())
        except NotImplementedError:
            raise self._not_attempted() from None
        except Exception as err:
            raise AssertionError(_("{call} raised {error}: {message}. {hint}").format(
                call=self._call_text(case), error=type(err).__name__, message=err, hint=self._hint_ref())) from err

    def expected(self, case: Case) -> dict:
        """What the reference does to fresh torch objects on ``case``.

        Remembered (a copy is returned): the reference is deterministic on a case, and its observations are small,
        but making them can mean training a model (``fine_tune``'s real run). A learner who runs a check again
        after a fix waits for their own function only.
        """
        from ...i18n import get_language

        key = (self.reference, self.observe, repr(case), get_language())  # the summary is in the language in use
        seen = _OBSERVED.pop(key, None)
        if seen is None:
            seen = self.observe(self.reference, case)
        _OBSERVED[key] = seen  # the most recent last
        while len(_OBSERVED) > _OBSERVED_KEPT:
            _OBSERVED.popitem(last=False)
        return copy.deepcopy(seen)

    def _check(self, run: CheckRun) -> None:
        __tracebackhide__ = True
        for case in run.cases:
            expected = self.expected(case)
            seen = self._run(run, case)
            found = self.problems(seen, expected)
            if found:
                note = f" [{self._note(case)}]" if case.note else ""
                raise AssertionError(_("{call}{note}: {problem}; expected {expected}.").format(
                    call=self._call_text(case), note=note, problem=found[0], expected=expected["summary"])
                    + f"{self._diagnose(run)} {self._hint_ref()}")
        self._passed(run, len(run.cases))

    def _note(self, case: Case) -> str:
        text = _(case.note)
        for name, value in self.note_values.items():
            text = text.replace("{" + name + "}", str(value))
        return text

    def _answer(self, fn: Callable, case: Case, call: Callable) -> Any:
        try:
            return call(lambda: self.observe(fn, case), ())
        except Exception:
            return CRASHED

    def _same_answer(self, mine: Any, theirs: Any) -> bool:
        return _same_observations(mine, theirs)

    def _diagnosis_cases(self, cases: Sequence[Case]) -> list:
        """The cases whose observations are cheap: a run measured for accuracy is not repeated per mistake."""
        return [c for c in cases if not getattr(c, "measure", False)]


def _same_observations(a: dict, b: dict) -> bool:
    """Equal observations (arrays to the checks' tolerance); the summaries and accuracies are not compared."""
    keys = set(a) | set(b)
    for key in keys - {"summary", "accuracy"}:
        x, y = a.get(key), b.get(key)
        if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
            if not (isinstance(x, np.ndarray) and isinstance(y, np.ndarray) and x.shape == y.shape
                    and np.allclose(x, y, rtol=1e-9, atol=1e-12)):
                return False
        elif x != y:
            return False
    return True


@dataclass(frozen=True)
class SchedulerCase(Case):
    """An optimizer (``optimizer``: "SGD" or "Adam") with one group per LR in ``lrs``; the scheduler is stepped
    ``total_steps + 5`` times."""

    lrs: tuple = (0.1,)
    optimizer: str = "SGD"


@dataclass
class SchedulerExercise(ObservedExercise):
    def _call_text(self, case: Case) -> str:
        kw = case.kwargs
        return _("{name}(optimizer=<{optimizer}, group lrs {lrs}>, warmup_steps={warmup}, total_steps={total})").format(
            name=self.name, optimizer=case.optimizer, lrs=fmt(list(case.lrs)), warmup=kw["warmup_steps"],
            total=kw["total_steps"])


@dataclass(frozen=True)
class LoopCase(Case):
    """Fine-tune ``model`` on the target task with ``shots`` images per class, with the named optimizer and schedule."""

    shots: int = 5
    epochs: int = 3
    measure: bool = False  # also evaluate on the held-out target images
    model: str = N_("pretrained small ResNet, new head")
    optimizer: str = "SGD"
    schedule: str = N_("warmup + cosine")
    eval_first: bool = False  # the model is handed over in eval mode (as after an evaluation): the loop must train it


@dataclass
class LoopExercise(ObservedExercise):
    """The structure is checked first (cheap); the accuracy last, on the case that measures it."""

    def _call_text(self, case: Case) -> str:
        return _("{name}(model=<{model}>, optimizer=<{optimizer}>, scheduler=<{schedule}>, batches=<{shots}-shot digits "
                 "5-9>, epochs={epochs})").format(name=self.name, optimizer=case.optimizer,
                                                  model=_(case.model) + (_(", in eval mode") if case.eval_first else ""),
                                                  schedule=_(case.schedule), shots=case.shots, epochs=case.epochs)
