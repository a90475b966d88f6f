"""Step 2 of grading one notebook: run it in a fresh kernel, confined, in a scratch copy of its folder.

:func:`run` never writes to the submission. It runs the rewritten notebook in a temporary copy of the
submission's folder (other notebooks left out), with

* a per-cell timeout: an endless loop is interrupted, and the next cells run;
* a time limit for the whole notebook when the confinement sets one;
* an output limit per cell: a cell that prints a million lines keeps its first ``output_limit`` characters
  and a note;
* a kernel that dies (``os._exit``, a segfault) stopping the run where it died;
* the kernel behind :func:`lrcourse.grading.sandbox.confine.wrap` when a confinement is given,

and returns what happened (:class:`Execution`): the kernel's reply to each cell, where it died or ran out of
time, and the pass records the checks wrote. The kernel, its cgroups and its folders are gone afterwards.
"""
from __future__ import annotations

import math
import os
import secrets
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from ...claims import kernel_env
from ..sandbox.confine import Cgroups, Plan, format_size, wrap
from .. import messages as M

__all__ = ["Execution", "run", "OUTPUT_LIMIT"]

#: Characters of output kept per cell.
OUTPUT_LIMIT = 20_000


@dataclass
class Execution:
    """What running one notebook gave: the kernel's word on each cell, and where the run stopped, if it did."""

    replies: dict[int, dict] = field(default_factory=dict)  # cell index -> the content of the kernel's reply
    passes: set = field(default_factory=set)  # the pass records written: (grade_id, exercise, mac)
    died_at: int | None = None  # the cell the kernel died in
    died_why: str = M.say(M.KERNEL_DIED)
    stopped_at: int | None = None  # the first cell not run because the notebook ran out of time
    limit: int | None = None  # the notebook's time limit (seconds), if any
    error: str | None = None  # the notebook could not be run at all
    procs_refused: int | None = None  # forks the pids cgroup refused; None without a cgroup


#: Arguments for a confined kernel. ``Session.copy_threshold``: every message is copied into ZeroMQ, never sent
#: zero-copy. A zero-copy send needs pyzmq's garbage-collector thread, which starts with the first large message
#: (a figure); when a submission has used up its processes and threads before that (a fork bomb under
#: ``--max-procs``), the thread cannot start, the kernel sends broken messages ("Invalid Signature"), and every
#: later cell waits out its timeout: the bomb then cost its submission the whole notebook's time, not a second.
_ROBUST_KERNEL_ARGS = ("--Session.copy_threshold=9223372036854775807",)


def _kernel_manager(kernel_name: str | None, p: Plan, writable: list[str], cwd: str, home: str, conn: Path,
                    cgroup_files: list[str]):
    """A kernel manager whose kernel starts behind :func:`lrcourse.grading.sandbox.confine.wrap`.

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
                                           "evalue": M.say(M.CELL_TIMEOUT, timeout=timeout),
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


def run(path: Path, nb: nbformat.NotebookNode, records: Path, timeout: int = 60, output_limit: int = OUTPUT_LIMIT,
        kernel_name: str | None = None, confinement: Plan | None = None) -> Execution:
    """Run ``nb`` (the notebook at ``path``, rewritten) cell by cell; its outputs are written into ``nb``.

    ``records`` is the file the checks write pass records to; it and its folder are removed afterwards.
    """
    done = Execution()
    scratch, _ = _scratch(path, nb)
    confined = _Confined(confinement, scratch, records.parent) if confinement is not None else None
    km = None
    try:
        km = confined.kernel_manager(kernel_name) if confined is not None else None
        client = _client(nb, scratch, timeout, output_limit, kernel_name, done.replies, km)
        done.limit = limit = confinement.limits.notebook_timeout if confinement is not None else None
        deadline = time.monotonic() + limit if limit else math.inf
        try:
            # never strict: a claim of the text that this machine does not reproduce is a note, not an error
            with client.setup_kernel(env=kernel_env(strict=False)):
                for index, cell in enumerate(nb.cells):
                    left = deadline - time.monotonic()
                    if left <= 0:
                        done.stopped_at = index
                        break
                    if left < timeout:  # the notebook's time runs out before the cell's
                        client.timeout = max(1, math.ceil(left))
                        client.error_on_timeout = {"ename": "NotebookTimeoutError", "traceback": [],
                                                   "evalue": M.say(M.NOTEBOOK_TIMEOUT, limit=limit)}
                    try:
                        client.execute_cell(cell, index)
                    except Exception as err:
                        if type(err).__name__ == "DeadKernelError":
                            done.died_at = index
                            break
                        cell.setdefault("outputs", []).append(nbformat.v4.new_output(
                            "error", ename=type(err).__name__, evalue=str(err).splitlines()[0] if str(err) else "",
                            traceback=[]))
                    if left < timeout and time.monotonic() >= deadline:
                        done.stopped_at = index + 1
                        break
        except Exception as err:  # the kernel could not start, or died while starting or stopping
            if done.died_at is None and type(err).__name__ == "DeadKernelError":
                done.died_at = 0
            elif done.died_at is None:
                done.error = M.say(M.NOT_RUNNABLE, error=f"{type(err).__name__}: {err}")
        done.passes = _read_records(records)
        if confined is not None:
            done.died_why = confined.why_died() or done.died_why
    finally:
        if km is not None:  # a kernel manager of ours: nbclient leaves its kernel running (without a cgroup, nothing else stops it)
            _stop(km)
        if confined is not None:
            confined.close()
            done.procs_refused = confined.procs_refused
        shutil.rmtree(scratch, ignore_errors=True)
        shutil.rmtree(records.parent, ignore_errors=True)
    return done


def _stop(km) -> None:
    """Kill the kernel of ``km`` (and its process group) if it is still running; a kernel that is gone already is fine."""
    from jupyter_core.utils import run_sync

    try:
        if km.has_kernel:
            run_sync(km.shutdown_kernel)(now=True)
    except Exception:  # noqa: BLE001 - it died, or was never started: nothing left to stop
        pass


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
            return M.say(M.KERNEL_DIED_MEMORY, size=format_size(self.plan.limits.memory))
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
