"""Do the course's lessons hold on another machine and with other seeds? Run the solutions perturbed and list what moves.

    python benchmarks/robustness.py [NOTEBOOK ...] [--offsets 0,1,2,3,4] [--threads 1,2,4] [--no-default-cpu]
                                    [--jobs N] [--json FILE]

Every solution notebook is executed, claims strict in spirit (a claim that does not hold is listed, and the
notebook goes on, so that one run lists them all), under each perturbation:

- **seed offset k** (``--offsets``): each notebook's setup sets ``SEED = 0`` (in the cell tagged
  ``parameters``, as papermill marks it, or before it), and every seed the notebook uses is ``SEED + i``; the run
  sets ``SEED = k``. Offset 0 is the reference run.
- **threads n** (``--threads``): torch, BLAS and OpenMP with ``n`` threads (the reference runs use one).
- **another CPU's kernels**: the oldest kernels of every library torch uses (:data:`OTHER_CPU`): torch's portable
  ones (``ATEN_CPU_CAPABILITY=default``) instead of the AVX2/AVX-512 ones, oneDNN's SSE4.1 convolutions and
  MKL's SSE4.2 paths: what this machine can do to round as another processor does.

For each run the table gives the claims of the text that did not hold, and how many printed figures (numbers
in the text outputs) moved from the stored reference outputs. A run with the reference seeds (offset 0) also lists
the figures that moved in cells nbval compares (every cell but those tagged ``nbval-ignore-output``, timings
sanitized as tests/nbval_sanitize.cfg does): one there means the README's test command would fail with that
thread count or on that CPU. Exit status 1 when a claim failed, a cell errored, or nbval would fail, in any run.
Seed offsets and threads are crossed only with the reference setting of the other (offset k at one thread; n
threads at offset 0), plus one combined run (offset 1, default CPU kernels).
"""
from __future__ import annotations

import argparse
import configparser
import json
import os
import re
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat

from lrcourse import syllabus

