"""lrcourse.claims: a claim of the text is an error in strict mode and a note (not a crash) elsewhere."""
from __future__ import annotations

import nbformat
import pytest
from nbclient.exceptions import CellExecutionError
from nbformat.v4 import new_code_cell, new_notebook

from lrcourse import claims
from lrcourse.claims import claim
from lrcourse.grading.authoring.execute import execute_notebook


def test_the_test_suite_runs_strict():
    assert claims.strict()  # tests/conftest.py sets it, so nbval's kernels inherit it


@pytest.mark.parametrize("value, expected", [("1", True), ("yes", True), ("", False), ("0", False),
                                             ("false", False), (" No ", False)])
def test_strict_reads_the_environment_variable(monkeypatch, value, expected):
    monkeypatch.setenv(claims.ENV_VAR, value)
    assert claims.strict() is expected


def test_strict_mode_raises_with_the_message():
    assert claim(1 + 1 == 2, "arithmetic") is None  # nothing to display when a claim ends a cell
    with pytest.raises(AssertionError, match="^validation picks 0.03$"):
        claim(0.3 == 0.03, "validation picks 0.03")
    with pytest.raises(AssertionError, match=r"^2 \+ 2 == 5"):  # no message: the claim's own code
        claim(2 + 2 == 5)


def test_outside_strict_mode_a_false_claim_prints_a_note_and_goes_on(monkeypatch, capsys):
    monkeypatch.delenv(claims.ENV_VAR)
    claim(True, "fine")
    assert capsys.readouterr().out == ""
    assert claim([], "the best LR is 0.03") is None
    out = capsys.readouterr().out
    assert out.startswith("Note: the text claims \u201cthe best LR is 0.03\u201d, and this run does not show it.")
    assert claims.REFERENCE in out and "thread" in out
    claim(2 + 2 == 5)
    assert "\u201c2 + 2 == 5\u201d" in capsys.readouterr().out


def test_not_shown_reads_the_claims_back_from_a_runs_output(monkeypatch, capsys):
    monkeypatch.delenv(claims.ENV_VAR)
    print("epoch 1: loss 0.3")
    claim(False, "the best LR is 0.03")
    claim(True, "a claim that holds")
    claim(2 + 2 == 5)
    assert claims.not_shown(capsys.readouterr().out) == ["the best LR is 0.03", "2 + 2 == 5"]
    assert claims.not_shown("no notes here\n") == []


def test_a_vietnamese_notebooks_note_is_in_vietnamese_and_is_read_back(monkeypatch, capsys):
    from lrcourse import i18n

    monkeypatch.delenv(claims.ENV_VAR)
    with i18n.using("vi"):
        claim(False, "tốc độ học tốt nhất là 0.03")
        claim(2 + 2 == 5)
    out = capsys.readouterr().out
    prefix = i18n.translations("vi")[claims.NOTE_PREFIX]
    assert out.startswith(prefix + "tốc độ học tốt nhất là 0.03\u201d") and prefix != claims.NOTE_PREFIX
    assert "Note" not in out and "the text" not in out and "benchmarks/robustness.py" in out
    assert i18n.translations("vi")[claims.REFERENCE] in out
    assert claims.note_prefixes() == (claims.NOTE_PREFIX, prefix)
    # one reader for both languages: the benchmarks and the browser test read either edition's notes
    claim(False, "the best LR is 0.03")
    assert claims.not_shown(out + capsys.readouterr().out) == ["tốc độ học tốt nhất là 0.03", "2 + 2 == 5",
                                                               "the best LR is 0.03"]


def test_a_note_without_a_message_quotes_the_claims_code(monkeypatch, capsys):
    monkeypatch.delenv(claims.ENV_VAR)
    claim(len("abc") == 4)
    assert "\u201clen(\"abc\") == 4\u201d" in capsys.readouterr().out


def test_the_message_must_be_text():
    with pytest.raises(TypeError, match="message must be a str"):
        claim(True, 3)


def _notebook(tmp_path, sources):
    path = tmp_path / "claims.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell(s) for s in sources]), path)
    return path


def test_in_a_kernel_a_false_claim_is_a_note_for_learners_and_an_error_for_maintainers(tmp_path, kernels):
    path = _notebook(tmp_path, ["from lrcourse.claims import claim",
                                "best = 0.1\nclaim(best == 0.03, 'validation picks 0.03')\nprint('went on')",
                                "claim(best * 10 == 2)", "claim(best == 0.1)"])
    nb, _ = execute_notebook(path, timeout=60, strict_claims=False)
    text = "".join(o.get("text", "") for o in nb.cells[1].outputs)
    assert text.startswith("Note: the text claims \u201cvalidation picks 0.03\u201d") and text.endswith("went on\n")
    assert all(o["output_type"] == "stream" and o["name"] == "stdout" for o in nb.cells[1].outputs)
    assert "\u201cbest * 10 == 2\u201d" in nb.cells[2].outputs[0]["text"]  # the cell's code, from IPython's linecache
    assert nb.cells[3].outputs == []  # a true claim ending a cell displays nothing
    with pytest.raises(CellExecutionError) as info:
        execute_notebook(path, timeout=60)  # strict by default: this is how solutions are refreshed
    assert info.value.ename == "AssertionError" and info.value.evalue == "validation picks 0.03"


@pytest.mark.parametrize("strict", [True, False])
def test_kernel_env_sets_or_removes_the_variable_and_keeps_the_rest(monkeypatch, strict):
    monkeypatch.setenv("LRCOURSE_SOMETHING_ELSE", "kept")
    env = claims.kernel_env(strict)
    assert env["LRCOURSE_SOMETHING_ELSE"] == "kept"
    assert env.get(claims.ENV_VAR) == ("1" if strict else None)
    assert claims.strict()  # this process's own environment is left as it was


def test_thread_env_names_every_library_and_kernel_env_adds_it(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    assert claims.thread_env(1) == {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    assert claims.kernel_env(True, threads=3)["OMP_NUM_THREADS"] == "3"
    assert claims.kernel_env(True)["OMP_NUM_THREADS"] == "7"  # not given: this process's own
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="threads must be a whole number >= 1"):
            claims.thread_env(bad)


def test_the_reference_runs_are_one_thread_and_the_suite_runs_them_so():
    import os

    import torch

    assert claims.REFERENCE_THREADS == 1 and "one thread" in claims.REFERENCE
    assert os.environ["OMP_NUM_THREADS"] == "1" and torch.get_num_threads() == 1  # tests/conftest.py
