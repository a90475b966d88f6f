"""Grade one submitted notebook: restore its checks, run it in a fresh kernel in a scratch folder, score it.

:func:`grade_notebook` never writes to the submission. It runs a copy whose
check cells were restored from the release (:mod:`lrcourse.grading.submission`)
in a temporary copy of the submission's folder, with

* a per-cell timeout: an endless loop is interrupted, and the next cells run;
* an output limit per cell: a cell that prints a million lines keeps its
  first ``output_limit`` characters and a note;
* the exercise checks imported afresh before every check cell, so that a
  solution cell that replaces ``ex.gd_step.check`` (or anything in
  ``lrcourse.exercises``) changes nothing;
* a kernel that dies (``os._exit``, a segfault) failing the cell that killed
  it and the check cells after it, with the message "the kernel died".

Scores are nbgrader's: a check cell with an error output scores zero,
otherwise full points. A voided check cell (edited, deleted, retyped) scores
zero whatever it prints.
"""
from __future__ import annotations

import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from ..claims import kernel_env
from .submission import Prepared, prepare, test_cells

__all__ = ["CheckResult", "GradeResult", "grade_notebook", "OUTPUT_LIMIT"]

#: Characters of output kept per cell.
OUTPUT_LIMIT = 20_000
_MODULE = re.compile(r"from\s+lrcourse\.exercises\s+import\s+(\w+)\s+as\s+ex\b")


@dataclass
class CheckResult:
    """The score of one check cell: ``status`` is passed, failed, not attempted, voided or kernel died."""

    grade_id: str
    points: float
    max_points: float
    status: str
    message: str = ""


@dataclass
class GradeResult:
    """Everything about one submission: its checks, or the reason it scored zero."""

    path: Path
    release: str | None
    checks: list[CheckResult] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0
    notebook: Any = field(default=None, repr=False)  # the executed copy, check cells restored

    @property
    def total(self) -> float:
        return sum(c.points for c in self.checks)

    @property
    def max_total(self) -> float:
        return sum(c.max_points for c in self.checks)


def _reload_prefix(release: nbformat.NotebookNode) -> str:
    """Code run before every check cell: forget every lrcourse.exercises module, import the checks again."""
    module = None
    for cell in release.cells:
        match = _MODULE.search(cell.source) if cell.cell_type == "code" else None
        if match:
            module = match.group(1)
            break
    if module is None:
        return ""
    return ("import sys as __lrcourse_sys\n"
            "for __lrcourse_name in [__n for __n in list(__lrcourse_sys.modules) "
            "if __n.startswith('lrcourse.exercises')]:\n"
            "    del __lrcourse_sys.modules[__lrcourse_name]\n"
            f"from lrcourse.exercises import {module} as ex\n")


def _client(nb: nbformat.NotebookNode, folder: Path, timeout: int, output_limit: int, kernel_name: str | None):
    from nbclient import NotebookClient

    class LimitedClient(NotebookClient):
        """A client that keeps at most ``output_limit`` characters of output per cell."""

        def output(self, outs, msg, display_id, cell_index):  # type: ignore[override]
            used = sum(len(str(o.get("text", ""))) + len(str(o.get("data", ""))) for o in outs)
            if used >= output_limit:
                if not (outs and outs[-1].get("name") == "stderr" and "output truncated" in outs[-1].get("text", "")):
                    outs.append(nbformat.v4.new_output(
                        "stream", name="stderr", text=f"\n[output truncated: more than {output_limit:,} characters]\n"))
                return None
            out = super().output(outs, msg, display_id, cell_index)
            if out is not None and out.get("output_type") == "stream" and used + len(out.text) > output_limit:
                out.text = out.text[:max(0, output_limit - used)]
            return out

    kwargs = {"kernel_name": kernel_name} if kernel_name else {}
    return LimitedClient(nb, timeout=timeout, allow_errors=True, interrupt_on_timeout=True,
                         error_on_timeout={"ename": "CellTimeoutError",
                                           "evalue": f"the cell ran longer than {timeout} s and was interrupted",
                                           "traceback": []},
                         resources={"metadata": {"path": str(folder)}}, **kwargs)


