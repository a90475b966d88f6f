"""What instructors and students take home from a run: the table, CSV and JSON (:mod:`.tables`), a
feedback page per submission in its student's language (:mod:`.feedback`), and the class report
(:mod:`.classreport`).
"""
