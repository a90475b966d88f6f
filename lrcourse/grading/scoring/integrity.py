"""Integrity flags: code a submission added that reaches for the checks or the interpreter's machinery.

Like learntools, the course ships its references and checks inside the package,
so a learner can call ``ex.gd_step.reference`` instead of writing ``gd_step``;
and the checks run in the learner's own process, so code that rewrites the
interpreter could forge a pass. Neither is stopped, but each needs code that
reads as what it is. :func:`scan` reads (never runs) every code cell that is not
a released cell unchanged and names, per cell and line, each use of:

* a check's internals: ``.reference``, ``.mistakes``, ``.cases``, any private or
  dunder attribute (``ex._core``, ``__dict__``, ``__globals__``), and any import of
  ``lrcourse.exercises`` or ``lrcourse.grading``;
* introspection: ``inspect``, ``gc``, ``sys._getframe``, ``ctypes``;
* the import system and the builtins: ``importlib``, ``__import__``,
  ``sys.modules``, ``sys.meta_path``, ``sys.path_hooks``, ``builtins``,
  ``__builtins__``, ``exec``, ``eval``, ``compile``;
* IPython's hooks: ``get_ipython``, ``sys.settrace``, ``sys.setprofile``,
  ``sys.excepthook``, ``sys.addaudithook``;
* signals to other processes: ``os.kill``, ``os.killpg``, ``signal``.

A flag is for the instructor to look at; it never changes a score. A cell that
cannot be parsed is flagged as such (its code did not run as Python either).
"""
from __future__ import annotations

import ast

import nbformat

__all__ = ["scan"]

_ATTRIBUTES = {
    "reference": "reads a check's reference implementation (.reference)",
    "mistakes": "reads a check's known mistakes (.mistakes)",
    "cases": "reads a check's cases (.cases)",
    "_getframe": "reads interpreter frames (sys._getframe)",
    "modules": None, "meta_path": None, "path_hooks": None, "settrace": None, "setprofile": None,
    "excepthook": None, "addaudithook": None, "kill": None, "killpg": None,
}
_SYS = {"modules": "sys.modules", "meta_path": "sys.meta_path", "path_hooks": "sys.path_hooks",
        "settrace": "sys.settrace", "setprofile": "sys.setprofile", "excepthook": "sys.excepthook",
        "addaudithook": "sys.addaudithook", "_getframe": "sys._getframe"}
_NAMES = {
    "get_ipython": "reaches into IPython (get_ipython)",
    "__import__": "calls the import machinery directly (__import__)",
    "__builtins__": "changes or reads the builtins (__builtins__)",
    "exec": "runs code from a string (exec)",
    "eval": "runs code from a string (eval)",
    "compile": "compiles code from a string (compile)",
}
_MODULES = {
    "inspect": "introspects code (inspect)",
    "gc": "walks the interpreter's objects (gc)",
    "ctypes": "calls C directly (ctypes)",
    "importlib": "uses the import machinery (importlib)",
    "builtins": "changes or reads the builtins (builtins)",
    "signal": "sends or handles signals (signal)",
    "lrcourse.exercises": "imports the checks (lrcourse.exercises)",
    "lrcourse.grading": "imports the grader (lrcourse.grading)",
}


def _module_flag(name: str) -> str | None:
    for module, why in _MODULES.items():
        if name == module or name.startswith(module + "."):
            return why
    return None


def _magic(line: str) -> bool:
    return line.lstrip().startswith(("%", "!"))


def _parse(source: str) -> tuple[ast.AST | None, set[int]]:
    """The cell's syntax tree as the kernel runs it, and the lines that are IPython magics or shell escapes.

    A cell magic's body (``%%time``) is read as Python; line magics are left out, line numbers kept; a magic
    inside an expression (``files = !ls``) is read through IPython's own transformer."""
    lines = source.splitlines()
    magics = {n for n, line in enumerate(lines, 1) if _magic(line)}
    if lines and lines[0].lstrip().startswith("%%"):
        lines = [""] + lines[1:]
    try:
        return ast.parse("\n".join("" if _magic(line) else line for line in lines)), magics
    except SyntaxError:
        pass
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        text = TransformerManager().transform_cell(source)
        magics |= {n for n, line in enumerate(lines, 1) if "%" in line or "!" in line}
        return ast.parse(text), magics
    except Exception:
        return None, magics


def _flags_in(source: str) -> list[tuple[int, str]]:
    tree, magics = _parse(source)
    if tree is None:
        return [(1, "does not parse as Python")]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 1)
        if isinstance(node, ast.Import):
            found += [(line, why) for alias in node.names if (why := _module_flag(alias.name))]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            why = _module_flag(node.module)
            if why is None and node.module == "lrcourse":
                why = next((w for a in node.names if (w := _module_flag(f"lrcourse.{a.name}"))), None)
            if why is None and node.module in ("sys", "os"):
                hits = [a.name for a in node.names if a.name in _SYS or a.name in ("kill", "killpg")]
                why = f"imports {', '.join(hits)} from {node.module}" if hits else None
            if why:
                found.append((line, why))
        elif isinstance(node, ast.Name) and node.id in _NAMES:
            if not (node.id == "get_ipython" and line in magics):  # what IPython made of a magic
                found.append((line, _NAMES[node.id]))
        elif isinstance(node, ast.Attribute):
            attr, owner = node.attr, node.value
            owner_name = owner.id if isinstance(owner, ast.Name) else None
            if attr in _SYS and owner_name == "sys":
                found.append((line, f"uses {_SYS[attr]}"))
            elif attr in ("kill", "killpg") and owner_name == "os":
                found.append((line, f"signals another process (os.{attr})"))
            elif attr in ("reference", "mistakes", "cases"):
                found.append((line, _ATTRIBUTES[attr]))
            elif attr.startswith("_"):
                found.append((line, f"reads a private attribute (.{attr})"))
    return sorted(set(found))


def scan(nb: nbformat.NotebookNode, release: nbformat.NotebookNode) -> list[str]:
    """One line per flag in ``nb``'s code cells that are not released cells unchanged, in notebook order."""
    released = {cell.source.strip() for cell in release.cells if cell.cell_type == "code"}
    flags = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or cell.source.strip() in released:
            continue
        name = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") or cell.get("id") or f"#{index + 1}"
        for line, why in _flags_in(cell.source):
            flags.append(f"cell {name}, line {line}: {why}")
    return flags
