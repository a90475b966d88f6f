"""The sandbox a submission's kernel runs in: resource limits, an unprivileged user and bubblewrap
(:mod:`.confine`), and the mark on every process started for one submission, so that all of them can be
stopped (:mod:`.processes`). It imports nothing else of :mod:`lrcourse.grading`.
"""
