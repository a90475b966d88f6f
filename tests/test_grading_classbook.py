"""What instructors take home: students and assignments, the table, spreadsheet-ready CSV and JSON, feedback pages,
the class report, shards and their merge. The tests of a graded class read one class, graded once
(the ``graded_class`` fixture; they are in this one file so that one worker grades it)."""
from __future__ import annotations

import copy
import csv
import json
import shutil

import pytest

from _course import CLASS_SEED
from lrcourse.cli import main
from lrcourse.grading import results as R
from lrcourse.grading.batch import roster as B
from lrcourse.grading.scoring.mistakes import known_mistake

RELEASES = ["01_gradient_descent.ipynb", "02_lr_schedules.ipynb"]


@pytest.mark.parametrize("relative, student", [
    ("submitted/alice/ps1/01_gradient_descent.ipynb", "alice"),   # nbgrader's exchange layout
    ("submissions/bob/01_gradient_descent.ipynb", "bob"),
    ("carol/01_gradient_descent.ipynb", "carol"),                 # a folder per student
    ("dave/resubmitted/02_lr_schedules.ipynb", "dave"),
    ("erin.ipynb", "erin"),                                       # a file per student
    ("frank_01_gradient_descent.ipynb", "frank"),
    ("01_gradient_descent-gina.ipynb", "gina"),
    ("01_gradient_descent.ipynb", "01_gradient_descent"),          # nothing else to go by
])
def test_the_student_comes_from_the_layout_or_the_file_name(relative, student):
    assert B.student_of(relative, RELEASES) == student


def test_shards_partition_the_class_the_same_everywhere():
    paths = [f"submissions/student{i:03d}/01_gradient_descent.ipynb" for i in range(300)]
    for n in (1, 2, 3, 7):
        shares = [[p for p in paths if B.shard_of(p, n) == k] for k in range(1, n + 1)]
        assert sorted(sum(shares, [])) == sorted(paths)  # each in exactly one shard
        assert min(map(len, shares)) > 300 / n * 0.7  # and they are about even
    assert B.shard_of("submissions/student000/01_gradient_descent.ipynb", 7) == 3  # a fixed hash (SHA-256)


@pytest.mark.parametrize("text", ["3", "0/3", "4/3", "a/b", "1/0", "-1/3"])
def test_bad_shards_name_the_option(text):
    with pytest.raises(ValueError, match="--shard"):
        B.parse_shard(text)


def test_known_mistakes_are_named_from_the_message():
    from lrcourse.exercises import descent

    message = f"AssertionError: gd_step(x=[1.0]) returned [1.1]; expected [0.9]. {descent.gd_step.mistakes[0].message} Call"
    assert known_mistake("descent", "gd_step", message) == descent.gd_step.mistakes[0].message
    assert known_mistake("descent", "gd_step", "AssertionError: something else") is None
    assert known_mistake(None, "gd_step", message) is None


