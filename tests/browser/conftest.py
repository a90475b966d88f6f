"""A real JupyterLab driven by Chromium through Playwright (the `browser` marker).

The server runs on a temporary copy of the solution notebooks of the Vietnamese edition (``SOLUTIONS``: every seed
shifted by ``SEED_OFFSET``) and the English student notebooks, on a free port, with no token, temporary settings and workspace folders, windowing off (every cell is in the page) and the
app exposed as ``window.jupyterapp`` for the tests to drive. Chromium is the system's (the Debian
package ``chromium``): Playwright's own browser download is not reachable here. Without it the tests
skip with a reason that names the package.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

from benchmarks.robustness import shift_seed
from lrcourse.claims import kernel_env

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
#: The solutions run here in the Vietnamese edition, whose code is the English's but for strings (nbval runs the
#: English against its stored outputs), with every seed shifted by this much (``SEED = 1``): so every notebook
#: runs once more under a perturbation, each edition runs whole once, and a claim of the text that this run does
#: not show fails the test.
SOLUTIONS = ROOT / "solutions" / "vi"
SEED_OFFSET = 1
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"  # git-ignored, for a person to look at
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
KERNEL_THREADS = 1


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.browser)


def _chromium() -> str | None:
    return os.environ.get("LRCOURSE_CHROMIUM") or next(filter(None, map(shutil.which, CHROMIUM_NAMES)), None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = _chromium()
    if path is None:
        pytest.skip("the browser tests need Chromium: install the Debian package chromium "
                    "(apt-get install chromium), or set LRCOURSE_CHROMIUM to a Chromium binary")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("the browser tests need Playwright for Python: pip install -e '.[test]'")
    return path


@pytest.fixture(scope="session")
def lab(chromium_path, tmp_path_factory) -> str:
    """The base URL of a JupyterLab serving solutions/ and notebooks/ (copies; notebooks/ twice, for Notebook 7)."""
    base = tmp_path_factory.mktemp("lab")
    root, settings, workspaces = base / "root", base / "settings", base / "workspaces"
    (root / "solutions").mkdir(parents=True)
    for path in SOLUTIONS.glob("*.ipynb"):  # outputs cleared: Run All replaces them, and the page loads faster
        nb = shift_seed(nbformat.read(path, as_version=4), SEED_OFFSET)
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        nbformat.write(nb, root / "solutions" / path.name)
    shutil.copytree(NOTEBOOKS, root / "notebooks", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    shutil.copytree(NOTEBOOKS, root / "notebook7", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    for extension, values in {"notebook-extension/tracker": {"windowingMode": "none"},
                              "apputils-extension/notification": {"fetchNews": "false",
                                                                  "checkForUpdates": False}}.items():
        path = settings / "@jupyterlab" / f"{extension}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    workspaces.mkdir()
    port = _free_port()
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
           f"--ServerApp.root_dir={root}", "--IdentityProvider.token=", "--ServerApp.password=",
           "--ServerApp.disable_check_xsrf=True",  # the tests stop kernels through the REST API
           "--LabApp.expose_app_in_browser=True", "--JupyterNotebookApp.expose_app_in_browser=True",
           f"--LabApp.user_settings_dir={settings}", f"--LabApp.workspaces_dir={workspaces}",
           f"--JupyterNotebookApp.user_settings_dir={settings}", f"--JupyterNotebookApp.workspaces_dir={workspaces}"]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    log = open(base / "server.log", "w")
    # No user configuration; one torch thread per kernel (the tests run notebooks side by side, one per
    # core), and the claims of the text as a learner has them: numbers that differ from the text's with
    # another thread count give a note, not an error (lrcourse.claims; nbval holds them strictly).
    env = dict(kernel_env(strict=False), JUPYTER_CONFIG_DIR=str(base / "config"), OMP_NUM_THREADS=str(KERNEL_THREADS))
    env.pop("MPLBACKEND", None)  # the kernel's own inline backend, as a learner has it
    proc = subprocess.Popen(cmd, cwd=root, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        end = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/status", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > end:
                    raise RuntimeError(f"JupyterLab did not start: {(base / 'server.log').read_text()[-2000:]}")
                time.sleep(0.3)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


@pytest.fixture(scope="session")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        # --no-sandbox: Chromium's sandbox refuses to run as root, which CI and containers do
        chromium = pw.chromium.launch(executable_path=chromium_path, args=[
            "--no-sandbox", "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
            "--disable-backgrounding-occluded-windows"])  # tabs run side by side at full speed
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def context(browser, lab):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(90_000)
    yield context
    context.close()  # the kernels stop with the server


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    return SCREENSHOTS

