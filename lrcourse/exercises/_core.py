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

A known mistake's message is given only when the learner's answers agree
with that mistake's on *every* case, so a message never describes an answer
it does not fit.

Checks never write to stderr (nbgrader scores stderr output in a test cell as
a failure), yet they never hide a warning either: warnings raised inside the
learner's code are recorded while it runs and, when the check fails, quoted at
the end of the feedback, where they usually name the bug.

Each exercise also *declares* what its cases cover (``bounds``) and which of
the course-wide properties do not apply to it (``exempt``, with the reason);
``tests/test_exercise_properties.py`` enforces the properties on every
exercise from these declarations.
"""
from __future__ import annotations

import copy
import dataclasses
import inspect
import math
import sys
import textwrap
import traceback
import types
import warnings
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar, Sequence

import numpy as np

from . import _causes, _record
from ..i18n import N_, gettext_ as _

__all__ = ["Bound", "Case", "Exercise", "Mistake", "NotAttemptedError", "PROPERTIES", "fmt", "fmt_pair",
           "compare_close", "compare_choice"]

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
class Bound:
    """A bound or threshold the exercise's text names, and where each case lands against it.

    ``margins(case)`` returns the signed distances ``value - bound`` that the
    case produces (one per step or epoch where the rule is applied; none when
    it does not apply). The cases must put one exactly on the bound (0) and
    one on each side, so a rule with ``>=`` for ``>`` cannot pass.
    """

    name: str
    margins: Callable[["Case"], Sequence[float]]


#: The properties every check enforces unless its exercise is exempt (``Exercise.exempt``).
PROPERTIES = {
    "arguments": "every argument takes two or more values, and every default is overridden in a case and used in one",
    "bounds": "each bound the text names has a case on it and one on each side",
    "arrays": "array arguments come in two or more shapes, one of them with two or more dimensions",
    "pure": "a returned function is evaluated out of order and twice",
    "loop order": "a training loop's optimizer and scheduler steps are checked in order, with the LR of each update",
    "warnings": "warnings raised by the learner's code are quoted in the feedback",
    "hidden": "when graded with a seed, the check also tries cases drawn at random from the input space",
    "matrices": "a matrix argument comes full-rank and non-symmetric in a case (a norm or decomposition taken the "
                "wrong way shows); a symmetric one, with eigenvalues a routine returns out of order",
}

#: Hidden cases a graded check draws per exercise (``lrcourse grade --seed``).
HIDDEN_CASES = 3


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


def _as_array(value: Any) -> Any:
    """A torch tensor as a NumPy array (so it prints and compares like one); anything else unchanged."""
    if type(value).__module__.startswith("torch") and hasattr(value, "detach"):
        try:
            return value.detach().cpu().numpy()
        except Exception:
            return value
    return value


def fmt(value: Any, digits: int = 6) -> str:
    """Short, stable text for a value shown in feedback (rounded floats, small arrays)."""
    value = _as_array(value)
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
            return _("<array of shape {shape}>").format(shape=arr.shape)
        text = np.array2string(arr, separator=", ", max_line_width=10**6,
                               formatter={"float_kind": lambda v: _float(v, digits)})
        return text.replace("\n", "")
    if callable(value) and hasattr(value, "__name__"):
        return _(value.__name__)  # a named input (e.g. "grad of x^2/2") reads in the learner's language
    return textwrap.shorten(repr(value), 120)


def fmt_pair(actual: Any, expected: Any) -> tuple[str, str]:
    """``fmt`` of both values, with as many digits as it takes for them to read differently."""
    for digits in (6, 9, 12, 17):
        pair = fmt(actual, digits), fmt(expected, digits)
        if pair[0] != pair[1]:
            return pair
    return pair


def dtype_note(actual: Any, expected: Any) -> str:
    """A sentence when ``actual`` holds numbers of a less precise type than ``expected``, else ''."""
    try:
        kind = np.asarray(_as_array(actual)).dtype
        wanted = np.asarray(expected).dtype
    except (TypeError, ValueError, RuntimeError):  # a pair, a ragged list, a tensor in a graph: no one dtype
        return ""
    if kind.kind == "f" and kind.itemsize < 8 and wanted.kind == "f" and wanted.itemsize >= 8:
        digits = round((np.finfo(kind).nmant + 1) * math.log10(2))
        return _("your result has dtype {dtype}, which keeps only about {digits} significant digits: keep "
                 "float64, NumPy's default, and do not convert with np.float32 or dtype=np.float32").format(
            dtype=kind.name, digits=digits)
    if kind.kind in "iub" and wanted.kind == "f":
        return _("your result has dtype {dtype}: whole numbers, where the answer has fractions").format(
            dtype=kind.name)
    return ""


def holds_graph(value: Any) -> str:
    """A sentence if ``value`` (or an item of a tuple, list or dict in it) is a torch tensor that requires grad,
    else '': a number kept as a tensor of the autograd graph keeps that whole graph in memory (a training loop
    that collects its losses so grows by a graph a batch), and NumPy cannot read it."""
    def find(v: Any, depth: int = 0) -> Any:
        if type(v).__module__.startswith("torch") and getattr(v, "requires_grad", False):
            return v
        items = v.values() if isinstance(v, dict) else v if isinstance(v, (list, tuple)) else ()
        for item in items if depth < 3 else ():
            found = find(item, depth + 1)
            if found is not None:
                return found
        return None

    tensor = find(value)
    if tensor is None:
        return ""
    return _("it returned a torch tensor that requires grad (shape {shape}), which keeps the whole graph that "
             "computed it in memory: return a number, tensor.item(), or an array, tensor.detach().numpy()").format(
        shape=tuple(tensor.shape))


def compare_close(actual: Any, expected: Any, rtol: float = RTOL, atol: float = ATOL) -> str | None:
    """``None`` if ``actual`` equals ``expected`` numerically, else what is wrong."""
    graph = holds_graph(actual)
    if graph:
        return graph
    try:
        a = np.asarray(actual, dtype=np.float64)
    except (TypeError, ValueError):
        return _("expected a number or an array of numbers, got {type}").format(type=type(actual).__name__)
    e = np.asarray(expected, dtype=np.float64)
    if a.shape != e.shape:
        return _("expected shape {expected}, got shape {actual}").format(expected=e.shape, actual=a.shape)
    if not np.allclose(a, e, rtol=rtol, atol=atol, equal_nan=True):
        return ""
    return None


def compare_choice(choices: Sequence[str]) -> Callable[[Any, Any], str | None]:
    """A comparator for answers that are one of a few strings."""
    listed = ", ".join(map(repr, choices))

    def compare(actual: Any, expected: Any) -> str | None:
        if not isinstance(actual, str):
            return _("return one of {choices}").format(choices=listed)
        if actual not in choices:
            return _("{answer} is not one of {choices}").format(answer=repr(actual), choices=listed)
        return None if actual == expected else ""

    return compare


def _silenced(fn: Callable, args: Sequence) -> Any:
    """Call *our* code (a reference, a known mistake) without a word on stderr."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return fn(*args)


