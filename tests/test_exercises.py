"""Exercise checks: they accept each notebook's solutions and reject wrong answers.

The first tests run over every notebook's exercise module; the rest are about
notebook 01's checks and the shared machinery (``test_exercises_schedules.py``
has notebook 02's wrong answers).
"""
from __future__ import annotations

import importlib
import re

import nbformat
import numpy as np
import pytest

from _course import NOTEBOOKS, SOLUTIONS, solution_namespace
from lrcourse import syllabus
from lrcourse.exercises import NotAttemptedError
from lrcourse.exercises import descent as ex
from lrcourse.exercises import finetune as ex_finetune
from lrcourse.exercises import optimizers as ex_optimizers
from lrcourse.exercises import plateau as ex_plateau
from lrcourse.exercises import scale as ex_scale
from lrcourse.exercises import schedules as ex_schedules
from lrcourse.exercises import search as ex_search
from lrcourse.exercises._core import fmt
from test_exercises_finetune import WRONG_ANSWERS as FINETUNE_WRONG_ANSWERS
from test_exercises_optimizers import WRONG_ANSWERS as OPTIMIZER_WRONG_ANSWERS
from test_exercises_plateau import WRONG_ANSWERS as PLATEAU_WRONG_ANSWERS
from test_exercises_scale import WRONG_ANSWERS as SCALE_WRONG_ANSWERS
from test_exercises_schedules import WRONG_ANSWERS as SCHEDULE_WRONG_ANSWERS
from test_exercises_search import WRONG_ANSWERS as SEARCH_WRONG_ANSWERS

#: Every graded notebook and the module that holds its checks (from the syllabus).
MODULES = {n.file: importlib.import_module(n.exercise_module) for n in syllabus.NOTEBOOKS}
ALL_EXERCISES = [(nb, e) for nb, module in MODULES.items() for e in module.EXERCISES]


def _ids(value):
    return getattr(value, "name", None) or getattr(value, "message", "")[:40] or str(value)[:2]


def _nbgrader_cells(nb):
    return [c for c in nb.cells if "nbgrader" in c.metadata]


@pytest.fixture(scope="module")
def solutions() -> dict:
    """The learner-facing functions as each solution notebook defines them."""
    return {name: solution_namespace(name) for name in MODULES}


def test_every_solution_notebook_has_an_exercise_module():
    graded = {p.name for p in SOLUTIONS.glob("*.ipynb")}
    assert graded <= set(MODULES)


#: lrcourse modules any notebook may use without the syllabus naming them: the course's own machinery.
_MACHINERY = {"plotting", "widgets", "claims", "exercises", "i18n"}


@pytest.mark.parametrize("folder", [SOLUTIONS, SOLUTIONS / "vi", NOTEBOOKS, NOTEBOOKS / "vi"],
                         ids=["solutions", "solutions-vi", "notebooks", "notebooks-vi"])
def test_the_syllabus_lists_exactly_the_notebooks_of_each_edition(folder):
    assert sorted(p.name for p in folder.glob("*.ipynb")) == syllabus.files()


