"""Time the class report and the feedback files for a synthetic class, from its saved JSON.

    python benchmarks/class_report.py [--students 200]
    python benchmarks/class_report.py --thousand [--students 1000] [--shards 20]

Budget (issue 19): building the report and 200 feedback files from a saved JSON of 200 graded submissions
takes at most 10 s on 2 cores. The class is made of the course's own notebook 01 (its solution, with its
outputs and figures, as every student's graded notebook) and, per check, a status and a known mistake
drawn at random from the exercise's real ones.

``--thousand`` (issue 37): 1,000 students x the 7 notebooks = 7,000 submissions, graded in 20 shards (each shard's
JSON as `lrcourse grade --shard k/20 --json` writes it: results a line each, the graded notebooks as files beside
it; every student's graded notebook is the solution of that notebook, hard-linked, with each check passed, failed
with one of the exercise's real known mistakes, or not attempted). Timed, each as its own `lrcourse` command:
the merge of the 20 shards with the class report, the CSV and the merged JSON (budget 60 s and 2 GiB peak
memory), then the feedback pages of all 7,000 (budget 5 min). Also: the JSON's size per submission (budget
20 KB). Exit status 1 when a budget is missed.
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
#: --thousand: merge + report + CSV, its peak memory, the feedback pages, the JSON per submission
MERGE_BUDGET_S, MERGE_BUDGET_MIB, FEEDBACK_BUDGET_S, JSON_BUDGET_KB = 60.0, 2048, 300.0, 20.0


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


def thousand_class(folder: Path, students: int, shards: int, seed: int = 0) -> list[Path]:
    """The shards' JSON of a class of ``students`` x the 7 notebooks, as `lrcourse grade --shard k/N --json` writes
    them; returns their paths."""
    import hashlib
    import importlib

    from lrcourse import syllabus
    from lrcourse.grading.batch import roster
    from lrcourse.grading.results import CheckResult, GradeResult, write_document
    from lrcourse.grading.scoring.submission import load_releases, release_ids, test_cells

    rng = random.Random(seed)
    releases = load_releases(ROOT / "notebooks")
    names = syllabus.files()
    solution = {name: (ROOT / "solutions" / name) for name in names}
    digest = {name: hashlib.sha256(path.read_bytes()).hexdigest() for name, path in solution.items()}
    module = {name: importlib.import_module(syllabus.notebook(name).exercise_module) for name in names}
    cells = {name: list(test_cells(releases[name])) for name in names}
    run_base = {"seed": 1, "hidden": True, "releases": release_ids(releases), "carry forward": True}
    by_shard: dict[int, list] = {k: [] for k in range(1, shards + 1)}
    for i in range(students):
        student = f"student{i:04d}"
        for name in names:
            relative = f"{student}/{name}"
            r = GradeResult(Path(f"submissions/{relative}"), name, seconds=rng.uniform(5, 40))
            r.relative, r.student = relative, student
            for gid, cell in cells[name]:
                points = float(cell.metadata.nbgrader["points"])
                exercise = gid.removesuffix("_test")
                mistakes = getattr(getattr(module[name], exercise, None), "mistakes", ())
                roll = rng.random()
                if roll < 0.6:
                    r.checks.append(CheckResult(gid, points, points, "passed", "", exercise))
                elif roll < 0.85 and mistakes:
                    mistake = rng.choice(mistakes).message
                    r.checks.append(CheckResult(gid, 0.0, points, "failed", f"AssertionError: {gid} ... {mistake}",
                                                exercise, mistake))
                else:
                    r.checks.append(CheckResult(gid, 0.0, points, "not attempted",
                                                f"NotAttemptedError: {exercise} is not attempted yet", exercise))
            by_shard[roster.shard_of(relative, shards)].append(r)
    paths = []
    for k, results in by_shard.items():
        part = folder / f"shard{k:02d}"
        for r in results:   # the graded notebook as the shard wrote it: a file beside its JSON (here a hard link)
            target = part / "grades.notebooks" / r.relative
            target.parent.mkdir(parents=True, exist_ok=True)
            os.link(solution[r.release], target)
            r.notebook_file, r.notebook_sha256 = target, digest[r.release]
        paths.append(write_document(part / "grades.json", results, dict(run_base, shard=[k, shards])))
    return paths


def _timed(command: list[str]) -> tuple[float, float, str]:
    """Seconds and peak memory (MiB, this command's process alone) of one `lrcourse` command, and its stderr."""
    import subprocess

    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "lrcourse.cli", *command], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    err = proc.stderr.read()
    _pid, status, usage = os.wait4(proc.pid, 0)   # its own rusage: ru_maxrss in KiB on Linux
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"lrcourse {' '.join(command[:3])}... failed:\n{err}")
    return seconds, usage.ru_maxrss / 1024, err


