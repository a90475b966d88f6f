"""The suite's tiers and its order on the workers (tests/conftest.py) do what they say."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

import _tiers as C
from _course import marked_processes


def _items(request) -> list:
    return list(request.session.items)


def test_every_test_is_in_exactly_one_tier(request):
    items = _items(request)
    for item in items:
        tiers = [t for t in C.TIERS if item.get_closest_marker(t) is not None]
        assert len(tiers) == 1, (item.nodeid, tiers)


def test_tiers_come_from_the_path_and_the_fixtures(request):
    """nbval's cells are course, tests/browser is browser, the wheel is package, a test that grades is kernel,
    and this file is unit: checked on whatever this run collected."""
    seen = set()
    for item in _items(request):
        path = C._relative(item)
        tier = next(t for t in C.TIERS if item.get_closest_marker(t) is not None)
        if path.startswith("solutions/"):
            expected = "course"
        elif path.startswith("tests/browser/"):
            expected = "browser"
        elif path == "tests/test_wheel.py":
            expected = "package"
        elif {"tiny", "graded_class", "kernels"} & set(item.fixturenames):
            expected = "kernel"
        elif path in ("tests/test_tiers.py", "tests/test_losses.py"):
            expected = "unit"
        else:
            continue
        assert tier == expected, (item.nodeid, tier, expected)
        seen.add(expected)
    assert "unit" in seen


def test_files_run_whole_on_one_worker_the_graded_class_in_one_file_and_the_longest_first(request):
    """``--dist loadfile``: a notebook's cells share a kernel, and the class is graded once, so every test that
    reads the graded class is in one file."""
    items = _items(request)
    groups = [C.group_of(item) for item in items]
    assert "--dist loadfile" in " ".join(request.config.getini("addopts")) or request.config.getoption("dist") == "loadfile"
    assert len({C._relative(item) for item in items if "graded_class" in getattr(item, "fixturenames", ())}) <= 1
    order = [g for i, g in enumerate(groups) if i == 0 or groups[i - 1] != g]
    assert len(order) == len(set(order)), "a group's tests are not together"
    # in the order of their estimated seconds (those of the groups listed are fixed; the others' may shrink when
    # tests are deselected after the order is made, e.g. `-m unit`)
    listed = [C._seconds(g, []) for g in order if g in C.GROUP_SECONDS or g.startswith("solutions/")]
    assert listed == sorted(listed, reverse=True), [g for g in order if g in C.GROUP_SECONDS][:10]


def test_a_test_of_the_unit_tier_cannot_start_a_kernel():
    for command in ([sys.executable, "-m", "ipykernel_launcher", "-f", "x.json"],
                    [sys.executable, "-m", "lrcourse.grading.batch.worker", "job", "out"],
                    [sys.executable, "-m", "jupyterlab", "--no-browser"]):
        with pytest.raises(RuntimeError, match="a test of the unit tier started .*give it the `kernels` fixture"):
            subprocess.Popen(command)
    # other programs are fine, a Python that imports ipykernel among them (the sandbox's probe does)
    subprocess.run([sys.executable, "-c", "import ipykernel"], check=True)


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads /proc (Linux)")
def test_the_kernel_tier_finds_what_a_test_left_running_by_its_environment():
    token = "0123456789abcdef"
    env = dict(os.environ, LRCOURSE_TEST_KERNELS=token)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], env=env)
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        import time

        for _ in range(50):  # the environment is readable once the process has started
            if marked_processes(token):
                break
            time.sleep(0.05)
        assert marked_processes(token) == [sleeper.pid]
    finally:
        sleeper.kill(), other.kill()
        sleeper.wait(), other.wait()


def test_one_torch_thread_here_and_for_every_kernel():
    import torch

    assert torch.get_num_threads() == 1
    assert all(os.environ[name] == "1" for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"))


def test_auto_workers_are_one_per_core_at_most_eight(monkeypatch):
    monkeypatch.delenv("LRCOURSE_TEST_WORKERS", raising=False)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert C.pytest_xdist_auto_num_workers(None) == max(1, min(8, cores))
    monkeypatch.setenv("LRCOURSE_TEST_WORKERS", "3")
    assert C.pytest_xdist_auto_num_workers(None) == 3
