"""Release the course, and grade a class's submissions: a one-way pipeline, each stage a subpackage.

::

    messages.py                                the grader's own words, stored in English, shown in any language
    authoring/  release.py execute.py          solutions/ -> notebooks/; run a notebook headless (maintainers)
    results.py                                 CheckResult, GradeResult and the JSON of a run (every stage reads it)
    sandbox/    confine.py processes.py        limits, bubblewrap, an unprivileged user; stop a submission's processes
    scoring/    submission.py integrity.py     one notebook: restore its checks, flag what reaches for them,
                rewrite.py run.py score.py     arm each check's pass record, run it confined, score each check,
                mistakes.py grade.py           name the known mistake; grade.grade_notebook is the four steps
    batch/      roster.py pool.py worker.py    a class: who and which shard; each submission in its own process
    reports/    tables.py feedback.py          the table, CSV and JSON; feedback pages; the class report
                classreport.py

A module imports only from its own stage and the stages above it in this list (``results`` from none,
``messages`` from i18n only;
``tests/test_layout.py`` walks the imports). ``lrcourse grade`` (:mod:`lrcourse.cli`) is roster ->
pool -> (worker -> scoring) -> tables/feedback/classreport.

Heavy imports (nbgrader, nbclient) happen inside these modules, not here.
"""
