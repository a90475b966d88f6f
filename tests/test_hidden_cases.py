"""Hidden cases (``lrcourse grade --seed S``): inputs drawn at random, never shown in the notebook.

Every reference, and every solution notebook's own code, passes them on many seeds; a function that
memorised the visible cases passes the notebook's check and fails the graded one, whose feedback names
the hidden input; an exercise without hidden cases says why.
"""
from __future__ import annotations

import contextlib
import copy
import csv
import io
import json

import nbformat
import numpy as np
import pytest

from _course import solution_namespace
from lrcourse.cli import main as cli_main
from lrcourse.exercises import _record
from lrcourse.exercises._core import HIDDEN_CASES, PROPERTIES, Exercise
from lrcourse.grading.scoring import grade as G
from test_exercises import ALL_EXERCISES, MODULES, _ids

DRAWN = [(nb, e) for nb, e in ALL_EXERCISES if "hidden" not in e.exempt]


@contextlib.contextmanager
def armed(exercise: Exercise, seed: int | None, tmp_path):
    """As the grader arms a check cell: a pass record to write, and the seed of the hidden cases."""
    _record.arm("g", exercise.name, "00" * 32, str(tmp_path / "passes"), seed=seed)
    try:
        yield
    finally:
        _record._armed = _record._seed = None


def _check(exercise, fn, seed, tmp_path) -> str:
    out = io.StringIO()
    with armed(exercise, seed, tmp_path), contextlib.redirect_stdout(out):
        exercise.check(fn)
    return out.getvalue()


def test_hidden_is_a_property_and_exemptions_say_why():
    assert "hidden" in PROPERTIES
    exempt = {e.name: e.exempt["hidden"] for _, e in ALL_EXERCISES if "hidden" in e.exempt}
    assert set(exempt) == {"plateau_settings", "fine_tune"}, exempt  # the two that take no input
    assert all(len(reason) > 40 for reason in exempt.values())
    for _, e in ALL_EXERCISES:
        if e.name in exempt:
            assert e.hidden_cases(0) == []


@pytest.mark.parametrize("notebook, exercise", DRAWN, ids=_ids)
def test_hidden_cases_are_new_reproducible_and_vary_with_the_seed(notebook, exercise):
    visible = {exercise._call_text(c) for c in exercise.cases}
    drawn = {s: [exercise._call_text(c) for c in exercise.hidden_cases(s)] for s in range(5)}
    for seed, texts in drawn.items():
        assert len(texts) == HIDDEN_CASES == len(set(texts)), (seed, texts)
        assert not visible & set(texts)
        assert texts == [exercise._call_text(c) for c in exercise.hidden_cases(seed)]  # reproducible
    assert len({tuple(t) for t in drawn.values()}) == 5  # each seed draws other cases


@pytest.mark.parametrize("notebook, exercise", DRAWN, ids=_ids)
def test_the_reference_passes_on_20_seeds(notebook, exercise, tmp_path):
    for seed in range(20):
        out = _check(exercise, exercise.reference, seed, tmp_path)
        assert f"and {HIDDEN_CASES} hidden cases pass" in out, (seed, out)
    assert len((tmp_path / "passes").read_text().splitlines()) == 20  # each pass recorded


@pytest.fixture(scope="module")
def solutions() -> dict:
    return {name: solution_namespace(name) for name in MODULES}


@pytest.mark.parametrize("notebook, exercise", DRAWN, ids=_ids)
def test_the_solution_notebooks_pass_hidden_cases(notebook, exercise, solutions, tmp_path):
    """The learner-side code of the solution notebooks (not the reference) passes too: the draws stay
    in the space the notebook's text describes."""
    for seed in range(3):
        _check(exercise, solutions[notebook][exercise.name], seed, tmp_path)


def _key(args) -> bytes:
    import pickle

    try:
        return pickle.dumps(args)
    except Exception:
        return repr(args).encode()


def _memoriser(exercise):
    """The reference's answers on the visible cases, looked up; any other input gets nothing (None)."""
    table = {}

    def recording(*args):
        out = exercise.reference(*args)
        table[_key(args)] = copy.deepcopy(out)
        return out

    exercise.check(recording)

    def memorised(*args):
        key = _key(args)
        return copy.deepcopy(table[key]) if key in table else None

    return memorised


#: Exercises whose answer is a function's return value (a class, or what a function does to a model,
#: cannot be memorised by a lookup table of inputs).
FUNCTIONS = [(nb, e) for nb, e in DRAWN if type(e).__name__ in (
    "Exercise", "ProbedExercise", "ScheduleExercise", "StepExercise", "TableExercise", "FoldsExercise",
    "CVExercise")]  # (a sampler's answer depends on its generator's state, not its inputs alone)


@pytest.mark.parametrize("notebook, exercise", FUNCTIONS, ids=_ids)
def test_a_function_that_memorised_the_visible_cases_fails_the_hidden_ones(notebook, exercise, tmp_path):
    with contextlib.redirect_stdout(io.StringIO()):
        memorised = _memoriser(exercise)
        exercise.check(memorised)  # passes in the notebook
    with pytest.raises(AssertionError) as failed:
        _check(exercise, memorised, 7, tmp_path)
    message = str(failed.value)
    assert message.startswith("On a hidden case the grader drew (seed 7), which the notebook never showed, "), message
    assert f"{exercise.name}(" in message  # the hidden input is named, its expected value is not:
    assert "expected value is not shown" in message and "; expected" not in message and "expected [" not in message
    assert not (tmp_path / "passes").exists()


