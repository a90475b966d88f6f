"""Causes a check can name when no known mistake of the exercise fits: generic, for every exercise.

:func:`of_values` compares a wrong answer with the right one and names the shape of the difference: digits
that agree only to float32's precision, the opposite sign, one constant factor, the right values in another
order, a transpose, values one step late or early or one too many or few, a staircase where a ramp was
expected. (:meth:`lrcourse.exercises.Exercise._ignored` adds the other generic cause: an argument the answer
ignores.) Each returns a sentence, or '' when the difference has no such shape; none guesses: a pattern is
named only when it explains every number of the answer.
"""
from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np

from ..i18n import gettext_ as _

__all__ = ["of_values"]

RTOL, ATOL = 1e-9, 1e-12  # the checks' tolerance (compare_close)


def _numbers(value: Any) -> np.ndarray | None:
    """``value`` as a float64 array (NumPy, a torch tensor, a Python number or list), or None."""
    if isinstance(value, (bool, np.bool_, str)) or value is None:
        return None
    if type(value).__module__.startswith("torch") and hasattr(value, "detach"):
        try:
            value = value.detach().cpu().numpy()
        except Exception:
            return None
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError, RuntimeError):  # RuntimeError: a tensor inside that requires grad
        return None
    return arr if np.all(np.isfinite(arr)) else None


def _close(a: np.ndarray, b: np.ndarray, rtol: float = RTOL) -> bool:
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=rtol, atol=ATOL))


def _float32(actual: Any) -> bool:
    """Whether ``actual`` holds float32 values: a float32 dtype, or float64 numbers every one of which float32 holds
    exactly (what ``.item()`` of a float32 tensor gives), and not all whole numbers."""
    if isinstance(actual, (np.ndarray, np.generic)) and actual.dtype.kind == "f":
        return actual.dtype.itemsize < 8
    a = _numbers(actual)
    return a is not None and bool(np.all(a.astype(np.float32).astype(np.float64) == a)) and not np.all(a == np.round(a))


def _precision(a: np.ndarray, e: np.ndarray, actual: Any) -> str:
    if a.shape != e.shape or _close(a, e) or not _close(a, e, rtol=2e-6) or not _float32(actual):
        return ""
    if isinstance(actual, (np.ndarray, np.generic)):
        return ""  # a NumPy float32 value: the check's dtype note says it already
    return _("it agrees with the expected value only to about 7 significant digits, the precision of float32: "
             "compute in float64 (a torch tensor is float32 unless you ask for torch.float64, and .item() of a "
             "float32 tensor keeps its rounding)")


def _counted(factor: float, context: dict) -> str:
    """The argument whose length or value ``factor`` (or its inverse) is, as a sentence, or ''."""
    for value in (factor, 1 / factor):
        if value < 2 or not math.isclose(value, round(value), rel_tol=1e-9):
            continue
        for name, arg in context.items():
            if isinstance(arg, (list, tuple, np.ndarray)) and len(arg) == round(value):
                size = f"len({name})"
            elif isinstance(arg, (int, np.integer)) and not isinstance(arg, bool) and arg == round(value):
                size = name
            else:
                continue
            return _("every value is {factor} times the expected one, and {count} is {size}: a sum where a mean is "
                     "meant, or a mean where a sum is?").format(factor=f"{factor:.6g}", count=round(value), size=size)
    return ""


def _sign_or_factor(a: np.ndarray, e: np.ndarray, context: dict | None = None) -> str:
    if a.shape != e.shape or not np.any(e):
        return ""
    if _close(a, -e):
        return _("it is the expected value with the opposite sign: check the direction of the step (or of the "
                 "difference you take)")
    nonzero = e != 0
    if np.count_nonzero(nonzero) < 2 or not np.array_equal(a == 0, e == 0):
        return ""  # one number: any wrong answer is some multiple of it, which would say nothing
    ratios = a[nonzero] / e[nonzero]
    factor = float(np.median(ratios))
    # a factor within float32's rounding of 1 is not a factor in a formula: it is a precision (the dtype note's)
    if not np.allclose(ratios, factor, rtol=1e-9) or math.isclose(factor, 1.0, rel_tol=1e-5) or factor == 0:
        return ""
    counted = _counted(abs(factor), context or {}) if factor > 0 else ""
    if counted:
        return counted
    return _("every value is {factor} times the expected one: a constant factor in your formula is off (a "
             "missing or extra lr, 2, or 1 - beta?)").format(factor=f"{factor:.6g}")


def _transposed(a: np.ndarray, e: np.ndarray) -> str:
    if a.ndim == 2 and e.ndim == 2 and a.T.shape == e.shape and not _close(a, e) and _close(a.T, e):
        return _("it is the expected array transposed: rows and columns are swapped")
    return ""


