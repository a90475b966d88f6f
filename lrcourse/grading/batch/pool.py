"""Grade a class: every submission in a process of its own, ``jobs`` at a time (``lrcourse grade``).

Each submission is graded by :mod:`lrcourse.grading.batch.worker` in a fresh process: a submission that kills
or crashes the process grading it scores zero with the reason, and the others are graded regardless.
"""
from __future__ import annotations

import os
from concurrent.futures import as_completed
from pathlib import Path

from ..results import CheckResult, GradeResult
from ..sandbox.processes import MARKER, stop_marked
from ..scoring.submission import prepare, test_cells
from .. import messages as M

__all__ = ["grade_all"]


def _thread_env(jobs: int) -> dict:
    """Each of ``jobs`` parallel kernels gets its share of the cores (torch, NumPy's BLAS and OpenMP read these
    when a kernel starts): two kernels with two threads each on two cores run several times slower than one."""
    threads = str(max(1, (os.cpu_count() or 1) // jobs))
    return {name: threads for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}


def _lost(path: Path, releases: dict, reason: str) -> GradeResult:
    """The result of a submission whose grading process did not come back: every check zero, with the reason."""
    try:
        release = prepare(path, releases).release
    except Exception:
        release = None
    result = GradeResult(path, release, error=reason)
    if release is not None:
        result.checks = [CheckResult(gid, 0.0, float(cell.metadata.nbgrader.get("points", 0)), "failed", reason)
                         for gid, cell in test_cells(releases[release])]
    return result


def _grade_in_process(path: Path, releases: dict, timeout: int, jobs: int, folder: Path, index: int,
                      confinement=None, seed: int | None = None, keep: bool = False,
                      carry_forward: bool = True) -> GradeResult:
    """Grade ``path`` in a process of its own (:mod:`lrcourse.grading.batch.worker`), then stop whatever it left running."""
    import pickle
    import signal
    import subprocess
    import sys
    import uuid

    job, out = folder / f"{index}.job", folder / f"{index}.result"
    job.write_bytes(pickle.dumps((path, releases, timeout, confinement, seed, keep, carry_forward)))
    limit = confinement.limits.notebook_timeout if confinement is not None else None
    token = uuid.uuid4().hex
    env = dict(os.environ, **(_thread_env(jobs) if jobs > 1 else {}), **{MARKER: token})
    log = folder / f"{index}.log"  # a file, not a pipe: a submission that floods stderr cannot fill memory
    overran = False
    try:
        with open(log, "wb") as stderr:
            worker = subprocess.Popen([sys.executable, "-m", "lrcourse.grading.batch.worker", str(job), str(out)], env=env,
                                      stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr,
                                      start_new_session=True)
            try:  # the worker keeps the notebook's time itself; this is the backstop should it hang
                worker.wait(timeout=None if limit is None else limit + 120)
            except subprocess.TimeoutExpired:
                overran = True
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()
    finally:
        stop_marked(token)  # the kernel and anything it started, even when the worker was killed
    if out.exists():
        return pickle.loads(out.read_bytes())
    if overran:
        return _lost(path, releases, M.say(M.NOTEBOOK_STOPPED, limit=limit))
    done = worker
    if done.returncode < 0:
        name = signal.Signals(-done.returncode).name
        reason = M.say(M.KILLED, signal=name)
    else:
        with open(log, "rb") as f:
            f.seek(max(0, log.stat().st_size - 2000))
            tail = f.read().decode(errors="replace").strip().splitlines()[-1:] or [""]
        reason = (M.say(M.EXITED, status=done.returncode, tail=tail[0].strip()) if tail[0].strip()
                  else M.say(M.EXITED_SILENTLY, status=done.returncode))
    return _lost(path, releases, reason)


def grade_all(paths: list[Path], releases: dict, timeout: int = 60, jobs: int = 1,
              progress: bool = True, confinement=None, seed: int | None = None,
              keep_notebooks: bool = False, carry_forward: bool = True) -> list[GradeResult]:
    """Grade every path, ``jobs`` at a time, each in a process of its own; results in the order of ``paths``.

    ``confinement``: a :class:`~lrcourse.grading.sandbox.confine.Plan` for every kernel, or ``None`` (no limits
    but the per-cell ``timeout``). ``seed``: the checks also try hidden cases drawn with it.
    ``keep_notebooks``: keep each graded notebook (for feedback files, and in the JSON). ``carry_forward``: a
    check that fails only because of an earlier exercise's answer earns its points (``--no-carry-forward``: not).
    """
    import shutil
    import tempfile
    from concurrent.futures import ThreadPoolExecutor

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(paths), desc="grading", unit="notebook")
    results: dict[int, GradeResult] = {}
    folder = Path(tempfile.mkdtemp(prefix="lrcourse-jobs-"))
    try:
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            futures = {pool.submit(_grade_in_process, path, releases, timeout, jobs, folder, i, confinement, seed,
                                   keep_notebooks, carry_forward): i
                       for i, path in enumerate(paths)}
            for future in as_completed(futures):
                i = futures[future]
                try:
                    results[i] = future.result()
                except Exception as err:  # the grader's own failure to start a process
                    results[i] = _lost(paths[i], releases, M.say(M.GRADING_NOT_RUN, error=f"{type(err).__name__}: {err}"))
                if bar is not None:
                    bar.update(1)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        if bar is not None:
            bar.close()
    return [results[i] for i in range(len(paths))]


