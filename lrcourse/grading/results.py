"""What grading produces, and the JSON it is kept in: one module that every later stage reads.

* :class:`CheckResult` — the score of one check cell; :class:`GradeResult` — one submission's;
* :func:`to_document` / :func:`from_document` — the JSON of a run (``lrcourse grade --json``);
* :func:`merge` — the JSON of shards joined into one run, refusing parts of another course version and
  overlapping parts.

Nothing here imports the rest of :mod:`lrcourse.grading`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["CheckResult", "GradeResult", "to_document", "from_document", "merge", "MergeError"]


@dataclass
class CheckResult:
    """The score of one check cell: ``status`` is passed, failed, not attempted, voided, kernel died or timed out."""

    grade_id: str
    points: float
    max_points: float
    status: str
    message: str = ""
    exercise: str | None = None  # the exercise the cell checks
    mistake: str | None = None  # the known mistake the failure matched (its message), for the class report
    carried_from: str | None = None  # "carried forward": the check cell of the earlier exercise the failure comes from


@dataclass
class GradeResult:
    """Everything about one submission: its checks, or the reason it scored zero."""

    path: Path
    release: str | None
    checks: list[CheckResult] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0
    integrity: list[str] = field(default_factory=list)  # code that reaches for the checks (grading.scoring.integrity)
    notebook: Any = field(default=None, repr=False)  # the executed copy, check cells restored
    relative: str | None = None  # the path below the folder given (reports, shards)
    student: str | None = None  # from the layout or the file name (grading.batch.roster.student_of)
    duplicate: bool = False  # another submission of the same student and notebook is in the run

    @property
    def total(self) -> float:
        return sum(c.points for c in self.checks)

    @property
    def max_total(self) -> float:
        return sum(c.max_points for c in self.checks)


# ------------------------------------------------------------------------------------------- the JSON

def _check_json(c: CheckResult) -> dict:
    return {"grade_id": c.grade_id, "points": c.points, "max_points": c.max_points, "status": c.status,
            "message": c.message, "exercise": c.exercise, "mistake": c.mistake, "carried_from": c.carried_from}


def to_document(results: list[GradeResult], run: dict, notebooks: bool = False) -> dict:
    """The JSON of a run: what was in force, and every submission with its checks (and graded notebook)."""
    from .. import __version__

    data = []
    for r in results:
        item = {"submission": str(r.path), "relative": r.relative, "student_id": r.student,
                "assignment": Path(r.release).stem if r.release else None, "notebook": r.release,
                "score": r.total, "max_score": r.max_total, "error": r.error, "seconds": round(r.seconds, 2),
                "integrity": r.integrity, "duplicate": r.duplicate,
                "checks": [_check_json(c) for c in r.checks]}
        if notebooks and r.notebook is not None:
            item["graded_notebook"] = r.notebook
        data.append(item)
    return {"lrcourse": __version__, "run": run, "submissions": data}


def from_document(document: dict, source: str = "the JSON") -> tuple[list[GradeResult], dict]:
    """The results and the ``run`` of a JSON written by :func:`to_document`."""
    if not isinstance(document, dict) or "submissions" not in document or "run" not in document:
        raise MergeError(f"{source} is not the JSON of `lrcourse grade --json` (no 'run' and 'submissions')")
    results = []
    for item in document["submissions"]:
        r = GradeResult(Path(item["submission"]), item.get("notebook"), error=item.get("error"),
                        seconds=float(item.get("seconds") or 0.0), integrity=list(item.get("integrity") or []))
        r.relative, r.student, r.duplicate = item.get("relative"), item.get("student_id"), bool(item.get("duplicate"))
        r.checks = [CheckResult(c["grade_id"], float(c["points"]), float(c["max_points"]), c["status"],
                                c.get("message", ""), c.get("exercise"), c.get("mistake"), c.get("carried_from"))
                    for c in item.get("checks", [])]
        if "graded_notebook" in item:
            import nbformat

            r.notebook = nbformat.from_dict(item["graded_notebook"])
        results.append(r)
    return results, document["run"]


class MergeError(ValueError):
    """Parts that cannot be joined into one run."""


def merge(parts: list[tuple[str, dict]]) -> tuple[list[GradeResult], dict]:
    """Join the JSON of shards (``(file name, document)``) into one run, in the order a single run gives.

    Refused, with the files named: a part of another lrcourse version or other released notebooks, two
    parts of one shard, parts of different shard counts, and a submission in two parts.
    """
    if not parts:
        raise MergeError("--merge needs at least one JSON file")
    first_name, first = parts[0]
    results: list[GradeResult] = []
    seen: dict[str, str] = {}
    shards: dict[tuple, str] = {}
    for name, doc in parts:
        part_results, run = from_document(doc, name)
        if doc.get("lrcourse") != first.get("lrcourse"):
            raise MergeError(f"{name} was graded by lrcourse {doc.get('lrcourse')}, {first_name} by "
                             f"{first.get('lrcourse')}: grade every part with one course version")
        if run.get("releases") != first["run"].get("releases"):
            raise MergeError(f"{name} and {first_name} were graded against different released notebooks "
                             f"({run.get('releases')} against {first['run'].get('releases')})")
        if run.get("seed") != first["run"].get("seed"):
            raise MergeError(f"{name} and {first_name} drew their hidden cases with different seeds "
                             f"({run.get('seed')} and {first['run'].get('seed')}): grade every shard with one --seed")
        shard = run.get("shard")
        if shard is not None:
            key = tuple(shard)
            if key in shards:
                raise MergeError(f"{name} and {shards[key]} are both shard {key[0]}/{key[1]}: overlapping parts")
            if shards and next(iter(shards))[1] != key[1]:
                raise MergeError(f"{name} is a shard of {key[1]}, the other parts of {next(iter(shards))[1]}")
            shards[key] = name
        for r in part_results:
            where = r.relative or str(r.path)
            if where in seen:
                raise MergeError(f"{where} is in both {seen[where]} and {name}: overlapping parts")
            seen[where] = name
        results.extend(part_results)
    results.sort(key=lambda r: (r.relative or str(r.path)))
    run = dict(first["run"])
    run.pop("shard", None)
    run["merged"] = [name for name, _ in parts]
    if shards:
        n = next(iter(shards))[1]
        missing = sorted(set(range(1, n + 1)) - {k for k, _ in shards})
        run["missing shards"] = missing
    return results, run
