"""`lrcourse release`: notebooks/ is exactly what the release makes from solutions/."""
from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from _course import NOTEBOOKS, ROOT, SOLUTIONS, solution_paths
from lrcourse import cli, syllabus
from lrcourse.grading.authoring import release as rel


def test_notebooks_folder_is_up_to_date_with_solutions():
    stale = rel.stale_notebooks(SOLUTIONS, NOTEBOOKS)
    assert stale == [], f"run `lrcourse release`: {stale} out of date"
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == [p.name for p in solution_paths()]


def test_release_is_deterministic_and_leaves_solutions_untouched(tmp_path):
    before = {p.name: p.read_bytes() for p in solution_paths()}
    first = {p.name: p.read_bytes() for p in rel.release(SOLUTIONS, tmp_path / "a")}
    second = {p.name: p.read_bytes() for p in rel.release(SOLUTIONS, tmp_path / "b")}
    assert first == second
    assert {p.name: p.read_bytes() for p in solution_paths()} == before


@pytest.mark.parametrize("path", solution_paths(), ids=lambda p: p.name)
def test_released_notebook_is_a_clean_student_version(path):
    from nbgrader.nbgraderformat import MetadataValidator

    source = nbformat.read(path, as_version=4)
    released = nbformat.read(NOTEBOOKS / path.name, as_version=4)
    MetadataValidator().validate_nb(source)
    MetadataValidator().validate_nb(released)
    assert len(source.cells) == len(released.cells)
    for src, out in zip(source.cells, released.cells, strict=True):
        assert src.id == out.id
        if out.cell_type == "code":
            assert out.outputs == [] and out.execution_count is None
        assert "BEGIN SOLUTION" not in out.source and "HIDDEN TESTS" not in out.source
        meta = out.metadata.get("nbgrader", {})
        if meta.get("solution"):
            head = src.source.split("### BEGIN SOLUTION")[0]
            assert out.source.startswith(head)
            # every solution region (a class may have several, indented) becomes the stub at its indentation
            assert re.search(r"\n( +)# YOUR CODE HERE\n\1raise NotImplementedError\(\)$", out.source)
            assert out.source.count("raise NotImplementedError()") == src.source.count("### BEGIN SOLUTION")
            assert meta["checksum"]
        elif meta.get("grade"):
            assert out.source == src.source
            assert out.metadata["editable"] is False and out.metadata["deletable"] is False
            assert meta["checksum"] and meta["points"] == src.metadata.nbgrader["points"]
        else:
            assert out.source == src.source


def _tiny_notebook(solution_source: str, test_source: str = "assert answer() == 42") -> nbformat.NotebookNode:
    sol = new_code_cell(solution_source, id="answer")
    sol.metadata["nbgrader"] = {"schema_version": 3, "grade": False, "solution": True, "locked": False,
                                "task": False, "grade_id": "answer"}
    test = new_code_cell(test_source, id="answer-test")
    test.metadata["nbgrader"] = {"schema_version": 3, "grade": True, "solution": False, "locked": True,
                                 "task": False, "points": 1, "grade_id": "answer_test"}
    return new_notebook(cells=[sol, test], metadata={"kernelspec": {"name": "python3", "language": "python",
                                                                    "display_name": "Python 3"}})


def test_hidden_tests_are_removed():
    nb = _tiny_notebook(
        "def answer():\n    ### BEGIN SOLUTION\n    return 42\n    ### END SOLUTION",
        "assert answer() == 42\n### BEGIN HIDDEN TESTS\nassert answer() != 41\n### END HIDDEN TESTS",
    )
    out = rel.release_notebook(nb)
    assert out.cells[1].source == "assert answer() == 42"
    assert out.cells[0].source == "def answer():\n    # YOUR CODE HERE\n    raise NotImplementedError()"
    assert "BEGIN SOLUTION" in nb.cells[0].source, "release_notebook must not modify its input"


def test_an_unterminated_solution_region_is_a_release_error():
    nb = _tiny_notebook("def answer():\n    ### BEGIN SOLUTION\n    return 42")
    with pytest.raises(rel.ReleaseError, match="cannot release broken.ipynb: no end solution statement"):
        rel.release_notebook(nb, name="broken.ipynb")


def test_cli_release_and_check(tmp_path, capsys):
    src, dest = tmp_path / "solutions", tmp_path / "notebooks"
    src.mkdir()
    shutil.copy(SOLUTIONS / "01_gradient_descent.ipynb", src)
    assert cli.main(["release", "--source", str(src), "--dest", str(dest), "--check"]) == 1
    assert "out of date" in capsys.readouterr().out
    assert cli.main(["release", "--source", str(src), "--dest", str(dest)]) == 0
    out = capsys.readouterr().out
    assert "released" in out
    # a folder with some of the course's notebooks: the others are named (from lrcourse.syllabus), not an error
    assert f"note: {src} has no 07_lr_at_scale.ipynb of the course's syllabus" in out
    assert "01_gradient_descent.ipynb of the course" not in out
    assert cli.main(["release", "--source", str(src), "--dest", str(dest), "--check"]) == 0
    (dest / "01_gradient_descent.ipynb").write_text("{}")
    assert cli.main(["release", "--source", str(src), "--dest", str(dest), "--check"]) == 1


