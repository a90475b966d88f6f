"""lrcourse — an offline Jupyter course about the learning rate.

The package backs the course notebooks with small, readable reference
implementations (losses, gradient descent, plots, widgets) and with the
exercise checks and the release/grading tools.

``import lrcourse`` is cheap: it imports neither torch nor matplotlib.
Submodules are imported on first use, so ``lrcourse.descent`` works without an
explicit ``import lrcourse.descent``.
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_SUBMODULES = (
    "cli",
    "data",
    "descent",
    "exercises",
    "finetune",
    "grading",
    "i18n",
    "losses",
    "models",
    "optimizers",
    "plateau",
    "plotting",
    "scale",
    "schedules",
    "search",
    "stacked",
    "syllabus",
    "training",
    "widgets",
)

__all__ = ["__version__", "set_language", "get_language", *_SUBMODULES]


def __getattr__(name: str) -> Any:
    if name in ("set_language", "get_language"):  # lrcourse.set_language("vi"): the notebook's language
        return getattr(importlib.import_module(f"{__name__}.i18n"), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
