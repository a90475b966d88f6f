"""The class report: what a class got right and wrong, for the instructor's next lesson.

:func:`render` makes one self-contained HTML page (figures made with matplotlib, embedded as PNG; no
script, nothing fetched) from the graded submissions of a run: what was in force; per notebook, the
score distribution; per check, the share of the class that passed, failed, timed out or did not attempt
it, and the known mistakes the failures matched, most common first ("gd_step: 12 of 40 added the
gradient instead of subtracting it"); and the slowest submissions. ``lrcourse report grades.json -o
report.html`` rebuilds it from a saved JSON.
"""
from __future__ import annotations

import base64
import html
import io
import statistics
from collections import Counter
from pathlib import Path

from ...i18n import gettext_ as _, using
from ..results import GradeResult
from .feedback import STATUS_TEXT  # how each status reads, as on the feedback pages

__all__ = ["render", "summary"]

_STATUSES = ("passed", "failed", "not attempted", "carried forward", "timed out", "kernel died", "voided")
_COLORS = {"passed": "#2e9e4f", "failed": "#d64541", "not attempted": "#e0a526", "carried forward": "#8fbf8f",
           "timed out": "#7b5ea7", "kernel died": "#555555", "voided": "#999999"}
#: The columns of the table of checks.
_SHOWN = ("passed", "failed", "not attempted", "carried forward", "timed out")

_STYLE = """
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:1000px;margin:2em auto;
padding:0 1em;color:#1d1d1f} h1{font-size:1.6em} h2{margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.6em 0 1.2em} th,td{border-bottom:1px solid #e5e5e5;padding:.3em .6em;
text-align:left;vertical-align:top} td.n{text-align:right;font-variant-numeric:tabular-nums}
.mistake{margin:.2em 0} img{max-width:100%} .muted{color:#666}
"""


def summary(results: list[GradeResult]) -> dict:
    """The numbers behind the report: per notebook and per check (also what the tests hold)."""
    notebooks: dict[str, dict] = {}
    for r in results:
        if not r.release:
            continue
        nb = notebooks.setdefault(r.release, {"scores": [], "max": r.max_total, "checks": {}})
        nb["scores"].append(r.total)
        for c in r.checks:
            check = nb["checks"].setdefault(c.grade_id, {"exercise": c.exercise, "statuses": Counter(),
                                                         "mistakes": Counter(), "n": 0})
            check["n"] += 1
            check["statuses"][c.status] += 1
            if c.mistake:
                check["mistakes"][c.mistake] += 1
    return notebooks


def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return f'<img alt="figure" src="data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}">'


def _histogram(name: str, scores: list[float], top: float) -> str:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 2.6))
    bins = [x - 0.5 for x in range(int(top) + 2)] if top <= 30 else 20
    ax.hist(scores, bins=bins, color="#3b6ea8", edgecolor="white")
    ax.set_xlabel(_("score"))
    ax.set_ylabel(_("submissions"))
    ax.set_title(_("{notebook}: scores of {count} submissions (out of {top})").format(
        notebook=name, count=len(scores), top=f"{top:g}"))
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)


def _shares(name: str, checks: dict) -> str:
    import matplotlib.pyplot as plt

    ids = list(checks)
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(ids) + 1.0))
    left = [0.0] * len(ids)
    for status in _STATUSES:
        values = [checks[g]["statuses"].get(status, 0) / checks[g]["n"] for g in ids]
        if any(values):
            ax.barh(ids, values, left=left, color=_COLORS[status], label=_(STATUS_TEXT[status]))
            left = [a + b for a, b in zip(left, values, strict=True)]
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel(_("share of the class"))
    ax.set_title(_("{notebook}: each check").format(notebook=name))
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.08), ncol=4, frameon=False, fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)


def render(results: list[GradeResult], run: dict | None = None, slowest: int = 10, lang: str = "en") -> str:
    """The class report as one HTML page, in ``lang`` (the catalogs of the checks' messages)."""
    with using(lang):
        return _render(results, run or {}, slowest, lang)


