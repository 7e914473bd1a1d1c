"""``launchpad worker MODULE:FUNCTION``: run a queue worker from the command line.

The processor is any importable function that takes a ``Job``. While it works the
command shows a live view: jobs per state, jobs per second, and the jobs in hand.
Ctrl-C (or SIGTERM) stops fetching, lets the jobs in hand finish, and exits 0.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import threading
import time
from collections import deque
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table

from launchpad.queue.queue import Queue
from launchpad.queue.worker import Processor, Worker
from launchpad.redis import create_redis_connection, describe

__all__ = ["load_processor", "worker_main"]


def load_processor(target: str) -> Processor:
    """Import ``module:function`` (or ``module.function``) and check that it is callable."""
    module_name, sep, func_name = target.partition(":")
    if not sep:
        module_name, _, func_name = target.rpartition(".")
    if not module_name or not func_name:
        raise ValueError(f"expected MODULE:FUNCTION, got {target!r}")
    module = importlib.import_module(module_name)
    func = getattr(module, func_name, None)
    if not callable(func):
        raise ValueError(f"{target!r} is not a function")
    return func  # type: ignore[no-any-return]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="launchpad worker", description="Run a queue worker for MODULE:FUNCTION."
    )
    p.add_argument("target", help="the processor, e.g. launchpad.services.notifications:deliver")
    p.add_argument("--queue", "-q", default="notifications", help="queue name (notifications)")
    p.add_argument("--prefix", default="launchpad", help="key prefix (launchpad)")
    p.add_argument("--redis-url", default=None, help="Redis URL (default: REDIS_URL or embedded)")
    p.add_argument("--concurrency", "-c", type=int, default=5, help="jobs at once (5)")
    p.add_argument("--lock-duration", type=int, default=30_000, help="lock TTL in ms (30000)")
    p.add_argument("--stalled-interval", type=int, default=30_000, help="ms between checks")
    p.add_argument("--burst", action="store_true", help="exit when no job is left")
    p.add_argument("--no-live", action="store_true", help="plain output, no live view")
    return p


class _Rate:
    """Jobs per second over the last few seconds."""

    def __init__(self) -> None:
        self.samples: deque[tuple[float, int]] = deque(maxlen=20)

    def add(self, done: int) -> float:
        now = time.monotonic()
        self.samples.append((now, done))
        (t0, d0), (t1, d1) = self.samples[0], self.samples[-1]
        return (d1 - d0) / (t1 - t0) if t1 > t0 else 0.0


def _view(queue: Queue, worker: Worker, counts: dict[str, int], rate: float, where: str) -> Any:
    table = Table(box=None, show_header=True, header_style="bold")
    for state in counts:
        table.add_column(state, justify="right")
    table.add_column("jobs/s", justify="right", style="cyan")
    table.add_row(*(str(n) for n in counts.values()), f"{rate:,.0f}")
    jobs = Table(box=None, show_header=True, header_style="dim")
    for col in ("job", "name", "attempt", "correlation id"):
        jobs.add_column(col)
    for job in worker.jobs_in_hand()[:10]:
        jobs.add_row(job.id, job.name, str(job.attempts_made + 1), job.correlation_id or "-")
    title = f"worker {worker.id} on queue [bold]{queue.name}[/] ({where})"
    return Panel(Group(table, jobs), title=title, subtitle="Ctrl-C: finish jobs in hand, then stop")


def worker_main(argv: list[str]) -> int:
    """Entry point of ``launchpad worker``; returns the exit code."""
    args = _parser().parse_args(argv)
    console = Console(stderr=True)
    try:
        processor = load_processor(args.target)
    except (ImportError, ValueError) as exc:
        console.print(f"[red]cannot load processor:[/] {exc}")
        return 2
    conn = create_redis_connection("worker", args.redis_url)
    queue = Queue(args.queue, connection=conn, prefix=args.prefix)
    worker = Worker(
        queue,
        processor,
        concurrency=args.concurrency,
        lock_duration=args.lock_duration,
        stalled_interval=args.stalled_interval,
    )
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        stop.set()
        worker.stop()  # no Redis I/O in a signal handler: the main thread may be in one
        signal.signal(signum, signal.SIG_DFL)  # a second signal ends the process at once

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    worker.start()
    rate = _Rate()
    where = describe(conn)
    live = None if args.no_live or not console.is_terminal else Live(console=console)
    if live is not None:
        live.start()
    try:
        while worker.running:
            counts = queue.counts()
            jobs_s = rate.add(worker.processed)
            if live is not None:
                live.update(_view(queue, worker, counts, jobs_s, where))
            idle = not worker.jobs_in_hand() and not any(
                counts[state] for state in ("waiting", "delayed", "active")
            )
            if args.burst and idle and not stop.is_set():
                worker.stop()
            time.sleep(0.25)
    finally:
        if live is not None:
            live.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    console.print(f"worker stopped after {worker.processed} jobs; counts {queue.counts()}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(worker_main(sys.argv[1:]))
