"""A submission that attacks the process grading it costs that submission alone."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from _course import tiny_student as _student
from lrcourse.grading.batch import pool
from lrcourse.grading.sandbox.processes import MARKER, stop_marked

def _scores(results):
    return {r.path.parent.name: [(c.grade_id, c.status, c.points) for c in r.checks] for r in results}


@pytest.mark.parametrize("jobs", [1, 2])
def test_killing_the_grading_process_costs_only_the_killer(tiny, tmp_path, jobs):
    releases, release_nb = tiny
    honest = [("gd_step_test", "passed", 1.0), ("lr_regime_test", "not attempted", 0.0)]
    paths = [_student(tmp_path, "alice", release_nb),
             _student(tmp_path, "mallory", release_nb, cell="import os, signal\nos.kill(os.getppid(), signal.SIGKILL)"),
             _student(tmp_path, "bob", release_nb)]
    results = pool.grade_all(paths, releases, timeout=60, jobs=jobs, progress=False)
    scores = _scores(results)
    assert scores["alice"] == scores["bob"] == honest
    mallory = next(r for r in results if r.path.parent.name == "mallory")
    assert mallory.total == 0 and "killed (SIGKILL)" in mallory.error
    assert [(c.grade_id, c.points, c.max_points) for c in mallory.checks] == [
        ("gd_step_test", 0.0, 1.0), ("lr_regime_test", 0.0, 2.0)]
    assert all("killed (SIGKILL)" in c.message for c in mallory.checks)


def test_what_a_submission_leaves_running_is_stopped(tiny, tmp_path):
    releases, release_nb = tiny
    pid_file = tmp_path / "pid"
    code = ("import subprocess, sys\n"
            "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'], start_new_session=True)\n"
            f"open({str(pid_file)!r}, 'w').write(str(p.pid))")
    [result] = pool.grade_all([_student(tmp_path, "carol", release_nb, cell=code)], releases, timeout=60, progress=False)
    assert result.total == 1.0
    pid = int(pid_file.read_text())
    for _ in range(50):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"process {pid} started by the submission is still running")


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="stop_marked reads /proc (Linux)")
def test_stop_marked_stops_only_the_marked_processes():
    sleep = [sys.executable, "-c", "import time; time.sleep(600)"]
    marked = subprocess.Popen(sleep, env=dict(os.environ, **{MARKER: "abc"}))
    other = subprocess.Popen(sleep, env=dict(os.environ, **{MARKER: "abcd"}))
    try:
        assert stop_marked("abc") == 1
        assert marked.wait(timeout=10) == -9
        assert other.poll() is None
    finally:
        other.kill()
        marked.kill()
