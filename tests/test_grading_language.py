"""The grader speaks the class's language (issue 37): its own messages through the checks' catalogs, the class
report in ``--lang`` (by default the editions' language), a Vietnamese feedback page without an English sentence."""
from __future__ import annotations

import argparse
import re
import string
from pathlib import Path

import pytest

from lrcourse import i18n
from lrcourse.cli import _language
from lrcourse.grading import messages as M
from lrcourse.grading.reports import classreport, feedback, tables
from lrcourse.grading.results import CheckResult, GradeResult


def _filled(template: str) -> tuple[str, dict]:
    values = {name: f"V{i}" for i, (_t, name, _f, _c) in enumerate(string.Formatter().parse(template)) if name}
    return M.say(template, **values), values


@pytest.mark.parametrize("template", M.TEMPLATES)
def test_every_grader_message_reads_in_vietnamese_with_its_values_and_the_same_in_english(template):
    text, values = _filled(template)
    assert M.localized(text) == text  # English in force: unchanged
    with i18n.using("vi"):
        vi = M.localized(text)
    assert vi != text and all(v in vi for v in values.values()), vi


def test_a_message_inside_a_message_and_an_error_of_a_cell_are_translated_too():
    inner = M.say(M.NOTEBOOK_TIMEOUT, limit=60)
    with i18n.using("vi"):
        assert M.localized(M.say(M.MEMORY, message=inner, size="1 GiB")) == \
            "notebook chạy lâu hơn giới hạn 60 s của nó (đã chạm giới hạn bộ nhớ 1 GiB)"
        assert M.localized(f"NotebookTimeoutError: {inner}") == "NotebookTimeoutError: notebook chạy lâu hơn giới hạn 60 s của nó"
        assert M.localized("ZeroDivisionError: division by zero") == "ZeroDivisionError: division by zero"  # not ours
        assert M.localized(None) is None


def _vietnamese_class() -> list[GradeResult]:
    timed = GradeResult(Path("an/01.ipynb"), "vi/01_gradient_descent.ipynb", student="an", error=M.say(
        M.NOTEBOOK_STOPPED, limit=60), checks=[CheckResult("gd_step_test", 0.0, 1.0, "timed out",
                                                           M.say(M.NOT_RUN_TIMEOUT, limit=60), "gd_step")])
    wrong = GradeResult(Path("binh/01.ipynb"), "vi/01_gradient_descent.ipynb", student="binh", seconds=3.0, checks=[
        CheckResult("gd_step_test", 0.0, 1.0, "failed", "…", "gd_step", "Did you add the gradient instead of subtracting it?"),
        CheckResult("gradient_descent_test", 2.0, 2.0, "carried forward", "…", "gradient_descent", None, "gd_step_test")])
    return [timed, wrong]


ENGLISH = re.compile(r"\b(the|of|and|submissions?|could not|ran longer|carried forward from|was stopped|known "
                     r"mistakes|full marks|What was)\b")


def test_a_vietnamese_feedback_page_has_no_english_sentence_of_ours():
    page = feedback.render(_vietnamese_class()[0])
    assert "notebook chạy lâu hơn giới hạn 60 s của nó và đã bị dừng" in page
    assert "không được chạy: notebook chạy lâu hơn giới hạn 60 s của nó" in page
    text = re.sub(r"<style>.*?</style>|<[^>]+>", " ", page, flags=re.S)
    assert not ENGLISH.search(text), ENGLISH.search(text)


def test_the_class_report_and_the_notes_in_vietnamese():
    results = _vietnamese_class()
    report = classreport.render(results, {"seed": 7, "hidden": True, "carry forward": True}, lang="vi")
    assert '<html lang="vi">' in report and "Báo cáo lớp học" in report
    assert "1 trên 2: Bạn có cộng gradient thay vì trừ đi không?" in report
    assert "seed 7 (--seed 7 lặp lại đúng lần chạy này)" in report
    text = re.sub(r"<style>.*?</style>|<img[^>]+>|<[^>]+>", " ", report, flags=re.S)
    assert not ENGLISH.search(text), ENGLISH.search(text)
    english = classreport.render(results, {"seed": 7, "hidden": True}, lang="en")
    assert "Class report" in english and "1 of 2: Did you add the gradient instead of subtracting it?" in english
    with i18n.using("vi"):
        assert tables._note(results[1]) == "gradient_descent_test là lỗi kéo theo từ gd_step_test"
        assert tables._note(results[0]) == "notebook chạy lâu hơn giới hạn 60 s của nó và đã bị dừng"


def test_the_reports_language_is_lang_else_the_editions_when_they_are_one_else_english():
    vi, en = _vietnamese_class(), [GradeResult(Path("c.ipynb"), "01_gradient_descent.ipynb")]
    assert _language(argparse.Namespace(lang=None), vi) == "vi"
    assert _language(argparse.Namespace(lang=None), vi + en) == "en"
    assert _language(argparse.Namespace(lang="vi"), en) == "vi"
    assert _language(argparse.Namespace(lang=None), []) == "en"
