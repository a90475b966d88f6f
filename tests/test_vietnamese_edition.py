"""One course, two languages: each Vietnamese notebook is its English twin in Vietnamese.

Same cells in the same order, same exercises, ``grade_id``s and points, the same code apart from string
literals and comments, the same numbers in the outputs; Vietnamese prose throughout, with the glossary's
terms; released with the English notebooks, installed by ``lrcourse start --lang vi``, graded against
its own release.
"""
from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

import nbformat
import pytest

from _course import NOTEBOOKS, ROOT, SOLUTIONS, graded_cells_only
from benchmarks.robustness import nbval_sanitizers

GLOSSARY = ROOT / "lrcourse" / "locale" / "glossary.vi.md"
VI = sorted((SOLUTIONS / "vi").glob("*.ipynb"))
#: Every notebook of the course has its Vietnamese twin.
EXPECTED = sorted(p.name for p in SOLUTIONS.glob("*.ipynb"))

VIETNAMESE_LETTERS = set("àáảãạăằắẳẵặâầấẩẫậđèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵ")


def _read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def _pairs():
    return [pytest.param(_read(SOLUTIONS / p.name), _read(p), id=p.name) for p in VI]


def test_the_vietnamese_notebooks_are_there():
    assert len(EXPECTED) == 7 and [p.name for p in VI] == EXPECTED
    for p in VI:
        assert (SOLUTIONS / p.name).is_file(), f"{p.name} has no English twin"


# ----------------------------------------------------------------------------------------- the same course

def code_skeleton(source: str) -> list[tuple[int, str]]:
    """The tokens of ``source`` without its string literals and comments (IPython magics kept as text)."""
    lines = [("#" + line) if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()]
    magics = [line for line in source.splitlines() if line.lstrip().startswith(("%", "!"))]
    dropped = {tokenize.STRING, tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE}
    dropped |= {getattr(tokenize, n) for n in ("FSTRING_START", "FSTRING_MIDDLE", "FSTRING_END") if hasattr(tokenize, n)}
    tokens = tokenize.generate_tokens(io.StringIO("\n".join(lines) + "\n").readline)
    return [(t.type, t.string) for t in tokens if t.type not in dropped] + [(0, m) for m in magics]


@pytest.mark.parametrize("en, vi", _pairs())
def test_same_cells_same_order_same_grading(en, vi):
    assert [(c.cell_type, c.get("id")) for c in vi.cells] == [(c.cell_type, c.get("id")) for c in en.cells]
    for a, b in zip(en.cells, vi.cells):
        assert a.metadata.get("nbgrader") == b.metadata.get("nbgrader"), a.get("id")
    assert vi.metadata.kernelspec == en.metadata.kernelspec


@pytest.mark.parametrize("en, vi", _pairs())
def test_same_code_apart_from_string_literals_and_comments(en, vi):
    for a, b in zip(en.cells, vi.cells):
        if a.cell_type == "code":
            assert code_skeleton(b.source) == code_skeleton(a.source), a.get("id")


def test_the_code_comparison_sees_a_changed_name_or_number_but_not_a_string_or_comment():
    base = 'x = f(1, "a")  # one\nprint(f"{x:>10} done")\n'
    assert code_skeleton(base) == code_skeleton('x = f(1, "b")  # một\nprint(f"{x:>12} xong")\n')
    assert code_skeleton(base) != code_skeleton('x = f(2, "a")\nprint(f"{x:>10} done")\n')
    assert code_skeleton(base) != code_skeleton('y = f(1, "a")\nprint(f"{x:>10} done")\n')


@pytest.mark.parametrize("en, vi", _pairs())
def test_each_edition_chooses_its_language_in_its_first_code_cell(en, vi):
    first = [next(c for c in nb.cells if c.cell_type == "code").source for nb in (en, vi)]
    assert 'lrcourse.set_language("en")' in first[0]
    assert 'lrcourse.set_language("vi")' in first[1]


NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?")