def test_no_seed_no_hidden_cases(tmp_path):
    from lrcourse.exercises import descent as ex

    out = _check(ex.gd_step, ex.gd_step.reference, None, tmp_path)
    assert out.strip() == "✓ gd_step: all 4 cases pass (1/1 point)"


def test_grading_with_a_seed_zeroes_a_memorised_answer_and_records_the_seed(tiny, tmp_path, capsys):
    releases, release_nb = tiny
    nb = copy.deepcopy(release_nb)
    cell = next(c for c in nb.cells if c.get("id") == "gd-step")
    cell.source = cell.source.split("def gd_step")[0] + (
        "import numpy as np\n"
        "def gd_step(x, grad, lr):\n"
        "    known = {(1.0, -2.0, 0.5, 0.5, 0.1): [0.95, -2.05], (3.0, 6.0, 0.5): [0.0],\n"
        "             (0.5, 0.25, -1.0, -2.0, 0.0, 4.0, 0.3): [1.1, 0.25, -2.2],\n"
        "             (1.0, 2.0, 3.0, 4.0, 0.1, -0.2, 0.3, -0.4, 2.5): [[0.75, 2.5], [2.25, 5.0]]}\n"
        "    key = tuple(np.ravel(x)) + tuple(np.ravel(grad)) + (lr,)\n"
        "    return np.array(known.get(key, np.zeros_like(x)))\n")
    path = tmp_path / "mallory" / "tiny.ipynb"
    path.parent.mkdir()
    nbformat.write(nb, path)
    plain = G.grade_notebook(path, releases)
    assert plain.checks[0].status == "passed"  # the visible cases are all it was ever shown
    graded = G.grade_notebook(path, releases, seed=11)
    gd_step = graded.checks[0]
    assert (gd_step.status, gd_step.points) == ("failed", 0.0)
    assert "On a hidden case the grader drew (seed 11)" in gd_step.message and "gd_step(x=" in gd_step.message
    assert "expected value is not shown" in gd_step.message and "; expected" not in gd_step.message
    folder = tmp_path / "release"
    folder.mkdir()
    nbformat.write(release_nb, folder / "tiny.ipynb")
    out = tmp_path / "grades.json"
    assert cli_main(["grade", str(path), "--release-dir", str(folder), "--seed", "11", "--quiet",
                     "--json", str(out), "--sandbox", "none"]) == 0
    document = json.loads(out.read_text())
    assert document["run"]["seed"] == 11
    assert document["submissions"][0]["checks"][0]["status"] == "failed"
    assert "hidden cases: drawn with seed 11" in capsys.readouterr().err
    assert cli_main(["grade", str(path), "--release-dir", str(folder), "--seed", "-1"]) == 2

    # on by default: with no --seed the run draws one, says so, records it, and the memorised answer fails
    capsys.readouterr()
    csv_path = tmp_path / "grades.csv"
    assert cli_main(["grade", str(path), "--release-dir", str(folder), "--quiet", "--json", str(out),
                     "--csv", str(csv_path), "--report", str(tmp_path / "report.html"), "--sandbox", "none"]) == 0
    document = json.loads(out.read_text())
    seed = document["run"]["seed"]
    assert isinstance(seed, int) and document["run"]["hidden"] is True
    assert f"hidden cases: drawn with seed {seed} (chosen now; --seed {seed} repeats this run exactly)" \
        in capsys.readouterr().err
    assert document["submissions"][0]["checks"][0]["status"] == "failed"
    rows = list(csv.DictReader(csv_path.open()))
    assert rows[0]["hidden_seed"] == str(seed)
    assert f"seed {seed} (--seed {seed} repeats the run)" in (tmp_path / "report.html").read_text()
    # --no-hidden: the visible cases only, and every report says so
    assert cli_main(["grade", str(path), "--release-dir", str(folder), "--quiet", "--no-hidden", "--json", str(out),
                     "--csv", str(csv_path), "--report", str(tmp_path / "report.html"), "--sandbox", "none"]) == 0
    document = json.loads(out.read_text())
    assert document["run"]["seed"] is None and document["run"]["hidden"] is False
    assert document["submissions"][0]["checks"][0]["status"] == "passed"
    assert "hidden cases: off (--no-hidden)" in capsys.readouterr().err
    assert list(csv.DictReader(csv_path.open()))[0]["hidden_seed"] == ""
    assert "off (--no-hidden): only the cases the notebooks show" in (tmp_path / "report.html").read_text()
    # refused: both, and shards without one seed for all
    assert cli_main(["grade", str(path), "--release-dir", str(folder), "--seed", "3", "--no-hidden"]) == 2
    assert "give one of them" in capsys.readouterr().err
    assert cli_main(["grade", str(path), "--release-dir", str(folder), "--shard", "1/2"]) == 2
    assert "give every shard the same --seed" in capsys.readouterr().err
