"""The course's languages: English (the default) and Vietnamese (``vi``).

A notebook chooses its language once, in its first code cell::

    import lrcourse
    lrcourse.set_language("vi")

From then on every message a learner can see from ``lrcourse.exercises`` (pass
lines, wrong-answer explanations, hints, not-attempted messages) and the
labels the library draws on figures and widgets come from the Vietnamese
gettext catalog shipped in the package (``lrcourse/locale/vi/LC_MESSAGES/lrcourse.mo``,
compiled from the ``.po`` file kept beside it by ``python scripts/i18n.py``).

Messages are marked in the source in two ways:

* ``_("text with {placeholders}")`` translates now (the language in force when
  the message is made); placeholders are filled afterwards with ``.format``;
* ``N_("text")`` only marks a message kept as data (a known mistake, a hint, a
  case's note), translated with ``_`` where it is shown.

A multi-line message is looked up by its :func:`inspect.cleandoc` text, so an
indented triple-quoted hint has the same catalog entry however it is indented.
A message the catalog lacks is shown in English (``tests/test_i18n.py`` fails
before that can ship).
"""
from __future__ import annotations

import contextlib
import functools
import gettext
import inspect
import re
import types
from pathlib import Path
from typing import Any, Iterator, Mapping

__all__ = ["LANGUAGES", "set_language", "get_language", "using", "gettext_", "N_", "key", "translations",
           "notebook_language", "grouped"]

#: The languages the course is written in, English first (the default).
LANGUAGES = ("en", "vi")
DOMAIN = "lrcourse"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"

_state: dict = {"language": "en", "catalog": gettext.NullTranslations()}


def key(message: str) -> str:
    """The catalog key of ``message``: multi-line text as :func:`inspect.cleandoc` gives it."""
    return inspect.cleandoc(message) if "\n" in message else message


def _catalog(language: str) -> gettext.NullTranslations:
    if language == "en":
        return gettext.NullTranslations()
    try:
        return gettext.translation(DOMAIN, localedir=str(LOCALE_DIR), languages=[language])
    except OSError as err:
        raise RuntimeError(f"the {language!r} catalog is not installed ({err}); reinstall lrcourse") from err


def set_language(language: str) -> None:
    """Show the course's messages, hints and figure labels in ``language`` (``"en"`` or ``"vi"``).

    >>> set_language("vi"); get_language()
    'vi'
    >>> set_language("en")
    """
    if not isinstance(language, str) or language not in LANGUAGES:
        raise ValueError(gettext_("language must be one of {choices}, got {language!r}").format(
            choices=", ".join(map(repr, LANGUAGES)), language=language))
    _state["catalog"] = _catalog(language)
    _state["language"] = language


def get_language() -> str:
    """The language in force (``"en"`` unless :func:`set_language` chose another)."""
    return _state["language"]


@contextlib.contextmanager
def using(language: str) -> Iterator[None]:
    """``with using("vi"): ...``: a language for one block, the previous one restored after it."""
    before = get_language()
    set_language(language)
    try:
        yield
    finally:
        set_language(before)


def gettext_(message: str) -> str:
    """``message`` in the language in force (English when the catalog lacks it)."""
    if _state["language"] == "en" or not message:
        return key(message)
    return _state["catalog"].gettext(key(message))


def grouped(value: float, decimals: int = 0) -> str:
    """``value`` with its thousands grouped as the current language writes them, decimals after a point in both:
    ``77,429`` in English, ``77\u202f429`` in Vietnamese (a narrow no-break space, since a Vietnamese reader takes
    "77,429" for 77.429; the glossary's convention).

    >>> with using("vi"):
    ...     grouped(1890.4), grouped(77429), grouped(1234.5, decimals=1)
    ('1\u202f890', '77\u202f429', '1\u202f234.5')
    >>> grouped(77429)
    '77,429'
    """
    decimals = int(decimals)
    if decimals < 0:
        raise ValueError(gettext_("decimals must be >= 0, got {decimals}").format(decimals=decimals))
    text = f"{value:,.{decimals}f}"
    return text.replace(",", "\u202f") if get_language() == "vi" else text


def N_(message: str) -> str:
    """Mark ``message`` for the catalog without translating it (it is translated where it is shown)."""
    return message


@functools.lru_cache(maxsize=None)
def translations(language: str) -> Mapping[str, str]:
    """Every message of ``language``'s catalog, English key to translation (for the grader's matching).

    Read once per language and cached; the mapping is read-only, so no caller can change another's.
    """
    catalog = _catalog(language)
    return types.MappingProxyType(dict(getattr(catalog, "_catalog", {})))


_SET_LANGUAGE = re.compile(r"""set_language\(\s*["']([A-Za-z_]+)["']\s*\)""")


def notebook_language(nb: Any) -> str:
    """A course notebook's edition: its release's ``lrcourse.language`` metadata, else the language its code
    chooses with ``set_language("...")`` (a copy whose metadata was lost), else English.

    ``nb`` is a notebook as :mod:`nbformat` reads it. ``lrcourse start`` and the grader both ask this.
    """
    language = (nb.metadata.get("lrcourse") or {}).get("language")
    if isinstance(language, str):
        return language
    for cell in nb.cells:
        if cell.cell_type == "code":
            found = _SET_LANGUAGE.search(cell.source)
            if found:
                return found.group(1)
    return "en"
