"""pytest's entry to the suite: the tiers, the order on the workers and the environment of tests/_tiers.py, here at
the root so that they hold whatever paths pytest is given (``pytest solutions/01_gradient_descent.ipynb`` too).
The fixtures are in tests/conftest.py."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "tests"))

from _tiers import (pytest_collection_modifyitems, pytest_configure,  # noqa: E402,F401  (pytest's hooks)
                    pytest_ignore_collect, pytest_xdist_auto_num_workers)
