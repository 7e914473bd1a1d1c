"""Queue lateness: how long after its due time a delayed job or a retry starts.

    .venv/bin/python bench/queue_lateness.py            # 200 jobs per case
    .venv/bin/python bench/queue_lateness.py --quick    # 40 jobs per case

Runs the kit's worker on the real Redis (REDIS_URL or redis://127.0.0.1:6379/0) with
``drain_delay=5000`` (a worker that slept through a due time would be seconds late) at
concurrency 1, 5 and 50, in two cases:

- **delayed**: jobs added one by one, each with a random delay of 50-500 ms, while the worker
  is idle or busy with the ones before;
- **retry**: jobs whose first run takes 20 ms and fails, with a fixed backoff of 50-500 ms.

Lateness = the start of the run (``job.processed_at``, Redis's clock) minus its due time (the
add plus the delay, or the end of the failed run plus the backoff, on this machine's clock,
which the local Redis shares). Writes ``bench/results/queue_lateness.md`` (and ``.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from launchpad.logging import configure_logging
from launchpad.queue import Job, Queue, Worker
from launchpad.redis import create_redis_connection

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
CONCURRENCY = (1, 5, 50)


def now_ms() -> int:
    return int(time.time() * 1000)


def run_case(url: str, case: str, concurrency: int, jobs: int, seed: int) -> list[int]:
    """Lateness in ms of each job of one case at one concurrency."""
    rng = random.Random(seed)
    q = Queue(f"late-{uuid.uuid4().hex[:8]}", connection=create_redis_connection("bench", url))
    due: dict[str, int] = {}
    late: dict[str, int] = {}
    lock = threading.Lock()
    delays = {f"j{i}": rng.randint(50, 500) for i in range(jobs)}

    def process(job: Job) -> None:
        assert job.processed_at is not None
        if case == "retry" and job.attempts_made == 0:
            time.sleep(0.02)
            with lock:
                due[job.id] = now_ms() + delays[job.id]
            raise RuntimeError("fail once")
        with lock:
            late[job.id] = job.processed_at - due[job.id]

    worker = Worker(q, process, concurrency=concurrency, drain_delay=5000, remove_on_complete=True)
    worker.start()
    try:
        time.sleep(0.2)
        for job_id, delay in delays.items():
            if case == "delayed":
                job = q.add("late", {}, job_id=job_id, delay=delay)
                assert job.added_at is not None
                with lock:
                    due[job_id] = job.added_at + delay
            else:
                q.add("late", {}, job_id=job_id, attempts=2, backoff=delay)
            time.sleep(rng.uniform(0, 0.02))
        deadline = time.monotonic() + 60
        while len(late) < jobs and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        worker.close(10)
        q.obliterate()
    if len(late) < jobs:
        raise RuntimeError(f"{case} at concurrency {concurrency}: {len(late)}/{jobs} ran")
    return list(late.values())


def percentile(values: list[int], p: float) -> int:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="40 jobs per case")
    parser.add_argument("--jobs", type=int, default=200)
    args = parser.parse_args()
    jobs = 40 if args.quick else args.jobs
    configure_logging("off")
    url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    rows: list[dict[str, Any]] = []
    for case in ("delayed", "retry"):
        for concurrency in CONCURRENCY:
            values = run_case(url, case, concurrency, jobs, seed=concurrency)
            row = {
                "case": case,
                "concurrency": concurrency,
                "jobs": jobs,
                "p50": percentile(values, 50),
                "p95": percentile(values, 95),
                "p99": percentile(values, 99),
                "max": max(values),
                "mean": round(statistics.fmean(values), 1),
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "queue_lateness.json").write_text(json.dumps(rows, indent=2) + "\n")
    lines = [
        "# Queue lateness (ms after the due time; drain_delay 5 s, real Redis)",
        "",
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end of the run.",
        "",
        "| case | concurrency | jobs | p50 | p95 | p99 | max |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['case']} | {r['concurrency']} | {r['jobs']} | {r['p50']} | {r['p95']} "
        f"| {r['p99']} | {r['max']} |"
        for r in rows
    ]
    (RESULTS / "queue_lateness.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
