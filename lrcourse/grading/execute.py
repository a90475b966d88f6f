"""Execute a notebook headless in a fresh kernel and time it (benchmarks, refreshing solutions)."""
from __future__ import annotations

import time
from pathlib import Path

import nbformat

__all__ = ["execute_notebook"]


def execute_notebook(path: str | Path, timeout: int = 120, kernel_name: str | None = None,
                     allow_errors: bool = False) -> tuple[nbformat.NotebookNode, float]:
    """Run every cell of the notebook at ``path`` in its own folder; return ``(notebook, seconds)``.

    The timing covers kernel start-up and every cell. Cell timing metadata and
    widget state are not kept, so re-executing a notebook changes only its
    outputs. (Widget state is recorded and then dropped: nbclient's Output-widget
    support fails with ``store_widget_state=False``.)
    """
    from nbclient import NotebookClient

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    kwargs = {"kernel_name": kernel_name} if kernel_name else {}
    client = NotebookClient(nb, timeout=timeout, allow_errors=allow_errors, record_timing=False,
                            store_widget_state=True, resources={"metadata": {"path": str(path.parent)}},
                            **kwargs)
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    nb.metadata.pop("widgets", None)
    return nb, seconds
