"""How the student's processes are confined, and how every one of them is found and killed.

Threat model: the submission is hostile and runs arbitrary code at import. It may fork,
start new sessions (``setsid`` + double fork) to outlive a process-group kill, clear its
environment, flood memory, files, processes or sockets, try to kill the grader, and write
anywhere it is allowed to. Fault model: it may also simply hang or exit at any moment.

When the grader runs as **root** (as Gradescope runs autograders) each grading gets a
``Confinement`` with:

* its own **unprivileged uid** (61000 + slot, a slot held by a lock file, so concurrent
  gradings never share one): it cannot signal the grader, read its temp files (mode 700),
  or write the kit or the results;
* a **private mount namespace** (``unshare --mount``) in which the kit is re-mounted
  read-only; the grader's own package (``launchpad/grading``: its checks, hidden or
  not), the solutions and any instructor checks are empty folders; and the
  interpreter's folders under a directory the uid cannot enter (pyenv under ``/root``,
  mode 700) are bind-mounted onto a tmpfs laid over that directory, so the uid can run
  Python and sees nothing else there;
* **rlimits** (``prlimit``): address space, CPU seconds, processes (per uid), open files,
  file size;
* a **private temp dir** (``HOME`` and ``TMPDIR``) and an environment of its own (no
  ``REDIS_URL``, no secrets of the grader's);
* **tracking**: a cgroup v2 when one is writable (``cgroup.kill`` ends all of it at once),
  plus a sweep of every process of the uid, which catches new sessions and cleared
  environments alike.

When it is **not root** (a student's laptop), the boundary is the process: the student's
code still never runs in the grader's process, rlimits still apply, and leftovers are
found by a marker in their environment (``/proc/<pid>/environ``) and their process
group; a process that clears its environment and leaves its session can escape that
sweep, and nothing stops it signalling the grader. ``Confinement.description`` says so
in the grader's output.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shlex
import shutil
import signal
import stat
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

__all__ = ["Confinement", "Limits", "confine", "kit_root"]

UID_BASE = 61000
UID_SLOTS = 64
MARKER_ENV = "LAUNCHPAD_GRADE_MARKER"
HERE = Path(__file__).parent


@dataclass(frozen=True)
class Limits:
    """rlimits of each student process (``prlimit`` names)."""

    address_space: int = 1536 * 2**20  # bytes; MemoryError past it
    cpu_seconds: int = 120
    processes: int = 128  # per uid, threads included (only with a uid of its own)
    open_files: int = 256
    file_size: int = 16 * 2**20  # bytes; the log file and anything it writes


@dataclass
class Confinement:
    """Where one grading's student processes run, and how to end them all."""

    workdir: Path
    uid: int | None
    marker: str
    limits: Limits
    cgroup: Path | None = None
    readonly: list[Path] = field(default_factory=list)
    hidden: list[Path] = field(default_factory=list)
    lock: IO[bytes] | None = None

    @property
    def root(self) -> bool:
        return self.uid is not None

    @property
    def tmp(self) -> Path:
        return self.workdir / "tmp"

    @property
    def child(self) -> Path:
        """The harness the student's process runs (a copy: the grader's folder is hidden)."""
        return self.workdir / "child.py"

    @property
    def description(self) -> str:
        if self.uid is None:
            return (
                "process only: the submission runs in its own process with rlimits; "
                "OS-level isolation (its own user, read-only kit, kill by uid) needs root"
            )
        tracked = "cgroup and uid" if self.cgroup else "uid"
        return (
            f"uid {self.uid}, private mounts (kit read-only, grader and solutions hidden), "
            "rlimits, private temp dir; "
            f"every process found by {tracked} and killed at the end"
        )

    def env(self) -> dict[str, str]:
        return {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": str(self.tmp),
            "TMPDIR": str(self.tmp),
            "LANG": "C.UTF-8",
            "MALLOC_ARENA_MAX": "2",  # glibc arenas reserve address space per thread
            MARKER_ENV: self.marker,
        }

    def command(self, argv: list[str]) -> list[str]:
        """``argv`` wrapped in the confinement (see the module docstring)."""
        limits = self.limits
        prlimit = [
            "prlimit",
            f"--as={limits.address_space}",
            f"--cpu={limits.cpu_seconds}",
            f"--nofile={limits.open_files}",
            f"--fsize={limits.file_size}",
        ]
        if self.uid is None:
            return [*prlimit, "--", *argv] if shutil.which("prlimit") else argv
        prlimit.append(f"--nproc={limits.processes}")
        drop = [
            "setpriv",
            f"--reuid={self.uid}",
            f"--regid={self.uid}",
            "--clear-groups",
            "--no-new-privs",
            "--inh-caps=-all",
            "--bounding-set=-all",
            "--",
        ]
        script = "\n".join(
            [
                "set -e",
                *(
                    [f"echo $$ > {shlex.quote(str(self.cgroup / 'cgroup.procs'))}"]
                    if self.cgroup
                    else []
                ),
                *self._mount_lines(),
                'exec "$@"',
            ]
        )
        return ["unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c", script,
                "sh", *prlimit, "--", *drop, *argv]  # fmt: skip

    def _mount_lines(self) -> list[str]:
        lines = []
        stage = self.workdir / "stage"
        for blocked, inside in _blocked_roots(_needed_paths(self.workdir)).items():
            for i, path in enumerate(inside):
                lines.append(
                    f"mkdir -p {q(stage / str(i))} && mount --bind {q(path)} {q(stage / str(i))}"
                )
            lines.append(f"mount -t tmpfs -o mode=755,size=1m tmpfs {q(blocked)}")
            for i, path in enumerate(inside):
                lines.append(f"mkdir -p {q(path)} && mount --move {q(stage / str(i))} {q(path)}")
            stage = stage / "next"
        for path in self.readonly:  # before hiding: a bind of a folder hides its submounts
            lines.append(f"mount --bind {q(path)} {q(path)} && mount -o remount,bind,ro {q(path)}")
        for path in self.hidden:
            lines.append(f"mount -t tmpfs -o mode=755,size=4k tmpfs {q(path)}")
        return lines

    # -- the end ------------------------------------------------------------------------

    def kill_all(self, pids: list[int]) -> None:
        """Kill every process of this grading's student, however it tried to hide."""
        for _ in range(100):
            found = self._find(pids)
            if not found:
                break
            for pid in found:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.02)
            pids = []

    def _find(self, started: list[int]) -> set[int]:
        found = set(started)
        for pid in started:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
        if self.cgroup is not None:
            with contextlib.suppress(OSError):
                (self.cgroup / "cgroup.kill").write_text("1")
            with contextlib.suppress(OSError):
                found |= {int(p) for p in (self.cgroup / "cgroup.procs").read_text().split()}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            with contextlib.suppress(OSError):
                if self.uid is not None:
                    if _real_uid(entry) == self.uid:
                        found.add(int(entry.name))
                elif self.marker.encode() in (entry / "environ").read_bytes():
                    found.add(int(entry.name))
        return {pid for pid in found if _exists(pid)}

    def close(self, pids: list[int]) -> None:
        self.kill_all(pids)
        if self.cgroup is not None:
            with contextlib.suppress(OSError):
                self.cgroup.rmdir()
        shutil.rmtree(self.workdir, ignore_errors=True)
        if self.lock is not None:
            self.lock.close()


