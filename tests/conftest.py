"""The fixtures tests share, and each tier's guard. The tiers themselves, the order on the workers and the
environment (one torch thread, strict claims) are in ``tests/_tiers.py``, loaded by the root ``conftest.py``."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from _course import marked_processes

# ------------------------------------------------------------------------------------- each tier's guard

#: What a test of the unit tier may not start: a kernel, a grading worker, JupyterLab (an argument of the command).
_STARTS = {"ipykernel_launcher", "ipykernel", "lrcourse.grading.batch.worker", "jupyterlab", "jupyter-lab", "lab"}


@pytest.fixture(autouse=True)
def _tier_guard(request, monkeypatch):
    """The tiers kept honest.

    - ``unit``: a test that starts a kernel, a grading worker or JupyterLab fails, saying how to move it, so
      that ``pytest -m unit`` stays in-process;
    - ``kernel``: what a test leaves running (a kernel, anything a kernel started) fails it and is stopped; a
      leak would slow every later test on the worker. Its processes are known by a variable of their
      environment, which they inherit.
    """
    if request.node.get_closest_marker("unit") is not None:
        original = subprocess.Popen._execute_child

        def guarded(self, args, *rest, **kwargs):
            words = str(args).split() if isinstance(args, (str, bytes)) else [str(a) for a in args]
            started = next((w for w in words if w in _STARTS or Path(w).name in _STARTS), None)
            if started is not None:
                raise RuntimeError(f"a test of the unit tier started {started!r}: give it the `kernels` fixture, or "
                                   f"put its file in TIER_BY_PATH (tests/_tiers.py), so that `pytest -m unit` "
                                   f"stays in-process")
            return original(self, args, *rest, **kwargs)

        monkeypatch.setattr(subprocess.Popen, "_execute_child", guarded)
        yield
        return
    if request.node.get_closest_marker("kernel") is None or not Path("/proc").is_dir():
        yield
        return
    import secrets
    import time

    token = secrets.token_hex(8)
    monkeypatch.setenv("LRCOURSE_TEST_KERNELS", token)
    yield
    for _ in range(100):  # a kernel that was told to stop takes a moment
        left = marked_processes(token)
        if not left:
            return
        time.sleep(0.1)
    what = []
    for pid in left:
        try:
            what.append(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")[:120])
            os.kill(pid, 9)
        except OSError:
            pass
    pytest.fail(f"the test left {len(left)} process(es) running, now stopped: {what}")


# ------------------------------------------------------------------------------------------- shared fixtures

@pytest.fixture
def kernels():
    """For a test that starts Jupyter kernels itself (executing or grading a notebook): it puts the test in the
    kernel tier, where what it leaves running fails it (:func:`_tier_guard`)."""


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """``(releases, release notebook)``: a release folder holding :func:`_course.tiny_release`."""
    import nbformat

    from _course import tiny_release
    from lrcourse.grading.scoring import submission

    nb = tiny_release()
    folder = tmp_path_factory.mktemp("release")
    nbformat.write(nb, folder / "tiny.ipynb")
    return submission.load_releases(folder), nb


@pytest.fixture(scope="session")
def graded_class(tmp_path_factory):
    """A small class graded once by ``lrcourse grade`` (as an instructor runs it), for every test of what
    instructors take home: the table, CSV, JSON, feedback pages, class report, shards and merge.

    See :func:`_course.small_class` for who is in it; graded with ``--jobs 2 --seed 5`` into ``out/``.
    """
    from _course import grade_small_class

    return grade_small_class(tmp_path_factory.mktemp("class"))
