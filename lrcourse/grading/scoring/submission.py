"""Read a submitted notebook, match it to its released notebook, and put the release's check cells back.

This is what nbgrader's ``OverwriteCells`` does with its database, done from
the released notebooks instead: every check cell (an nbgrader ``grade`` cell)
is compared by ``grade_id`` with the release and

* an edited check cell is put back as released and flagged "test cell was modified";
* a deleted one is re-inserted where the release has it, flagged "test cell was deleted";
* a duplicated one is removed (the first copy stays), flagged "test cell was duplicated";
* a check cell turned into markdown or raw is reset to code, flagged "test cell type was changed".

An edited, deleted or retyped check cell can never earn points: its
``grade_id`` is in :attr:`Prepared.voided`. Everything works on copies; the
submitted file is only read.

>>> from pathlib import Path
>>> releases = load_releases("notebooks")            # doctest: +SKIP
>>> prepared = prepare("alice/01_gradient_descent.ipynb", releases)   # doctest: +SKIP
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import nbformat

from ... import i18n
from .. import messages as M

__all__ = ["Prepared", "load_releases", "language_of", "test_cells", "read_submission", "match_release",
           "restore_test_cells", "prepare"]


def test_cells(nb: nbformat.NotebookNode) -> list[tuple[str, nbformat.NotebookNode]]:
    """``(grade_id, cell)`` of every check cell (nbgrader ``grade: true``), in notebook order."""
    found = []
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade") and meta.get("grade_id"):
            found.append((meta["grade_id"], cell))
    return found


def load_releases(release_dir: str | Path) -> dict[str, nbformat.NotebookNode]:
    """The released notebooks in ``release_dir`` that have check cells, by file name; a translation's are in
    the folder named by its language and keyed by it (``"vi/01_gradient_descent.ipynb"``)."""
    from ...i18n import LANGUAGES

    folder = Path(release_dir)
    if not folder.is_dir():
        raise FileNotFoundError(f"release_dir {folder} is not a folder of released notebooks")
    releases = {}
    paths = sorted(folder.glob("*.ipynb")) + [p for lang in LANGUAGES[1:] for p in sorted(folder.glob(f"{lang}/*.ipynb"))]
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        if test_cells(nb):
            releases[path.relative_to(folder).as_posix()] = nb
    if not releases:
        raise FileNotFoundError(f"release_dir {folder} has no released notebooks with check cells")
    return releases


def read_submission(path: str | Path) -> tuple[nbformat.NotebookNode | None, str | None]:
    """``(notebook, None)``, or ``(None, reason)`` when the file cannot be read as a notebook."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        return None, M.say(M.CANNOT_READ, reason=err.strerror or err)
    if not raw.strip():
        return None, M.say(M.EMPTY)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None, M.say(M.NOT_UTF8)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        return None, M.say(M.NOT_JSON, line=err.lineno, column=err.colno, reason=err.msg)
    if not isinstance(data, dict) or "cells" not in data:
        return None, M.say(M.NOT_NOTEBOOK)
    try:
        nb = nbformat.reads(text, as_version=4)
    except Exception as err:  # nbformat raises several kinds on broken structure
        return None, f"the file is not a readable notebook ({type(err).__name__}: {err})"
    return nb, None


def language_of(nb: nbformat.NotebookNode) -> str:
    """A notebook's edition: its release's ``lrcourse.language`` metadata, else the language its code chooses
    with ``set_language("...")`` (a copy whose metadata was lost), else English (:func:`lrcourse.i18n.notebook_language`)."""
    return i18n.notebook_language(nb)


def match_release(nb: nbformat.NotebookNode, releases: dict[str, nbformat.NotebookNode],
                  filename: str | None = None) -> str | None:
    """The name of the release whose check cells the submission shares most; then the release of the
    submission's own edition (:func:`language_of`: English and Vietnamese share every check cell); then its
    file name.

    Cells are matched by ``grade_id`` and by cell id, so a submission whose
    check cells were all deleted or edited is still matched by its other cells.
    """
    ids = {cell.get("id") for cell in nb.cells if cell.get("id")}
    grade_ids = {gid for gid, _ in test_cells(nb)}
    language = language_of(nb)
    best, best_key = None, (0, 0.0, False, False)
    for name, release in releases.items():
        release_ids = {cell.get("id") for cell in release.cells if cell.get("id")}
        shared_grades = len(grade_ids & {gid for gid, _ in test_cells(release)})
        shared_ids = len(ids & release_ids) / max(len(release_ids), 1)
        if shared_grades == 0 and shared_ids < 0.5:
            continue  # neither a check cell nor half of the cells in common: not this notebook
        key = (shared_grades, shared_ids, language_of(release) == language, PurePosixPath(name).name == filename)
        if key > best_key:
            best, best_key = name, key
    return best