def q(path: Path | str) -> str:
    return shlex.quote(str(path))


def _exists(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return status.rsplit(")", 1)[-1].split()[0] != "Z"


def _real_uid(entry: Path) -> int | None:
    for line in (entry / "status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    return None


def kit_root() -> Path:
    """The folder that holds the grader's own ``launchpad`` (a checkout, a student copy on
    ``PYTHONPATH`` or site-packages): the student's process imports the kit from there."""
    import launchpad

    return Path(launchpad.__file__).resolve().parents[1]


def _needed_paths(workdir: Path) -> list[Path]:
    """Every folder the student's Python must read: the interpreter, its packages, the kit."""
    paths = {Path(sys.base_prefix), Path(sys.prefix), Path(sys.executable).resolve().parent}
    paths |= {Path(p) for p in sys.path if p and Path(p).is_dir()}
    paths.add(kit_root())
    paths.add(workdir)
    return sorted({p.resolve() for p in paths})


def _blocked_roots(paths: list[Path]) -> dict[Path, list[Path]]:
    """For each directory others cannot enter: the needed paths under it (outermost only)."""
    blocked: dict[Path, list[Path]] = {}
    for path in paths:
        for ancestor in [*reversed(path.parents), path][1:]:
            mode = ancestor.stat().st_mode
            if not mode & stat.S_IXOTH:
                if ancestor != path:
                    blocked.setdefault(ancestor, []).append(path)
                break
    return {
        root: [p for p in inside if not any(o != p and p.is_relative_to(o) for o in inside)]
        for root, inside in blocked.items()
    }


def _cgroup_root() -> Path | None:
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/mounts").read_text().splitlines():
            parts = line.split()
            if len(parts) > 2 and parts[2] == "cgroup2":
                root = Path(parts[1])
                if os.access(root, os.W_OK):
                    return root
    return None


def _take_uid() -> tuple[int, IO[bytes]]:
    """A uid no other grading on this machine holds now (a lock file per slot)."""
    for slot in range(UID_SLOTS):
        handle = open(f"/tmp/launchpad-grade-uid-{slot}.lock", "wb")  # noqa: SIM115
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            continue
        return UID_BASE + slot, handle
    raise RuntimeError(f"all {UID_SLOTS} grading uids are in use")


def confine(readonly: list[Path], hidden: list[Path], limits: Limits | None = None) -> Confinement:
    """A fresh confinement for one grading (root: a uid, mounts, a cgroup; else a marker).

    ``readonly``: folders the student may read, never write (the kit). ``hidden``: folders
    the student's process sees empty (the grader's own code, the solutions, extra checks).
    """
    workdir = Path(tempfile.mkdtemp(prefix="launchpad-student-"))
    marker = uuid.uuid4().hex
    limits = limits or Limits()
    (workdir / "tmp").mkdir()
    for name in ("child.py", "remote.py"):
        shutil.copyfile(HERE / name, workdir / name)
        os.chmod(workdir / name, 0o644)
    if os.geteuid() != 0:
        return Confinement(workdir, None, marker, limits)
    uid, lock = _take_uid()
    os.chmod(workdir, 0o711)  # the student may enter, not list
    os.chown(workdir / "tmp", uid, uid)
    os.chmod(workdir / "tmp", 0o700)
    confinement = Confinement(
        workdir, uid, marker, limits, readonly=readonly, hidden=hidden, lock=lock
    )
    confinement.kill_all([])  # leftovers of a grader that died holding this uid
    root = _cgroup_root()
    if root is not None:
        group = root / f"launchpad-grade-{marker[:12]}"
        with contextlib.suppress(OSError):
            group.mkdir()
            confinement.cgroup = group
    return confinement
