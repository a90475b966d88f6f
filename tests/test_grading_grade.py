"""Grading one notebook in a fresh kernel: hostile submissions get a clear result in bounded time."""
from __future__ import annotations

import copy
import time

import nbformat

from lrcourse.grading.scoring import grade as G

SOLUTION = "def gd_step(x, grad, lr):\n    return x - lr * grad"
WRONG = "def gd_step(x, grad, lr):\n    return x + lr * grad"


def _submit(tmp_path, release_nb, solution=SOLUTION, extra=None, before_check=None):
    nb = copy.deepcopy(release_nb)
    cells = nb.cells
    index = next(i for i, c in enumerate(cells) if c.get("id") == "gd-step")
    cells[index].source = cells[index].source.split("# YOUR CODE HERE")[0].split("def gd_step")[0] + solution
    if before_check is not None:
        cells.insert(index + 1, nbformat.v4.new_code_cell(before_check))
    if extra is not None:
        cells.append(nbformat.v4.new_code_cell(extra))
    folder = tmp_path / "alice"
    folder.mkdir(exist_ok=True)
    path = folder / "tiny.ipynb"
    nbformat.write(nb, path)
    return path


def _status(result):
    return {c.grade_id: (c.status, c.points) for c in result.checks}


def test_a_correct_answer_scores_and_the_stub_is_not_attempted(tiny, tmp_path):
    releases, release_nb = tiny
    result = G.grade_notebook(_submit(tmp_path, release_nb), releases, timeout=60)
    assert _status(result) == {"gd_step_test": ("passed", 1.0), "lr_regime_test": ("not attempted", 0.0)}
    assert result.total == 1.0 and result.max_total == 3.0


def test_a_replaced_check_function_does_not_pass(tiny, tmp_path):
    releases, release_nb = tiny
    cheat = WRONG + "\nex.gd_step.check = lambda fn: print('✓ gd_step: all 4 cases pass (1/1 point)')"
    result = G.grade_notebook(_submit(tmp_path, release_nb, solution=cheat), releases)
    status, points = _status(result)["gd_step_test"]
    assert (status, points) == ("failed", 0.0)
    assert "Did you add the gradient" in result.checks[0].message


def test_an_endless_loop_is_interrupted_and_grading_goes_on(tiny, tmp_path):
    releases, release_nb = tiny
    start = time.perf_counter()
    result = G.grade_notebook(_submit(tmp_path, release_nb, before_check="while True:\n    pass"), releases,
                              timeout=3)
    assert time.perf_counter() - start < 40
    assert _status(result)["gd_step_test"] == ("passed", 1.0)  # the loop cell failed; the check after it ran


def test_a_dying_kernel_fails_the_checks_after_it(tiny, tmp_path):
    releases, release_nb = tiny
    result = G.grade_notebook(_submit(tmp_path, release_nb, before_check="import os\nos._exit(1)"), releases)
    assert _status(result) == {"gd_step_test": ("kernel died", 0.0), "lr_regime_test": ("kernel died", 0.0)}
    assert result.checks[0].message == "the kernel died"


def test_a_flood_of_output_is_cut_and_files_written_stay_in_the_scratch_copy(tiny, tmp_path):
    releases, release_nb = tiny
    path = _submit(tmp_path, release_nb, before_check=(
        "for i in range(1_000_000):\n    print(i)\nopen('written.txt', 'w').write('x')"))
    before = {p.name: p.read_bytes() for p in path.parent.iterdir()}
    start = time.perf_counter()
    result = G.grade_notebook(path, releases, output_limit=5_000)
    assert time.perf_counter() - start < 60
    assert _status(result)["gd_step_test"] == ("passed", 1.0)
    assert {p.name: p.read_bytes() for p in path.parent.iterdir()} == before  # nothing written, nothing changed
    flood = next(c for c in result.notebook.cells if "1_000_000" in c.source)
    text = "".join(o.get("text", "") for o in flood.outputs)
    assert len(text) < 5_200 and "[output truncated: more than 5,000 characters]" in text


