"""Resampling answers: k-fold splits checked by their properties (any right shuffle passes), a CV search shown
with its folds summarised, and random draws whose distribution is tested when they differ from the reference's."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...i18n import gettext_ as _
from .._core import _NOTHING, Case, CheckRun, Exercise, fmt

__all__ = ["FoldsExercise", "CVExercise", "SamplerExercise"]


def _folds_problem(folds: Any, n: int, k: int) -> str | None:
    """What is wrong with ``folds`` as a k-fold split of range(n), or None."""
    if not isinstance(folds, (list, tuple)):
        return _("return a list of {k} (train_idx, val_idx) pairs, not {type}").format(k=k, type=type(folds).__name__)
    if len(folds) != k:
        return _("expected {k} folds, got {count}").format(k=k, count=len(folds))
    parts = []
    for i, fold in enumerate(folds):
        if not isinstance(fold, (list, tuple)) or len(fold) != 2:
            return _("fold {i} must be a pair (train_idx, val_idx), got {value}").format(i=i, value=fmt(fold))
        try:
            train, val = (np.asarray(part) for part in fold)
        except Exception:
            return _("fold {i} must hold two arrays of indices").format(i=i)
        if train.ndim != 1 or val.ndim != 1 or (train.size and train.dtype.kind not in "iu") or \
                (val.size and val.dtype.kind not in "iu"):
            return _("fold {i} must hold two 1-D arrays of integer indices").format(i=i)
        parts.append((train, val))
    count = np.zeros(n, dtype=int)
    for i, (_train, val) in enumerate(parts):
        if val.size and (val.min() < 0 or val.max() >= n):
            return _("fold {i} has validation indices outside 0..{last}").format(i=i, last=n - 1)
        np.add.at(count, val, 1)
    twice = np.flatnonzero(count > 1)
    if twice.size:
        where = [i for i, (_train, val) in enumerate(parts) if twice[0] in val][:2]
        return _("index {index} is in the validation part of folds {first} and {second}: the validation parts "
                 "overlap").format(index=twice[0], first=where[0], second=where[1])
    never = np.flatnonzero(count == 0)
    if never.size:
        return _("{count} of the {n} indices (e.g. {index}) are in no validation part: those samples are lost").format(
            count=never.size, n=n, index=never[0])
    sizes = [len(val) for _train, val in parts]
    if max(sizes) - min(sizes) > 1:
        return _("the validation parts have sizes {sizes}: sizes must differ by at most one").format(sizes=sizes)
    for i, (train, val) in enumerate(parts):
        rest = np.setdiff1d(np.arange(n), val)
        if len(train) != len(rest) or not np.array_equal(np.sort(train), rest):
            extra = np.intersect1d(train, val)
            if extra.size:
                return _("fold {i} trains on index {index}, which it also validates on").format(i=i, index=extra[0])
            return _("fold {i}'s training indices must be every index outside its validation part").format(i=i)
    return None


def _same_folds(a: Any, b: Any) -> bool:
    try:
        return len(a) == len(b) and all(np.array_equal(np.sort(np.asarray(x[0])), np.sort(np.asarray(y[0])))
                                        and np.array_equal(np.sort(np.asarray(x[1])), np.sort(np.asarray(y[1])))
                                        for x, y in zip(a, b, strict=True))
    except Exception:
        return False


@dataclass
class FoldsExercise(Exercise):
    """A k-fold split is checked by its properties; any correct shuffle passes."""

    def _expected_text(self, case: Case) -> str:
        n, k = case.kwargs["n"], case.kwargs["k"]
        sizes = [len(p) for p in np.array_split(np.arange(n), k)]
        return _("expected {k} folds whose validation parts split 0..{last} into parts of sizes {sizes}, each fold "
                 "training on all the other indices").format(k=k, last=n - 1, sizes=sizes)

    def _fail(self, run: CheckRun, case: Case, problem: str, actual: Any) -> None:
        __tracebackhide__ = True
        note = f" [{_(case.note)}]" if case.note else ""
        raise AssertionError(f"{self._call_text(case)}{note}: {problem}; {self._expected_text(case)}."
                             f"{self._diagnose(run, case, actual)} {self._hint_ref()}")  # i18n: its parts are translated

    def _same_answer(self, mine: Any, theirs: Any) -> bool:
        return _same_folds(mine, theirs)

    def _check(self, run: CheckRun) -> None:
        __tracebackhide__ = True
        fn = run.fn
        for case in run.cases:
            n, k, seed = case.kwargs["n"], case.kwargs["k"], case.kwargs.get("seed", 0)
            actual = self._call(run, fn, case, None)
            problem = _folds_problem(actual, n, k)
            if problem is None:
                again = self._call(run, fn, case, None)
                other = self._call(run, fn, Case({"n": n, "k": k, "seed": seed + 1}), None)
                if not _same_folds(actual, again):
                    problem = _("two calls with the same seed gave different folds: draw the shuffle from "
                                "np.random.default_rng(seed)")
                elif _same_folds(actual, other):
                    problem = _("seed={other} gives the same folds as seed={seed}: the seed must set the shuffle").format(
                        other=seed + 1, seed=seed)
                elif all(np.array_equal(np.sort(val), np.arange(val.min(), val.max() + 1))
                         for _unused, val in (tuple(map(np.asarray, f)) for f in actual)) and n >= 10:
                    problem = _("the validation parts are runs of consecutive indices: the indices were not shuffled")
            if problem is not None:
                self._fail(run, case, problem, actual)
        self._passed(run, len(run.cases))

    def describe(self, value: Any) -> str:
        return _("a valid k-fold split")


@dataclass
class CVExercise(Exercise):
    """Shows the folds as a summary in feedback."""

    def _call_text(self, case: Case) -> str:
        kw = case.kwargs
        folds = kw["folds"]
        n = sum(len(va) for _unused, va in folds)
        return (f"{self.name}(train_and_validate={kw['train_and_validate']!r}, lrs={fmt(list(kw['lrs']), 3)}, "  # i18n: code
                + _("folds=<{count} folds of {n} samples>)").format(count=len(folds), n=n))


class _Rng(np.random.Generator):
    """``np.random.default_rng(seed)`` that shows as such in feedback."""

    def __init__(self, seed: int):
        super().__init__(np.random.PCG64(seed))
        self.seed = seed

    def __repr__(self) -> str:
        return f"np.random.default_rng({self.seed})"  # i18n: code


def _looks_log_uniform(values: Any, low: float, high: float) -> bool:
    try:
        v = np.asarray(values, dtype=float)
    except (TypeError, ValueError, RuntimeError):  # RuntimeError: a tensor that requires grad
        return False
    if v.size < 50 or np.any(v < low) or np.any(v > high):
        return False
    u = np.sort((np.log(v) - math.log(low)) / (math.log(high) - math.log(low)))
    ks = np.max(np.abs(u - (np.arange(1, u.size + 1) - 0.5) / u.size))
    return ks < 1.63 / math.sqrt(u.size)  # Kolmogorov-Smirnov at the 1 % level


@dataclass
class SamplerExercise(Exercise):
    """When the draws differ from the reference's, says whether they at least have the right distribution."""

    def _diagnose(self, run: CheckRun, case: Case | None = None, actual: Any = None,
                  expected: Any = _NOTHING) -> str:
        known = super()._diagnose(run, case, actual, expected)
        if known or case is None:
            return known
        low, high = case.kwargs["low"], case.kwargs["high"]
        try:
            many = run.learner(run.fn, (low, high, 2000, _Rng(12345)))
        except Exception:
            return ""
        if _looks_log_uniform(many, low, high):
            return " " + _("Your samples look log-uniform, but they are not np.exp(rng.uniform(np.log(low), "
                           "np.log(high), size)): use the rng you are given, in one call, so a seed reproduces them.")
        return ""
