"""Generate the student notebooks (``notebooks/``) from the solution notebooks (``solutions/``).

What a release does is what nbgrader's ``generate_assignment`` does, using
nbgrader's own preprocessors in its order: lock cells, replace solution
regions with ``# YOUR CODE HERE`` / ``raise NotImplementedError()``, clear
outputs, validate the nbgrader metadata, compute checksums, remove
``### BEGIN HIDDEN TESTS`` blocks and mark schemes, recompute checksums,
validate again. Two steps of nbgrader's are left out because they need what
this course does not use: ``SaveCells`` (nbgrader's database) and
``InstantiateTests`` (``### AUTOTEST`` templates, which need a running kernel).

The output is deterministic: the same solutions give the same bytes.

Each translation of the course lives in a folder named by its language inside the solutions
(``solutions/vi/``) and is released into the same folder inside the student notebooks
(``notebooks/vi/``), its metadata saying its language (``{"lrcourse": {"language": "vi"}}``): the
grader matches a submission to the release of its own edition.

>>> release("solutions", "notebooks")          # doctest: +SKIP
[PosixPath('notebooks/01_gradient_descent.ipynb')]
"""
from __future__ import annotations

import copy
import hashlib
import logging
from pathlib import Path

import nbformat

__all__ = ["release_notebook", "release", "release_stamp", "stale_notebooks", "notebook_bytes", "editions",
           "index", "INDEX", "ReleaseError"]

#: The index of the student notebooks that a release writes beside them (``notebooks/README.md``).
INDEX = "README.md"


class ReleaseError(RuntimeError):
    """A solution notebook cannot be released (bad metadata or solution markers)."""


def _preprocessors():
    try:
        from nbgrader.preprocessors import (CheckCellMetadata, ClearHiddenTests, ClearMarkScheme,
                                            ClearOutput, ClearSolutions, ComputeChecksums, LockCells)
    except ImportError as err:
        raise ReleaseError(f"releasing needs nbgrader ({err}); it is an instructor's tool: "
                           f"pip install 'lrcourse[instructor]'") from err

    log = logging.getLogger("lrcourse.release")
    return [cls(log=log) for cls in (LockCells, ClearSolutions, ClearOutput, CheckCellMetadata,
                                     ComputeChecksums, ClearHiddenTests, ClearMarkScheme,
                                     ComputeChecksums, CheckCellMetadata)]


def release_notebook(nb: nbformat.NotebookNode, name: str = "notebook", language: str = "en") -> nbformat.NotebookNode:
    """Return the student version of a solution notebook (the input is not modified).

    ``language`` is the edition's (``"en"``, or a translation's folder name such as ``"vi"``).
    """
    nb = copy.deepcopy(nb)
    resources: dict = {}
    try:
        for pre in _preprocessors():
            nb, resources = pre.preprocess(nb, resources)
    except Exception as err:  # nbgrader raises RuntimeError/ValidationError with logged details
        raise ReleaseError(f"cannot release {name}: {err}") from err
    # Widget state saved by a previous run describes outputs that no longer exist.
    nb.metadata.pop("widgets", None)
    nb.metadata.pop("lrcourse", None)
    # A stamp of this version of the notebook: `lrcourse start` compares a learner's copy with it.
    nb.metadata["lrcourse"] = {"release": release_stamp(nb)}
    if language != "en":
        nb.metadata["lrcourse"]["language"] = language
    return nb


def release_stamp(nb: nbformat.NotebookNode) -> str:
    """12 hex digits of the SHA-256 of the released notebook, its own stamp left out."""
    nb = copy.deepcopy(nb)
    nb.metadata.pop("lrcourse", None)
    return hashlib.sha256(notebook_bytes(nb)).hexdigest()[:12]


def notebook_bytes(nb: nbformat.NotebookNode) -> bytes:
    """The exact bytes nbformat writes for ``nb`` (with the trailing newline)."""
    text = nbformat.writes(nb)
    if not text.endswith("\n"):
        text += "\n"
    return text.encode("utf-8")


