"""A worker process for the crash test: ``python queue_crash_worker.py URL QUEUE``.

The processor counts every run (``runs``) and then delivers idempotently: the delivery
log (``deliveries``, keyed by job id) records the first delivery and ignores the rest,
so a job run twice still has one delivery.
"""

from __future__ import annotations

import os
import sys
import time

from launchpad.queue import Job, Queue, Worker
from launchpad.redis import create_redis_connection


def main() -> None:
    url, name = sys.argv[1], sys.argv[2]
    conn = create_redis_connection("crash-worker", url)
    queue = Queue(name, connection=conn, prefix="lptest")
    runs, deliveries = f"lptest:{{{name}}}:test-runs", f"lptest:{{{name}}}:test-deliveries"

    def deliver(job: Job) -> str:
        conn.hincrby(runs, job.id, 1)
        time.sleep(0.03)  # the "send": a SIGKILL may land here
        conn.hsetnx(deliveries, job.id, os.getpid())
        return "sent"

    Worker(
        queue,
        deliver,
        concurrency=4,
        lock_duration=600,
        stalled_interval=300,
        max_stalled_count=1000,
        drain_delay=200,
    ).run()


if __name__ == "__main__":
    main()
