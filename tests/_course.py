"""What the tests share: the course's paths, the solution notebooks' own functions, and the notebooks that the
grading tests grade (the tiny release, a student answering it, a whole notebook cut to its graded cells).

Tests import these (``from _course import ...``); the fixtures built on them live in ``conftest.py``. Nothing
here imports nbformat (or anything but the standard library) before it is used: ``benchmarks/gpu_check.py`` runs
``tests/test_cuda.py`` on a bare GPU image that lacks it.
"""
from __future__ import annotations

import copy
import os
import functools
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"
NOTEBOOKS = ROOT / "notebooks"
#: Seconds each solution notebook takes, executed headless with one torch thread on a 2-core x86-64 machine: the
#: order in which the suite starts them (tests/conftest.py) and the browser runs them. Rough is enough.
NOTEBOOK_SECONDS = {"01": 18, "02": 27, "03": 26, "04": 20, "05": 36, "06": 81, "07": 35}


def solution_paths() -> list[Path]:
    """The English solution notebooks, in syllabus order."""
    return sorted(SOLUTIONS.glob("*.ipynb"))


@functools.lru_cache(maxsize=None)
def solution_namespace(name: str) -> dict:
    """The learner-facing functions as solution notebook ``name`` defines them (its solution cells, executed)."""
    import math

    import numpy as np
    import torch

    import nbformat

    from lrcourse import losses, optimizers, plateau, schedules

    nb = nbformat.read(SOLUTIONS / name, as_version=4)
    namespace: dict = {"np": np, "math": math, "schedules": schedules, "losses": losses,
                       "optimizers": optimizers, "plateau": plateau, "torch": torch, "nn": torch.nn,
                       "F": torch.nn.functional}
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            exec(cell.source, namespace)
    return namespace


def marked_processes(token: str) -> list[int]:
    """The processes (Linux: read from /proc) whose environment carries ``LRCOURSE_TEST_KERNELS=token``: what a test of
    the kernel tier started (tests/conftest.py)."""
    wanted, found = f"LRCOURSE_TEST_KERNELS={token}".encode(), []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if int(entry.name) != os.getpid() and wanted in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except (OSError, ValueError):
            continue
    return found


def graded_cells_only(nb):
    """``nb`` with its code cut to what grading needs: the setup cell (the first code cell), the solution cells
    and the check cells. The demonstrations between them are dropped (the prose stays: it costs nothing to run).

    Every check cell calls ``ex.<exercise>.check(<function>)`` on a function of a solution cell, and the solution
    cells use only the setup's imports, so the checks see what they see in the whole notebook; nbval runs the
    whole notebook, with these checks in it, once per run. ``tests/test_grading_course.py`` proves both.
    """
    nb = copy.deepcopy(nb)
    first = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
    nb.cells = [c for i, c in enumerate(nb.cells)
                if c.cell_type != "code" or i == first or c.metadata.get("nbgrader", {}).get("grade_id")]
    return nb


def tiny_release():
    """A small released notebook for grading tests: notebook 01 up to its second check (gd_step, lr_regime)."""
    import nbformat

    nb = nbformat.read(NOTEBOOKS / "01_gradient_descent.ipynb", as_version=4)
    nb.cells = nb.cells[:10]
    return nb


TINY_SOLUTION = "def gd_step(x, grad, lr):\n    return x - lr * grad"
TINY_WRONG = "def gd_step(x, grad, lr):\n    return x + lr * grad"


def answered(release_nb, solution: str = TINY_SOLUTION, cell: str | None = None):
    """The tiny release with ``gd_step`` answered by ``solution`` and, if given, a code ``cell`` right after it."""
    import nbformat

    nb = copy.deepcopy(release_nb)
    index = next(i for i, c in enumerate(nb.cells) if c.get("id") == "gd-step")
    nb.cells[index].source = nb.cells[index].source.split("def gd_step")[0] + solution
    if cell is not None:
        nb.cells.insert(index + 1, nbformat.v4.new_code_cell(cell))
    return nb


def tiny_student(root: Path, name: str, release_nb, solution: str = TINY_SOLUTION, cell: str | None = None) -> Path:
    """``root/name/tiny.ipynb``: :func:`answered` written to disk (grading tests: an honest student, or one that
    attacks the grader)."""
    import nbformat

    path = root / name / "tiny.ipynb"
    path.parent.mkdir(parents=True)
    nbformat.write(answered(release_nb, solution, cell), path)
    return path


