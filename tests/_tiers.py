"""The suite's tiers, its order on the workers, and one torch thread everywhere: the collection hooks of the root
``conftest.py`` (there, so that they hold whatever paths pytest is given: ``pytest solutions/01_gradient_descent.ipynb``
gets them too). The fixtures tests share and each tier's guard are in ``tests/conftest.py``.

**Tiers** (markers, assigned here by path or fixture, never by hand on a test):

- ``unit``: in-process: the library, the exercise checks and their properties, hidden cases;
- ``kernel``: starts Jupyter kernels (grading, isolation, limits, executing a notebook), or is told to by a
  fixture that does (:data:`KERNEL_FIXTURES`);
- ``course``: whole notebooks: nbval over the English solutions/, the whole course graded (the Vietnamese edition
  runs whole in the browser tier, its seeds shifted; its outputs show the same numbers as the English, which
  tests/test_vietnamese_edition.py holds; ``pytest solutions/vi`` runs nbval over it when asked);
- ``browser``: JupyterLab in Chromium (tests/browser);
- ``package``: a wheel and an sdist built, a fresh virtualenv.

``python -m pytest`` runs them all; ``python -m pytest -m unit`` is the loop after every edit. A test of the
unit tier that starts a kernel, a grading worker or JupyterLab fails and says how to move it.

**Workers.** pytest-xdist (``-n auto --dist loadfile --no-loadscope-reorder`` in pyproject's addopts): a file's
tests run on one worker (an nbval notebook's cells share its kernel; a module's fixtures are made once; the tests
of the graded class are one file, so the class is graded once), and the files are sent out longest first
(:data:`GROUP_SECONDS`), so that the last one to finish is short. (Not ``--dist loadgroup``: with pytest 9 its
groups are ignored, since pytest-xdist 3.8 renames a test through an attribute pytest no longer reads.)

**One torch thread** in this process and in every kernel it starts: the course's reference outputs come from
one-thread runs (:data:`lrcourse.claims.REFERENCE_THREADS`), which every machine reproduces whatever its core
count, and two processes of two threads each on two cores run many times slower than one (notebook 07 took
625 s instead of 35 s beside another notebook).
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from lrcourse.claims import REFERENCE_THREADS, thread_env

os.environ.setdefault("MPLBACKEND", "Agg")
# The claims of the text are errors here: nbval's kernels (and every kernel a test starts) inherit this,
# so a change that moves a number the prose quotes fails the suite (lrcourse.claims).
os.environ["LRCOURSE_STRICT_CLAIMS"] = "1"
os.environ.update(thread_env(REFERENCE_THREADS))  # before torch is imported here, and for every kernel

from _course import NOTEBOOK_SECONDS, ROOT  # noqa: E402  (after the environment is set)

TIERS = ("unit", "kernel", "course", "browser", "package")
#: Whole paths in one tier (relative to the project's root; a folder covers everything below it).
TIER_BY_PATH = {
    "solutions": "course",                 # nbval: every English solution notebook (solutions/vi: when named)
    "tests/test_grading_course.py": "course",
    "tests/browser": "browser",
    "tests/test_wheel.py": "package",
    "tests/test_grading_grade.py": "kernel",
    "tests/test_grading_trust.py": "kernel",
    "tests/test_grading_isolation.py": "kernel",
}
#: Fixtures that start kernels or stand for a test that does: a test using one is in the kernel tier.
KERNEL_FIXTURES = {"kernels", "tiny", "graded_class"}
#: Seconds a file takes on one worker of a 2-core machine beside another, roughly (measured): the files start
#: longest first, so that the last to finish is short. A file not listed counts its tests (PER_TEST_SECONDS);
#: an nbval notebook, NOTEBOOK_SECONDS.
GROUP_SECONDS = {"tests/browser/test_notebooks_in_browser.py": 300, "tests/test_grading_course.py": 45,
                 "tests/test_grading_classbook.py": 30, "tests/test_hidden_cases.py": 50, "tests/test_schedules.py": 45,
                 "tests/test_exercise_properties.py": 35, "tests/test_exercises.py": 30,
                 "tests/test_optimizers_at_scale.py": 30, "tests/test_descent.py": 25}
PER_TEST_SECONDS = {"unit": 0.1, "kernel": 3.0, "course": 1.0, "browser": 20.0, "package": 5.0}


def _relative(item) -> str:
    return Path(str(item.fspath)).resolve().relative_to(ROOT).as_posix()


def tier_of(item) -> str:
    """The tier of a collected test: by its path, else by its fixtures, else ``unit``."""
    path = _relative(item)
    for prefix, tier in TIER_BY_PATH.items():
        if path == prefix or path.startswith(prefix + "/"):
            return tier
    if KERNEL_FIXTURES & set(getattr(item, "fixturenames", ())):
        return "kernel"
    return "unit"


def group_of(item) -> str:
    """What runs on one worker: a file (``--dist loadfile``)."""
    return _relative(item)


def _seconds(group: str, items: list) -> float:
    if group in GROUP_SECONDS:
        return GROUP_SECONDS[group]
    if group.startswith("solutions/"):
        return NOTEBOOK_SECONDS.get(Path(group).name[:2], 60)
    return sum(PER_TEST_SECONDS[tier_of(item)] for item in items)


#: Collected only when named on the command line: nbval over the Vietnamese twins would repeat every training run of
#: the English (their code differs only in strings and their outputs show the same numbers, a unit test checks
#: that), about 110 s of the suite on 2 cores. The browser tier runs them whole, each once, its seeds shifted.
ONLY_WHEN_NAMED = ("solutions/vi",)


def pytest_ignore_collect(collection_path, config):
    try:
        path = Path(collection_path).resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return None
    for folder in ONLY_WHEN_NAMED:
        if path == folder or path.startswith(folder + "/"):
            named = [Path(arg.split("::")[0]).resolve() for arg in config.args]
            target = (ROOT / folder).resolve()
            if not any(n == target or target in n.parents for n in named):  # the folder or a file in it
                return True
    return None


def pytest_configure(config):
    for tier in TIERS:
        config.addinivalue_line("markers", f"{tier}: a test of the {tier} tier (assigned in tests/_tiers.py)")


@pytest.hookimpl(tryfirst=True)  # before -m selects by tier
def pytest_collection_modifyitems(config, items):
    groups: dict[str, list] = {}
    for item in items:
        item.add_marker(getattr(pytest.mark, tier_of(item)))
        groups.setdefault(group_of(item), []).append(item)
    # the longest groups first, each in its collected order (stable: every worker collects the same order)
    order = sorted(groups, key=lambda g: -_seconds(g, groups[g]))
    items[:] = [item for group in order for item in groups[group]]


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist: pytest without it (a bare GPU image) ignores it
def pytest_xdist_auto_num_workers(config):
    """``-n auto``: a worker per core, at most 8 (each kernel and worker runs one torch thread); ``LRCOURSE_TEST_WORKERS``
    sets another number (``0`` or ``1``: no workers)."""
    if os.environ.get("LRCOURSE_TEST_WORKERS", "").strip():
        return int(os.environ["LRCOURSE_TEST_WORKERS"])
    return max(1, min(8, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1))


