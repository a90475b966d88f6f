"""The grader on the course itself: every solution notebook scores full marks, every release scores zero with
"not attempted" for each exercise. (The Vietnamese twins share every check cell with these, which
tests/test_vietnamese_edition.py checks, nbval runs their checks, and grading a Vietnamese submission against its
own edition is tested there.)

Each notebook is graded cut to its graded cells (its setup cell, its solution cells and its check cells:
``_course.graded_cells_only``): nbval already runs every whole notebook once per run, with these checks in it,
and the demonstrations between the exercises give the checks nothing (the test below proves the cut is exact:
every check calls a function of a solution cell, and every name a solution cell uses comes from the setup or
from another solution cell).
"""
from __future__ import annotations

import ast

import nbformat
import pytest

from _course import NOTEBOOKS, SOLUTIONS, graded_cells_only
from lrcourse.grading.batch import pool
from lrcourse.grading.scoring.submission import load_releases

EDITIONS = ["", "vi/"]  # graded: the English; cut exactly: both


def _solutions() -> list:
    return [p for edition in EDITIONS for p in sorted((SOLUTIONS / edition).glob("*.ipynb"))]


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Every solution and every release, cut to its graded cells, graded in one run two at a time:
    ``{(kind, "02_lr_schedules.ipynb"): GradeResult}``."""
    root = tmp_path_factory.mktemp("course")
    paths, keys = [], []
    for kind, folder in (("solution", SOLUTIONS), ("release", NOTEBOOKS)):
        for edition in EDITIONS[:1]:
            for path in sorted((folder / edition).glob("*.ipynb")):
                # a folder per submission named after it: the file name is what matches it to its release
                target = root / kind / f"{edition.strip('/') or 'en'}-{path.stem}" / path.name
                target.parent.mkdir(parents=True)
                nbformat.write(graded_cells_only(nbformat.read(path, as_version=4)), target)
                paths.append(target)
                keys.append((kind, edition + path.name))
    results = pool.grade_all(paths, load_releases(NOTEBOOKS), timeout=300, jobs=2, progress=False)
    return dict(zip(keys, results, strict=True))


def test_every_solution_scores_full_marks(graded):
    """Each solution is matched to its own release."""
    solutions = {name: r for (kind, name), r in graded.items() if kind == "solution"}
    assert len(solutions) == 7
    for name, result in solutions.items():
        assert result.release == name and result.error is None, (name, result.error)
        failed = [(c.grade_id, c.message) for c in result.checks if c.status != "passed"]
        assert not failed and result.total == result.max_total == 10, (name, failed)


def test_every_release_scores_zero_and_each_exercise_is_not_attempted(graded):
    releases = {name: r for (kind, name), r in graded.items() if kind == "release"}
    assert len(releases) == 7
    for name, result in releases.items():
        assert result.release == name and result.total == 0 and result.max_total == 10, name
        assert {c.status for c in result.checks} == {"not attempted"}, name


def _names(source: str) -> tuple[set, set]:
    """The names a cell's code defines at its top level and the names it reads that it does not define itself."""
    tree = ast.parse("\n".join("pass" if line.lstrip().startswith(("%", "!")) else line for line in source.split("\n")))
    defined = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            defined.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            defined |= {(a.asname or a.name).split(".")[0] for a in node.names}
        else:
            defined |= {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    local = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    local |= {a.arg for n in ast.walk(tree) if isinstance(n, ast.arguments)
              for a in n.posonlyargs + n.args + n.kwonlyargs + [n.vararg, n.kwarg] if a is not None}
    local |= {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    local |= {(a.asname or a.name).split(".")[0] for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))
              for a in n.names}
    read = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    return defined, read - local


@pytest.mark.parametrize("path", _solutions(), ids=lambda p: p.relative_to(SOLUTIONS).as_posix())
def test_the_graded_cells_need_nothing_from_the_cells_left_out(path):
    """What ``graded_cells_only`` leaves out defines nothing that a kept cell reads (builtins aside), so the cut
    notebook's checks see what the whole notebook's see."""
    import builtins

    nb = nbformat.read(path, as_version=4)
    kept = graded_cells_only(nb)
    kept_ids = {c.id for c in kept.cells}
    dropped = set()
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.id not in kept_ids:
            dropped |= _names(cell.source)[0]
    available = set(dir(builtins))
    for cell in kept.cells:
        if cell.cell_type != "code":
            continue
        defined, read = _names(cell.source)
        assert not (read - available) & dropped, (cell.id, sorted((read - available) & dropped))
        available |= defined
    checks = [c for c in kept.cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert len(checks) == sum(1 for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade"))
