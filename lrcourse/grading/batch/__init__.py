"""Grading a class: who submitted what and which shard it is in (:mod:`.roster`), and every submission graded
in a process of its own, ``jobs`` at a time (:mod:`.pool`, which starts :mod:`.worker`).
"""