@pytest.mark.parametrize("entry", syllabus.NOTEBOOKS, ids=lambda n: n.stem)
def test_each_notebook_imports_its_checks_and_the_modules_it_teaches(entry):
    from lrcourse.grading.scoring.rewrite import exercise_module as _exercise_module

    nb = nbformat.read(SOLUTIONS / entry.file, as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert f"from lrcourse.exercises import {entry.exercises} as ex" in code
    used = set()
    for names in re.findall(r"^from lrcourse import ([\w, ]+)$", code, re.MULTILINE):
        used |= {n.strip() for n in names.split(",")}
    used |= set(re.findall(r"^from lrcourse\.(\w+)", code, re.MULTILINE))
    assert set(entry.library) <= used, f"{entry.file} does not import {set(entry.library) - used}"
    taught = {m for n in syllabus.NOTEBOOKS for m in n.library}
    assert used - _MACHINERY <= taught, f"{entry.file} uses {used - _MACHINERY - taught}, which no notebook teaches"
    # the grader finds the same module in the release's own import as in the syllabus
    renamed = nbformat.read(NOTEBOOKS / entry.file, as_version=4)
    assert _exercise_module("not_in_the_syllabus.ipynb", renamed) == _exercise_module(entry.file, renamed) \
        == entry.exercises
    assert syllabus.notebook(f"vi/{entry.file}") is entry and importlib.import_module(entry.exercise_module)


def test_the_syllabus_answers_for_unknown_notebooks_and_names_what_is_missing():
    assert syllabus.notebook("tiny.ipynb") is None
    assert syllabus.missing(["a/01_gradient_descent.ipynb", "02_lr_schedules.ipynb"]) == syllabus.files()[2:]
    assert syllabus.missing(syllabus.files()) == []
    assert all(n.budget_s <= syllabus.BUDGET_S for n in syllabus.NOTEBOOKS)


@pytest.mark.parametrize("notebook, exercise", ALL_EXERCISES, ids=_ids)
def test_check_accepts_the_notebook_solution(notebook, exercise, solutions, capsys):
    exercise.check(solutions[notebook][exercise.name])
    out, err = capsys.readouterr()
    assert out == f"✓ {exercise.name}: all {len(exercise.cases)} cases pass " \
                  f"({exercise.points}/{exercise.points} point{'s' if exercise.points > 1 else ''})\n"
    assert err == ""


@pytest.mark.parametrize("notebook, exercise", ALL_EXERCISES, ids=_ids)
def test_check_accepts_the_library_reference(notebook, exercise, capsys):
    exercise.check(exercise.reference)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    "exercise, mistake",
    [(e, m) for _, e in ALL_EXERCISES for m in e.mistakes],
    ids=_ids,
)
def test_check_rejects_each_known_mistake_and_explains_it(exercise, mistake, capsys):
    with pytest.raises(AssertionError) as info:
        exercise.check(mistake.fn)
    message = str(info.value)
    assert mistake.message in message
    assert f"Call ex.{exercise.name}.hint() for a hint." in message
    assert f"{exercise.name}(" in message and "expected" in message
    assert not isinstance(info.value, NotAttemptedError)
    assert capsys.readouterr() == ("", "")


@pytest.mark.parametrize("notebook, exercise", ALL_EXERCISES, ids=_ids)
def test_every_exercise_knows_several_mistakes(notebook, exercise):
    assert len(exercise.mistakes) >= 3


def _gd_step_in_place(x, grad, lr):
    x -= lr * grad
    return x


def _gd_norm_of_grad(grad, x0, lr, num_steps, max_norm=1e6):
    x, points = np.array(x0, dtype=float), [np.array(x0, dtype=float)]
    for _ in range(num_steps):
        g = grad(x)
        x = x - lr * g
        if not np.all(np.isfinite(x)) or np.linalg.norm(g) > max_norm:
            return np.array(points), True
        points.append(x)
    return np.array(points), False


def _gd_only_isfinite(grad, x0, lr, num_steps, max_norm=1e6):
    x, points = np.array(x0, dtype=float), [np.array(x0, dtype=float)]
    with np.errstate(all="ignore"):
        for _ in range(num_steps):
            x = x - lr * grad(x)
            if not np.all(np.isfinite(x)):
                return np.array(points), True
            points.append(x)
    return np.array(points), False


def _basin_by_loss_value(loss, x0, lr, num_steps=200):
    """The basin whose minimum's loss is nearer the final point's loss (not the nearer minimum): a learner's probe."""
    from lrcourse import descent

    run = descent.run(loss, [x0], lr, num_steps=num_steps)
    if run.diverged:
        return "diverged"
    f = float(loss.value(run.points[-1]))
    near_local = abs(f - float(loss.value([loss.local_min]))) < abs(f - float(loss.value([loss.global_min])))
    return "local" if near_local else "global"


