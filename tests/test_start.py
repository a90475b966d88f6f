"""`lrcourse start`: the course is copied out, a learner's notebook is never overwritten, JupyterLab starts
(as root too), and bad input is a clear error with exit status 2. JupyterLab itself is not started here
(tests/test_wheel.py starts a real one from an installed wheel)."""
from __future__ import annotations

import datetime as dt
import os

import nbformat
import pytest

from _course import NOTEBOOKS
from lrcourse import cli
from lrcourse import start as st
from lrcourse.grading.authoring.release import notebook_bytes

NAMES = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))


@pytest.fixture
def launched(monkeypatch):
    """Replaces the JupyterLab launch by a record of its command."""
    commands: list = []
    monkeypatch.setattr(st, "run_lab", lambda cmd: commands.append(cmd) or 0)
    return commands


def test_the_course_folder_holds_the_released_notebooks():
    assert [p.name for p in st.course_notebooks()] == NAMES
    for path in st.course_notebooks():
        assert path.read_bytes() == (NOTEBOOKS / path.name).read_bytes()
        assert nbformat.read(path, as_version=4).metadata["lrcourse"]["release"]


def test_start_copies_the_course_and_starts_jupyterlab_there(tmp_path, launched, capsys):
    folder = tmp_path / "course"
    assert cli.main(["start", str(folder), "--no-browser", "--port", "8899", "--lab-arg=--ServerApp.token="]) == 0
    assert sorted(p.name for p in folder.iterdir()) == NAMES
    out = capsys.readouterr().out
    assert f"copied {len(NAMES)} notebooks into {folder}" in out and "starting JupyterLab in" in out
    (cmd,) = launched
    assert cmd[1:3] == ["-m", "jupyterlab"]
    assert f"--ServerApp.root_dir={folder.resolve()}" in cmd
    assert "--no-browser" in cmd and "--port=8899" in cmd and cmd[-1] == "--ServerApp.token="


def test_the_default_folder_is_lrcourse_notebooks_in_the_current_folder(tmp_path, monkeypatch, launched):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["start"]) == 0
    assert sorted(p.name for p in (tmp_path / "lrcourse-notebooks").iterdir()) == NAMES


@pytest.mark.parametrize("uid, root", [(0, True), (1000, False)])
def test_allow_root_is_passed_only_as_root(monkeypatch, tmp_path, uid, root):
    monkeypatch.setattr(os, "geteuid", lambda: uid)
    assert ("--allow-root" in st.lab_command(tmp_path)) is root


def _answer(path, grade_id, source):
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    cell.source = source
    path.write_bytes(notebook_bytes(nb))
    return nb


def test_a_learners_notebook_is_never_overwritten(tmp_path, launched, capsys):
    folder = tmp_path / "course"
    cli.main(["start", str(folder)])
    mine = folder / NAMES[0]
    _answer(mine, "gd_step", "def gd_step(x, grad, lr):\n    return x - lr * grad\n")
    before = mine.read_bytes()
    (folder / NAMES[1]).unlink()  # a deleted notebook comes back
    capsys.readouterr()
    assert cli.main(["start", str(folder)]) == 0
    assert mine.read_bytes() == before
    out = capsys.readouterr().out
    assert f"copied 1 notebook into {folder}: {NAMES[1]}" in out
    assert f"kept your {len(NAMES) - 1} notebooks" in out


def _older(path):
    """Make ``path`` look like a copy of an older release (another stamp, a cell the new one lacks)."""
    nb = nbformat.read(path, as_version=4)
    nb.metadata["lrcourse"]["release"] = "0123456789ab"
    nb.cells.insert(1, nbformat.v4.new_markdown_cell("An old paragraph."))
    path.write_bytes(notebook_bytes(nb))


def test_a_newer_course_version_is_announced_and_the_copy_kept(tmp_path, launched, capsys):
    folder = tmp_path / "course"
    cli.main(["start", str(folder)])
    mine = folder / NAMES[0]
    _answer(mine, "gd_step", "def gd_step(x, grad, lr):\n    return x - lr * grad\n")
    _older(mine)
    before = mine.read_bytes()
    capsys.readouterr()
    assert cli.main(["start", str(folder)]) == 0
    out = capsys.readouterr().out
    assert f"{NAMES[0]}: the course has a newer version (yours is 0123456789ab" in out
    assert f"lrcourse start --update {folder}" in out
    assert mine.read_bytes() == before


def test_update_carries_the_answers_and_keeps_a_dated_backup(tmp_path, launched, capsys, monkeypatch):
    folder = tmp_path / "course"
    cli.main(["start", str(folder)])
    mine = folder / NAMES[0]
    answer = "def gd_step(x, grad, lr):\n    return x - lr * grad  # mine\n"
    _answer(mine, "gd_step", answer)
    _older(mine)
    before = mine.read_bytes()
    (folder / f"{mine.stem}.{dt.date.today().isoformat()}.ipynb").write_text("an earlier backup")
    capsys.readouterr()
    assert cli.main(["start", str(folder), "--update"]) == 0
    out = capsys.readouterr().out
    backup = folder / f"{mine.stem}.{dt.date.today().isoformat()}-2.ipynb"
    assert f"updated {NAMES[0]}: your answers to 6 exercises carried over; your old file is {backup.name}" in out
    assert backup.read_bytes() == before
    new = nbformat.read(mine, as_version=4)
    assert new.metadata["lrcourse"] == nbformat.read(NOTEBOOKS / NAMES[0], as_version=4).metadata["lrcourse"]
    assert "An old paragraph." not in [c.source for c in new.cells]
    cell = next(c for c in new.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "gd_step")
    assert cell.source == answer
    # the other answers are the course's stubs still, and an up-to-date notebook is left alone
    assert sum("raise NotImplementedError()" in c.source for c in new.cells) == \
        sum("raise NotImplementedError()" in c.source for c in nbformat.read(NOTEBOOKS / NAMES[0], 4).cells) - 1
    assert (folder / NAMES[1]).read_bytes() == (NOTEBOOKS / NAMES[1]).read_bytes()


