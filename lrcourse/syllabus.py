"""The course's one list of notebooks: each graded notebook, the library module it teaches, the module that
holds its checks, and its time budget.

Everything that needs to know "which notebooks are there and what serves each" reads it here: the grader
(which checks a released notebook imports), ``lrcourse start`` and ``lrcourse release`` (that an install or
a solutions folder holds the whole course), the benchmark (budgets) and the tests (which checks, which
modules, which notebooks). Adding a notebook is one row here, its solution in ``solutions/`` (and
``solutions/vi/``), and its exercise module.

>>> [n.file for n in NOTEBOOKS][:2]
['01_gradient_descent.ipynb', '02_lr_schedules.ipynb']
>>> notebook("vi/05_lr_search.ipynb").exercises
'search'
>>> notebook("05_lr_search.ipynb").exercise_module
'lrcourse.exercises.search'
>>> notebook("my_own.ipynb") is None
True
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

__all__ = ["Notebook", "NOTEBOOKS", "BUDGET_S", "CELL_BUDGET_S", "notebook", "files", "missing"]

#: COURSE.md's budget for one notebook on a 2-core CPU, and for any one cell of it (seconds).
BUDGET_S = 60.0
CELL_BUDGET_S = 30.0


@dataclass(frozen=True)
class Notebook:
    """One graded notebook of the course."""

    stem: str  # "01_gradient_descent": the file name in solutions/, notebooks/ and each translation's folder
    library: tuple[str, ...]  # the lrcourse modules it teaches (lrcourse.<name>)
    exercises: str  # its checks: lrcourse.exercises.<exercises>, imported in the notebook as ``ex``
    budget_s: float = BUDGET_S  # its seconds on a 2-core CPU (tighter than COURSE.md's where its issue says so)

    @property
    def file(self) -> str:
        return f"{self.stem}.ipynb"

    @property
    def number(self) -> str:
        return self.stem[:2]

    @property
    def exercise_module(self) -> str:
        return f"lrcourse.exercises.{self.exercises}"


NOTEBOOKS: tuple[Notebook, ...] = (
    Notebook("01_gradient_descent", ("losses", "descent"), "descent"),
    Notebook("02_lr_schedules", ("schedules", "data", "training"), "schedules"),
    Notebook("03_adaptive_optimizers", ("optimizers",), "optimizers", budget_s=30.0),
    Notebook("04_reduce_on_plateau", ("plateau",), "plateau", budget_s=30.0),
    Notebook("05_lr_search", ("search",), "search", budget_s=45.0),
    Notebook("06_finetune_pretrained_cnn", ("finetune", "models"), "finetune"),
    Notebook("07_lr_at_scale", ("scale",), "scale", budget_s=45.0),
)

_BY_FILE = {n.file: n for n in NOTEBOOKS}


def notebook(name: str) -> Notebook | None:
    """The syllabus entry of a notebook file name, of any edition (``"vi/05_lr_search.ipynb"``); ``None`` for a
    notebook that is not one of the course's."""
    return _BY_FILE.get(PurePosixPath(str(name).replace("\\", "/")).name)


def files() -> list[str]:
    """The course's notebook file names, in syllabus order."""
    return [n.file for n in NOTEBOOKS]


def missing(names) -> list[str]:
    """The course's notebooks (file names, in syllabus order) that ``names`` (file names or paths) lacks."""
    have = {PurePosixPath(str(n).replace("\\", "/")).name for n in names}
    return [f for f in files() if f not in have]
