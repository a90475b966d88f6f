"""Which known mistake a failed check reports: the class report counts each across the class, in any language."""
from __future__ import annotations

import importlib

from ... import i18n

__all__ = ["known_mistake"]


def known_mistake(module: str | None, exercise: str | None, message: str) -> str | None:
    """The message of the known mistake of ``exercise`` (in ``lrcourse.exercises.<module>``) that a failed
    check's ``message`` reports, if any: the check names it only when every case agrees with it."""
    if not module or not exercise or not message:
        return None
    try:
        checks = importlib.import_module(f"lrcourse.exercises.{module}")
    except ImportError:
        return None
    ex = getattr(checks, exercise, None)
    for mistake in getattr(ex, "mistakes", ()):
        if not mistake.message:
            continue
        english = i18n.key(mistake.message)
        # the report counts one mistake across the class, whichever language each feedback was in
        if english in message or any(i18n.translations(language).get(english, english) in message
                                     for language in i18n.LANGUAGES[1:]):
            return english
    return None
