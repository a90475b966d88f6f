"""benchmarks/gpu_check.py: the CPU dry run (CI has no GPU) runs every code path and stays under 60 s."""
from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from conftest import ROOT

torch = pytest.importorskip("torch")


@pytest.mark.skipif(torch.cuda.is_available(), reason="on a GPU the script is the real check, not a dry run")
def test_the_dry_run_reports_every_configuration_and_exits_0(tmp_path):
    out = tmp_path / "gpu.json"
    start = time.perf_counter()
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), "--json", str(out)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    seconds = time.perf_counter() - start
    assert done.returncode == 0, done.stderr[-2000:]
    assert seconds < 60, f"the dry run took {seconds:.0f} s (budget 60 s)"
    assert "No CUDA GPU here: a dry run" in done.stdout
    report = json.loads(out.read_text())
    assert report["cuda"] is False and report["cuda tests"]["summary"] == "not run: no CUDA GPU"
    rows = report["throughput"]
    assert [(r["model"], r["size"], r["precision"]) for r in rows] == [
        ("small ResNet", 16, "float32"), ("small ResNet", 16, "bf16"), ("small ResNet", 16, "bf16 + channels-last"),
        ("ResNet-18", 32, "float32"), ("ResNet-18", 32, "bf16"), ("ResNet-18", 32, "bf16 + channels-last")]
    assert all(r["images_per_s"] > 0 and r["peak_memory_MiB"] is None for r in rows)
    for r in rows:  # the printed table has a line per configuration
        assert f"{r['model']:<13} {r['size']:>3}px" in done.stdout


def test_the_cuda_tests_are_collected_and_skip_without_a_gpu():
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-m", "cuda", "-p", "no:cacheprovider", "--co",
                           str(ROOT / "tests" / "test_cuda.py")], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-2000:]
    assert "6 tests collected" in done.stdout  # 4 mixed-precision runs, the CPU match, frozen weights
