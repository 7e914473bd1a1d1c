"""``launchpad lessons`` and ``launchpad lesson 06 [DEMO] [--json] [--step]``: find and run demos.

Lessons are folders on disk (``lessons/06-service-communication/``), not part of the
library: the library never imports them as modules. This runner finds the folder (walking
up from the package, then from the current directory), reads each demo's title from its
docstring without running it, and runs a demo by *path*: it loads the file with importlib
and calls its ``main(argv) -> int``, the same function ``python <demo>.py`` calls.

In the whole-lesson run, each demo is also given ``--result-file PATH``, where it may write
one line of what it showed (with its measured numbers) for the recap table at the end.

With ``--step`` the whole-lesson run waits for Enter between demos, so a student can read
each one before the next scrolls it away; it is off when stdin is not a terminal (a pipe,
CI), where nobody could press Enter. A mistyped demo name gets the closest match
("did you mean ...?", ``difflib``).

A lesson folder may hold ``lesson.json`` with ``{"demos": ["name", ...]}`` to fix the order
of its demos; otherwise they run in name order. Files starting with ``_`` are helpers.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import difflib
import importlib.util
import io
import json
import logging
import os
import re
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from rich.console import Console
from rich.panel import Panel
from rich.table import Table

__all__ = ["Demo", "Lesson", "find_lessons", "find_lessons_dir", "lesson_main", "lessons_main"]

LESSONS_DIR_ENV = "LAUNCHPAD_LESSONS_DIR"


class LessonNotFound(LookupError):
    """The lessons folder, a lesson or a demo is not where it was looked for."""


@dataclass(frozen=True)
class Demo:
    """One runnable demo file of a lesson."""

    name: str
    path: Path
    title: str


@dataclass(frozen=True)
class Lesson:
    """A lesson folder: its number, title (from its README), and demos in order."""

    number: str
    path: Path
    title: str
    demos: tuple[Demo, ...]

    def demo(self, name: str) -> Demo:
        wanted = name.removesuffix(".py").replace("-", "_")
        for i, d in enumerate(self.demos, start=1):
            if d.name == wanted or wanted == str(i):
                return d
        names = [d.name for d in self.demos]
        close = difflib.get_close_matches(wanted, names, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise LessonNotFound(
            f"lesson {self.number} has no demo {name!r}; {hint}its demos: {', '.join(names)}"
        )


# -- finding lessons on disk ---------------------------------------------------------------


def _candidates() -> Iterator[Path]:
    if os.environ.get(LESSONS_DIR_ENV):
        yield Path(os.environ[LESSONS_DIR_ENV])
    for start in (Path(__file__).resolve().parent, Path.cwd().resolve()):
        for folder in (start, *start.parents):
            yield folder / "lessons"


def find_lessons_dir() -> Path:
    """The ``lessons/`` folder of the kit: ``$LAUNCHPAD_LESSONS_DIR``, or walking up."""
    for candidate in _candidates():
        if candidate.is_dir() and any(candidate.glob("[0-9][0-9]-*")):
            return candidate
    raise LessonNotFound(
        "cannot find the lessons/ folder: run launchpad from a clone of the kit "
        f"(or set {LESSONS_DIR_ENV} to the folder)"
    )


def _docstring_title(path: Path) -> str:
    """The first line of a demo's module docstring, read without running the file."""
    try:
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    except (SyntaxError, UnicodeDecodeError, OSError):
        doc = None
    return doc.strip().splitlines()[0] if doc else path.stem


def _readme_title(folder: Path) -> str:
    readme = folder / "README.md"
    if readme.is_file():
        for line in readme.read_text(encoding="utf-8").splitlines():
            if line.startswith("# "):
                return line[2:].strip()
    return folder.name


def _load_lesson(folder: Path) -> Lesson:
    files = {p.stem: p for p in folder.glob("*.py") if not p.name.startswith("_")}
    order: list[str] = sorted(files)
    manifest = folder / "lesson.json"
    if manifest.is_file():
        listed = [str(n) for n in json.loads(manifest.read_text(encoding="utf-8"))["demos"]]
        order = [n for n in listed if n in files] + [n for n in order if n not in listed]
    demos = tuple(Demo(n, files[n], _docstring_title(files[n])) for n in order)
    number = folder.name.split("-", 1)[0]
    return Lesson(number, folder, _readme_title(folder), demos)


