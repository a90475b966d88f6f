"""Shared fixtures: paths of the course and a headless matplotlib."""
from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"
NOTEBOOKS = ROOT / "notebooks"


def solution_paths() -> list[Path]:
    return sorted(SOLUTIONS.glob("*.ipynb"))
