"""Argument validation shared by the library (scikit-learn style messages).

Every public function validates its arguments where they enter and raises a
``ValueError`` that names the argument and what was expected, e.g.
``lr must be > 0, got -0.1``.
"""
from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
from .i18n import gettext_ as _


def as_float(name: str, value: Any) -> float:
    """Return ``value`` as a finite Python float or raise ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(_("{name} must be a real number, got {value!r}").format(name=name, value=value))
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(_("{name} must be finite, got {value!r}").format(name=name, value=value))
    return value


def positive(name: str, value: Any) -> float:
    """Return ``value`` as a float, requiring ``value > 0``."""
    value = as_float(name, value)
    if value <= 0:
        raise ValueError(_("{name} must be > 0, got {value!r}").format(name=name, value=value))
    return value


def non_negative(name: str, value: Any) -> float:
    """Return ``value`` as a float, requiring ``value >= 0``."""
    value = as_float(name, value)
    if value < 0:
        raise ValueError(_("{name} must be >= 0, got {value!r}").format(name=name, value=value))
    return value


def integer(name: str, value: Any, minimum: int | None = None) -> int:
    """Return ``value`` as an int, requiring ``value >= minimum`` if given."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(_("{name} must be an integer, got {value!r}").format(name=name, value=value))
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(_("{name} must be >= {minimum}, got {value!r}").format(
            name=name, minimum=minimum, value=value))
    return value


def choice_error(name: str, value: Any, choices: Any) -> ValueError:
    """The error for ``value`` of argument ``name`` that is not one of ``choices``: ``mode must be one of
    'triangular', 'triangular2', 'exp_range', got 'sine'`` (raise it where the check is made)."""
    return ValueError(_("{name} must be one of {choices}, got {value!r}").format(
        name=name, choices=", ".join(map(repr, choices)), value=value))


def finite_array(name: str, value: Any, ndim: int | None = None) -> np.ndarray:
    """Return ``value`` as a float64 array of finite numbers (a copy)."""
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(_("{name} must be an array of numbers, got {value!r}").format(
            name=name, value=value)) from None
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(_("{name} must be {ndim}-dimensional, got shape {shape}").format(
            name=name, ndim=ndim, shape=arr.shape))
    if not np.all(np.isfinite(arr)):
        raise ValueError(_("{name} must contain only finite numbers, got {value!r}").format(name=name, value=value))
    return arr


def point(name: str, value: Any, dim: int) -> np.ndarray:
    """Return a finite start point of shape ``(dim,)``; a scalar is accepted when dim == 1."""
    arr = finite_array(name, value)
    if arr.ndim == 0 and dim == 1:
        arr = arr.reshape(1)
    if arr.shape != (dim,):
        raise ValueError(_("{name} must have shape ({dim},) to match the loss, got shape {shape}").format(
            name=name, dim=dim, shape=arr.shape))
    return arr
