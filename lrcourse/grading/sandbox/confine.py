"""Confine a grading kernel: resource limits, an unprivileged user and a bubblewrap sandbox.

The grader (:mod:`lrcourse.grading.scoring.run`) starts every kernel through :func:`wrap`, which puts a small
launcher (this file, run as a script with the standard library only) in front of the kernel command.
The launcher, before it executes the kernel,

1. joins the submission's own **cgroups** (memory and pids; cgroup v1 or v2), made by :class:`Cgroups`;
2. sets **rlimits**: the size of any file written (``RLIMIT_FSIZE``) always, and, where no cgroup can
   be made, the address space (``RLIMIT_AS``) for memory and ``RLIMIT_NPROC`` for processes;
3. executes **bubblewrap** when the sandbox is on: a read-only system and Python environment, only the
   submission's scratch, home, record and connection folders writable, a private ``/tmp``, no network,
   its own PID namespace, nothing else of the machine's files (other submissions, the release, the
   reports, the instructor's home);
4. when the grader runs as root, drops to an **unprivileged user** (``nobody``) as the last step
   before the kernel (inside the sandbox when there is one, so that bubblewrap can still bind a Python
   environment that only root can reach, e.g. under ``/root``).

:func:`plan` probes once per run what this machine allows, and says in words what will be in force
(:meth:`Plan.describe`); the reports carry that description.
"""
from __future__ import annotations

import errno
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

__all__ = ["Limits", "Plan", "Cgroups", "parse_size", "format_size", "plan", "wrap", "DEFAULT_LIMITS"]

_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def parse_size(text: str | int, name: str = "size") -> int:
    """Bytes in ``"3G"``, ``"512M"``, ``"1.5G"``, ``"4096"`` (binary units; an optional ``B``/``iB``)."""
    if isinstance(text, int) and not isinstance(text, bool):
        value = text
    else:
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?\s*", str(text), re.IGNORECASE)
        if match is None:
            raise ValueError(f"{name} must be a size such as 3G, 512M or 1048576 (bytes), got {text!r}")
        value = int(float(match.group(1)) * _UNITS[match.group(2).upper()])
    if value <= 0:
        raise ValueError(f"{name} must be positive, got {text!r}")
    return value


def format_size(n: int) -> str:
    """``3 GiB``, ``512 MiB``, ``1.5 GiB``, ``100 bytes``."""
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.4g} {unit}"
    return f"{n} bytes"


@dataclass(frozen=True)
class Limits:
    """Per-kernel limits; ``None`` means none.

    The defaults come from the course's own needs, measured on its heaviest notebooks executed whole
    (kernel and children, 2 cores): at most 610 MiB of memory (notebook 06; 01 needs 207 MiB) and 24
    processes and threads. The defaults leave about 5x and 20x of margin, as PrairieLearn's 2 GiB /
    1024 processes do for its courses.
    """

    memory: int | None = 3 * 2**30
    max_procs: int | None = 512
    max_file_size: int | None = 1 * 2**30
    notebook_timeout: int | None = 900

    def __post_init__(self):
        for name in ("memory", "max_procs", "max_file_size", "notebook_timeout"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value <= 0):
                raise ValueError(f"{name} must be a positive integer or None, got {value!r}")


DEFAULT_LIMITS = Limits()

#: The unprivileged user a root grader's kernels run as.
UNPRIVILEGED = "nobody"