def find_lessons(root: Path | None = None) -> list[Lesson]:
    """Every lesson under ``root`` (default: ``find_lessons_dir()``), by number."""
    root = root or find_lessons_dir()
    folders = sorted(p for p in root.iterdir() if p.is_dir() and re.match(r"\d\d-", p.name))
    return [_load_lesson(p) for p in folders]


def find_lesson(number: str, root: Path | None = None) -> Lesson:
    wanted = number.zfill(2)
    lessons = find_lessons(root)
    for lesson in lessons:
        if lesson.number == wanted:
            return lesson
    known = ", ".join(lesson.number for lesson in lessons) or "none"
    raise LessonNotFound(f"no lesson {number!r}; lessons here: {known}")


# -- running demos by path -----------------------------------------------------------------


def load_demo(lesson: Lesson, demo: Demo) -> ModuleType:
    """Load a demo file as a fresh module (its folder on ``sys.path`` for its helpers)."""
    folder = str(lesson.path)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    module_name = f"launchpad_lesson{lesson.number}_{demo.name}"
    spec = importlib.util.spec_from_file_location(module_name, demo.path)
    if spec is None or spec.loader is None:  # pragma: no cover - a .py file always has one
        raise LessonNotFound(f"cannot load {demo.path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def run_demo(lesson: Lesson, demo: Demo, argv: Sequence[str] = ()) -> int:
    """Run one demo's ``main(argv)`` in this process; returns its exit code."""
    module = load_demo(lesson, demo)
    code: Any = module.main(list(argv))
    return int(code or 0)


def _run_all_json(lesson: Lesson) -> int:
    """Every demo's ``--json`` observations in one object, keyed by demo name."""
    out: dict[str, Any] = {}
    worst = 0
    for demo in lesson.demos:
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            code = run_demo(lesson, demo, ["--json"])
        worst = max(worst, code)
        text = buffer.getvalue().strip()
        out[demo.name] = json.loads(text) if text else {"error": f"exit code {code}"}
    sys.stdout.write(json.dumps(out, sort_keys=True) + "\n")
    return worst


def _redis_check() -> tuple[str, str | None]:
    """Which Redis the demos will use, and why it cannot be used (``None`` if it can)."""
    from launchpad.redis import create_redis_connection, describe

    quiet = logging.NullHandler()  # the message below says it all; no raw log line
    logging.getLogger("launchpad").addHandler(quiet)
    try:
        return _ping_redis(create_redis_connection, describe)
    finally:
        logging.getLogger("launchpad").removeHandler(quiet)


def _ping_redis(create: Any, describe: Any) -> tuple[str, str | None]:
    try:
        conn = create("lesson")
    except Exception as exc:  # a bad REDIS_URL, say
        return "?", f"{type(exc).__name__}: {exc}"
    where = describe(conn)
    try:
        conn.ping()
        return where, None
    except Exception as exc:
        return where, str(exc)
    finally:
        conn.close()


def _pause(console: Console, done: int, total: int, next_demo: Demo) -> bool:
    """Wait for Enter before the next demo; False when the student typed q to stop."""
    try:
        answer = console.input(
            f"\n[dim]part {done} of {total} done. [bold]Enter[/]: part {done + 1}, "
            f"{next_demo.name} · [bold]q[/]: stop here[/] "
        )
    except EOFError:
        return True
    return answer.strip().lower() not in ("q", "quit")


def _run_all(lesson: Lesson, console: Console, where: str, *, step: bool = False) -> int:
    """The lesson as one story: an intro, each demo in turn, and what was seen."""
    total = len(lesson.demos)
    console.print(
        Panel(
            f"[bold]{total} demos[/], one per idea of the lesson. Everything you will see "
            "happens now, on this machine: real HTTP on loopback ports and a real job queue "
            f"on Redis, here {where}. No number is made up: each one was measured in this run.\n\n"
            f"Read along: [cyan]{_relative(lesson.path / 'README.md')}[/]\n"
            f"Too fast? [bold]launchpad lesson {lesson.number} --step[/] pauses after each part.",
            title=f"[bold]Lesson {lesson.number} · {lesson.title}[/]",
            title_align="left",
            border_style="bright_magenta",
        )
    )
    results: list[tuple[Demo, int, float, str]] = []
    for i, demo in enumerate(lesson.demos, start=1):
        if step and i > 1 and not _pause(console, i - 1, total, demo):
            break
        console.print()
        console.rule(f"[bold]Part {i} of {total}[/] · {demo.name}", style="bright_magenta")
        started = time.monotonic()
        with tempfile.TemporaryDirectory() as tmp:
            recap = Path(tmp) / "result.txt"
            try:
                code = run_demo(lesson, demo, ["--result-file", str(recap)])
            except Exception as exc:  # one broken demo must not hide the others
                console.print_exception(show_locals=False)
                console.print(f"[red]{demo.name} failed: {type(exc).__name__}: {exc}[/]")
                code = 1
            shown = recap.read_text(encoding="utf-8") if recap.is_file() else ""
        results.append((demo, code, time.monotonic() - started, shown))

    table = Table(title="What you just saw", header_style="bold", title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("demo", style="cyan", no_wrap=True)
    table.add_column("what this run showed")
    table.add_column("time", justify="right", no_wrap=True)
    table.add_column("", no_wrap=True)
    for i, (demo, code, seconds, shown) in enumerate(results, start=1):
        mark = "[green]✔[/]" if code == 0 else "[red]✘[/]"
        table.add_row(str(i), demo.name, shown or demo.title, f"{seconds:.1f} s", mark)
    console.print()
    console.print(table)
    total_s = sum(r[2] for r in results)
    console.print(
        Panel(
            f"Run one again:   [bold]launchpad lesson {lesson.number} idempotency[/]\n"
            f"Its numbers:     [bold]launchpad lesson {lesson.number} idempotency --json[/]\n"
            "Your turn:       [bold]exercises/checkout/README.md[/], then "
            "[bold]launchpad check[/]",
            title=f"[bold]done in {total_s:.1f} s[/]",
            title_align="left",
            border_style="green" if all(r[1] == 0 for r in results) else "red",
        )
    )
    return 0 if all(r[1] == 0 for r in results) else 1


def _relative(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


# -- the two commands ------------------------------------------------------------------------


def lessons_main(argv: list[str]) -> int:
    """``launchpad lessons``: every lesson with its demos."""
    parser = argparse.ArgumentParser(prog="launchpad lessons", description="list the lessons")
    parser.parse_args(argv)
    console = Console()
    try:
        lessons = find_lessons()
    except LessonNotFound as exc:
        Console(stderr=True).print(f"[red]{exc}[/]")
        return 2
    for lesson in lessons:
        table = Table(
            title=f"[bold]Lesson {lesson.number} · {lesson.title}[/]",
            title_justify="left",
            header_style="bold",
        )
        table.add_column("#", justify="right")
        table.add_column("demo", style="cyan", no_wrap=True)
        table.add_column("what it shows")
        for i, demo in enumerate(lesson.demos, start=1):
            table.add_row(str(i), demo.name, demo.title)
        console.print(table)
        console.print(
            f"run all: [bold]launchpad lesson {lesson.number}[/]    one: "
            f"[bold]launchpad lesson {lesson.number} DEMO[/]    read: "
            f"{_relative(lesson.path / 'README.md')}\n"
        )
    return 0


def lesson_main(argv: list[str]) -> int:
    """``launchpad lesson 06 [DEMO] [--json]``: run one demo, or the whole lesson."""
    parser = argparse.ArgumentParser(
        prog="launchpad lesson",
        description="run a lesson's demos: all of them in order, or one by name",
    )
    parser.add_argument("number", help="the lesson number, e.g. 06")
    parser.add_argument("demo", nargs="?", help="one demo's name or number (default: all)")
    parser.add_argument(
        "--json", action="store_true", help="print observations as JSON instead of the show"
    )
    parser.add_argument(
        "--step",
        action="store_true",
        help="pause between demos until you press Enter (only in a terminal)",
    )
    args = parser.parse_args(argv)
    try:
        lesson = find_lesson(args.number)
        demo = lesson.demo(args.demo) if args.demo else None
    except LessonNotFound as exc:
        Console(stderr=True).print(f"[red]{exc}[/]")
        return 2
    where, problem = _redis_check()
    if problem is not None:
        Console(stderr=True).print(
            f"[red]the demos need Redis, and it does not answer:[/] {problem}"
        )
        return 2
    if demo is not None:
        return run_demo(lesson, demo, ["--json"] if args.json else [])
    if args.json:
        return _run_all_json(lesson)
    console = Console(highlight=False)
    step = args.step and sys.stdin.isatty()
    if args.step and not step:
        console.print("[dim]--step: stdin is not a terminal, so the demos run without pauses[/]")
    return _run_all(lesson, console, where, step=step)
