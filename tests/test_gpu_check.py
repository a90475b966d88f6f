"""benchmarks/gpu_check.py: the CPU dry run (CI has no GPU) runs every code path and stays under 60 s; the
notebook runner and the cuda tests work with only what a GPU machine's PyTorch image has."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import nbformat
import pytest

from _course import ROOT

torch = pytest.importorskip("torch")

SCRIPT = ROOT / "benchmarks" / "gpu_check.py"


@pytest.fixture(scope="module")
def gpu_check():
    from benchmarks import gpu_check

    return gpu_check


def _without(tmp_path, *modules) -> dict:
    """An environment whose Python cannot import ``modules`` (as on a GPU image that lacks them)."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        "import importlib.abc, sys\n"
        f"BLOCKED = {set(modules)!r}\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in BLOCKED:\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, Block())\n")
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])}


@pytest.mark.skipif(torch.cuda.is_available(), reason="on a GPU the script is the real check, not a dry run")
def test_the_dry_run_reports_every_configuration_and_exits_0(tmp_path, kernels):
    out = tmp_path / "gpu.json"
    start = time.perf_counter()
    done = subprocess.run([sys.executable, str(SCRIPT), "--json", str(out)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    seconds = time.perf_counter() - start
    assert done.returncode == 0, done.stderr[-2000:]
    assert seconds < 60, f"the dry run took {seconds:.0f} s (budget 60 s)"
    assert "No CUDA GPU here: a dry run" in done.stdout and "passed; written to" in done.stdout
    report = json.loads(out.read_text())
    assert report["cuda"] is False and report["cuda tests"]["summary"] == "not run: no CUDA GPU"
    assert report["passed"] is True and report["notebook 06"]["throughput cell"] == "not run: no CUDA GPU"
    rows = report["throughput"]
    assert [(r["model"], r["size"], r["precision"]) for r in rows] == [
        ("small ResNet", 16, "float32"), ("small ResNet", 16, "bf16"), ("small ResNet", 16, "bf16 + channels-last"),
        ("ResNet-18", 32, "float32"), ("ResNet-18", 32, "bf16"), ("ResNet-18", 32, "bf16 + channels-last")]
    assert all(r["images_per_s"] > 0 and r["peak_memory_MiB"] is None and "error" not in r for r in rows)
    for r in rows:  # the printed table has a line per configuration
        assert f"{r['model']:<13} {r['size']:>3}px" in done.stdout


def test_the_cuda_tests_are_collected_and_skip_without_a_gpu():
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-m", "cuda", "-p", "no:cacheprovider", "--co",
                           "-o", "addopts=",  # as the script runs them (no nbval, no workers)
                           str(ROOT / "tests" / "test_cuda.py")], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-2000:]
    assert "6 tests collected" in done.stdout  # 4 mixed-precision runs, the CPU match, frozen weights


@pytest.mark.skipif(torch.cuda.is_available(), reason="on a GPU they run")
def test_the_script_runs_the_cuda_tests_where_nbval_is_not_installed(tmp_path, gpu_check, monkeypatch):
    # A GPU machine's image has pytest but not nbval: the project's addopts (--nbval ...) must not stop pytest.
    env = _without(tmp_path, "nbval", "nbformat")
    plain = subprocess.run([sys.executable, "-m", "pytest", "-q", "-m", "cuda", "-p", "no:cacheprovider",
                            str(ROOT / "tests" / "test_cuda.py")], cwd=ROOT, capture_output=True, text=True, env=env)
    assert plain.returncode != 0 and "nbval" in plain.stdout + plain.stderr  # what the script's options avoid
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    result = gpu_check.cuda_tests()
    assert result["status"] == 0 and result["summary"].startswith("6 skipped"), result


def _notebook(path, *cells):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for cell_id, source in cells:
        cell = nbformat.v4.new_code_cell(source)
        cell["id"] = cell_id
        nb.cells.append(cell)
    nb.cells.insert(1, nbformat.v4.new_markdown_cell("Some text."))
    nbformat.write(nb, path)
    return path


CELLS = [("setup", "%matplotlib inline\nimport matplotlib.pyplot as plt\nfrom lrcourse.claims import claim\nx = 2\n"
                   "if x:\n    %time y = 1\n    z = 3"),  # a magic inside a block: skipped, the block still runs
         ("plot", "plt.plot([1, 2])\nplt.show()\nclaim(x == 3, 'x is 3')\nclaim(x == 2, 'x is 2')"),
         ("throughput", "print(f'{x * 21 * (z - 2)} images/s')")]


@pytest.mark.parametrize("kernel", [False, True], ids=["in-process", "jupyter-kernel"])
def test_the_notebook_runner_keeps_the_cell_and_the_claims_not_shown(tmp_path, gpu_check, monkeypatch, kernel,
                                                                     kernels):
    monkeypatch.delenv("LRCOURSE_STRICT_CLAIMS", raising=False)  # a learner's (and the GPU check's) setting
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    if not kernel:
        monkeypatch.setattr(gpu_check, "_kernel_runner", lambda: "nbclient")
    nb = _notebook(tmp_path / "nb.ipynb", *CELLS)
    result = gpu_check.run_notebook(nb)
    assert result["runner"] == ("Jupyter kernel (nbclient)" if kernel else "in-process (nbclient is not installed)")
    assert result["error"] is None
    assert result["claims not shown"] == ["x is 3"]
    assert result["throughput cell"] == "42 images/s"


@pytest.mark.parametrize("kernel", [False, True], ids=["in-process", "jupyter-kernel"])
def test_a_failing_cell_is_reported_and_stops_the_notebook_not_the_check(tmp_path, gpu_check, monkeypatch, kernel,
                                                                         kernels):
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    if not kernel:
        monkeypatch.setattr(gpu_check, "_kernel_runner", lambda: "nbclient")
    here = os.getcwd()
    nb = _notebook(tmp_path / "nb.ipynb", ("setup", "print('ran')"), ("boom", "1 / 0"),
                   ("throughput", "print('never')"))
    result = gpu_check.run_notebook(nb)
    assert result["error"] == "cell boom: ZeroDivisionError: division by zero", result["error"]
    assert result["throughput cell"] == ""
    assert os.getcwd() == here  # the in-process runner ran in the notebook's folder and came back


def test_the_in_process_runner_runs_in_the_notebook_folder(tmp_path, gpu_check):
    (tmp_path / "data.txt").write_text("beside the notebook")
    outputs, error = gpu_check._in_process([{"id": "read", "source": ["print(open('data.txt').read())"]}], tmp_path)
    assert error is None and outputs == {"read": "beside the notebook\n"}


def test_a_failing_configuration_is_a_row_of_the_table(gpu_check):
    row = gpu_check._safe_throughput(("small ResNet", 0, "float32", False), torch.device("cpu"), 2, 0, 1)
    assert row["images_per_s"] is None and row["error"].startswith("RuntimeError")
    good = gpu_check._safe_throughput(("small ResNet", 16, "float32", False), torch.device("cpu"), 2, 0, 1)
    assert "error" not in good and good["images_per_s"] > 0
    lines = gpu_check.table([good, row]).splitlines()
    assert lines[-1].split()[-2:] == ["error", "-"] and lines[-2].split()[-1] == "-"
