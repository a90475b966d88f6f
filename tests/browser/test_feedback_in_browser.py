"""A feedback page's formulas as a browser shows them: MathML laid out (a fraction stacked), no script (issue 37)."""
from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from lrcourse.grading.reports import feedback
from lrcourse.grading.results import GradeResult

ROOT = Path(__file__).resolve().parents[2]
_LAYOUT = """() => {
  const maths = [...document.querySelectorAll('math')];
  const frac = document.querySelector('mfrac');
  const [num, den] = frac ? [...frac.children].map(e => e.getBoundingClientRect()) : [null, null];
  return {count: maths.length, scripts: document.querySelectorAll('script').length,
          laidOut: maths.filter(m => { const r = m.getBoundingClientRect(); return r.width > 0 && r.height > 0; }).length,
          stacked: !!(num && den && num.bottom <= den.top + 1), mathml: typeof MathMLElement !== 'undefined'
            && maths.every(m => m instanceof MathMLElement)};
}"""


def test_a_feedback_page_shows_its_formulas_as_mathml(browser, tmp_path, screenshots):
    pytest.importorskip("latex2mathml")
    nb = nbformat.read(ROOT / "solutions" / "01_gradient_descent.ipynb", as_version=4)
    page_path = tmp_path / "alice__01_gradient_descent.html"
    page_path.write_text(feedback.render(GradeResult(path=Path("alice.ipynb"), release="01_gradient_descent.ipynb",
                                                     notebook=nb)), encoding="utf-8")
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    try:
        page.goto(page_path.as_uri())
        found = page.evaluate(_LAYOUT)
        page.locator("mfrac").first.scroll_into_view_if_needed()  # a display formula with a fraction
        page.screenshot(path=str(screenshots / "feedback-math.png"))
    finally:
        page.close()
    assert found["count"] > 10 and found["scripts"] == 0
    assert found["mathml"] and found["laidOut"] == found["count"], found
    assert found["stacked"], "a fraction's numerator is not above its denominator: the MathML was not rendered"
