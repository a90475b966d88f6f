"""The machinery behind every exercise check (learntools style: an exercise is data).

An :class:`Exercise` holds the reference implementation, the cases a learner's
function is tried on, a hint, and a list of *known mistakes*: plausible wrong
implementations with the message that explains each. ``check(fn)`` calls the
learner's function on every case and

* prints one line with the points earned when every case is right;
* raises :class:`NotAttemptedError` (an ``AssertionError``) when the function
  still raises ``NotImplementedError``;
* otherwise raises ``AssertionError`` naming the input, the expected value,
  what the learner returned, the likely mistake when it matches a known one,
  and a pointer to ``hint()``.

Checks never write to stderr: warnings raised inside the learner's code are
silenced while it runs (nbgrader scores stderr output in a test cell as a
failure).
"""
from __future__ import annotations

import copy
import textwrap
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

__all__ = ["Case", "Exercise", "Mistake", "NotAttemptedError", "fmt", "compare_close", "compare_choice"]

#: Relative/absolute tolerance for numeric answers: tight enough to catch an
#: off-by-one step, loose enough for a different but correct order of operations.
RTOL = 1e-9
ATOL = 1e-12


class NotAttemptedError(AssertionError):
    """The learner's function still raises ``NotImplementedError``."""


@dataclass(frozen=True)
class Case:
    """One input for the learner's function: keyword arguments in signature order."""

    kwargs: dict
    note: str = ""  # what the case tests, shown when it fails (e.g. "edge: lr exactly 2/a")


@dataclass(frozen=True)
class Mistake:
    """A plausible wrong implementation and the message that explains it."""

    fn: Callable
    message: str


def _float(v: float, digits: int) -> str:
    text = f"{v:.{digits}g}"
    if text.lstrip("-").isdigit():
        text += ".0"  # 1.0 reads as a float, as Python prints it
    return text


