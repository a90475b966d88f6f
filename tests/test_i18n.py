"""The Vietnamese edition's messages: every message marked, translated, with its placeholders, and shown.

The catalog is ``lrcourse/locale/vi/LC_MESSAGES/lrcourse.po`` (compiled to the ``.mo`` beside it);
``scripts/i18n.py`` extracts the messages marked ``_()``/``N_()`` in ``lrcourse/`` and compiles it.
"""
from __future__ import annotations

import ast
import importlib
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from lrcourse import i18n
from lrcourse.exercises import _core

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import i18n as catalogs  # noqa: E402  (scripts/i18n.py)

#: Every module of lrcourse.exercises: each learner-visible message in them is marked and translated.
TRANSLATED = ("_core", "_causes", "_record", "__init__", "descent", "schedules", "optimizers", "plateau", "search",
              "finetune", "scale")
#: The modules of the exercise kinds (lrcourse.exercises.kinds): their messages are marked and translated too.
KINDS = ("__init__", "probed", "steps", "streams", "schedules", "resampling", "observed")


@pytest.fixture
def vi():
    with i18n.using("vi"):
        yield


# ----------------------------------------------------------------------------------------- the catalogs

def test_catalogs_are_in_step_with_the_source():
    assert catalogs.stale() == []


def test_every_message_has_a_vietnamese_translation():
    catalog = catalogs.read_po("vi")
    messages = catalogs.messages()
    assert len(messages) > 90
    missing = [msgid for msgid in messages if not (catalog.get(msgid) and catalog.get(msgid).string)]
    assert missing == [], f"{len(missing)} messages have no Vietnamese translation, e.g. {missing[:3]}"


def placeholder_problems(pairs) -> list[str]:
    """Each (msgid, msgstr) whose translation lost, added or renamed a ``{placeholder}``."""
    return [f"{msgid!r}: {catalogs.placeholders(msgid)} != {catalogs.placeholders(msgstr)}"
            for msgid, msgstr in pairs if msgstr and catalogs.placeholders(msgid) != catalogs.placeholders(msgstr)]


def test_translations_keep_every_placeholder():
    pairs = [(m.id, m.string) for m in catalogs.read_po("vi") if m.id]
    assert placeholder_problems(pairs) == []


def test_the_placeholder_check_catches_a_dropped_or_renamed_placeholder():
    assert placeholder_problems([("{name} is {actual}", "{name} là")])
    assert placeholder_problems([("{name} is {actual}", "{ten} là {actual}")])
    assert not placeholder_problems([("{a} then {b}", "{b} sau {a}"), ("{{literal}} {x}", "{x} {{nguyên văn}}")])


def test_the_compiled_catalog_is_what_the_package_loads():
    assert (i18n.LOCALE_DIR / "vi" / "LC_MESSAGES" / "lrcourse.mo").is_file()
    table = i18n.translations("vi")
    assert table["Did you add the gradient instead of subtracting it?"] == \
        "Bạn có cộng gradient thay vì trừ đi không?"


# ----------------------------------------------------------------------------------------- marking

WORDS = re.compile(r"[A-Za-z]{2,}")