def _numbers(cell) -> list[str]:
    text = "".join(o.get("text", "") if o.output_type == "stream" else o.get("data", {}).get("text/plain", "")
                   for o in cell.get("outputs", [])  # printed, and a cell's value (a widget's repr is cut short)
                   if "application/vnd.jupyter.widget-view+json" not in o.get("data", {}))
    for pattern, replace in nbval_sanitizers():  # timings, throughput: what may differ between two runs
        text = pattern.sub(replace, text)
    return NUMBER.findall(text)


@pytest.mark.parametrize("en, vi", _pairs())
def test_the_outputs_show_the_same_numbers(en, vi):
    for a, b in zip(en.cells, vi.cells):
        if a.cell_type == "code":
            assert sorted(_numbers(b)) == sorted(_numbers(a)), a.get("id")  # a translation may reorder a sentence
            def kinds(cell):  # figures and errors, in order (how a stream is split in chunks depends on timing)
                return [sorted(o.get("data", {})) or o.output_type for o in cell.get("outputs", [])
                        if o.output_type != "stream"]
            assert kinds(b) == kinds(a), a.get("id")


# ----------------------------------------------------------------------------------------- Vietnamese prose

def _prose(markdown: str) -> list[str]:
    """The paragraphs of ``markdown`` with math, code, links' targets and URLs taken out."""
    text = re.sub(r"\$\$.*?\$\$", " ", markdown, flags=re.S)
    text = re.sub(r"\$[^$]*\$", " ", text)
    text = re.sub(r"`[^`]*`", " ", text)
    text = re.sub(r"\]\([^)]*\)", "]", text)
    return [p for p in re.split(r"\n\s*\n", text) if p.strip()]


def english_paragraphs(nb) -> list[str]:
    """Markdown paragraphs with three or more Latin words and not one Vietnamese letter."""
    flagged = []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for para in _prose(cell.source):
                if len(re.findall(r"[A-Za-z]{2,}", para)) >= 3 and not VIETNAMESE_LETTERS & set(para.lower()):
                    flagged.append(f"{cell.get('id')}: {para.strip()[:80]}")
    return flagged


@pytest.mark.parametrize("path", VI, ids=[p.name for p in VI])
def test_no_english_prose_is_left_behind(path):
    assert english_paragraphs(_read(path)) == []


def test_the_prose_check_flags_an_english_paragraph_and_not_math_or_names():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(
        "Tốc độ học $\\eta$ quyết định.\n\nThe step is too large here.\n\n$$x_{t+1} = x_t - \\eta g$$\n\n"
        "`lrcourse.descent.run(loss, x0, lr)`\n\nĐọc thêm: Nocedal & Wright, *Numerical Optimization*.")])
    assert [p.split(": ", 1)[1] for p in english_paragraphs(nb)] == ["The step is too large here."]


#: Abbreviations the tables once used for want of a column's width; a learner cannot read them (the review named
#: them): a table spells its headers out, on two lines where a column is narrow.
ABBREVIATIONS = re.compile(r"(?<![\w.])(?:KĐ|HL|MM|TS|TB|ĐLC|đlc|đcx|k\.tra|k\.đ|h\.l\.trước|TĐH|t\.số|c\.xác|TK BN)(?![\w])")


def abbreviations(nb) -> list[str]:
    """Where a Vietnamese notebook's code (its printed headers are string literals) or outputs abbreviate."""
    found = []
    for cell in nb.cells:
        texts = [cell.source] + [o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream"]
        found += [f"{cell.get('id')}: {m.group(0)}" for text in texts for m in ABBREVIATIONS.finditer(text)]
    return found


@pytest.mark.parametrize("path", VI, ids=[p.name for p in VI])
def test_the_tables_spell_their_headers_out(path):
    assert abbreviations(_read(path)) == []


def test_the_abbreviation_check_finds_a_header_and_not_a_word_that_contains_one():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "print(f\"{'mất mát HL':>10s} {'± đlc':>6}\")\nprint('TBX HLV: tốc độ học, kiểm tra')")])
    assert [f.split(": ", 1)[1] for f in abbreviations(nb)] == ["HL", "đlc"]


