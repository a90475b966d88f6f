"""The prepared GPU check: one script that proves notebook 06 and ``finetune.fit`` on CUDA.

    python benchmarks/gpu_check.py [--json gpu_check.json] [--no-notebook]

On a CUDA GPU (at most 5 minutes) it

1. runs the tests marked ``cuda`` (``tests/test_cuda.py``: ``fit`` in bf16 autocast, in fp16 with a
   gradient scaler, channels-last; per-group LRs equal to the schedule at every step; a short run equal
   to the CPU's in float32 within the stated tolerance; frozen weights bit-identical);
2. executes notebook 06 with its GPU parameters and records its seconds and its throughput cell;
3. measures training throughput (images/s, peak GPU memory) of the small ResNet at 16x16 and ResNet-18
   at 32x32, batch 512, in float32, bf16 and bf16 + channels-last, after a warm-up, timed between
   ``torch.cuda.synchronize()`` calls;

then prints one table and writes it as JSON. Without CUDA it says so, runs the same training code
paths on the CPU for a few batches (a dry run, under 60 s: the table has the same rows, the notebook
and the cuda tests are reported as not run), and exits 0. ``tests/test_gpu_check.py`` runs the dry run.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "solutions" / "06_finetune_pretrained_cnn.ipynb"
CONFIGS = [("small ResNet", 16, "float32", False), ("small ResNet", 16, "bf16", False),
           ("small ResNet", 16, "bf16", True), ("ResNet-18", 32, "float32", False),
           ("ResNet-18", 32, "bf16", False), ("ResNet-18", 32, "bf16", True)]


def throughput(model_name: str, size: int, precision: str, channels_last: bool, device, batch: int,
               warmup: int, steps: int) -> dict:
    """Training images/s of one configuration (SGD with momentum, cross-entropy), and peak GPU memory."""
    import torch
    from torch.nn import functional as F

    from lrcourse import models

    torch.manual_seed(0)
    if model_name == "ResNet-18":
        model, channels, classes = models.resnet18(num_classes=10), 3, 10
    else:
        model, channels, classes = models.small_resnet(num_classes=10), 1, 10
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(device=device, memory_format=memory_format).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(batch, channels, size, size, device=device).contiguous(memory_format=memory_format)
    y = torch.randint(0, classes, (batch,), device=device)
    dtype = torch.bfloat16 if precision == "bf16" else None
    cuda = device.type == "cuda"

    def step():
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()

    for _ in range(warmup):
        step()
    if cuda:
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if cuda:
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated(device) / 2**20 if cuda else None
    return {"model": model_name, "size": size, "batch": batch, "precision": precision + (" + channels-last" if
            channels_last else ""), "images_per_s": round(batch * steps / seconds, 1),
            "peak_memory_MiB": None if peak is None else round(peak, 1)}


def cuda_tests() -> dict:
    """``pytest -m cuda`` on tests/test_cuda.py: the summary line and the exit status."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-m", "cuda", "-p", "no:cacheprovider",
                           str(ROOT / "tests" / "test_cuda.py")], cwd=ROOT, capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    return {"status": done.returncode, "summary": lines[-1] if lines else done.stderr.strip()[-300:],
            "seconds": round(time.perf_counter() - start, 1)}


def notebook_06() -> dict:
    """Execute notebook 06 (it picks its GPU parameters itself) and keep its throughput cell's text."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(NOTEBOOK, as_version=4)
    start = time.perf_counter()
    NotebookClient(nb, timeout=600, resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    seconds = time.perf_counter() - start
    cell = next((c for c in nb.cells if c.get("id") == "throughput"), None)
    text = "".join(o.get("text", "") for o in (cell.outputs if cell is not None else []) if o.get("output_type") == "stream")
    return {"seconds": round(seconds, 1), "throughput cell": text.strip()}


def table(rows: list[dict]) -> str:
    head = f"{'model':<13} {'input':>5} {'batch':>5} {'precision':<26} {'images/s':>10} {'peak MiB':>9}"
    lines = [head, "-" * len(head)]
    for r in rows:
        peak = "-" if r["peak_memory_MiB"] is None else f"{r['peak_memory_MiB']:,.0f}"
        lines.append(f"{r['model']:<13} {r['size']:>3}px {r['batch']:>5} {r['precision']:<26} "
                     f"{r['images_per_s']:>10,.0f} {peak:>9}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", default="gpu_check.json", help="where to write the results (default: %(default)s)")
    parser.add_argument("--no-notebook", action="store_true", help="do not execute notebook 06")
    args = parser.parse_args(argv)
    os.environ.setdefault("MPLBACKEND", "Agg")
    import torch

    start = time.perf_counter()
    cuda = torch.cuda.is_available()
    report: dict = {"torch": torch.__version__, "cuda": cuda}
    if cuda:
        device = torch.device("cuda")
        report["device"] = torch.cuda.get_device_name(0)
        report["bf16"] = torch.cuda.is_bf16_supported()
        print(f"CUDA: {report['device']} (torch {torch.__version__}, bf16 {'yes' if report['bf16'] else 'no'})")
        report["cuda tests"] = cuda_tests()
        print(f"cuda tests: {report['cuda tests']['summary']} ({report['cuda tests']['seconds']} s)")
        batch, warmup, steps = 512, 5, 20
        configs = [c for c in CONFIGS if report["bf16"] or c[2] != "bf16"]
    else:
        device = torch.device("cpu")
        report["device"] = "cpu (dry run)"
        print("No CUDA GPU here: a dry run of the same code paths on the CPU, a few batches each "
              "(the cuda tests and notebook 06 run on a GPU machine only).")
        report["cuda tests"] = {"status": None, "summary": "not run: no CUDA GPU", "seconds": 0}
        batch, warmup, steps = 4, 1, 1  # the code paths, not a measurement: a CPU runs bf16 slowly
        configs = CONFIGS
        torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    rows = [throughput(name, size, precision, cl, device, batch, warmup, steps) for name, size, precision, cl in configs]
    report["throughput"] = rows
    print(table(rows))
    if cuda and not args.no_notebook:
        report["notebook 06"] = notebook_06()
        print(f"notebook 06: {report['notebook 06']['seconds']} s\n{report['notebook 06']['throughput cell']}")
    else:
        report["notebook 06"] = {"seconds": None, "throughput cell": "not run" + ("" if cuda else ": no CUDA GPU")}
    report["seconds"] = round(time.perf_counter() - start, 1)
    Path(args.json).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"{report['seconds']} s in all; written to {args.json}")
    failed = cuda and report["cuda tests"]["status"] not in (0, None)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
