"""Time the grader against plain execution, and --jobs 2 against --jobs 1, on this machine.

    python benchmarks/grading.py [--notebook solutions/01_gradient_descent.ipynb] [--copies 8]

Budgets (issue 18): grading one notebook as ``lrcourse grade`` does by default -- sandbox and limits as
this machine allows (``confine.plan("auto")``) -- costs at most 1.15x executing it plainly (``lrcourse
execute``), and 8 submissions with ``--jobs 2`` on 2 cores take at most 0.65x the time of ``--jobs 1``.
Grading without confinement is shown too. Each figure is the fastest of ``--repeats`` runs. Exit
status 1 when a budget is missed.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GRADE_BUDGET = 1.15
JOBS_BUDGET = 0.65


def _best(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--notebook", default=str(ROOT / "solutions" / "01_gradient_descent.ipynb"))
    parser.add_argument("--copies", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)
    os.environ.setdefault("MPLBACKEND", "Agg")

    from lrcourse.grading.authoring.execute import execute_notebook
    from lrcourse.grading.batch import pool
    from lrcourse.grading.sandbox import confine
    from lrcourse.grading.scoring.grade import grade_notebook
    from lrcourse.grading.scoring.submission import load_releases

    releases = load_releases(ROOT / "notebooks")
    notebook = Path(args.notebook)
    confinement = confine.plan("auto")
    plain = _best(lambda: execute_notebook(notebook, timeout=600), args.repeats)
    bare = _best(lambda: grade_notebook(notebook, releases, timeout=600), args.repeats)
    graded = _best(lambda: grade_notebook(notebook, releases, timeout=600, confinement=confinement), args.repeats)
    folder = Path(tempfile.mkdtemp(prefix="lrcourse-bench-"))
    try:
        paths = []
        for i in range(args.copies):
            (folder / f"student{i}").mkdir()
            paths.append(Path(shutil.copy(notebook, folder / f"student{i}" / notebook.name)))
        one = _best(lambda: pool.grade_all(paths, releases, timeout=600, jobs=1, progress=False,
                                             confinement=confinement), 1)
        two = _best(lambda: pool.grade_all(paths, releases, timeout=600, jobs=2, progress=False,
                                             confinement=confinement), 1)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    ok_grade, ok_jobs = graded / plain <= GRADE_BUDGET, two / one <= JOBS_BUDGET
    print(f"machine: {os.cpu_count()} CPU cores; notebook {notebook.name}")
    print(confinement.line())
    print(f"grading one notebook: {graded:.1f} s against {plain:.1f} s executing it plainly: "
          f"{graded / plain:.2f}x (budget {GRADE_BUDGET}x) {'ok' if ok_grade else 'OVER BUDGET'}; "
          f"without confinement {bare:.1f} s ({bare / plain:.2f}x)")
    print(f"{args.copies} submissions: --jobs 2 {two:.1f} s against --jobs 1 {one:.1f} s: {two / one:.2f}x "
          f"(budget {JOBS_BUDGET}x) {'ok' if ok_jobs else 'OVER BUDGET'}")
    return 0 if ok_grade and ok_jobs else 1


if __name__ == "__main__":
    sys.exit(main())