def test_grade_a_folder_into_a_table_csv_and_json(graded_class):
    """The small class (tests/_course.py: small_class), graded once for every test of what instructors take home."""
    g = graded_class
    assert g.status == 0
    assert g.after == g.before  # submissions are never modified
    table = g.stdout.splitlines()
    assert table[0].split()[:5] == ["submission", "notebook", "gd_step_test", "lr_regime_test", "total"]
    rows = {line.split()[0].removeprefix(str(g.submissions) + "/"): line for line in table[1:] if line.strip()}
    assert set(rows) == {"alice/tiny.ipynb", "bob/tiny.ipynb", "carol/tiny.ipynb", "dave/tiny.ipynb",
                         "dora/old/tiny.ipynb", "dora/tiny.ipynb", "erin/homework.ipynb", "frank/tiny.ipynb",
                         "gina/tiny.ipynb", "hank/tiny.ipynb", "ivan.ipynb", "mallory/tiny.ipynb", "walt/tiny.ipynb",
                         "wendy/tiny.ipynb"}
    assert "1/1" in rows["alice/tiny.ipynb"] and "1/3" in rows["alice/tiny.ipynb"]
    assert "0/1" in rows["bob/tiny.ipynb"] and "0/3" in rows["bob/tiny.ipynb"]
    assert "the file is empty" in rows["carol/tiny.ipynb"] and "not valid JSON" in rows["dave/tiny.ipynb"]
    assert "not a notebook of this course" in rows["erin/homework.ipynb"]
    with open(g.csv, encoding="utf-8") as f:
        sheet = {r["submission"]: r for r in csv.DictReader(f)}
    assert {r["student_id"] for r in sheet.values()} == {
        "alice", "bob", "carol", "dave", "dora", "homework", "frank", "gina", "hank", "ivan", "mallory", "walt", "wendy"}
    alice = sheet["alice/tiny.ipynb"]
    assert (alice["student_id"], alice["assignment"], alice["status"]) == ("alice", "tiny", "graded")
    assert (float(alice["score"]), float(alice["max_score"])) == (1.0, 3.0)  # numbers, not "1/3"
    assert (float(alice["gd_step_test"]), float(alice["lr_regime_test"])) == (1.0, 0.0)
    carol = sheet["carol/tiny.ipynb"]
    assert carol["status"] == "not graded" and float(carol["score"]) == 0
    assert "the file is empty" in carol["note"]
    feedback = {item["relative"]: item for item in json.loads(g.json.read_text())["submissions"]}
    bob = {c["grade_id"]: c for c in feedback["bob/tiny.ipynb"]["checks"]}
    assert bob["gd_step_test"]["status"] == "not attempted"
    assert bob["gd_step_test"]["message"].startswith("NotAttemptedError: gd_step is not attempted yet")
    assert feedback["carol/tiny.ipynb"]["error"] == "the file is empty" and feedback["carol/tiny.ipynb"]["score"] == 0
    assert feedback["alice/tiny.ipynb"]["student_id"] == "alice" and feedback["alice/tiny.ipynb"]["assignment"] == "tiny"
    checks = {name: {c["grade_id"]: c for c in feedback[f"{name}/tiny.ipynb"]["checks"]} for name in ("frank", "gina", "hank")}
    assert checks["frank"]["gd_step_test"]["status"] == "voided" and checks["frank"]["gd_step_test"]["points"] == 0
    assert "test cell was modified" in checks["frank"]["gd_step_test"]["message"]
    assert checks["gina"]["gd_step_test"]["status"] == "voided"
    assert "test cell was deleted" in checks["gina"]["gd_step_test"]["message"]
    assert checks["hank"]["gd_step_test"]["points"] == 1  # a duplicate is removed, the original still counts
    assert "test cell was duplicated" in checks["hank"]["gd_step_test"]["message"]
    assert "--jobs" in g.args and g.args[g.args.index("--jobs") + 1] == "2"  # two at a time, as instructors run it


def _comparable(path):
    document = json.loads(path.read_text())
    for item in document["submissions"]:
        item.pop("seconds")
        item.pop("submission")
        item.pop("graded_notebook", None)  # carries the run's execution timestamps
    run = {k: v for k, v in document["run"].items() if k not in ("shard", "merged", "missing shards")}
    return document["submissions"], run


