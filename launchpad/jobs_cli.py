"""``launchpad jobs QUEUE``: look at a queue's jobs, and retry or remove its dead letters.

    launchpad jobs notifications                      # failed jobs, newest first
    launchpad jobs notifications --state delayed      # or waiting, active, completed
    launchpad jobs notifications --show welcome-email-42
    launchpad jobs notifications --retry              # every failed job, back to waiting
    launchpad jobs notifications --retry 17 18 --reset-attempts
    launchpad jobs notifications --remove 17
    launchpad jobs notifications --json               # one JSON object, for scripts

People get rich tables; ``--json`` prints exactly one JSON object on stdout. An error is
one line on stderr (and ``{"error": ...}`` on stdout with ``--json``), never a traceback.
Exit status: 0 done; 1 Redis could not be reached, or a job named was not there or not
failed; 2 bad usage (an unknown state, a malformed id or URL).

Threat model: whoever runs this command already has the Redis URL, so it guards against
mistakes, not attackers: ids and states are checked before Redis is touched (see
``launchpad.queue.dead_letters``), and nothing is changed without ``--retry`` or
``--remove``. Job data and failure reasons come from the queue and may contain anything a
producer or processor wrote: they are printed as plain text (rich markup is not
interpreted) and never executed.

Without ``REDIS_URL`` or ``--redis-url`` the command looks at the embedded Redis, which
lives inside this one process and so is always empty here; it says so.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from typing import Any, NoReturn

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from launchpad.queue.dead_letters import DeadLetters, Handled, JobNotFound, JobPage, check_state
from launchpad.queue.errors import QueueError, QueueUnavailable
from launchpad.queue.job import Job, JobState
from launchpad.queue.queue import Queue
from launchpad.redis import create_redis_connection, describe, is_embedded

__all__ = ["jobs_main"]

PROG = "launchpad jobs"


class UsageError(Exception):
    """Bad usage: exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, not argparse's usage + error
        raise UsageError(f"{message} (see {PROG} --help)")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog=PROG,
        description="List a queue's jobs by state, show one, retry or remove failed ones.",
        epilog="Exit status: 0 done; 1 Redis unreachable, or a job not there / not failed; "
        "2 bad usage.",
    )
    p.add_argument("queue", help="the queue's name, e.g. notifications")
    p.add_argument(
        "--state",
        default="failed",
        help="which jobs to list: waiting, active, delayed, completed, failed (default failed)",
    )
    p.add_argument("--start", type=int, default=0, help="skip this many jobs (paging)")
    p.add_argument("--count", type=int, default=20, help="jobs per page, 1-1000 (20)")
    act = p.add_mutually_exclusive_group()
    act.add_argument("--show", metavar="ID", help="everything stored about one job")
    act.add_argument(
        "--retry",
        metavar="ID",
        nargs="*",
        help="move failed jobs back to waiting: the ids given, or all of them",
    )
    act.add_argument("--remove", metavar="ID", help="delete one failed job")
    p.add_argument(
        "--reset-attempts",
        action="store_true",
        help="with --retry: give the jobs all their attempts again (default: one more run)",
    )
    p.add_argument("--prefix", default="launchpad", help="key prefix (launchpad)")
    p.add_argument("--redis-url", default=None, help="Redis URL (default: REDIS_URL or embedded)")
    p.add_argument("--json", action="store_true", help="print one JSON object, for scripts")
    return p


def jobs_main(argv: list[str]) -> int:
    """Entry point of ``launchpad jobs``; returns the exit status."""
    out = Console(highlight=False, soft_wrap=False)
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    json_mode = "--json" in argv
    quiet = logging.NullHandler()  # the library's own log lines would be a second error line
    logging.getLogger("launchpad").addHandler(quiet)
    try:
        args = _parser().parse_args(argv)
        if args.reset_attempts and args.retry is None:
            raise UsageError("--reset-attempts goes with --retry")
        check_state(args.state)
        letters = DeadLetters(_queue(args))
        if is_embedded(letters.queue.connection):
            err.print(
                "[dim]embedded Redis: it lives in this process, so it holds no jobs from other "
                "processes; set REDIS_URL or --redis-url to look at a server[/]"
            )
        code, result = _act(args, letters, out)
    except UsageError as exc:
        return _fail(err, out, json_mode, str(exc), 2)
    except QueueUnavailable as exc:
        return _fail(err, out, json_mode, str(exc), 1)
    except JobNotFound as exc:
        return _fail(err, out, json_mode, str(exc), 1)
    except (QueueError, ValueError) as exc:  # a malformed id, state, count or queue name
        return _fail(err, out, json_mode, str(exc), 2)
    finally:
        logging.getLogger("launchpad").removeHandler(quiet)
    if json_mode:
        sys.stdout.write(json.dumps(result, sort_keys=True, default=str) + "\n")
    return code


