"""The ``lrcourse`` command.

    lrcourse start [FOLDER] [--lang en|vi] [--no-browser] [--port N] [--lab-arg=ARG ...] [--update]
    lrcourse release [--source solutions] [--dest notebooks] [--check]
    lrcourse execute NOTEBOOK... [--inplace] [--timeout SECONDS]
    lrcourse grade SUBMISSION... [--release-dir notebooks] [--timeout SECONDS] [--jobs N] [--csv FILE] [--json FILE]
                   [--sandbox auto|bwrap|none] [--memory 3G] [--max-procs 512] [--max-file-size 1G]
                   [--notebook-timeout 900] [--seed S | --no-hidden] [--shard K/N] [--feedback DIR] [--report FILE]
    lrcourse grade --merge PART.json... [--csv FILE] [--json FILE] [--feedback DIR] [--report FILE]
    lrcourse report GRADES.json [-o report.html]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .i18n import LANGUAGES
from .i18n import gettext_ as _

__all__ = ["main"]


def _release(args: argparse.Namespace) -> int:
    from .grading.authoring import release as rel

    try:
        if args.check:
            stale = rel.stale_notebooks(args.source, args.dest)
            for path in stale:
                print(f"out of date: {path}")
            if stale:
                print("run `lrcourse release` to regenerate the student notebooks")
                return 1
            print(f"{args.dest} is up to date with {args.source}")
            _lacking(rel.editions(args.source, args.dest))
            return 0
        for path in rel.release(args.source, args.dest):
            print(f"released {path}")
        _lacking(rel.editions(args.source, args.dest))
    except (FileNotFoundError, rel.ReleaseError) as err:
        print(f"lrcourse release: error: {err}", file=sys.stderr)
        return 2
    return 0


def _lacking(editions) -> None:
    """Name the course's notebooks (:mod:`lrcourse.syllabus`) that a folder holding some of them lacks."""
    from . import syllabus

    for source, _lang, _name in editions:
        names = [p.name for p in source.glob("*.ipynb")]
        lacking = syllabus.missing(names)
        if names and len(lacking) < len(syllabus.NOTEBOOKS):
            for name in lacking:
                print(f"note: {source} has no {name} of the course's syllabus (lrcourse.syllabus)")


def _execute(args: argparse.Namespace) -> int:
    from .grading.authoring.execute import execute_notebook

    status = 0
    for name in args.notebooks:
        path = Path(name)
        if not path.is_file():
            print(f"lrcourse execute: error: notebook {path} does not exist", file=sys.stderr)
            status = 2
            continue
        try:
            nb, seconds = execute_notebook(path, timeout=args.timeout)
        except Exception as err:  # report and go on with the other notebooks
            detail = "\n".join(str(err).strip().splitlines()[-12:])
            print(f"{path}: FAILED ({type(err).__name__})\n{detail}")
            status = 1
            continue
        if args.inplace:
            from .grading.authoring.release import notebook_bytes

            path.write_bytes(notebook_bytes(nb))
        print(f"{path}: {seconds:.1f} s")
    return status


def _grade(args: argparse.Namespace) -> int:
    from .grading.batch import pool, roster
    from .grading.sandbox import confine
    from .grading.scoring.submission import load_releases, release_ids

    def fail(message: str) -> int:
        print(f"lrcourse grade: error: {message}", file=sys.stderr)
        return 2

    if args.merge:
        return _merge(args, fail)
    if not args.submissions:
        return fail("name the submissions to grade (files or folders), or --merge the JSON of shards")
    if args.jobs < 1:
        return fail("--jobs must be >= 1")
    if args.timeout < 1:
        return fail("--timeout must be >= 1 second")
    if args.seed is not None and args.seed < 0:
        return fail("--seed must be a whole number >= 0")
    if args.seed is not None and not args.hidden:
        return fail("--seed draws hidden cases and --no-hidden turns them off: give one of them")
    if args.hidden and args.seed is None and args.shard:
        return fail("with --shard, give every shard the same --seed S (or --no-hidden), so that the whole class "
                    "is graded on the same hidden cases")
    try:
        shard = roster.parse_shard(args.shard) if args.shard else None
        releases = load_releases(args.release_dir)
        found = roster.find(args.submissions)
    except (FileNotFoundError, ValueError) as err:
        return fail(str(err))
    if shard is not None:
        found = [s for s in found if roster.shard_of(s.relative, shard[1]) == shard[0]]
        print(f"shard {shard[0]}/{shard[1]}: {len(found)} submission{'s' if len(found) != 1 else ''}",
              file=sys.stderr)
    elif not found:
        return fail("no notebooks found in the submissions given")
    try:
        limits = _limits(args)
        confinement = confine.plan(args.sandbox, limits)
    except (ValueError, RuntimeError) as err:
        return fail(str(err))
    print(confinement.line(), file=sys.stderr)
    for note in confinement.notes:
        print(f"  note: {note}", file=sys.stderr)
    seed = _hidden_seed(args)
    results = pool.grade_all([s.path for s in found], releases, timeout=args.timeout, jobs=args.jobs,
                               progress=not args.quiet, confinement=confinement, seed=seed,
                               keep_notebooks=bool(args.feedback or args.json), carry_forward=args.carry_forward)
    roster.label(results, found, releases)
    run = {"in force": confinement.describe(), "seed": seed, "hidden": args.hidden, "releases": release_ids(releases),
           "shard": list(shard) if shard else None, "carry forward": args.carry_forward}
    return _outputs(args, results, releases, run)