# ----------------------------------------------------------------------------------------- the glossary

def glossary() -> list[tuple[str, str, list[str]]]:
    """``(english, vietnamese, avoided)`` for each row of the glossary's table."""
    rows = []
    for line in GLOSSARY.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) == 4 and cells[0] not in ("English", "---"):
            rows.append((cells[0], cells[1], [a.strip() for a in cells[2].split(",") if a.strip()]))
    return rows


def _body(nb) -> str:
    """The notebook's prose without its headings (a title may name a term before the text explains it)."""
    return "\n".join(line for c in nb.cells if c.cell_type == "markdown" for line in c.source.splitlines()
                     if not line.lstrip().startswith("#"))


def _uses(text: str, term: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(term)}", text, flags=re.I) is not None


def _glossed(text: str, viet: str, english: str) -> bool:
    """Whether some use of ``viet`` in ``text`` is followed, within a few words, by its gloss in parentheses: the
    English term, or (for a term the course keeps in English) a Vietnamese explanation."""
    for use in re.finditer(rf"(?<![\w-]){re.escape(viet)}", text, flags=re.I):
        after = text[use.end():use.end() + 80]
        gloss = re.match(r"[^.,;:()\n]{0,25}?\(([^)]*)\)", after)   # "lịch trình tốc độ học (...)"
        if not gloss:
            continue
        inside = gloss.group(1).lower().replace("-", " ")
        if viet.lower() == english.lower():
            if VIETNAMESE_LETTERS & set(inside):
                return True
        elif english.lower().replace("-", " ") in inside:
            return True
    return False


def _named_as_a_term(text: str, term: str) -> bool:
    """Every use of an avoided ``term`` is a mention of the word itself (in italics or quotes), not a use."""
    for use in re.finditer(rf"(?<![\w-]){re.escape(term)}", text, flags=re.I):
        before, after = text[max(0, use.start() - 1):use.start()], text[use.end():use.end() + 1]
        if not (before in ("*", "_", '"', "“") and after in ("*", "_", '"', "”")):
            return False
    return True


def glossary_problems(en, vi) -> list[str]:
    """The glossary's rules: wherever the English uses a term, the Vietnamese uses the table's term, glossed once
    where it reads naturally (the English in parentheses; for a term kept in English, a Vietnamese gloss), never
    an avoided one (unless it is named as a word, in italics or quotes), and no stacked or nested parentheses."""
    problems = []
    en_text = "\n".join(c.source for c in en.cells if c.cell_type == "markdown")
    vi_text, vi_body = "\n".join(c.source for c in vi.cells if c.cell_type == "markdown"), _body(vi)
    for english, viet, avoided in glossary():
        if _uses(en_text, english) and not _uses(vi_text, viet):
            problems.append(f"the English uses {english!r}; the Vietnamese lacks {viet!r}")
        problems += [f"uses {a!r}; the glossary's term is {viet!r}" for a in avoided
                     if _uses(vi_text, a) and not _named_as_a_term(vi_text, a)]
        if _uses(vi_body, viet) and not _glossed(vi_body, viet, english):
            problems.append(f"{viet!r} is never glossed ({english}) in this notebook")
    for cell in vi.cells:
        if cell.cell_type != "markdown":
            continue
        for para in _prose(cell.source):
            for stacked in re.finditer(r"\([^()]*\)[ ]*\([^()]*\)", para):
                problems.append(f"{cell.get('id')}: stacked parentheses: {stacked.group(0)[:60]}")
            for nested in re.finditer(r"\([^()]*\([^()]*\)[^()]*\)", para):
                problems.append(f"{cell.get('id')}: nested parentheses: {nested.group(0)[:60]}")
    return problems


