"""The notebooks' LaTeX as MathML in the offline feedback pages: rendered by the browser, with no script.

Every current browser renders MathML Core, so a page that carries its formulas as ``<math>`` elements shows
them without MathJax or KaTeX (either would need a script or fetched fonts). :func:`markdown_with_math`
takes a markdown cell's source: ``$...$`` (inline) and ``$$...$$`` (display) outside code spans and code
blocks are converted by ``latex2mathml`` (an instructor extra: ``pip install lrcourse[instructor]``), the rest
by the markdown renderer it is given. A formula the converter cannot convert, or whose MathML holds anything
but MathML's presentation elements and plain attributes (a student's markdown is untrusted), stays as its
source in a ``<code class="tex">`` element: readable, and never breaks the page. Without ``latex2mathml``
every formula does.
"""
from __future__ import annotations

import html
import re
import secrets
from html.parser import HTMLParser
from typing import Callable

__all__ = ["to_mathml", "markdown_with_math", "available"]

try:
    from latex2mathml.converter import convert as _convert
except ImportError:  # pragma: no cover - the page still works: formulas stay as source
    _convert = None

#: Code blocks and code spans: a dollar sign in them is code, not math.
_CODE = re.compile(r"^(`{3,}|~{3,}).*?^\1[ \t]*$|`[^`\n]+`", re.S | re.M)
#: $$...$$ (over lines), then $...$ (one line, not "$ 5" or "5$", not an escaped \$).
_MATH = re.compile(r"\$\$(.+?)\$\$|(?<![\\$])\$(?![\s$])([^$\n]+?)(?<![\s\\])\$(?!\d)", re.S)

#: MathML presentation elements and the attributes latex2mathml writes: nothing else may reach the page.
_TAGS = {"math", "mrow", "mi", "mn", "mo", "ms", "mtext", "mspace", "msub", "msup", "msubsup", "mfrac", "msqrt",
         "mroot", "mover", "munder", "munderover", "mtable", "mtr", "mtd", "mstyle", "mpadded", "mphantom",
         "menclose", "merror", "semantics", "annotation", "mmultiscripts", "mprescripts", "none", "mlabeledtr",
         "maligngroup", "malignmark"}
_ATTRIBUTES = {"xmlns", "display", "mathvariant", "stretchy", "fence", "separator", "lspace", "rspace", "width",
               "height", "depth", "linethickness", "columnalign", "rowalign", "columnspacing", "rowspacing",
               "columnlines", "rowlines", "frame", "framespacing", "displaystyle", "scriptlevel", "minsize",
               "maxsize", "movablelimits", "accent", "accentunder", "notation", "form", "largeop", "symmetric",
               "encoding", "class", "align", "equalrows", "equalcolumns"}


class _Allowed(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ok = True

    def handle_starttag(self, tag, attrs):
        if tag not in _TAGS or any(name not in _ATTRIBUTES or (value or "").lower().lstrip().startswith(
                ("javascript:", "data:")) for name, value in attrs):
            self.ok = False

    handle_startendtag = handle_starttag

    def handle_endtag(self, tag):
        if tag not in _TAGS:
            self.ok = False

    def handle_comment(self, data):
        self.ok = False

    def handle_decl(self, decl):
        self.ok = False

    def handle_pi(self, data):
        self.ok = False


def available() -> bool:
    """Whether formulas are converted (``latex2mathml`` is installed)."""
    return _convert is not None


def _source(tex: str, display: bool) -> str:
    text = f"$${tex}$$" if display else f"${tex}$"
    return f'<code class="tex">{html.escape(text)}</code>'


def to_mathml(tex: str, display: bool = False) -> str:
    """``tex`` as a ``<math>`` element (``display="block"`` for display math), or its source in ``<code>``."""
    if _convert is None or not tex.strip():
        return _source(tex, display)
    try:
        out = _convert(tex.strip(), display="block" if display else "inline")
    except Exception:  # noqa: BLE001 - a formula the converter does not know stays readable as source
        return _source(tex, display)
    checker = _Allowed()
    try:
        checker.feed(out)
        checker.close()
    except Exception:  # noqa: BLE001
        return _source(tex, display)
    unknown = re.search(r">\\[A-Za-z]", out)  # a command the converter passed through as text (\foo)
    return out if checker.ok and out.startswith("<math") and not unknown else _source(tex, display)


def markdown_with_math(source: str, render: Callable[[str], str]) -> str:
    """``render`` (markdown to HTML) of ``source``, its formulas converted by :func:`to_mathml`."""
    formulas: list[str] = []
    mark = f"LRCOURSEMATH{secrets.token_hex(6)}N"  # letters and digits only: markdown leaves them alone

    def keep(match: re.Match) -> str:
        display = match.group(1) is not None
        formulas.append(to_mathml(match.group(1) if display else match.group(2), display))
        return f"{mark}{len(formulas) - 1}X"

    pieces, last = [], 0
    for code in _CODE.finditer(source):  # math only outside code
        pieces.append(_MATH.sub(keep, source[last:code.start()]))
        pieces.append(code.group(0))
        last = code.end()
    pieces.append(_MATH.sub(keep, source[last:]))
    out = render("".join(pieces))
    return re.sub(rf"{mark}(\d+)X", lambda m: formulas[int(m.group(1))], out)
