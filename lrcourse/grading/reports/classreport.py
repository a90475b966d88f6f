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

from ..results import GradeResult

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
    ax.set_xlabel("score")
    ax.set_ylabel("submissions")
    ax.set_title(f"{name}: scores of {len(scores)} submissions (out of {top:g})")
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
            ax.barh(ids, values, left=left, color=_COLORS[status], label=status)
            left = [a + b for a, b in zip(left, values, strict=True)]
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of the class")
    ax.set_title(f"{name}: each check")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.08), ncol=4, frameon=False, fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)


def render(results: list[GradeResult], run: dict | None = None, slowest: int = 10) -> str:
    """The class report as one HTML page."""
    run = run or {}
    e = html.escape
    parts = ["<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Class report</title>"
             f"<style>{_STYLE}</style></head><body><h1>Class report</h1>",
             f"<p>{len(results)} submissions; "
             f"{sum(1 for r in results if r.error)} could not be graded; "
             f"{sum(1 for r in results if r.duplicate)} are a student's second submission of a notebook; "
             f"{sum(1 for r in results if r.integrity)} carry integrity flags.</p>"]
    force = run.get("in force") or {}
    if force or run.get("seed") is not None or "hidden" in run:
        rows = "".join(f"<tr><th>{e(str(k))}</th><td>{e(', '.join(v) if isinstance(v, list) else str(v))}</td></tr>"
                       for k, v in force.items() if v not in ([], None))
        seed = run.get("seed")
        hidden = (f"seed {seed} (--seed {seed} repeats the run)" if seed is not None
                  else "off (--no-hidden): only the cases the notebooks show" if run.get("hidden") is False
                  else "none")
        rows += f"<tr><th>hidden cases</th><td>{e(hidden)}</td></tr>"
        if "carry forward" in run:
            carry = ("yes: such checks earn their points" if run["carry forward"]
                     else "no (--no-carry-forward): such checks are charged")
            rows += f"<tr><th>errors carried forward</th><td>{carry}</td></tr>"
        parts.append(f"<h2>What was in force</h2><table>{rows}</table>")
    for name, nb in summary(results).items():
        scores = nb["scores"]
        median = statistics.median(scores)
        parts.append(f"<h2>{e(name)}</h2><p>{len(scores)} submissions; mean {sum(scores) / len(scores):.2f}, "
                     f"median {median:g} of {nb['max']:g}; {sum(1 for s in scores if s == nb['max'])} full marks.</p>")
        parts.append(_histogram(name, scores, nb["max"]))
        parts.append(_shares(name, nb["checks"]))
        rows = []
        for gid, check in nb["checks"].items():
            counts = "".join(f'<td class="n">{check["statuses"].get(s, 0)}</td>' for s in _SHOWN)
            mistakes = "".join(
                f'<div class="mistake">{count} of {check["n"]}: {e(text)}</div>'
                for text, count in check["mistakes"].most_common(3)) or '<span class="muted">none matched</span>'
            rows.append(f"<tr><td>{e(gid)}</td>{counts}<td>{mistakes}</td></tr>")
        head = "".join(f"<th>{s}</th>" for s in _SHOWN)
        parts.append(f"<h3>Checks and the most common known mistakes</h3><table><tr><th>check</th>{head}"
                     f"<th>most common known mistakes</th></tr>{''.join(rows)}</table>")
        carried = sum(check["statuses"].get("carried forward", 0) for check in nb["checks"].values())
        if carried:
            parts.append(f"<p>{carried} check{'s' if carried != 1 else ''} failed only because the same student's "
                         f"answer to an earlier exercise fails its own check: they are <i>carried forward</i>, "
                         f"and the mistake is counted once, at that earlier check.</p>")
    timed = sorted((r for r in results if r.seconds), key=lambda r: r.seconds, reverse=True)[:slowest]
    if timed:
        rows = "".join(f"<tr><td>{e(r.student or r.path.stem)}</td><td>{e(Path(r.release).stem if r.release else '')}"
                       f"</td><td class=\"n\">{r.seconds:.1f} s</td></tr>" for r in timed)
        parts.append(f"<h2>Slowest submissions</h2><table><tr><th>student</th><th>notebook</th><th>seconds</th>"
                     f"</tr>{rows}</table>")
    parts.append("</body></html>\n")
    return "".join(parts)