def fmt(value: Any, digits: int = 6) -> str:
    """Short, stable text for a value shown in feedback (rounded floats, small arrays)."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return _float(float(value), digits)
    if isinstance(value, tuple):
        inner = ", ".join(fmt(v, digits) for v in value)
        return f"({inner}{',' if len(value) == 1 else ''})"
    if isinstance(value, list) and not all(isinstance(v, (int, float, np.number)) for v in value):
        return "[" + ", ".join(fmt(v, digits) for v in value) + "]"
    if isinstance(value, (list, np.ndarray)):
        try:
            arr = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            return textwrap.shorten(repr(value), 120)
        if arr.ndim == 0:
            return fmt(float(arr), digits)
        if arr.size > 8:
            return f"<array of shape {arr.shape}>"
        text = np.array2string(arr, separator=", ", max_line_width=10**6,
                               formatter={"float_kind": lambda v: _float(v, digits)})
        return text.replace("\n", "")
    if callable(value) and hasattr(value, "__name__"):
        return value.__name__
    return textwrap.shorten(repr(value), 120)


def compare_close(actual: Any, expected: Any, rtol: float = RTOL, atol: float = ATOL) -> str | None:
    """``None`` if ``actual`` equals ``expected`` numerically, else what is wrong."""
    try:
        a = np.asarray(actual, dtype=np.float64)
    except (TypeError, ValueError):
        return f"expected a number or an array of numbers, got {type(actual).__name__}"
    e = np.asarray(expected, dtype=np.float64)
    if a.shape != e.shape:
        return f"expected shape {e.shape}, got shape {a.shape}"
    if not np.allclose(a, e, rtol=rtol, atol=atol, equal_nan=True):
        return ""
    return None


def compare_choice(choices: Sequence[str]) -> Callable[[Any, Any], str | None]:
    """A comparator for answers that are one of a few strings."""
    listed = ", ".join(map(repr, choices))

    def compare(actual: Any, expected: Any) -> str | None:
        if not isinstance(actual, str):
            return f"return one of {listed}"
        if actual not in choices:
            return f"{actual!r} is not one of {listed}"
        return None if actual == expected else ""

    return compare


def _silenced(fn: Callable, args: Sequence) -> Any:
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return fn(*args)


def _inputs_changed(before: Sequence, after: Sequence) -> list[int]:
    changed = []
    for i, (b, a) in enumerate(zip(before, after, strict=True)):
        if isinstance(b, np.ndarray) and (b.shape != a.shape or not np.array_equal(a, b, equal_nan=True)):
            changed.append(i)
    return changed


@dataclass
class Exercise:
    """A graded exercise: ``check(fn)`` for feedback, ``hint()`` when stuck.

    ``reference`` has the learner's signature; ``cases`` are the inputs tried;
    ``compare(actual, expected)`` returns ``None`` when they match, else a
    (possibly empty) explanation; ``mistakes`` are recognised wrong answers.
    """

    name: str
    points: int
    reference: Callable
    cases: Sequence[Case]
    hint_text: str
    compare: Callable[[Any, Any], str | None] = compare_close
    mistakes: Sequence[Mistake] = field(default_factory=tuple)
    module_alias: str = "ex"

    def hint(self) -> None:
        """Print a hint for this exercise."""
        print(f"Hint for {self.name}: {textwrap.dedent(self.hint_text).strip()}")

    def _call_text(self, case: Case) -> str:
        args = ", ".join(f"{k}={fmt(v)}" for k, v in case.kwargs.items())
        return f"{self.name}({args})"

    def _diagnose(self, case: Case, actual: Any) -> str:
        for mistake in self.mistakes:
            try:
                wrong = _silenced(mistake.fn, copy.deepcopy(list(case.kwargs.values())))
            except Exception:  # a mistake that crashes on this case says nothing about it
                continue
            try:
                if self.compare(actual, wrong) is None:
                    return " " + mistake.message
            except Exception:
                continue
        return ""

    def _hint_ref(self) -> str:
        return f"Call {self.module_alias}.{self.name}.hint() for a hint."

    def expected(self, case: Case) -> Any:
        """The right answer for ``case``."""
        return self.reference(*copy.deepcopy(list(case.kwargs.values())))

    def describe(self, value: Any) -> str:
        """How an expected value reads in feedback."""
        return fmt(value)

    def _not_attempted(self) -> NotAttemptedError:
        return NotAttemptedError(
            f"{self.name} is not attempted yet: replace `raise NotImplementedError()` "
            f"in its cell (or in an exercise it uses) with your code, run that cell, then run this one again."
        )

    def _call(self, fn: Callable, case: Case, expected: Any) -> Any:
        """Call the learner's function on ``case``; turn a stub, a crash or a mutation into feedback."""
        __tracebackhide__ = True
        args = copy.deepcopy(list(case.kwargs.values()))
        before = copy.deepcopy(args)
        call = self._call_text(case)
        try:
            actual = _silenced(fn, args)
        except NotImplementedError:
            raise self._not_attempted() from None
        except Exception as err:
            raise AssertionError(
                f"{call} raised {type(err).__name__}: {err}; expected {self.describe(expected)}. "
                f"{self._hint_ref()}"
            ) from err
        changed = _inputs_changed(before, args)
        if changed:
            names = ", ".join(list(case.kwargs)[i] for i in changed)
            raise AssertionError(
                f"{call} changed its input {names} in place. Return a new value instead "
                f"of modifying the arguments (e.g. `x - lr * grad`, not `x -= lr * grad`). {self._hint_ref()}"
            )
        return actual

    def _expected_source(self) -> str:
        """Where the expected value comes from, when feedback should say so (e.g. ", what torch gives")."""
        return ""

    def _verify(self, case: Case, actual: Any, expected: Any) -> None:
        """Raise ``AssertionError`` with feedback unless ``actual`` matches ``expected``."""
        __tracebackhide__ = True
        try:
            problem = self.compare(actual, expected)
        except Exception as err:  # a comparator must never crash on odd learner output
            problem = f"could not compare the result ({type(err).__name__}: {err})"
        if problem is not None:
            detail = f" ({problem})" if problem else ""
            note = f" [{case.note}]" if case.note else ""
            raise AssertionError(
                f"{self._call_text(case)}{note} returned {fmt(actual)}; expected {fmt(expected)}"
                f"{self._expected_source()}{detail}."
                f"{self._diagnose(case, actual)} {self._hint_ref()}"
            )

    def _require_callable(self, fn: Any) -> None:
        __tracebackhide__ = True
        if not callable(fn):
            raise AssertionError(
                f"check expected your function {self.name}, got {fmt(fn)} "
                f"({type(fn).__name__}). Pass the function itself: "
                f"{self.module_alias}.{self.name}.check({self.name})"
            )

    def _passed(self, num_cases: int) -> None:
        unit = "point" if self.points == 1 else "points"
        print(f"✓ {self.name}: all {num_cases} cases pass ({self.points}/{self.points} {unit})")

    def check(self, fn: Callable) -> None:
        """Run ``fn`` on every case; print the points on success, raise ``AssertionError`` otherwise."""
        __tracebackhide__ = True  # keep the learner's traceback short (IPython, pytest)
        self._require_callable(fn)
        for case in self.cases:
            expected = self.expected(case)
            actual = self._call(fn, case, expected)
            self._verify(case, actual, expected)
        self._passed(len(self.cases))

    def __repr__(self) -> str:
        return f"<exercise {self.name}: {self.points} point(s), {len(self.cases)} cases>"