@dataclass
class Plan:
    """What confines each kernel of one grading run: the mechanisms this machine allows, probed once."""

    limits: Limits = field(default_factory=Limits)
    sandbox: str = "none"  # "bwrap" or "none"
    cgroup: str | None = None  # "v1", "v2" or None
    user: tuple[int, int] | None = None  # (uid, gid) to drop to, or None: the grader's own user
    notes: list[str] = field(default_factory=list)  # why a stronger mechanism is not in force
    platform: str = sys.platform

    def describe(self) -> dict:
        """What is in force, in words, for the reports."""
        lim = self.limits
        if lim.memory is None:
            memory = "none"
        elif self.cgroup:
            memory = f"{format_size(lim.memory)} (cgroup {self.cgroup})"
        elif self.platform == "win32":
            memory = "none (no per-kernel limits on Windows)"
        elif self.platform == "darwin":
            memory = f"none enforced (macOS ignores the address-space rlimit; {format_size(lim.memory)} asked)"
        else:
            memory = f"{format_size(lim.memory)} of address space (rlimit)"
        if lim.max_procs is None:
            procs = "none"
        elif self.cgroup:
            procs = f"{lim.max_procs} processes and threads (cgroup {self.cgroup})"
        elif self.platform != "linux":
            procs = "none (no per-kernel process limit on this system)"
        else:
            procs = f"{lim.max_procs} processes of the kernel's user (rlimit)"
        user = ("the grader's own user" if self.user is None
                else f"{_user_name(self.user[0])} (uid {self.user[0]})")
        return {
            "sandbox": ("bubblewrap: read-only system, private /tmp, no network, own PID namespace"
                        if self.sandbox == "bwrap" else "none"),
            "kernel user": user,
            "memory": memory,
            "processes": procs,
            "file size": ("none" if lim.max_file_size is None or self.platform == "win32"
                          else f"{format_size(lim.max_file_size)} (rlimit)"),
            "notebook timeout": "none" if lim.notebook_timeout is None else f"{lim.notebook_timeout} s",
            "notes": list(self.notes),
        }

    def line(self) -> str:
        """One line for the terminal."""
        d = self.describe()
        return (f"in force: sandbox {'bubblewrap' if self.sandbox == 'bwrap' else 'none'}; kernel user "
                f"{d['kernel user']}; memory {d['memory']}; processes {d['processes']}; "
                f"file size {d['file size']}; notebook timeout {d['notebook timeout']}")


def _user_name(uid: int) -> str:
    try:
        import pwd

        return pwd.getpwuid(uid).pw_name
    except (ImportError, KeyError):
        return str(uid)


# --------------------------------------------------------------------------------------------- cgroups

def _own_cgroup(controller: str, proc_cgroup: str) -> str | None:
    """This process's cgroup path for ``controller`` ('' for v2) from the text of /proc/self/cgroup."""
    for line in proc_cgroup.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        if (controller == "" and parts[0] == "0" and parts[1] == "") or controller in parts[1].split(","):
            return parts[2]
    return None