def test_the_glossary_chooses_tốc_độ_học_and_says_why():
    rows = {english: (viet, avoided) for english, viet, avoided in glossary()}
    assert rows["learning rate"] == ("tốc độ học", ["tỷ lệ học", "tỉ lệ học"])
    assert len(rows) >= 20
    text = GLOSSARY.read_text(encoding="utf-8")
    assert "Why \"tốc độ học\", not \"tỷ lệ học\"" in text and "d2l-vi" in text


@pytest.mark.parametrize("en, vi", _pairs())
def test_the_notebooks_use_the_glossary_terms_with_the_english_at_first_use(en, vi):
    assert glossary_problems(en, vi) == []


def test_the_glossary_check_catches_a_wrong_term_and_a_missing_english():
    md = nbformat.v4.new_markdown_cell
    en = nbformat.v4.new_notebook(cells=[md("The learning rate and the momentum.")])
    wrong = nbformat.v4.new_notebook(cells=[md("Tỷ lệ học (learning rate) và động lượng (momentum).")])
    bare = nbformat.v4.new_notebook(cells=[md("Tốc độ học (learning rate) và động lượng.")])
    good = nbformat.v4.new_notebook(cells=[md("Tốc độ học (learning rate) và động lượng (momentum).")])
    assert any("tỷ lệ học" in p for p in glossary_problems(en, wrong))
    assert any("động lượng" in p for p in glossary_problems(en, bare))
    assert glossary_problems(en, good) == []
    later = nbformat.v4.new_notebook(cells=[md("Tốc độ học và động lượng. Về sau: động lượng (momentum) và tốc độ "
                                               "học (learning rate).")])
    assert glossary_problems(en, later) == []                        # glossed once, where it reads naturally
    named = nbformat.v4.new_notebook(cells=[md("Tốc độ học (learning rate), có sách gọi là *tỷ lệ học*; động "
                                               "lượng (momentum).")])
    assert glossary_problems(en, named) == []                        # the avoided word, named as a word
    stacked = nbformat.v4.new_notebook(cells=[md("Hạ gradient (gradient descent) (ngẫu nhiên), tốc độ học "
                                                 "(learning rate (LR)) và động lượng (momentum).")])
    problems = glossary_problems(en, stacked)
    assert any("stacked parentheses" in p for p in problems) and any("nested parentheses" in p for p in problems)


# ----------------------------------------------------------------------------------------- released, installed

def test_the_vietnamese_release_is_in_notebooks_vi_and_says_its_language():
    from lrcourse.grading.authoring import release

    assert release.stale_notebooks(SOLUTIONS, NOTEBOOKS) == []
    for path in VI:
        nb = _read(NOTEBOOKS / "vi" / path.name)
        assert nb.metadata.lrcourse["language"] == "vi"
        assert "language" not in _read(NOTEBOOKS / path.name).metadata.lrcourse


def test_lrcourse_start_lang_vi_copies_the_vietnamese_notebooks(tmp_path, monkeypatch):
    from lrcourse import start
    from lrcourse.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(start, "run_lab", lambda cmd: 0)
    monkeypatch.setattr(start, "require_jupyterlab", lambda: None)
    assert main(["start", "--lang", "vi", "--no-browser"]) == 0
    copied = sorted(p.name for p in (tmp_path / "lrcourse-notebooks-vi").glob("*.ipynb"))
    assert copied == EXPECTED
    assert all(_read(p).metadata.lrcourse["language"] == "vi" for p in (tmp_path / "lrcourse-notebooks-vi").glob("*"))
    assert not (tmp_path / "lrcourse-notebooks").exists()
    with pytest.raises(start.StartError, match="--lang must be one of en, vi, got 'fr'"):
        start.prepare(tmp_path / "x", language="fr")


