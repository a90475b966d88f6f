"""The package installs what it promises: same dependencies everywhere, cheap import, CI = README."""
from __future__ import annotations

import re
import subprocess
import sys

import yaml

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from _course import ROOT

# conda-forge names that differ from PyPI's
CONDA_TO_PYPI = {"pytorch": "torch"}


def _split(requirement: str) -> tuple[str, str]:
    requirement = requirement.split(";")[0].split("#")[0]  # environment markers and comments
    match = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*?)\s*$", requirement)
    assert match, requirement
    name = match.group(1).lower().replace("_", "-")
    return CONDA_TO_PYPI.get(name, name), match.group(2).replace(" ", "")


def test_environment_yml_lists_the_same_dependencies_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pypi = dict(_split(r) for r in project["dependencies"] + project["optional-dependencies"]["test"])
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda, pip_section = {}, None
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            pip_section = dep["pip"]
            for extra in pip_section[1:]:  # test dependencies that conda-forge lacks come from PyPI
                name, spec = _split(extra)
                conda[name] = spec
            continue
        name, spec = _split(dep)
        if name not in ("python", "pip"):
            conda[name] = spec
    assert conda == pypi
    assert "conda-forge" in env["channels"]
    assert pip_section[0] == "-e .", "environment.yml must install the package itself with pip"
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python"))
    assert _split(python)[1] == project["requires-python"]


def test_import_lrcourse_does_not_import_torch_and_is_fast():
    code = (
        "import sys, time; t = time.perf_counter(); import lrcourse; dt = time.perf_counter() - t; "
        "print('torch' in sys.modules, 'matplotlib' in sys.modules, dt)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[0] == "False", "import lrcourse must not import torch"
    assert out[1] == "False", "import lrcourse must not import matplotlib"
    assert float(out[2]) < 0.3


def test_notebook_01_modules_do_not_import_torch():
    code = ("import sys; import lrcourse.losses, lrcourse.descent, lrcourse.plotting, lrcourse.widgets, "
            "lrcourse.exercises.descent, lrcourse.cli; print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def _readme_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"## Quick start.*?```(?:bash|sh)?\n(.*?)```", readme, re.S)
    assert block, "README.md needs a Quick start code block"
    return [line.strip() for line in block.group(1).splitlines() if line.strip() and not line.startswith("#")]


def test_readme_quick_start_is_two_commands_and_ci_runs_the_test_one():
    commands = _readme_commands()
    assert len(commands) == 2
    launch, test = commands
    assert launch.endswith("&& lrcourse start")
    assert "pytest" in test
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    # the README's test command, with nothing added but a report of the slowest tests
    runs = [i for i, line in enumerate(ci) if re.fullmatch(re.escape(test) + r"( --durations=\d+)?", line.strip())]
    assert runs, ".ci/run must run exactly the README's test command"
    torch_line = next(i for i, line in enumerate(ci) if "torch==2.13.0" in line)
    test_line = runs[0]
    assert torch_line < test_line, ".ci/run must install torch==2.13.0 before the test command"


def test_console_script_is_declared():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["lrcourse"] == "lrcourse.cli:main"
    assert project["requires-python"] == ">=3.10"


def test_the_package_list_holds_every_package_and_the_course():
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    found = sorted(".".join(init.parent.relative_to(ROOT).parts) for init in (ROOT / "lrcourse").rglob("__init__.py"))
    assert "lrcourse.grading.scoring" in found  # subpackages at any depth
    assert sorted(setuptools["packages"]) == sorted(found + ["lrcourse.course"])
    assert setuptools["package-dir"] == {"lrcourse.course": "notebooks"}


def test_learners_do_not_install_nbgrader_but_instructors_and_tests_do():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = lambda reqs: {_split(r)[0] for r in reqs}  # noqa: E731
    assert "nbgrader" not in names(project["dependencies"])
    assert "nbgrader" in names(project["optional-dependencies"]["instructor"])
    assert "nbgrader" in names(project["optional-dependencies"]["test"])