class Cgroups:
    """The cgroups of one submission's kernel: a memory and a pids limit, made under the grader's own cgroup.

    ``root`` is where the cgroup filesystems are mounted (``/sys/fs/cgroup``); tests pass a folder
    that imitates one.
    """

    def __init__(self, version: str, folders: dict[str, Path]):
        self.version = version
        self.folders = folders  # controller -> folder ("unified" for v2)

    @staticmethod
    def detect(root: Path = Path("/sys/fs/cgroup"), proc_cgroup: str | None = None) -> str | None:
        """``"v1"`` or ``"v2"`` where this process may make child cgroups with memory and pids, else ``None``."""
        if proc_cgroup is None:
            try:
                proc_cgroup = Path("/proc/self/cgroup").read_text()
            except OSError:
                return None
        for version in ("v1", "v2"):
            try:
                group = Cgroups.create(f"probe-{os.getpid()}", Limits(memory=2**30, max_procs=64,
                                                                       max_file_size=None, notebook_timeout=None),
                                       root=root, proc_cgroup=proc_cgroup, version=version)
            except OSError:
                continue
            group.remove()
            return version
        return None

    @staticmethod
    def create(name: str, limits: Limits, root: Path = Path("/sys/fs/cgroup"), proc_cgroup: str | None = None,
               version: str = "v1") -> Cgroups:
        """Make the cgroups for ``name`` with ``limits``; ``OSError`` where this machine does not allow it."""
        if proc_cgroup is None:
            proc_cgroup = Path("/proc/self/cgroup").read_text()
        folders: dict[str, Path] = {}
        try:
            if version == "v1":
                for controller in ("memory", "pids"):
                    own = _own_cgroup(controller, proc_cgroup)
                    base = root / controller / (own or "/").lstrip("/")
                    if own is None or not base.is_dir():
                        base = root / controller
                    if not (base / "cgroup.procs").exists():
                        raise OSError(f"no cgroup v1 {controller} controller at {root / controller}")
                    folder = base / f"lrcourse-{name}"
                    folder.mkdir()
                    folders[controller] = folder
                if limits.memory is not None:
                    (folders["memory"] / "memory.limit_in_bytes").write_text(str(limits.memory))
                    swap = folders["memory"] / "memory.memsw.limit_in_bytes"
                    if swap.exists():
                        try:
                            swap.write_text(str(limits.memory))  # no swapping past the limit either
                        except OSError:
                            pass
                if limits.max_procs is not None:
                    (folders["pids"] / "pids.max").write_text(str(limits.max_procs))
            else:
                own = _own_cgroup("", proc_cgroup)
                if own is None or not (root / "cgroup.controllers").exists():
                    raise OSError(f"no cgroup v2 hierarchy at {root}")
                base = root / own.lstrip("/")
                if base.name == _LEAF:  # this process was moved to a leaf already (see _enable_v2)
                    base = base.parent
                _enable_v2(base)
                folder = base / f"lrcourse-{name}"
                folder.mkdir()
                folders["unified"] = folder
                available = (folder / "cgroup.controllers").read_text().split()
                if not {"memory", "pids"} <= set(available):
                    raise OSError(f"the memory and pids controllers are not delegated to {base}")
                if limits.memory is not None:
                    (folder / "memory.max").write_text(str(limits.memory))
                    if (folder / "memory.swap.max").exists():
                        (folder / "memory.swap.max").write_text("0")
                if limits.max_procs is not None:
                    (folder / "pids.max").write_text(str(limits.max_procs))
        except OSError:
            Cgroups(version, folders).remove()
            raise
        return Cgroups(version, folders)

    def procs_files(self) -> list[str]:
        """The ``cgroup.procs`` files a process writes its pid to, to join."""
        return [str(folder / "cgroup.procs") for folder in self.folders.values()]

    def oom_kills(self) -> int:
        """How many processes the kernel's OOM killer stopped because the memory limit was reached."""
        name = "memory" if self.version == "v1" else "unified"
        events = self.folders.get(name)
        if events is None:
            return 0
        for file in ("memory.oom_control", "memory.events"):
            try:
                for line in (events / file).read_text().splitlines():
                    key, _, value = line.partition(" ")
                    if key == "oom_kill":
                        return int(value)
            except (OSError, ValueError):
                continue
        return 0

    def pids_refused(self) -> int:
        """How many forks the pids limit refused (0 where the kernel does not count them)."""
        folder = self.folders.get("pids" if self.version == "v1" else "unified")
        try:
            for line in (folder / "pids.events").read_text().splitlines():  # type: ignore[operator]
                key, _, value = line.partition(" ")
                if key == "max":
                    return int(value)
        except (OSError, ValueError, TypeError):
            pass
        return 0

    def kill_all(self) -> None:
        """SIGKILL every process still in these cgroups."""
        for folder in self.folders.values():
            kill = folder / "cgroup.kill"
            if kill.exists():
                try:
                    kill.write_text("1")
                    continue
                except OSError:
                    pass
            for _ in range(50):
                try:
                    pids = [int(p) for p in (folder / "cgroup.procs").read_text().split()]
                except (OSError, ValueError):
                    break
                if not pids:
                    break
                for pid in pids:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass
                time.sleep(0.02)

    def remove(self) -> None:
        """Stop what is left and remove the cgroups."""
        self.kill_all()
        for folder in self.folders.values():
            for _ in range(50):
                try:
                    folder.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError as err:
                    if err.errno == errno.ENOTEMPTY:  # not a cgroup filesystem (whose files go with the folder)
                        shutil.rmtree(folder, ignore_errors=True)
                        break
                    time.sleep(0.02)  # EBUSY: its last processes are still exiting


#: The cgroup v2 leaf the grader moves itself to, so that its own cgroup may hand controllers to children.
_LEAF = "lrcourse-grader"


def _enable_v2(base: Path) -> None:
    """Give ``base``'s children the memory and pids controllers, the way cgroup v2 delegation asks.

    A v2 cgroup that holds processes cannot enable controllers for its children ("no internal
    processes"), so this process first moves itself into a leaf child of ``base``. That works where the
    grader is alone in a delegated cgroup (``systemd-run --user --scope -p Delegate=yes lrcourse grade
    ...``, or a container's own cgroup as root); elsewhere the write fails, and ``OSError`` says so.
    """
    control = base / "cgroup.subtree_control"
    if {"memory", "pids"} <= set(control.read_text().split()):
        return
    leaf = base / _LEAF
    if not leaf.is_dir():
        leaf.mkdir()
    (leaf / "cgroup.procs").write_text(str(os.getpid()))
    try:
        control.write_text("+memory +pids")
    except OSError as err:
        raise OSError(f"the memory and pids controllers cannot be enabled under {base} ({err}): other processes "
                      f"share the grader's cgroup, or it is not delegated") from err


# --------------------------------------------------------------------------------------------- planning

