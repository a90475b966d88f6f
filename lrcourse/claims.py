"""Claims of the text: the numbers and comparisons the prose quotes, checked in the cell that computes them.

A notebook's text quotes figures from its own outputs ("validation picks 0.03 and 0.3"). Each such
sentence is backed by a ``claim(condition, message)`` in the cell that computes the figure.

- **Strict** (the environment variable ``LRCOURSE_STRICT_CLAIMS=1``: the test suite, ``lrcourse
  execute`` set it): a false claim raises :class:`AssertionError`, so a change that
  moves a quoted number cannot land.
- **Otherwise** (a learner's Jupyter, the grader): a false claim prints a note and the notebook goes
  on. The claims are written to hold under other seeds, thread counts and CPU kernels (the course's
  robustness run checks them), so a note most likely means the learner changed the code; a learner's
  experiment must not stop the notebook halfway.
"""
from __future__ import annotations

import ast
import inspect
import linecache
import os
import re

from . import i18n
from .i18n import N_, gettext_ as _

__all__ = ["claim", "strict", "kernel_env", "thread_env", "not_shown", "ENV_VAR", "REFERENCE", "REFERENCE_THREADS",
           "NOTE_PREFIX", "note_prefixes"]

#: The environment variable that makes a false claim an error.
ENV_VAR = "LRCOURSE_STRICT_CLAIMS"
#: How the note of a false claim begins; the claim follows, up to a closing quotation mark. The note is printed in
#: the course's language: :func:`note_prefixes` gives how it begins in each.
NOTE_PREFIX = N_("Note: the text claims \u201c")
#: Torch (OpenMP, MKL, OpenBLAS) threads of the course's reference runs: the stored outputs and the text's figures.
#: One thread: how many cores a machine has then changes nothing (the thread count changes rounding, and training
#: magnifies it), and the test suite can run two notebooks side by side on two cores.
REFERENCE_THREADS = 1
#: Where the text's figures come from, as the note tells the learner.
REFERENCE = N_("the course's reference runs (PyTorch 2.13 on an x86-64 CPU, one thread)")


def strict() -> bool:
    """Whether a false claim raises (``LRCOURSE_STRICT_CLAIMS`` is set to anything but ``""``/``0``)."""
    return os.environ.get(ENV_VAR, "").strip().lower() not in ("", "0", "false", "no")


def thread_env(threads: int) -> dict:
    """The environment variables that give torch, NumPy's BLAS and OpenMP ``threads`` threads in a process that
    starts with them (they are read when the libraries load)."""
    if not isinstance(threads, int) or isinstance(threads, bool) or threads < 1:
        raise ValueError(_("threads must be a whole number >= 1, got {threads!r}").format(threads=threads))
    return {name: str(threads) for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}


def kernel_env(strict: bool, threads: int | None = None) -> dict:
    """This process's environment for a kernel to start with, claims strict or not whatever it says now, and
    with ``threads`` threads (:func:`thread_env`) if given."""
    env = {k: v for k, v in os.environ.items() if k != ENV_VAR}
    if strict:
        env[ENV_VAR] = "1"
    if threads is not None:
        env.update(thread_env(threads))
    return env


def note_prefixes() -> tuple[str, ...]:
    """How the note of a false claim begins in each of the course's languages (English first)."""
    return tuple(dict.fromkeys([NOTE_PREFIX] + [i18n.translations(language).get(NOTE_PREFIX, NOTE_PREFIX)
                                                for language in i18n.LANGUAGES if language != "en"]))


def not_shown(text: str) -> list[str]:
    """The claims that the notes in ``text`` (a run's printed output, in any of the course's languages) say were
    not shown, in order."""
    found = re.split("|".join(map(re.escape, note_prefixes())), text)[1:]
    return [part.split("\u201d", 1)[0] for part in found]


def _caller_source(frame) -> str:
    """The condition's code in the line that called :func:`claim` (cells are in ``linecache`` under IPython)."""
    if frame is None:
        return ""
    line = linecache.getline(frame.f_code.co_filename, frame.f_lineno, frame.f_globals).strip()
    try:
        calls = [n for n in ast.walk(ast.parse(line)) if isinstance(n, ast.Call) and n.args
                 and getattr(n.func, "id", getattr(n.func, "attr", None)) == "claim"]
    except SyntaxError:  # a claim spread over lines: its first line
        return line
    return (ast.get_source_segment(line, calls[0].args[0]) if calls else None) or line


def claim(condition: object, message: str | None = None) -> None:
    """Check a claim of the text.

    ``message`` says what the text claims. In strict mode a false claim raises ``AssertionError(message)``;
    otherwise it prints a note naming the claim. Nothing is returned, so a claim that ends a cell shows
    nothing.
    """
    if message is not None and not isinstance(message, str):
        raise TypeError(_("message must be a str saying what the text claims, got {type}").format(
            type=type(message).__name__))
    if condition:
        return
    frame = inspect.currentframe()
    what = message or _caller_source(frame.f_back if frame is not None else None) or _("a claim of the text")
    if strict():
        raise AssertionError(what)
    print(_(NOTE_PREFIX) + what + _(
        "\u201d, and this run does not show it. The text's claims hold in {reference} and under other seeds, "
        "thread counts and CPU kernels (the course checks them with benchmarks/robustness.py), so the likeliest "
        "reason is a change to the code above. Otherwise rounding on this machine, which training magnifies, has "
        "moved a close comparison; your own outputs above are the ones to read.").format(reference=_(REFERENCE)))