def _hidden_seed(args: argparse.Namespace) -> int | None:
    """The seed of the hidden cases: ``--seed``, else one drawn now (printed and recorded, so that the run can be
    repeated exactly), or None with ``--no-hidden``. On by default: a submission that answers the visible cases
    from a table must not score full marks because the instructor did not know to ask for hidden ones."""
    import secrets

    if not args.hidden:
        print("hidden cases: off (--no-hidden): only the cases the notebooks show are checked", file=sys.stderr)
        return None
    if args.seed is not None:
        print(f"hidden cases: drawn with seed {args.seed}", file=sys.stderr)
        return args.seed
    seed = secrets.randbelow(1_000_000)
    print(f"hidden cases: drawn with seed {seed} (chosen now; --seed {seed} repeats this run exactly)",
          file=sys.stderr)
    return seed


def _language(args: argparse.Namespace, results: list) -> str:
    """``--lang``, else the language of the editions graded when they are all one, else English."""
    from .grading.reports import feedback

    if getattr(args, "lang", None):
        return args.lang
    found = {feedback.language(r) for r in results if r.release}
    return found.pop() if len(found) == 1 else "en"


def _outputs(args: argparse.Namespace, results: list, releases: dict, run: dict) -> int:
    from .i18n import using

    with using(_language(args, results)):
        return _write_outputs(args, results, releases, run)


def _write_outputs(args: argparse.Namespace, results: list, releases: dict, run: dict) -> int:
    from .grading.reports import tables
    from .i18n import get_language

    print(tables.table(results, releases))
    if args.csv:
        tables.write_csv(results, releases, args.csv, run=run)
    if args.json:
        tables.write_json(results, args.json, run=run, notebooks=True)
    if args.feedback:
        from .grading.reports import feedback

        written = feedback.write_all(results, args.feedback)
        print(f"feedback: {len(written)} files in {args.feedback}", file=sys.stderr)
    if args.report:
        from .grading.reports import classreport

        Path(args.report).write_text(classreport.render(results, run, lang=get_language()), encoding="utf-8")
        print(f"class report: {args.report}", file=sys.stderr)
    return 0


def _merge(args: argparse.Namespace, fail) -> int:
    """``lrcourse grade --merge part1.json part2.json ...``: the shards' JSON joined into one set of outputs."""
    from .grading import results as graded
    from .grading.scoring.submission import load_releases, release_ids

    if args.submissions:
        return fail("--merge joins JSON files: give no submissions with it")
    for name in args.merge:
        if not Path(name).is_file():
            return fail(f"--merge: cannot read {name} (no such file)")
    try:
        results, run = graded.merge_files(args.merge)   # a submission at a time, no notebook in memory
        releases = load_releases(args.release_dir)
    except (graded.MergeError, FileNotFoundError) as err:
        return fail(str(err))
    if run.get("releases") != release_ids(releases):
        return fail(f"the parts were graded against other released notebooks than those in {args.release_dir}")
    if run.get("missing shards"):
        print(f"note: shards {run['missing shards']} are missing from the merge", file=sys.stderr)
    return _outputs(args, results, releases, run)


def _report(args: argparse.Namespace) -> int:
    from .grading.reports import classreport
    from .grading.results import read_document

    try:
        results, run = read_document(args.json)   # a submission at a time; the graded notebooks stay on disk
    except (OSError, ValueError) as err:
        print(f"lrcourse report: error: cannot read {args.json} ({err})", file=sys.stderr)
        return 2
    Path(args.output).write_text(classreport.render(results, run, lang=_language(args, results)), encoding="utf-8")
    print(f"class report: {args.output} ({len(results)} submissions)")
    return 0


