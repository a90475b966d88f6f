"""Feedback for one student: a self-contained HTML file of the graded notebook.

:func:`render` gives one page: the score table at the top (each check, its points, its status and its
message), then the notebook as it ran when graded, with each check's message at its cell and the hint
pointer. It works offline: styles inline, images embedded as data URIs, formulas as MathML (:mod:`.mathml`), no
script and nothing fetched.
It shows what the student wrote and the released cells, never the checks' reference code, and a hidden
case's message names its input, never its expected value (:mod:`lrcourse.exercises._core`).

Output that a submission made as HTML (``text/html``) is shown as its plain-text form: a submission must
not run script in the page its instructor opens. :func:`write_all` writes one file per submission into
a folder and touches nothing else there but its own earlier files.
"""
from __future__ import annotations

import functools
import html
import re
from pathlib import Path

from ...i18n import LANGUAGES, N_, gettext_ as _, using
from .. import messages
from ..results import GradeResult, load_notebook
from . import mathml

__all__ = ["render", "write_all", "file_name"]

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
#: Marks the files this command writes, so that a rerun replaces them and nothing else.
MARK = "<!-- lrcourse feedback -->"

_STYLE = """
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:980px;margin:2em auto;
padding:0 1em;color:#1d1d1f}
h1{font-size:1.5em;margin-bottom:.2em} .sub{color:#555;margin-top:0}
table.scores{border-collapse:collapse;width:100%;margin:1em 0 2em}
table.scores th,table.scores td{border-bottom:1px solid #ddd;padding:.35em .5em;text-align:left;vertical-align:top}
table.scores td.pts{white-space:nowrap;font-variant-numeric:tabular-nums}
.passed{color:#1a7f37} .failed,.kernel-died,.voided,.timed-out{color:#b42318} .not-attempted{color:#8a6100}
.cell{margin:.8em 0} .md{padding:0 .2em}
pre{background:#f6f8fa;border:1px solid #e5e7eb;border-radius:4px;padding:.6em;overflow-x:auto;
white-space:pre-wrap;font:13px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;margin:.3em 0}
pre.out{background:#fff} pre.err{background:#fff5f5;border-color:#f4c7c3}
.check{border-left:4px solid #b42318;background:#fff8f7;padding:.5em .8em;margin:.4em 0}
.check.passed{border-color:#1a7f37;background:#f3fbf5}
.check.not-attempted{border-color:#8a6100;background:#fffaf0}
.carried-forward{color:#8a6100} .check.carried-forward{border-color:#8a6100;background:#fffaf0}
img{max-width:100%}
"""


def file_name(result: GradeResult) -> str:
    """``<student>__<assignment>.html`` (made safe for a file name), or the submission's path when unknown."""
    who = result.student or result.path.stem
    what = Path(result.release).stem if result.release else result.path.stem
    raw = f"{who}__{what}" if who != what else who
    if result.duplicate:
        raw += "__" + (result.relative or str(result.path)).replace("/", "_").removesuffix(".ipynb")
    return re.sub(r"[^A-Za-z0-9._-]+", "_", raw).strip("._") + ".html"


try:  # mistune comes with nbconvert (JupyterLab); raw HTML in a student's markdown is escaped
    import mistune

    _MD = mistune.create_markdown(escape=True, plugins=["table", "strikethrough"])
except (ImportError, AttributeError):  # pragma: no cover
    _MD = None


@functools.lru_cache(maxsize=8192)
def _markdown(source: str) -> str:
    """A markdown cell as HTML, its formulas as MathML (:mod:`.mathml`: no script, nothing fetched).

    Cached: a class's pages repeat the released cells, and converting them is nearly all of a page's time
    (a class of 7,000 submissions: 60 ms a page without, a few with)."""
    if _MD is None:
        return f"<pre>{html.escape(source)}</pre>"
    return mathml.markdown_with_math(source, _MD)


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def _output(out: dict) -> str:
    kind = out.get("output_type")
    if kind == "stream":
        klass = "err" if out.get("name") == "stderr" else "out"
        return f'<pre class="{klass}">{html.escape(_ANSI.sub("", _text(out.get("text", ""))))}</pre>'
    if kind == "error":
        text = "\n".join(_ANSI.sub("", line) for line in out.get("traceback", [])) or \
            f"{out.get('ename', 'Error')}: {out.get('evalue', '')}"
        return f'<pre class="err">{html.escape(text)}</pre>'
    data = out.get("data", {})
    for mime in ("image/png", "image/jpeg"):
        if mime in data:
            payload = re.sub(r"\s+", "", _text(data[mime]))
            return f'<img alt="figure" src="data:{mime};base64,{html.escape(payload)}">'
    if "image/svg+xml" in data:  # as an image (an <img> runs no script), never inline
        import base64

        svg = base64.b64encode(_text(data["image/svg+xml"]).encode()).decode()
        return f'<img alt="figure" src="data:image/svg+xml;base64,{svg}">'
    if "text/plain" in data:
        return f'<pre class="out">{html.escape(_ANSI.sub("", _text(data["text/plain"])))}</pre>'
    return ""


