"""Exercise checks and hints, one module per notebook.

In a notebook::

    from lrcourse.exercises import descent as ex
    ex.gd_step.check(gd_step)   # feedback, and the points when it passes
    ex.gd_step.hint()           # a hint when stuck

Which module holds which notebook's checks is :mod:`lrcourse.syllabus`'s ``Notebook.exercises``.
"""
from ._core import Case, Exercise, Mistake, NotAttemptedError

__all__ = ["Case", "Exercise", "Mistake", "NotAttemptedError"]