def _sources(source: Path) -> list[Path]:
    source = Path(source)
    if not source.is_dir():
        raise FileNotFoundError(
            f"source must be a folder of solution notebooks, but {source} does not exist; "
            "run from the course root or pass --source"
        )
    paths = sorted(p for p in source.glob("*.ipynb") if not p.name.startswith("."))
    if not paths:
        raise FileNotFoundError(f"source folder {source} has no .ipynb notebooks")
    return paths


def _released(path: Path, language: str = "en") -> bytes:
    nb = nbformat.read(path, as_version=4)
    return notebook_bytes(release_notebook(nb, name=path.name, language=language))


def editions(source: str | Path = "solutions", dest: str | Path = "notebooks") -> list[tuple[Path, Path, str]]:
    """``(solutions folder, student folder, language)`` of English and of each translation that has a folder."""
    from ...i18n import LANGUAGES

    source, dest = Path(source), Path(dest)
    found = [(source, dest, "en")]
    found += [(source / lang, dest / lang, lang) for lang in LANGUAGES[1:] if (source / lang).is_dir()]
    return found


_EDITION_NAMES = {"en": "English", "vi": "Tiếng Việt (`vi/`)"}


def _title(path: Path) -> str:
    """The first heading of a notebook, without its ``#``; its file stem if it has none."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip()
    return path.stem


def index(source: str | Path = "solutions", dest: str | Path = "notebooks") -> str:
    """``dest/README.md``: the student notebooks of every edition, each with its title, made from ``source``."""
    found = editions(source, dest)
    names = [p.name for p in _sources(found[0][0])]
    titles = {language: {p.name: _title(p) for p in _sources(src)} for src, _, language in found}
    languages = [language for _, _, language in found]
    lines = [
        "# The student notebooks",
        "",
        f"Generated by `lrcourse release` from `{Path(source).resolve().name}/`, with every solution, hidden test and "
        "output removed: **edit the notebooks there, never here**, then run `lrcourse release` (CI checks with "
        "`lrcourse release --check` that this folder is up to date). `lrcourse start` copies them out for a "
        "learner; the grader reads them as the releases submissions are matched to.",
        "",
        "| " + " | ".join(["notebook"] + [_EDITION_NAMES.get(lang, f"`{lang}/`") for lang in languages]) + " |",
        "|" + "---|" * (1 + len(languages)),
    ]
    for name in names:
        cells = []
        for (_, out, language) in found:
            title = titles[language].get(name)
            link = (Path(out).relative_to(dest) / name).as_posix() if title else None
            cells.append(f"[{title}]({link})" if title else "—")
        lines.append("| " + " | ".join([f"`{name}`"] + cells) + " |")
    return "\n".join(lines) + "\n"


def stale_notebooks(source: str | Path = "solutions", dest: str | Path = "notebooks") -> list[Path]:
    """Student notebooks in ``dest`` (and its translations' folders) missing or unlike a fresh release, and
    ``dest/README.md`` if it is not the index a release writes."""
    stale = []
    for src, out, language in editions(source, dest):
        stale += [out / p.name for p in _sources(src)
                  if not (out / p.name).is_file() or (out / p.name).read_bytes() != _released(p, language)]
    readme = Path(dest) / INDEX
    if not readme.is_file() or readme.read_text(encoding="utf-8") != index(source, dest):
        stale.append(readme)
    return stale


def release(source: str | Path = "solutions", dest: str | Path = "notebooks") -> list[Path]:
    """Write the student version of every notebook in ``source`` to ``dest``, and of each translation's folder
    (``source/vi``) to the same folder in ``dest`` (``dest/vi``), and their index (``dest/README.md``, from
    :func:`index`); return the paths written."""
    written = []
    for src, out, language in editions(source, dest):
        paths = _sources(src)
        out.mkdir(parents=True, exist_ok=True)
        for path in paths:
            data = _released(path, language)
            target = out / path.name
            if not target.is_file() or target.read_bytes() != data:
                target.write_bytes(data)
            written.append(target)
    readme = Path(dest) / INDEX
    text = index(source, dest)
    if not readme.is_file() or readme.read_text(encoding="utf-8") != text:
        readme.write_text(text, encoding="utf-8")
    written.append(readme)
    return written
