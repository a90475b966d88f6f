"""The grader's own messages (not the checks'): why a submission or a check scored nothing, in every language.

The checks write their messages in the submission's language inside the kernel. The grader's messages (a
notebook that ran past its limit, a file that is not a notebook, a check cell put back as released) are made
in the grading process from the templates below and stored in English, so that the JSON, the CSV and the
class report of a mixed class read alike, and :func:`localized` gives any of them in the language in force,
through the same catalogs as the checks' (``with i18n.using("vi"): localized(text)``). A template's
placeholders may hold another template's text (``"{message} (memory limit of {size} reached)"``): they are
translated too. Text that no template made (an exception's own words) stays as it is.
"""
from __future__ import annotations

import functools
import re

from ..i18n import N_, gettext_ as _

__all__ = ["say", "localized", "TEMPLATES"]

CANNOT_READ = N_("cannot read the file ({reason})")
EMPTY = N_("the file is empty")
NOT_UTF8 = N_("the file is not UTF-8 text, so not a notebook")
NOT_JSON = N_("the file is not valid JSON (line {line}, column {column}: {reason})")
NOT_NOTEBOOK = N_("the file is JSON but not a notebook (no 'cells')")
NOT_COURSE = N_("not a notebook of this course: none of its check cells or cells matches a released notebook "
                "({releases})")
NOT_RUN_TIMEOUT = N_("not run: the notebook ran longer than its limit of {limit} s")
NOTEBOOK_TIMEOUT = N_("the notebook ran longer than its limit of {limit} s")
NOTEBOOK_STOPPED = N_("the notebook ran longer than its limit of {limit} s and was stopped")
CELL_TIMEOUT = N_("the cell ran longer than {timeout} s and was interrupted")
MEMORY = N_("{message} (memory limit of {size} reached)")
FILE_SIZE = N_("{message} (file size limit of {size} reached)")
PROCESSES = N_("{message} (limit of {count} processes and threads reached)")
PROCESSES_MAYBE = N_("{message} (perhaps the limit of {count} processes)")
NOT_ARMED = N_("the check cell could not be armed for a pass record (the release has no `ex` import)")
NO_REPLY = N_("the kernel gave no reply to the check cell")
NO_PASS = N_("the check did not report a pass in this run: the cell ran without an error, but the check's own "
             "pass record is missing (was the check replaced, skipped or silenced?)")
KERNEL_DIED = N_("the kernel died")
KERNEL_DIED_MEMORY = N_("the kernel died: memory limit of {size} exceeded")
NOT_RUNNABLE = N_("the notebook could not be run ({error})")
GRADER_FAILED = N_("the grader failed on this submission ({error})")
GRADING_NOT_RUN = N_("grading could not run ({error})")
KILLED = N_("the process grading this submission was killed ({signal}) while it ran: its own code may have killed "
            "it; no other submission was affected")
EXITED = N_("the process grading this submission failed (exit status {status}) {tail}")
EXITED_SILENTLY = N_("the process grading this submission failed (exit status {status})")
CELL_DUPLICATED = N_("test cell was duplicated; the copy was removed")
CELL_TYPE = N_("test cell type was changed to {type}; it was reset")
CELL_MODIFIED = N_("test cell was modified; it was put back as released")
CELL_DELETED = N_("test cell was deleted; it was re-inserted")
#: An error a check cell raised, as the grader records it: ``ename: evalue``.
RAISED = "{ename}: {evalue}"  # i18n: not a sentence

#: Every template above (each is matched whole, so their order does not matter).
TEMPLATES = tuple(value for name, value in list(globals().items())
                  if name.isupper() and name != "RAISED" and isinstance(value, str))


def say(template: str, **values) -> str:
    """A grader message, in English (what is stored): ``template`` filled with ``values``."""
    return template.format(**values)


@functools.lru_cache(maxsize=None)
def _pattern(template: str) -> re.Pattern:
    parts = re.split(r"\{(\w+)\}", template)
    regex = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>.+?)" for i, p in enumerate(parts))
    return re.compile(regex, re.S)


def localized(text: str | None) -> str | None:
    """``text``, a grader message, in the language in force (an error of a check cell, ``ename: evalue``, with
    its evalue translated); text that no template made stays as it is."""
    if not text:
        return text
    for template in TEMPLATES:
        match = _pattern(template).fullmatch(text)
        if match:
            return _(template).format(**{k: localized(v) for k, v in match.groupdict().items()})
    ename, sep, evalue = text.partition(": ")
    if sep and re.fullmatch(r"[A-Z]\w*(Error|Exception)", ename):
        inner = localized(evalue)
        if inner != evalue:
            return RAISED.format(ename=ename, evalue=inner)
    return text
