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

Scores come from positive evidence, never from the mere absence of an error
output (a submission can stop errors from being shown): a check cell earns its
points only when the check itself wrote a *pass record* for that cell of this
run (:mod:`lrcourse.exercises._record`: a line carrying an HMAC under a key the
grader drew for the cell) **and** the kernel's reply to the cell is ``ok``. A
check cell that fails gets the error of the kernel's reply as its message,
whether or not the error was displayed. A voided check cell (edited, deleted,
retyped) scores zero whatever it prints.
"""
from __future__ import annotations

import hmac
import math
import os
import re
import secrets
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from .. import syllabus
from ..claims import kernel_env
from ..exercises import _record
from .confine import Cgroups, Plan, format_size, wrap
from .integrity import scan
from .submission import Prepared, prepare, test_cells

__all__ = ["CheckResult", "GradeResult", "grade_notebook", "OUTPUT_LIMIT"]

#: Characters of output kept per cell.
OUTPUT_LIMIT = 20_000
_MODULE = re.compile(r"from\s+lrcourse\.exercises\s+import\s+(\w+)\s+as\s+ex\b")


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


@dataclass
class GradeResult:
    """Everything about one submission: its checks, or the reason it scored zero."""

    path: Path
    release: str | None
    checks: list[CheckResult] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0
    integrity: list[str] = field(default_factory=list)  # code that reaches for the checks (grading.integrity)
    notebook: Any = field(default=None, repr=False)  # the executed copy, check cells restored
    relative: str | None = None  # the path below the folder given (reports, shards)
    student: str | None = None  # from the layout or the file name (grading.classbook.student_of)
    duplicate: bool = False  # another submission of the same student and notebook is in the run

    @property
    def total(self) -> float:
        return sum(c.points for c in self.checks)

    @property
    def max_total(self) -> float:
        return sum(c.max_points for c in self.checks)


def _exercise_module(name: str, release: nbformat.NotebookNode) -> str | None:
    """The ``lrcourse.exercises`` module that holds the checks of the release called ``name``: the syllabus's for a
    notebook of the course (:mod:`lrcourse.syllabus`), else the module the release imports as ``ex`` (an
    instructor's own notebook in the course's format)."""
    entry = syllabus.notebook(name)
    if entry is not None:
        return entry.exercises
    for cell in release.cells:
        match = _MODULE.search(cell.source) if cell.cell_type == "code" else None
        if match:
            return match.group(1)
    return None


def _check_prefix(module: str | None, grade_id: str, exercise: str | None, key: str, records: Path,
                  seed: int | None = None) -> str:
    """Code run before a check cell: import the checks afresh and untouched, and arm the cell's pass record.

    Every ``lrcourse.exercises`` module is forgotten and imported again, so a solution that replaced
    ``ex.gd_step.check`` (or anything in the checks) changes nothing. The import must give new module
    objects, from one folder, through the interpreter's own ``__import__``; otherwise the cell
    raises, and scores zero, with the reason. (The kernel's lrcourse may be another install than the
    grader's, e.g. a kernelspec of another environment: the check module and the pass-record module must
    come from one folder.)
    """
    if module is None:
        return ""
    return (
        "import sys as __lrcourse_sys, builtins as __lrcourse_builtins, types as __lrcourse_types, os as __lrcourse_os\n"
        "__lrcourse_old = [__m for __n, __m in list(__lrcourse_sys.modules.items()) "
        "if __n.startswith('lrcourse.exercises')]  # held, so a new module cannot reuse an old one's id\n"
        "for __lrcourse_name in [__n for __n in list(__lrcourse_sys.modules) if __n.startswith('lrcourse.exercises')]:\n"
        "    del __lrcourse_sys.modules[__lrcourse_name]\n"
        "if not isinstance(__lrcourse_builtins.__import__, __lrcourse_types.BuiltinFunctionType):\n"
        "    raise RuntimeError('the checks cannot be loaded untouched: __import__ was replaced')\n"
        f"from lrcourse.exercises import {module} as ex\n"
        "from lrcourse.exercises import _record as __lrcourse_record\n"
        "for __m in (ex, __lrcourse_record):\n"
        "    if any(__m is __o for __o in __lrcourse_old) or __lrcourse_os.path.dirname(str(getattr(__m, '__file__', \"\"))) \\\n"
        "            != __lrcourse_os.path.dirname(str(getattr(__lrcourse_record, '__file__', '?'))):\n"
        "        raise RuntimeError('the checks cannot be loaded untouched: the import of '\n"
        "                           + __m.__name__ + ' did not give the installed module afresh')\n"
        "del __lrcourse_old, __m\n"
        f"__lrcourse_record.arm({grade_id!r}, {exercise!r}, {key!r}, {str(records)!r}, seed={seed!r})\n"
    )


_CHECKED = re.compile(r"^\s*ex\.(\w+)\.check\(", re.MULTILINE)


#: Arguments for a confined kernel. ``Session.copy_threshold``: every message is copied into ZeroMQ, never sent
#: zero-copy. A zero-copy send needs pyzmq's garbage-collector thread, which starts with the first large message
#: (a figure); when a submission has used up its processes and threads before that (a fork bomb under
#: ``--max-procs``), the thread cannot start, the kernel sends broken messages ("Invalid Signature"), and every
#: later cell waits out its timeout: the bomb then cost its submission the whole notebook's time, not a second.
_ROBUST_KERNEL_ARGS = ("--Session.copy_threshold=9223372036854775807",)


def _kernel_manager(kernel_name: str | None, p: Plan, writable: list[str], cwd: str, home: str, conn: Path,
                    cgroup_files: list[str]):
    """A kernel manager whose kernel starts behind :func:`lrcourse.grading.confine.wrap`.

    In the sandbox the kernel has no network: it talks to the grader over Unix sockets in ``conn``
    (ZeroMQ's ipc transport), and is interrupted by a message, since a signal to its process group would
    reach bubblewrap rather than the kernel.
    """
    from jupyter_client.manager import AsyncKernelManager

    class ConfinedKernelManager(AsyncKernelManager):
        def format_kernel_cmd(self, extra_arguments=None):  # type: ignore[override]
            return wrap(super().format_kernel_cmd([*(extra_arguments or []), *_ROBUST_KERNEL_ARGS]), p, writable, cwd,
                        home, cgroup_files)

        def write_connection_file(self, **kwargs):  # type: ignore[override]
            super().write_connection_file(**kwargs)
            if p.user is not None:
                os.chown(self.connection_file, *p.user)

    kwargs: dict[str, Any] = {"kernel_name": kernel_name} if kernel_name else {}
    if p.sandbox == "bwrap":
        kwargs.update(transport="ipc", ip=str(conn / "k"))
    km = ConfinedKernelManager(connection_file=str(conn / "kernel.json"), **kwargs)
    if p.sandbox == "bwrap" and km.kernel_spec is not None:
        km.kernel_spec.interrupt_mode = "message"
    return km


def _client(nb: nbformat.NotebookNode, folder: Path, timeout: int, output_limit: int, kernel_name: str | None,
            replies: dict, km=None):
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

    kwargs: dict[str, Any] = {"kernel_name": kernel_name} if kernel_name else {}
    if km is not None:
        kwargs = {"km": km}

    def on_cell_executed(cell, cell_index, execute_reply):  # the kernel's own word on each cell
        replies[cell_index] = (execute_reply or {}).get("content", {})

    # shutdown_kernel="immediate": the kernel is killed once the last cell has run, not asked to stop (which waits
    # about a second for it per submission); its cgroup and scratch folder go right after.
    return LimitedClient(nb, timeout=timeout, allow_errors=True, interrupt_on_timeout=True,
                         on_cell_executed=on_cell_executed, shutdown_kernel="immediate",
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
                   kernel_name: str | None = None, confinement: Plan | None = None,
                   seed: int | None = None) -> GradeResult:
    """Grade the notebook at ``path`` against ``releases`` (from :func:`~lrcourse.grading.submission.load_releases`).

    ``confinement`` (from :func:`lrcourse.grading.confine.plan`) limits and sandboxes the kernel; ``None``
    runs it as a plain child of this process, with the per-cell ``timeout`` only. ``seed``: every check
    also tries hidden cases drawn with it (:meth:`lrcourse.exercises.Exercise.hidden_cases`).
    """
    path = Path(path)
    start = time.perf_counter()
    prepared: Prepared = prepare(path, releases)
    result = GradeResult(path, prepared.release, error=prepared.error)
    if prepared.nb is None:
        result.seconds = time.perf_counter() - start
        return result
    release = releases[prepared.release]
    module = _exercise_module(prepared.release, release)
    nb = prepared.nb
    result.integrity = scan(nb, release)  # flags for the instructor; they never change a score
    records = Path(tempfile.mkdtemp(prefix="lrcourse-records-")) / "passes"
    keys: dict[str, tuple[str, str | None]] = {}  # grade_id -> (this run's key, the exercise it checks)
    originals: dict[int, str] = {}
    released_source = {gid: cell.source for gid, cell in test_cells(release)}
    for gid, cell in test_cells(nb):
        if cell.cell_type != "code" or module is None:
            continue
        found = _CHECKED.findall(released_source.get(gid, cell.source))
        keys[gid] = (secrets.token_hex(32), found[0] if len(found) == 1 else None)
        originals[id(cell)] = cell.source
        cell.source = _check_prefix(module, gid, keys[gid][1], keys[gid][0], records, seed) + cell.source
    scratch, target = _scratch(path, nb)
    died_at: int | None = None
    stopped_at: int | None = None  # the first cell not run because the notebook ran out of time
    died_why = "the kernel died"
    replies: dict[int, dict] = {}
    confined = _Confined(confinement, scratch, records.parent) if confinement is not None else None
    km = None
    try:
        km = confined.kernel_manager(kernel_name) if confined is not None else None
        client = _client(nb, scratch, timeout, output_limit, kernel_name, replies, km)
        limit = confinement.limits.notebook_timeout if confinement is not None else None
        deadline = time.monotonic() + limit if limit else math.inf
        try:
            # never strict: a claim of the text that this machine does not reproduce is a note, not an error
            with client.setup_kernel(env=kernel_env(strict=False)):
                for index, cell in enumerate(nb.cells):
                    left = deadline - time.monotonic()
                    if left <= 0:
                        stopped_at = index
                        break
                    if left < timeout:  # the notebook's time runs out before the cell's
                        client.timeout = max(1, math.ceil(left))
                        client.error_on_timeout = {"ename": "NotebookTimeoutError", "traceback": [],
                                                   "evalue": f"the notebook ran longer than its limit of {limit} s"}
                    try:
                        client.execute_cell(cell, index)
                    except Exception as err:
                        if type(err).__name__ == "DeadKernelError":
                            died_at = index
                            break
                        cell.setdefault("outputs", []).append(nbformat.v4.new_output(
                            "error", ename=type(err).__name__, evalue=str(err).splitlines()[0] if str(err) else "",
                            traceback=[]))
                    if left < timeout and time.monotonic() >= deadline:
                        stopped_at = index + 1
                        break
        except Exception as err:  # the kernel could not start, or died while starting or stopping
            if died_at is None and type(err).__name__ == "DeadKernelError":
                died_at = 0
            elif died_at is None:
                result.error = f"the notebook could not be run ({type(err).__name__}: {err})"
        passes = _read_records(records)
        if confined is not None:
            died_why = confined.why_died() or died_why
    finally:
        if km is not None:  # a kernel manager of ours: nbclient leaves its kernel running (without a cgroup, nothing else stops it)
            _stop(km)
        if confined is not None:
            confined.close()
        shutil.rmtree(scratch, ignore_errors=True)
        shutil.rmtree(records.parent, ignore_errors=True)
    for cell in nb.cells:
        if id(cell) in originals:
            cell.source = originals[id(cell)]  # the graded notebook shows the check as released

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
            result.checks.append(CheckResult(gid, 0.0, points, "kernel died", died_why))
            continue
        if stopped_at is not None and positions[id(cell)] >= stopped_at:
            result.checks.append(CheckResult(gid, 0.0, points, "timed out",
                                             f"not run: the notebook ran longer than its limit of {limit} s"))
            continue
        status, message = _judge(gid, keys.get(gid), replies.get(positions[id(cell)]), cell.get("outputs", []), passes)
        exercise = keys[gid][1] if gid in keys else None
        if status == "passed":
            result.checks.append(CheckResult(gid, points, points, "passed", "; ".join(prepared.flags.get(gid, [])),
                                             exercise))
        else:
            if message.startswith("NotebookTimeoutError"):
                status = "timed out"
            if confined is not None:
                message = _explain(message, confinement, confined.procs_refused)
            from .classbook import known_mistake

            result.checks.append(CheckResult(gid, 0.0, points, status, message, exercise,
                                             known_mistake(module, exercise, message)))
    result.notebook = nb
    result.seconds = time.perf_counter() - start
    return result


def _stop(km) -> None:
    """Kill the kernel of ``km`` (and its process group) if it is still running; a kernel that is gone already is fine."""
    from jupyter_core.utils import run_sync

    try:
        if km.has_kernel:
            run_sync(km.shutdown_kernel)(now=True)
    except Exception:  # noqa: BLE001 - it died, or was never started: nothing left to stop
        pass


def _explain(message: str, p: Plan, procs_refused: int | None) -> str:
    """Name the limit behind an error that a limit causes (``procs_refused``: forks the pids cgroup refused)."""
    lim = p.limits
    if lim.memory is not None and "MemoryError" in message:
        return f"{message} (memory limit of {format_size(lim.memory)} reached)"
    if lim.max_file_size is not None and "File too large" in message:
        return f"{message} (file size limit of {format_size(lim.max_file_size)} reached)"
    if lim.max_procs is not None and "Resource temporarily unavailable" in message:
        if procs_refused:
            return f"{message} (limit of {lim.max_procs} processes and threads reached)"
        if procs_refused is None:  # rlimits: the kernel does not count refusals
            return f"{message} (perhaps the limit of {lim.max_procs} processes)"
    return message


class _Confined:
    """One kernel's confinement: its cgroups, home and connection folders, owned by the kernel's user."""

    def __init__(self, p: Plan, scratch: Path, records: Path):
        self.plan, self.cgroups = p, None
        self.home = Path(tempfile.mkdtemp(prefix="lrcourse-home-"))
        self.conn = Path(tempfile.mkdtemp(prefix="lrcourse-conn-"))
        self.scratch, self.records = scratch, records
        _seed_matplotlib(self.home)
        if p.cgroup is not None:
            try:
                self.cgroups = Cgroups.create(secrets.token_hex(8), p.limits, version=p.cgroup)
            except OSError as err:  # probed at the start of the run, but the machine may have changed
                raise RuntimeError(f"the cgroups for this kernel could not be made ({err})") from err
        if p.user is not None:
            for folder in (scratch, self.home, self.conn, records):
                _chown_tree(folder, *p.user)

    def kernel_manager(self, kernel_name: str | None):
        writable = [str(self.scratch), str(self.home), str(self.conn), str(self.records)]
        files = self.cgroups.procs_files() if self.cgroups else []
        return _kernel_manager(kernel_name, self.plan, writable, str(self.scratch), str(self.home), self.conn, files)

    procs_refused: int | None = None  # forks the pids cgroup refused; None without a cgroup

    def why_died(self) -> str | None:
        if self.cgroups is not None and self.cgroups.oom_kills() > 0 and self.plan.limits.memory is not None:
            return f"the kernel died: memory limit of {format_size(self.plan.limits.memory)} exceeded"
        return None

    def close(self) -> None:
        if self.cgroups is not None:
            self.procs_refused = self.cgroups.pids_refused()
            self.cgroups.remove()
        shutil.rmtree(self.home, ignore_errors=True)
        shutil.rmtree(self.conn, ignore_errors=True)


def _chown_tree(folder: Path, uid: int, gid: int) -> None:
    for root, dirs, files in os.walk(folder):
        for name in [root] + [os.path.join(root, n) for n in dirs + files]:
            try:
                os.lchown(name, uid, gid)
            except OSError:
                pass


def _seed_matplotlib(home: Path) -> None:
    """Copy the grader's matplotlib font list into the kernel's fresh home: it would rebuild it (~0.3 s)."""
    cache = os.environ.get("MPLCONFIGDIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "matplotlib")
    target = home / ".matplotlib"
    target.mkdir()
    try:
        for font_list in Path(cache).glob("fontlist-*.json"):
            shutil.copy(font_list, target / font_list.name)
    except OSError:
        pass


def _read_records(records: Path) -> set[tuple[str, str, str]]:
    """The pass records the checks wrote in this run: ``(grade_id, exercise, mac)``."""
    try:
        text = records.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return set()
    return {tuple(line.split()) for line in text.splitlines() if len(line.split()) == 3}  # type: ignore[misc]


def _judge(gid: str, key: tuple[str, str | None] | None, reply: dict | None, outputs: list,
           passes: set) -> tuple[str, str]:
    """``(status, message)`` of one check cell, from the kernel's reply and the cell's pass record."""
    if reply is not None and reply.get("status") == "error":
        message = f"{reply.get('ename', 'Error')}: {reply.get('evalue', '')}".strip()
    else:
        message = _error_message(outputs)  # an interrupted cell (timeout) has no reply, only its error
    if message is not None:
        return ("not attempted" if message.startswith("NotAttemptedError") else "failed"), message
    if key is None:
        return "failed", "the check cell could not be armed for a pass record (the release has no `ex` import)"
    secret, exercise = key
    recorded = any(g == gid and (exercise is None or name == exercise) and hmac.compare_digest(
        mac, _record.mac(bytes.fromhex(secret), gid, name)) for g, name, mac in passes)
    if reply is None or reply.get("status") != "ok":
        return "failed", "the kernel gave no reply to the check cell"
    if not recorded:
        return "failed", ("the check did not report a pass in this run: the cell ran without an error, but the "
                          "check's own pass record is missing (was the check replaced, skipped or silenced?)")
    return "passed", ""