def test_carry_answers_matches_by_grade_id():
    old = nbformat.read(NOTEBOOKS / NAMES[0], as_version=4)
    new = nbformat.read(NOTEBOOKS / NAMES[0], as_version=4)
    for cell in old.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = f"# answer to {cell.metadata.nbgrader.grade_id}"
    new.cells.reverse()  # order does not matter, the grade_id does
    merged, carried = st.carry_answers(old, new)
    assert len(carried) == 6
    for cell in merged.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            assert cell.source == f"# answer to {cell.metadata.nbgrader.grade_id}"


def test_a_folder_that_is_a_file_is_an_error(tmp_path, launched, capsys):
    path = tmp_path / "notes.txt"
    path.write_text("mine")
    assert cli.main(["start", str(path)]) == 2
    assert f"lrcourse start: error: FOLDER {path} is a file, not a folder" in capsys.readouterr().err
    assert path.read_text() == "mine" and not launched


def test_a_folder_that_cannot_be_made_is_an_error(tmp_path, launched, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    assert cli.main(["start", str(tmp_path / "notes.txt" / "course")]) == 2
    assert "lrcourse start: error: cannot create FOLDER" in capsys.readouterr().err


def test_a_folder_that_is_not_writable_is_an_error(tmp_path, launched, capsys, monkeypatch):
    monkeypatch.setattr(os, "access", lambda path, mode: False)  # root may write anywhere; pretend not
    assert cli.main(["start", str(tmp_path)]) == 2
    assert f"FOLDER {tmp_path} is not writable" in capsys.readouterr().err
    assert not list(tmp_path.iterdir()) and not launched


def test_an_install_that_lacks_a_notebook_of_the_syllabus_is_an_error(tmp_path, monkeypatch):
    for path in NOTEBOOKS.glob("*.ipynb"):
        if not path.name.startswith("07"):
            (tmp_path / path.name).write_bytes(path.read_bytes())
    monkeypatch.setattr(st, "course_folder", lambda: tmp_path)
    with pytest.raises(st.StartError, match="missing: 07_lr_at_scale.ipynb.*reinstall lrcourse"):
        st.course_notebooks()


def test_missing_jupyterlab_is_an_error_before_anything_is_copied(tmp_path, launched, capsys, monkeypatch):
    real = st.importlib.util.find_spec
    monkeypatch.setattr(st.importlib.util, "find_spec", lambda name: None if name == "jupyterlab" else real(name))
    assert cli.main(["start", str(tmp_path / "course")]) == 2
    err = capsys.readouterr().err
    assert "lrcourse start: error: JupyterLab is not installed" in err and "pip install jupyterlab" in err
    assert not (tmp_path / "course").exists() and not launched


def test_a_bad_port_is_an_error(tmp_path, launched, capsys):
    assert cli.main(["start", str(tmp_path), "--port", "70000"]) == 2
    assert "--port must be between 1 and 65535" in capsys.readouterr().err


def test_lang_vi_speaks_vietnamese_in_the_terminal_too(tmp_path, launched, capsys):
    """A learner of the Vietnamese edition meets ``lrcourse start``'s lines first: they are in Vietnamese, errors
    included; the language in force afterwards is the one before."""
    from lrcourse import i18n

    folder = tmp_path / "khoa-hoc"
    assert cli.main(["start", str(folder), "--lang", "vi", "--no-browser"]) == 0
    out = capsys.readouterr().out
    assert f"đã chép {len(NAMES)} notebook vào {folder}" in out and "đang khởi chạy JupyterLab" in out
    assert "copied" not in out and "starting" not in out
    assert cli.main(["start", str(folder), "--lang", "vi", "--no-browser"]) == 0
    assert f"giữ nguyên {len(NAMES)} notebook của bạn trong {folder}" in capsys.readouterr().out
    path = tmp_path / "notes.txt"
    path.write_text("mine")
    assert cli.main(["start", str(path), "--lang", "vi"]) == 2
    err = capsys.readouterr().err
    assert f"lrcourse start: lỗi: FOLDER {path} là một tệp, không phải thư mục" in err and "is a file" not in err
    assert cli.main(["start", str(tmp_path), "--lang", "vi", "--port", "70000"]) == 2
    assert "--port phải nằm trong khoảng 1 tới 65535" in capsys.readouterr().err
    assert i18n.get_language() == "en"
    # an English copy in a Vietnamese folder: the line that says so is Vietnamese, the editions named as typed
    en_copy = tmp_path / "mixed"
    assert cli.main(["start", str(en_copy), "--no-browser"]) == 0
    capsys.readouterr()
    assert cli.main(["start", str(en_copy), "--lang", "vi", "--no-browser"]) == 0
    out = capsys.readouterr().out
    assert "khóa học có phiên bản mới hơn (bản của bạn là bản 'en', không phải bản 'vi')" in out, out
