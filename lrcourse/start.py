"""``lrcourse start``: copy the course's notebooks into a folder of the learner's and open JupyterLab there.

The student notebooks ship inside the package (``lrcourse/course/`` in a wheel;
``notebooks/`` in a source checkout). Copying never overwrites a learner's
notebook: an existing copy is kept, and when the course has a newer version
of it (the ``metadata.lrcourse.release`` stamp that ``lrcourse release``
writes differs) the learner is told so. ``--update`` carries the learner's
answers (the nbgrader solution cells, matched by ``grade_id``) into the new
version and keeps the old file beside it as a dated backup.

>>> prepare("lrcourse-notebooks")     # doctest: +SKIP
[Copied('01_gradient_descent.ipynb', 'copied'), ...]
"""
from __future__ import annotations

import datetime as _dt
import importlib.util
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

from . import i18n, syllabus
from .i18n import gettext_ as _

__all__ = ["course_folder", "course_notebooks", "default_folder", "prepare", "carry_answers", "lab_command", "StartError",
           "DEFAULT_FOLDER"]

DEFAULT_FOLDER = "lrcourse-notebooks"


class StartError(RuntimeError):
    """Bad input to ``lrcourse start`` (the message says what and how to fix it); exit status 2."""


def course_folder() -> Path:
    """Where the installed course's student notebooks are."""
    here = Path(__file__).resolve().parent
    for folder in (here / "course", here.parent / "notebooks"):  # a wheel; a source checkout (editable)
        if any(folder.glob("*.ipynb")):
            return folder
    raise StartError(_("the course's notebooks are not installed (looked in {here} and {parent}); "
                       "reinstall lrcourse").format(
        here=here / 'course', parent=here.parent / 'notebooks'))


def course_notebooks(language: str = "en") -> list[Path]:
    """The student notebooks of ``language``'s edition (a translation's are in a folder named by its language)."""
    from .i18n import LANGUAGES

    if language not in LANGUAGES:
        raise StartError(_("--lang must be one of {choices}, got {language!r}").format(
            choices=', '.join(LANGUAGES), language=language))
    folder = course_folder() if language == "en" else course_folder() / language
    found = sorted(p for p in folder.glob("*.ipynb") if not p.name.startswith("."))
    lacking = syllabus.missing(found)
    if not found or lacking:
        raise StartError(_("the {language!r} edition's notebooks are not all installed (looked in {folder}; missing: "
                           "{lacking}); reinstall lrcourse").format(
            language=language, folder=folder, lacking=', '.join(lacking)))
    return found


def default_folder(language: str = "en") -> str:
    """``lrcourse-notebooks``, or ``lrcourse-notebooks-vi`` for the Vietnamese edition (the two never mix)."""
    return DEFAULT_FOLDER if language == "en" else f"{DEFAULT_FOLDER}-{language}"


def _language(path: Path) -> str:
    """The edition of the notebook at ``path`` (as the grader decides it); English if it cannot be read."""
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception:
        return "en"
    return i18n.notebook_language(nb)


def _stamp(path: Path) -> str | None:
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception:  # an unreadable copy has no version we know
        return None
    return nb.metadata.get("lrcourse", {}).get("release")


def _grade_id(cell) -> str | None:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta.get("grade_id") if meta.get("solution") else None


def carry_answers(old: nbformat.NotebookNode, new: nbformat.NotebookNode) -> tuple[nbformat.NotebookNode, list[str]]:
    """``new`` with the source of every solution cell of ``old`` that has the same ``grade_id``."""
    answers = {_grade_id(c): c.source for c in old.cells if _grade_id(c)}
    carried = []
    for cell in new.cells:
        gid = _grade_id(cell)
        if gid in answers:
            if cell.source != answers[gid]:
                cell.source = answers[gid]
            carried.append(gid)
    return new, carried


def _backup_path(path: Path, today: _dt.date) -> Path:
    stem = f"{path.stem}.{today.isoformat()}"
    candidate = path.with_name(f"{stem}{path.suffix}")
    n = 2
    while candidate.exists():
        candidate = path.with_name(f"{stem}-{n}{path.suffix}")
        n += 1
    return candidate


