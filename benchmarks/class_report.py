"""Time the class report and the feedback files for a synthetic class, from its saved JSON.

    python benchmarks/class_report.py [--students 200]

Budget (issue 19): building the report and 200 feedback files from a saved JSON of 200 graded submissions
takes at most 10 s on 2 cores. The class is made of the course's own notebook 01 (its solution, with its
outputs and figures, as every student's graded notebook) and, per check, a status and a known mistake
drawn at random from the exercise's real ones. Exit status 1 when the budget is missed.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUDGET = 10.0


def synthetic_class(students: int, seed: int = 0) -> dict:
    """The JSON of a graded class: every check passed, failed with a known mistake, or not attempted."""
    import nbformat

    from lrcourse.exercises import descent
    from lrcourse.grading.results import CheckResult, GradeResult, to_document
    from lrcourse.grading.scoring.submission import load_releases, release_ids, test_cells

    rng = random.Random(seed)
    releases = load_releases(ROOT / "notebooks")
    name = "01_gradient_descent.ipynb"
    graded = nbformat.read(ROOT / "solutions" / name, as_version=4)
    results = []
    for i in range(students):
        r = GradeResult(Path(f"submissions/student{i:03d}/{name}"), name, seconds=rng.uniform(5, 40))
        r.relative, r.student = f"student{i:03d}/{name}", f"student{i:03d}"
        for gid, cell in test_cells(releases[name]):
            points = float(cell.metadata.nbgrader["points"])
            exercise = gid.removesuffix("_test")
            mistakes = getattr(getattr(descent, exercise, None), "mistakes", ())
            roll = rng.random()
            if roll < 0.6:
                r.checks.append(CheckResult(gid, points, points, "passed", "", exercise))
            elif roll < 0.85 and mistakes:
                mistake = rng.choice(mistakes).message
                r.checks.append(CheckResult(gid, 0.0, points, "failed", f"AssertionError: ... {mistake}", exercise,
                                            mistake))
            else:
                r.checks.append(CheckResult(gid, 0.0, points, "not attempted",
                                            f"NotAttemptedError: {exercise} is not attempted yet", exercise))
        r.notebook = graded
        results.append(r)
    return to_document(results, {"seed": 1, "releases": release_ids(releases)}, notebooks=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=200)
    args = parser.parse_args(argv)
    os.environ.setdefault("MPLBACKEND", "Agg")
    folder = Path(tempfile.mkdtemp(prefix="lrcourse-class-"))
    try:
        saved = folder / "grades.json"
        saved.write_text(json.dumps(synthetic_class(args.students)), encoding="utf-8")
        start = time.perf_counter()
        from lrcourse.grading.reports import classreport, feedback
        from lrcourse.grading.results import from_document

        results, run = from_document(json.loads(saved.read_text(encoding="utf-8")))
        (folder / "report.html").write_text(classreport.render(results, run), encoding="utf-8")
        written = feedback.write_all(results, folder / "feedback")
        seconds = time.perf_counter() - start
        size = saved.stat().st_size / 2**20
        print(f"machine: {os.cpu_count()} CPU cores; {args.students} submissions, saved JSON {size:.1f} MiB")
        print(f"report and {len(written)} feedback files from the saved JSON: {seconds:.2f} s "
              f"(budget {BUDGET:g} s) {'ok' if seconds <= BUDGET else 'OVER BUDGET'}")
        return 0 if seconds <= BUDGET else 1
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
