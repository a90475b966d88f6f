"""Release student notebooks from solutions and execute notebooks headless.

* :mod:`lrcourse.grading.release` — ``solutions/`` -> ``notebooks/`` with nbgrader's own
  preprocessors (clear solutions, hidden tests and outputs, lock test cells, checksums);
* :mod:`lrcourse.grading.execute` — run a notebook in a fresh kernel and time it.

Heavy imports (nbgrader, nbclient) happen inside these submodules, not here.
"""