def _render(results: list[GradeResult], run: dict, slowest: int, lang: str) -> str:
    e = html.escape
    title = e(_("Class report"))
    parts = [f"<!DOCTYPE html>\n<html lang=\"{lang}\"><head><meta charset=\"utf-8\"><title>{title}</title>"
             f"<style>{_STYLE}</style></head><body><h1>{title}</h1>",
             "<p>" + e(_("{count} submissions; {errors} could not be graded; {duplicates} are a student's second "
                         "submission of a notebook; {flagged} carry integrity flags.").format(
                 count=len(results), errors=sum(1 for r in results if r.error),
                 duplicates=sum(1 for r in results if r.duplicate),
                 flagged=sum(1 for r in results if r.integrity))) + "</p>"]
    force = run.get("in force") or {}
    if force or run.get("seed") is not None or "hidden" in run:
        rows = "".join(f"<tr><th>{e(str(k))}</th><td>{e(', '.join(v) if isinstance(v, list) else str(v))}</td></tr>"
                       for k, v in force.items() if v not in ([], None))
        seed = run.get("seed")
        hidden = (_("seed {seed} (--seed {seed} repeats the run)").format(seed=seed) if seed is not None
                  else _("off (--no-hidden): only the cases the notebooks show") if run.get("hidden") is False
                  else _("none"))
        rows += f"<tr><th>{e(_('hidden cases'))}</th><td>{e(hidden)}</td></tr>"
        if "carry forward" in run:
            carry = (_("yes: such checks earn their points") if run["carry forward"]
                     else _("no (--no-carry-forward): such checks are charged"))
            rows += f"<tr><th>{e(_('errors carried forward'))}</th><td>{e(carry)}</td></tr>"
        parts.append(f"<h2>{e(_('What was in force'))}</h2><table>{rows}</table>")
    for name, nb in summary(results).items():
        scores = nb["scores"]
        median = statistics.median(scores)
        parts.append(f"<h2>{e(name)}</h2><p>" + e(_(
            "{count} submissions; mean {mean}, median {median} of {top}; {full} full marks.").format(
            count=len(scores), mean=f"{sum(scores) / len(scores):.2f}", median=f"{median:g}", top=f"{nb['max']:g}",
            full=sum(1 for s in scores if s == nb["max"]))) + "</p>")
        parts.append(_histogram(name, scores, nb["max"]))
        parts.append(_shares(name, nb["checks"]))
        rows = []
        for gid, check in nb["checks"].items():
            counts = "".join(f'<td class="n">{check["statuses"].get(s, 0)}</td>' for s in _SHOWN)
            mistakes = "".join(
                '<div class="mistake">' + e(_("{count} of {total}: {mistake}").format(
                    count=count, total=check["n"], mistake=_(text))) + "</div>"
                for text, count in check["mistakes"].most_common(3)) or \
                f'<span class="muted">{e(_("none matched"))}</span>'
            rows.append(f"<tr><td>{e(gid)}</td>{counts}<td>{mistakes}</td></tr>")
        head = "".join(f"<th>{e(_(STATUS_TEXT[s]))}</th>" for s in _SHOWN)
        parts.append(f"<h3>{e(_('Checks and the most common known mistakes'))}</h3><table><tr><th>{e(_('check'))}</th>"
                     f"{head}<th>{e(_('most common known mistakes'))}</th></tr>{''.join(rows)}</table>")
        carried = sum(check["statuses"].get("carried forward", 0) for check in nb["checks"].values())
        if carried:
            text = (_("1 check failed only because the same student's answer to an earlier exercise fails its "
                      "own check: it is carried forward, and the mistake is counted once, at that earlier check.")
                    if carried == 1 else
                    _("{count} checks failed only because the same student's answer to an earlier exercise fails "
                      "its own check: they are carried forward, and the mistake is counted once, at that earlier "
                      "check.").format(count=carried))
            parts.append(f"<p>{e(text)}</p>")
    timed = sorted((r for r in results if r.seconds), key=lambda r: r.seconds, reverse=True)[:slowest]
    if timed:
        rows = "".join(f"<tr><td>{e(r.student or r.path.stem)}</td><td>{e(Path(r.release).stem if r.release else '')}"
                       f"</td><td class=\"n\">{r.seconds:.1f} s</td></tr>" for r in timed)
        parts.append(f"<h2>{e(_('Slowest submissions'))}</h2><table><tr><th>{e(_('student'))}</th>"
                     f"<th>{e(_('notebook'))}</th><th>{e(_('seconds'))}</th></tr>{rows}</table>")
    parts.append("</body></html>\n")
    return "".join(parts)