WRONG_ANSWERS = {
    "gd_step": [
        lambda x, grad, lr: x,
        lambda x, grad, lr: np.sum(x - lr * grad),
        lambda x, grad, lr: list(x - lr * grad) + [0.0],
        lambda x, grad, lr: x - lr * grad * 0.5,
        _gd_step_in_place,
    ],
    "gradient_descent": [
        lambda grad, x0, lr, num_steps, max_norm=1e6: ex._gradient_descent_reference(grad, x0, lr, num_steps, max_norm)[::-1],
        lambda grad, x0, lr, num_steps, max_norm=1e6: ex._gradient_descent_reference(grad, x0, lr, num_steps, max_norm)[0],
        lambda grad, x0, lr, num_steps, max_norm=1e6: ex._gradient_descent_reference(grad, x0, 2 * lr, num_steps, max_norm),
        lambda grad, x0, lr, num_steps, max_norm=1e6: (ex._gradient_descent_reference(grad, x0, lr, num_steps, max_norm)[0], "no"),
        _gd_norm_of_grad,
        _gd_only_isfinite,
    ],
    "max_stable_lr": [
        lambda H: 2.0 / np.max(np.abs(H)),
        lambda H: 2.0 / np.linalg.norm(H),
        lambda H: np.linalg.eigvalsh(H),
        lambda H: 2 / np.linalg.eigvalsh(H)[-1] - 1e-6,
        lambda H: 2 / np.linalg.eigvals(H).real[-1],  # eigvals' order is not sorted: right on all but diag(1, 5, 3)
    ],
    "optimal_lr": [
        lambda H: 2.0 / (np.linalg.eigvalsh(H)[0] + np.linalg.eigvalsh(H)[-1]),
        lambda H: (1.0, 0.0),
        lambda H: (2.0 / (np.linalg.eigvalsh(H)[-1] + np.linalg.eigvalsh(H)[0]), "fast"),
        lambda H: [2.0 / np.linalg.eigvalsh(H)[-1], 0.5],
        # mu and L as the first and last of np.linalg.eigvals, the rate made positive with abs()
        lambda H: (lambda ev: (2 / (ev[0] + ev[-1]), abs(ev[-1] - ev[0]) / (ev[0] + ev[-1])))(np.linalg.eigvals(H).real),
    ],
    "lr_regime": [
        lambda a, lr: "Slow" if lr * a < 0.1 else ex._lr_regime_reference(a, lr),
        lambda a, lr: ex._lr_regime_reference(1.0, lr),
        lambda a, lr: "converges" if lr * a < 2 else "divergent",
        lambda a, lr: None,
    ],
    "basin_reached": [
        _basin_by_loss_value,
        lambda loss, x0, lr, num_steps=200: {"local": "global", "global": "local"}.get(
            ex._basin_reference(loss, x0, lr, num_steps), "diverged"),
        lambda loss, x0, lr, num_steps=200: ex._basin_reference(loss, x0, lr, 5),
        lambda loss, x0, lr, num_steps=200: "global",
        lambda loss, x0, lr, num_steps=200: 0,
    ],
}


#: Each check module and its wrong answers (notebooks 02-07's live in their own test files).
WRONG_BY_MODULE = {ex: WRONG_ANSWERS, ex_schedules: SCHEDULE_WRONG_ANSWERS, ex_optimizers: OPTIMIZER_WRONG_ANSWERS,
                   ex_plateau: PLATEAU_WRONG_ANSWERS, ex_search: SEARCH_WRONG_ANSWERS,
                   ex_finetune: FINETUNE_WRONG_ANSWERS, ex_scale: SCALE_WRONG_ANSWERS}


