"""Start-up time of lrcourse's own processes (the ``lrcourse`` command, each grading worker)."""
from __future__ import annotations

import sys

#: Modules a process of lrcourse's may do without, and why.
SLOW_AND_UNUSED = {
    # jsonschema (>= 4.25; nbformat, jupyter_events and nbgrader use it) imports rfc3987-syntax to check the
    # "iri" formats, and rfc3987-syntax builds some 35 Earley parsers when it is imported: about 2 s on a laptop
    # core, paid by every process that reads a notebook (python-jsonschema/jsonschema#1428,
    # opendatahub-io/notebooks#3532). No schema of a notebook or of Jupyter uses those formats.
    "rfc3987_syntax",
}


def skip_slow_unused_imports() -> None:
    """Mark :data:`SLOW_AND_UNUSED` as absent in this process before anything imports jsonschema.

    ``sys.modules[name] = None`` makes ``import name`` raise ``ImportError``, which jsonschema expects of an
    optional checker it does not have: it then does without that checker. Called by lrcourse's own entry points,
    never on ``import lrcourse``: a learner's kernel and other programs are left as they are. Once jsonschema is
    imported this does nothing (it has chosen its checkers).
    """
    if "jsonschema" in sys.modules:
        return
    for name in SLOW_AND_UNUSED:
        sys.modules.setdefault(name, None)  # type: ignore[assignment]
