"""`lrcourse grade`: usage errors. (A folder of submissions, good and hostile, graded into a table, CSV and JSON:
tests/test_grading_classbook.py, with the rest of what the graded class shows.)"""
from __future__ import annotations

import pytest

from _course import ROOT
from lrcourse.cli import main


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
