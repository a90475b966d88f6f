"""Step 1 of grading one notebook: rewrite its check cells so that each check is loaded untouched and can record a pass.

Before every check cell goes code (:func:`_check_prefix`) that imports the exercise checks afresh and arms
the cell's *pass record* (:mod:`lrcourse.exercises._record`) under a key drawn for this cell and this run.
:func:`arm` rewrites the cells in place and returns what scoring needs (the keys); :func:`disarm` puts the
released source back, so that the graded notebook shows each check as released.
"""
from __future__ import annotations

import re
import secrets
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from ... import syllabus
from .submission import test_cells

__all__ = ["Armed", "arm", "disarm", "exercise_module"]

_MODULE = re.compile(r"from\s+lrcourse\.exercises\s+import\s+(\w+)\s+as\s+ex\b")


def exercise_module(name: str, release: nbformat.NotebookNode) -> str | None:
    """The ``lrcourse.exercises`` module that holds the checks of the release called ``name``: the syllabus's for a
    notebook of the course (:mod:`lrcourse.syllabus`), else the module the release imports as ``ex`` (an
    instructor's own notebook in the course's format)."""
    entry = syllabus.notebook(name)
    if entry is not None:
        return entry.exercises
    for cell in release.cells:
        match = _MODULE.search(cell.source) if cell.cell_type == "code" else None
        if match:
            return match.group(1)
    return None


def _check_prefix(module: str | None, grade_id: str, exercise: str | None, key: str, records: Path,
                  seed: int | None = None) -> str:
    """Code run before a check cell: import the checks afresh and untouched, and arm the cell's pass record.

    Every ``lrcourse.exercises`` module is forgotten and imported again, so a solution that replaced
    ``ex.gd_step.check`` (or anything in the checks) changes nothing. The import must give new module
    objects, from one folder, through the interpreter's own ``__import__``; otherwise the cell
    raises, and scores zero, with the reason. (The kernel's lrcourse may be another install than the
    grader's, e.g. a kernelspec of another environment: the check module and the pass-record module must
    come from one folder.)
    """
    if module is None:
        return ""
    return (
        "import sys as __lrcourse_sys, builtins as __lrcourse_builtins, types as __lrcourse_types, os as __lrcourse_os\n"
        "__lrcourse_old = [__m for __n, __m in list(__lrcourse_sys.modules.items()) "
        "if __n.startswith('lrcourse.exercises')]  # held, so a new module cannot reuse an old one's id\n"
        "for __lrcourse_name in [__n for __n in list(__lrcourse_sys.modules) if __n.startswith('lrcourse.exercises')]:\n"
        "    del __lrcourse_sys.modules[__lrcourse_name]\n"
        "if not isinstance(__lrcourse_builtins.__import__, __lrcourse_types.BuiltinFunctionType):\n"
        "    raise RuntimeError('the checks cannot be loaded untouched: __import__ was replaced')\n"
        f"from lrcourse.exercises import {module} as ex\n"
        "from lrcourse.exercises import _record as __lrcourse_record\n"
        "for __m in (ex, __lrcourse_record):\n"
        "    if any(__m is __o for __o in __lrcourse_old) or __lrcourse_os.path.dirname(str(getattr(__m, '__file__', \"\"))) \\\n"
        "            != __lrcourse_os.path.dirname(str(getattr(__lrcourse_record, '__file__', '?'))):\n"
        "        raise RuntimeError('the checks cannot be loaded untouched: the import of '\n"
        "                           + __m.__name__ + ' did not give the installed module afresh')\n"
        "del __lrcourse_old, __m\n"
        f"__lrcourse_record.arm({grade_id!r}, {exercise!r}, {key!r}, {str(records)!r}, seed={seed!r})\n"
    )


_CHECKED = re.compile(r"^\s*ex\.(\w+)\.check\(", re.MULTILINE)


@dataclass
class Armed:
    """The check cells of one run, rewritten: their keys, their released source, and where passes are recorded."""

    module: str | None  # the lrcourse.exercises module of the checks
    records: Path  # the file the checks append pass records to
    keys: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # grade_id -> (key, exercise it checks)
    originals: dict[int, str] = field(default_factory=dict)  # id(cell) -> its source before arming


def arm(nb: nbformat.NotebookNode, release: nbformat.NotebookNode, release_name: str,
        seed: int | None = None) -> Armed:
    """Rewrite the check cells of ``nb`` (a submission whose checks were restored from ``release``) in place."""
    module = exercise_module(release_name, release)
    armed = Armed(module, Path(tempfile.mkdtemp(prefix="lrcourse-records-")) / "passes")
    released_source = {gid: cell.source for gid, cell in test_cells(release)}
    for gid, cell in test_cells(nb):
        if cell.cell_type != "code" or module is None:
            continue
        found = _CHECKED.findall(released_source.get(gid, cell.source))
        armed.keys[gid] = (secrets.token_hex(32), found[0] if len(found) == 1 else None)
        armed.originals[id(cell)] = cell.source
        cell.source = _check_prefix(module, gid, armed.keys[gid][1], armed.keys[gid][0], armed.records, seed) + \
            cell.source
    return armed


def disarm(nb: nbformat.NotebookNode, armed: Armed) -> None:
    """Put back the source every armed cell had (the graded notebook shows each check as released)."""
    for cell in nb.cells:
        if id(cell) in armed.originals:
            cell.source = armed.originals[id(cell)]