def test_a_syntax_error_fails_only_its_own_check(tiny, tmp_path):
    releases, release_nb = tiny
    result = G.grade_notebook(_submit(tmp_path, release_nb, solution="def gd_step(x, grad, lr)\n    return x"),
                              releases)
    status, points = _status(result)["gd_step_test"]
    assert points == 0.0 and status in ("failed", "not attempted")
    assert _status(result)["lr_regime_test"] == ("not attempted", 0.0)


def test_an_unreadable_submission_scores_zero_with_its_reason(tiny, tmp_path):
    releases, _ = tiny
    path = tmp_path / "empty.ipynb"
    path.write_bytes(b"")
    result = G.grade_notebook(path, releases)
    assert result.error == "the file is empty" and result.checks == [] and result.total == 0


def test_a_claim_the_machine_does_not_reproduce_is_a_note_when_grading(tiny, tmp_path):
    """The suite runs with LRCOURSE_STRICT_CLAIMS=1; the grader's kernels still get the learner's behaviour."""
    import os

    assert os.environ.get("LRCOURSE_STRICT_CLAIMS") == "1"
    releases, release_nb = tiny
    claim = "from lrcourse.claims import claim\nclaim(0.1 == 0.03, 'validation picks 0.03')"
    result = G.grade_notebook(_submit(tmp_path, release_nb, before_check=claim), releases, timeout=60)
    assert _status(result)["gd_step_test"] == ("passed", 1.0)
    outputs = next(c.outputs for c in result.notebook.cells if c.source == claim)
    assert [o["output_type"] for o in outputs] == ["stream"]
    assert outputs[0]["text"].startswith("Note: the text claims \u201cvalidation picks 0.03\u201d")


def test_a_submission_whose_only_mistake_is_gd_step_scores_9_of_10_and_is_charged_once(tmp_path, kernels):
    """Notebook 01 answered right but for gd_step: gradient_descent and basin_reached call it, and fail only because
    of it. By default they keep their points, carried forward from gd_step_test (9/10); --no-carry-forward
    charges them (5/10). The feedback names gd_step at the dependent checks; the class report counts one mistake."""
    from _course import NOTEBOOKS, SOLUTIONS, graded_cells_only
    from lrcourse.grading.reports import classreport, feedback, tables
    from lrcourse.grading.scoring.submission import load_releases

    nb = graded_cells_only(nbformat.read(SOLUTIONS / "01_gradient_descent.ipynb", as_version=4))
    cell = next(c for c in nb.cells if c.get("id") == "gd-step")
    cell.source = WRONG
    (tmp_path / "alice").mkdir()
    path = tmp_path / "alice" / "01_gradient_descent.ipynb"
    nbformat.write(nb, path)
    releases = load_releases(NOTEBOOKS)
    carried = G.grade_notebook(path, releases, timeout=120)
    assert carried.total == 9 and carried.max_total == 10
    status = {c.grade_id: (c.status, c.points, c.carried_from) for c in carried.checks}
    assert status["gd_step_test"] == ("failed", 0.0, None)
    assert status["gradient_descent_test"] == ("carried forward", 2.0, "gd_step_test")
    assert status["basin_reached_test"] == ("carried forward", 2.0, "gd_step_test")
    assert all(s == "passed" for gid, (s, _p, _c) in status.items()
               if gid not in ("gd_step_test", "gradient_descent_test", "basin_reached_test"))
    by_id = {c.grade_id: c for c in carried.checks}
    assert "basin_reached itself is right: it fails only because it calls your gd_step (through your " \
           "gradient_descent)" in by_id["basin_reached_test"].message
    assert by_id["gd_step_test"].mistake == "Did you add the gradient instead of subtracting it?"
    assert tables._note(carried) == "gradient_descent_test, basin_reached_test carried forward from gd_step_test"
    assert "Your mistake is in gd_step_test" in feedback.render(carried)
    checks = classreport.summary([carried])["01_gradient_descent.ipynb"]["checks"]
    assert sum(c["statuses"]["failed"] for c in checks.values()) == 1
    charged = G.grade_notebook(path, releases, timeout=120, carry_forward=False)
    assert charged.total == 5
    assert {c.grade_id: c.points for c in charged.checks if c.status == "carried forward"} == \
        {"gradient_descent_test": 0.0, "basin_reached_test": 0.0}
