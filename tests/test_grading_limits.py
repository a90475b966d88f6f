"""Resource limits and the sandbox: a breach costs only the breaching submission, with a clear reason.

Every breach below is a student's ``gd_step`` (or a cell beside it) in the tiny release, graded with
small limits in one run together with two honest students, who must get exactly what they get alone.
Where this machine lacks a mechanism (cgroups need root, the sandbox needs bubblewrap), the tests that
need it skip and say which.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

import nbformat
import pytest

from _course import tiny_student as _student
from lrcourse.cli import main as cli_main
from lrcourse.grading.batch import pool
from lrcourse.grading.sandbox import confine as C
from lrcourse.grading.scoring import grade as G

HONEST = [("gd_step_test", "passed", 1.0), ("lr_regime_test", "not attempted", 0.0)]
SMALL = C.Limits(memory=400 * 2**20, max_procs=64, max_file_size=50 * 2**20, notebook_timeout=120)


def _scores(result):
    return [(c.grade_id, c.status, c.points) for c in result.checks]


def _breach(body: str) -> str:
    """A gd_step that tries ``body`` first, then answers right: only the breach can cost it its point."""
    return "def gd_step(x, grad, lr):\n" + "".join(f"    {line}\n" for line in body.splitlines()) + \
        "    return x - lr * grad"


@pytest.fixture(scope="module")
def machine():
    """The plan this machine allows with the small limits (probed once)."""
    return C.plan("auto", SMALL)


def _need(p: C.Plan, cgroup=False, sandbox=False):
    if cgroup and p.cgroup is None:
        pytest.skip("needs cgroups with memory and pids controllers (Linux, as root or delegated): " + "; ".join(p.notes))
    if sandbox and p.sandbox != "bwrap":
        pytest.skip("needs bubblewrap (Debian/Ubuntu: apt-get install bubblewrap): " + "; ".join(p.notes))


@pytest.fixture
def listener():
    """A server on 127.0.0.1 that records whether anyone connected."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    seen, stop = [], threading.Event()

    def accept():
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                seen.append(conn)
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1], seen
    stop.set()
    thread.join()
    server.close()


def test_every_breach_costs_only_the_breacher(tiny, tmp_path, machine, listener):
    _need(machine, cgroup=True, sandbox=True)
    releases, release_nb = tiny
    port, connections = listener
    alice = _student(tmp_path, "alice", release_nb)
    report_path = tmp_path / "out" / "grades.json"
    report_path.parent.mkdir()
    report_path.write_text("the instructor's report\n")
    breaches = {  # name -> (code, where, the check's expected (status, words in its message))
        "memory": ("blocks = [b'x' * 2**28 for _ in range(48)]  # 12 GiB, touched", "cell",
                   ("kernel died", "memory limit of 400 MiB exceeded")),
        "fork": ("import subprocess\nwhile True:\n    subprocess.Popen(['sleep', '600'])", "solution",
                 ("failed", "limit of 64 processes and threads reached")),
        "disk": ("with open('big', 'wb') as f:\n    for _ in range(10 * 1024):  # 10 GiB in 1 MiB blocks\n"
                 "        f.write(bytes(2**20))", "solution", ("failed", "file size limit of 50 MiB reached")),
        "network": (f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=5)", "solution",
                    ("failed", "")),
        "read another": (f"open({str(alice)!r}).read()", "solution", ("failed", "No such file or directory")),
        "write the report": (f"open({str(report_path)!r}, 'w').write('hacked')", "solution",
                             ("failed", "No such file or directory")),
        "kill the parent": ("import os\nos.kill(os.getppid(), 9)", "solution", None),
    }
    paths = [alice]
    for name, (code, where, _) in breaches.items():
        if where == "cell":
            paths.append(_student(tmp_path, name.replace(" ", "-"), release_nb, cell=code))
        else:
            paths.append(_student(tmp_path, name.replace(" ", "-"), release_nb, solution=_breach(code)))
    paths.append(_student(tmp_path, "bob", release_nb))
    results = {r.path.parent.name: r for r in pool.grade_all(paths, releases, timeout=60, jobs=2, progress=False,
                                                                confinement=machine)}
    assert _scores(results["alice"]) == _scores(results["bob"]) == HONEST
    for name, (_, _, expected) in breaches.items():
        result = results[name.replace(" ", "-")]
        assert result.error is None, (name, result.error)
        gd_step = result.checks[0]
        if expected is None:  # contained: the kernel's parent in the sandbox is its own init, which ignores it
            assert _scores(result) in (HONEST, [("gd_step_test", "failed", 0.0), HONEST[1]]), (name, result)
            continue
        status, words = expected
        assert (gd_step.status, gd_step.points) == (status, 0.0), (name, gd_step)
        assert words in gd_step.message, (name, gd_step.message)
    assert connections == [], "a sandboxed kernel reached a server on the host's 127.0.0.1"
    assert report_path.read_text() == "the instructor's report\n"
    assert "sleep 600" not in subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout


