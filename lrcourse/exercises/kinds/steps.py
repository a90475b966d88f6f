"""One optimizer step, as a pure function of the parameters, the gradient and the state, checked against
``torch.optim`` step after step, each step fed the state the learner's previous step returned."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ...i18n import gettext_ as _
from .._core import CRASHED, Case, CheckRun, Exercise, compare_close, fmt_pair

__all__ = ["StepCase", "StepExercise"]


@dataclass(frozen=True)
class StepCase(Case):
    """A run of several steps: ``kwargs`` are the first call's arguments, ``grads`` the later gradients."""

    grads: tuple = ()


@dataclass
class StepExercise(Exercise):
    """An exercise whose answer is one optimizer step, checked against ``torch.optim`` step by step.

    ``state`` pairs each state argument of the learner's function with the key
    under which ``torch_class`` keeps it (``("buf", "momentum_buffer")``);
    ``torch_args`` maps the first call's arguments to the torch constructor's;
    ``counter`` names the argument holding the step number (1 on the first step).
    """

    torch_class: str = ""
    torch_args: Callable[[dict], dict] = dict
    state: tuple = ()
    counter: str | None = None

    def __post_init__(self) -> None:
        self.compare = self._compare_step

    @property
    def outputs(self) -> tuple[str, ...]:
        """The names of the returned values, in order."""
        return ("params",) + tuple(name for name, _ in self.state)

    def _compare_step(self, actual: Any, expected: Any) -> str | None:
        names = ", ".join(f"new_{n}" for n in self.outputs)
        if not isinstance(actual, (tuple, list)) or len(actual) != len(self.outputs):
            return _("return the tuple ({names})").format(names=names)
        wrong = [(name, a, e, compare_close(a, e)) for name, a, e in zip(self.outputs, actual, expected, strict=True)]
        wrong = [w for w in wrong if w[3] is not None]
        if not wrong:
            return None
        name, a, e, problem = wrong[0]
        mine, theirs = fmt_pair(a, e)
        text = _("your new_{name} is {actual}, torch's is {expected}").format(name=name, actual=mine, expected=theirs) \
            + (f": {problem}" if problem else "")
        if len(wrong) > 1:
            others = [f"new_{w[0]} ({' vs '.join(fmt_pair(w[1], w[2]))})" for w in wrong[1:]]
            many = _("; your {names} differ too") if len(others) > 1 else _("; your {names} differs too")
            text += many.format(names=_(" and ").join(others))
        return text

    def expected(self, case: StepCase) -> list[tuple]:
        """``(params, *state)`` after each step of the real torch optimizer."""
        import torch

        p = torch.tensor(np.asarray(case.kwargs["params"], dtype=np.float64), requires_grad=True)
        opt = getattr(torch.optim, self.torch_class)([p], **self.torch_args(case.kwargs))
        found = []
        for g in (case.kwargs["grad"], *case.grads):
            p.grad = torch.tensor(np.asarray(g, dtype=np.float64))
            opt.step()
            state = opt.state[p]
            found.append((p.detach().numpy().copy(),
                          *(state[key].detach().numpy().copy() for _, key in self.state)))
        return found

    def _answer(self, fn: Callable, case: StepCase, call: Callable) -> Any:
        """Every step's outputs, each step fed the state ``fn`` returned the step before."""
        kwargs, found = dict(case.kwargs), []
        try:
            for k, grad in enumerate((case.kwargs["grad"], *case.grads), start=1):
                kwargs["grad"] = grad
                if self.counter:
                    kwargs[self.counter] = k
                out = call(fn, list(kwargs.values()))
                found.append(tuple(np.array(v, dtype=np.float64) for v in out))
                kwargs["params"] = found[-1][0]
                for (name, _), value in zip(self.state, found[-1][1:], strict=True):
                    kwargs[name] = value
        except Exception:
            return CRASHED
        return found

    def _same_answer(self, mine: Any, theirs: Any) -> bool:
        return len(mine) == len(theirs) and all(
            len(a) == len(b) and all(compare_close(x, y) is None for x, y in zip(a, b, strict=True))
            for a, b in zip(mine, theirs, strict=True))

    def _check(self, run: CheckRun) -> None:
        """Run the learner's function step after step on every case; print the points, or raise ``AssertionError``."""
        __tracebackhide__ = True
        for case in run.cases:
            grads = (case.kwargs["grad"], *case.grads)
            kwargs = dict(case.kwargs)
            for k, (grad, want) in enumerate(zip(grads, self.expected(case), strict=True), start=1):
                kwargs["grad"] = grad
                if self.counter:
                    kwargs[self.counter] = k
                where = _("step {step} of {steps}, state from your previous step") if k > 1 else \
                    _("step 1 of {steps}")
                where = where.format(step=k, steps=len(grads))
                step_case = Case(dict(kwargs), note=f"{where}{'; ' + _(case.note) if case.note else ''}")
                actual = self._call(run, run.fn, step_case, want)
                self._verify(run, step_case, actual, want)
                kwargs["params"] = np.array(actual[0], dtype=np.float64)
                for (name, _key), value in zip(self.state, actual[1:], strict=True):
                    kwargs[name] = np.array(value, dtype=np.float64)
        self._passed(run, len(run.cases))

    def _expected_source(self) -> str:
        return _(", what torch.optim.{torch} gives").format(torch=self.torch_class)