def test_three_shards_merged_equal_one_run(graded_class, tmp_path, capsys, monkeypatch):
    """Each shard picks its share of the class and writes its part; the parts merged give what the one run gave.
    The class is graded once (the ``graded_class`` fixture): here each shard's grading replays that run's result
    for the submissions the shard picked, so what is tested is the choice of shares, the parts and the merge."""
    from lrcourse.grading.batch import pool

    g = graded_class
    results, _ = R.read_document(g.json)   # its graded notebooks are files beside it
    graded = {str(r.path): r for r in results}
    asked = []

    def replay(paths, releases, **kwargs):
        asked.append([str(p) for p in paths])
        return [copy.deepcopy(graded[str(p)]) for p in paths]

    monkeypatch.setattr(pool, "grade_all", replay)
    common = ["--release-dir", str(g.release), "--quiet", "--seed", str(CLASS_SEED)]
    parts = []
    for k in (1, 2, 3):
        parts.append(str(tmp_path / f"part{k}.json"))
        assert main(["grade", str(g.submissions), "--shard", f"{k}/3", "--json", parts[-1]] + common) == 0
    assert sorted(sum(asked, [])) == sorted(graded) and all(asked)  # each submission in one shard, none empty
    sizes = [len(json.loads(open(p).read())["submissions"]) for p in parts]
    assert sizes == [len(a) for a in asked] and sum(sizes) == len(graded)
    capsys.readouterr()
    assert main(["grade", "--merge", *parts, "--release-dir", str(g.release), "--json", str(tmp_path / "merged.json"),
                 "--csv", str(tmp_path / "merged.csv"), "--feedback", str(tmp_path / "feedback"),
                 "--report", str(tmp_path / "report.html")]) == 0
    pages = sorted(p.name for p in (tmp_path / "feedback").iterdir())
    assert pages == sorted(p.name for p in g.feedback.iterdir() if p.name not in ("notes.txt", "alice__tiny-2.html"))
    assert "return x + lr * grad" in (tmp_path / "feedback" / "wendy__tiny.html").read_text()  # from the parts' notebooks
    assert (tmp_path / "feedback" / "wendy__tiny.html").read_text() == (g.feedback / "wendy__tiny.html").read_text()
    assert "2 of 11: Did you add the gradient instead of subtracting it?" in (tmp_path / "report.html").read_text()
    assert _comparable(tmp_path / "merged.json") == _comparable(g.json)
    with open(g.csv) as a, open(tmp_path / "merged.csv") as b:
        assert list(csv.reader(a)) == list(csv.reader(b))
    merged = json.loads((tmp_path / "merged.json").read_text())
    wrong = next(i for i in merged["submissions"] if i["student_id"] == "wendy")
    gd = wrong["checks"][0]
    assert gd["status"] == "failed" and gd["mistake"] == "Did you add the gradient instead of subtracting it?"

    # refused: a part twice, a part of another course version, overlapping shards
    capsys.readouterr()
    assert main(["grade", "--merge", parts[0], parts[0], "--release-dir", str(g.release)]) == 2
    assert "both shard 1/3: overlapping parts" in capsys.readouterr().err
    other = json.loads(open(parts[1]).read())
    other["lrcourse"] = "0.0.1"
    (tmp_path / "old.json").write_text(json.dumps(other))
    assert main(["grade", "--merge", parts[0], str(tmp_path / "old.json"), "--release-dir", str(g.release)]) == 2
    assert "graded by lrcourse 0.0.1" in capsys.readouterr().err
    assert main(["grade", "--merge", parts[0], str(g.json), "--release-dir", str(g.release)]) == 2
    assert "overlapping parts" in capsys.readouterr().err
    assert main(["grade", str(g.submissions), "--merge", parts[0]]) == 2
    assert "give no submissions with it" in capsys.readouterr().err
    other = json.loads(open(parts[1]).read())
    other["run"]["seed"] = CLASS_SEED + 1
    (tmp_path / "reseeded.json").write_text(json.dumps(other))
    assert main(["grade", "--merge", parts[0], str(tmp_path / "reseeded.json"), "--release-dir", str(g.release)]) == 2
    assert "drew their hidden cases with different seeds" in capsys.readouterr().err


def test_two_submissions_of_one_student_are_both_graded_and_flagged(graded_class):
    with open(graded_class.csv) as f:
        rows = list(csv.DictReader(f))
    flagged = {(r["student_id"], r["submission"]): r["duplicate"] for r in rows if r["student_id"] in ("dora", "ivan")}
    assert flagged == {("dora", "dora/tiny.ipynb"): "1", ("dora", "dora/old/tiny.ipynb"): "1", ("ivan", "ivan.ipynb"): "0"}
    assert all(r["status"] == "graded" for r in rows if r["student_id"] in ("dora", "ivan"))