def test_a_fork_bomb_leaves_its_kernel_able_to_answer(tiny, tmp_path, machine, capfd):
    """The bomb uses up the kernel's processes and threads; its kernel must still send whole messages: no message
    may need a thread started afterwards (pyzmq's zero-copy sends do, and a send broken half-way made every later
    cell wait out its timeout, 120 s instead of 3)."""
    _need(machine, cgroup=True)
    releases, release_nb = tiny
    bomb = _student(tmp_path, "fork", release_nb,
                    solution=_breach("import subprocess\nwhile True:\n    subprocess.Popen(['sleep', '600'])"))
    result = G.grade_notebook(bomb, releases, timeout=30, confinement=machine)
    assert [(c.status, c.points) for c in result.checks] == [("failed", 0.0), ("not attempted", 0.0)], result.checks
    assert "limit of 64 processes and threads reached" in result.checks[0].message
    assert result.seconds < 25, result.seconds
    assert "can't start new thread" not in capfd.readouterr().err  # the kernel's own stderr


def test_alone_the_honest_student_scores_the_same(tiny, tmp_path, machine):
    releases, release_nb = tiny
    [result] = pool.grade_all([_student(tmp_path, "alice", release_nb)], releases, timeout=60, progress=False,
                                confinement=machine)
    assert _scores(result) == HONEST, result.checks  # the messages, should it fail (it did once in CI)


def test_rlimits_alone_stop_a_memory_bomb_and_a_big_file(tiny, tmp_path):
    """Where no cgroup can be made (a user without delegation), rlimits hold: MemoryError, EFBIG, named."""
    if sys.platform != "linux":
        pytest.skip("rlimits are tested on Linux")
    releases, release_nb = tiny
    p = C.Plan(limits=C.Limits(memory=2 * 2**30, max_procs=None, max_file_size=10 * 2**20, notebook_timeout=120))
    bomb = _student(tmp_path, "m", release_nb, solution=_breach("blocks = [b'x' * 2**28 for _ in range(48)]"))
    disk = _student(tmp_path, "d", release_nb, solution=_breach(
        "with open('big', 'wb') as f:\n    for _ in range(100):\n        f.write(bytes(2**20))"))
    for path, words in ((bomb, ["MemoryError", "(memory limit of 2 GiB reached)"]),
                        (disk, ["File too large", "(file size limit of 10 MiB reached)"])):
        result = G.grade_notebook(path, releases, timeout=60, confinement=p)
        gd_step = result.checks[0]
        assert (gd_step.status, gd_step.points) == ("failed", 0.0), gd_step
        assert all(w in gd_step.message for w in words), gd_step.message
        assert result.checks[1].status == "not attempted"  # the kernel lived on


