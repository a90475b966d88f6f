"""The prepared GPU check: one script that proves notebook 06 and ``finetune.fit`` on CUDA.

    python benchmarks/gpu_check.py [--json gpu_check.json] [--notebook gpu|always|never]

On a CUDA GPU (at most 5 minutes) it

1. runs the tests marked ``cuda`` (``tests/test_cuda.py``: ``fit`` in bf16 autocast, in fp16 with a
   gradient scaler, channels-last; per-group LRs equal to the schedule at every step; a short run equal
   to the CPU's in float32 within the stated tolerance; frozen weights bit-identical);
2. measures training throughput (images/s, peak GPU memory) of the small ResNet at 16x16 and ResNet-18
   at 32x32, batch 512, in float32, bf16 and bf16 + channels-last, after a warm-up, timed between
   ``torch.cuda.synchronize()`` calls;
3. executes notebook 06 with its GPU parameters and records its seconds, the claims of its text that
   the run did not show (the text quotes the CPU run) and its throughput cell;

then prints one table and writes it as JSON (after every stage, so a run stopped at its time limit
keeps what it finished). A failing stage is reported and the others still run; the exit status is 1
if any failed.

It needs only what a GPU machine's PyTorch image has (torch, numpy, matplotlib, scikit-learn, pytest)
and the repository on ``PYTHONPATH``: pytest runs without the project's nbval options, and when
nbformat, nbclient or ipykernel are missing the notebook's code cells run in this process, in order,
in one namespace (magics skipped), instead of in a Jupyter kernel. From the repository root:

    PYTHONPATH=. python3 benchmarks/gpu_check.py --json "$OUT/gpu_check.json"

Without CUDA it says so, runs the same training code paths on the CPU for a few batches (a dry run,
under 60 s: the table has the same rows, the notebook and the cuda tests are reported as not run), and
exits 0. ``tests/test_gpu_check.py`` runs the dry run, and the notebook runner on small notebooks.
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
    """``pytest -m cuda`` on tests/test_cuda.py: the summary line and the exit status.

    The project's ``addopts`` (nbval's options) are dropped: a GPU machine need not have nbval.
    """
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-m", "cuda", "-p", "no:cacheprovider",
                           "-p", "no:nbval", "-o", "addopts=", str(ROOT / "tests" / "test_cuda.py")],
                          cwd=ROOT, capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    return {"status": done.returncode, "summary": lines[-1] if lines else done.stderr.strip()[-300:],
            "seconds": round(time.perf_counter() - start, 1)}


def _kernel_runner() -> str | None:
    """Why notebooks cannot run in a Jupyter kernel here (a missing package), or None when they can."""
    for module in ("nbformat", "nbclient", "ipykernel"):
        try:
            __import__(module)
        except ImportError:
            return module
    return None


def _in_process(cells: list[dict], cwd: Path) -> tuple[dict, str | None]:
    """Run code cells one after another in one namespace, as a kernel would: {cell id: its printed text},
    and the first error (``"cell ID: Type: message"``) or None. IPython magics (``%...``) are skipped."""
    import contextlib
    import io
    import traceback

    import matplotlib.pyplot as plt

    namespace: dict = {"__name__": "__main__"}
    outputs: dict = {}
    here = Path.cwd()
    os.chdir(cwd)
    try:
        for number, cell in enumerate(cells):
            cell_id = cell.get("id") or f"#{number}"
            source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            source = "\n".join(line[:len(line) - len(line.lstrip())] + "pass  # " + line.lstrip()
                               if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())
            buffer = io.StringIO()
            try:
                with contextlib.redirect_stdout(buffer):
                    exec(compile(source, f"<cell {cell_id}>", "exec"), namespace)
            except Exception as err:  # noqa: BLE001 -- reported, and later cells depend on this one
                outputs[cell_id] = buffer.getvalue()
                last = traceback.format_exception_only(type(err), err)[-1].strip()
                return outputs, f"cell {cell_id}: {last}"
            finally:
                plt.close("all")
            outputs[cell_id] = buffer.getvalue()
    finally:
        os.chdir(here)
    return outputs, None


def _in_kernel(path: Path) -> tuple[dict, str | None]:
    """Execute the notebook in a Jupyter kernel (nbclient): {cell id: its stream text}, and the first error."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(path, as_version=4)
    error = None
    try:
        NotebookClient(nb, timeout=600, resources={"metadata": {"path": str(path.parent)}}).execute()
    except CellExecutionError as err:
        error = f"cell ?: {err.ename}: {err.evalue}"
        for cell in nb.cells:
            failed = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
            if failed:
                error = f"cell {cell.get('id')}: {failed[0]['ename']}: {failed[0]['evalue']}"
                break
    outputs = {c.get("id"): "".join(o.get("text", "") for o in c.get("outputs", []) if o.get("output_type") == "stream")
               for c in nb.cells if c.cell_type == "code"}
    return outputs, error