#: What a learner's function gave on a case where it raised (no known mistake agrees with it).
CRASHED = object()
#: ``_diagnose``'s ``expected`` when the caller has no expected value to compare with.
_NOTHING = object()


class _Recorder:
    """Runs the learner's code with its warnings recorded (never printed), to quote them in feedback."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, fn: Callable, args: Sequence) -> Any:
        # NumPy's defaults, as in a notebook: overflow, division by zero and invalid values warn; underflow does not
        with warnings.catch_warnings(record=True) as caught, \
                np.errstate(divide="warn", over="warn", invalid="warn", under="ignore"):
            warnings.simplefilter("always")
            try:
                return fn(*args)
            finally:
                for w in caught:
                    text = f"{w.category.__name__}: {str(w.message).strip()}"
                    if text not in self.seen:
                        self.seen.append(text)

    def text(self) -> str:
        if not self.seen:
            return ""
        shown = "; ".join(textwrap.shorten(t, 300) for t in self.seen[:3])
        more = _(" (and {count} more)").format(count=len(self.seen) - 3) if len(self.seen) > 3 else ""
        return _("While your code ran, Python warned: {warnings}{more}.").format(warnings=shown, more=more)


@dataclass
class CheckRun:
    """The state of one call of :meth:`Exercise.check`: a check keeps nothing on its exercise, so two checks of one
    exercise can run at once (two threads, or a check that calls another).

    ``fn`` is the learner's function (or class); ``cases`` the cases being tried (the visible ones, then the
    hidden ones); ``recorder`` collects the warnings the learner's code raised; ``mine`` remembers the learner's
    answers on the diagnosis cases once :meth:`Exercise._diagnose` has computed them; ``quiet`` holds the
    success line back (the visible cases passed, the hidden ones are still to run); ``hidden`` is how many hidden
    cases passed, for that line.
    """

    fn: Any
    cases: Sequence[Case]
    recorder: _Recorder = field(default_factory=lambda: _Recorder())
    mine: list | None = None
    quiet: bool = False
    hidden: int = 0

    def learner(self, fn: Callable, args: Sequence) -> Any:
        """Call the learner's code (``fn``, or something it returned) with ``args``, recording its warnings."""
        return self.recorder(fn, args)

    def on(self, cases: Sequence[Case]) -> "CheckRun":
        """The same check on other cases (its own answers memo, the same recorder)."""
        return dataclasses.replace(self, cases=list(cases), mine=None)


