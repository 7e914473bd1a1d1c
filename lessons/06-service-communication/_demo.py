"""Plumbing shared by the lesson 06 demos, so each demo file can be about its one idea.

A demo is a function ``body(demo: Demo) -> None`` that does real work with the library,
prints what happens with ``demo.say`` / ``demo.table`` / ``demo.timeline``, and writes every
number it measured with ``demo.observe(...)``. :func:`run_demo` turns it into a command:

* ``python lessons/06-service-communication/<demo>.py`` shows it with rich output;
* ``... --json`` prints ONE JSON object, the observations, and nothing else on stdout
  (tests and instructors read it).

Nothing here makes numbers up: observations come only from what the demo measured.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def _missing_package(exc: ImportError) -> str:
    """What to do when a demo is run by a Python that does not have the kit installed."""
    script = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "<demo>.py"
    return (
        f"This demo needs the kit's packages, and {exc.name or 'one'} is missing from the "
        f"Python that ran it:\n  {sys.executable}\n\n"
        "Run it with the kit's environment, from the top of the kit:\n"
        "  . .venv/bin/activate            (Windows: .venv\\Scripts\\activate)\n"
        f"  python lessons/06-service-communication/{script}\n"
        "or without activating: .venv/bin/python lessons/06-service-communication/"
        f"{script}\n\n"
        "No .venv yet? Create it once:  python3 -m venv .venv && .venv/bin/pip install -e .\n"
        "(or: make demo). See docs/getting-started.md.\n"
    )


try:  # the demos' first import: a missing package gets directions, not a traceback
    from rich.console import Console
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    from launchpad.logging import CollectingHandler
    from launchpad.redis import create_redis_connection, describe
except ImportError as _exc:
    sys.stderr.write(_missing_package(_exc))
    raise SystemExit(2) from None

__all__ = [
    "Demo",
    "Hang",
    "Spy",
    "delete_prefix",
    "run_demo",
    "scratch_prefix",
    "ticker_app",
    "wait_until",
]

ACTOR_STYLE = {
    "client": "bold white",
    "gateway": "bold blue",
    "auth": "bold green",
    "notifications": "bold magenta",
    "worker": "bold magenta",
    "queue": "bold yellow",
    "redis": "bold red",
    "email": "bold cyan",
    "caller": "bold white",
    "run": "bold magenta",
}


class Demo:
    """What a demo body gets: a console for people and a dict of observations for machines."""

    def __init__(self, title: str, *, json_mode: bool, console: Console | None = None) -> None:
        self.title = title
        self.json_mode = json_mode
        self.console = console or Console(quiet=json_mode, highlight=False)
        self.observations: dict[str, Any] = {}
        self.summary = ""
        self.started = time.monotonic()

    # -- observations: only what this run measured ---------------------------------------

    def observe(self, **fields: Any) -> None:
        """Record measured facts; they become the ``--json`` output."""
        self.observations.update(fields)

    def headline(self, text: str) -> None:
        """One line of what this run showed, with its measured numbers (the lesson's recap)."""
        self.summary = text

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    # -- output for people -----------------------------------------------------------------

    def say(self, text: str) -> None:
        self.console.print(text)

    def step(self, text: str) -> None:
        self.console.print(f"\n[bold cyan]▸[/] [bold]{text}[/]")

    def result(self, ok: bool, text: str) -> None:
        mark = "[bold green]✔[/]" if ok else "[bold red]✘[/]"
        self.console.print(f"  {mark} {text}")

    def shortened(self, what: str) -> None:
        """Say out loud that a duration was shortened for the demo (honesty about timing)."""
        self.console.print(f"  [yellow]⏱ shortened for the demo:[/] {what}")

    def panel(self, body: str, *, title: str | None = None, style: str = "cyan") -> None:
        self.console.print(Panel(body, title=title, border_style=style, expand=False))

    def table(self, *columns: str, rows: Sequence[Sequence[Any]], title: str | None = None) -> None:
        table = Table(*columns, title=title, header_style="bold", title_justify="left")
        for row in rows:
            table.add_row(*(r if isinstance(r, Text) else str(r) for r in row))
        self.console.print(table)

    def timeline(self, events: Sequence[tuple[float, str, str]], *, title: str) -> None:
        """Events ``(seconds since start, actor, what)`` as a table with a time bar."""
        if not events:
            return
        span = max(t for t, _, _ in events) or 1.0
        width = 16
        table = Table(title=title, header_style="bold", title_justify="left")
        table.add_column("time", justify="right", style="dim")
        table.add_column("", no_wrap=True)
        table.add_column("who", no_wrap=True)
        table.add_column("what")
        for t, actor, what in sorted(events, key=lambda e: e[0]):
            pos = min(width - 1, int(t / span * (width - 1)))
            bar = Text("·" * pos, style="dim")
            style = ACTOR_STYLE.get(actor.split(" ")[0], "bold")
            bar.append("●", style=style)
            bar.append(" " * (width - 1 - pos))
            table.add_row(f"{t * 1000:7.0f} ms", bar, Text(actor, style=style), what)
        self.console.print(table)

    def log_lines(self, records: Sequence[dict[str, Any]], *, title: str) -> None:
        """Log records (as collected) in a table: service, correlation id, message."""
        table = Table(title=title, header_style="bold", title_justify="left")
        table.add_column("service", no_wrap=True)
        table.add_column("correlation id", style="green", no_wrap=True)
        table.add_column("message")
        for r in records:
            service = str(r.get("service"))
            table.add_row(
                Text(service, style=ACTOR_STYLE.get(service, "")),
                str(r.get("correlation_id") or "-"),
                str(r.get("message")),
            )
        self.console.print(table)

    # -- helpers ---------------------------------------------------------------------------

    @contextmanager
    def collect_logs(self) -> Iterator[CollectingHandler]:
        """Collect every ``launchpad.*`` log record of the block (the library's real logs)."""
        root = logging.getLogger("launchpad")
        handler = CollectingHandler()
        old_level, old_propagate = root.level, root.propagate
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        root.propagate = False
        try:
            yield handler
        finally:
            root.removeHandler(handler)
            root.setLevel(old_level)
            root.propagate = old_propagate


def wait_until(condition: Callable[[], bool], timeout: float, every: float = 0.02) -> bool:
    """Poll ``condition`` until it is true or ``timeout`` seconds pass (never forever)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every)
    return condition()


def scratch_prefix() -> str:
    """A key prefix no one else uses, so demos on a shared Redis never touch other keys."""
    return f"lesson06-{uuid.uuid4().hex[:8]}"


def delete_prefix(conn: Any, prefix: str) -> int:
    """Delete the keys this demo made (only ``prefix:*``); returns how many."""
    keys = list(conn.scan_iter(match=f"{prefix}:*", count=500))
    for i in range(0, len(keys), 500):
        conn.delete(*keys[i : i + 500])
    return len(keys)


class Hang:
    """A WSGI middleware that makes a healthy app hang, like a service stuck on a lock.

    ``hang.on()`` makes each request wait (up to ``max_seconds``) before the app answers;
    ``hang.release()`` lets waiting requests go, so no server thread outlives the demo.
    """

    def __init__(self, app: Any, max_seconds: float = 10.0) -> None:
        self.app = app
        self.max_seconds = max_seconds
        self._hanging = False
        self._released = threading.Event()

    def on(self) -> None:
        self._released.clear()
        self._hanging = True

    def release(self) -> None:
        self._hanging = False
        self._released.set()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if self._hanging:
            self._released.wait(self.max_seconds)
        return self.app(environ, start_response)


class Spy:
    """A WSGI middleware that remembers the headers each request arrived with.

    Wrapped around a real service, it shows what the gateway really sent it.
    """

    WATCH = ("x-correlation-id", "x-forwarded-by", "x-forwarded-for", "x-forwarded-host")

    def __init__(self, app: Any) -> None:
        self.app = app
        self.seen: list[dict[str, str]] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        got = {"path": str(environ.get("PATH_INFO", ""))}
        for name in self.WATCH:
            value = environ.get("HTTP_" + name.upper().replace("-", "_"))
            if value is not None:
                got[name] = str(value)
        self.seen.append(got)
        return self.app(environ, start_response)


def ticker_app(pieces: int, every: float) -> Any:
    """A tiny upstream that sends ``pieces`` lines, one every ``every`` seconds (a stream)."""

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        start_response("200 OK", [("Content-Type", "text/plain")])

        def body() -> Iterator[bytes]:
            for i in range(1, pieces + 1):
                yield f"piece {i} of {pieces}\n".encode()
                if i < pieces:
                    time.sleep(every)

        return body()

    return app


def run_demo(doc: str | None, body: Callable[[Demo], None], argv: Sequence[str] | None) -> int:
    """Run one demo as a command: rich output, or ``--json`` observations only.

    ``doc`` is the demo's module docstring: its first line is the title (the lesson runner
    reads it too), its second paragraph the introduction shown in the header.
    """
    paragraphs = (doc or "demo").strip().split("\n\n")
    title = paragraphs[0].strip()
    intro = " ".join(paragraphs[1].split()) if len(paragraphs) > 1 else ""
    parser = argparse.ArgumentParser(description=title)
    parser.add_argument(
        "--json", action="store_true", help="print the observations as one JSON object"
    )
    # the lesson runner asks for the one-line recap here (see launchpad/lessons.py)
    parser.add_argument("--result-file", help=argparse.SUPPRESS)
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    demo = Demo(title, json_mode=args.json)
    conn = create_redis_connection("lesson")
    demo.console.print(
        Panel(
            (intro + "\n\n" if intro else "") + f"[dim]Redis: {describe(conn)}[/]",
            title=f"[bold]{title}[/]",
            title_align="left",
            border_style="bright_blue",
        )
    )
    conn.close()
    quiet = logging.NullHandler()  # the library's log lines are shown by demos, not printed raw
    root = logging.getLogger("launchpad")
    root.addHandler(quiet)
    try:
        body(demo)
    finally:
        root.removeHandler(quiet)
    demo.observe(elapsed_s=round(demo.elapsed(), 3))
    if args.result_file:
        with open(args.result_file, "w", encoding="utf-8") as f:
            f.write(demo.summary)
    if args.json:
        sys.stdout.write(json.dumps(demo.observations, default=str, sort_keys=True) + "\n")
        sys.stdout.flush()
    else:
        demo.console.print(f"[dim]done in {demo.elapsed():.1f} s[/]")
    return 0
