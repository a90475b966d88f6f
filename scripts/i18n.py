"""Keep the gettext catalogs in step with the source: ``python scripts/i18n.py [extract|compile|check]``.

* ``extract`` collects every message marked ``_("...")``, ``N_("...")`` or ``gettext_("...")`` in
  ``lrcourse/`` into ``lrcourse/locale/lrcourse.pot`` and merges it into each language's ``.po``
  (translations kept; a message no longer in the source is dropped, a new one is added untranslated);
* ``compile`` writes each ``.po`` as the ``.mo`` the package ships;
* ``check`` writes nothing and exits 1 when the template, a ``.po``'s message list or a ``.mo`` is out of
  date (``tests/test_i18n.py`` runs the same comparison).

The messages' keys are :func:`lrcourse.i18n.key` of the literal: multi-line text is ``inspect.cleandoc``-ed.
It needs Babel (a test dependency): ``pip install babel``.
"""
from __future__ import annotations

import ast
import datetime
import io
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lrcourse import i18n  # noqa: E402

MARKERS = {"_", "N_", "gettext_"}
HEADER = dict(copyright_holder="the lrcourse developers", msgid_bugs_address="", last_translator="lrcourse developers",
              language_team="lrcourse developers")
POT = i18n.LOCALE_DIR / f"{i18n.DOMAIN}.pot"
PLACEHOLDER = re.compile(r"(?<!\{)\{([A-Za-z_][A-Za-z0-9_]*)?(?:[!:][^{}]*)?\}(?!\})")


def po_path(language: str) -> Path:
    return i18n.LOCALE_DIR / language / "LC_MESSAGES" / f"{i18n.DOMAIN}.po"


def mo_path(language: str) -> Path:
    return po_path(language).with_suffix(".mo")


def placeholders(text: str) -> list[str]:
    """The ``str.format`` fields of ``text``, sorted (``{{`` and ``}}`` are literal braces)."""
    return sorted(m.group(0) for m in PLACEHOLDER.finditer(text.replace("{{", "").replace("}}", "")))


def messages(root: Path = ROOT / "lrcourse") -> dict[str, list[tuple[str, int]]]:
    """Every marked message under ``root``: key -> [(file, line), ...], in the order first met."""
    found: dict[str, list[tuple[str, int]]] = {}
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in MARKERS
                    and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
                where = (path.relative_to(ROOT).as_posix(), node.lineno)
                found.setdefault(i18n.key(node.args[0].value), []).append(where)
    return dict(sorted(found.items(), key=lambda kv: kv[1][0]))


def template():
    from babel.messages.catalog import Catalog

    catalog = Catalog(project="lrcourse", version="", charset="utf-8", fuzzy=False, **HEADER)
    for msgid, where in messages().items():
        flags = ["python-brace-format"] if placeholders(msgid) else []
        catalog.add(msgid, locations=where, flags=flags)
    return catalog


def _po_bytes(catalog) -> bytes:
    from babel.messages.pofile import write_po

    out = io.BytesIO()
    write_po(out, catalog, width=110, omit_header=False, sort_output=False, ignore_obsolete=True,
             include_previous=False, include_lineno=False)  # line numbers would go stale with every edit
    text = out.getvalue().decode("utf-8")
    # the creation date Babel stamps would change the file on every run
    text = re.sub(r'"POT-Creation-Date: [^"]*\\n"\n', "", text)
    text = re.sub(r'"PO-Revision-Date: [^"]*\\n"\n', "", text)
    return text.encode("utf-8")


def read_po(language: str):
    from babel.messages.pofile import read_po as _read

    with open(po_path(language), "rb") as f:
        return _read(f, locale=language, abort_invalid=True)


def merged(language: str):
    """``language``'s catalog with the template's messages, its translations kept."""
    from babel.messages.catalog import Catalog

    tmpl = template()
    old = read_po(language) if po_path(language).is_file() else Catalog(locale=language)
    new = Catalog(locale=language, project="lrcourse", version="", charset="utf-8", fuzzy=False, **HEADER)
    for message in tmpl:
        if not message.id:
            continue
        before = old.get(message.id)
        new.add(message.id, string=before.string if before is not None else "", locations=message.locations,
                flags=message.flags)
    return new


def mo_bytes(language: str) -> bytes:
    from babel.messages.mofile import write_mo

    catalog = read_po(language)
    # Babel stamps "now" into the header of a catalog without dates: a fixed date keeps the .mo reproducible
    catalog.creation_date = catalog.revision_date = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    out = io.BytesIO()
    write_mo(out, catalog, use_fuzzy=False)
    return out.getvalue()


def stale() -> list[str]:
    """What ``extract``/``compile`` would change, in words (empty: all in step)."""
    problems = []
    if not POT.is_file() or POT.read_bytes() != _po_bytes(template()):
        problems.append(f"{POT.relative_to(ROOT)} is out of date: run python scripts/i18n.py extract")
    for language in i18n.LANGUAGES[1:]:
        po = po_path(language)
        if not po.is_file() or po.read_bytes() != _po_bytes(merged(language)):
            problems.append(f"{po.relative_to(ROOT)} is out of date: run python scripts/i18n.py extract")
        elif not mo_path(language).is_file() or mo_path(language).read_bytes() != mo_bytes(language):
            problems.append(f"{mo_path(language).relative_to(ROOT)} is out of date: run python scripts/i18n.py compile")
    return problems


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "check"
    if command == "extract":
        POT.parent.mkdir(parents=True, exist_ok=True)
        POT.write_bytes(_po_bytes(template()))
        for language in i18n.LANGUAGES[1:]:
            po_path(language).parent.mkdir(parents=True, exist_ok=True)
            po_path(language).write_bytes(_po_bytes(merged(language)))
            print(f"wrote {po_path(language).relative_to(ROOT)}")
        return 0
    if command == "compile":
        for language in i18n.LANGUAGES[1:]:
            mo_path(language).write_bytes(mo_bytes(language))
            print(f"wrote {mo_path(language).relative_to(ROOT)}")
        return 0
    if command == "check":
        problems = stale()
        print("\n".join(problems) or "catalogs are in step with the source")
        return 1 if problems else 0
    print(f"usage: python scripts/i18n.py [extract|compile|check], got {command!r}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