def unmarked_messages(path: Path) -> list[str]:
    """English text in ``path`` that a learner could see but that no ``_()``/``N_()`` marks.

    Flags every f-string with two or more words (it cannot be looked up in a catalog) and every other
    string of three or more words, except docstrings, marked messages, an exercise's ``exempt``
    reasons and ``Bound`` names (for maintainers), ``PROPERTIES`` and ``__all__``, and a line that says
    ``# i18n:`` why it is not for learners.
    """
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    tree = ast.parse(source)
    skip: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef)) and body and \
                isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            skip.add(id(body[0].value))
        if isinstance(node, ast.Call):
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            if name in catalogs.MARKERS:
                skip.update(id(a) for a in node.args if isinstance(a, ast.Constant))
            if name == "Bound" and node.args:
                skip.add(id(node.args[0]))
            for kw in node.keywords:
                if kw.arg == "exempt":
                    skip.update(id(s) for s in ast.walk(kw.value))
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") in ("PROPERTIES", "__all__") for t in node.targets):
            skip.update(id(s) for s in ast.walk(node.value))
    found = []
    for node in ast.walk(tree):
        if "# i18n:" in lines[node.lineno - 1] if hasattr(node, "lineno") else False:
            continue
        if isinstance(node, ast.JoinedStr):
            text = " ".join(v.value for v in node.values if isinstance(v, ast.Constant))
            if len(WORDS.findall(text)) >= 2:
                found.append(f"{path.name}:{node.lineno}: f-string {text[:60]!r}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip \
                and " " in node.value.strip() and len(WORDS.findall(node.value)) >= 3:
            if not any(id(node) in {id(v) for v in j.values} for j in ast.walk(tree) if isinstance(j, ast.JoinedStr)):
                found.append(f"{path.name}:{node.lineno}: {node.value[:60]!r}")
    return found


def test_every_exercise_module_is_covered():
    found = sorted(p.stem for p in (ROOT / "lrcourse" / "exercises").glob("*.py"))
    assert found == sorted(TRANSLATED)
    assert sorted(p.stem for p in (ROOT / "lrcourse" / "exercises" / "kinds").glob("*.py")) == sorted(KINDS)


@pytest.mark.parametrize("module", list(TRANSLATED) + [f"kinds/{k}" for k in KINDS])
def test_every_learner_message_is_marked_for_translation(module):
    assert unmarked_messages(ROOT / "lrcourse" / "exercises" / f"{module}.py") == []


def test_the_marking_check_finds_an_english_f_string_and_a_bare_message(tmp_path):
    path = tmp_path / "m.py"
    path.write_text('"""Docstring, not shown."""\nx = f"got {a}, expected {b}"\ny = "a bare message for learners"\n'
                    'z = _("a marked message here")\nw = "one_identifier"\n')
    assert [line.split(":")[1] for line in unmarked_messages(path)] == ["2", "3"]


def _own_scope(fn: ast.AST):
    """The nodes of ``fn``'s own scope: not those of a nested function, lambda or comprehension (their names are
    their own)."""
    todo = list(ast.iter_child_nodes(fn))
    while todo:
        node = todo.pop()
        yield node
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ListComp, ast.SetComp,
                                 ast.DictComp, ast.GeneratorExp, ast.ClassDef)):
            todo.extend(ast.iter_child_nodes(node))


def rebinding_functions(source: str) -> list[int]:
    """The lines of the functions in ``source`` that call ``_()`` and also bind ``_`` in their own scope."""
    bad = []
    for fn in ast.walk(ast.parse(source)):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            own = list(_own_scope(fn))
            binds = any(isinstance(n, ast.Name) and n.id == "_" and isinstance(n.ctx, ast.Store) for n in own)
            calls = any(isinstance(n, ast.Call) and getattr(n.func, "id", "") == "_" for n in ast.walk(fn))
            if binds and calls:
                bad.append(fn.lineno)
    return bad


def test_no_function_that_translates_rebinds_the_underscore():
    """``for _ in ...`` inside a function that calls ``_()`` would turn every message there into a crash
    (UnboundLocalError, or an int called); a comprehension's ``_`` is its own and harmless."""
    bad = [f"{path.name}:{line}" for path in (ROOT / "lrcourse").rglob("*.py")
           for line in rebinding_functions(path.read_text(encoding="utf-8"))]
    assert bad == []


def test_the_rebinding_check_sees_a_loop_and_a_tuple_but_not_a_comprehension():
    source = ("def a(n):\n    for _ in range(n):\n        pass\n    raise ValueError(_('x'))\n"
              "def b(f):\n    y, _ = f()\n    return _('y')\n"
              "def c(ps):\n    s = [0 for _ in ps]\n    return _('z')\n")
    assert rebinding_functions(source) == [1, 5]


ERRORS = {"ValueError", "TypeError", "RuntimeError", "FileNotFoundError", "StartError"}
#: where an error is for an instructor or a maintainer, not a learner: the grader's command line and sandbox
#: (an instructor's terminal) and the i18n module itself (its catalog may be missing); ``lrcourse start``'s are a
#: learner's, in the language of ``--lang``
UNTRANSLATED_ERRORS = ("grading/", "i18n.py")