def _inputs_changed(before: Sequence, after: Sequence) -> list[int]:
    changed = []
    for i, (b, a) in enumerate(zip(before, after, strict=True)):
        if isinstance(b, np.ndarray) and (b.shape != a.shape or not np.array_equal(a, b, equal_nan=True)):
            changed.append(i)
    return changed


_CHECKS_DIR = str(Path(__file__).resolve().parent)


def _learner_frames(err: BaseException) -> list[str]:
    """The traceback of ``err`` without the frames of the checks themselves, as text lines."""
    frames = [f for f in traceback.extract_tb(err.__traceback__)
              if not str(Path(f.filename).resolve()).startswith(_CHECKS_DIR)]
    if not frames:
        return []
    lines = [_("Traceback (most recent call last), your code's part:")]
    lines += "".join(traceback.format_list(frames)).rstrip("\n").splitlines()
    lines += "".join(traceback.format_exception_only(type(err), err)).rstrip("\n").splitlines()
    return lines + [""]


def _brief(err: AssertionError) -> AssertionError:
    """``err``, made to show in IPython as its message alone (no frames of the checks).

    IPython (and so Jupyter, nbclient and nbgrader) renders an exception through its
    ``_render_traceback_`` when it has one: the output is still an error, scored zero,
    but reads as the feedback. When the learner's own code raised, its frames come first.
    """
    def render() -> list[str]:
        cause = err.__cause__
        lines = _learner_frames(cause) if cause is not None and cause.__traceback__ is not None else []
        return lines + f"{type(err).__name__}: {err}".splitlines()

    err._render_traceback_ = render  # type: ignore[attr-defined]
    return err


def _draw_like(value: Any, rng: np.random.Generator) -> Any:
    """A random value of the same kind as ``value``, near it: the input space around a visible case.

    Numbers keep their sign and type (an ``int`` stays a whole number >= 1 when it was one, zeros stay
    zero); arrays keep their shape, dtype and signs (a constant array stays constant); an increasing list
    stays increasing; flags, strings and objects (a loss, a model) are kept.
    """
    if value is None or isinstance(value, (bool, np.bool_, str)) or callable(value):
        return value
    if isinstance(value, (int, np.integer)):
        v = int(value)
        return v if v == 0 else int(np.sign(v)) * max(1, int(round(abs(v) * rng.uniform(0.6, 1.7))))
    if isinstance(value, (float, np.floating)):
        return float(value) * float(rng.uniform(0.6, 1.6))
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        if value.size > 1 and np.all(value == value.flat[0]):
            return value * float(rng.uniform(0.5, 1.5))  # a constant array (a fresh state) stays constant
        return value * rng.uniform(0.5, 1.5, value.shape)
    if isinstance(value, (tuple, list)) and value and all(
            isinstance(v, (float, np.floating)) or (isinstance(v, np.ndarray) and v.dtype.kind == "f") for v in value):
        drawn = [_draw_like(v, rng) for v in value]
        if all(isinstance(v, (float, np.floating)) for v in value) and list(value) == sorted(value):
            drawn.sort()  # an increasing list (a grid of LRs) stays increasing
        return type(value)(drawn)
    if isinstance(value, tuple) and all(isinstance(v, (int, float, np.number)) for v in value):
        return tuple(_draw_like(v, rng) for v in value)
    return value


def _usable(expected: Any) -> bool:
    """Whether a drawn case's right answer is a plain, finite one (else the draw is outside the input space)."""
    try:
        arr = np.asarray(_as_array(expected), dtype=np.float64)
    except (TypeError, ValueError):
        return True  # not numbers (a class's stream, a choice): nothing to be finite
    return bool(np.all(np.isfinite(arr)))


def _varied(value: Any) -> Any:
    """Another value of an argument, to see whether an answer depends on it: a number or an array of numbers
    made 25 % larger (and moved off zero), a whole number one larger; None for anything else."""
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, (int, np.integer)):
        return int(value) + 1
    if isinstance(value, (float, np.floating)):
        return float(value) * 1.25 + (0.1 if value == 0 else 0.0)
    if isinstance(value, np.ndarray) and value.dtype.kind == "f" and value.size:
        return value * 1.25 + np.where(value == 0, 0.1, 0.0)
    return None


