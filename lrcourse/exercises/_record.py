"""Pass records: the positive evidence a grader scores a check on.

When ``lrcourse grade`` runs a check cell, the code it puts before the cell
imports the checks afresh and *arms* this module with the cell's ``grade_id``,
the exercise the cell checks, a one-time key the grader drew for this cell of
this run, and the file to write to. :meth:`Exercise.check` calls :func:`passed`
only after every case has passed; it writes one line, ``grade_id exercise mac``
where ``mac`` is an HMAC-SHA256 of ``grade_id:exercise:passed`` under the key,
and disarms. The grader gives the cell its points only when that line is there
with the right MAC *and* the kernel's reply to the cell is ``ok``: a cell with no
error output proves nothing (a submission can stop errors from being shown).

Outside grading nothing is armed and :func:`passed` does nothing.
"""
from __future__ import annotations

import hashlib
import hmac
import os

__all__ = ["arm", "passed", "carried", "mac", "seed", "CARRIED"]

#: Joins an exercise and the earlier one its failure is carried from, in a record: ``gradient_descent<gd_step``.
CARRIED = "<"

_armed: tuple[str, str | None, bytes, str] | None = None
_seed: int | None = None


def mac(key: bytes, grade_id: str, exercise: str) -> str:
    """The MAC a pass of ``exercise`` in the check cell ``grade_id`` carries under ``key``."""
    return hmac.new(key, f"{grade_id}:{exercise}:passed".encode(), hashlib.sha256).hexdigest()


def arm(grade_id: str, exercise: str | None, key_hex: str, path: str, seed: int | None = None) -> None:
    """Arm for one check cell (called by the grader's code before the cell); ``exercise`` None: any exercise.

    ``seed``: the check also tries hidden cases drawn with it (``lrcourse grade --seed``).
    """
    global _armed, _seed
    _armed = (grade_id, exercise, bytes.fromhex(key_hex), path)
    _seed = seed


def seed() -> int | None:
    """The seed of the hidden cases the armed check cell draws, or None (no grader, or no ``--seed``)."""
    return _seed if _armed is not None else None


def passed(exercise: str) -> None:
    """Record that ``exercise``'s check passed every case, if the grader armed this cell for it; then disarm."""
    _write(exercise, exercise)


def carried(exercise: str, root: str) -> None:
    """Record that ``exercise``'s check failed only because of the learner's ``root`` (an earlier exercise that
    fails its own check): ``grade_id exercise<root mac``, if the grader armed this cell for ``exercise``; then
    disarm. The grader may award the cell its points (``lrcourse grade`` carries such errors forward)."""
    _write(exercise, f"{exercise}{CARRIED}{root}")


def _write(exercise: str, name: str) -> None:
    global _armed, _seed
    armed, _armed, _seed = _armed, None, None
    if armed is None:
        return
    grade_id, expected, key, path = armed
    if expected is not None and expected != exercise:
        return
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, f"{grade_id} {name} {mac(key, grade_id, name)}\n".encode())
    finally:
        os.close(fd)
