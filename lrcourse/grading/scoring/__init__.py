"""Scoring one submission (:func:`.grade.grade_notebook`): read it and restore its checks (:mod:`.submission`),
flag code that reaches for the checks (:mod:`.integrity`), rewrite its check cells (:mod:`.rewrite`), run it
confined (:mod:`.run`), and score each check (:mod:`.score`, naming known mistakes with :mod:`.mistakes`).
"""
