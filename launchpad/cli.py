"""The ``launchpad`` command: one entry point for lessons, services, workers and grading.

Each sub-command lives in the module that owns its idea and parses its own arguments;
this file only lists them and hands over. ``launchpad COMMAND --help`` shows a command's
own options.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence
from typing import NamedTuple

from rich.console import Console
from rich.table import Table

from launchpad import __version__

__all__ = ["COMMANDS", "main"]


class Command(NamedTuple):
    target: str  # "module:function"; the function takes argv (list[str]) and returns an exit code
    summary: str


COMMANDS: dict[str, Command] = {
    "lessons": Command("launchpad.lessons:lessons_main", "list the lessons and their demos"),
    "lesson": Command(
        "launchpad.lessons:lesson_main",
        "run a lesson's demos (launchpad lesson 06 [DEMO] [--json])",
    ),
    "up": Command(
        "launchpad.services.up:up_main",
        "start gateway, auth, notifications and the worker on real ports",
    ),
    "serve": Command(
        "launchpad.services.up:serve_main", "run one service: auth | notifications | gateway"
    ),
    "worker": Command(
        "launchpad.queue.live:worker_main",
        "run a queue worker for MODULE:FUNCTION with a live view",
    ),
    "jobs": Command(
        "launchpad.jobs_cli:jobs_main",
        "list a queue's jobs by state; show, retry or remove failed ones",
    ),
    "check": Command(
        "launchpad.grading.cli:check_main", "check your exercise (the visible checks, with hints)"
    ),
    "grade": Command(
        "launchpad.grading.cli:grade_main", "grade one submission or a class (--batch DIR)"
    ),
    "release": Command(
        "launchpad.grading.release:release_main",
        "build the student copy of the kit (instructors)",
    ),
    "doctor": Command(
        "launchpad.doctor:doctor_main", "check your set-up by running each core piece once"
    ),
    "docs": Command("launchpad.docs_cli:docs_main", "build or preview the docs site"),
}


def _usage(console: Console) -> None:
    console.print(f"[bold]launchpad[/] {__version__}: service communication, hands-on\n")
    console.print("usage: launchpad COMMAND [ARGS...]   (launchpad COMMAND --help for more)\n")
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    table.add_column("command", style="cyan")
    table.add_column("what it does")
    for name, cmd in COMMANDS.items():
        table.add_row(name, cmd.summary)
    console.print(table)
    console.print("\nStart here: [bold]launchpad lesson 06[/]")


def _load(target: str) -> Callable[[list[str]], int]:
    module_name, func_name = target.split(":")
    module = importlib.import_module(module_name)
    func: Callable[[list[str]], int] = getattr(module, func_name)
    return func


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``launchpad`` console script."""
    args = list(sys.argv[1:] if argv is None else argv)
    console = Console()
    if not args or args[0] in ("-h", "--help", "help"):
        _usage(console)
        return 0
    if args[0] in ("-V", "--version"):
        console.print(__version__)
        return 0
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        Console(stderr=True).print(
            f"[red]unknown command {name!r}[/]; known: {', '.join(COMMANDS)}"
        )
        return 2
    return _load(COMMANDS[name].target)(rest)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
