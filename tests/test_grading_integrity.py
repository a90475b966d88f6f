"""Integrity flags: code a submission added that reaches for the checks or the interpreter is named, never zeroed."""
from __future__ import annotations

import copy
from pathlib import Path

import nbformat
import pytest

from _course import tiny_release
from lrcourse.grading.reports import tables
from lrcourse.grading.scoring import grade as G
from lrcourse.grading.scoring.integrity import _flags_in, scan

ROOT = Path(__file__).resolve().parents[1]

FLAGGED = {
    "return ex.gd_step.reference(x, grad, lr)": ".reference",
    "ex.gd_step.mistakes[0].fn": ".mistakes",
    "ex.gd_step.cases": ".cases",
    "ex._record": "private attribute (._record)",
    "f.__globals__": "private attribute (.__globals__)",
    "from lrcourse.exercises import descent": "lrcourse.exercises",
    "from lrcourse import exercises": "lrcourse.exercises",
    "import lrcourse.exercises._core as core": "lrcourse.exercises",
    "import lrcourse.grading.scoring.grade": "lrcourse.grading",
    "import inspect": "inspect",
    "from inspect import getsource": "inspect",
    "import gc": "gc",
    "import ctypes": "ctypes",
    "import importlib": "importlib",
    "__import__('os')": "__import__",
    "import builtins": "builtins",
    "__builtins__.print = None": "__builtins__",
    "exec('x = 1')": "exec",
    "eval('1')": "eval",
    "compile('1', 'f', 'eval')": "compile",
    "get_ipython().showtraceback = None": "get_ipython",
    "import sys\nsys.modules.clear()": "sys.modules",
    "import sys\nsys.meta_path.insert(0, None)": "sys.meta_path",
    "import sys\nsys.settrace(None)": "sys.settrace",
    "import sys\nsys._getframe(1)": "sys._getframe",
    "from sys import modules": "modules",
    "import os\nos.kill(os.getppid(), 9)": "os.kill",
    "import signal": "signal",
    "%%time\nimport inspect": "inspect",
    "files = !ls\nget_ipython()": "get_ipython",
    "x = (": "does not parse",
}
CLEAN = ["def gd_step(x, grad, lr):\n    return x - lr * grad", "%timeit gd_step(1.0, 2.0, 0.1)\n!ls",
         "import numpy as np\nimport torch\nopt = torch.optim.SGD([torch.zeros(1)], lr=0.1)\nopt.param_groups[0]['lr']",
         "import os\nos.path.exists('x')", "import sys\nprint(sys.version)"]


@pytest.mark.parametrize("source", FLAGGED)
def test_each_reach_is_flagged_with_its_line(source):
    flags = _flags_in(source)
    assert flags and any(FLAGGED[source] in why for _, why in flags), flags
    last = source.count("\n") + 1
    assert all(1 <= line <= last for line, _ in flags)


@pytest.mark.parametrize("source", CLEAN)
def test_ordinary_code_is_not_flagged(source):
    assert _flags_in(source) == []


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "solutions").glob("*.ipynb")))
def test_the_course_own_solutions_raise_no_flag(name):
    solution = nbformat.read(ROOT / "solutions" / name, as_version=4)
    release = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    assert scan(solution, release) == []


def test_released_cells_are_not_read_and_flags_name_the_cell():
    release = tiny_release()
    nb = copy.deepcopy(release)
    nb.cells.append(nbformat.v4.new_code_cell("import inspect", id="mine"))
    assert scan(nb, release) == ["cell mine, line 1: introspects code (inspect)"]


def test_calling_the_reference_scores_and_is_flagged_in_every_report(tmp_path, tiny):
    releases, release = tiny
    nb = copy.deepcopy(release)
    cell = next(c for c in nb.cells if c.get("id") == "gd-step")
    cell.source = cell.source.split("def gd_step")[0] + (
        "def gd_step(x, grad, lr):\n    return ex.gd_step.reference(x, grad, lr)")
    path = tmp_path / "mallory" / "tiny.ipynb"
    path.parent.mkdir()
    nbformat.write(nb, path)
    result = G.grade_notebook(path, releases)
    assert (result.checks[0].status, result.checks[0].points) == ("passed", 1.0), result.checks[0]  # flagged, not zeroed
    assert result.integrity == ["cell gd_step, line 2: reads a check's reference implementation (.reference)"]
    assert "integrity flags (1): cell gd_step, line 2" in tables.table([result], releases)
    tables.write_json([result], tmp_path / "grades.json")
    assert ".reference" in (tmp_path / "grades.json").read_text()