ROOT = Path(__file__).resolve().parents[1]
_SEED_LINE = re.compile(r"^SEED\s*=\s*(\d+)\b", re.MULTILINE)
#: The environment that makes torch round as another x86-64 processor would: each library's oldest kernels (each of
#: them changes a convolution's or a matrix product's last digits on an AVX2 machine).
OTHER_CPU = {"ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "SSE41", "MKL_ENABLE_INSTRUCTIONS": "SSE4_2"}
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?")


def seed_cell(nb: nbformat.NotebookNode) -> nbformat.NotebookNode | None:
    """The first code cell with a line ``SEED = <whole number>`` (None if there is none)."""
    for cell in nb.cells:
        if cell.cell_type == "code" and _SEED_LINE.search(cell.source):
            return cell
    return None


def shift_seed(nb: nbformat.NotebookNode, offset: int) -> nbformat.NotebookNode:
    """``nb`` with its ``SEED = s`` line made ``SEED = s + offset`` (in place; returned)."""
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise ValueError(f"offset must be a whole number >= 0, got {offset!r}")
    cell = seed_cell(nb)
    if cell is None:
        if offset == 0:
            return nb
        raise ValueError("the notebook sets no SEED (a line 'SEED = 0' in its setup), so its seeds cannot be shifted")
    cell.source = _SEED_LINE.sub(lambda m: f"SEED = {int(m.group(1)) + offset}", cell.source, count=1)
    return nb


def printed(cell: nbformat.NotebookNode) -> str:
    """A code cell's text outputs (stream text and text/plain results), joined."""
    parts = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            parts.append(str(out.get("text", "")))
        elif "data" in out:
            parts.append(str(out["data"].get("text/plain", "")))
    return "".join(parts)


NBVAL_IGNORE = "nbval-ignore-output"


def nbval_sanitizers(path: Path = ROOT / "tests" / "nbval_sanitize.cfg") -> list[tuple[re.Pattern, str]]:
    """The patterns nbval replaces before it compares outputs (timings, addresses, paths)."""
    cfg = configparser.ConfigParser()
    cfg.read(path, encoding="utf-8")
    return [(re.compile(cfg[s]["regex"]), cfg[s]["replace"]) for s in cfg.sections()]


def nbval_compared(nb: nbformat.NotebookNode) -> set[int]:
    """The indices of the code cells whose outputs nbval compares (not tagged ``nbval-ignore-output``)."""
    return {i for i, c in enumerate(nb.cells) if c.cell_type == "code"
            and NBVAL_IGNORE not in c.get("metadata", {}).get("tags", [])}


def moved_figures(reference: nbformat.NotebookNode, run: nbformat.NotebookNode,
                  sanitizers: list[tuple[re.Pattern, str]] = ()) -> list[tuple[int, int]]:
    """(cell index, how many numbers differ) for each code cell whose printed numbers differ from the reference's,
    after ``sanitizers`` (pattern, replacement) are applied to both."""
    def text(cell):
        out = printed(cell)
        for pattern, replacement in sanitizers:
            out = pattern.sub(replacement, out)
        return out

    moved = []
    for index, (a, b) in enumerate(zip(reference.cells, run.cells)):
        if a.cell_type != "code":
            continue
        x, y = _NUMBER.findall(text(a)), _NUMBER.findall(text(b))
        differ = sum(p != q for p, q in zip(x, y)) + abs(len(x) - len(y))
        if differ:
            moved.append((index, differ))
    return moved


def perturbations(offsets: list[int], threads: list[int], default_cpu: bool) -> list[dict]:
    """The runs: each seed offset at one thread, each thread count at offset 0, the portable kernels, and one
    combination."""
    runs = [{"offset": k, "threads": 1, "cpu": "native"} for k in offsets]
    runs += [{"offset": 0, "threads": n, "cpu": "native"} for n in threads if n != 1]
    if default_cpu:
        runs.append({"offset": 0, "threads": 1, "cpu": "default"})
        if 1 in offsets:
            runs.append({"offset": 1, "threads": 1, "cpu": "default"})
    return runs


def label(run: dict) -> str:
    return f"seed+{run['offset']} threads {run['threads']}" + (" default-cpu" if run["cpu"] == "default" else "")


def execute(path: Path, run: dict, timeout: int = 900, keep: Path | None = None) -> dict:
    """Execute the notebook at ``path`` under ``run``; its claims not shown, its figures moved, its seconds.
    With ``keep``, the executed notebook is written into that folder (named after the notebook and the run)."""
    from nbclient import NotebookClient

    from lrcourse.claims import kernel_env, not_shown

    reference = nbformat.read(path, as_version=4)
    nb = shift_seed(nbformat.read(path, as_version=4), run["offset"])
    env = kernel_env(strict=False, threads=run["threads"])
    for name in OTHER_CPU:
        env.pop(name, None)
    if run["cpu"] == "default":
        env.update(OTHER_CPU)
    env.setdefault("MPLBACKEND", "Agg")
    with tempfile.TemporaryDirectory() as tmp:  # nothing the notebook writes lands beside the solutions
        client = NotebookClient(nb, timeout=timeout, allow_errors=True,
                                resources={"metadata": {"path": str(path.parent)}})
        start = time.perf_counter()
        error = None
        try:
            client.execute(env={**env, "TMPDIR": tmp})
        except Exception as err:  # a dead kernel, a timeout: report it and go on
            error = f"{type(err).__name__}: {str(err).strip().splitlines()[-1] if str(err).strip() else ''}"
        seconds = time.perf_counter() - start
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, keep / f"{path.stem}.{path.parent.name}.{label(run).replace(' ', '_')}.ipynb")
    text = "".join(printed(c) for c in nb.cells if c.cell_type == "code")
    errors = [f"cell {i}: {o.get('ename')}: {o.get('evalue', '')[:200]}" for i, c in enumerate(nb.cells)
              if c.cell_type == "code" for o in c.get("outputs", []) if o.get("output_type") == "error"]
    return {"notebook": path.name, "edition": path.parent.name if path.parent.name != "solutions" else "en",
            "run": label(run), **run, "seconds": round(seconds, 1), "claims_not_shown": not_shown(text),
            "errors": errors + ([error] if error else []),
            "figures_moved": moved_figures(reference, nb),
            # with the reference seeds, what nbval compares must not move (another thread count or CPU)
            "nbval_moved": [] if run["offset"] else [(i, n) for i, n in moved_figures(reference, nb, nbval_sanitizers())
                                                     if i in nbval_compared(reference)]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", help="solution notebooks (default: every solutions/*.ipynb)")
    parser.add_argument("--offsets", default="0,1,2,3,4", help="seed offsets, comma-separated (default 0,1,2,3,4)")
    parser.add_argument("--threads", default="1,2,4", help="thread counts, comma-separated (default 1,2,4)")
    parser.add_argument("--no-default-cpu", action="store_true", help="skip the runs with another CPU's kernels (OTHER_CPU)")
    parser.add_argument("--jobs", type=int, default=max(1, (os.cpu_count() or 1)),
                        help="one-thread notebooks run side by side, this many at once (default: the CPU count)")
    parser.add_argument("--json", help="also write every run's result to this JSON file")
    parser.add_argument("--keep", help="write every executed notebook into this folder")
    args = parser.parse_args(argv)
    os.environ.setdefault("MPLBACKEND", "Agg")

    offsets = [int(x) for x in args.offsets.split(",") if x.strip()]
    threads = [int(x) for x in args.threads.split(",") if x.strip()]
    paths = [Path(p) for p in args.notebooks] or [ROOT / "solutions" / name for name in syllabus.files()]
    jobs = [(p, r) for p in paths for r in perturbations(offsets, threads, not args.no_default_cpu)]
    # One-thread runs side by side; a run with n threads alone (n threads on fewer cores would time nothing right).
    narrow = [j for j in jobs if j[1]["threads"] == 1]
    wide = [j for j in jobs if j[1]["threads"] > 1]
    results, keep = [], Path(args.keep) if args.keep else None
    with ThreadPoolExecutor(max(1, args.jobs)) as pool:
        for r in pool.map(lambda j: execute(*j, keep=keep), narrow):
            results.append(r)
            _print(r)
    for j in wide:
        r = execute(*j, keep=keep)
        results.append(r)
        _print(r)

    failed = [r for r in results if r["claims_not_shown"] or r["errors"] or r["nbval_moved"]]
    print(f"\n{len(results)} runs of {len(paths)} notebooks; {len(failed)} with a claim not shown, an error, or a "
          f"figure moved that nbval compares")
    for r in failed:
        print(f"  {r['notebook']} ({r['edition']}) {r['run']}: "
              + "; ".join([f"not shown: {c}" for c in r["claims_not_shown"]] + r["errors"]
                          + [f"nbval compares cell {i}: {n} figures moved" for i, n in r["nbval_moved"]]))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, ensure_ascii=False))
    return 1 if failed else 0


def _print(r: dict) -> None:
    moved = sum(n for _, n in r["figures_moved"])
    print(f"{r['notebook']:<36} {r['edition']:<3} {r['run']:<32} {r['seconds']:6.1f} s  claims not shown "
          f"{len(r['claims_not_shown'])}  figures moved {moved} in {len(r['figures_moved'])} cells"
          + (f"  NBVAL WOULD FAIL in {len(r['nbval_moved'])} cells" if r["nbval_moved"] else "")
          + (f"  ERRORS {len(r['errors'])}" if r["errors"] else ""), flush=True)


if __name__ == "__main__":
    sys.exit(main())