def test_the_index_of_the_notebooks_is_generated_and_checked(tmp_path, capsys):
    """notebooks/README.md lists every notebook of each edition by its title; edited by hand, it is out of date."""
    text = (ROOT / "notebooks" / "README.md").read_text(encoding="utf-8")
    assert text == rel.index(ROOT / "solutions", ROOT / "notebooks")
    assert "edit the notebooks there, never here" in text
    for name in syllabus.files():
        assert f"| `{name}` | [{name[:2]} · " in text and f"](vi/{name}) |" in text
    assert "[01 · Gradient descent and the learning rate](01_gradient_descent.ipynb)" in text
    src, dest = tmp_path / "solutions", tmp_path / "notebooks"
    (src / "vi").mkdir(parents=True)
    shutil.copy(SOLUTIONS / "02_lr_schedules.ipynb", src)
    shutil.copy(SOLUTIONS / "vi" / "02_lr_schedules.ipynb", src / "vi")
    shutil.copy(SOLUTIONS / "03_adaptive_optimizers.ipynb", src)  # not translated yet: a dash in its column
    assert cli.main(["release", "--source", str(src), "--dest", str(dest)]) == 0
    index = (dest / "README.md").read_text(encoding="utf-8")
    assert "| `02_lr_schedules.ipynb` | [02 · Learning-rate schedules](02_lr_schedules.ipynb) | " \
           "[02 · Lịch trình tốc độ học](vi/02_lr_schedules.ipynb) |" in index
    assert "| `03_adaptive_optimizers.ipynb` | [03 · Momentum and adaptive optimizers](03_adaptive_optimizers.ipynb) | — |" \
        in index
    (dest / "README.md").write_text(index + "a note by hand\n", encoding="utf-8")
    capsys.readouterr()
    assert cli.main(["release", "--source", str(src), "--dest", str(dest), "--check"]) == 1
    assert f"out of date: {dest / 'README.md'}" in capsys.readouterr().out


def test_cli_release_without_a_solutions_folder_is_a_usage_error(tmp_path, capsys):
    assert cli.main(["release", "--source", str(tmp_path / "nope"), "--dest", str(tmp_path / "out")]) == 2
    assert "source must be a folder of solution notebooks" in capsys.readouterr().err


def test_console_command_is_installed():
    """The `lrcourse` script pip installed beside this Python (release --check itself: test_cli_release_and_check)."""
    script = Path(sys.executable).parent / "lrcourse"
    assert script.is_file(), f"no lrcourse command beside {sys.executable}: pip install -e ."
    result = subprocess.run([str(script), "release", "--check"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "up to date" in result.stdout


@pytest.mark.parametrize("path", solution_paths(), ids=lambda p: p.name)
def test_executing_a_released_notebook_stops_at_the_first_exercise_as_not_attempted(path, tmp_path, kernels):
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(NOTEBOOKS / path.name, as_version=4)
    client = NotebookClient(nb, timeout=60, resources={"metadata": {"path": str(tmp_path)}})
    with pytest.raises(CellExecutionError) as info:
        client.execute()
    assert info.value.ename == "NotAttemptedError"
    assert "is not attempted yet" in info.value.evalue
    first_test = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade"))
    assert first_test.outputs and first_test.outputs[-1]["output_type"] == "error"
    grade_id = first_test.metadata.nbgrader["grade_id"]
    assert info.value.evalue.startswith(grade_id.removesuffix("_test"))


#: The fewest claims of the text each solution notebook checks outside its exercise cells (issue 15):
#: a floor that keeps the prose's numbers checked, not a target.
MIN_CLAIMS = 8


def _claims_and_asserts(cell_source: str) -> tuple[int, int]:
    masked = "\n".join("pass" if line.lstrip().startswith(("%", "!")) else line for line in cell_source.split("\n"))
    nodes = list(ast.walk(ast.parse(masked)))
    claims = sum(isinstance(n, ast.Call) and getattr(n.func, "id", None) == "claim" for n in nodes)
    return claims, sum(isinstance(n, ast.Assert) for n in nodes)


@pytest.mark.parametrize("path", solution_paths(), ids=lambda p: p.name)
def test_prose_claims_are_backed_by_claims_in_the_cells_that_compute_them(path):
    """Backed by lrcourse.claims.claim, not assert: strict here, a note (not a crash) on a learner's machine."""
    nb = nbformat.read(path, as_version=4)
    demo_cells = [c for c in nb.cells if c.cell_type == "code" and "nbgrader" not in c.metadata]
    counts = [_claims_and_asserts(c.source) for c in demo_cells]
    claims = sum(c for c, _ in counts)
    assert claims >= MIN_CLAIMS, f"{path.name} checks {claims} claims"
    bare = [c.get("id") for c, (_, a) in zip(demo_cells, counts) if a]
    assert not bare, f"{path.name}: cells {bare} assert; use claim(condition, message) so a learner's run goes on"
    assert "from lrcourse.claims import claim" in nb.cells[1].source
