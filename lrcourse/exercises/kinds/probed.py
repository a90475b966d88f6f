"""A function checked case by case whose wrong answers a probe can explain when no known mistake fits."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from .._core import _NOTHING, Case, CheckRun, Exercise

__all__ = ["ProbedExercise"]


@dataclass
class ProbedExercise(Exercise):
    """When no known mistake fits, ``probe(fn, call)`` may still name the cause (or return '')."""

    probe: Callable[[Callable, Callable], str] | None = None

    def _diagnose(self, run: CheckRun, case: Case | None = None, actual: Any = None,
                  expected: Any = _NOTHING) -> str:
        known = super()._diagnose(run, case, actual, expected)
        if known or self.probe is None:
            return known
        return self.probe(run.fn, run.learner)
