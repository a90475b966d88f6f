"""The notebooks as learners see them: in JupyterLab 4 (and once in Notebook 7), in Chromium.

- every solution notebook, in the Vietnamese edition (nbval runs the English), its seeds shifted by one
  (``SEED = 1``: each notebook's run under a perturbation, besides nbval's reference run): Run All finishes with no error output and no note of a claim of the text
  that the run does not show, every check cell shows its pass line, every image has rendered, no widget failed to display, and every explorer redraws its figure
  when one of its sliders moves;
- every student notebook: it opens without a kernel dialog, and its first check cell says "not
  attempted" with no frame of the checks' code;
- one student notebook the same way in Notebook 7.

Each solution notebook has its own tab, workspace and kernel (the copies served have no outputs:
Run All makes them); they run two at a time (one per core, one torch thread per kernel), the longest
first, and a tab is opened just before its turn. A notebook's explorers are moved as soon as it has
run, while the other lane goes on. The student notebooks load while the last solution notebooks run,
then run side by side in one tab. Each test then reads what was recorded and its own tab.
Screenshots go to tests/browser/screenshots/ (git-ignored).
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import nbformat
import pytest

from _course import NOTEBOOK_SECONDS
from lrcourse.claims import note_prefixes

ROOT = Path(__file__).resolve().parents[2]
SOLUTIONS, NOTEBOOKS = ROOT / "solutions" / "vi", ROOT / "notebooks"  # the editions conftest.py serves
NAMES = sorted(p.name for p in SOLUTIONS.glob("*.ipynb"))

_KERNEL_IDLE = """() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
  return !!(k && k.status === 'idle' && w.content && w.content.widgets.length); }"""
_ALL_RUN = """() => { const w = window.jupyterapp.shell.currentWidget;
  if (w.sessionContext.session.kernel.status !== 'idle') return false;
  return ![...w.node.querySelectorAll('.jp-InputArea-prompt')].some(e => e.textContent.includes('*')); }"""
_FIRST_CHECK_OUTPUT = """() => { for (const c of window.jupyterapp.shell.currentWidget.content.widgets) {
  const m = c.model.getMetadata('nbgrader'); if (m && m.grade) {
    const out = c.node.querySelector('.jp-OutputArea'); return out ? out.innerText : ''; } } return null; }"""


class Tab:
    """One notebook open in its own page, run with Run All."""

    def __init__(self, context, url: str):
        self.name = url.rsplit("/", 1)[-1].split("?")[0]
        self.page = context.new_page()
        self.page.goto(url)
        self.dialogs = None
        self.panel = None
        self.seconds = None

    def start(self) -> None:
        self.page.wait_for_function(_KERNEL_IDLE, timeout=120_000, polling=250)
        self.dialogs = self.page.locator(".jp-Dialog").count()
        self.panel = "#" + self.page.evaluate("window.jupyterapp.shell.currentWidget.id")
        self._started = time.monotonic()
        # not awaited: the command's promise settles only when the last cell has run
        self.page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")

    def done(self) -> bool:
        if self.seconds is None and time.monotonic() - self._started > 0.5 and self.page.evaluate(_ALL_RUN):
            self.seconds = time.monotonic() - self._started  # (the cells are queued [*] before the kernel is busy)
        return self.seconds is not None

    def wait(self, seconds: int) -> None:
        time.sleep(0.5)  # the cells are queued ([*]) before the kernel turns busy
        self.page.wait_for_function(_ALL_RUN, timeout=seconds * 1000, polling=500)
        self.seconds = time.monotonic() - self._started


#: Seconds each solution notebook takes headless: the longest start first.
EXPECTED_SECONDS = NOTEBOOK_SECONDS
#: Notebooks running at once: one per core this test has, at most two. Each kernel gets one torch thread
#: (KERNEL_THREADS in conftest.py): six kernels of two threads each on two cores ran more than twice as slow as one
#: at a time. Under pytest-xdist the other workers have the other cores: on 2 cores with 2 workers, one lane.
LANES = max(1, min(2, (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
                   // max(1, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))))


#: Tabs opened ahead of the lanes: a tab loads JupyterLab and starts its kernel while the lanes run.
AHEAD = 1


def _run_tabs(context, urls: dict, seconds: int, when_done=None, when_all_started=None) -> dict:
    """Run All in LANES notebooks at a time, the longest first; each tab is opened shortly before its turn,
    ``when_done(tab)`` runs as soon as its notebook has finished (while the other lane goes on), and
    ``when_all_started()`` once the last notebook has started."""
    order = sorted(urls, key=lambda name: -EXPECTED_SECONDS.get(name[:2], 60))
    tabs = {name: Tab(context, urls[name]) for name in order[:LANES]}  # the first lanes' pages load together
    waiting, running = list(order), []
    end = time.monotonic() + seconds
    while waiting or running:
        for name in [name for name in running if tabs[name].done()]:
            running.remove(name)
            if when_done is not None:
                when_done(tabs[name])
        while waiting and len(running) < LANES:
            name = waiting.pop(0)
            if name not in tabs:
                tabs[name] = Tab(context, urls[name])
            tabs[name].start()
            running.append(name)
            if not waiting and when_all_started is not None:
                when_all_started()
        for name in waiting[:AHEAD]:
            if name not in tabs:
                tabs[name] = Tab(context, urls[name])
        if time.monotonic() > end:
            raise TimeoutError(f"still running after {seconds} s: {running}; not started: {waiting}")
        time.sleep(0.5)
    return tabs


def _move_sliders(tab, screenshots: Path) -> None:
    """Move one slider of every explorer in the tab; record the explorers whose figure did not change."""
    page = tab.page
    explorers = page.locator(f"{tab.panel} .jp-OutputArea-output:has(.widget-slider):has(img.widget-image)")
    tab.explorers, tab.frozen = explorers.count(), []
    for i in range(tab.explorers):
        explorer = explorers.nth(i)
        image = explorer.locator("img.widget-image").first
        before = image.get_attribute("src")
        handle = explorer.locator(".widget-slider .noUi-handle").first
        handle.focus()
        handle.press("ArrowRight")
        try:
            page.wait_for_function("([img, src]) => img.getAttribute('src') !== src",
                                   arg=[image.element_handle(), before], timeout=30_000, polling=250)
        except Exception as error:  # noqa: BLE001 - recorded, and the test fails on it
            tab.frozen.append(f"explorer {i + 1} of {tab.explorers}: {type(error).__name__}")
    page.screenshot(path=str(screenshots / f"lab-{tab.name}.png"), full_page=True)


@pytest.fixture(scope="module")
def solution_tabs(context, lab, screenshots, students):
    urls = {name: f"{lab}/lab/workspaces/solution-{i}/tree/solutions/{name}?reset" for i, name in enumerate(NAMES)}
    budget = max(420, 3 * sum(EXPECTED_SECONDS.values()) // LANES)  # three times what they take headless
    tabs = _run_tabs(context, urls, budget, when_done=lambda tab: _move_sliders(tab, screenshots),
                     when_all_started=students.open)
    yield tabs
    for tab in tabs.values():
        tab.page.close()


_OPEN_ALL = """async (paths) => { const app = window.jupyterapp;
  for (const path of paths) { await app.commands.execute('docmanager:open', {path}); } }"""
_STUDENTS_IDLE = """(paths) => { const app = window.jupyterapp;
  const panels = [...app.shell.widgets('main')].filter(w => paths.includes(w.context && w.context.path));
  return panels.length === paths.length && panels.every(w => w.sessionContext.session && w.sessionContext.session.kernel
    && w.sessionContext.session.kernel.status === 'idle' && w.content.widgets.length); }"""
_RUN_EACH = """async (paths) => { const app = window.jupyterapp;
  const sleep = ms => new Promise(r => setTimeout(r, ms));
  for (const w of [...app.shell.widgets('main')].filter(w => paths.includes(w.context && w.context.path))) {
    app.shell.activateById(w.id);  // Run All acts on the current notebook
    for (let i = 0; i < 100 && app.shell.currentWidget !== w; i++) await sleep(50);
    app.commands.execute('notebook:run-all-cells');  // not awaited: the notebooks run side by side
    await sleep(200); } }"""
_STUDENTS_DONE = """(paths) => [...window.jupyterapp.shell.widgets('main')]
  .filter(w => paths.includes(w.context && w.context.path))
  .every(w => { const first = w.content.widgets.find(c => (c.model.getMetadata('nbgrader') || {}).grade);
    return w.sessionContext.session.kernel.status === 'idle'
      && ![...w.node.querySelectorAll('.jp-InputArea-prompt')].some(e => e.textContent.includes('*'))
      && first.model.outputs.length > 0; })"""
_FIRST_CHECK_OF = """(path) => { const w = [...window.jupyterapp.shell.widgets('main')].find(w => w.context.path === path);
  for (const c of w.content.widgets) { const m = c.model.getMetadata('nbgrader'); if (m && m.grade) {
    const out = c.node.querySelector('.jp-OutputArea'); return out ? out.innerText : ''; } } return null; }"""


class Students:
    """All student notebooks in one JupyterLab tab, run side by side; Notebook 7 in a tab of its own.

    ``open()`` loads them and starts their kernels; the solution lanes call it once their last notebook has
    started, so the pages load while the CPU would otherwise wait for the last lane."""

    def __init__(self, context, lab: str):
        self.context, self.lab, self.page, self.seven = context, lab, None, None
        self.paths = [f"notebooks/{name}" for name in NAMES]

    def open(self) -> None:
        if self.page is not None:
            return
        # its own copy: two frontends on one path share one kernel, and one's error would abort the other's cells
        self.seven = Tab(self.context, f"{self.lab}/notebooks/notebook7/{NAMES[1]}")
        self.page = self.context.new_page()
        self.page.goto(f"{self.lab}/lab/workspaces/students/tree/{self.paths[0]}?reset")
        self.page.wait_for_function(_KERNEL_IDLE, timeout=120_000, polling=250)
        self.page.evaluate(_OPEN_ALL, self.paths[1:])

    def run(self) -> dict:
        self.open()
        page, seven, paths = self.page, self.seven, self.paths
        page.wait_for_function(_STUDENTS_IDLE, arg=paths, timeout=120_000, polling=250)
        dialogs = page.locator(".jp-Dialog").count()
        seven.start()
        page.evaluate(_RUN_EACH, paths)
        time.sleep(0.5)
        page.wait_for_function(_STUDENTS_DONE, arg=paths, timeout=240_000, polling=500)
        seven.wait(240)  # each notebook stops at its first error: the first check
        found = {name: (dialogs, page.evaluate(_FIRST_CHECK_OF, path)) for name, path in zip(NAMES, paths)}
        found["notebook 7"] = (seven.dialogs, seven.page.evaluate(_FIRST_CHECK_OUTPUT))
        return found

    def close(self) -> None:
        for page in (self.page, self.seven and self.seven.page):
            if page is not None:
                page.close()


@pytest.fixture(scope="module")
def students(context, lab):
    students = Students(context, lab)
    yield students
    students.close()


@pytest.fixture(scope="module")
def student_tabs(students):
    return students.run(), students.page, students.seven.page


def _grade_ids(path) -> list[str]:
    nb = nbformat.read(path, as_version=4)
    return [c.metadata.nbgrader["grade_id"] for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]


@pytest.mark.parametrize("name", NAMES)
def test_a_solution_notebook_runs_in_jupyterlab_and_its_explorers_answer(name, solution_tabs):
    tab = solution_tabs[name]
    page, panel = tab.page, tab.panel
    assert tab.dialogs == 0
    errors = page.locator(f"{panel} [data-mime-type='application/vnd.jupyter.stderr']")
    assert errors.count() == 0, errors.first.inner_text()[:2000]
    outputs = page.locator(f"{panel} .jp-OutputArea-output").all_inner_texts()
    # the notebook ran with its seeds shifted (conftest.SEED_OFFSET) and the claims as a learner has them: a note
    notes = [t for t in outputs if any(p in t for p in note_prefixes())]  # means a lesson rests on the reference run's seeds
    assert not notes, notes[0][:1000]
    for grade_id in _grade_ids(SOLUTIONS / name):
        assert any(t.startswith(f"✓ {grade_id.removesuffix('_test')}: ") for t in outputs), grade_id
    widths = page.evaluate(f"[...document.querySelectorAll('{panel} img')].map(i => i.complete ? i.naturalWidth : 0)")
    assert widths and all(w > 0 for w in widths), widths
    assert "Error displaying widget" not in page.locator(panel).inner_text()

    uses_explorers = any("Explorer(" in c.source for c in nbformat.read(SOLUTIONS / name, as_version=4).cells)
    assert tab.explorers >= uses_explorers, "the notebook builds an explorer, and none is in the page"
    # the explorers were moved as soon as the notebook had run (_move_sliders), while the other lane ran
    assert not tab.frozen, f"these explorers did not redraw their figure when a slider moved: {tab.frozen}"


def test_the_explorers_are_in_the_notebooks_the_browser_runs():
    using = [name for name in NAMES if any("Explorer(" in c.source for c in
                                           nbformat.read(SOLUTIONS / name, as_version=4).cells if c.cell_type == "code")]
    assert len(using) >= 3, using  # the test above moves a slider in each of their explorers


def _check_not_attempted(found, name: str) -> None:
    dialogs, text = found
    assert dialogs == 0
    first = _grade_ids(NOTEBOOKS / name)[0].removesuffix("_test")
    assert text is not None and text.startswith(f"NotAttemptedError: {first} is not attempted yet"), text
    assert "_core.py" not in text and "Traceback" not in text


@pytest.mark.parametrize("name", NAMES)
def test_a_student_notebook_opens_and_its_first_check_says_not_attempted(name, student_tabs, screenshots):
    found, page, _ = student_tabs
    _check_not_attempted(found[name], name)
    if name == NAMES[-1]:
        page.screenshot(path=str(screenshots / "students-in-one-lab.png"))


def test_a_student_notebook_in_notebook_7(student_tabs, screenshots):
    found, _, page = student_tabs
    _check_not_attempted(found["notebook 7"], NAMES[1])
    page.screenshot(path=str(screenshots / f"notebook7-{NAMES[1]}.png"))