def _python_dirs() -> list[str]:
    """The folders the kernel's Python needs, read-only: its prefixes, its path and lrcourse itself."""
    cwd = os.getcwd()
    found = [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
             os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))]  # lrcourse (an editable install)
    for entry in sys.path:
        if entry and os.path.isabs(entry) and os.path.isdir(entry) and os.path.realpath(entry) != os.path.realpath(cwd):
            found.append(entry)
    dirs: list[str] = []
    for path in sorted({os.path.realpath(p) for p in found}, key=len):
        if not any(path == d or path.startswith(d.rstrip("/") + "/") for d in dirs) and os.path.isdir(path):
            dirs.append(path)
    return dirs


_SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt")


def bwrap_args(writable: list[str], python_dirs: list[str], cwd: str) -> list[str]:
    """bubblewrap's arguments: a read-only system and Python, ``writable`` folders at their own paths."""
    args = [shutil.which("bwrap") or "bwrap", "--die-with-parent", "--unshare-pid", "--unshare-net",
            "--unshare-ipc", "--unshare-uts", "--hostname", "grading"]
    for path in _SYSTEM:
        args += ["--ro-bind-try", path, path]
    args += ["--proc", "/proc", "--dev", "/dev", "--perms", "01777", "--tmpfs", "/tmp"]
    made = {"/", "/tmp", *_SYSTEM}

    def parents(path: str) -> list[str]:
        # bubblewrap would make a bound path's missing parents with mode 0700, which the unprivileged user
        # cannot cross (a Python under /root): make them 0755 first
        out = []
        for parent in reversed(Path(path).parents):
            if str(parent) not in made:
                made.add(str(parent))
                out += ["--perms", "0755", "--dir", str(parent)]
        return out

    for path in python_dirs:
        if not any(path == s or path.startswith(s + "/") for s in _SYSTEM):
            args += parents(path) + ["--ro-bind", path, path]
    for path in writable:
        args += parents(path) + ["--bind", path, path]
    # The kernel's parent is not visible inside: its parent is the namespace's init, pid 1, which ipykernel
    # does not poll (bubblewrap's --die-with-parent ends the kernel with the grader instead)
    args += ["--chdir", cwd, "--setenv", "JPY_PARENT_PID", "1"]
    return args


def _probe(p: Plan, python: str) -> str | None:
    """Run ``python -c 'import ipykernel, lrcourse'`` confined as planned; the error, or None when it works."""
    import tempfile

    folder = tempfile.mkdtemp(prefix="lrcourse-probe-")
    try:
        if p.user is not None:
            os.chown(folder, *p.user)
        cmd = wrap([python, "-c", "import ipykernel, lrcourse.exercises"], p, writable=[folder], cwd=folder,
                   home=folder)
        done = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              timeout=60, cwd=folder)
        if done.returncode != 0:
            tail = done.stdout.decode(errors="replace").strip().splitlines()[-1:] or [f"exit {done.returncode}"]
            return tail[0]
        return None
    except (OSError, subprocess.SubprocessError) as err:
        return f"{type(err).__name__}: {err}"
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def plan(sandbox: str = "auto", limits: Limits = DEFAULT_LIMITS, python: str | None = None,
         cgroups: bool = True) -> Plan:
    """What this machine allows, probed: cgroups, bubblewrap, an unprivileged user.

    ``sandbox``: ``"auto"`` (bubblewrap where it works, else none, with the reason in ``notes``),
    ``"bwrap"`` (required: ``RuntimeError`` where it does not work) or ``"none"``.
    """
    if sandbox not in ("auto", "bwrap", "none"):
        raise ValueError(f"sandbox must be 'auto', 'bwrap' or 'none', got {sandbox!r}")
    if not isinstance(limits, Limits):
        raise ValueError(f"limits must be a Limits, got {type(limits).__name__}")
    python = python or sys.executable
    p = Plan(limits=limits)
    if sys.platform != "linux":
        p.notes.append(f"no sandbox, cgroups or user switch on {sys.platform}: rlimits only")
        if sandbox == "bwrap":
            raise RuntimeError(f"--sandbox bwrap: bubblewrap runs on Linux only, not on {sys.platform}")
        return p
    if cgroups and (limits.memory is not None or limits.max_procs is not None):
        p.cgroup = Cgroups.detect()
        if p.cgroup is None:
            p.notes.append("no cgroup with memory and pids controllers could be made here (not root, or not "
                           "delegated): memory and processes are limited by rlimits")
    if os.geteuid() == 0:
        try:
            import pwd

            entry = pwd.getpwnam(UNPRIVILEGED)
            p.user = (entry.pw_uid, entry.pw_gid)
        except (ImportError, KeyError):
            p.notes.append(f"no user {UNPRIVILEGED!r} on this machine: kernels run as root")
    if sandbox != "none":
        if shutil.which("bwrap") is None:
            reason = "bubblewrap is not installed (Debian/Ubuntu: apt-get install bubblewrap)"
        else:
            p.sandbox = "bwrap"
            reason = _probe(p, python)
            if reason is not None:
                p.sandbox = "none"
                reason = f"bubblewrap does not work here ({reason})"
        if reason is not None:
            if sandbox == "bwrap":
                raise RuntimeError(f"--sandbox bwrap: {reason}")
            p.notes.append(f"no sandbox: {reason}")
    if p.sandbox == "none" and p.user is not None:
        reason = _probe(p, python)  # without a sandbox, the user must reach the Python environment itself
        if reason is not None:
            p.notes.append(f"kernels run as root: {UNPRIVILEGED} cannot run {python} ({reason})")
            p.user = None
    return p