def small_class(root: Path) -> Path:
    """A class answering the tiny release, in ``root/submissions``, and the release in ``root/release``:

    ========================  =================================================================
    alice/tiny.ipynb          the right answer
    bob/tiny.ipynb            the release untouched: not attempted
    carol/tiny.ipynb          an empty file
    dave/tiny.ipynb           malformed JSON
    erin/homework.ipynb       a notebook of another course
    frank/tiny.ipynb          the right answer, its check cell rewritten to print a pass line
    gina/tiny.ipynb           the right answer, its check cell deleted
    hank/tiny.ipynb           the right answer, its check cell duplicated
    wendy/, walt/tiny.ipynb   the gradient added instead of subtracted (a known mistake), twice
    mallory/tiny.ipynb        right only on the learning rates the notebook shows (hidden cases catch it)
    dora/tiny.ipynb and       two submissions of one student (both untouched)
    dora/old/tiny.ipynb
    ivan.ipynb                a file per student (untouched)
    ========================  =================================================================

    Eleven of them start a kernel when graded; the instructor's folder ``root/out/feedback`` already holds two
    files of the instructor's own (``notes.txt`` and ``alice__tiny.html``), which grading must keep.
    """
    import nbformat

    release = tiny_release()
    (root / "release").mkdir(parents=True)
    nbformat.write(release, root / "release" / "tiny.ipynb")
    subs = root / "submissions"

    def put(relative: str, nb=None, raw: bytes | None = None) -> None:
        path = subs / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if raw is not None:
            path.write_bytes(raw)
        else:
            nbformat.write(nb, path)

    good = answered(release)
    put("alice/tiny.ipynb", good)
    put("bob/tiny.ipynb", release)
    put("carol/tiny.ipynb", raw=b"")
    put("dave/tiny.ipynb", raw=b'{"cells": [')
    put("erin/homework.ipynb", nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(1)")]))
    edited = copy.deepcopy(good)
    next(c for c in edited.cells if c.get("id") == "gd-step-test").source = \
        "print('✓ gd_step: all 4 cases pass (1/1 point)')"
    put("frank/tiny.ipynb", edited)
    deleted = copy.deepcopy(good)
    deleted.cells = [c for c in deleted.cells if c.get("id") != "gd-step-test"]
    put("gina/tiny.ipynb", deleted)
    doubled = copy.deepcopy(good)
    twin = copy.deepcopy(next(c for c in doubled.cells if c.get("id") == "gd-step-test"))
    twin["id"] = "twin"
    doubled.cells.append(twin)
    put("hank/tiny.ipynb", doubled)
    put("wendy/tiny.ipynb", answered(release, TINY_WRONG))
    put("walt/tiny.ipynb", answered(release, TINY_WRONG))
    put("mallory/tiny.ipynb", answered(release, "def gd_step(x, grad, lr):\n"
                                                "    return x - lr * grad if lr in (0.1, 0.5, 0.3, 2.5) else x\n"))
    put("dora/tiny.ipynb", release)
    put("dora/old/tiny.ipynb", release)
    put("ivan.ipynb", release)
    feedback = root / "out" / "feedback"
    feedback.mkdir(parents=True)
    (feedback / "notes.txt").write_text("the instructor's own file")
    (feedback / "alice__tiny.html").write_text("<html>the instructor's own page</html>")
    return subs


#: How the small class is graded: as an instructor would, with hidden cases.
CLASS_SEED = 5


def _snapshot(folder: Path) -> dict:
    return {p: p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def grade_small_class(root: Path):
    """:func:`small_class` graded once by ``lrcourse grade`` into ``root/out`` (table, CSV, JSON, feedback, report);
    what it printed and the submissions' bytes before and after are kept for the tests to read."""
    import contextlib
    import io
    from types import SimpleNamespace

    from lrcourse.cli import main

    subs = small_class(root)
    out = root / "out"
    before = _snapshot(subs)
    stdout, stderr = io.StringIO(), io.StringIO()
    args = ["grade", str(subs), "--release-dir", str(root / "release"), "--jobs", "2", "--seed", str(CLASS_SEED),
            "--timeout", "30", "--csv", str(out / "scores.csv"), "--json", str(out / "grades.json"),
            "--feedback", str(out / "feedback"), "--report", str(out / "report.html")]
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        status = main(args)
    return SimpleNamespace(root=root, release=root / "release", submissions=subs, out=out, args=args, status=status,
                           stdout=stdout.getvalue(), stderr=stderr.getvalue(), before=before, after=_snapshot(subs),
                           csv=out / "scores.csv", json=out / "grades.json", feedback=out / "feedback",
                           report=out / "report.html")
