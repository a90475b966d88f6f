"""Step 3 of grading one notebook: score each check cell from positive evidence.

Scores come from positive evidence, never from the mere absence of an error output (a submission can stop
errors from being shown): a check cell earns its points only when the check itself wrote a *pass record*
for that cell of this run (:mod:`lrcourse.exercises._record`: a line carrying an HMAC under the key
:mod:`~lrcourse.grading.scoring.rewrite` drew for the cell) **and** the kernel's reply to the cell is
``ok``. A check cell that fails gets the error of the kernel's reply as its message, whether or not the
error was displayed, the limit behind it named, and the known mistake it reports. A voided check cell
(edited, deleted, retyped) scores zero whatever it prints.
"""
from __future__ import annotations

import hmac

import nbformat

from ...exercises import _record
from ..results import CheckResult
from ..sandbox.confine import Plan, format_size
from .mistakes import known_mistake
from .rewrite import Armed
from .run import Execution
from .submission import Prepared, test_cells
from .. import messages as M

__all__ = ["score"]


def score(nb: nbformat.NotebookNode, release: nbformat.NotebookNode, prepared: Prepared, armed: Armed,
          done: Execution, confinement: Plan | None = None, carry_forward: bool = True) -> list[CheckResult]:
    """One :class:`~lrcourse.grading.results.CheckResult` per check cell of ``nb``, in order.

    A check that failed only because the learner's answer to an earlier exercise fails its own (its check says
    so with a record, :func:`lrcourse.exercises._record.carried`) is ``"carried forward"`` from that exercise's
    check cell: it earns its points when ``carry_forward`` (``lrcourse grade``'s default), else none.
    """
    cells_of = {exercise: gid for gid, (_key, exercise) in armed.keys.items() if exercise}
    checks: list[CheckResult] = []
    released_points = {gid: float(cell.metadata.nbgrader.get("points", 0)) for gid, cell in test_cells(release)}
    positions = {id(cell): i for i, cell in enumerate(nb.cells)}
    for gid, cell in test_cells(nb):
        points = released_points.get(gid, 0.0)
        if gid in prepared.voided:
            checks.append(CheckResult(gid, 0.0, points, "voided", "; ".join(prepared.flags[gid])))
            continue
        if done.error is not None:
            checks.append(CheckResult(gid, 0.0, points, "failed", done.error))
            continue
        if done.died_at is not None and positions[id(cell)] >= done.died_at:
            checks.append(CheckResult(gid, 0.0, points, "kernel died", done.died_why))
            continue
        if done.stopped_at is not None and positions[id(cell)] >= done.stopped_at:
            checks.append(CheckResult(gid, 0.0, points, "timed out",
                                      M.say(M.NOT_RUN_TIMEOUT, limit=done.limit)))
            continue
        status, message = _judge(gid, armed.keys.get(gid), done.replies.get(positions[id(cell)]),
                                 cell.get("outputs", []), done.passes)
        exercise = armed.keys[gid][1] if gid in armed.keys else None
        if status == "passed":
            checks.append(CheckResult(gid, points, points, "passed", "; ".join(prepared.flags.get(gid, [])), exercise))
            continue
        root = _carried_root(gid, armed.keys.get(gid), done.passes) if status == "failed" else None
        if root is not None:
            checks.append(CheckResult(gid, points if carry_forward else 0.0, points, "carried forward", message,
                                      exercise, None, cells_of.get(root, root)))
            continue
        if message.startswith("NotebookTimeoutError"):
            status = "timed out"
        if confinement is not None:
            message = _explain(message, confinement, done.procs_refused)
        checks.append(CheckResult(gid, 0.0, points, status, message, exercise,
                                  known_mistake(armed.module, exercise, message)))
    return checks


def _error_message(outputs: list) -> str | None:
    for out in outputs:
        if out.get("output_type") == "error":
            return f"{out.get('ename', 'Error')}: {out.get('evalue', '')}".strip()
    return None


def _explain(message: str, p: Plan, procs_refused: int | None) -> str:
    """Name the limit behind an error that a limit causes (``procs_refused``: forks the pids cgroup refused)."""
    lim = p.limits
    if lim.memory is not None and "MemoryError" in message:
        return M.say(M.MEMORY, message=message, size=format_size(lim.memory))
    if lim.max_file_size is not None and "File too large" in message:
        return M.say(M.FILE_SIZE, message=message, size=format_size(lim.max_file_size))
    if lim.max_procs is not None and "Resource temporarily unavailable" in message:
        if procs_refused:
            return M.say(M.PROCESSES, message=message, count=lim.max_procs)
        if procs_refused is None:  # rlimits: the kernel does not count refusals
            return M.say(M.PROCESSES_MAYBE, message=message, count=lim.max_procs)
    return message


def _carried_root(gid: str, key: tuple[str, str | None] | None, passes: set) -> str | None:
    """The earlier exercise a failed check cell's check said its failure is carried from (a valid record), or None."""
    if key is None:
        return None
    secret, exercise = key
    for g, name, mac in passes:
        checked, joined, root = name.partition(_record.CARRIED)
        if g == gid and joined and (exercise is None or checked == exercise) and hmac.compare_digest(
                mac, _record.mac(bytes.fromhex(secret), gid, name)):
            return root
    return None


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
        return "failed", M.say(M.NOT_ARMED)
    secret, exercise = key
    recorded = any(g == gid and (exercise is None or name == exercise) and hmac.compare_digest(
        mac, _record.mac(bytes.fromhex(secret), gid, name)) for g, name, mac in passes)
    if reply is None or reply.get("status") != "ok":
        return "failed", M.say(M.NO_REPLY)
    if not recorded:
        return "failed", M.say(M.NO_PASS)
    return "passed", ""
