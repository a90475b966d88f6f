"""Who submitted what, in which share of the class, and what the JSON of a run holds.

* :func:`student_of` reads the student from nbgrader's layouts (``submitted/<student>/<assignment>/
  <notebook>.ipynb``, ``submissions/<student>/<notebook>.ipynb``), else from the file name;
* :func:`shard_of` puts a submission in one of ``N`` shards by a stable hash of its path relative to
  the folder given, so that ``--shard 1/N`` ... ``--shard N/N`` partition a class on any machine;
* :func:`known_mistake` names the known mistake a failed check's message reports;
* :func:`to_document` / :func:`from_document` are the JSON of a run, and :func:`merge` joins the
  JSON of shards into one run, refusing parts of another course version and overlapping parts.
"""
from __future__ import annotations

import hashlib
import importlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Iterable

from .grade import CheckResult, GradeResult

__all__ = ["Submission", "student_of", "shard_of", "parse_shard", "known_mistake", "to_document",
           "from_document", "merge", "MergeError", "release_ids"]

#: The folder names nbgrader (``submitted``) and this course's README (``submissions``) collect work in.
_COLLECTED = ("submitted", "submissions", "autograded")


@dataclass(frozen=True)
class Submission:
    """A notebook to grade and how the reports name it: its path relative to the folder it was found in."""

    path: Path
    relative: str  # POSIX path relative to the folder given (the file name for a file given directly)


def student_of(relative: str, release_names: Iterable[str]) -> str:
    """The student of a submission at ``relative`` (a POSIX path below the folder given).

    ``submitted/alice/ps1/01_gradient_descent.ipynb`` and ``submissions/alice/01_gradient_descent.ipynb``
    give ``alice``; so do ``alice/01_gradient_descent.ipynb`` and ``alice/old/01_gradient_descent.ipynb``
    below the folder given, a folder per student holding a released notebook's file name. A file of its own name (``alice.ipynb``, ``alice_01_gradient_descent.ipynb``)
    gives its stem, less the released notebook's name when it contains it.
    """
    parts = PurePosixPath(relative).parts
    for i, part in enumerate(parts[:-1]):
        if part in _COLLECTED and i + 1 < len(parts) - 1:
            return parts[i + 1]
    name = parts[-1]
    stems = sorted((Path(n).stem for n in release_names), key=len, reverse=True)
    if name in set(release_names) and len(parts) >= 2:
        return parts[0]  # the folder given holds one folder per student (and whatever each has inside)
    stem = Path(name).stem
    for release in stems:
        if release in stem and stem != release:
            left = stem.replace(release, "").strip("_- .")
            if left:
                return left
    return stem


def parse_shard(text: str) -> tuple[int, int]:
    """``"2/5"`` -> ``(2, 5)``; ``ValueError`` naming ``--shard`` unless ``1 <= K <= N``."""
    try:
        k, n = (int(p) for p in text.split("/"))
    except ValueError:
        raise ValueError(f"--shard must be K/N with whole numbers, e.g. 2/5, got {text!r}") from None
    if not 1 <= k <= n:
        raise ValueError(f"--shard K/N needs 1 <= K <= N, got {text!r}")
    return k, n


def shard_of(relative: str, n: int) -> int:
    """The shard, 1 to ``n``, of the submission at ``relative``: a stable hash (SHA-256), the same everywhere."""
    digest = hashlib.sha256(str(PurePosixPath(relative)).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % n + 1


def known_mistake(module: str | None, exercise: str | None, message: str) -> str | None:
    """The message of the known mistake of ``exercise`` (in ``lrcourse.exercises.<module>``) that a failed
    check's ``message`` reports, if any: the check names it only when every case agrees with it."""
    if not module or not exercise or not message:
        return None
    try:
        checks = importlib.import_module(f"lrcourse.exercises.{module}")
    except ImportError:
        return None
    from .. import i18n

    ex = getattr(checks, exercise, None)
    for mistake in getattr(ex, "mistakes", ()):
        if not mistake.message:
            continue
        english = i18n.key(mistake.message)
        # the report counts one mistake across the class, whichever language each feedback was in
        if english in message or any(i18n.translations(language).get(english, english) in message
                                     for language in i18n.LANGUAGES[1:]):
            return english
    return None


def release_ids(releases: dict) -> dict[str, str | None]:
    """Each released notebook's version id (its ``lrcourse.release`` metadata), by file name."""
    return {name: (nb.metadata.get("lrcourse") or {}).get("release") for name, nb in releases.items()}


# ------------------------------------------------------------------------------------------- the JSON

def _check_json(c: CheckResult) -> dict:
    return {"grade_id": c.grade_id, "points": c.points, "max_points": c.max_points, "status": c.status,
            "message": c.message, "exercise": c.exercise, "mistake": c.mistake}


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
                                c.get("message", ""), c.get("exercise"), c.get("mistake"))
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
