"""Release student notebooks from solutions, execute notebooks headless, and grade submissions.

* :mod:`lrcourse.grading.release` — ``solutions/`` -> ``notebooks/`` with nbgrader's own
  preprocessors (clear solutions, hidden tests and outputs, lock test cells, checksums);
* :mod:`lrcourse.grading.execute` — run a notebook in a fresh kernel and time it;
* :mod:`lrcourse.grading.submission` — read a submission, match it to its release, restore its check cells;
* :mod:`lrcourse.grading.grade` — run one restored submission safely and score each check from its pass
  record (:mod:`lrcourse.exercises._record`) and the kernel's reply;
* :mod:`lrcourse.grading.worker` — grade one submission in a process of its own;
* :mod:`lrcourse.grading.report` — grade many (``--jobs``) into a table, CSV and JSON (``lrcourse grade``).

Heavy imports (nbgrader, nbclient) happen inside these submodules, not here.
"""