@pytest.mark.parametrize("module", WRONG_BY_MODULE, ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_every_exercise_has_wrong_answers(module):
    assert set(WRONG_BY_MODULE[module]) == {e.name for e in module.EXERCISES}
    assert set(WRONG_BY_MODULE) == set(MODULES.values())


@pytest.mark.parametrize("module, name, index", [
    (m, n, i) for m, answers in WRONG_BY_MODULE.items() for n, fns in answers.items() for i in range(len(fns))
], ids=lambda v: v.__name__.rsplit(".", 1)[-1] if hasattr(v, "__name__") else str(v))
def test_check_rejects_other_wrong_answers(module, name, index, capsys):
    exercise = getattr(module, name)
    with pytest.raises(AssertionError) as info:
        exercise.check(WRONG_BY_MODULE[module][name][index])
    assert not isinstance(info.value, NotAttemptedError)
    assert f"{name}(" in str(info.value) or "check expected" in str(info.value)
    assert capsys.readouterr().err == ""


def test_in_place_update_is_reported_as_such():
    with pytest.raises(AssertionError, match="changed its input x in place"):
        ex.gd_step.check(_gd_step_in_place)


def test_the_failure_message_names_input_expected_and_returned():
    with pytest.raises(AssertionError) as info:
        ex.gd_step.check(lambda x, grad, lr: x + lr * grad)
    assert str(info.value) == (
        "gd_step(x=[1.0, -2.0], grad=[0.5, 0.5], lr=0.1) returned [1.05, -1.95]; expected [0.95, -2.05]. "
        "Did you add the gradient instead of subtracting it? Call ex.gd_step.hint() for a hint."
    )


@pytest.mark.parametrize("notebook, exercise", ALL_EXERCISES, ids=_ids)
def test_a_stub_is_reported_as_not_attempted(notebook, exercise):
    def stub(*args, **kwargs):
        raise NotImplementedError()

    with pytest.raises(NotAttemptedError, match=f"{exercise.name} is not attempted yet"):
        exercise.check(stub)


def test_an_exception_in_the_learners_code_is_reported_with_the_input():
    def broken(x, grad, lr):
        return x - lr * grad[5]

    with pytest.raises(AssertionError, match=r"gd_step\(x=\[1.0, -2.0\].*raised IndexError") as info:
        ex.gd_step.check(broken)
    assert isinstance(info.value.__cause__, IndexError)


def test_passing_something_that_is_not_a_function_is_explained():
    with pytest.raises(AssertionError, match=r"Pass the function itself: ex.gd_step.check\(gd_step\)"):
        ex.gd_step.check(0.95)


def test_checks_silence_warnings_raised_by_the_learners_code(capsys):
    def noisy(grad, x0, lr, num_steps, max_norm=1e6):
        np.array([1e308]) * 10  # RuntimeWarning: overflow
        return ex._gradient_descent_reference(grad, x0, lr, num_steps, max_norm)

    ex.gradient_descent.check(noisy)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("notebook, exercise", ALL_EXERCISES, ids=_ids)
def test_hint_prints_something_useful(notebook, exercise, capsys):
    exercise.hint()
    out = capsys.readouterr().out
    assert out.startswith(f"Hint for {exercise.name}: ") and len(out) > 60


@pytest.mark.parametrize("notebook", MODULES)
def test_points_and_grade_ids_match_the_notebook(notebook):
    nb = nbformat.read(SOLUTIONS / notebook, as_version=4)
    module = MODULES[notebook]
    tests = {c.metadata.nbgrader["grade_id"]: c for c in _nbgrader_cells(nb) if c.metadata.nbgrader["grade"]}
    solutions = [c.metadata.nbgrader["grade_id"] for c in _nbgrader_cells(nb) if c.metadata.nbgrader["solution"]]
    names = [e.name for e in module.EXERCISES]
    assert solutions == names, "solution cells must appear in EXERCISES order"
    assert list(tests) == [f"{n}_test" for n in names]
    for exercise in module.EXERCISES:
        cell = tests[f"{exercise.name}_test"]
        assert cell.metadata.nbgrader["points"] == exercise.points
        assert cell.source.strip() == f"ex.{exercise.name}.check({exercise.name})"
        assert cell.metadata.nbgrader["locked"] is True
    assert 4 <= len(module.EXERCISES) <= 8
    assert sum(e.points for e in module.EXERCISES) == 10


@pytest.mark.parametrize("notebook", MODULES)
def test_solution_cells_keep_signature_and_docstring_outside_the_markers(notebook):
    nb = nbformat.read(SOLUTIONS / notebook, as_version=4)
    for cell in _nbgrader_cells(nb):
        if cell.metadata.nbgrader["solution"]:
            before = cell.source.split("### BEGIN SOLUTION")[0]
            assert re.search(rf"(def {cell.metadata.nbgrader['grade_id']}\(|class {cell.metadata.nbgrader['grade_id']}\b)",
                             before)
            assert '"""' in before
            assert cell.source.rstrip().endswith("### END SOLUTION")


def test_every_case_input_is_shown_readably():
    for _, exercise in ALL_EXERCISES:
        for case in exercise.cases:
            text = exercise._call_text(case)
            assert "object at 0x" not in text and "<function" not in text, text
            assert len(text) < 200, text


@pytest.mark.parametrize("value, text", [
    (1.0, "1.0"), (0.1, "0.1"), (1e-7, "1e-07"), (np.float64(2.5), "2.5"), (3, "3"), (True, "True"),
    ("local", "'local'"), (np.array([1.0, -2.0]), "[1.0, -2.0]"), (np.eye(2), "[[1.0, 0.0], [0.0, 1.0]]"),
    (np.zeros((10, 2)), "<array of shape (10, 2)>"), ((0.5, 0.25), "(0.5, 0.25)"), (None, "None"),
])
def test_fmt_gives_short_stable_text(value, text):
    assert fmt(value) == text


@pytest.mark.parametrize("notebook", MODULES)
def test_solution_notebook_outputs_have_no_stderr_and_each_check_passes_with_one_line(notebook):
    nb = nbformat.read(SOLUTIONS / notebook, as_version=4)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        assert not [o for o in cell.outputs if o.get("name") == "stderr"], f"stderr in cell {cell.id}"
        assert not [o for o in cell.outputs if o["output_type"] == "error"], f"error in cell {cell.id}"
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade"):
            assert len(cell.outputs) == 1 and cell.outputs[0]["name"] == "stdout"
            assert cell.outputs[0]["text"].startswith(f"✓ {meta['grade_id'].removesuffix('_test')}: ")