def test_the_notebook_timeout_stops_the_notebook_and_names_the_limit(tiny, tmp_path):
    releases, release_nb = tiny
    p = C.Plan(limits=C.Limits(memory=None, max_procs=None, max_file_size=None, notebook_timeout=8))
    path = _student(tmp_path, "slow", release_nb, cell="import time\ntime.sleep(60)")
    result = G.grade_notebook(path, releases, timeout=60, confinement=p)
    assert result.seconds < 40
    for check in result.checks:
        assert (check.status, check.points) == ("timed out", 0.0), check
        assert "the notebook ran longer than its limit of 8 s" in check.message


@pytest.mark.parametrize("drop", [True, False], ids=["as root: the unprivileged user", "as the grader's user"])
def test_the_sandbox_hides_the_machine(tiny, tmp_path, machine, drop):
    """Inside: the unprivileged user, only the scratch folder writable, a private /tmp, no network.

    ``drop=False`` is the path of a grader that is not root: bubblewrap starts the kernel directly.
    """
    _need(machine, sandbox=True)
    if not drop:
        machine = C.Plan(limits=machine.limits, sandbox="bwrap", cgroup=machine.cgroup, user=None)
    releases, release_nb = tiny
    probe = ("import json, os, socket\nseen = {'uid': os.getuid(), 'tmp': sorted(os.listdir('/tmp')),\n"
             f"        'home': os.path.exists(os.path.expanduser('~root/.bashrc')), 'out': os.path.exists({str(tmp_path)!r}),\n"
             "        'net': [n for _, n in socket.if_nameindex()]}\n"
             "try:\n    open('/usr/lrcourse-probe', 'w')\n    seen['system'] = 'writable'\n"
             "except OSError as err:\n    seen['system'] = type(err).__name__\n"
             "print('SEEN' + json.dumps(seen))")
    result = G.grade_notebook(_student(tmp_path, "eve", release_nb, cell=probe), releases, confinement=machine)
    text = "".join(o.get("text", "") for c in result.notebook.cells for o in c.get("outputs", []))
    seen = json.loads(text.split("SEEN", 1)[1].splitlines()[0])
    assert seen["net"] == ["lo"] and seen["out"] is False and seen["home"] is False
    assert seen["system"] in ("PermissionError", "OSError")
    # only its own folders, and the way to a Python environment or lrcourse that lives under /tmp (a CI clone)
    python = {Path(d).relative_to("/tmp").parts[0] for d in C._python_dirs() if d.startswith("/tmp/")}
    assert all(name.startswith("lrcourse-") or name in python for name in seen["tmp"]), seen["tmp"]
    if os.geteuid() == 0 and drop:
        assert seen["uid"] != 0


# ------------------------------------------------------------------------------------------------ units

@pytest.mark.parametrize("text, value", [("3G", 3 * 2**30), ("512M", 512 * 2**20), ("1.5GiB", 3 * 2**29),
                                         ("4096", 4096), ("64k", 65536), (100, 100)])
def test_parse_size(text, value):
    assert C.parse_size(text) == value


@pytest.mark.parametrize("text", ["", "3X", "-1G", "0", "lots", "1e9", True])
def test_parse_size_names_the_argument(text):
    with pytest.raises(ValueError, match="--memory must be"):
        C.parse_size(text, "--memory")


@pytest.mark.parametrize("field", ["memory", "max_procs", "max_file_size", "notebook_timeout"])
@pytest.mark.parametrize("value", [0, -5, 1.5, "3G", True])
def test_limits_reject_bad_values(field, value):
    with pytest.raises(ValueError, match=field):
        C.Limits(**{field: value})


def test_plan_rejects_bad_arguments():
    with pytest.raises(ValueError, match="sandbox must be"):
        C.plan("docker")
    with pytest.raises(ValueError, match="limits must be"):
        C.plan("none", {"memory": 1})