def _status_class(status: str) -> str:
    return status.replace(" ", "-")


#: How each check status reads on a feedback page.
STATUS_TEXT = {"passed": N_("passed"), "failed": N_("failed"), "not attempted": N_("not attempted"),
           "timed out": N_("timed out"), "kernel died": N_("kernel died"), "voided": N_("voided"),
           "carried forward": N_("carried forward")}


def _message(check) -> str:
    """A check's message, led by where its mistake is when it was carried forward from an earlier check."""
    message = messages.localized(check.message) or ""  # the grader's own words, in the page's language
    if not check.carried_from:
        return message
    where = _("Your mistake is in {check}: this check fails only because of it, and is not charged for it "
              "twice.").format(check=check.carried_from)
    return f"{where} {message}".strip()


def language(result: GradeResult) -> str:
    """The language of the submission's edition: its release's folder (``vi/...``), else English."""
    head = (result.release or "").split("/")[0]
    return head if "/" in (result.release or "") and head in LANGUAGES else "en"


def render(result: GradeResult) -> str:
    """The feedback page of one graded submission (its notebook, if kept, below the score table), in the
    language of the submission's edition (the checks' messages are already in it: the kernel wrote them)."""
    lang = language(result)
    with using(lang):
        return _render(result, lang)


def _render(result: GradeResult, lang: str) -> str:
    who = html.escape(result.student or result.path.stem)
    what = html.escape(Path(result.release).stem if result.release else result.path.name)
    rows = []
    for c in result.checks:
        rows.append(f'<tr><td>{html.escape(c.grade_id)}</td><td class="pts">{c.points:g} / {c.max_points:g}</td>'
                    f'<td class="{_status_class(c.status)}">{html.escape(_(STATUS_TEXT.get(c.status, c.status)))}</td>'
                    f'<td>{html.escape(_message(c))}</td></tr>')
    notes = []
    if result.error:
        notes.append(f"<p class=\"failed\"><b>{html.escape(_('Not graded:'))}</b> "
                     f"{html.escape(messages.localized(result.error))}</p>")
    if result.duplicate:
        notes.append(f"<p>{html.escape(_('Another submission of yours for this notebook was graded too.'))}</p>")
    score = html.escape(_("score"))
    parts = [f"<!DOCTYPE html>\n{MARK}\n<html lang=\"{lang}\"><head><meta charset=\"utf-8\">"
             f"<title>{who}: {what}</title><style>{_STYLE}</style></head><body>",
             f"<h1>{what}</h1><p class=\"sub\">{who} · {score} <b>{result.total:g} / {result.max_total:g}</b></p>",
             *notes]
    if rows:
        head = "".join(f"<th>{html.escape(_(h))}</th>" for h in (N_("check"), N_("points"), N_("status"), N_("message")))
        parts.append(f'<table class="scores"><tr>{head}</tr>' + "".join(rows) + "</table>")
    by_id = {c.grade_id: c for c in result.checks}
    nb = result.notebook
    for cell in (nb.cells if nb is not None else []):
        gid = ((cell.get("metadata") or {}).get("nbgrader") or {}).get("grade_id")
        if cell.get("cell_type") == "markdown":
            parts.append(f'<div class="cell md">{_markdown(cell.get("source", ""))}</div>')
            continue
        if cell.get("cell_type") != "code":
            continue
        outputs = "".join(_output(o) for o in cell.get("outputs", []))
        parts.append(f'<div class="cell"><pre>{html.escape(cell.get("source", ""))}</pre>{outputs}')
        check = by_id.get(gid) if gid else None
        if check is not None:
            head = f"{check.grade_id}: {check.points:g} / {check.max_points:g}, {_(STATUS_TEXT.get(check.status, check.status))}"
            body = f"<br>{html.escape(_message(check))}" if check.message or check.carried_from else ""
            parts.append(f'<div class="check {_status_class(check.status)}"><b>{html.escape(head)}</b>{body}</div>')
        parts.append("</div>")
    parts.append("</body></html>\n")
    return "".join(parts)


def write_all(results: list[GradeResult], folder: str | Path) -> list[Path]:
    """One feedback file per submission in ``folder``; files there that this command did not write stay.

    A file of the same name that is not a feedback file of ours is not overwritten: ours gets a suffix.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for result in results:
        target = folder / file_name(result)
        n = 1
        while target.exists() and not _ours(target):
            n += 1
            target = folder / f"{Path(file_name(result)).stem}-{n}.html"
        kept = result.notebook
        if kept is None and result.notebook_file is not None:   # read from its file for this page only
            result.notebook = load_notebook(result)
        try:
            target.write_text(render(result), encoding="utf-8")
        finally:
            result.notebook = kept
        written.append(target)
    return written


def _ours(path: Path) -> bool:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return MARK in f.read(200)
    except OSError:
        return False
