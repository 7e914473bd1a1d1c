"""``launchpad release``: the student copy of the kit, built from the instructor's kit.

An instructor's kit holds what students must not read: the reference solution
(``solutions/``), the hidden checks (``instructor/``), the instructor pages of the docs
(``docs/instructors/``) and the tests that need them. The student copy is the kit without
them, plus a GitHub Classroom workflow that runs the visible checks on every push.

Threat model. The student reads every byte of the copy (and of its ``.zip``), so what is
left out must be left out whole: a file is copied only when git tracks it (a ``.venv``,
``.cache``, build output or a stray note never ships) and no rule of
``INSTRUCTOR_ONLY`` names it. A tracked text file may also mark lines that only the
instructor's kit carries (a table row that names ``solutions/``, the nav entry of the
instructor pages), in a comment of the file's own syntax: ``instructor-only`` then ``:line``
drops its line; ``:start`` to ``:end`` drops the lines from one marker to the other, both
included. The build refuses an unbalanced marker rather than guess, and builds in a
temporary folder that becomes ``student/`` only when the whole copy is written. Tests that need the
instructor's kit are either left out (listed below, whole files) or marked
``@pytest.mark.instructor_kit``; ``tests/conftest.py`` skips those in a copy, which it
recognises by the ``STUDENT_COPY_MARKER`` file the build writes at the top.

Fault model. The kit must be a git checkout (``git ls-files`` is the list of what ships);
a tracked file deleted from the working tree is skipped; the output folder is replaced
only when ``--force`` is given, never merged into. Nothing here runs student code.
"""

from __future__ import annotations

import argparse
import os
import shutil
import stat
import subprocess
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

__all__ = [
    "CLASSROOM_WORKFLOW",
    "INSTRUCTOR_ONLY",
    "STUDENT_COPY_MARKER",
    "Artefact",
    "ReleaseError",
    "build_student_copy",
    "check_free",
    "find_kit",
    "instructor_only",
    "kit_files",
    "release_main",
    "student_text",
]

STUDENT_COPY_MARKER = ".launchpad-student-copy"
"""A file at the top of a student copy; its tests skip those marked ``instructor_kit``."""

INSTRUCTOR_ONLY: tuple[str, ...] = (
    "solutions/",  # the reference solution
    "instructor/",  # the hidden checks and their description
    "docs/instructors/",  # the instructor's guide and the solution walk-through pages
    "tests/grading/",  # the grader's own tests grade the solution and its mutants
    "docs/examples/course-checks/",  # the guide's example checks (only its pages show them)
)
"""Path prefixes (relative to the kit, ``/``-separated) that never go into a student copy."""

CLASSROOM_WORKFLOW = """\
# GitHub Classroom: runs the checkout exercise's visible checks on every push.
# Written by `launchpad release`; the hidden checks are not in this repository.
name: LaunchPad checks
on: [push, workflow_dispatch]
permissions: read-all
jobs:
  checks:
    runs-on: ubuntu-latest
    timeout-minutes: 15
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.12"
      - name: Install the kit
        run: python -m pip install -e .
      - name: The exercise's visible checks
        run: launchpad check exercises/checkout
"""

_MARK = "instructor-only" + ":"  # split, so that this file carries no marker itself
_LINE, _START, _END = _MARK + "line", _MARK + "start", _MARK + "end"


class ReleaseError(Exception):
    """The kit cannot be released as it is (not a git checkout, a bad marker, ...)."""


@dataclass(frozen=True)
class Artefact:
    """One thing ``launchpad release`` built: where, how many files, how big, how long."""

    path: Path
    files: int
    size: int  # bytes: of the files (a folder) or of the archive (a zip)
    seconds: float


def find_kit(kit: Path | None = None) -> Path:
    """``kit`` when given; else the folder of this package's source when it is a kit (an
    editable install), else the current folder or one of its parents."""
    if kit is not None:
        candidates = [kit.resolve()]
    else:
        cwd = Path.cwd().resolve()
        candidates = [Path(__file__).resolve().parents[2], cwd, *cwd.parents]
    for candidate in candidates:
        if (candidate / "pyproject.toml").is_file() and (candidate / "launchpad").is_dir():
            return candidate
    raise ReleaseError(f"no LaunchPad kit (pyproject.toml and launchpad/) at {candidates[0]}")


