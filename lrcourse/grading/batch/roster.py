"""Who submitted what, and in which share of the class: the roster of a run.

* :func:`find` lists the notebooks under the paths given, each with its path relative to the folder it was
  found in (which names it in reports and shards);
* :func:`student_of` reads the student from nbgrader's layouts (``submitted/<student>/<assignment>/
  <notebook>.ipynb``, ``submissions/<student>/<notebook>.ipynb``), else from the file name; :func:`label`
  sets it on each result and flags two submissions of one student and notebook;
* :func:`shard_of` puts a submission in one of ``N`` shards by a stable hash of its path relative to
  the folder given, so that ``--shard 1/N`` ... ``--shard N/N`` partition a class on any machine.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Iterable

from ..results import GradeResult

__all__ = ["Submission", "find_submissions", "find", "label", "student_of", "shard_of", "parse_shard"]

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
