"""benchmarks/robustness.py: the seed offset, the figures that moved, the runs; and every notebook's seeds derive
from its one SEED, so that shifting it shifts every random draw the lesson rests on."""
from __future__ import annotations

import ast
import re

import nbformat
import pytest

from _course import ROOT
from benchmarks import robustness as rob
from lrcourse import syllabus

EDITIONS = [ROOT / "solutions", ROOT / "solutions" / "vi"]
NOTEBOOKS = [folder / name for folder in EDITIONS for name in syllabus.files()]


def _nb(*sources: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    return nb


def test_shift_seed_moves_the_first_seed_line_only():
    nb = rob.shift_seed(_nb("import numpy\nSEED = 3  # the seed\nx = SEED", "SEED = 9"), 2)
    assert nb.cells[0].source == "import numpy\nSEED = 5  # the seed\nx = SEED"
    assert nb.cells[1].source == "SEED = 9"


def test_shift_seed_refuses_a_notebook_without_a_seed_and_bad_offsets():
    assert rob.shift_seed(_nb("x = 1"), 0).cells[0].source == "x = 1"  # offset 0: nothing to shift
    with pytest.raises(ValueError, match="sets no SEED"):
        rob.shift_seed(_nb("x = 1", "MY_SEED = 0"), 1)
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="offset must be a whole number"):
            rob.shift_seed(_nb("SEED = 0"), bad)


def test_moved_figures_counts_numbers_that_differ_per_cell():
    a = _nb("1", "2", "3")
    b = _nb("1", "2", "3")
    a.cells[0].outputs = [nbformat.v4.new_output("stream", text="loss 0.25 after 10 steps\n")]
    b.cells[0].outputs = [nbformat.v4.new_output("stream", text="loss 0.26 after 10 steps\n")]
    a.cells[1].outputs = [nbformat.v4.new_output("execute_result", data={"text/plain": "[1, 2]"})]
    b.cells[1].outputs = [nbformat.v4.new_output("execute_result", data={"text/plain": "[1, 2, 3]"})]
    a.cells[2].outputs = b.cells[2].outputs = [nbformat.v4.new_output("stream", text="same 1e-3\n")]
    assert rob.moved_figures(a, b) == [(0, 1), (1, 1)]


def test_what_nbval_compares_is_every_cell_but_the_ignored_ones_with_timings_sanitized():
    a, b = _nb("1", "2", "3"), _nb("1", "2", "3")
    b.cells[1].metadata["tags"] = a.cells[1].metadata["tags"] = ["nbval-ignore-output"]
    for i, (x, y) in enumerate([("lr 0.1: 3.2 s elapsed\n", "lr 0.1: 4.7 s elapsed\n"),  # a timing: sanitized
                                ("loss 0.25\n", "loss 0.26\n"),                        # ignored by nbval
                                ("acc 0.91\n", "acc 0.92\n")]):                        # compared: nbval fails
        a.cells[i].outputs = [nbformat.v4.new_output("stream", text=x)]
        b.cells[i].outputs = [nbformat.v4.new_output("stream", text=y)]
    assert rob.nbval_compared(a) == {0, 2}
    assert rob.moved_figures(a, b) == [(0, 1), (1, 1), (2, 1)]
    assert rob.moved_figures(a, b, rob.nbval_sanitizers()) == [(1, 1), (2, 1)]


def test_the_runs_cross_seeds_threads_and_kernels_with_the_reference_of_the_other():
    runs = rob.perturbations([0, 1, 2], [1, 4], default_cpu=True)
    assert [rob.label(r) for r in runs] == ["seed+0 threads 1", "seed+1 threads 1", "seed+2 threads 1",
                                           "seed+0 threads 4", "seed+0 threads 1 default-cpu",
                                           "seed+1 threads 1 default-cpu"]
    assert rob.perturbations([0], [1], default_cpu=False) == [{"offset": 0, "threads": 1, "cpu": "native"}]


