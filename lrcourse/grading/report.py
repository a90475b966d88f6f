"""Grade many submissions (in parallel if asked) and report: a terminal table, CSV and JSON.

``lrcourse grade`` is :func:`grade_all` followed by :func:`table`, :func:`write_csv`
and :func:`write_json`. Each submission is graded in a process of its own
(:mod:`lrcourse.grading.worker`): a submission that kills or crashes the process
grading it scores zero with the reason, and the others are graded regardless.
"""
from __future__ import annotations

import csv
import json
import os
from concurrent.futures import as_completed
from pathlib import Path
from typing import Iterable

from .grade import GradeResult
from .submission import test_cells

__all__ = ["find_submissions", "find", "label", "grade_all", "columns", "table", "write_csv", "write_json"]


def find_submissions(paths: Iterable[str | Path]) -> list[Path]:
    """The notebooks named by ``paths``: files as given, folders searched recursively (checkpoints skipped).

    Raises ``FileNotFoundError`` for a path that does not exist: that is a usage error.
    """
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_file():
            found.append(path)
        elif path.is_dir():
            found.extend(sorted(p for p in path.rglob("*.ipynb")
                                if ".ipynb_checkpoints" not in p.parts and p.is_file()))
        else:
            raise FileNotFoundError(f"submission {path} does not exist")
    unique, seen = [], set()
    for p in found:
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(p)
    return unique


def find(paths: Iterable[str | Path]) -> list:
    """The notebooks named by ``paths`` (as :func:`find_submissions`), each with its path relative to the
    folder it was found in (a file given directly: its name), which names it in reports and shards."""
    from .classbook import Submission

    found, seen = [], set()
    for raw in paths:
        root = Path(raw)
        for path in find_submissions([root]):
            key = path.resolve()
            if key in seen:
                continue
            seen.add(key)
            relative = path.relative_to(root).as_posix() if root.is_dir() else path.name
            found.append(Submission(path, relative))
    return found


def label(results: list[GradeResult], submissions: list, releases: dict) -> None:
    """Set each result's relative path and student, and flag two submissions of one student and notebook."""
    from .classbook import student_of

    for result, sub in zip(results, submissions, strict=True):
        result.relative = sub.relative
        result.student = student_of(sub.relative, releases)
    owners: dict[tuple, list[GradeResult]] = {}
    for result in results:
        if result.release:
            owners.setdefault((result.student, result.release), []).append(result)
    for same in owners.values():
        if len(same) > 1:
            for result in same:
                result.duplicate = True