def kit_files(kit: Path) -> list[str]:
    """The files git tracks in ``kit`` that exist in its working tree, sorted."""
    try:
        proc = subprocess.run(
            ["git", "-C", str(kit), "ls-files", "-z", "--cached"],
            capture_output=True,
            check=False,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ReleaseError(f"cannot run git in {kit}: {exc}") from exc
    if proc.returncode != 0:
        raise ReleaseError(
            f"{kit} is not a git checkout (git ls-files: {proc.stderr.decode().strip()}); "
            "the release copies only the files git tracks"
        )
    names = [n for n in proc.stdout.decode().split("\0") if n]
    return sorted(n for n in names if (kit / n).is_file() and not (kit / n).is_symlink())


def instructor_only(path: str) -> bool:
    """Whether the kit file ``path`` (relative, ``/``-separated) stays out of the copy."""
    return any(path.startswith(prefix) for prefix in INSTRUCTOR_ONLY)


def student_text(text: str, *, name: str = "<text>") -> str:
    """``text`` without the lines marked instructor-only (see the module docstring).

    Raises:
        ReleaseError: a start marker without its end, or an end without a start.
    """
    if _MARK not in text:
        return text
    kept: list[str] = []
    inside: int | None = None
    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        if _START in line:
            if inside is not None:
                raise ReleaseError(f"{name}:{number}: {_START} inside the block of line {inside}")
            inside = number
        elif _END in line:
            if inside is None:
                raise ReleaseError(f"{name}:{number}: {_END} without a start")
            inside = None
        elif inside is None and _LINE not in line:
            kept.append(line)
    if inside is not None:
        raise ReleaseError(f"{name}:{inside}: {_START} is never ended")
    return "".join(kept)


def _copy_file(source: Path, target: Path, name: str) -> int:
    """Copy one kit file (marked lines dropped from text); returns the bytes written."""
    target.parent.mkdir(parents=True, exist_ok=True)
    data = source.read_bytes()
    if _MARK.encode() in data:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ReleaseError(
                f"{name}: instructor-only marker in a file that is not UTF-8"
            ) from exc
        data = student_text(text, name=name).encode("utf-8")
    target.write_bytes(data)
    mode = source.stat().st_mode
    target.chmod(0o755 if mode & stat.S_IXUSR else 0o644)
    return len(data)


def check_free(path: Path, *, force: bool) -> None:
    if path.exists() and not force:
        raise ReleaseError(f"{path} exists; remove it or pass --force to replace it")


def _replace(path: Path, built: Path) -> None:
    """Move the finished ``built`` to ``path``, removing what was there (``--force``)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()
    built.rename(path)


def build_student_copy(kit: Path, into: Path, *, force: bool = False) -> Artefact:
    """Write the student copy of ``kit`` to the folder ``into`` (see the module docstring)."""
    started = time.perf_counter()
    files = [n for n in kit_files(kit) if not instructor_only(n)]
    check_free(into, force=force)
    into.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=".student-", dir=into.parent))
    try:
        size = 0
        for name in files:
            size += _copy_file(kit / name, building / name, name)
        extra = {
            ".github/workflows/classroom.yml": CLASSROOM_WORKFLOW,
            STUDENT_COPY_MARKER: "This kit is a student copy made by `launchpad release`.\n",
        }
        for name, text in extra.items():
            (building / name).parent.mkdir(parents=True, exist_ok=True)
            (building / name).write_text(text, encoding="utf-8")
            size += len(text.encode())
        building.chmod(0o755)
        _replace(into, building)
    finally:
        if building.exists():
            shutil.rmtree(building)
    return Artefact(into, len(files) + len(extra), size, time.perf_counter() - started)


def zip_folder(folder: Path, archive: Path) -> Artefact:
    """``folder`` as a deflated zip whose entries are relative to it (modes kept)."""
    started = time.perf_counter()
    count = 0
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as out:
        for root, dirs, names in os.walk(folder):
            dirs.sort()
            for name in sorted(names):
                path = Path(root) / name
                info = zipfile.ZipInfo.from_file(path, path.relative_to(folder).as_posix())
                info.compress_type = zipfile.ZIP_DEFLATED
                out.writestr(info, path.read_bytes())
                count += 1
    return Artefact(archive, count, archive.stat().st_size, time.perf_counter() - started)


def _describe(what: str, artefact: Artefact) -> str:
    return (
        f"{what}: {artefact.path} ({artefact.files} files, {artefact.size / 1024:.0f} KiB, "
        f"{artefact.seconds:.1f} s)"
    )


def release_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="launchpad release",
        description="Build the student copy of this kit (no solutions, hidden checks, "
        "instructor pages or the tests that need them; with a GitHub Classroom workflow).",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("dist/release"),
        help="where to write the release (default %(default)s): OUT/student/ and its zip",
    )
    parser.add_argument(
        "--zip", action="store_true", help="also write OUT/student.zip of the student copy"
    )
    parser.add_argument(
        "--gradescope",
        action="store_true",
        help="also write OUT/gradescope-autograder.zip (the kit's wheel, setup.sh, "
        "run_autograder, the hidden checks)",
    )
    parser.add_argument(
        "--course-checks",
        type=Path,
        metavar="DIR",
        default=None,
        help="--gradescope: a folder of your own checks (*.py using @check) to grade with too",
    )
    parser.add_argument(
        "--time-limit",
        type=float,
        default=300.0,
        help="--gradescope: seconds for grading one submission (default %(default)g)",
    )
    parser.add_argument("--force", action="store_true", help="replace what OUT already holds")
    parser.add_argument(
        "--kit",
        type=Path,
        default=None,
        help="the instructor's kit (a git checkout; default: this kit)",
    )
    args = parser.parse_args(argv)
    console, errors = Console(), Console(stderr=True)
    try:
        kit = find_kit(args.kit)
        out = args.out if args.out.is_absolute() else Path.cwd() / args.out
        archive = out / "student.zip"
        if args.zip:
            check_free(archive, force=args.force)
        student = build_student_copy(kit, out / "student", force=args.force)
        console.print(_describe("student copy", student))
        if args.zip:
            console.print(_describe("student zip", zip_folder(student.path, archive)))
        if args.gradescope:
            from launchpad.grading.autograder import build_autograder  # it builds on this module

            if not (kit / "instructor" / "checkout" / "checks").is_dir():
                console.print("[yellow]no instructor/checkout/checks: no hidden checks[/]")
            autograder = build_autograder(
                kit,
                out / "gradescope-autograder.zip",
                course_checks=args.course_checks,
                time_limit=args.time_limit,
                force=args.force,
            )
            console.print(_describe("Gradescope autograder", autograder))
    except ReleaseError as exc:
        errors.print(f"[red]launchpad release: {exc}[/]")
        return 2
    return 0