def test_a_required_sandbox_that_is_missing_is_an_error(monkeypatch):
    monkeypatch.setattr(C.shutil, "which", lambda name: None)
    if sys.platform == "linux":
        with pytest.raises(RuntimeError, match="bubblewrap is not installed"):
            C.plan("bwrap", cgroups=False)
        p = C.plan("auto", cgroups=False)
        assert p.sandbox == "none" and any("bubblewrap is not installed" in n for n in p.notes)
        assert p.describe()["sandbox"] == "none"


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_cgroups_are_made_limited_and_removed(tmp_path, version):
    """On an imitation of /sys/fs/cgroup: the limits are written where the kernel reads them."""
    if version == "v1":
        own = "4:memory:/grader\n8:pids:/grader\n"
        for controller in ("memory", "pids"):
            (tmp_path / controller / "grader").mkdir(parents=True)
            (tmp_path / controller / "grader" / "cgroup.procs").write_text("")
    else:
        own = "0::/grader\n"
        (tmp_path / "grader").mkdir()
        (tmp_path / "cgroup.controllers").write_text("memory pids")
        (tmp_path / "grader" / "cgroup.subtree_control").write_text("")  # nothing delegated to children yet
    original_mkdir = type(tmp_path).mkdir

    def mkdir(self, *a, **k):  # the kernel fills a new cgroup's files; imitate it
        original_mkdir(self, *a, **k)
        if self.name.startswith("lrcourse-"):
            (self / "cgroup.procs").write_text("")
            enabled = (self.parent / "cgroup.subtree_control").read_text() if version == "v2" else "+memory +pids"
            (self / "cgroup.controllers").write_text(enabled.replace("+", ""))
            (self / ("memory.oom_control" if version == "v1" else "memory.events")).write_text("oom_kill 2\n")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(type(tmp_path), "mkdir", mkdir)
        group = C.Cgroups.create("x", SMALL, root=tmp_path, proc_cgroup=own, version=version)
    if version == "v1":
        assert (tmp_path / "memory/grader/lrcourse-x/memory.limit_in_bytes").read_text() == str(400 * 2**20)
        assert (tmp_path / "pids/grader/lrcourse-x/pids.max").read_text() == "64"
    else:
        assert (tmp_path / "grader/lrcourse-x/memory.max").read_text() == str(400 * 2**20)
        assert (tmp_path / "grader/lrcourse-x/pids.max").read_text() == "64"
        # v2 delegation: the grader moved itself to a leaf, then handed the controllers to the children
        assert (tmp_path / "grader/lrcourse-grader/cgroup.procs").read_text() == str(os.getpid())
        assert (tmp_path / "grader/cgroup.subtree_control").read_text() == "+memory +pids"
    assert group.oom_kills() == 2 and len(group.procs_files()) == (2 if version == "v1" else 1)
    group.remove()
    assert not list(tmp_path.rglob("lrcourse-x"))
    if version == "v2":  # once moved, the next cgroup is made beside the leaf, not inside it
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(type(tmp_path), "mkdir", mkdir)
            again = C.Cgroups.create("y", SMALL, root=tmp_path, proc_cgroup="0::/grader/lrcourse-grader\n",
                                     version="v2")
        assert again.folders["unified"] == tmp_path / "grader" / "lrcourse-y"
        again.remove()


def test_v2_without_delegated_controllers_is_refused(tmp_path):
    (tmp_path / "grader").mkdir()
    (tmp_path / "cgroup.controllers").write_text("memory pids")
    (tmp_path / "grader" / "cgroup.subtree_control").write_text("+memory +pids")
    original_mkdir = type(tmp_path).mkdir

    def mkdir(self, *a, **k):  # a new cgroup whose parent delegates no controller: an empty list
        original_mkdir(self, *a, **k)
        (self / "cgroup.controllers").write_text("")

    with pytest.MonkeyPatch.context() as mp, pytest.raises(OSError, match="not delegated"):
        mp.setattr(type(tmp_path), "mkdir", mkdir)
        C.Cgroups.create("x", SMALL, root=tmp_path, proc_cgroup="0::/grader\n", version="v2")
    assert not (tmp_path / "grader" / "lrcourse-x").exists()


