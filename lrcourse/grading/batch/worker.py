"""Grade one submission in a process of its own: ``python -m lrcourse.grading.batch.worker JOB RESULT``.

:func:`lrcourse.grading.batch.pool.grade_all` starts one such process per submission, so that whatever a
submission's code does to the process that grades it (``os.kill(os.getppid(), 9)``, a crash) costs that
submission alone: the run, its reports and the other submissions go on. ``JOB`` is a pickle of
``(path, releases, timeout, confinement, seed, keep, carry_forward)``; the :class:`~lrcourse.grading.results.GradeResult` is pickled to ``RESULT``
(without the executed notebook).
"""
from __future__ import annotations

import os
import pickle
import sys
from pathlib import Path

def main(argv: list[str]) -> int:
    from ..._imports import skip_slow_unused_imports

    skip_slow_unused_imports()  # about 2 s of each submission's grading (lrcourse._imports)
    from .. import messages as M
    from ..results import GradeResult
    from ..scoring.grade import grade_notebook

    job, out = Path(argv[0]), Path(argv[1])
    path, releases, timeout, confinement, seed, keep, carry = pickle.loads(job.read_bytes())
    try:
        result = grade_notebook(path, releases, timeout=timeout, confinement=confinement, seed=seed,
                                carry_forward=carry)
    except Exception as err:  # a grader bug on one submission must not stop the others
        result = GradeResult(path, None, error=M.say(M.GRADER_FAILED, error=f"{type(err).__name__}: {err}"))
    if not keep:
        result.notebook = None  # only feedback needs it
    tmp = out.with_suffix(".tmp")
    tmp.write_bytes(pickle.dumps(result))
    os.replace(tmp, out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
