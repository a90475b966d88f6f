"""Shared fixtures: paths of the course, a headless matplotlib, and strict claims of the text."""
from __future__ import annotations

import functools
import os
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")
# The claims of the text are errors here: nbval's kernels (and every kernel a test starts) inherit this,
# so a change that moves a number the prose quotes fails the suite (lrcourse.claims).
os.environ["LRCOURSE_STRICT_CLAIMS"] = "1"

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"
NOTEBOOKS = ROOT / "notebooks"


def solution_paths() -> list[Path]:
    return sorted(SOLUTIONS.glob("*.ipynb"))


@functools.lru_cache(maxsize=None)
def solution_namespace(name: str) -> dict:
    """The learner-facing functions as solution notebook ``name`` defines them (its solution cells, executed)."""
    import math

    import nbformat
    import numpy as np
    import torch

    from lrcourse import losses, optimizers, plateau, schedules

    nb = nbformat.read(SOLUTIONS / name, as_version=4)
    namespace: dict = {"np": np, "math": math, "schedules": schedules, "losses": losses,
                       "optimizers": optimizers, "plateau": plateau, "torch": torch, "nn": torch.nn,
                       "F": torch.nn.functional}
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            exec(cell.source, namespace)
    return namespace


def tiny_release():
    """A small released notebook for grading tests: notebook 01 up to its second check (gd_step, lr_regime)."""
    import nbformat

    nb = nbformat.read(NOTEBOOKS / "01_gradient_descent.ipynb", as_version=4)
    nb.cells = nb.cells[:10]
    return nb


TINY_SOLUTION = "def gd_step(x, grad, lr):\n    return x - lr * grad"


def tiny_student(root, name, release_nb, solution=TINY_SOLUTION, cell=None):
    """``root/name/tiny.ipynb``: the tiny release with ``gd_step`` answered by ``solution`` and, if given, a
    code ``cell`` right after it (grading tests: an honest student, or one that attacks the grader)."""
    import copy

    import nbformat

    nb = copy.deepcopy(release_nb)
    index = next(i for i, c in enumerate(nb.cells) if c.get("id") == "gd-step")
    nb.cells[index].source = nb.cells[index].source.split("def gd_step")[0] + solution
    if cell is not None:
        nb.cells.insert(index + 1, nbformat.v4.new_code_cell(cell))
    path = root / name / "tiny.ipynb"
    path.parent.mkdir(parents=True)
    nbformat.write(nb, path)
    return path


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """``(releases, release notebook)``: a release folder holding :func:`tiny_release`."""
    import nbformat

    from lrcourse.grading import submission

    nb = tiny_release()
    folder = tmp_path_factory.mktemp("release")
    nbformat.write(nb, folder / "tiny.ipynb")
    return submission.load_releases(folder), nb
