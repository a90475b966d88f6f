"""The package's shape: no import circle anywhere in lrcourse, and grading/ a one-way pipeline.

The imports are read from the source (every ``import`` and ``from ... import``, at module level or inside a
function), so an import deferred into a function to dodge a circle is still seen.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from _course import ROOT
from lrcourse import syllabus

PACKAGE = ROOT / "lrcourse"

#: grading's stages, in pipeline order: a module may import from its own stage and the stages before it.
STAGES = ["messages", "results", "authoring", "sandbox", "scoring", "batch", "reports"]


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module(p): p for p in PACKAGE.rglob("*.py")}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The lrcourse modules that module ``name`` imports (a package's ``__init__`` counts as the package)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            targets = [source] + [f"{source}.{a.name}" for a in node.names]
        for target in targets:
            while target and target not in known:  # lrcourse.grading.batch.pool.grade_all -> ...pool
                target = target.rpartition(".")[0]
            if target and target != name and target.startswith("lrcourse"):
                found.add(target)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: {t for t in _imports(name, path, known) if t != "lrcourse"} for name, path in modules.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of ``graph``, as a path that starts and ends at the same module; None if there is none."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def _is_package(name: str) -> bool:
    return (ROOT / Path(*name.split(".")) / "__init__.py").is_file()


def test_lrcourse_has_no_import_circle():
    # a package's __init__ is not a module that imports its children here (none of ours re-exports them)
    graph = {name: {t for t in targets if not (_is_package(t) and name.startswith(t + "."))}
             for name, targets in _graph().items()}
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def _stage(name: str) -> str | None:
    parts = name.split(".")
    return parts[2] if len(parts) > 2 and parts[:2] == ["lrcourse", "grading"] else None


def test_grading_is_a_one_way_pipeline():
    graph = _graph()
    stages = {_stage(n) for n in graph} - {None}
    assert stages == set(STAGES), f"grading/ holds {sorted(stages)}; tests/test_layout.py:STAGES names {STAGES}"
    backwards = [(name, target) for name, targets in graph.items() for target in targets
                 if _stage(name) and _stage(target) and STAGES.index(_stage(target)) > STAGES.index(_stage(name))]
    assert backwards == []
    # the sandbox's launcher runs as a script with the standard library only
    assert not graph["lrcourse.grading.sandbox.confine"]
    assert not graph["lrcourse.grading.results"] - {"lrcourse"}


def test_nothing_below_grading_imports_it():
    """The library, the exercise checks and i18n never reach up into the grader (start reads the release format)."""
    graph = _graph()
    up = [(name, target) for name, targets in graph.items() for target in targets
          if target.startswith("lrcourse.grading") and not name.startswith(("lrcourse.grading", "lrcourse.cli"))
          and name != "lrcourse.start"]
    assert up == []


@pytest.mark.parametrize("entry", [n.exercises for n in syllabus.NOTEBOOKS])
def test_a_notebooks_check_module_holds_its_exercises_as_data_and_no_kind_of_its_own(entry):
    """Reusable exercise kinds live in lrcourse.exercises.kinds (or _core); a notebook's module only builds on them."""
    import importlib
    import inspect

    from lrcourse.exercises import Exercise, kinds

    module = importlib.import_module(f"lrcourse.exercises.{entry}")
    own = [name for name, obj in vars(module).items()
           if inspect.isclass(obj) and issubclass(obj, Exercise) and obj.__module__ == module.__name__]
    assert own == [], f"{module.__name__} defines exercise kinds {own}: move them to lrcourse.exercises.kinds"
    assert module.EXERCISES and all(isinstance(e, Exercise) for e in module.EXERCISES)
    used = {type(e) for e in module.EXERCISES} - {Exercise}
    assert used <= {getattr(kinds, name) for name in kinds.__all__}


@pytest.mark.parametrize("source, expected", [
    ("from . import x\n", {"lrcourse.grading.batch.x"}),
    ("from ..results import GradeResult\n", {"lrcourse.grading.results"}),
    ("def f():\n    from ...claims import kernel_env\n", {"lrcourse.claims"}),
    ("import lrcourse.grading.batch.x.thing\n", {"lrcourse.grading.batch.x"}),
])
def test_the_walk_reads_relative_deferred_and_attribute_imports(tmp_path, source, expected):
    path = tmp_path / "pool.py"
    path.write_text(source)
    known = {"lrcourse.grading.batch.x", "lrcourse.grading.results", "lrcourse.claims", "lrcourse.grading.batch.pool"}
    assert _imports("lrcourse.grading.batch.pool", path, known) == expected


def test_the_cycle_finder_finds_a_circle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None