@dataclass(frozen=True)
class Copied:
    """What happened to one notebook: ``copied``, ``kept``, ``outdated`` (kept; a newer version exists), ``updated``."""

    name: str
    status: str
    detail: str = ""


def _check_folder(folder: Path) -> None:
    if folder.exists() and not folder.is_dir():
        raise StartError(_("FOLDER {folder} is a file, not a folder: pass a folder for the notebooks (it is created "
                           "if missing)").format(
            folder=folder))
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise StartError(_("cannot create FOLDER {folder}: {reason}").format(
            folder=folder, reason=err.strerror or err)) from err
    if not os.access(folder, os.W_OK | os.X_OK):
        raise StartError(_("FOLDER {folder} is not writable: choose a folder of your own, e.g. lrcourse start "
                           "~/{default}").format(
            folder=folder, default=DEFAULT_FOLDER))


def prepare(folder: str | Path = DEFAULT_FOLDER, update: bool = False, today: _dt.date | None = None,
            language: str = "en") -> list[Copied]:
    """Copy the course's notebooks of ``language``'s edition into ``folder``, never overwriting one (see the
    module's docstring). ``update`` into a copy of the other edition carries its answers across languages."""
    folder = Path(folder).expanduser()
    _check_folder(folder)
    today = today or _dt.date.today()
    done = []
    for source in course_notebooks(language):
        target = folder / source.name
        if not target.exists():
            shutil.copyfile(source, target)
            done.append(Copied(source.name, "copied"))
            continue
        new_stamp, old_stamp = _stamp(source), _stamp(target)
        if new_stamp == old_stamp:
            done.append(Copied(source.name, "kept"))
            continue
        if not update:
            theirs = _language(target)
            if theirs != language:
                detail = _("yours is the {theirs!r} edition, not the {language!r} one").format(
                    theirs=theirs, language=language)
            else:
                detail = _("yours is {old}, the course's {new}").format(old=old_stamp or _("older"), new=new_stamp)
            done.append(Copied(source.name, "outdated", detail))
            continue
        try:
            old = nbformat.read(target, as_version=4)
        except Exception as err:
            raise StartError(_("cannot read your {target} to carry its answers over ({err}); it is unchanged").format(
                target=target, err=err)) from err
        new, carried = carry_answers(old, nbformat.read(source, as_version=4))
        backup = _backup_path(target, today)
        shutil.copyfile(target, backup)
        from .grading.authoring.release import notebook_bytes

        target.write_bytes(notebook_bytes(new))
        done.append(Copied(source.name, "updated",
                           _("your answers to {count} exercises carried over; your old file is {backup}").format(
                               count=len(carried), backup=backup.name)))
    return done


def lab_command(folder: str | Path, no_browser: bool = False, port: int | None = None,
                lab_args: tuple[str, ...] = ()) -> list[str]:
    """The command that starts JupyterLab in ``folder`` (with ``--allow-root`` when run as root)."""
    cmd = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={Path(folder).expanduser().resolve()}"]
    if no_browser:
        cmd.append("--no-browser")
    if port is not None:
        cmd.append(f"--port={port}")
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # containers and cloud notebooks run as root
        cmd.append("--allow-root")
    return cmd + list(lab_args)


def require_jupyterlab() -> None:
    if importlib.util.find_spec("jupyterlab") is None:
        raise StartError(_("JupyterLab is not installed in this Python environment ({executable}): pip install "
                           "jupyterlab").format(
            executable=sys.executable))


def run_lab(cmd: list[str]) -> int:
    """Start JupyterLab (Ctrl-C stops it). On POSIX it replaces this process, so signals reach it directly."""
    sys.stdout.flush()
    sys.stderr.flush()
    if os.name == "posix":
        os.execv(cmd[0], cmd)
    proc = subprocess.Popen(cmd)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        try:
            return proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait()