@dataclass
class Prepared:
    """A submission ready to run, or the reason it cannot be graded."""

    path: Path
    release: str | None = None
    nb: nbformat.NotebookNode | None = None
    error: str | None = None
    flags: dict = field(default_factory=dict)      # grade_id -> list of messages
    voided: set = field(default_factory=set)       # grade_ids that cannot earn points

    def flag(self, grade_id: str, message: str, void: bool = False) -> None:
        self.flags.setdefault(grade_id, []).append(message)
        if void:
            self.voided.add(grade_id)


def _grading_meta(cell: nbformat.NotebookNode) -> tuple:
    """What of a check cell's nbgrader metadata decides its grade (not the release's checksum or lock)."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta.get("grade"), meta.get("grade_id"), meta.get("points"), meta.get("solution")


def _as_released(cell: nbformat.NotebookNode) -> nbformat.NotebookNode:
    fresh = copy.deepcopy(cell)
    if fresh.cell_type == "code":
        fresh.outputs, fresh.execution_count = [], None
    return fresh


def restore_test_cells(nb: nbformat.NotebookNode, release: nbformat.NotebookNode,
                       prepared: Prepared) -> nbformat.NotebookNode:
    """A copy of ``nb`` whose check cells are exactly the release's; what was changed goes into ``prepared``."""
    released = dict(test_cells(release))
    released_ids = {cell.get("id"): gid for gid, cell in released.items() if cell.get("id")}
    out = copy.deepcopy(nb)
    cells, seen = [], set()
    for cell in out.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        gid = meta.get("grade_id") if meta.get("grade_id") in released else released_ids.get(cell.get("id"))
        if gid is None:
            cells.append(cell)
            continue
        if gid in seen:
            prepared.flag(gid, M.say(M.CELL_DUPLICATED))
            continue
        seen.add(gid)
        want = released[gid]
        if cell.cell_type != want.cell_type:
            prepared.flag(gid, M.say(M.CELL_TYPE, type=cell.cell_type), void=True)
        elif cell.source != want.source or _grading_meta(cell) != _grading_meta(want):
            prepared.flag(gid, M.say(M.CELL_MODIFIED), void=True)
        cells.append(_as_released(want) if gid in prepared.voided else cell)
    # re-insert deleted check cells after the cell that precedes them in the release
    order = [c.get("id") for c in release.cells]
    for gid, want in released.items():
        if gid in seen:
            continue
        prepared.flag(gid, M.say(M.CELL_DELETED), void=True)
        position = len(cells)
        for previous in reversed(order[:order.index(want.get("id"))] if want.get("id") in order else []):
            where = [i for i, c in enumerate(cells) if c.get("id") == previous]
            if where:
                position = where[0] + 1
                break
        cells.insert(position, _as_released(want))
    out.cells = cells
    return out


def prepare(path: str | Path, releases: dict[str, nbformat.NotebookNode]) -> Prepared:
    """Read ``path``, match it to a release and restore its check cells; never writes to ``path``."""
    prepared = Prepared(Path(path))
    nb, error = read_submission(path)
    if nb is None:
        prepared.error = error
        return prepared
    name = match_release(nb, releases, Path(path).name)
    if name is None:
        prepared.error = M.say(M.NOT_COURSE, releases=", ".join(releases))
        return prepared
    prepared.release = name
    prepared.nb = restore_test_cells(nb, releases[name], prepared)
    return prepared


def release_ids(releases: dict) -> dict[str, str | None]:
    """Each released notebook's version id (its ``lrcourse.release`` metadata), by file name."""
    return {name: (nb.metadata.get("lrcourse") or {}).get("release") for name, nb in releases.items()}
