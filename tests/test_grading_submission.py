"""Reading submissions and restoring their check cells from the release (lrcourse.grading.scoring.submission)."""
from __future__ import annotations

import copy

import nbformat
import pytest

from _course import ROOT
from lrcourse.grading.scoring import submission as S

RELEASE = "01_gradient_descent.ipynb"


@pytest.fixture(scope="module")
def releases():
    return S.load_releases(ROOT / "notebooks")


def _write(tmp_path, nb, name=RELEASE):
    path = tmp_path / name
    nbformat.write(nb, path)
    return path


def _checks(nb):
    return [(gid, cell.source, cell.cell_type) for gid, cell in S.test_cells(nb)]


def test_an_untouched_release_needs_nothing(releases, tmp_path):
    path = _write(tmp_path, releases[RELEASE])
    before = path.read_bytes()
    prepared = S.prepare(path, releases)
    assert prepared.error is None and prepared.release == RELEASE
    assert prepared.flags == {} and prepared.voided == set()
    assert _checks(prepared.nb) == _checks(releases[RELEASE])
    assert path.read_bytes() == before


def test_every_release_is_matched_to_itself_even_renamed(releases, tmp_path):
    for name, nb in releases.items():
        assert S.prepare(_write(tmp_path, nb, f"student-{name.replace('/', '-')}"), releases).release == name


def test_an_edited_check_cell_is_put_back_and_voided(releases, tmp_path):
    nb = copy.deepcopy(releases[RELEASE])
    gid, cell = S.test_cells(nb)[0]
    cell.source = "print('✓ all good')"
    path = _write(tmp_path, nb)
    before = path.read_bytes()
    prepared = S.prepare(path, releases)
    assert prepared.flags[gid] == ["test cell was modified; it was put back as released"]
    assert prepared.voided == {gid}
    assert _checks(prepared.nb) == _checks(releases[RELEASE])
    assert path.read_bytes() == before  # the submission is never modified


def test_a_deleted_check_cell_is_reinserted_where_the_release_has_it(releases, tmp_path):
    nb = copy.deepcopy(releases[RELEASE])
    gid, cell = S.test_cells(nb)[1]
    nb.cells = [c for c in nb.cells if c is not cell]
    prepared = S.prepare(_write(tmp_path, nb), releases)
    assert prepared.flags[gid] == ["test cell was deleted; it was re-inserted"] and gid in prepared.voided
    assert [c.get("id") for c in prepared.nb.cells] == [c.get("id") for c in releases[RELEASE].cells]


def test_a_duplicated_check_cell_is_removed_without_voiding(releases, tmp_path):
    nb = copy.deepcopy(releases[RELEASE])
    gid, cell = S.test_cells(nb)[0]
    index = nb.cells.index(cell)
    twin = copy.deepcopy(cell)
    twin["id"] = "twin-of-a-check"
    nb.cells.insert(index + 3, twin)
    prepared = S.prepare(_write(tmp_path, nb), releases)
    assert prepared.flags[gid] == ["test cell was duplicated; the copy was removed"]
    assert prepared.voided == set() and _checks(prepared.nb) == _checks(releases[RELEASE])


def test_a_check_cell_turned_into_markdown_is_reset_and_voided(releases, tmp_path):
    nb = copy.deepcopy(releases[RELEASE])
    gid, cell = S.test_cells(nb)[2]
    index = nb.cells.index(cell)
    markdown = nbformat.v4.new_markdown_cell(cell.source, id=cell.get("id"))
    markdown.metadata = copy.deepcopy(cell.metadata)
    nb.cells[index] = markdown
    prepared = S.prepare(_write(tmp_path, nb), releases)
    assert prepared.flags[gid] == ["test cell type was changed to markdown; it was reset"]
    assert gid in prepared.voided and _checks(prepared.nb) == _checks(releases[RELEASE])


def test_outputs_of_a_restored_cell_are_cleared(releases, tmp_path):
    nb = copy.deepcopy(releases[RELEASE])
    gid, cell = S.test_cells(nb)[0]
    cell.source += "\n"
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="✓ fake\n")]
    prepared = S.prepare(_write(tmp_path, nb), releases)
    restored = dict(S.test_cells(prepared.nb))[gid]
    assert restored.outputs == [] and gid in prepared.voided


@pytest.mark.parametrize("content, reason", [
    (b"", "the file is empty"),
    (b"   \n", "the file is empty"),
    (b'{"cells": [', "the file is not valid JSON (line 1, column 12"),
    (b"\xff\xfe\x00", "the file is not UTF-8 text"),
    (b'{"name": "not a notebook"}', "the file is JSON but not a notebook"),
])
def test_unreadable_files_get_a_reason(releases, tmp_path, content, reason):
    path = tmp_path / "broken.ipynb"
    path.write_bytes(content)
    prepared = S.prepare(path, releases)
    assert prepared.nb is None and prepared.error.startswith(reason)
    assert path.read_bytes() == content


def test_a_notebook_of_another_course_is_not_matched(releases, tmp_path):
    other = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print('hello')"),
                                            nbformat.v4.new_markdown_cell("# Homework 3")])
    prepared = S.prepare(_write(tmp_path, other, "homework3.ipynb"), releases)
    assert prepared.nb is None and prepared.error.startswith("not a notebook of this course")


def test_a_submission_without_any_check_cell_is_still_matched_by_its_cells(releases, tmp_path):
    nb = copy.deepcopy(releases[RELEASE])
    gids = [gid for gid, _ in S.test_cells(nb)]
    nb.cells = [c for c in nb.cells if not c.get("metadata", {}).get("nbgrader", {}).get("grade")]
    prepared = S.prepare(_write(tmp_path, nb, "mine.ipynb"), releases)
    assert prepared.release == RELEASE and prepared.voided == set(gids)


def test_load_releases_needs_a_folder_of_released_notebooks(tmp_path):
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        S.load_releases(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="has no released notebooks with check cells"):
        S.load_releases(tmp_path)
