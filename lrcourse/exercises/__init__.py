"""Exercise checks and hints, one module per notebook.

In a notebook::

    from lrcourse.exercises import descent as ex
    ex.gd_step.check(gd_step)   # feedback, and the points when it passes
    ex.gd_step.hint()           # a hint when stuck

| notebook | module |
|---|---|
| 01_gradient_descent | :mod:`lrcourse.exercises.descent` |
| 02_lr_schedules | :mod:`lrcourse.exercises.schedules` |
| 03_adaptive_optimizers | :mod:`lrcourse.exercises.optimizers` |
| 04_reduce_on_plateau | :mod:`lrcourse.exercises.plateau` |
| 05_lr_search | :mod:`lrcourse.exercises.search` |
| 06_finetune_pretrained_cnn | :mod:`lrcourse.exercises.finetune` |
| 07_lr_at_scale | :mod:`lrcourse.exercises.scale` |
"""
from ._core import Case, Exercise, Mistake, NotAttemptedError

__all__ = ["Case", "Exercise", "Mistake", "NotAttemptedError"]
