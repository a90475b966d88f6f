"""Grade one submitted notebook: restore its checks, rewrite them, run it confined, score it.

:func:`grade_notebook` is the four steps in order, each a module of its own:

1. :func:`lrcourse.grading.scoring.submission.prepare` reads the submission, matches it to its release and
   restores its check cells from the release (a voided cell is flagged); :mod:`~.integrity` lists code
   that reaches for the checks (flags for the instructor, never a score);
2. :func:`lrcourse.grading.scoring.rewrite.arm` makes each check cell load the checks afresh and arms its
   pass record;
3. :func:`lrcourse.grading.scoring.run.run` runs the notebook in a fresh, confined kernel in a scratch
   folder, never writing to the submission;
4. :func:`lrcourse.grading.scoring.score.score` scores each check from its pass record and the kernel's reply.
"""
from __future__ import annotations

import time
from pathlib import Path

from ..results import GradeResult
from ..sandbox.confine import Plan
from .integrity import scan
from .rewrite import arm, disarm
from .run import OUTPUT_LIMIT, run
from .score import score
from .submission import prepare

__all__ = ["grade_notebook", "OUTPUT_LIMIT"]


def grade_notebook(path: str | Path, releases: dict, timeout: int = 60, output_limit: int = OUTPUT_LIMIT,
                   kernel_name: str | None = None, confinement: Plan | None = None,
                   seed: int | None = None, carry_forward: bool = True) -> GradeResult:
    """Grade the notebook at ``path`` against ``releases`` (from
    :func:`~lrcourse.grading.scoring.submission.load_releases`).

    ``confinement`` (from :func:`lrcourse.grading.sandbox.confine.plan`) limits and sandboxes the kernel;
    ``None`` runs it as a plain child of this process, with the per-cell ``timeout`` only. ``seed``: every
    check also tries hidden cases drawn with it (:meth:`lrcourse.exercises.Exercise.hidden_cases`).
    ``carry_forward``: a check that fails only because of an earlier exercise's answer earns its points
    (:func:`lrcourse.grading.scoring.score.score`).
    """
    path = Path(path)
    start = time.perf_counter()
    prepared = prepare(path, releases)
    result = GradeResult(path, prepared.release, error=prepared.error)
    if prepared.nb is None:
        result.seconds = time.perf_counter() - start
        return result
    release, nb = releases[prepared.release], prepared.nb
    result.integrity = scan(nb, release)
    armed = arm(nb, release, prepared.release, seed)
    done = run(path, nb, armed.records, timeout, output_limit, kernel_name, confinement)
    disarm(nb, armed)
    result.error = done.error
    result.checks = score(nb, release, prepared, armed, done, confinement, carry_forward)
    result.notebook = nb
    result.seconds = time.perf_counter() - start
    return result