def test_a_copy_of_the_other_edition_is_kept_and_named(tmp_path):
    from lrcourse import start

    start.prepare(tmp_path, language="en")
    done = {c.name: c for c in start.prepare(tmp_path, language="vi")}
    assert done["01_gradient_descent.ipynb"].status == "outdated"
    assert "yours is the 'en' edition, not the 'vi' one" in done["01_gradient_descent.ipynb"].detail
    # a copy that lost its metadata is still known by the set_language("vi") of its first code cell
    other = tmp_path / "other"
    start.prepare(other, language="vi")
    nb = _read(other / "01_gradient_descent.ipynb")
    nb.metadata.pop("lrcourse")
    nbformat.write(nb, other / "01_gradient_descent.ipynb")
    done = {c.name: c for c in start.prepare(other, language="en")}
    assert "yours is the 'vi' edition, not the 'en' one" in done["01_gradient_descent.ipynb"].detail


def test_each_submission_is_graded_against_its_own_edition_with_feedback_in_its_language(tmp_path, kernels):
    """A Vietnamese and an English submission in one folder: each is matched to its own release, and each
    check's message is in the submission's language."""
    from lrcourse.grading.batch import pool
    from lrcourse.grading.scoring.submission import load_releases

    releases = load_releases(NOTEBOOKS)
    vi = _read(NOTEBOOKS / "vi" / "01_gradient_descent.ipynb")
    cell = next(c for c in vi.cells if c.get("id") == "gd-step")
    cell.source = cell.source.split("def gd_step")[0] + "def gd_step(x, grad, lr):\n    return x + lr * grad\n"
    vi.metadata.pop("lrcourse")  # a copy that lost its metadata is still known by its set_language("vi")
    (tmp_path / "an").mkdir(), (tmp_path / "binh").mkdir()
    # each cut to its graded cells (what the checks need: tests/test_grading_course.py), to keep the suite's time
    nbformat.write(graded_cells_only(vi), tmp_path / "an" / "01_gradient_descent.ipynb")
    nbformat.write(graded_cells_only(_read(NOTEBOOKS / "01_gradient_descent.ipynb")),
                   tmp_path / "binh" / "01_gradient_descent.ipynb")
    an, binh = pool.grade_all([tmp_path / "an" / "01_gradient_descent.ipynb",
                                 tmp_path / "binh" / "01_gradient_descent.ipynb"],
                                releases, timeout=120, jobs=2, progress=False)
    assert (an.release, binh.release) == ("vi/01_gradient_descent.ipynb", "01_gradient_descent.ipynb")
    gd_an, gd_binh = an.checks[0], binh.checks[0]
    assert (gd_an.status, gd_binh.status) == ("failed", "not attempted")
    assert "Bạn có cộng gradient thay vì trừ đi không?" in gd_an.message
    assert gd_an.mistake == "Did you add the gradient instead of subtracting it?"  # one tally for the class
    assert "chưa được làm" in an.checks[1].message and "is not attempted yet" in gd_binh.message


def test_the_feedback_page_of_a_vietnamese_submission_is_in_vietnamese(tmp_path):
    """The page around the checks' messages speaks the submission's language too; an English one stays English."""
    from lrcourse.grading.reports import feedback
    from lrcourse.grading.results import CheckResult, GradeResult

    def result(release, message):
        r = GradeResult(path=tmp_path / "an" / "01_gradient_descent.ipynb", release=release)
        r.checks = [CheckResult("gd_step_test", 0.0, 1.0, "failed", message), CheckResult("lr_regime_test", 0.0, 2.0,
                                                                                          "not attempted", "")]
        return r
    vi = feedback.render(result("vi/01_gradient_descent.ipynb", "Bạn có cộng gradient thay vì trừ đi không?"))
    assert '<html lang="vi">' in vi and "<th>trạng thái</th>" in vi and "chưa làm" in vi and "điểm <b>" in vi
    assert "not attempted" not in vi and "<th>status</th>" not in vi
    en = feedback.render(result("01_gradient_descent.ipynb", "Did you add the gradient instead of subtracting it?"))
    assert '<html lang="en">' in en and "<th>status</th>" in en and "not attempted" in en
