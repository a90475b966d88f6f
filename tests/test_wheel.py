"""The course as a learner installs it: a wheel, in a fresh virtualenv, with no source tree beside it.

The wheel is built from a copy of the project and installed into a new virtualenv, as a learner installs it:
pip resolves the wheel's declared dependencies. Offline, they come from what this environment has installed: the
new virtualenv's site-packages lists this environment's site-packages folders in a ``.pth`` file (plain paths, so
nothing of this environment's own ``.pth`` files, such as an editable lrcourse, comes along), whether this
environment is a virtualenv or a system Python. A dependency the wheel declares and this environment lacks fails
the install. Then, from an empty folder: `lrcourse start --no-browser` copies the course out and starts a real
JupyterLab, and notebook 01 runs up to its first check, which must report "not attempted" as its message alone.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

from _course import NOTEBOOKS, ROOT

WHEEL_BUDGET = 2 * 1024 * 1024  # bytes
_SKIP = shutil.ignore_patterns(".git", "build", "dist", "*.egg-info", "__pycache__", ".venv", "lrcourse-notebooks",
                               ".ipynb_checkpoints", "screenshots")


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """A copy of the project, so that building leaves the working tree alone."""
    path = tmp_path_factory.mktemp("source") / "lrcourse"
    shutil.copytree(ROOT, path, ignore=_SKIP)
    return path


@pytest.fixture(scope="module")
def wheel(source, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out),
                    str(source)], check=True, capture_output=True, text=True)
    (path,) = out.glob("lrcourse-*.whl")
    return path


def _site_packages() -> list[str]:
    """This environment's site-packages folders (a virtualenv's own, or a system Python's)."""
    return [p for p in dict.fromkeys(sys.path) if p.endswith(("site-packages", "dist-packages")) and os.path.isdir(p)]


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    env = tmp_path_factory.mktemp("venv") / "env"
    subprocess.run([sys.executable, "-m", "venv", str(env)], check=True)
    python = str(env / "bin" / "python")
    purelib = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    Path(purelib, "lrcourse-test-dependencies.pth").write_text("\n".join(_site_packages()) + "\n")
    # A venv of Python < 3.12 comes with an old setuptools of its own, which would hide this environment's (torch
    # asks for setuptools >= 77); from 3.12 venvs have none.
    subprocess.run([python, "-m", "pip", "uninstall", "-y", "-q", "setuptools"], capture_output=True, text=True)
    done = subprocess.run([python, "-m", "pip", "install", "--no-index", str(wheel)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Successfully installed lrcourse-" in done.stdout
    return env


def test_the_wheels_dependencies_are_resolved_not_skipped(venv):
    """pip checked every declared dependency (none installed with --no-deps), and torch comes from outside the
    new virtualenv: the environment's, not a second copy."""
    python = str(venv / "bin" / "python")
    out = subprocess.run([python, "-m", "pip", "show", "lrcourse"], check=True, capture_output=True, text=True).stdout
    requires = next(line for line in out.splitlines() if line.startswith("Requires:"))
    for name in ("numpy", "torch", "jupyterlab", "nbformat", "nbclient", "ipywidgets", "optuna"):
        assert name in requires, requires
    where = subprocess.run([python, "-c", "import torch, nbformat; print(torch.__file__, nbformat.__file__)"],
                           check=True, capture_output=True, text=True).stdout.split()
    assert all(not Path(w).is_relative_to(venv) for w in where), where


def test_the_wheel_carries_the_course_within_budget(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    course = sorted(n.removeprefix("lrcourse/course/") for n in names if n.startswith("lrcourse/course/"))
    shipped = sorted(p.relative_to(NOTEBOOKS).as_posix() for p in [*NOTEBOOKS.glob("*.ipynb"), *NOTEBOOKS.glob("vi/*.ipynb")])
    assert course == shipped  # both editions
    assert any(n.startswith("vi/") for n in course)
    assert "lrcourse/weights/small_resnet_digits04.pt" in names
    assert "lrcourse/locale/vi/LC_MESSAGES/lrcourse.mo" in names  # the Vietnamese messages
    for name in course:
        assert zipfile.ZipFile(wheel).read(f"lrcourse/course/{name}") == (NOTEBOOKS / name).read_bytes()
    assert wheel.stat().st_size < WHEEL_BUDGET, f"the wheel is {wheel.stat().st_size} bytes"


def test_the_sdist_carries_the_course(source, tmp_path):
    subprocess.run([sys.executable, "-c", f"from setuptools import build_meta; build_meta.build_sdist({str(tmp_path)!r})"],
                   cwd=source, check=True, capture_output=True, text=True)
    (sdist,) = tmp_path.glob("lrcourse-*.tar.gz")
    with tarfile.open(sdist) as tar:
        names = tar.getnames()
    top = names[0].split("/")[0]
    for path in [*NOTEBOOKS.glob("*.ipynb"), *NOTEBOOKS.glob("vi/*.ipynb")]:
        assert f"{top}/notebooks/{path.relative_to(NOTEBOOKS).as_posix()}" in names
    assert f"{top}/lrcourse/weights/small_resnet_digits04.pt" in names


def test_the_installed_package_is_the_wheels(venv, tmp_path):
    out = subprocess.run([str(venv / "bin" / "python"), "-c", "import lrcourse; print(lrcourse.__file__)"],
                         cwd=tmp_path, check=True, capture_output=True, text=True).stdout.strip()
    assert Path(out).is_relative_to(venv), out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(url: str, proc: subprocess.Popen, seconds: float = 90) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise AssertionError(f"JupyterLab exited with {proc.returncode}: {proc.stdout.read()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"JupyterLab did not answer at {url} within {seconds} s")


_RUN_TO_FIRST_CHECK = r"""
import json, sys
import nbformat
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], as_version=4)
first = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade"))
nb.cells = nb.cells[:first + 1]
NotebookClient(nb, timeout=120, allow_errors=True, kernel_name="python3").execute()
errors = [o for c in nb.cells[:first] for o in c.get("outputs", []) if o["output_type"] == "error"]
print(json.dumps({"errors_before": len(errors), "check": nb.cells[first].outputs}))
"""


def test_lrcourse_start_copies_the_course_and_notebook_01_runs_to_its_first_check(venv, tmp_path):
    port = _free_port()
    folder = tmp_path / "my-course"
    proc = subprocess.Popen([str(venv / "bin" / "lrcourse"), "start", str(folder), "--no-browser", "--port", str(port),
                             "--lab-arg=--IdentityProvider.token=", "--lab-arg=--ServerApp.password="],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        _wait_for(f"http://127.0.0.1:{port}/api/status", proc)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/contents", timeout=10) as response:
            listed = sorted(item["name"] for item in json.load(response)["content"])
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # `lrcourse start` has become JupyterLab: it stops cleanly
        try:
            out = proc.communicate(timeout=30)[0]
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out = proc.communicate()[0]
    names = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
    assert listed == names  # JupyterLab serves the copied folder
    assert f"copied {len(names)} notebooks into {folder}" in out
    assert sorted(p.name for p in folder.iterdir() if p.suffix == ".ipynb") == names

    result = subprocess.run([str(venv / "bin" / "python"), "-c", _RUN_TO_FIRST_CHECK,
                             str(folder / "01_gradient_descent.ipynb")], cwd=tmp_path, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["errors_before"] == 0
    (error,) = [o for o in found["check"] if o["output_type"] == "error"]
    assert error["ename"] == "NotAttemptedError"
    assert error["evalue"].startswith("gd_step is not attempted yet")
    traceback = "\n".join(error["traceback"])
    assert "_core.py" not in traceback and "lrcourse/exercises" not in traceback
    assert traceback.startswith("NotAttemptedError: gd_step is not attempted yet")