def _limits(args: argparse.Namespace):
    """The per-kernel limits from the command line; ``none`` turns one off."""
    from .grading.sandbox import confine

    def size(value: str, name: str) -> int | None:
        return None if value.strip().lower() in ("none", "off") else confine.parse_size(value, name)

    def count(value: str, name: str) -> int | None:
        if value.strip().lower() in ("none", "off"):
            return None
        if not value.strip().isdigit() or int(value) < 1:
            raise ValueError(_("{name} must be a whole number >= 1 or 'none', got {value!r}").format(
                name=name, value=value))
        return int(value)

    return confine.Limits(memory=size(args.memory, "--memory"), max_procs=count(args.max_procs, "--max-procs"),
                          max_file_size=size(args.max_file_size, "--max-file-size"),
                          notebook_timeout=count(args.notebook_timeout, "--notebook-timeout"))


def _start(args: argparse.Namespace) -> int:
    from . import i18n

    # what it prints, in the edition's language (a learner of the Vietnamese edition meets these first)
    with i18n.using(args.lang if args.lang in i18n.LANGUAGES else "en"):
        return _start_in_language(args)


def _start_in_language(args: argparse.Namespace) -> int:
    from . import start as st

    if args.port is not None and not 0 < args.port < 65536:
        print("lrcourse start: " + _("error: --port must be between 1 and 65535, got {port}").format(port=args.port),
              file=sys.stderr)
        return 2
    try:
        st.require_jupyterlab()
        if args.folder is None:
            args.folder = st.default_folder(args.lang)
        done = st.prepare(args.folder, update=args.update, language=args.lang)
    except st.StartError as err:
        print("lrcourse start: " + _("error: {message}").format(message=err), file=sys.stderr)
        return 2
    folder = Path(args.folder).expanduser()
    copied = [c.name for c in done if c.status == "copied"]
    if copied:
        text = _("copied {count} notebooks into {folder}: {names}") if len(copied) > 1 else \
            _("copied {count} notebook into {folder}: {names}")
        print(text.format(count=len(copied), folder=folder, names=", ".join(copied)))
    kept = [c.name for c in done if c.status == "kept"]
    if kept:
        text = _("kept your {count} notebooks in {folder} (never overwritten)") if len(kept) > 1 else \
            _("kept your {count} notebook in {folder} (never overwritten)")
        print(text.format(count=len(kept), folder=folder))
    for c in done:
        if c.status == "outdated":
            print(_("{name}: the course has a newer version ({detail}); your copy is kept as it is. To carry your "
                    "answers into the new version, run: lrcourse start --update {folder} (your current file is kept "
                    "beside it as a dated backup)").format(name=c.name, detail=c.detail, folder=folder))
        elif c.status == "updated":
            print(_("updated {name}: {detail}").format(name=c.name, detail=c.detail))
    cmd = st.lab_command(folder, no_browser=args.no_browser, port=args.port, lab_args=tuple(args.lab_arg))
    print(_("starting JupyterLab in {folder} (Ctrl-C stops it)").format(folder=folder.resolve()), flush=True)
    return st.run_lab(cmd)