def _functions_of(fn: Any) -> set[str]:
    """The global names the code of ``fn`` (and of the functions and comprehensions defined in it) refers to."""
    names: set[str] = set()
    todo = [fn.__code__]
    while todo:
        code = todo.pop()
        names.update(code.co_names)
        todo.extend(c for c in code.co_consts if isinstance(c, types.CodeType))
    return names


def _calls(fn: types.FunctionType) -> list[str]:
    """The learner's functions ``fn`` calls, directly or through others of theirs: the names in its namespace
    (the notebook's) that hold a Python function defined there, found by following the code, nearest first."""
    namespace, found, todo = fn.__globals__, [], [fn]
    while todo:
        for name in sorted(_functions_of(todo.pop(0))):
            other = namespace.get(name)
            if isinstance(other, types.FunctionType) and other.__globals__ is namespace and name not in found \
                    and other is not fn:
                found.append(name)
                todo.append(other)
    return found


def _with(fn: types.FunctionType, replaced: dict[str, Callable]) -> types.FunctionType:
    """A copy of ``fn`` that sees the functions in ``replaced`` instead of the learner's, also from the learner's
    other functions it calls; the learner's namespace itself is left as it is."""
    namespace = dict(fn.__globals__, **replaced)
    for name, value in fn.__globals__.items():
        if isinstance(value, types.FunctionType) and value.__globals__ is fn.__globals__ and name not in replaced:
            namespace[name] = _rebound(value, namespace)
    return _rebound(fn, namespace)


def _rebound(fn: types.FunctionType, namespace: dict) -> types.FunctionType:
    copied = types.FunctionType(fn.__code__, namespace, fn.__name__, fn.__defaults__, fn.__closure__)
    copied.__kwdefaults__, copied.__dict__ = fn.__kwdefaults__, dict(fn.__dict__)
    return copied