def _shifted(a: np.ndarray, e: np.ndarray) -> str:
    if a.ndim < 1 or e.ndim != a.ndim or a.shape[1:] != e.shape[1:] or min(len(a), len(e)) < 2:
        return ""
    if len(a) == len(e) >= 3 and not _close(a, e):
        if _close(a[1:], e[:-1]):
            return _("your values come one step late: yours at step t is the expected one at step t - 1 (off by "
                     "one: is the step counted after the value is read?)")
        if _close(a[:-1], e[1:]):
            return _("your values come one step early: yours at step t is the expected one at step t + 1 (off by "
                     "one: a count that starts at 1 where it should start at 0?)")
        # right up to step k, then the rest of the series shifted by one: a phase that starts a step late or early
        k = next(i for i in range(len(e)) if not _close(a[i:i + 1], e[i:i + 1]))
        if 1 <= k <= len(e) - 3 and a.ndim == 1:
            if _close(a[k:], e[k - 1:-1]):
                return _("your values are right up to step {first} and from there come one step late: yours at "
                         "step t is the expected one at step t - 1 (a phase that starts a step late: < where <= "
                         "is meant, or a count that subtracts one too many?)").format(first=k - 1)
            if _close(a[k:-1], e[k + 1:]):
                return _("your values are right up to step {first} and from there come one step early: yours at "
                         "step t is the expected one at step t + 1 (a phase that starts a step early: <= where < "
                         "is meant?)").format(first=k - 1)
    if len(a) == len(e) + 1 and (_close(a[:-1], e) or _close(a[1:], e)):
        return _("you return one value too many ({got} instead of {want}): off by one in a loop or a range").format(
            got=len(a), want=len(e))
    if len(a) + 1 == len(e) and (_close(a, e[:-1]) or _close(a, e[1:])):
        return _("you return one value too few ({got} instead of {want}): off by one in a loop or a range").format(
            got=len(a), want=len(e))
    return ""


def _staircase(a: np.ndarray, e: np.ndarray) -> str:
    """Where the expected values change at every step (rising, falling, or both in turn), yours stay flat for at
    least half of those steps and move only in the expected direction when they move: an integer division."""
    if a.ndim != 1 or a.shape != e.shape or len(e) < 6:
        return ""
    de, da = np.diff(e), np.diff(a)
    moving = ~np.isclose(de, 0, rtol=0, atol=ATOL)
    if np.count_nonzero(moving) < 4:
        return ""
    flat = np.isclose(da, 0, rtol=0, atol=ATOL) & moving
    against = moving & ~flat & (np.sign(da) != np.sign(de))
    if np.count_nonzero(flat) < np.count_nonzero(moving) // 2 or np.any(against) or np.all(flat[moving]):
        return ""
    return _("your values move in steps ({distinct} distinct values over {n} steps) where the expected ones change "
             "at every step: an integer division (//) or a rounding where a ratio should stay fractional?").format(
        distinct=len(np.unique(a)), n=len(a))


def _numeric(actual: Any, expected: Any, context: dict | None = None) -> str:
    a, e = _numbers(actual), _numbers(expected)
    if a is None or e is None:
        return ""
    for probe in (lambda: _precision(a, e, actual), lambda: _transposed(a, e), lambda: _shifted(a, e),
                  lambda: _sign_or_factor(a, e, context), lambda: _staircase(a, e)):
        found = probe()
        if found:
            return found
    return ""


def _same(a: Any, b: Any) -> bool:
    x, y = _numbers(a), _numbers(b)
    if x is not None and y is not None:
        return _close(x, y)
    try:
        return bool(a == b)
    except Exception:
        return False


def _reordered(actual: Any, expected: Any) -> str:
    if not (isinstance(actual, (tuple, list)) and isinstance(expected, (tuple, list))):
        return ""
    n = len(expected)
    if len(actual) != n or not 2 <= n <= 5 or all(_same(x, y) for x, y in zip(actual, expected, strict=True)):
        return ""
    for order in itertools.permutations(range(n)):
        if order != tuple(range(n)) and all(_same(actual[i], expected[j]) for i, j in enumerate(order)):
            return _("it holds the right values in another order: return them in the order the docstring gives")
    return ""


def _results(actual: Any, expected: Any) -> bool:
    """Whether ``expected`` is several results (a tuple or list holding an array), not one series of numbers: its
    parts are not steps of one sequence, so they are explained one by one, never read as a series (x, z, y of one
    update are not values one step apart)."""
    return (isinstance(actual, (tuple, list)) and isinstance(expected, (tuple, list)) and len(actual) == len(expected)
            and any(e is not None and getattr(_numbers(e), "ndim", 0) >= 1 for e in expected))


def of_values(actual: Any, expected: Any, context: dict | None = None) -> str:
    """The generic cause of a wrong ``actual`` against ``expected``, or ''. A pair or tuple is read element by
    element: the first element that differs is the one explained. ``context``: the case's arguments (a factor
    that is one of their lengths or values is named)."""
    found = _reordered(actual, expected) or ("" if _results(actual, expected) else _numeric(actual, expected, context))
    if found or not (isinstance(actual, (tuple, list)) and isinstance(expected, (tuple, list))):
        return found
    if len(actual) != len(expected) or _numbers(expected) is not None:
        return ""
    for x, y in zip(actual, expected, strict=True):
        if not _same(x, y):
            return of_values(x, y, context)
    return ""