def _queue(args: argparse.Namespace) -> Queue:
    try:
        conn = create_redis_connection("jobs", args.redis_url)
    except ValueError as exc:  # redis-py's word for a URL it cannot use
        raise UsageError(f"bad --redis-url: {exc}") from None
    return Queue(args.queue, connection=conn, prefix=args.prefix)


def _fail(err: Console, out: Console, json_mode: bool, message: str, code: int) -> int:
    line = " ".join(message.split())  # one line, whatever the cause's message held
    err.print(f"[red]{PROG}: error:[/] {escape(line)}")
    if json_mode:
        sys.stdout.write(json.dumps({"error": line, "exit_status": code}) + "\n")
    return code


def _act(args: argparse.Namespace, letters: DeadLetters, out: Console) -> tuple[int, Any]:
    """Do what was asked; print it for people unless ``--json``; return (status, JSON)."""
    people = not args.json
    if args.show is not None:
        job = letters.show(args.show)
        if people:
            _print_job(out, job)
        return 0, _job_json(job, full=True)
    if args.retry is not None:
        handled = letters.retry(args.retry or None, reset_attempts=args.reset_attempts)
        if people:
            _print_handled(out, handled, "retried", letters.queue.name)
        done = all(h.done for h in handled)
        return (0 if done else 1), {"handled": [_handled_json(h) for h in handled]}
    if args.remove is not None:
        h = letters.remove(args.remove)
        if people:
            _print_handled(out, [h], "removed", letters.queue.name)
        return (0 if h.done else 1), {"handled": [_handled_json(h)]}
    page = letters.list_jobs(args.state, args.start, args.count)
    counts = letters.counts()
    if people:
        _print_page(out, letters, page, counts)
    return 0, {
        "queue": letters.queue.name,
        "state": page.state.value,
        "total": page.total,
        "start": page.start,
        "next_start": page.next_start,
        "counts": counts,
        "jobs": [_job_json(job, time_ms=page.times.get(job.id)) for job in page.jobs],
    }


# --- JSON for scripts --------------------------------------------------------------------


def _job_json(job: Job, *, full: bool = False, time_ms: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": job.id,
        "name": job.name,
        "state": job.state.value if job.state else None,
        "data": job.data,
        "attempts_made": job.attempts_made,
        "attempts": job.attempts,
        "failed_reason": job.failed_reason,
        "correlation_id": job.correlation_id,
        "added_at": job.added_at,
        "processed_at": job.processed_at,
        "finished_at": job.finished_at,
    }
    if time_ms is not None and job.state is JobState.DELAYED:
        out["due_at"] = time_ms
    if full:
        out.update(
            opts=job.opts,
            stalled_count=job.stalled_count,
            return_value=job.return_value,
            stacktrace=job.stacktrace,
        )
    return out


def _handled_json(h: Handled) -> dict[str, Any]:
    return {"id": h.job_id, "result": h.result.value, "state": h.state.value if h.state else None}


# --- rich output for people --------------------------------------------------------------


def _ago(ms: int | None, now: float) -> str:
    """``ms`` (epoch ms) as "12 s ago" / "in 3 s"; the local clock, rounded for reading."""
    if not ms:
        return "-"
    seconds = ms / 1000 - now
    size = abs(seconds)
    if size < 1:
        text = f"{size * 1000:.0f} ms"
    elif size < 120:
        text = f"{size:.0f} s"
    elif size < 7200:
        text = f"{size / 60:.0f} min"
    else:
        text = f"{size / 3600:.0f} h"
    return f"in {text}" if seconds > 0 else f"{text} ago"


def _id_column(table: Table, ids: list[str], room: int) -> None:
    """An id is copied and pasted: never cut it with "…". It gets its full width when the
    other columns leave ``room`` for it, else it folds onto more lines, whole."""
    widest = max((len(i) for i in ids), default=2)
    table.add_column("id", style="cyan", overflow="fold", width=max(min(widest, room), 8))