def build_parser() -> argparse.ArgumentParser:
    from . import __version__
    from .grading.sandbox import confine

    parser = argparse.ArgumentParser(prog="lrcourse", description="The learning-rate course's tools.")
    parser.add_argument("--version", action="version", version=f"lrcourse {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("start", help="copy the course's notebooks into FOLDER and open JupyterLab there")
    p.add_argument("folder", nargs="?", default=None,
                   help="your notebooks' folder, created if missing (default: ./lrcourse-notebooks, "
                        "./lrcourse-notebooks-vi with --lang vi)")
    p.add_argument("--lang", choices=("en", "vi"), default="en",
                   help="the course's language: en (English, the default) or vi (Tiếng Việt)")
    p.add_argument("--no-browser", action="store_true", help="do not open a browser (print the URL only)")
    p.add_argument("--port", type=int, help="JupyterLab's port (default: JupyterLab's, 8888 or the next free)")
    p.add_argument("--lab-arg", action="append", default=[], metavar="ARG",
                   help="one more argument for jupyter lab, e.g. --lab-arg=--ServerApp.ip=0.0.0.0 (repeatable)")
    p.add_argument("--update", action="store_true",
                   help="carry your answers into the course's newer notebooks, keeping your old files as "
                        "dated backups")
    p.set_defaults(func=_start)

    p = sub.add_parser("release", help="regenerate the student notebooks from the solution notebooks")
    p.add_argument("--source", default="solutions", help="folder of solution notebooks (default: solutions)")
    p.add_argument("--dest", default="notebooks", help="folder for student notebooks (default: notebooks)")
    p.add_argument("--check", action="store_true", help="write nothing; exit 1 if dest is out of date")
    p.set_defaults(func=_release)

    p = sub.add_parser("execute", help="run notebooks headless and report seconds per notebook")
    p.add_argument("notebooks", nargs="+", help="notebook files")
    p.add_argument("--inplace", action="store_true", help="store the new outputs in the notebooks")
    p.add_argument("--timeout", type=int, default=120, help="per-cell timeout in seconds (default: 120)")
    p.set_defaults(func=_execute)

    p = sub.add_parser("report", help="rebuild the class report from the JSON of `lrcourse grade --json`")
    p.add_argument("json", help="the JSON written by lrcourse grade --json (or --merge)")
    p.add_argument("-o", "--output", default="report.html", help="the HTML file to write (default: report.html)")
    p.add_argument("--lang", choices=LANGUAGES, help="the report's language (default: the language of the "
                   "editions graded when they are all one, else English)")
    p.set_defaults(func=_report)

    p = sub.add_parser("grade", help="grade submitted notebooks (files or folders); never modifies them")
    p.add_argument("submissions", nargs="*", help="submitted notebooks, or folders of them")
    p.add_argument("--release-dir", default="notebooks", help="the released notebooks (default: notebooks)")
    p.add_argument("--timeout", type=int, default=60, help="per-cell timeout in seconds (default: 60)")
    p.add_argument("--jobs", type=int, default=1, help="notebooks graded at once (default: 1)")
    p.add_argument("--csv", help="also write the scores to this CSV file")
    p.add_argument("--json", help="also write scores and feedback to this JSON file")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    d = confine.DEFAULT_LIMITS
    p.add_argument("--sandbox", choices=("auto", "bwrap", "none"), default="auto",
                   help="run each kernel in a bubblewrap sandbox: auto (where it works, the default), bwrap "
                        "(required), none")
    p.add_argument("--memory", default=f"{d.memory // 2**30}G",
                   help=f"memory per kernel, e.g. 3G or 512M, or none (default: {d.memory // 2**30}G)")
    p.add_argument("--max-procs", default=str(d.max_procs),
                   help=f"processes and threads per kernel, or none (default: {d.max_procs})")
    p.add_argument("--max-file-size", default=f"{d.max_file_size // 2**30}G",
                   help=f"size of any file a kernel writes, or none (default: {d.max_file_size // 2**30}G)")
    p.add_argument("--notebook-timeout", default=str(d.notebook_timeout),
                   help=f"seconds per notebook, all cells together, or none (default: {d.notebook_timeout})")
    p.add_argument("--seed", type=int, default=None,
                   help="every check also tries hidden cases drawn at random with this seed (default: a seed drawn "
                        "for the run, printed and recorded in the reports, so that --seed repeats it)")
    p.add_argument("--no-hidden", dest="hidden", action="store_false",
                   help="check only the cases the notebooks show (the reports say so)")
    p.add_argument("--no-carry-forward", dest="carry_forward", action="store_false",
                   help="charge a check that fails only because it calls an earlier exercise's failing answer (by "
                        "default it earns its points, marked 'carried forward' from that exercise's check)")
    p.add_argument("--feedback", metavar="DIR",
                   help="also write one self-contained HTML file of feedback per submission into DIR")
    p.add_argument("--report", metavar="FILE", help="also write the class report (HTML) to FILE")
    p.add_argument("--lang", choices=LANGUAGES, help="the language of the class report, the table's and CSV's notes "
                   "(default: the language of the editions graded when they are all one, else English); each "
                   "feedback page is in its submission's language")
    p.add_argument("--shard", metavar="K/N",
                   help="grade only share K of N of the submissions (a stable hash of each path: shards 1..N "
                        "partition the class on any machine)")
    p.add_argument("--merge", nargs="+", metavar="JSON",
                   help="join the --json files of shards into one set of outputs (table, --csv, --json)")
    p.set_defaults(func=_grade)
    return parser


def main(argv: list[str] | None = None) -> int:
    from ._imports import skip_slow_unused_imports

    skip_slow_unused_imports()  # about 2 s less for every command that reads a notebook
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
