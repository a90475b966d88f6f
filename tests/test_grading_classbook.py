"""What instructors take home: students and assignments, spreadsheet-ready CSV, shards and their merge."""
from __future__ import annotations

import copy
import csv
import json

import nbformat
import pytest

from lrcourse.cli import main
from lrcourse.grading import classbook as B

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
    assert B.known_mistake("descent", "gd_step", message) == descent.gd_step.mistakes[0].message
    assert B.known_mistake("descent", "gd_step", "AssertionError: something else") is None
    assert B.known_mistake(None, "gd_step", message) is None


def _class(root, release_nb, n=5):
    good = copy.deepcopy(release_nb)
    cell = next(c for c in good.cells if c.get("id") == "gd-step")
    wrong = copy.deepcopy(good)
    cell.source = cell.source.split("    # YOUR CODE HERE")[0] + "    return x - lr * grad\n"
    wrong_cell = next(c for c in wrong.cells if c.get("id") == "gd-step")
    wrong_cell.source = wrong_cell.source.split("    # YOUR CODE HERE")[0] + "    return x + lr * grad\n"
    for i in range(n):
        folder = root / "submissions" / f"s{i}"
        folder.mkdir(parents=True)
        nbformat.write(good if i % 2 == 0 else wrong, folder / "tiny.ipynb")
    return root / "submissions"


def _comparable(path):
    document = json.loads(path.read_text())
    for item in document["submissions"]:
        item.pop("seconds")
        item.pop("submission")
        item.pop("graded_notebook", None)  # carries the run's execution timestamps
    run = {k: v for k, v in document["run"].items() if k not in ("shard", "merged", "missing shards")}
    return document["submissions"], run


def test_three_shards_merged_equal_one_run(tiny, tmp_path, capsys):
    releases, release_nb = tiny
    release = tmp_path / "release"
    release.mkdir()
    nbformat.write(release_nb, release / "tiny.ipynb")
    subs = _class(tmp_path, release_nb)
    common = ["--release-dir", str(release), "--quiet", "--sandbox", "none"]
    assert main(["grade", str(subs), "--json", str(tmp_path / "all.json"), "--csv", str(tmp_path / "all.csv")]
                + common) == 0
    parts = []
    for k in (1, 2, 3):
        parts.append(str(tmp_path / f"part{k}.json"))
        assert main(["grade", str(subs), "--shard", f"{k}/3", "--json", parts[-1]] + common) == 0
    sizes = [len(json.loads(open(p).read())["submissions"]) for p in parts]
    assert sum(sizes) == 5
    capsys.readouterr()
    assert main(["grade", "--merge", *parts, "--release-dir", str(release), "--json", str(tmp_path / "merged.json"),
                 "--csv", str(tmp_path / "merged.csv"), "--feedback", str(tmp_path / "feedback"),
                 "--report", str(tmp_path / "report.html")]) == 0
    pages = sorted(p.name for p in (tmp_path / "feedback").iterdir())
    assert pages == [f"s{i}__tiny.html" for i in range(5)]  # from the notebooks the shards kept
    assert "return x + lr * grad" in (tmp_path / "feedback" / "s1__tiny.html").read_text()
    assert "2 of 5: Did you add the gradient instead of subtracting it?" in (tmp_path / "report.html").read_text()
    assert _comparable(tmp_path / "merged.json") == _comparable(tmp_path / "all.json")
    with open(tmp_path / "all.csv") as a, open(tmp_path / "merged.csv") as b:
        assert list(csv.reader(a)) == list(csv.reader(b))
    merged = json.loads((tmp_path / "merged.json").read_text())
    wrong = next(i for i in merged["submissions"] if i["student_id"] == "s1")
    gd = wrong["checks"][0]
    assert gd["status"] == "failed" and gd["mistake"] == "Did you add the gradient instead of subtracting it?"

    # refused: a part twice, a part of another course version, overlapping shards
    capsys.readouterr()
    assert main(["grade", "--merge", parts[0], parts[0], "--release-dir", str(release)]) == 2
    assert "both shard 1/3: overlapping parts" in capsys.readouterr().err
    other = json.loads(open(parts[1]).read())
    other["lrcourse"] = "0.0.1"
    (tmp_path / "old.json").write_text(json.dumps(other))
    assert main(["grade", "--merge", parts[0], str(tmp_path / "old.json"), "--release-dir", str(release)]) == 2
    assert "graded by lrcourse 0.0.1" in capsys.readouterr().err
    assert main(["grade", "--merge", parts[0], str(tmp_path / "all.json"), "--release-dir", str(release)]) == 2
    assert "overlapping parts" in capsys.readouterr().err
    assert main(["grade", str(subs), "--merge", parts[0]]) == 2
    assert "give no submissions with it" in capsys.readouterr().err


def test_two_submissions_of_one_student_are_both_graded_and_flagged(tiny, tmp_path):
    releases, release_nb = tiny
    release = tmp_path / "release"
    release.mkdir()
    nbformat.write(release_nb, release / "tiny.ipynb")
    subs = tmp_path / "submissions" / "alice"
    subs.mkdir(parents=True)
    nbformat.write(release_nb, subs / "tiny.ipynb")
    (subs / "old").mkdir()
    nbformat.write(release_nb, subs / "old" / "tiny.ipynb")
    nbformat.write(release_nb, tmp_path / "submissions" / "bob.ipynb")
    out = tmp_path / "grades.csv"
    assert main(["grade", str(tmp_path / "submissions"), "--release-dir", str(release), "--quiet", "--sandbox", "none",
                 "--csv", str(out)]) == 0
    with open(out) as f:
        rows = list(csv.DictReader(f))
    flagged = {(r["student_id"], r["submission"]): r["duplicate"] for r in rows}
    assert flagged == {("alice", "alice/tiny.ipynb"): "1", ("alice", "alice/old/tiny.ipynb"): "1", ("bob", "bob.ipynb"): "0"}
    assert all(r["status"] == "graded" for r in rows)