# --------------------------------------------------------------------------------------------- wrapping

def wrap(cmd: list[str], p: Plan, writable: list[str], cwd: str, home: str,
         cgroup_files: list[str] | None = None) -> list[str]:
    """The kernel command ``cmd`` behind the launcher, confined as ``p`` says (unchanged on Windows)."""
    if os.name == "nt":
        return list(cmd)
    spec = {"cgroups": list(cgroup_files or []), "limits": asdict(p.limits), "rlimit_memory": p.cgroup is None,
            "user": list(p.user) if p.user else None, "home": home}
    inner = list(cmd)
    if p.sandbox == "bwrap":
        if p.user is not None:  # drop to the user inside the sandbox, after bubblewrap bound what root can reach
            inner = [sys.executable, "-I", "-S", os.path.abspath(__file__), "drop", json.dumps(spec), "--"] + inner
        inner = bwrap_args(writable, _python_dirs(), cwd) + ["--"] + inner
        spec = dict(spec, user=None)  # the launcher outside stays root: bubblewrap binds need it
    return [sys.executable, "-I", "-S", os.path.abspath(__file__), "launch", json.dumps(spec), "--"] + inner


def _launch(spec: dict, cmd: list[str]) -> None:
    """Outside the sandbox: join the cgroups, set the rlimits, drop the user when asked, execute ``cmd``."""
    import resource

    for procs in spec["cgroups"]:
        with open(procs, "w") as f:
            f.write(str(os.getpid()))
    limits = spec["limits"]

    def limit(which: int, value: int) -> None:
        soft, hard = resource.getrlimit(which)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)  # never above what this process may have (an unprivileged grader)
        resource.setrlimit(which, (value, value))

    if limits["max_file_size"] is not None:
        limit(resource.RLIMIT_FSIZE, limits["max_file_size"])
    if spec["rlimit_memory"] and limits["memory"] is not None:
        limit(resource.RLIMIT_AS, limits["memory"])
    if spec["rlimit_memory"] and limits["max_procs"] is not None and sys.platform == "linux":
        uid = spec["user"][0] if spec["user"] else os.getuid()
        already = _count_processes(uid)  # RLIMIT_NPROC counts every process of the user
        limit(resource.RLIMIT_NPROC, already + limits["max_procs"])
    _drop_and_exec(spec, cmd)


def _drop_and_exec(spec: dict, cmd: list[str]) -> None:
    home = spec.get("home")
    if home:
        os.environ["HOME"] = home
        os.environ["MPLCONFIGDIR"] = os.path.join(home, ".matplotlib")
        os.environ["IPYTHONDIR"] = os.path.join(home, ".ipython")
    if spec["user"]:
        uid, gid = spec["user"]
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
        if os.getuid() != uid or os.geteuid() != uid:
            raise SystemExit("could not drop to the unprivileged user")
    sys.stdout.flush()
    os.execvp(cmd[0], cmd)


def _count_processes(uid: int) -> int:
    count = 0
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    count += 1
            except OSError:
                pass
    return count


def main(argv: list[str]) -> None:
    if len(argv) < 4 or argv[0] not in ("launch", "drop") or argv[2] != "--":
        raise SystemExit("usage: confine.py launch|drop SPEC -- COMMAND...")
    spec, cmd = json.loads(argv[1]), argv[3:]
    if argv[0] == "launch":
        _launch(spec, cmd)
    else:
        _drop_and_exec(spec, cmd)


if __name__ == "__main__":
    main(sys.argv[1:])
