"""The grader on the course itself: every solution notebook scores full marks, every release scores zero
with "not attempted" for each exercise. (Runs every notebook twice, two at a time: about two minutes.)"""
from __future__ import annotations

import pytest

from conftest import ROOT, SOLUTIONS
from lrcourse.grading import report
from lrcourse.grading.submission import load_releases


@pytest.fixture(scope="module")
def releases():
    return load_releases(ROOT / "notebooks")


def test_every_solution_scores_full_marks(releases):
    """Each solution is matched to its own release. (The Vietnamese twins share every check cell with these,
    tests/test_vietnamese_edition.py checks; grading one of them is tested there, to keep CI's time.)"""
    paths = sorted(SOLUTIONS.glob("*.ipynb"))
    assert len(paths) == len([name for name in releases if "/" not in name])
    for result in report.grade_all(paths, releases, timeout=300, jobs=2, progress=False):
        assert result.release == result.path.relative_to(SOLUTIONS).as_posix() and result.error is None
        failed = [(c.grade_id, c.message) for c in result.checks if c.status != "passed"]
        assert not failed and result.total == result.max_total == 10, (result.path.name, failed)


def test_every_release_scores_zero_and_each_exercise_is_not_attempted(releases):
    paths = sorted((ROOT / "notebooks").glob("*.ipynb"))
    for result in report.grade_all(paths, releases, timeout=300, jobs=2, progress=False):
        assert result.total == 0 and result.max_total == 10
        assert {c.status for c in result.checks} == {"not attempted"}, result.path.name