def _print_page(out: Console, letters: DeadLetters, page: JobPage, counts: dict[str, int]) -> None:
    where = describe(letters.queue.connection)
    summary = " · ".join(f"{state} {n}" for state, n in counts.items())
    out.print(f"queue [bold]{escape(letters.queue.name)}[/] ({escape(where)})\n{summary}")
    if not page.jobs:
        out.print(f"no {page.state.value} jobs" + (f" from {page.start}" if page.start else ""))
        return
    when = {
        JobState.WAITING: "added",
        JobState.ACTIVE: "started",
        JobState.DELAYED: "due",
        JobState.COMPLETED: "finished",
        JobState.FAILED: "failed",
    }[page.state]
    failed = page.state is JobState.FAILED
    # Fixed widths for the short columns and the id, so that nothing is squeezed to nothing
    # on a narrow terminal; the last column (name, and for a failed job its reason on a
    # second line) takes what is left, at least 16, cut with "…" (--show prints it all).
    room = out.width - 2 - 3 * 3 - 5 - 11 - 16
    table = Table(box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False, expand=True)
    _id_column(table, [job.id for job in page.jobs], room)
    table.add_column("tries", justify="right", no_wrap=True, width=5)
    table.add_column(when, no_wrap=True, width=11)
    table.add_column(
        "name / reason" if failed else "name", ratio=1, no_wrap=True, overflow="ellipsis"
    )
    now = time.time()
    for job in page.jobs:
        stamp = {
            JobState.WAITING: job.added_at,
            JobState.ACTIVE: job.processed_at,
            JobState.DELAYED: page.times.get(job.id),
            JobState.COMPLETED: job.finished_at,
            JobState.FAILED: job.finished_at,
        }[page.state]
        what = Text(job.name)
        if failed:
            what.append("\n" + (job.failed_reason or "-"), style="yellow")
        table.add_row(Text(job.id), f"{job.attempts_made}/{job.attempts}", _ago(stamp, now), what)
    out.print(table)
    shown = f"{page.start + 1}-{page.start + len(page.jobs)} of {page.total}"
    more = f"; next page: --start {page.next_start}" if page.next_start is not None else ""
    out.print(f"[dim]{page.state.value} jobs {shown}{more}; one job: --show ID[/]")


def _print_job(out: Console, job: Job) -> None:
    table = Table(box=box.SIMPLE, show_header=False, pad_edge=False)
    table.add_column("field", style="bold", no_wrap=True)
    table.add_column("value", overflow="fold")
    now = time.time()
    rows: list[tuple[str, str]] = [
        ("id", job.id),
        ("name", job.name),
        ("state", job.state.value if job.state else "-"),
        ("attempts", f"{job.attempts_made} made of {job.attempts}; stalled {job.stalled_count}x"),
        ("backoff", json.dumps(job.opts.get("backoff"))),
        ("correlation id", job.correlation_id or "-"),
        ("added", _ago(job.added_at, now)),
        ("last started", _ago(job.processed_at, now)),
        ("finished", _ago(job.finished_at, now)),
        ("failure reason", job.failed_reason or "-"),
        ("result", json.dumps(job.return_value)),
        ("data", json.dumps(job.data, indent=2, ensure_ascii=False)),
    ]
    for name, value in rows:
        table.add_row(name, Text(value))
    out.print(table)
    if job.stacktrace:
        lines = job.stacktrace.rstrip().splitlines()
        out.print("[dim]last lines of the failed attempt's stack trace:[/]")
        out.print(Text("\n".join(lines[-6:]), style="dim"))


def _print_handled(out: Console, handled: list[Handled], verb: str, queue: str) -> None:
    if not handled:
        out.print(f"no failed jobs in queue [bold]{escape(queue)}[/]: nothing {verb}")
        return
    table = Table(box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False)
    _id_column(table, [h.job_id for h in handled], out.width - 2 - 3 * 2 - 10 - 9)
    table.add_column("result", no_wrap=True, width=10)
    table.add_column("state now", no_wrap=True, width=9)
    for h in handled:
        style = "green" if h.done else "yellow"
        table.add_row(
            Text(h.job_id), Text(h.result.value, style=style), h.state.value if h.state else "-"
        )
    out.print(table)
    done = sum(h.done for h in handled)
    out.print(f"{done} of {len(handled)} {verb}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(jobs_main(sys.argv[1:]))
