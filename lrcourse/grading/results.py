"""What grading produces, and the JSON it is kept in: one module that every later stage reads.

* :class:`CheckResult` — the score of one check cell; :class:`GradeResult` — one submission's;
* :func:`write_document` / :func:`read_document` — the JSON of a run (``lrcourse grade --json``): results only,
  one submission per line, so that it is read and merged a submission at a time; each graded notebook is a file
  in a folder beside it (``grades.notebooks/``), named in the JSON by its path and SHA-256, from which feedback
  pages are made again (:func:`load_notebook`);
* :func:`to_document` / :func:`from_document` — the same as one dict, in memory;
* :func:`merge` / :func:`merge_files` — the JSON of shards joined into one run, refusing parts of another
  course version and overlapping parts.

Nothing here imports the rest of :mod:`lrcourse.grading`.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

__all__ = ["CheckResult", "GradeResult", "to_document", "from_document", "write_document", "read_document",
           "iter_document", "load_notebook", "merge", "merge_files", "MergeError"]


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
    notebook_file: Path | None = None  # where the graded notebook was saved (write_document), when not in memory
    notebook_sha256: str | None = None  # its SHA-256, checked when it is read back (load_notebook)

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


def _submission_json(r: GradeResult) -> dict:
    return {"submission": str(r.path), "relative": r.relative, "student_id": r.student,
            "assignment": Path(r.release).stem if r.release else None, "notebook": r.release,
            "score": r.total, "max_score": r.max_total, "error": r.error, "seconds": round(r.seconds, 2),
            "integrity": r.integrity, "duplicate": r.duplicate, "checks": [_check_json(c) for c in r.checks]}


def to_document(results: list[GradeResult], run: dict, notebooks: bool = False) -> dict:
    """The JSON of a run as one dict: what was in force, and every submission with its checks (and, with
    ``notebooks``, its graded notebook inline: fine for a few, see :func:`write_document` for a class)."""
    from .. import __version__

    data = []
    for r in results:
        item = _submission_json(r)
        if notebooks and r.notebook is not None:
            item["graded_notebook"] = r.notebook
        data.append(item)
    return {"lrcourse": __version__, "run": run, "submissions": data}


def _result(item: dict, base: Path | None = None) -> GradeResult:
    r = GradeResult(Path(item["submission"]), item.get("notebook"), error=item.get("error"),
                    seconds=float(item.get("seconds") or 0.0), integrity=list(item.get("integrity") or []))
    r.relative, r.student, r.duplicate = item.get("relative"), item.get("student_id"), bool(item.get("duplicate"))
    r.checks = [CheckResult(c["grade_id"], float(c["points"]), float(c["max_points"]), c["status"],
                            c.get("message", ""), c.get("exercise"), c.get("mistake"), c.get("carried_from"))
                for c in item.get("checks", [])]
    graded = item.get("graded_notebook")
    if isinstance(graded, dict) and set(graded) == {"path", "sha256"}:   # a file beside the JSON
        r.notebook_file = Path(graded["path"]) if base is None else base / graded["path"]
        r.notebook_sha256 = graded["sha256"]
    elif graded is not None:                                             # inline (to_document(notebooks=True))
        import nbformat

        r.notebook = nbformat.from_dict(graded)
    return r


def from_document(document: dict, source: str = "the JSON", base: str | Path | None = None) -> tuple[list[GradeResult], dict]:
    """The results and the ``run`` of a JSON written by :func:`to_document` or :func:`write_document`
    (``base``: the folder the JSON is in, against which its graded notebooks' paths are read)."""
    if not isinstance(document, dict) or "submissions" not in document or "run" not in document:
        raise MergeError(f"{source} is not the JSON of `lrcourse grade --json` (no 'run' and 'submissions')")
    folder = Path(base) if base is not None else None
    return [_result(item, folder) for item in document["submissions"]], document["run"]


# ------------------------------------------------------------------------------------------- the JSON on disk

def notebooks_folder(path: str | Path) -> Path:
    """Where :func:`write_document` puts the graded notebooks of ``grades.json``: ``grades.notebooks/`` beside it."""
    path = Path(path)
    return path.with_name(path.stem + ".notebooks")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_document(path: str | Path, results: Any, run: dict, notebooks: bool = True,
                   folder: str | Path | None = None) -> Path:
    """Write the JSON of a run to ``path``, one submission per line, and return it.

    It keeps results, not notebooks: with ``notebooks``, each graded notebook in memory is written to
    ``folder`` (default :func:`notebooks_folder`), at the submission's relative path, and the JSON names it by
    its path (relative to the JSON's folder) and SHA-256; a result read from another JSON (a merge) keeps
    naming the file it already has. ``results`` may be any iterable: nothing is held but one submission.
    The file is valid JSON for any tool; :func:`iter_document` reads it a submission at a time.
    """
    from .. import __version__

    path = Path(path)
    here = path.resolve().parent
    folder = Path(folder) if folder is not None else notebooks_folder(path)
    head = json.dumps({"lrcourse": __version__, "run": run}, ensure_ascii=False)
    tmp = path.with_name(path.name + ".partial")
    count = 0
    with open(tmp, "w", encoding="utf-8") as out:
        out.write(head[:-1] + ', "submissions": [')
        for r in results:
            item = _submission_json(r)
            if notebooks and r.notebook is not None:
                import nbformat

                data = (nbformat.writes(r.notebook) + "\n").encode("utf-8")
                target = folder / (r.relative or r.path.name)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
                item["graded_notebook"] = {"path": os.path.relpath(target.resolve(), here), "sha256": _sha256(data)}
            elif notebooks and r.notebook_file is not None:
                item["graded_notebook"] = {"path": os.path.relpath(Path(r.notebook_file).resolve(), here),
                                           "sha256": r.notebook_sha256}
            out.write(("\n" if count == 0 else ",\n") + json.dumps(item, ensure_ascii=False))
            count += 1
        out.write("\n]}\n")
    os.replace(tmp, path)
    return path


def iter_document(path: str | Path) -> tuple[dict, Iterator[GradeResult]]:
    """``(header, results)`` of a JSON on disk, the results read a submission at a time; ``header`` holds
    ``lrcourse`` (the version) and ``run``. A JSON of :func:`write_document` is read line by line; any other
    (an older or re-indented one) is read whole."""
    path = Path(path)
    base = path.resolve().parent
    with open(path, encoding="utf-8") as f:
        first = f.readline()
    if first.rstrip().endswith('"submissions": ['):
        try:
            header = json.loads(first.rstrip() + "]}")
        except ValueError:
            header = None
        if isinstance(header, dict) and "run" in header:
            def results() -> Iterator[GradeResult]:
                with open(path, encoding="utf-8") as f:
                    f.readline()
                    for line in f:
                        line = line.strip().rstrip(",")
                        if line in ("", "]}"):
                            continue
                        yield _result(json.loads(line), base)
            header.pop("submissions", None)
            return header, results()
    document = json.loads(path.read_text(encoding="utf-8"))
    results, _run = from_document(document, str(path), base)
    return {k: v for k, v in document.items() if k != "submissions"}, iter(results)


def read_document(path: str | Path) -> tuple[list[GradeResult], dict]:
    """The results and the ``run`` of a JSON on disk (:func:`iter_document`, all at once)."""
    header, results = iter_document(path)
    return list(results), header["run"]


def load_notebook(result: GradeResult) -> Any:
    """The graded notebook of ``result``: the one in memory, else its file, checked against the SHA-256 the JSON
    recorded (a file changed or replaced since grading raises ``ValueError`` naming it); None when none was kept."""
    if result.notebook is not None or result.notebook_file is None:
        return result.notebook
    import nbformat

    try:
        data = Path(result.notebook_file).read_bytes()
    except OSError as err:
        raise ValueError(f"the graded notebook of {result.relative or result.path} is missing: {result.notebook_file} "
                         f"({err.strerror}); keep the folder beside the JSON") from None
    if result.notebook_sha256 and _sha256(data) != result.notebook_sha256:
        raise ValueError(f"{result.notebook_file} changed since it was graded (its SHA-256 is not the one the JSON "
                         f"recorded): it is not the notebook the scores are about")
    return nbformat.reads(data.decode("utf-8"), as_version=4)


class MergeError(ValueError):
    """Parts that cannot be joined into one run."""


def merge(parts: list[tuple[str, dict]]) -> tuple[list[GradeResult], dict]:
    """Join the JSON of shards (``(file name, document)``) into one run, in the order a single run gives.

    Refused, with the files named: a part of another lrcourse version or other released notebooks, two
    parts of one shard, parts of different shard counts, and a submission in two parts.
    """
    return _merge([(name, doc, from_document(doc, name)[0]) for name, doc in parts])


def merge_files(paths: list[str | Path]) -> tuple[list[GradeResult], dict]:
    """:func:`merge` of JSON files on disk, each read a submission at a time (:func:`iter_document`): what is held
    is the results, never a whole file's text nor any graded notebook."""
    parts = []
    for path in paths:
        try:
            header, results = iter_document(path)
        except (OSError, ValueError) as err:
            raise MergeError(f"cannot read {path} ({err})") from None
        parts.append((str(path), header, results))
    return _merge(parts)


def _merge(parts: list[tuple[str, dict, Any]]) -> tuple[list[GradeResult], dict]:
    if not parts:
        raise MergeError("--merge needs at least one JSON file")
    first_name, first, _unused = parts[0]
    results: list[GradeResult] = []
    seen: dict[str, str] = {}
    shards: dict[tuple, str] = {}
    for name, doc, part_results in parts:
        run = doc["run"]
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
            results.append(r)
    results.sort(key=lambda r: (r.relative or str(r.path)))
    run = dict(first["run"])
    run.pop("shard", None)
    run["merged"] = [name for name, *_ in parts]
    if shards:
        n = next(iter(shards))[1]
        missing = sorted(set(range(1, n + 1)) - {k for k, _ in shards})
        run["missing shards"] = missing
    return results, run