def run_notebook(path: Path = NOTEBOOK, keep: str = "throughput") -> dict:
    """Execute a notebook and report its seconds, how it ran, its first error, the claims of its text that
    this run did not show, and the printed text of cell ``keep``.

    In a Jupyter kernel where nbformat, nbclient and ipykernel are installed; otherwise (a GPU machine's
    image need not have them) its code cells run in this process, in order, in one namespace. Either way
    a failing cell is reported, not raised, so the rest of the check still runs and writes its table.
    """
    missing = _kernel_runner()
    start = time.perf_counter()
    if missing is None:
        runner = "Jupyter kernel (nbclient)"
        outputs, error = _in_kernel(path)
    else:
        runner = f"in-process ({missing} is not installed)"
        cells = [c for c in json.loads(path.read_text(encoding="utf-8"))["cells"] if c["cell_type"] == "code"]
        outputs, error = _in_process(cells, path.parent)
    seconds = time.perf_counter() - start
    from lrcourse.claims import not_shown

    claims = not_shown("".join(outputs.values()))
    return {"seconds": round(seconds, 1), "runner": runner, "error": error, "claims not shown": claims,
            f"{keep} cell": outputs.get(keep, "").strip()}


def table(rows: list[dict]) -> str:
    head = f"{'model':<13} {'input':>5} {'batch':>5} {'precision':<26} {'images/s':>10} {'peak MiB':>9}"
    lines = [head, "-" * len(head)]
    for r in rows:
        peak = "-" if r["peak_memory_MiB"] is None else f"{r['peak_memory_MiB']:,.0f}"
        speed = "error" if r["images_per_s"] is None else f"{r['images_per_s']:,.0f}"
        lines.append(f"{r['model']:<13} {r['size']:>3}px {r['batch']:>5} {r['precision']:<26} {speed:>10} {peak:>9}")
    return "\n".join(lines)


def _save(report: dict, path: str) -> None:
    """Write what is known so far: a run stopped at its time limit still leaves its finished stages."""
    Path(path).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


def _safe_throughput(config: tuple, device, batch: int, warmup: int, steps: int) -> dict:
    """:func:`throughput`, or the row with the error that stopped it (the other rows still run)."""
    name, size, precision, channels_last = config
    try:
        return throughput(name, size, precision, channels_last, device, batch, warmup, steps)
    except Exception as err:  # noqa: BLE001 -- one failing configuration is a row of the table
        return {"model": name, "size": size, "batch": batch,
                "precision": precision + (" + channels-last" if channels_last else ""), "images_per_s": None,
                "peak_memory_MiB": None, "error": f"{type(err).__name__}: {err}"[:300]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", default="gpu_check.json", help="where to write the results (default: %(default)s)")
    parser.add_argument("--notebook", choices=("gpu", "always", "never"), default="gpu",
                        help="execute notebook 06: on a GPU only (default), also on a CPU (about a minute "
                             "and a half), or never")
    args = parser.parse_args(argv)
    os.environ.setdefault("MPLBACKEND", "Agg")
    import platform

    import torch

    start = time.perf_counter()
    cuda = torch.cuda.is_available()
    report: dict = {"torch": torch.__version__, "python": platform.python_version(), "cuda": cuda}
    if cuda:
        device = torch.device("cuda")
        report.update(device=torch.cuda.get_device_name(0), bf16=torch.cuda.is_bf16_supported(),
                      cuda_version=torch.version.cuda, cudnn=torch.backends.cudnn.version())
        print(f"CUDA: {report['device']} (torch {torch.__version__}, CUDA {report['cuda_version']}, "
              f"cuDNN {report['cudnn']}, Python {report['python']}, bf16 {'yes' if report['bf16'] else 'no'})")
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
    _save(report, args.json)
    rows = report["throughput"] = [_safe_throughput(c, device, batch, warmup, steps) for c in configs]
    print(table(rows))
    for row in rows:
        if "error" in row:
            print(f"ERROR {row['model']} {row['precision']}: {row['error']}")
    _save(report, args.json)
    if args.notebook == "always" or (cuda and args.notebook == "gpu"):
        if cuda:
            torch.cuda.empty_cache()  # the throughput models are gone; give the notebook the whole GPU
        nb = report["notebook 06"] = run_notebook()
        print(f"notebook 06: {nb['seconds']} s, {nb['runner']}, "
              f"{'ERROR in ' + nb['error'] if nb['error'] else 'no error'}; "
              f"{len(nb['claims not shown'])} claims of the text not shown (the text quotes the CPU run)\n"
              f"{nb['throughput cell']}")
    else:
        report["notebook 06"] = {"seconds": None, "throughput cell": "not run" + ("" if cuda else ": no CUDA GPU")}
    report["seconds"] = round(time.perf_counter() - start, 1)
    failed = (report["cuda tests"]["status"] not in (0, None) or any("error" in row for row in rows)
              or bool(report["notebook 06"].get("error")))
    report["passed"] = not failed
    _save(report, args.json)
    print(f"{report['seconds']} s in all; {'FAILED' if failed else 'passed'}; written to {args.json}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