def _thread_env(jobs: int) -> dict:
    """Each of ``jobs`` parallel kernels gets its share of the cores (torch, NumPy's BLAS and OpenMP read these
    when a kernel starts): two kernels with two threads each on two cores run several times slower than one."""
    threads = str(max(1, (os.cpu_count() or 1) // jobs))
    return {name: threads for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}


def _lost(path: Path, releases: dict, reason: str) -> GradeResult:
    """The result of a submission whose grading process did not come back: every check zero, with the reason."""
    from .grade import CheckResult
    from .submission import prepare

    try:
        release = prepare(path, releases).release
    except Exception:
        release = None
    result = GradeResult(path, release, error=reason)
    if release is not None:
        result.checks = [CheckResult(gid, 0.0, float(cell.metadata.nbgrader.get("points", 0)), "failed", reason)
                         for gid, cell in test_cells(releases[release])]
    return result


def _grade_in_process(path: Path, releases: dict, timeout: int, jobs: int, folder: Path, index: int,
                      confinement=None, seed: int | None = None, keep: bool = False) -> GradeResult:
    """Grade ``path`` in a process of its own (:mod:`lrcourse.grading.worker`), then stop whatever it left running."""
    import pickle
    import signal
    import subprocess
    import sys
    import uuid

    from .worker import MARKER, stop_marked

    job, out = folder / f"{index}.job", folder / f"{index}.result"
    job.write_bytes(pickle.dumps((path, releases, timeout, confinement, seed, keep)))
    limit = confinement.limits.notebook_timeout if confinement is not None else None
    token = uuid.uuid4().hex
    env = dict(os.environ, **(_thread_env(jobs) if jobs > 1 else {}), **{MARKER: token})
    log = folder / f"{index}.log"  # a file, not a pipe: a submission that floods stderr cannot fill memory
    overran = False
    try:
        with open(log, "wb") as stderr:
            worker = subprocess.Popen([sys.executable, "-m", "lrcourse.grading.worker", str(job), str(out)], env=env,
                                      stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr,
                                      start_new_session=True)
            try:  # the worker keeps the notebook's time itself; this is the backstop should it hang
                worker.wait(timeout=None if limit is None else limit + 120)
            except subprocess.TimeoutExpired:
                overran = True
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()
    finally:
        stop_marked(token)  # the kernel and anything it started, even when the worker was killed
    if out.exists():
        return pickle.loads(out.read_bytes())
    if overran:
        return _lost(path, releases, f"the notebook ran longer than its limit of {limit} s and was stopped")
    done = worker
    if done.returncode < 0:
        name = signal.Signals(-done.returncode).name
        reason = (f"the process grading this submission was killed ({name}) while it ran: its own code may "
                  f"have killed it; no other submission was affected")
    else:
        with open(log, "rb") as f:
            f.seek(max(0, log.stat().st_size - 2000))
            tail = f.read().decode(errors="replace").strip().splitlines()[-1:] or [""]
        reason = f"the process grading this submission failed (exit status {done.returncode}) {tail[0]}".strip()
    return _lost(path, releases, reason)


def grade_all(paths: list[Path], releases: dict, timeout: int = 60, jobs: int = 1,
              progress: bool = True, confinement=None, seed: int | None = None,
              keep_notebooks: bool = False) -> list[GradeResult]:
    """Grade every path, ``jobs`` at a time, each in a process of its own; results in the order of ``paths``.

    ``confinement``: a :class:`~lrcourse.grading.confine.Plan` for every kernel, or ``None`` (no limits
    but the per-cell ``timeout``). ``seed``: the checks also try hidden cases drawn with it.
    ``keep_notebooks``: keep each graded notebook (for feedback files, and in the JSON).
    """
    import shutil
    import tempfile
    from concurrent.futures import ThreadPoolExecutor

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(paths), desc="grading", unit="notebook")
    results: dict[int, GradeResult] = {}
    folder = Path(tempfile.mkdtemp(prefix="lrcourse-jobs-"))
    try:
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            futures = {pool.submit(_grade_in_process, path, releases, timeout, jobs, folder, i, confinement, seed,
                                   keep_notebooks): i
                       for i, path in enumerate(paths)}
            for future in as_completed(futures):
                i = futures[future]
                try:
                    results[i] = future.result()
                except Exception as err:  # the grader's own failure to start a process
                    results[i] = _lost(paths[i], releases, f"grading could not run ({type(err).__name__}: {err})")
                if bar is not None:
                    bar.update(1)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        if bar is not None:
            bar.close()
    return [results[i] for i in range(len(paths))]


def columns(results: list[GradeResult], releases: dict) -> list[tuple[str, str]]:
    """``(release, grade_id)`` of every check of the notebooks graded, in release order."""
    graded = {r.release for r in results if r.release}
    return [(name, gid) for name, nb in releases.items() if name in graded for gid, _ in test_cells(nb)]


def _points(result: GradeResult, gid: str) -> str:
    for check in result.checks:
        if check.grade_id == gid:
            return f"{check.points:g}/{check.max_points:g}"
    return ""


def _name(result: GradeResult, root: Path | None = None) -> str:
    try:
        return str(result.path.relative_to(root)) if root else str(result.path)
    except ValueError:
        return str(result.path)


def _note(r: GradeResult) -> str:
    notes = [r.error] if r.error else []
    if r.duplicate:
        notes.append(f"duplicate: another submission of {r.student} for {r.release} is graded too")
    if r.integrity:
        notes.append(f"integrity flags ({len(r.integrity)}): {r.integrity[0]}" + ("; …" if len(r.integrity) > 1 else ""))
    return "; ".join(notes)


def _rows(results: list[GradeResult], releases: dict) -> tuple[list[str], list[list[str]]]:
    cols = columns(results, releases)
    header = ["submission", "notebook"] + [gid for _, gid in cols] + ["total", "note"]
    rows = []
    for r in results:
        total = f"{r.total:g}/{r.max_total:g}" if r.checks else "0"
        rows.append([_name(r), r.release or ""] + [_points(r, gid) if r.release == rel else "" for rel, gid in cols]
                    + [total, _note(r)])
    return header, rows


def table(results: list[GradeResult], releases: dict) -> str:
    """One row per submission, one column per check, the total and a note (why a submission scored zero)."""
    header, rows = _rows(results, releases)
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(header)]
    widths[-1] = len(header[-1])
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    for row in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines)


def write_csv(results: list[GradeResult], releases: dict, path: str | Path) -> None:
    """A spreadsheet's CSV: one row per submission, numbers in numeric columns.

    ``student_id``, ``assignment``, ``score`` and ``max_score`` are named as nbgrader's CSV export names
    them; ``status`` is ``graded`` or ``not graded`` (the note says why); one column per check holds its
    points (empty for a check of another notebook); ``duplicate`` is 1 for a student's second
    submission of one notebook (both are graded).
    """
    cols = columns(results, releases)
    header = (["student_id", "assignment", "submission", "status", "score", "max_score"]
              + [gid for _, gid in cols] + ["duplicate", "note"])
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for r in results:
            points = {c.grade_id: c.points for c in r.checks}
            writer.writerow([r.student or r.path.stem, Path(r.release).stem if r.release else "",
                             r.relative or str(r.path), "not graded" if r.error else "graded",
                             f"{r.total:g}", f"{r.max_total:g}"]
                            + [f"{points[gid]:g}" if r.release == rel and gid in points else "" for rel, gid in cols]
                            + [int(r.duplicate), _note(r)])


def write_json(results: list[GradeResult], path: str | Path, run: dict | None = None,
               notebooks: bool = False) -> None:
    """Scores and the feedback of every check that did not pass, for returning to students.

    ``run`` says how the run was made (what was in force: :meth:`lrcourse.grading.confine.Plan.describe`,
    the seed of the hidden cases, the released notebooks, the shard); it is written as the file's ``run``.
    ``notebooks``: also keep each graded notebook, from which feedback can be made again later.
    """
    from .classbook import to_document

    document = to_document(results, run or {}, notebooks=notebooks)
    Path(path).write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