def test_bwrap_arguments_bind_only_what_the_kernel_needs():
    args = C.bwrap_args(["/tmp/lrcourse-grade-1"], ["/root/.pyenv/versions/3.11.7", "/usr/lib/python3"],
                        "/tmp/lrcourse-grade-1")
    text = " ".join(args)
    for flag in ("--unshare-net", "--unshare-pid", "--die-with-parent", "--tmpfs /tmp"):
        assert flag in text
    assert "--bind /tmp/lrcourse-grade-1 /tmp/lrcourse-grade-1" in text
    assert "--ro-bind /root/.pyenv/versions/3.11.7 /root/.pyenv/versions/3.11.7" in text
    assert "--perms 0755 --dir /root " in text  # crossable by the unprivileged user
    assert "--ro-bind /usr/lib/python3" not in text  # under /usr, bound already
    binds = [args[i + 1] for i, a in enumerate(args) if a in ("--bind", "--ro-bind", "--ro-bind-try")]
    assert not any(b in ("/", "/home", "/root") for b in binds)


def test_the_report_says_what_was_in_force(tiny, tmp_path, capsys):
    releases, release_nb = tiny
    folder = tmp_path / "release"
    folder.mkdir()
    nbformat.write(release_nb, folder / "tiny.ipynb")
    _student(tmp_path / "class", "alice", release_nb)
    out = tmp_path / "grades.json"
    code = cli_main(["grade", str(tmp_path / "class"), "--release-dir", str(folder), "--quiet", "--json", str(out),
                     "--memory", "1G", "--max-procs", "300", "--max-file-size", "none", "--notebook-timeout", "200"])
    assert code == 0
    run = json.loads(out.read_text())["run"]["in force"]
    assert run["memory"].startswith("1 GiB") and run["processes"].startswith("300 ")
    assert run["file size"] == "none" and run["notebook timeout"] == "200 s"
    assert run["sandbox"] == ("none" if shutil.which("bwrap") is None else run["sandbox"])
    printed = capsys.readouterr().err  # stdout is the table alone
    assert "in force: sandbox" in printed and "memory 1 GiB" in printed


@pytest.mark.parametrize("flag, value, words", [("--memory", "lots", "--memory must be"),
                                                ("--max-procs", "0", "--max-procs must be"),
                                                ("--max-file-size", "-1", "--max-file-size must be"),
                                                ("--notebook-timeout", "ten", "--notebook-timeout must be")])
def test_bad_limits_are_usage_errors(tiny, tmp_path, capsys, flag, value, words):
    releases, release_nb = tiny
    folder = tmp_path / "release"
    folder.mkdir()
    nbformat.write(release_nb, folder / "tiny.ipynb")
    path = _student(tmp_path, "alice", release_nb)
    assert cli_main(["grade", str(path), "--release-dir", str(folder), flag, value]) == 2
    assert words in capsys.readouterr().err


def test_v2_where_the_grader_is_not_alone_in_its_cgroup_is_refused(tmp_path, monkeypatch):
    """The kernel refuses to enable controllers for a cgroup that holds processes: fall back, say why."""
    (tmp_path / "grader").mkdir()
    (tmp_path / "cgroup.controllers").write_text("memory pids")
    (tmp_path / "grader" / "cgroup.subtree_control").write_text("")
    write_text = type(tmp_path).write_text

    def refuse(self, data, *a, **k):
        if self.name == "cgroup.subtree_control":
            raise OSError(16, "Device or resource busy")
        return write_text(self, data, *a, **k)

    monkeypatch.setattr(type(tmp_path), "write_text", refuse)
    with pytest.raises(OSError, match="other processes share the grader's cgroup"):
        C.Cgroups.create("x", SMALL, root=tmp_path, proc_cgroup="0::/grader\n", version="v2")
