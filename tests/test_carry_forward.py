"""Error carried forward: a check that fails only because the learner's function calls their own failing answer
to an earlier exercise says so, names that exercise, and tells the grader (a pass-record-like line), which awards
the check its points by default; a function with a mistake of its own gets no such pass."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lrcourse.exercises import _record
from lrcourse.exercises import descent as ex

GD = '''
def gradient_descent(grad, x0, lr, num_steps, max_norm=1e6):
    x = np.array(x0, dtype=float)
    points, diverged = [x], False
    for _ in range(num_steps):
        x = gd_step(x, grad(x), lr)
        if not np.all(np.isfinite(x)) or np.linalg.norm(x) > max_norm:
            diverged = True
            break
        points.append(x)
    return np.array(points), diverged
'''
BASIN = '''
def basin_reached(loss, x0, lr, num_steps=200):
    points, diverged = gradient_descent(loss.grad, np.array([x0], dtype=float), lr, num_steps)
    if diverged:
        return "diverged"
    x = points[-1][0]
    return "local" if abs(x - loss.local_min) < abs(x - loss.global_min) else "global"
'''
RIGHT_STEP = "def gd_step(x, grad, lr):\n    return x - lr * grad\n"
WRONG_STEP = "def gd_step(x, grad, lr):\n    return x + lr * grad\n"


def _notebook(*sources: str) -> dict:
    """A learner's namespace, as a notebook's cells leave it."""
    namespace: dict = {"np": np}
    for source in sources:
        exec(source, namespace)
    return namespace


def _failure(exercise, fn) -> str:
    with pytest.raises(AssertionError) as info:
        exercise.check(fn)
    return str(info.value)


def test_a_right_function_that_calls_a_wrong_earlier_answer_is_told_so():
    learner = _notebook(WRONG_STEP, GD)
    message = _failure(ex.gradient_descent, learner["gradient_descent"])
    assert message.startswith("gradient_descent itself is right: it fails only because it calls your gd_step, "
                              "which fails its own check; with the right gd_step it passes. Fix gd_step first")
    assert learner["gd_step"].__code__.co_consts  # the learner's namespace is left as it was
    assert learner["gradient_descent"].__globals__["gd_step"] is learner["gd_step"]


def test_the_root_is_named_through_the_functions_in_between(capsys):
    """basin_reached calls gradient_descent, which calls gd_step: the root is gd_step, named through
    gradient_descent; a right gd_step makes both pass."""
    learner = _notebook(WRONG_STEP, GD, BASIN)
    message = _failure(ex.basin_reached, learner["basin_reached"])
    assert "it fails only because it calls your gd_step (through your gradient_descent)" in message
    right = _notebook(RIGHT_STEP, GD, BASIN)
    ex.gradient_descent.check(right["gradient_descent"])
    ex.basin_reached.check(right["basin_reached"])
    assert capsys.readouterr().out.count("✓") == 2


def test_a_mistake_of_its_own_is_not_carried_forward():
    """gradient_descent that also forgets to stop on divergence still fails with the right gd_step: its own
    mistake, reported as such."""
    own = GD.replace("diverged = True\n            break", "diverged = True")
    message = _failure(ex.gradient_descent, _notebook(WRONG_STEP, own)["gradient_descent"])
    assert "itself is right" not in message
    assert "itself is right" not in _failure(ex.gradient_descent, _notebook(RIGHT_STEP, own)["gradient_descent"])


def test_a_function_that_does_not_call_the_earlier_answer_is_judged_alone():
    inline = GD.replace("x = gd_step(x, grad(x), lr)", "x = x + lr * grad(x)")
    message = _failure(ex.gradient_descent, _notebook(WRONG_STEP, inline)["gradient_descent"])
    assert "itself is right" not in message


def test_the_grader_gets_a_carried_record_only_for_the_armed_exercise(tmp_path):
    records = tmp_path / "passes"
    key = "ab" * 32
    learner = _notebook(WRONG_STEP, GD)
    _record.arm("gradient_descent_test", "gradient_descent", key, str(records))
    with pytest.raises(AssertionError):
        ex.gradient_descent.check(learner["gradient_descent"])
    gid, name, mac = records.read_text().split()
    assert (gid, name) == ("gradient_descent_test", "gradient_descent<gd_step")
    assert mac == _record.mac(bytes.fromhex(key), gid, name)
    _record.arm("lr_regime_test", "lr_regime", key, str(records))  # armed for another exercise: nothing written
    with pytest.raises(AssertionError):
        ex.gradient_descent.check(learner["gradient_descent"])
    assert len(records.read_text().splitlines()) == 1


def test_the_score_trusts_a_carried_record_only_with_its_key():
    from lrcourse.grading.scoring.score import _carried_root

    key = "cd" * 32
    good = _record.mac(bytes.fromhex(key), "gd_test", "gradient_descent<gd_step")
    assert _carried_root("gd_test", (key, "gradient_descent"), {("gd_test", "gradient_descent<gd_step", good)}) \
        == "gd_step"
    assert _carried_root("gd_test", (key, "gradient_descent"), {("gd_test", "gradient_descent<gd_step", "0" * 64)}) \
        is None
    assert _carried_root("gd_test", (key, "basin_reached"), {("gd_test", "gradient_descent<gd_step", good)}) is None
    assert _carried_root("other", (key, "gradient_descent"), {("gd_test", "gradient_descent<gd_step", good)}) is None


def test_reports_count_the_root_once_and_say_what_was_carried(tmp_path):
    from lrcourse.grading.reports import classreport, feedback, tables
    from lrcourse.grading.results import CheckResult, GradeResult, from_document, to_document

    r = GradeResult(Path("alice/01_gradient_descent.ipynb"), "01_gradient_descent.ipynb")
    r.checks = [CheckResult("gd_step_test", 0.0, 1.0, "failed", "AssertionError: ...", "gd_step",
                            "Did you add the gradient instead of subtracting it?"),
                CheckResult("gradient_descent_test", 2.0, 2.0, "carried forward", "AssertionError: ...",
                            "gradient_descent", None, "gd_step_test")]
    assert tables._note(r) == "gradient_descent_test carried forward from gd_step_test"
    again, _ = from_document(to_document([r], {}))
    assert again[0].checks[1].carried_from == "gd_step_test"
    page = feedback.render(r)
    assert "carried forward" in page and "Your mistake is in gd_step_test" in page
    report = classreport.render([r], {})
    assert "1 check failed only because the same student" in report
    counted = classreport.summary([r])["01_gradient_descent.ipynb"]["checks"]
    assert sum(c["mistakes"].total() for c in counted.values()) == 1