def _scratch(path: Path, nb: nbformat.NotebookNode) -> tuple[Path, Path]:
    """A temporary copy of the submission's folder (other notebooks left out), and the notebook's path in it."""
    scratch = Path(tempfile.mkdtemp(prefix="lrcourse-grade-"))
    for item in path.parent.iterdir():
        if item.suffix == ".ipynb" or item.name.startswith("."):
            continue
        target = scratch / item.name
        try:
            if item.is_dir():
                shutil.copytree(item, target, symlinks=True)
            elif item.is_file():
                shutil.copy2(item, target)
        except OSError:
            continue  # an unreadable extra file does not stop grading
    target = scratch / path.name
    nbformat.write(nb, target)
    return scratch, target


def _error_message(outputs: list) -> str | None:
    for out in outputs:
        if out.get("output_type") == "error":
            return f"{out.get('ename', 'Error')}: {out.get('evalue', '')}".strip()
    return None


def grade_notebook(path: str | Path, releases: dict, timeout: int = 60, output_limit: int = OUTPUT_LIMIT,
                   kernel_name: str | None = None) -> GradeResult:
    """Grade the notebook at ``path`` against ``releases`` (from :func:`~lrcourse.grading.submission.load_releases`)."""
    path = Path(path)
    start = time.perf_counter()
    prepared: Prepared = prepare(path, releases)
    result = GradeResult(path, prepared.release, error=prepared.error)
    if prepared.nb is None:
        result.seconds = time.perf_counter() - start
        return result
    release = releases[prepared.release]
    prefix = _reload_prefix(release)
    nb = prepared.nb
    check_ids = {id(cell): gid for gid, cell in test_cells(nb)}
    for cell in nb.cells:
        if id(cell) in check_ids and cell.cell_type == "code" and prefix:
            cell.source = prefix + cell.source
    scratch, target = _scratch(path, nb)
    died_at: int | None = None
    try:
        client = _client(nb, scratch, timeout, output_limit, kernel_name)
        try:
            # never strict: a claim of the text that this machine does not reproduce is a note, not an error
            with client.setup_kernel(env=kernel_env(strict=False)):
                for index, cell in enumerate(nb.cells):
                    try:
                        client.execute_cell(cell, index)
                    except Exception as err:
                        if type(err).__name__ == "DeadKernelError":
                            died_at = index
                            break
                        cell.setdefault("outputs", []).append(nbformat.v4.new_output(
                            "error", ename=type(err).__name__, evalue=str(err).splitlines()[0] if str(err) else "",
                            traceback=[]))
        except Exception as err:  # the kernel could not start, or died while starting or stopping
            if died_at is None and type(err).__name__ == "DeadKernelError":
                died_at = 0
            elif died_at is None:
                result.error = f"the notebook could not be run ({type(err).__name__}: {err})"
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    released_points = {gid: float(cell.metadata.nbgrader.get("points", 0)) for gid, cell in test_cells(release)}
    positions = {id(cell): i for i, cell in enumerate(nb.cells)}
    for gid, cell in test_cells(nb):
        points = released_points.get(gid, 0.0)
        if gid in prepared.voided:
            result.checks.append(CheckResult(gid, 0.0, points, "voided", "; ".join(prepared.flags[gid])))
            continue
        if result.error is not None:
            result.checks.append(CheckResult(gid, 0.0, points, "failed", result.error))
            continue
        if died_at is not None and positions[id(cell)] >= died_at:
            result.checks.append(CheckResult(gid, 0.0, points, "kernel died", "the kernel died"))
            continue
        message = _error_message(cell.get("outputs", []))
        if message is None:
            note = "; ".join(prepared.flags.get(gid, []))
            result.checks.append(CheckResult(gid, points, points, "passed", note))
        else:
            status = "not attempted" if message.startswith("NotAttemptedError") else "failed"
            result.checks.append(CheckResult(gid, 0.0, points, status, message))
    result.notebook = nb
    result.seconds = time.perf_counter() - start
    return result