def main_thousand(students: int, shards: int) -> int:
    folder = Path(tempfile.mkdtemp(prefix="lrcourse-thousand-"))
    try:
        start = time.perf_counter()
        parts = thousand_class(folder, students, shards)
        made = time.perf_counter() - start
        count = sum(1 for p in parts for line in p.open(encoding="utf-8")) - 2 * len(parts)
        json_kb = sum(p.stat().st_size for p in parts) / count / 1024
        release = str(ROOT / "notebooks")
        merge_s, merge_mib, _ = _timed(["grade", "--merge", *map(str, parts), "--release-dir", release,
                                        "--report", str(folder / "report.html"), "--csv", str(folder / "grades.csv"),
                                        "--json", str(folder / "merged.json")])
        feedback_s, feedback_mib, _ = _timed(["grade", "--merge", str(folder / "merged.json"), "--release-dir",
                                              release, "--feedback", str(folder / "feedback")])
        pages = len(list((folder / "feedback").iterdir()))
        merged_kb = (folder / "merged.json").stat().st_size / count / 1024
        ok = {"merge": merge_s <= MERGE_BUDGET_S, "memory": merge_mib <= MERGE_BUDGET_MIB,
              "json": max(json_kb, merged_kb) <= JSON_BUDGET_KB, "feedback": feedback_s <= FEEDBACK_BUDGET_S,
              "pages": pages == count}
        print(f"machine: {os.cpu_count()} CPU cores; {students} students x 7 notebooks = {count} submissions in "
              f"{len(parts)} shards (made in {made:.1f} s)")
        print(f"JSON per submission: {json_kb:.2f} KB in the shards, {merged_kb:.2f} KB merged "
              f"(budget {JSON_BUDGET_KB:g} KB) {'ok' if ok['json'] else 'OVER BUDGET'}")
        print(f"merge of {len(parts)} shards + class report + CSV + merged JSON: {merge_s:.1f} s (budget "
              f"{MERGE_BUDGET_S:g} s) {'ok' if ok['merge'] else 'OVER BUDGET'}; peak memory {merge_mib:.0f} MiB "
              f"(budget {MERGE_BUDGET_MIB} MiB) {'ok' if ok['memory'] else 'OVER BUDGET'}")
        print(f"feedback pages for all {pages}: {feedback_s:.1f} s (budget {FEEDBACK_BUDGET_S:g} s) "
              f"{'ok' if ok['feedback'] and ok['pages'] else 'OVER BUDGET'}; peak memory {feedback_mib:.0f} MiB")
        return 0 if all(ok.values()) else 1
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=None)
    parser.add_argument("--thousand", action="store_true", help="1,000 students x 7 notebooks in 20 shards")
    parser.add_argument("--shards", type=int, default=20)
    args = parser.parse_args(argv)
    os.environ.setdefault("MPLBACKEND", "Agg")
    if args.thousand:
        return main_thousand(args.students or 1000, args.shards)
    args.students = args.students or 200
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
