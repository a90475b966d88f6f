"""Scores come from positive evidence: a check's own pass record plus an ``ok`` reply, never a quiet cell.

Each submission below is the tiny release with its exercises unanswered and one way of getting points
without the work added before the first check. Each must score zero on every check, with a reason.
"""
from __future__ import annotations

import copy

import nbformat
import pytest

from lrcourse.exercises import _record
from lrcourse.grading.scoring import grade as G
from lrcourse.grading.scoring import score

FORGED = "print('✓ gd_step: all 4 cases pass (1/1 point)')"
NO_OP_CHECKS = ("for __e in (ex.gd_step, ex.lr_regime):\n"
                "    __e.check = lambda fn, __e=__e: print(f'✓ {__e.name}: all cases pass')\n")

TAMPERING = {
    "showtraceback silenced": "get_ipython().showtraceback = lambda *a, **k: None",
    "custom exception handler": "get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)",
    "both, and a forged pass line": "ip = get_ipython()\nip.showtraceback = lambda *a, **k: None\n"
                                    "ip.set_custom_exc((BaseException,), lambda *a, **k: None)\n" + FORGED,
    "AssertionError, print and display stubbed": (
        "import builtins, IPython.display\nbuiltins.AssertionError = type('AssertionError', (), {})\n"
        "builtins.print = lambda *a, **k: None\nIPython.display.display = lambda *a, **k: None"),
    "__import__ replaced so the reload is skipped": (
        NO_OP_CHECKS + "import builtins, sys\n_real = builtins.__import__\n"
        "def _import(name, globals=None, locals=None, fromlist=(), level=0):\n"
        "    if name.startswith('lrcourse.exercises'):\n"
        "        return sys.modules.get('lrcourse.exercises.descent') if fromlist else sys.modules['lrcourse']\n"
        "    return _real(name, globals, locals, fromlist, level)\n"
        "builtins.__import__ = _import"),
    "sys.modules swapped so the modules are never forgotten": (
        NO_OP_CHECKS + "import sys\n"
        "class _Keep(dict):\n    def __delitem__(self, key):\n        pass\n"
        "sys.modules = _Keep(sys.modules)"),
    "a meta_path finder that hands back the old modules": (
        NO_OP_CHECKS + "import sys, importlib.abc, importlib.util\n_old = dict(sys.modules)\n"
        "class _Loader(importlib.abc.Loader):\n"
        "    def create_module(self, spec):\n        return _old[spec.name]\n"
        "    def exec_module(self, module):\n        pass\n"
        "class _Finder(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path, target=None):\n"
        "        if name.startswith('lrcourse.exercises') and name in _old:\n"
        "            return importlib.util.spec_from_loader(name, _Loader())\n"
        "sys.meta_path.insert(0, _Finder())"),
    "ex deleted": "del ex",
    "ex redefined with checks that do nothing": (
        "class _Anything:\n    def __getattr__(self, name):\n        return self\n"
        "    def check(self, fn):\n        " + FORGED + "\nex = _Anything()"),
    "the checks' module patched in place": NO_OP_CHECKS,
    "a forged pass line": FORGED,
}


def _submission(tmp_path, release_nb, code: str, solution: str | None = None):
    nb = copy.deepcopy(release_nb)
    index = next(i for i, c in enumerate(nb.cells) if c.get("id") == "gd-step")
    if solution is not None:
        cell = nb.cells[index]
        cell.source = cell.source.split("def gd_step")[0] + solution
    first_code = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
    nb.cells.insert(first_code + 1, nbformat.v4.new_code_cell(code))
    path = tmp_path / "mallory" / "tiny.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


@pytest.mark.parametrize("how", TAMPERING)
def test_tampering_scores_zero_with_a_reason(how, tiny, tmp_path):
    releases, release_nb = tiny
    result = G.grade_notebook(_submission(tmp_path, release_nb, TAMPERING[how]), releases, timeout=60)
    assert result.error is None
    assert [c.grade_id for c in result.checks] == ["gd_step_test", "lr_regime_test"]
    for check in result.checks:
        assert check.points == 0.0, (how, check)
        assert check.status in ("failed", "not attempted") and check.message, (how, check)
    first = result.checks[0].message
    if "import" in how or "sys.modules" in how or "meta_path" in how:
        assert "the checks cannot be loaded untouched" in first, first
    elif how not in ("AssertionError, print and display stubbed",):
        assert first.startswith("NotAttemptedError: gd_step is not attempted yet"), first


def test_a_right_answer_still_scores_with_print_and_errors_silenced(tiny, tmp_path):
    """The pass record does not depend on what is displayed."""
    releases, release_nb = tiny
    code = ("import builtins\nget_ipython().showtraceback = lambda *a, **k: None\n"
            "builtins.print = lambda *a, **k: None")
    path = _submission(tmp_path, release_nb, code, solution="def gd_step(x, grad, lr):\n    return x - lr * grad")
    result = G.grade_notebook(path, releases, timeout=60)
    assert [(c.grade_id, c.status, c.points) for c in result.checks] == [
        ("gd_step_test", "passed", 1.0), ("lr_regime_test", "not attempted", 0.0)]
    check_cell = next(c for c in result.notebook.cells if c.source == "ex.gd_step.check(gd_step)")
    assert "__lrcourse" not in check_cell.source  # the graded notebook shows the check as released


def test_a_record_is_judged_by_its_key_its_cell_and_its_exercise():
    key = bytes(range(32))
    ok = {"status": "ok"}
    right = ("gd_step_test", "gd_step", _record.mac(key, "gd_step_test", "gd_step"))
    assert score._judge("gd_step_test", (key.hex(), "gd_step"), ok, [], {right}) == ("passed", "")
    wrong_key = ("gd_step_test", "gd_step", _record.mac(bytes(32), "gd_step_test", "gd_step"))
    other_cell = ("lr_regime_test", "gd_step", _record.mac(key, "lr_regime_test", "gd_step"))
    other_exercise = ("gd_step_test", "lr_regime", _record.mac(key, "gd_step_test", "lr_regime"))
    for passes in (set(), {wrong_key}, {other_cell}, {other_exercise}):
        status, message = score._judge("gd_step_test", (key.hex(), "gd_step"), ok, [], passes)
        assert status == "failed" and "pass record is missing" in message
    # a pass record is not enough when the kernel says the cell failed, even with no error shown
    error = {"status": "error", "ename": "NotAttemptedError", "evalue": "gd_step is not attempted yet"}
    assert score._judge("gd_step_test", (key.hex(), "gd_step"), error, [], {right})[0] == "not attempted"
    assert score._judge("gd_step_test", (key.hex(), "gd_step"), None, [], {right})[0] == "failed"


def test_outside_grading_a_pass_writes_nothing(tmp_path):
    path = tmp_path / "passes"
    _record.passed("gd_step")
    assert not path.exists()
    _record.arm("gd_step_test", "gd_step", bytes(32).hex(), str(path))
    _record.passed("lr_regime")  # another exercise's pass does not count for this cell, and disarms
    _record.passed("gd_step")
    assert not path.exists()
    _record.arm("gd_step_test", "gd_step", bytes(32).hex(), str(path))
    _record.passed("gd_step")
    assert path.read_text().split() == ["gd_step_test", "gd_step", _record.mac(bytes(32), "gd_step_test", "gd_step")]