def untranslated_errors(path: Path) -> list[str]:
    """``raise ValueError("...")`` (or TypeError, RuntimeError, FileNotFoundError, StartError) whose message is
    not ``_()``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and getattr(node.exc.func, "id", "") in ERRORS:
            arg = node.exc.args[0] if node.exc.args else None
            if isinstance(arg, ast.Call) and isinstance(arg.func, ast.Attribute) and arg.func.attr == "format":
                arg = arg.func.value
            if not (isinstance(arg, ast.Call) and getattr(arg.func, "id", "") in catalogs.MARKERS):
                found.append(f"{path.name}:{node.lineno}")
    return found


def test_every_argument_error_of_the_library_is_marked_for_translation():
    paths = [p for p in (ROOT / "lrcourse").rglob("*.py")
             if not any(part in p.relative_to(ROOT / "lrcourse").as_posix() for part in UNTRANSLATED_ERRORS)]
    assert len(paths) > 30
    assert [f for p in paths for f in untranslated_errors(p)] == []


def test_the_error_check_finds_an_f_string_and_a_bare_message(tmp_path):
    path = tmp_path / "m.py"
    path.write_text('def f(x):\n    raise ValueError(f"x must be > 0, got {x}")\n'
                    'def g(x):\n    raise TypeError("x must be a number")\n'
                    'def h(x):\n    raise ValueError(_("x must be > 0, got {x}").format(x=x))\n'
                    'def k(x):\n    raise ValueError(_("x must be a number"))\n')
    assert untranslated_errors(path) == ["m.py:2", "m.py:4"]


# ----------------------------------------------------------------------------------------- choosing

def test_english_is_the_default_and_set_language_switches_and_validates():
    assert i18n.get_language() == "en"
    with i18n.using("vi"):
        assert i18n.get_language() == "vi"
    assert i18n.get_language() == "en"
    for bad in ("fr", "VI", None, 1):
        with pytest.raises(ValueError, match="language must be one of 'en', 'vi'"):
            i18n.set_language(bad)
    assert i18n.get_language() == "en"


def test_set_language_is_reachable_from_the_package():
    import lrcourse

    assert lrcourse.set_language is i18n.set_language


# ----------------------------------------------------------------------------------------- what learners see

def _exercises(module: str):
    return importlib.import_module(f"lrcourse.exercises.{module}").EXERCISES


@pytest.mark.parametrize("module", [m for m in TRANSLATED if not m.startswith("_")])
def test_every_known_mistake_is_explained_in_vietnamese(module, vi):
    """Each known mistake, checked in Vietnamese, names the mistake in Vietnamese and nothing of the English."""
    table = i18n.translations("vi")
    for ex in _exercises(module):
        for mistake in ex.mistakes:
            with pytest.raises(AssertionError) as info:
                ex.check(mistake.fn)
            text = str(info.value)
            english = i18n.key(mistake.message)
            assert table[english] in text, (ex.name, english, text)
            assert english not in text
            assert f"Gọi ex.{ex.name}.hint() để xem gợi ý." in text


@pytest.mark.parametrize("module", [m for m in TRANSLATED if not m.startswith("_")])
def test_pass_lines_hints_and_not_attempted_messages_are_in_vietnamese(module, vi, capsys):
    for ex in _exercises(module):
        ex.check(ex.reference)
        assert f"✓ {ex.name}: đạt tất cả {len(ex.cases)} trường hợp ({ex.points}/{ex.points} điểm)" in capsys.readouterr().out
        ex.hint()
        hint = capsys.readouterr().out
        assert hint.startswith(f"Gợi ý cho {ex.name}: ") and i18n.translations("vi")[i18n.key(ex.hint_text)] in hint

        def stub(*args, **kwargs):
            raise NotImplementedError()
        with pytest.raises(AssertionError, match=f"{ex.name} chưa được làm"):
            ex.check(stub)


def test_a_case_note_a_named_input_and_a_comparator_read_in_vietnamese(vi):
    from lrcourse.exercises import descent as ex

    def no_x0(grad, x0, lr, num_steps, max_norm=1e6):
        x, points = np.array(x0, dtype=float), []
        for _step in range(num_steps):
            x = x - lr * grad(x)
            points.append(x)
        return np.array(points), False
    with pytest.raises(AssertionError) as info:
        ex.gradient_descent.check(no_x0)
    text = str(info.value)
    assert "grad=grad của 2*x^2/2" in text and "điểm thay vì" in text, text


def test_english_feedback_is_unchanged_by_the_catalog():
    from lrcourse.exercises import descent as ex

    with pytest.raises(AssertionError, match="Did you add the gradient instead of subtracting it"):
        ex.gd_step.check(lambda x, grad, lr: x + lr * grad)


def test_a_vietnamese_failure_is_counted_as_its_english_known_mistake():
    """The class report tallies one mistake across a class, whichever edition each learner used."""
    from lrcourse.exercises import descent as ex
    from lrcourse.grading.scoring.mistakes import known_mistake

    with i18n.using("vi"), pytest.raises(AssertionError) as info:
        ex.max_stable_lr.check(lambda H: 2.0 / np.trace(H))
    assert known_mistake("descent", "max_stable_lr", str(info.value)) == \
        "The trace is the sum of all eigenvalues; the bound uses only the largest."


def test_fmt_translates_only_what_the_catalog_knows(vi):
    assert _core.fmt(np.zeros((3, 3))) == "<mảng có shape (3, 3)>"
    assert _core.fmt(np.sin) == "sin"


def test_translations_are_read_once_and_cannot_be_changed_by_a_caller():
    table = i18n.translations("vi")
    assert table is i18n.translations("vi")  # cached: the grader asks for every failed check
    with pytest.raises(TypeError):
        table["Did you add the gradient instead of subtracting it?"] = "changed"
    assert dict(i18n.translations("en")) == {}


def test_a_notebooks_language_comes_from_its_metadata_else_from_its_code():
    import nbformat

    code = nbformat.v4.new_code_cell
    nb = nbformat.v4.new_notebook(cells=[code("import lrcourse\nlrcourse.set_language('vi')  # choose")])
    assert i18n.notebook_language(nb) == "vi"  # a copy that lost its metadata
    nb.metadata["lrcourse"] = {"language": "en"}
    assert i18n.notebook_language(nb) == "en"  # the release's metadata wins
    assert i18n.notebook_language(nbformat.v4.new_notebook(cells=[code("x = 1")])) == "en"


# ----------------------------------------------------------------------------------------- argument errors

def _bad_calls():
    """One wrong call of each public family of the library, with the argument its error must name."""
    from lrcourse import (claims, data, descent, finetune, losses, models, optimizers, plateau, plotting, scale,
                          schedules, search, stacked, training, widgets)

    return {
        "descent": (lambda: descent.run(losses.quadratic_1d(1.0), 1.0, lr=-0.1), "lr"),
        "descent.lr_regime": (lambda: descent.lr_regime(a=0.0, lr=0.1), "a"),
        "losses": (lambda: losses.ill_conditioned(kappa=0.5), "kappa"),
        "schedules": (lambda: schedules.cosine(lr=0.1, total_steps=10, min_lr=0.5), "min_lr"),
        "schedules.one_cycle": (lambda: schedules.one_cycle(0.1, 100, anneal="cubic"), "anneal"),
        "optimizers": (lambda: optimizers.Adam(lr=1e-3, betas=(1.5, 0.999)), "betas"),
        "optimizers.SGD": (lambda: optimizers.SGD(lr=0.1, nesterov=True), "nesterov"),
        "plateau": (lambda: plateau.ReduceLROnPlateau(lr=0.1, factor=1.5), "factor"),
        "plateau.EarlyStopping": (lambda: plateau.EarlyStopping(patience=3, mode="up"), "mode"),
        "search": (lambda: search.kfold(10, k=20), "k"),
        "search.suggest_lr": (lambda: search.suggest_lr([1e-3, 1e-2], [1.0, 0.5], method="cliff"), "method"),
        "search.log_uniform": (lambda: search.log_uniform(1.0, 0.1), "high"),
        "training": (lambda: training.mlp(num_features=0, num_classes=10), "num_features"),
        "training.train": (lambda: training.train(training.mlp(64, 10), data.digits(), lambda t: 0.1, 1, per="batch"),
                           "per"),
        "finetune": (lambda: finetune.select_device(prefer="tpu"), "prefer"),
        "finetune.freeze": (lambda: finetune.freeze(models.small_resnet(), train_bn="yes"), "train_bn"),
        "models": (lambda: models.pretrained_small_resnet(source="imagenet21k"), "source"),
        "data": (lambda: data.digits(val_fraction=1.5), "val_fraction"),
        "scale": (lambda: scale.linear_scaling(0.1, base_batch=32, batch=0), "batch"),
        "scale.width_mlp": (lambda: scale.width_mlp(64, 10, width=64, parametrization="ntk"), "parametrization"),
        "stacked": (lambda: stacked.StackedOptimizer([], [0.1], rule="adamax"), "rule"),
        "widgets": (lambda: widgets.HorizonExplorer(max_steps=5), "max_steps"),
        "plotting": (lambda: plotting.plot_schedule(lambda t: 0.1, num_steps=-1), "num_steps"),
        "claims": (lambda: claims.claim(True, message=3), "message"),
        "i18n.grouped": (lambda: i18n.grouped(1.5, decimals=-1), "decimals"),
    }


@pytest.mark.parametrize("family", list(_bad_calls()))
def test_a_wrong_argument_is_explained_in_vietnamese(family):
    """After ``set_language("vi")`` a wrong argument raises its error in Vietnamese, naming the argument as the
    learner types it; in English it is the message the tests elsewhere match."""
    call, argument = _bad_calls()[family]
    with pytest.raises((ValueError, TypeError)) as english:
        call()
    with i18n.using("vi"), pytest.raises((ValueError, TypeError)) as vietnamese:
        call()
    en, vi_text = str(english.value), str(vietnamese.value)
    assert type(english.value) is type(vietnamese.value)
    assert argument in en and argument in vi_text, (en, vi_text)
    assert vi_text != en
    assert re.search(r"[ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ]", vi_text), vi_text
    # not English with a Vietnamese word in it: no run of four English words survives
    assert not re.search(r"\b(?:must|got|expected|should|the|a|an)\b(?:\s+[a-z]+){3}", vi_text), vi_text
