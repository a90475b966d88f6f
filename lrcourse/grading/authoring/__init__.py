"""Authoring, for maintainers: ``solutions/`` -> ``notebooks/`` (:mod:`.release`, with nbgrader's own
preprocessors) and a notebook run headless in a fresh kernel and timed (:mod:`.execute`).

Nothing else in :mod:`lrcourse.grading` needs these; ``lrcourse start`` reads the released bytes' format.
"""
