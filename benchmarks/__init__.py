"""The project's measuring scripts, importable from the repository root (``import benchmarks.gpu_check``), as the
tests import them, and runnable as scripts (``python benchmarks/run_notebooks.py``)."""
