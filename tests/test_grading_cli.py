"""`lrcourse grade`: a folder of submissions, good and hostile, graded into a table, CSV and JSON."""
from __future__ import annotations

import copy
import csv
import json

import nbformat
import pytest

from conftest import ROOT, tiny_release
from lrcourse.cli import main


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A release folder (notebook 01 up to its second check) and a folder of five submissions."""
    release = tiny_release()
    root = tmp_path_factory.mktemp("course")
    (root / "release").mkdir()
    nbformat.write(release, root / "release" / "tiny.ipynb")
    subs = root / "submissions"
    for name in ("alice", "bob", "carol", "dave", "erin", "frank", "gina", "hank"):
        (subs / name).mkdir(parents=True)
    good = copy.deepcopy(release)
    cell = next(c for c in good.cells if c.get("id") == "gd-step")
    cell.source = cell.source.split("    # YOUR CODE HERE")[0] + "    return x - lr * grad\n"
    nbformat.write(good, subs / "alice" / "tiny.ipynb")
    nbformat.write(release, subs / "bob" / "tiny.ipynb")                      # not attempted
    (subs / "carol" / "tiny.ipynb").write_bytes(b"")                           # empty
    (subs / "dave" / "tiny.ipynb").write_text('{"cells": [', encoding="utf-8")  # malformed JSON
    other = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(1)")])
    nbformat.write(other, subs / "erin" / "homework.ipynb")                    # another course
    edited = copy.deepcopy(good)                                               # a check cell rewritten
    check = next(c for c in edited.cells if c.get("id") == "gd-step-test")
    check.source = "print('✓ gd_step: all 4 cases pass (1/1 point)')"
    nbformat.write(edited, subs / "frank" / "tiny.ipynb")
    deleted = copy.deepcopy(good)                                              # a check cell deleted
    deleted.cells = [c for c in deleted.cells if c.get("id") != "gd-step-test"]
    nbformat.write(deleted, subs / "gina" / "tiny.ipynb")
    doubled = copy.deepcopy(good)                                              # a check cell duplicated
    twin = copy.deepcopy(next(c for c in doubled.cells if c.get("id") == "gd-step-test"))
    twin["id"] = "twin"
    doubled.cells.append(twin)
    nbformat.write(doubled, subs / "hank" / "tiny.ipynb")
    return root


def _snapshot(folder):
    return {p: p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("jobs", [1, 2])
def test_grade_a_folder_into_a_table_csv_and_json(course, tmp_path, capsys, jobs):
    before = _snapshot(course / "submissions")
    out_csv, out_json = tmp_path / "scores.csv", tmp_path / "feedback.json"
    status = main(["grade", str(course / "submissions"), "--release-dir", str(course / "release"),
                   "--jobs", str(jobs), "--csv", str(out_csv), "--json", str(out_json), "--timeout", "30"])
    assert status == 0
    assert _snapshot(course / "submissions") == before  # submissions are never modified
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:5] == ["submission", "notebook", "gd_step_test", "lr_regime_test", "total"]
    rows = {line.split()[0].split("/")[-2]: line for line in table[1:]}
    assert set(rows) == {"alice", "bob", "carol", "dave", "erin", "frank", "gina", "hank"}
    assert "1/1" in rows["alice"] and "1/3" in rows["alice"]
    assert "0/1" in rows["bob"] and "0/3" in rows["bob"]
    assert "the file is empty" in rows["carol"] and "not valid JSON" in rows["dave"]
    assert "not a notebook of this course" in rows["erin"]
    with open(out_csv, encoding="utf-8") as f:
        sheet = list(csv.DictReader(f))
    sheet = {r["student_id"]: r for r in sheet}
    assert set(sheet) == {"alice", "bob", "carol", "dave", "homework", "frank", "gina", "hank"}
    alice = sheet["alice"]
    assert (alice["assignment"], alice["submission"], alice["status"]) == ("tiny", "alice/tiny.ipynb", "graded")
    assert (float(alice["score"]), float(alice["max_score"])) == (1.0, 3.0)  # numbers, not "1/3"
    assert (float(alice["gd_step_test"]), float(alice["lr_regime_test"])) == (1.0, 0.0)
    assert sheet["carol"]["status"] == "not graded" and float(sheet["carol"]["score"]) == 0
    assert "the file is empty" in sheet["carol"]["note"]
    feedback = {item["submission"].split("/")[-2]: item for item in json.loads(out_json.read_text())["submissions"]}
    bob = {c["grade_id"]: c for c in feedback["bob"]["checks"]}
    assert bob["gd_step_test"]["status"] == "not attempted"
    assert bob["gd_step_test"]["message"].startswith("NotAttemptedError: gd_step is not attempted yet")
    assert feedback["carol"]["error"] == "the file is empty" and feedback["carol"]["score"] == 0
    assert feedback["alice"]["student_id"] == "alice" and feedback["alice"]["assignment"] == "tiny"
    checks = {name: {c["grade_id"]: c for c in feedback[name]["checks"]} for name in ("frank", "gina", "hank")}
    assert checks["frank"]["gd_step_test"]["status"] == "voided" and checks["frank"]["gd_step_test"]["points"] == 0
    assert "test cell was modified" in checks["frank"]["gd_step_test"]["message"]
    assert checks["gina"]["gd_step_test"]["status"] == "voided"
    assert "test cell was deleted" in checks["gina"]["gd_step_test"]["message"]
    assert checks["hank"]["gd_step_test"]["points"] == 1  # a duplicate is removed, the original still counts
    assert "test cell was duplicated" in checks["hank"]["gd_step_test"]["message"]


@pytest.mark.parametrize("args, message", [
    (["grade", "missing-folder"], "submission missing-folder does not exist"),
    (["grade", ".", "--release-dir", "no-such-dir"], "release_dir no-such-dir is not a folder"),
    (["grade", ".", "--jobs", "0"], "--jobs must be >= 1"),
])
def test_usage_errors_exit_2_with_a_message(args, message, capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(ROOT)
    assert main(args) == 2
    assert message in capsys.readouterr().err


def test_a_folder_without_notebooks_is_a_usage_error(tmp_path, capsys):
    assert main(["grade", str(tmp_path), "--release-dir", str(ROOT / "notebooks")]) == 2
    assert "no notebooks found" in capsys.readouterr().err
