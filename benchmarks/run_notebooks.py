"""Time the course on this machine: seconds per solution notebook and the import time of lrcourse.

    python benchmarks/run_notebooks.py [NOTEBOOK ...] [--json FILE] [--threads N]

Budgets (COURSE.md and the issues, 2-core CPU, no GPU): each notebook <= 60 s, tighter where
its issue says so (NOTEBOOK_BUDGETS_S), every cell <= 30 s, ``import lrcourse`` <= 0.3 s
without importing torch, and ``search.sweep`` of 16 LRs <= 3x one training run of the same
model (notebook 05's MLP, 64-32-10 on digits, 10 epochs), measured in this process.
Each notebook runs in a fresh kernel; the time includes kernel start-up. The kernel has the machine's own torch
threads, as a learner's has (``--threads N`` sets them; the reference runs and the tests use one), and the claims
of the text as a learner has them: a claim this run does not show is counted in the last column, not an error
(nbval holds the reference outputs strictly).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from lrcourse import syllabus

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_BUDGET_S = syllabus.BUDGET_S
#: Notebooks whose issue sets a tighter budget than COURSE.md's 60 s (from the syllabus).
NOTEBOOK_BUDGETS_S = {n.file: n.budget_s for n in syllabus.NOTEBOOKS if n.budget_s < syllabus.BUDGET_S}
CELL_BUDGET_S = syllabus.CELL_BUDGET_S
IMPORT_BUDGET_S = 0.3
SWEEP_BUDGET_RATIO = 3.0


def import_time(repeats: int = 5) -> tuple[float, bool]:
    """Best-of-``repeats`` seconds for ``import lrcourse`` in a fresh interpreter, and whether torch came along."""
    code = ("import sys, time; t = time.perf_counter(); import lrcourse; "
            "print(time.perf_counter() - t, 'torch' in sys.modules)")
    best, torch_loaded = float("inf"), False
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
        best = min(best, float(out[0]))
        torch_loaded |= out[1] == "True"
    return best, torch_loaded


def sweep_ratio(hidden: int = 32, num_lrs: int = 16, repeats: int = 7) -> dict:
    """Seconds of one ``training.train`` run and of a ``search.sweep`` over ``num_lrs`` LRs of the same model.

    The two are timed alternately, ``repeats`` times each, in this process, and the fastest of each
    is kept: the least disturbed by whatever else the machine is doing.
    """
    from lrcourse import data, schedules, search, training

    split = data.digits()
    lrs = search.log_grid(1e-3, 10.0, num_lrs)

    def one() -> None:
        model = training.mlp(split.num_features, split.num_classes, hidden=hidden)
        training.train(model, split, schedules.constant(0.25), epochs=10, momentum=0.0)

    def sweep() -> None:
        search.sweep(split, lrs, epochs=10, hidden=hidden)

    one(), sweep()  # warm-up: first calls pay for imports and allocations
    best = {"one": float("inf"), "sweep": float("inf")}
    for _ in range(repeats):
        for name, fn in (("one", one), ("sweep", sweep)):
            start = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - start)
    return {"hidden": hidden, "num_lrs": num_lrs, "one_run_s": best["one"], "sweep_s": best["sweep"],
            "ratio": best["sweep"] / best["one"]}


def time_notebook(path: Path, threads: int = 0) -> dict:
    """Execute one notebook headless, as `lrcourse execute` does but with ``threads`` torch threads (``0``: the
    machine's own) and the claims not strict; return total and slowest-cell seconds, and the claims not shown."""
    from lrcourse.claims import not_shown
    from lrcourse.grading.authoring.execute import cell_seconds, execute_notebook

    start = time.perf_counter()
    try:
        nb, total = execute_notebook(path, timeout=600, record_timing=True, strict_claims=False, threads=threads)
    except Exception as err:  # report and go on with the other notebooks
        message = str(err).strip().splitlines()[-1] if str(err).strip() else ""
        return {"notebook": path.name, "seconds": round(time.perf_counter() - start, 2), "slowest_cell_s": 0.0,
                "slowest_cell": None, "error": f"{type(err).__name__}: {message}", "claims_not_shown": []}
    timed = [(cell_seconds(c) or 0.0, c.get("id")) for c in nb.cells if c.cell_type == "code"]
    slowest, slowest_id = max(timed, default=(0.0, None))
    printed = "".join(str(o.get("text", "")) for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    return {"notebook": path.name, "seconds": round(total, 2), "slowest_cell_s": round(slowest, 2),
            "slowest_cell": slowest_id, "error": None, "claims_not_shown": not_shown(printed)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", help="notebooks to time (default: every solutions/*.ipynb)")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch threads of each kernel (default 0: the machine's own, as a learner's)")
    args = parser.parse_args(argv)
    os.environ.setdefault("MPLBACKEND", "Agg")

    paths = [Path(p) for p in args.notebooks] or [ROOT / "solutions" / name for name in syllabus.files()]
    seconds, torch_loaded = import_time()
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}, "
          f"torch threads per kernel: {args.threads or 'the machine default'}")
    print(f"import lrcourse: {seconds:.4f} s (budget {IMPORT_BUDGET_S} s), imports torch: {torch_loaded}")
    results, ok = [], seconds <= IMPORT_BUDGET_S and not torch_loaded
    print(f"{'notebook':<40} {'seconds':>8} {'budget':>7} {'slowest cell':>13}  {'status':<12} claims not shown")
    for path in paths:
        r = time_notebook(path, args.threads)
        r["budget_s"] = NOTEBOOK_BUDGETS_S.get(path.name, NOTEBOOK_BUDGET_S)
        results.append(r)
        within = r["error"] is None and r["seconds"] <= r["budget_s"] and r["slowest_cell_s"] <= CELL_BUDGET_S
        ok &= within
        status = "ok" if within else (r["error"] or "OVER BUDGET")
        print(f"{r['notebook']:<40} {r['seconds']:8.1f} {r['budget_s']:7.0f} {r['slowest_cell_s']:13.1f}  {status:<12} "
              f"{len(r['claims_not_shown'])}")
    sweeps = [sweep_ratio(hidden) for hidden in (32, 64)]
    for r in sweeps:
        within = r["ratio"] <= SWEEP_BUDGET_RATIO
        if r["hidden"] == 32:  # notebook 05's model: the one the budget is about
            ok &= within
        status = ("ok" if within else "OVER BUDGET") if r["hidden"] == 32 else "reference: a wider model, no budget"
        print(f"sweep of {r['num_lrs']} LRs, MLP 64-{r['hidden']}-10: {r['sweep_s']:.3f} s against one run "
              f"{r['one_run_s']:.3f} s, ratio {r['ratio']:.2f}x (budget {SWEEP_BUDGET_RATIO:g}x): {status}")
    if args.json:
        Path(args.json).write_text(json.dumps({"import_s": seconds, "imports_torch": torch_loaded,
                                               "notebooks": results, "sweeps": sweeps}, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