# ------------------------------------------------------------------------------------- feedback and report

def test_feedback_is_one_offline_page_per_student_with_each_check_at_its_cell(tiny, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "feedback").mkdir()
    (out / "feedback" / "notes.txt").write_text("the instructor's own file")
    (out / "feedback" / "s0__tiny.html").write_text("<html>the instructor's own page</html>")
    releases, release_nb = tiny
    release = tmp_path / "release"
    release.mkdir()
    nbformat.write(release_nb, release / "tiny.ipynb")
    subs = _class(tmp_path, release_nb, n=4)
    args = ["grade", str(subs), "--release-dir", str(release), "--quiet", "--sandbox", "none",
            "--json", str(out / "grades.json"), "--feedback", str(out / "feedback"), "--report", str(out / "report.html")]
    assert main(args) == 0
    assert main(args) == 0  # a rerun replaces its own files and nothing else
    files = sorted(p.name for p in (out / "feedback").iterdir())
    assert files == ["notes.txt", "s0__tiny-2.html", "s0__tiny.html", "s1__tiny.html", "s2__tiny.html",
                     "s3__tiny.html"]
    assert (out / "feedback" / "notes.txt").read_text() == "the instructor's own file"
    assert (out / "feedback" / "s0__tiny.html").read_text() == "<html>the instructor's own page</html>"
    page = (out / "feedback" / "s1__tiny.html").read_text()
    assert "score <b>0 / 3</b>" in page and "gd_step_test: 0 / 1, failed" in page
    assert "Did you add the gradient instead of subtracting it?" in page and "ex.gd_step.hint()" in page
    assert page.index("gd_step_test: 0 / 1") > page.index("return x + lr * grad")  # at its cell, after the code
    for page in [(out / "feedback" / n).read_text() for n in files if n.endswith(".html") and n != "s0__tiny.html"]:
        assert "<script" not in page and "<link" not in page and 'src="http' not in page  # offline, no script
        assert "def _gd_step" not in page and ".reference" not in page  # no reference code


def test_hidden_cases_feedback_names_the_input_never_the_expected_value(tiny, tmp_path):
    releases, release_nb = tiny
    release = tmp_path / "release"
    release.mkdir()
    nbformat.write(release_nb, release / "tiny.ipynb")
    nb = copy.deepcopy(release_nb)
    cell = next(c for c in nb.cells if c.get("id") == "gd-step")
    cell.source = cell.source.split("    # YOUR CODE HERE")[0] + (
        "    return x - lr * grad if lr in (0.1, 0.5, 0.3, 2.5) else x\n")  # right on the LRs it was shown
    (tmp_path / "subs" / "mallory").mkdir(parents=True)
    nbformat.write(nb, tmp_path / "subs" / "mallory" / "tiny.ipynb")
    out = tmp_path / "fb"
    assert main(["grade", str(tmp_path / "subs"), "--release-dir", str(release), "--quiet", "--sandbox", "none",
                 "--seed", "5", "--feedback", str(out)]) == 0
    page = (out / "mallory__tiny.html").read_text()
    assert "On a hidden case the grader drew (seed 5)" in page and "gd_step(x=" in page
    assert "expected value is not shown" in page and "; expected" not in page


def test_the_class_report_counts_statuses_and_known_mistakes(tiny, tmp_path, capsys):
    from lrcourse.grading import classreport

    out = tmp_path / "out"
    out.mkdir()
    releases, release_nb = tiny
    release = tmp_path / "release"
    release.mkdir()
    nbformat.write(release_nb, release / "tiny.ipynb")
    subs = _class(tmp_path, release_nb, n=5)
    assert main(["grade", str(subs), "--release-dir", str(release), "--quiet", "--sandbox", "none",
                 "--json", str(out / "grades.json"), "--report", str(out / "report.html")]) == 0
    results, run = B.from_document(json.loads((out / "grades.json").read_text()))
    numbers = classreport.summary(results)["tiny.ipynb"]
    assert numbers["scores"] == [1.0, 0.0, 1.0, 0.0, 1.0]
    gd = numbers["checks"]["gd_step_test"]
    assert gd["statuses"] == {"passed": 3, "failed": 2}
    assert gd["mistakes"] == {"Did you add the gradient instead of subtracting it?": 2}
    page = (out / "report.html").read_text()
    assert "2 of 5: Did you add the gradient instead of subtracting it?" in page
    assert page.count('src="data:image/png;base64,') == 2  # the score histogram and the shares per check
    assert "<script" not in page and 'src="http' not in page
    assert "Slowest submissions" in page and "What was in force" in page
    capsys.readouterr()
    assert main(["report", str(out / "grades.json"), "-o", str(out / "again.html")]) == 0
    again = (out / "again.html").read_text()
    assert "2 of 5: Did you add the gradient instead of subtracting it?" in again
    assert main(["report", str(out / "missing.json")]) == 2