def _seed_arguments(source: str) -> list[str]:
    """The seed arguments and seeding calls in ``source`` whose value is a literal number (not SEED-based)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            for kw in node.keywords:
                if kw.arg and ("seed" in kw.arg or kw.arg == "random_state") and isinstance(kw.value, ast.Constant):
                    found.append(f"{kw.arg}={kw.value.value!r}")
            name = getattr(node.func, "attr", getattr(node.func, "id", ""))
            if name in ("manual_seed", "default_rng", "seed") and node.args and isinstance(node.args[0], ast.Constant):
                found.append(f"{name}({node.args[0].value!r})")
        if isinstance(node, (ast.FunctionDef, ast.Lambda)):
            args = node.args
            for arg, default in zip(args.args[len(args.args) - len(args.defaults):], args.defaults):
                if "seed" in arg.arg and isinstance(default, ast.Constant):
                    found.append(f"def ...({arg.arg}={default.value!r})")
        if isinstance(node, ast.Call) and _qualified(node.func) in SEEDED and not any(
                kw.arg is None or "seed" in kw.arg for kw in node.keywords):
            found.append(f"{_qualified(node.func)}(...) without a seed")
    return found


#: The library's seeded functions: a notebook that calls one without a seed uses its default, 0, whatever SEED is.
SEEDED = {"data.digits", "data.diabetes", "data.digits_target", "training.mlp", "training.train", "search.kfold",
          "search.random_search", "search.bayes_search", "search.sweep", "scale.fit", "scale.width_mlp",
          "scale.width_sweep", "models.small_resnet", "finetune.fit", "finetune.replace_head"}


def _qualified(func: ast.expr) -> str:
    return f"{func.value.id}.{func.attr}" if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) \
        else ""


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_seed_of_a_notebook_derives_from_its_one_SEED(path):
    nb = nbformat.read(path, as_version=4)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    setting = [s for s in code if re.search(r"^SEED = 0\b", s, re.MULTILINE)]
    assert len(setting) == 1, f"{path.name}: one cell sets SEED = 0 (found {len(setting)})"
    assert code.index(setting[0]) <= 2, "SEED is set in the setup, before any experiment"
    # an exercise's own signature (kfold_indices(n, k, seed=0)) is the exercise's, not the experiment's
    literal = {i: found for i, s in enumerate(code) if "### BEGIN SOLUTION" not in s
               and (found := _seed_arguments(s.replace("%matplotlib inline", "")))}
    assert not literal, f"{path.name}: seeds that do not derive from SEED (code cell: seeds): {literal}"
    rob.shift_seed(nb, 1)
    assert re.search(r"^SEED = 1\b", "\n".join(c.source for c in nb.cells if c.cell_type == "code"), re.MULTILINE)


def test_the_literal_seed_finder_finds_what_it_forbids():
    assert sorted(_seed_arguments("f(seed=0)\ng(x, random_state=3)\ntorch.manual_seed(0)\nnp.random.default_rng(1)\n"
                                  "def h(seed=2): pass\ntraining.train(model, split)")) == sorted(
        ["seed=0", "random_state=3", "manual_seed(0)", "default_rng(1)", "def ...(seed=2)",
         "training.train(...) without a seed"])
    assert _seed_arguments("f(seed=SEED)\ng(seed=SEED + 1)\ntorch.manual_seed(SEED)\ndef h(seed=SEED): pass\n"
                           "training.train(model, split, **options)\ndata.digits(seed=SEED)") == []


IGNORE = "nbval-ignore-output"


def _ignored(path) -> list[int]:
    nb = nbformat.read(path, as_version=4)
    return [i for i, c in enumerate(nb.cells) if IGNORE in c.get("metadata", {}).get("tags", [])]


@pytest.mark.parametrize("name", syllabus.files())
def test_nbval_leaves_only_training_outputs_uncompared_the_same_in_both_editions(name):
    """A training run's printed figures move on another processor (AVX-512, arm64) or thread count: nbval does not
    compare those cells' outputs (their claims, strict in the suite, carry the truth). Everything else, exercise
    checks above all, stays compared exactly, and both editions leave the same cells out."""
    en, vi = ROOT / "solutions" / name, ROOT / "solutions" / "vi" / name
    assert _ignored(en) == _ignored(vi)
    nb = nbformat.read(en, as_version=4)
    for i in _ignored(en):
        cell = nb.cells[i]
        assert cell.cell_type == "code", f"{name} cell {i}"
        assert ".check(" not in cell.source and "### BEGIN SOLUTION" not in cell.source, \
            f"{name} cell {i}: an exercise's cell is compared exactly"
    if name.startswith("01_"):  # analytic: NumPy on a fixed loss, the same digits on every machine
        assert _ignored(en) == []
