"""Every process started for one submission carries a mark, so that all of them can be stopped together.

The kernel and anything it starts inherit the mark (an environment variable); :func:`stop_marked` kills
whatever still carries it when the submission is done, even when the process that graded it was killed.
"""
from __future__ import annotations

import os
import signal
from pathlib import Path

__all__ = ["MARKER", "stop_marked"]

#: The environment variable that marks every process started for one submission (the kernel and anything
#: it starts inherit it), so that the grader can stop them all when the submission is done.
MARKER = "LRCOURSE_GRADING_JOB"


def stop_marked(token: str) -> int:
    """SIGKILL every process (Linux: read from /proc) whose environment carries ``MARKER=token``; how many."""
    wanted, killed = f"{MARKER}={token}".encode(), 0
    proc = Path("/proc")
    if not proc.is_dir():
        return 0
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if wanted in environ.split(b"\0"):
            try:
                os.kill(int(entry.name), signal.SIGKILL)
                killed += 1
            except OSError:
                pass
    return killed