@dataclass
class Exercise:
    """A graded exercise: ``check(fn)`` for feedback, ``hint()`` when stuck.

    ``reference`` has the learner's signature; ``cases`` are the inputs tried;
    ``compare(actual, expected)`` returns ``None`` when they match, else a
    (possibly empty) explanation; ``mistakes`` are recognised wrong answers.
    ``bounds`` are the bounds the exercise's text names (see :class:`Bound`);
    ``exempt`` maps a property of :data:`PROPERTIES` that makes no sense for
    this exercise to the reason why.
    """

    name: str
    points: int
    reference: Callable
    cases: Sequence[Case]
    hint_text: str
    compare: Callable[[Any, Any], str | None] = compare_close
    mistakes: Sequence[Mistake] = field(default_factory=tuple)
    module_alias: str = "ex"
    bounds: Sequence[Bound] = field(default_factory=tuple)
    exempt: dict = field(default_factory=dict)
    #: Hidden cases: ``draw(rng) -> Case`` for one random case; None draws near a random visible case
    #: (:func:`_draw_like`), keeping draws whose right answer the reference gives and is finite.
    draw: Callable[[np.random.Generator], Case] | None = None

    def hint(self) -> None:
        """Print a hint for this exercise."""
        print(_("Hint for {name}: {hint}").format(name=self.name, hint=_(self.hint_text).strip()))

    def _call_text(self, case: Case) -> str:
        args = ", ".join(f"{k}={fmt(v)}" for k, v in case.kwargs.items())
        return f"{self.name}({args})"

    # ------------------------------------------------------------------ running the learner's code
    def _answer(self, fn: Callable, case: Case, call: Callable) -> Any:
        """What ``fn`` gives on ``case`` (``CRASHED`` if it raises), for comparing with a known mistake."""
        try:
            return call(fn, copy.deepcopy(list(case.kwargs.values())))
        except Exception:
            return CRASHED

    def _same_answer(self, mine: Any, theirs: Any) -> bool:
        try:
            return self.compare(mine, theirs) is None
        except Exception:
            return False

    def _diagnosis_cases(self, cases: Sequence[Case]) -> Sequence[Case]:
        """Override point: which of ``cases`` to compare with the known mistakes (all of them)."""
        return cases

    def _diagnose(self, run: CheckRun, case: Case | None = None, actual: Any = None,
                  expected: Any = _NOTHING) -> str:
        """The message of the known mistake whose answers equal the learner's on *every* case; else, given the
        failing ``case``, the learner's ``actual`` answer and the ``expected`` one, a generic cause
        (:mod:`lrcourse.exercises._causes`, or an argument the answer ignores); else ''.

        Raising on a case counts as an answer: it agrees with a mistake that raises there too. Override point
        (with ``super()``): name a cause neither lists.
        """
        cases = self._diagnosis_cases(run.cases)
        if run.mine is None:
            run.mine = [self._answer(run.fn, c, run.learner) for c in cases]
        if all(m is CRASHED for m in run.mine):
            return ""
        for mistake in self.mistakes:  # both crashing on a case is agreement (_agree)
            if all(self._agree(mine, self._answer(mistake.fn, c, _silenced))
                   for c, mine in zip(cases, run.mine, strict=True)):
                return " " + _(mistake.message)
        if case is None:
            return ""
        cause = (_causes.of_values(actual, expected, case.kwargs) if expected is not _NOTHING and actual is not CRASHED
                 else "")
        cause = cause or self._wrong_default(run, case) or self._ignored(run, case) or self._only_matrices(run, cases)
        return f" {cause[:1].upper()}{cause[1:]}{'' if cause.endswith(('?', '.', '!')) else '.'}" if cause else ""

    def _only_matrices(self, run: CheckRun, cases: Sequence[Case]) -> str:
        """'right on every case whose arrays are vectors, wrong on one with a matrix' (an axis, a matrix norm or a
        reshape that a vector hides), else ''."""
        def matrix(case: Case) -> bool:  # an array with two sides longer than 1 (a 1 x n row is a vector)
            return any(sum(n > 1 for n in np.shape(v)) >= 2 for v in case.kwargs.values()
                       if isinstance(v, (np.ndarray, list, tuple)) and _causes._numbers(v) is not None)

        flat = [(c, m) for c, m in zip(cases, run.mine, strict=True) if not matrix(c)]
        square = [(c, m) for c, m in zip(cases, run.mine, strict=True) if matrix(c)]
        if len(flat) < 2 or not square:
            return ""
        right = [self._answer(self.reference, c, _silenced) for c, _m in flat + square]
        agree = [m is not CRASHED and r is not CRASHED and self._agree(m, r)
                 for (_c, m), r in zip(flat + square, right, strict=True)]
        if all(agree[:len(flat)]) and not all(agree[len(flat):]):
            return _("your answer is right on every case whose arrays are vectors and wrong on one with a matrix: "
                     "an axis, a norm of a matrix (np.linalg.norm(w, 2) or along one axis, where the norm over all "
                     "entries is meant) or a reshape that a vector hides?")
        return ""

    #: Whether a failed check may call the learner's code again on varied arguments to find one it ignores
    #: (False for a kind whose every answer is a training run).
    probe_arguments: ClassVar[bool] = True

    def _ignored(self, run: CheckRun, case: Case) -> str:
        """'your result does not change with ``name``' when changing that argument changes the right answer but
        not the learner's, on ``case`` and on every other case where it changes the right answer (each number,
        whole number or array argument in turn), else ''. Every case, not one: a wrong answer can be flat near
        one input for another reason (a wrong threshold, a category that happens not to flip)."""
        if not self.probe_arguments:
            return ""
        right = self._answer(self.reference, case, _silenced)
        if isinstance(right, (str, bool, np.bool_)) or right is None:
            return ""  # a choice: one answer of a few rarely moves with a small change, used or not
        cases = [case] + [c for c in self._diagnosis_cases(run.cases) if c is not case]
        for name, value in case.kwargs.items():
            if _varied(value) is None:
                continue
            if self._unmoved(run, name, cases):
                return _("your result does not change with {name}: it is not used, or a clamp, a max or min or an "
                         "integer division hides it, or it cancels out").format(name=name)
        return ""

    def _wrong_default(self, run: CheckRun, case: Case) -> str:
        """'your default for ``name`` is not ...' when, on the cases that leave that argument to its default, the
        learner's function answers wrong, and right once the reference's default is passed explicitly (else '')."""
        if isinstance(run.fn, type) or not self.probe_arguments:
            return ""
        try:
            defaults = {n: p.default for n, p in inspect.signature(self.reference).parameters.items()
                        if p.default is not inspect.Parameter.empty}
            learner = inspect.signature(run.fn).parameters
        except (TypeError, ValueError):
            return ""
        cases = self._diagnosis_cases(run.cases)
        for name, default in defaults.items():
            if name not in learner:
                continue
            left = [(c, mine) for c, mine in zip(cases, run.mine or [], strict=False) if name not in c.kwargs]
            if not left:
                continue
            rights = [self._answer(self.reference, c, _silenced) for c, _mine in left]
            if all(r is not CRASHED and mine is not CRASHED and self._agree(mine, r)
                   for (_c, mine), r in zip(left, rights, strict=True)):
                continue  # the learner's default gives the right answers
            given = [self._answer(run.fn, dataclasses.replace(c, kwargs={**c.kwargs, name: default}, note=""),
                                  run.learner) for c, _mine in left]
            if all(g is not CRASHED and r is not CRASHED and self._agree(g, r)
                   for g, r in zip(given, rights, strict=True)):
                mine = learner[name].default
                return _("your default for {name} is {actual}, not {expected}: with {name}={expected} passed "
                         "explicitly your answer is right").format(
                    name=name, actual=fmt(mine) if mine is not inspect.Parameter.empty else _("missing"),
                    expected=fmt(default))
        return ""

    def _unmoved(self, run: CheckRun, name: str, cases: Sequence[Case]) -> bool:
        """Whether the learner's answer stays put when ``name`` changes, on every case where the right one moves
        (and there is such a case)."""
        moved = 0
        for c in cases:
            if name not in c.kwargs or _varied(c.kwargs[name]) is None:
                continue
            mine = self._answer(run.fn, c, run.learner)
            right = self._answer(self.reference, c, _silenced)
            if mine is CRASHED or right is CRASHED:
                continue
            other = dataclasses.replace(c, kwargs={**c.kwargs, name: _varied(c.kwargs[name])}, note="")
            theirs = self._answer(self.reference, other, _silenced)
            if theirs is CRASHED or self._agree(theirs, right):
                continue  # outside what the exercise accepts, or an argument the answer does not depend on here
            if not self._agree(self._answer(run.fn, other, run.learner), mine):
                return False
            moved += 1
        return moved > 0

    def _agree(self, mine: Any, theirs: Any) -> bool:
        """Whether two answers on one case agree: both crashed, or ``_same_answer`` says so."""
        if mine is CRASHED or theirs is CRASHED:
            return mine is theirs
        return self._same_answer(mine, theirs)

    def _label(self, run: CheckRun, case: Case) -> str:
        """`` [the case's note]``, but for a note that names an edge ("edge: lr * a exactly 2") only when the
        learner's answer is right on every case without a note: the edge is not the cause when the answer fails
        plain cases too. (A note made while checking, such as "step 2 of 6", is always shown.)"""
        if not case.note:
            return ""
        edge = case.note.startswith("edge") or "exactly" in case.note
        if not edge or not any(case is c for c in run.cases):
            return f" [{_(case.note)}]"
        for other in self._diagnosis_cases(run.cases):
            if not other.note and not self._agree(self._answer(run.fn, other, run.learner),
                                                  self._answer(self.reference, other, _silenced)):
                return ""
        return f" [{_(case.note)}]"

    def _hint_ref(self) -> str:
        return _("Call {alias}.{name}.hint() for a hint.").format(alias=self.module_alias, name=self.name)

    def expected(self, case: Case) -> Any:
        """The right answer for ``case``."""
        return self.reference(*copy.deepcopy(list(case.kwargs.values())))

    def describe(self, value: Any) -> str:
        """How an expected value reads in feedback."""
        return fmt(value)

    def _not_attempted(self) -> NotAttemptedError:
        return NotAttemptedError(_(
            "{name} is not attempted yet: replace `raise NotImplementedError()` "
            "in its cell (or in an exercise it uses) with your code, run that cell, then run this one again."
        ).format(name=self.name))

    def _call(self, run: CheckRun, fn: Callable, case: Case, expected: Any) -> Any:
        """Call the learner's function on ``case``; turn a stub, a crash or a mutation into feedback."""
        __tracebackhide__ = True
        args = copy.deepcopy(list(case.kwargs.values()))
        before = copy.deepcopy(args)
        call = self._call_text(case)
        try:
            actual = run.learner(fn, args)
        except NotImplementedError:
            raise self._not_attempted() from None
        except Exception as err:
            raise AssertionError(_("{call} raised {error}: {message}; expected {expected}. {hint}").format(
                call=call, error=type(err).__name__, message=err, expected=self.describe(expected),
                hint=self._hint_ref())) from err
        changed = _inputs_changed(before, args)
        if changed:
            names = ", ".join(list(case.kwargs)[i] for i in changed)
            raise AssertionError(_(
                "{call} changed its input {names} in place. Return a new value instead "
                "of modifying the arguments (e.g. `x - lr * grad`, not `x -= lr * grad`). {hint}"
            ).format(call=call, names=names, hint=self._hint_ref()))
        return actual

    def _expected_source(self) -> str:
        """Where the expected value comes from, when feedback should say so (e.g. ", what torch gives")."""
        return ""

    def _verify(self, run: CheckRun, case: Case, actual: Any, expected: Any) -> None:
        """Raise ``AssertionError`` with feedback unless ``actual`` matches ``expected``.

        Override point: an answer that is not a value (a schedule, a goal) is verified here."""
        __tracebackhide__ = True
        try:
            problem = holds_graph(actual) or self.compare(actual, expected)
        except Exception as err:  # a comparator must never crash on odd learner output
            problem = _("could not compare the result ({error}: {message})").format(
                error=type(err).__name__, message=err)
        if problem is not None:
            detail = "; ".join(p for p in (problem, dtype_note(actual, expected)) if p)
            detail = f" ({detail})" if detail else ""
            note = self._label(run, case)
            mine, want = fmt_pair(actual, expected)
            raise AssertionError(_("{call}{note} returned {actual}; expected {expected}{source}{detail}.").format(
                call=self._call_text(case), note=note, actual=mine, expected=want,
                source=self._expected_source(), detail=detail) + f"{self._diagnose(run, case, actual, expected)} "
                                                                f"{self._hint_ref()}")

    def _require_callable(self, fn: Any) -> None:
        __tracebackhide__ = True
        if not callable(fn):
            raise AssertionError(_(
                "check expected your function {name}, got {value} ({type}). Pass the function itself: "
                "{alias}.{name}.check({name})"
            ).format(name=self.name, value=fmt(fn), type=type(fn).__name__, alias=self.module_alias))

    def _passed(self, run: CheckRun, num_cases: int) -> None:
        if run.quiet:
            return
        unit = _("point") if self.points == 1 else _("points")
        hidden = run.hidden
        if hidden:
            line = _("✓ {name}: all {cases} cases and {hidden} hidden cases pass ({points}/{points} {unit})")
        else:
            line = _("✓ {name}: all {cases} cases pass ({points}/{points} {unit})")
        print(line.format(name=self.name, cases=num_cases, hidden=hidden, points=self.points, unit=unit))

    def _hidden_failure(self, run: CheckRun, seed: int, err: AssertionError) -> AssertionError:
        """The feedback for a failed hidden case (``run`` on the hidden cases): its input, never its expected
        value (the grader's secret)."""
        hidden = run.cases
        failing = hidden[0]
        for case in hidden:  # which one failed: each alone, quietly
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    self._check(run.on([case]))
            except AssertionError:
                failing = case
                break
        cause = err.__cause__
        raised = _(" It raised {error}: {message}.").format(error=type(cause).__name__, message=cause) \
            if cause is not None else ""
        return AssertionError(_(
            "On a hidden case the grader drew (seed {seed}), which the notebook never showed, your answer is "
            "not the right one: {call}.{raised} Its expected value is not shown: try your "
            "function on inputs like this one and compare with what the text says it must do."
        ).format(seed=seed, call=self._call_text(failing), raised=raised) + f"{self._diagnose(run)} {self._hint_ref()}")

    def hidden_cases(self, seed: int, n: int = HIDDEN_CASES) -> list[Case]:
        """``n`` cases drawn at random for ``seed`` (the same for the same seed), never shown in the notebook.

        Each is a case whose right answer the reference gives (and is finite); none equals a visible case.
        An exercise exempt from ``"hidden"`` has none, and its ``exempt`` says why.
        """
        if "hidden" in self.exempt:
            return []
        rng = np.random.default_rng([int(seed), zlib.crc32(self.name.encode())])
        visible = [self._call_text(c) for c in self.cases]
        drawn: list[Case] = []
        for _ in range(40 * n):
            if len(drawn) == n:
                break
            if self.draw is not None:
                case = self.draw(rng)
            else:
                template = self.cases[int(rng.integers(len(self.cases)))]
                kwargs = {k: _draw_like(v, rng) for k, v in template.kwargs.items()}
                more = {f.name: _draw_like(getattr(template, f.name), rng) for f in dataclasses.fields(template)
                        if f.name not in ("kwargs", "note")}  # a case's own data: a run's later gradients, metrics
                case = dataclasses.replace(template, kwargs=kwargs, **more)
            case = dataclasses.replace(case, note="")  # a visible case's note ("edge: ...") no longer holds
            if self._call_text(case) in visible or any(self._call_text(case) == self._call_text(d) for d in drawn):
                continue
            try:
                expected = _silenced(lambda c: self.expected(c), [case])
            except Exception:
                continue  # outside the input space (the reference refuses it)
            if _usable(expected):
                drawn.append(case)
        return drawn

    def _check(self, run: CheckRun) -> None:
        """Run ``run.fn`` on every case of ``run``; raise ``AssertionError`` at the first wrong answer.

        Override point: an answer checked otherwise than case by case (optimizer steps fed their own state,
        an object stepped epoch by epoch, what a function did to fresh torch objects)."""
        __tracebackhide__ = True
        for case in run.cases:
            expected = self.expected(case)
            actual = self._call(run, run.fn, case, expected)
            self._verify(run, case, actual, expected)
        self._passed(run, len(run.cases))

    def _earlier(self) -> list["Exercise"]:
        """The exercises of this one's notebook that come before it (a learner's answer may call theirs)."""
        for name, module in list(sys.modules.items()):
            exercises = getattr(module, "EXERCISES", None) if name.startswith("lrcourse.exercises.") else None
            if exercises and any(e is self for e in exercises):
                return list(exercises[:[id(e) for e in exercises].index(id(self))])
        return []

    def _passes(self, fn: Callable, cases: Sequence[Case]) -> bool:
        """Whether ``fn`` passes this exercise's ``cases``, asked quietly (no line printed, no pass recorded)."""
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self._check(CheckRun(fn, list(cases), quiet=True))
        except (AssertionError, NotImplementedError):
            return False
        except Exception:  # a check of a broken answer may fail in any way: it does not pass
            return False
        return True

    def _carried_from(self, fn: Callable, cases: Sequence[Case]) -> tuple[str, list[str]] | None:
        """``(root, through)`` when ``fn`` fails ``cases`` only because it calls the learner's answer to an earlier
        exercise that fails its own check: with every such answer replaced by its reference, ``fn`` passes.

        ``root`` is the earliest of them in the notebook; ``through``, the others. ``None`` when ``fn`` calls no
        earlier answer that fails, or still fails without them (its own mistake).
        """
        if not isinstance(fn, types.FunctionType):
            return None
        earlier = {e.name: e for e in self._earlier()}
        called = [name for name in _calls(fn) if name in earlier]
        failing = [name for name in called if not earlier[name]._passes(fn.__globals__[name], earlier[name].cases)]
        if not failing or not self._passes(_with(fn, {n: earlier[n].reference for n in failing}), cases):
            return None
        order = list(earlier)
        failing.sort(key=order.index)
        return failing[0], failing[1:]

    def _carried_message(self, root: str, through: list[str]) -> str:
        via = _(" (through your {names})").format(names=", ".join(through)) if through else ""
        return _("{name} itself is right: it fails only because it calls your {root}{via}, which fails its own "
                 "check; with the right {root} it passes. Fix {root} first, then run this check again.").format(
            name=self.name, root=root, via=via)

    def check(self, fn: Callable) -> None:
        """Run ``fn`` on every case; print the points on success, raise ``AssertionError`` otherwise.

        The feedback names the first case that fails, what was expected, the
        known mistake the answers match, and the warnings the learner's code raised.
        """
        __tracebackhide__ = True  # keep the learner's traceback short (IPython, pytest)
        seed = _record.seed()
        hidden = self.hidden_cases(seed) if seed is not None else []
        run = CheckRun(fn, list(self.cases), quiet=bool(hidden))  # this call's state: the exercise keeps none
        try:
            self._require_callable(fn)
            self._check(run)
            if hidden:  # the grader's cases: the same checks on inputs the notebook never showed
                secret = run.on(hidden)
                try:
                    self._check(secret)
                except NotAttemptedError:
                    raise
                except AssertionError as err:
                    raise self._hidden_failure(secret, seed, err) from err.__cause__
                self._passed(dataclasses.replace(run, quiet=False, hidden=len(hidden)), len(run.cases))
            _record.passed(self.name)  # the grader's positive evidence (nothing outside grading)
        except NotAttemptedError as err:
            raise _brief(err)
        except AssertionError as err:
            carried = self._carried_from(fn, run.cases + hidden)
            if carried is not None:  # the mistake is in an earlier answer: say so, and let the grader carry it
                _record.carried(self.name, carried[0])
                raise _brief(AssertionError(f"{self._carried_message(*carried)} {err}")) from err.__cause__
            warned = run.recorder.text()
            if not warned:
                raise _brief(err)
            raise _brief(AssertionError(f"{err} {warned}")) from err.__cause__

    def __repr__(self) -> str:
        return f"<exercise {self.name}: {self.points} point(s), {len(self.cases)} cases>"  # i18n: a repr
