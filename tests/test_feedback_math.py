"""The notebooks' formulas in the offline feedback pages: MathML, no script, a readable fallback (issue 37).

Every formula of all fourteen notebooks (both editions of solutions/) converts; a formula the converter cannot
convert, or whose MathML would carry anything but MathML, stays as its source in <code>; dollars in code stay
code; the page never gets a script. (tests/browser/test_feedback_in_browser.py shows the math rendered.)
"""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from _course import ROOT
from lrcourse.grading.reports import feedback, mathml
from lrcourse.grading.results import GradeResult

pytest.importorskip("latex2mathml", reason="the instructor extra: pip install -e '.[test]'")
PATHS = sorted((ROOT / "solutions").glob("*.ipynb")) + sorted((ROOT / "solutions" / "vi").glob("*.ipynb"))


def _page(nb) -> str:
    return feedback.render(GradeResult(path=Path("alice.ipynb"), release="01_gradient_descent.ipynb", notebook=nb))


def test_all_fourteen_notebooks_are_there():
    assert len(PATHS) == 14


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_formula_of_the_notebook_becomes_mathml_and_the_page_has_no_script(path):
    nb = nbformat.read(path, as_version=4)
    page = _page(nb)
    sources = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    formulas = len(re.findall(r"\$\$.+?\$\$", sources, re.S)) + len(re.findall(
        r"(?<![\\$])\$(?![\s$])[^$\n]+?(?<![\s\\])\$(?!\d)", re.sub(r"\$\$.+?\$\$|`[^`\n]+`", "", sources, flags=re.S)))
    assert formulas > 5
    assert page.count("<math ") == formulas, "a formula was left as source"
    assert 'class="tex"' not in page
    assert "<script" not in page.lower() and "$$" not in re.sub(r"<pre>.*?</pre>", "", page, flags=re.S)


def test_display_and_inline_math_and_code_that_holds_dollars():
    out = mathml.markdown_with_math(r"costs $5, and $a_1 = 2/L$ then `x = $y$` and" "\n\n$$\\frac{1}{2}$$",
                                    feedback._MD)
    assert 'display="inline"' in out and 'display="block"' in out and "<mfrac>" in out
    assert "costs $5" in out and "<code>x = $y$</code>" in out
    assert "<msub><mi>a</mi><mn>1</mn></msub>" in out  # the underscore is not markdown's emphasis


@pytest.mark.parametrize("tex", [r"\href{javascript:alert(1)}{x}", r"\unknowncommand{x}", r"\frac{1}{"],
                         ids=["a link", "an unknown command", "unbalanced"])
def test_a_formula_that_cannot_be_shown_safely_stays_readable_source(tex):
    out = mathml.to_mathml(tex)
    assert out == f'<code class="tex">${tex.replace("&", "&amp;").replace("<", "&lt;")}$</code>', out


def test_markup_inside_a_formula_is_text_never_an_element():
    out = mathml.markdown_with_math("$<script>alert(1)</script>$ and $<img src=x onerror=alert(1)>$", feedback._MD)
    assert "<script" not in out and "<img" not in out


def test_the_mathml_allowlist_refuses_what_mathml_does_not_need():
    for bad in ('<math><mi onclick="x">a</mi></math>', '<math><a href="https://x">a</a></math>',
                '<math><mi>a</mi><!-- c --></math>', '<math><mstyle mathvariant="javascript:x"/></math>'):
        checker = mathml._Allowed()
        checker.feed(bad)
        assert not checker.ok, bad
    checker = mathml._Allowed()
    checker.feed(mathml.to_mathml(r"\sqrt{x^2 + 1} \le \sum_{i=1}^n \frac{a_i}{2}", display=True))
    assert checker.ok


def test_without_the_converter_every_formula_stays_source_and_the_page_works(monkeypatch):
    monkeypatch.setattr(mathml, "_convert", None)
    assert not mathml.available()
    out = mathml.markdown_with_math(r"stable for $0 < \eta < 2/L$", feedback._MD)
    assert '<code class="tex">$0 &lt; \\eta &lt; 2/L$</code>' in out
