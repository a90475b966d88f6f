"""Execute a notebook headless in a fresh kernel and time it (benchmarks, refreshing solutions)."""
from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

import nbformat

__all__ = ["execute_notebook", "cell_seconds"]


def execute_notebook(path: str | Path, timeout: int = 120, kernel_name: str | None = None,
                     allow_errors: bool = False, record_timing: bool = False,
                     strict_claims: bool = True, threads: int | None = None) -> tuple[nbformat.NotebookNode, float]:
    """Run every cell of the notebook at ``path`` in its own folder; return ``(notebook, seconds)``.

    The timing covers kernel start-up and every cell. Cell timing metadata
    (unless ``record_timing``, see :func:`cell_seconds`) and widget state are
    not kept, so re-executing a notebook changes only its outputs. (Widget state is recorded and then dropped: nbclient's Output-widget
    support fails with ``store_widget_state=False``.) With ``strict_claims`` (the default: this runs the
    maintainers' solutions) a false claim of the text is an error in the kernel (:mod:`lrcourse.claims`).
    ``threads``: the kernel's torch threads; ``None`` (the default) gives it the reference runs' count
    (:data:`lrcourse.claims.REFERENCE_THREADS`), so that refreshed outputs are the ones nbval compares against on
    any machine; ``0`` leaves it this process's own setting (a learner's, as the benchmark measures).
    """
    from ...claims import REFERENCE_THREADS, kernel_env
    from nbclient import NotebookClient

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    kwargs = {"kernel_name": kernel_name} if kernel_name else {}
    client = NotebookClient(nb, timeout=timeout, allow_errors=allow_errors, record_timing=record_timing,
                            store_widget_state=True, resources={"metadata": {"path": str(path.parent)}},
                            **kwargs)
    start = time.perf_counter()
    client.execute(env=kernel_env(strict_claims, REFERENCE_THREADS if threads is None else threads or None))
    seconds = time.perf_counter() - start
    nb.metadata.pop("widgets", None)
    return nb, seconds


def cell_seconds(cell: nbformat.NotebookNode) -> float | None:
    """Seconds a cell ran, from the timing metadata of ``execute_notebook(..., record_timing=True)``."""
    timing = cell.get("metadata", {}).get("execution", {})
    if "iopub.execute_input" not in timing or "shell.execute_reply" not in timing:
        return None
    start, end = (datetime.fromisoformat(timing[k].replace("Z", "+00:00"))
                  for k in ("iopub.execute_input", "shell.execute_reply"))
    return (end - start).total_seconds()
