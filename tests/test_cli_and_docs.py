"""Docstring examples run; `lrcourse execute` and the benchmark script work."""
from __future__ import annotations

import doctest
import importlib

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from _course import ROOT
from lrcourse import cli

MODULES = ["lrcourse.losses", "lrcourse.descent", "lrcourse.plotting", "lrcourse.widgets", "lrcourse.schedules",
           "lrcourse.data", "lrcourse.training", "lrcourse.optimizers", "lrcourse.plateau",
           "lrcourse.search", "lrcourse.models", "lrcourse.syllabus"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    import matplotlib

    matplotlib.use("Agg")
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def _write(tmp_path, sources):
    nb = new_notebook(cells=[new_code_cell(s) for s in sources],
                      metadata={"kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"}})
    path = tmp_path / "tiny.ipynb"
    nbformat.write(nb, path)
    return path


def test_execute_stores_outputs_inplace_and_reports_seconds(tmp_path, capsys, kernels):
    path = _write(tmp_path, ["print(6 * 7)"])
    assert cli.main(["execute", str(path), "--inplace"]) == 0
    assert capsys.readouterr().out.startswith(f"{path}: ")
    nb = nbformat.read(path, as_version=4)
    assert nb.cells[0].outputs[0]["text"] == "42\n"
    assert "execution" not in nb.cells[0].metadata


def test_execute_reports_a_failing_notebook_and_goes_on(tmp_path, capsys, kernels):
    bad = _write(tmp_path, ["1 / 0"])
    missing = tmp_path / "missing.ipynb"
    assert cli.main(["execute", str(bad), str(missing)]) == 2
    captured = capsys.readouterr()
    assert "FAILED" in captured.out and "ZeroDivisionError" in captured.out
    assert "does not exist" in captured.err
    assert nbformat.read(bad, as_version=4).cells[0].outputs == [], "without --inplace nothing is written"


def test_benchmark_reports_import_time_without_torch():
    from benchmarks import run_notebooks as bench

    seconds, torch_loaded = bench.import_time(repeats=1)
    assert 0 < seconds < 0.3 and torch_loaded is False


def test_version_and_missing_command(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["--version"])
    assert info.value.code == 0 and capsys.readouterr().out.startswith("lrcourse 0.")
    with pytest.raises(SystemExit) as info:
        cli.main([])
    assert info.value.code == 2


def test_benchmark_times_each_cell(tmp_path, kernels):
    from lrcourse.grading.authoring.execute import cell_seconds, execute_notebook

    nb, total = execute_notebook(_write(tmp_path, ["import time; time.sleep(0.2)"]), record_timing=True)
    assert 0.2 <= cell_seconds(nb.cells[0]) <= total
    from benchmarks import run_notebooks as bench

    failing = bench.time_notebook(_write(tmp_path, ["1 / 0"]))
    assert failing["error"].startswith("CellExecutionError") and failing["seconds"] > 0


def test_benchmark_budgets_name_real_notebooks_and_are_tighter_than_the_default():
    from benchmarks import run_notebooks as bench

    solutions = {p.name for p in (ROOT / "solutions").glob("*.ipynb")}
    assert set(bench.NOTEBOOK_BUDGETS_S) <= solutions
    assert all(b < bench.NOTEBOOK_BUDGET_S for b in bench.NOTEBOOK_BUDGETS_S.values())
    assert bench.NOTEBOOK_BUDGETS_S["04_reduce_on_plateau.ipynb"] == 30.0
    assert bench.NOTEBOOK_BUDGETS_S["05_lr_search.ipynb"] == 45.0
    assert bench.NOTEBOOK_BUDGETS_S["07_lr_at_scale.ipynb"] == 45.0


def test_benchmark_measures_the_sweep_against_one_run_in_one_process():
    from benchmarks import run_notebooks as bench

    assert bench.SWEEP_BUDGET_RATIO == 3.0
    r = bench.sweep_ratio(hidden=8, num_lrs=2, repeats=1)
    assert r["one_run_s"] > 0 and r["sweep_s"] > 0 and r["ratio"] == r["sweep_s"] / r["one_run_s"]


def test_grading_benchmark_holds_the_issues_budgets():
    from benchmarks import grading as bench

    assert bench.GRADE_BUDGET == 1.15 and bench.JOBS_BUDGET == 0.65  # issue 18: with sandbox and limits
    assert bench._best(lambda: None, 3) >= 0
