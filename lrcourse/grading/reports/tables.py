"""The instructor's reports of a run: a terminal table, a spreadsheet's CSV and the JSON (``lrcourse grade``)."""
from __future__ import annotations

import csv
from pathlib import Path

from ...i18n import gettext_ as _
from .. import messages
from ..results import GradeResult, write_document
from ..scoring.submission import test_cells

__all__ = ["columns", "table", "write_csv", "write_json"]


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
    """Why a submission scored what it did, in the language in force (``i18n.using``)."""
    notes = [messages.localized(r.error)] if r.error else []
    if r.duplicate:
        notes.append(_("duplicate: another submission of {student} for {notebook} is graded too").format(
            student=r.student, notebook=r.release))
    if r.integrity:
        notes.append(_("integrity flags ({count}): {first}").format(count=len(r.integrity), first=r.integrity[0])
                     + ("; …" if len(r.integrity) > 1 else ""))
    roots: dict[str, list[str]] = {}
    for c in r.checks:
        if c.status == "carried forward":
            roots.setdefault(c.carried_from or "?", []).append(c.grade_id)
    for root, carried in roots.items():
        notes.append(_("{checks} carried forward from {check}").format(checks=", ".join(carried), check=root))
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


def write_csv(results: list[GradeResult], releases: dict, path: str | Path, run: dict | None = None) -> None:
    """A spreadsheet's CSV: one row per submission, numbers in numeric columns.

    ``student_id``, ``assignment``, ``score`` and ``max_score`` are named as nbgrader's CSV export names
    them; ``status`` is ``graded`` or ``not graded`` (the note says why); one column per check holds its
    points (empty for a check of another notebook); ``duplicate`` is 1 for a student's second
    submission of one notebook (both are graded); ``hidden_seed`` is the seed the hidden cases were drawn
    with (``run["seed"]``; empty when there were none), so that a grade can be reproduced from the sheet.
    """
    cols = columns(results, releases)
    seed = (run or {}).get("seed")
    header = (["student_id", "assignment", "submission", "status", "score", "max_score"]
              + [gid for _, gid in cols] + ["duplicate", "note", "hidden_seed"])
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for r in results:
            points = {c.grade_id: c.points for c in r.checks}
            writer.writerow([r.student or r.path.stem, Path(r.release).stem if r.release else "",
                             r.relative or str(r.path), "not graded" if r.error else "graded",
                             f"{r.total:g}", f"{r.max_total:g}"]
                            + [f"{points[gid]:g}" if r.release == rel and gid in points else "" for rel, gid in cols]
                            + [int(r.duplicate), _note(r), "" if seed is None else seed])


def write_json(results: list[GradeResult], path: str | Path, run: dict | None = None,
               notebooks: bool = False) -> None:
    """Scores and the feedback of every check that did not pass, for returning to students.

    ``run`` says how the run was made (what was in force: :meth:`lrcourse.grading.sandbox.confine.Plan.describe`,
    the seed of the hidden cases, the released notebooks, the shard); it is written as the file's ``run``.
    ``notebooks``: also keep each graded notebook, from which feedback can be made again later: as a file in
    ``<name>.notebooks/`` beside the JSON, named in it by path and SHA-256
    (:func:`lrcourse.grading.results.write_document`), so that the JSON stays small (a few KB a submission).
    """
    write_document(path, results, run or {}, notebooks=notebooks)
