"""The JSON of a run on disk (lrcourse.grading.results): results only, a submission a line, the graded notebooks
as files beside it by path and SHA-256; read and merged a submission at a time (issue 37, a thousand students)."""
from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from lrcourse.grading import results as R
from lrcourse.grading.reports import feedback


def _result(student, notebook=True, release="01_gradient_descent.ipynb"):
    r = R.GradeResult(Path(f"/class/{student}/{release}"), release, seconds=1.5)
    r.relative, r.student = f"{student}/{release}", student
    r.checks = [R.CheckResult("gd_step_test", 0.0, 2.0, "failed", "gd_step(x=1.0) returned 2; expected 0.9",
                              "gd_step", "Did you add the gradient instead of subtracting it?"),
                R.CheckResult("lr_regime_test", 1.0, 1.0, "passed", "", "lr_regime")]
    if notebook:
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_markdown_cell(f"# {student}'s notebook\n\n$x_{{t+1}} = x_t - \\eta g$"),
                    nbformat.v4.new_code_cell("x = 1 - 0.1 * 2", outputs=[
                        nbformat.v4.new_output("stream", text="0.8\n" * 2000)])]   # a sizeable output
        r.notebook = nb
    return r


def _run(seed=7, shard=None):
    return {"seed": seed, "releases": {"01_gradient_descent.ipynb": "abc"}, "shard": shard}


def test_the_json_keeps_results_and_names_each_notebook_file_by_path_and_hash(tmp_path):
    path = R.write_document(tmp_path / "grades.json", [_result("ana"), _result("bo")], _run())
    text = path.read_text(encoding="utf-8")
    document = json.loads(text)                                   # valid JSON for any tool
    assert [i["student_id"] for i in document["submissions"]] == ["ana", "bo"]
    assert len(text.splitlines()) == 4                            # the header, one line a submission, the end
    ref = document["submissions"][0]["graded_notebook"]
    assert ref["path"] == "grades.notebooks/ana/01_gradient_descent.ipynb" and len(ref["sha256"]) == 64
    assert (tmp_path / ref["path"]).is_file() and "0.8" not in text   # the notebook is beside, not inside
    assert len(text.encode()) / 2 < 2_000                          # a submission is a line of results
    results, run = R.read_document(path)
    assert run == _run() and [r.student for r in results] == ["ana", "bo"] and results[0].notebook is None
    again = R.load_notebook(results[0])
    assert again.cells[0].source.startswith("# ana's notebook")
    assert results[0].checks[0].mistake == "Did you add the gradient instead of subtracting it?"


def test_a_notebook_changed_or_gone_since_grading_is_refused_by_name(tmp_path):
    path = R.write_document(tmp_path / "grades.json", [_result("ana"), _result("bo")], _run())
    (ana, bo), _ = R.read_document(path)
    ana.notebook_file.write_text(ana.notebook_file.read_text().replace("0.8", "0.9"))
    with pytest.raises(ValueError, match="ana/01_gradient_descent.ipynb changed since it was graded"):
        R.load_notebook(ana)
    bo.notebook_file.unlink()
    with pytest.raises(ValueError, match="the graded notebook of bo/01_gradient_descent.ipynb is missing"):
        R.load_notebook(bo)


def test_reading_is_a_submission_at_a_time_and_an_older_whole_json_still_reads(tmp_path):
    path = R.write_document(tmp_path / "grades.json", [_result(f"s{i}", notebook=False) for i in range(5)], _run())
    header, results = R.iter_document(path)
    assert header["run"] == _run() and iter(results) is results   # a generator: nothing read before it is asked
    assert next(results).student == "s0"
    old = tmp_path / "old.json"   # an earlier layout: indented, notebooks inline
    old.write_text(json.dumps(R.to_document([_result("ana")], _run(), notebooks=True), indent=1))
    (ana,), run = R.read_document(old)
    assert run == _run() and ana.notebook.cells[0].source.startswith("# ana's notebook")


def test_shards_in_other_folders_merge_into_a_json_whose_notebooks_still_resolve(tmp_path):
    parts = []
    for k, students in ((1, ["bo", "cy"]), (2, ["ana"])):
        folder = tmp_path / f"shard{k}"
        folder.mkdir()
        parts.append(R.write_document(folder / "part.json", [_result(s) for s in students], _run(shard=[k, 2])))
    results, run = R.merge_files(parts)
    assert [r.student for r in results] == ["ana", "bo", "cy"] and run["missing shards"] == []
    merged = R.write_document(tmp_path / "out" / "merged.json" if (tmp_path / "out").mkdir() is None else None,
                              results, run)
    assert not (tmp_path / "out" / "merged.notebooks").exists()   # it names the shards' files, copies none
    again, _ = R.read_document(merged)
    assert [R.load_notebook(r).cells[0].source.split("'")[0] for r in again] == ["# ana", "# bo", "# cy"]
    pages = feedback.write_all(again, tmp_path / "feedback")
    assert "bo&#x27;s notebook" in pages[1].read_text() or "bo's notebook" in pages[1].read_text()
    assert all(r.notebook is None for r in again)                   # each page's notebook was let go
    with pytest.raises(R.MergeError, match="drew their hidden cases with different seeds"):
        other = R.write_document(tmp_path / "other.json", [_result("dee")], _run(seed=8, shard=[2, 2]))
        R.merge_files([parts[0], other])