# ------------------------------------------------------------------------------------- feedback and report

def test_feedback_is_one_offline_page_per_student_with_each_check_at_its_cell(graded_class, tmp_path):
    g = graded_class
    files = sorted(p.name for p in g.feedback.iterdir())
    assert files == ["alice__tiny-2.html", "alice__tiny.html", "bob__tiny.html", "carol__tiny.html", "dave__tiny.html",
                     "dora__tiny__dora_old_tiny.html", "dora__tiny__dora_tiny.html", "frank__tiny.html",
                     "gina__tiny.html", "hank__tiny.html", "homework.html", "ivan__tiny.html", "mallory__tiny.html",
                     "notes.txt", "walt__tiny.html", "wendy__tiny.html"]
    assert (g.feedback / "notes.txt").read_text() == "the instructor's own file"  # the instructor's files are kept
    assert (g.feedback / "alice__tiny.html").read_text() == "<html>the instructor's own page</html>"
    # a rerun (here: the pages rebuilt from the run's JSON) replaces its own files and nothing else
    again = tmp_path / "feedback"
    shutil.copytree(g.feedback, again)
    assert main(["grade", "--merge", str(g.json), "--release-dir", str(g.release), "--quiet", "--feedback", str(again)]) == 0
    assert sorted(p.name for p in again.iterdir()) == files
    assert {p.name: p.read_bytes() for p in again.iterdir()} == {p.name: p.read_bytes() for p in g.feedback.iterdir()}
    page = (g.feedback / "wendy__tiny.html").read_text()
    assert "score <b>0 / 3</b>" in page and "gd_step_test: 0 / 1, failed" in page
    assert "Did you add the gradient instead of subtracting it?" in page and "ex.gd_step.hint()" in page
    assert page.index("gd_step_test: 0 / 1") > page.index("return x + lr * grad")  # at its cell, after the code
    for page in [(g.feedback / n).read_text() for n in files if n.endswith(".html") and n != "alice__tiny.html"]:
        assert "<script" not in page and "<link" not in page and 'src="http' not in page  # offline, no script
        assert "def _gd_step" not in page and ".reference" not in page  # no reference code


def test_hidden_cases_feedback_names_the_input_never_the_expected_value(graded_class):
    page = (graded_class.feedback / "mallory__tiny.html").read_text()  # right only on the LRs it was shown
    assert f"On a hidden case the grader drew (seed {CLASS_SEED})" in page and "gd_step(x=" in page
    assert "expected value is not shown" in page and "; expected" not in page


def test_the_class_report_counts_statuses_and_known_mistakes(graded_class, capsys):
    from lrcourse.grading.reports import classreport

    g = graded_class
    results, run = R.read_document(g.json)
    numbers = classreport.summary(results)["tiny.ipynb"]
    assert sorted(numbers["scores"]) == [0.0] * 9 + [1.0] * 2  # alice and hank
    gd = numbers["checks"]["gd_step_test"]
    assert gd["statuses"] == {"passed": 2, "failed": 3, "voided": 2, "not attempted": 4}
    assert gd["mistakes"]["Did you add the gradient instead of subtracting it?"] == 2  # wendy and walt
    page = g.report.read_text()
    assert "2 of 11: Did you add the gradient instead of subtracting it?" in page
    assert page.count('src="data:image/png;base64,') == 2  # the score histogram and the shares per check
    assert "<script" not in page and 'src="http' not in page
    assert "Slowest submissions" in page and "What was in force" in page
    capsys.readouterr()
    assert main(["report", str(g.json), "-o", str(g.out / "again.html")]) == 0
    again = (g.out / "again.html").read_text()
    assert "2 of 11: Did you add the gradient instead of subtracting it?" in again
    assert main(["report", str(g.out / "missing.json")]) == 2
