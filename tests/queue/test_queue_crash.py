"""Crash test: worker processes SIGKILLed at random moments lose no job.

1,000 jobs, three worker processes; every 0.25-0.5 s one of them is killed with SIGKILL
and a new one started. Jobs they held stall and are put back. At the end every job is
completed exactly once as far as the queue is concerned, and the idempotent processor's
delivery log has exactly one delivery per job, even though some jobs ran twice.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from launchpad.queue import JobState

pytestmark = [pytest.mark.slow, pytest.mark.real_redis, pytest.mark.timeout(60)]

WORKER = Path(__file__).with_name("queue_crash_worker.py")
JOBS = 1000


def _spawn(url: str, name: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, str(WORKER), url, name],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_sigkilled_workers_lose_no_job(
    real_redis_url: str, real_redis: Any, make_queue: Any
) -> None:
    q = make_queue(real_redis)
    runs_key, deliveries_key = (
        f"lptest:{{{q.name}}}:test-runs",
        f"lptest:{{{q.name}}}:test-deliveries",
    )
    q.add_bulk([{"name": "deliver", "data": {"n": i}} for i in range(JOBS)])
    rng = random.Random(6)
    victims = rng.sample(range(3), 3)  # each of the three is killed at least once
    procs = [_spawn(real_redis_url, q.name) for _ in range(3)]
    kills = 0
    try:
        deadline = time.monotonic() + 25
        while time.monotonic() < deadline:
            time.sleep(rng.uniform(0.25, 0.5))
            counts = q.counts()
            if counts["completed"] == JOBS:
                break
            if kills < 10 and counts["completed"] < JOBS * 0.9:
                victim = victims[kills] if kills < 3 else rng.randrange(3)
                procs[victim].send_signal(signal.SIGKILL)
                procs[victim].wait(5)
                procs[victim] = _spawn(real_redis_url, q.name)
                kills += 1
        counts = q.counts()
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        runs = {k: int(v) for k, v in real_redis.hgetall(runs_key).items()}
        deliveries = real_redis.hgetall(deliveries_key)
        real_redis.delete(runs_key, deliveries_key)
    assert kills >= 3, "the workers finished before each could be killed"
    assert counts == {"waiting": 0, "active": 0, "delayed": 0, "completed": JOBS, "failed": 0}
    jobs = [q.get_job(str(i)) for i in range(1, JOBS + 1)]
    assert all(j is not None and j.state is JobState.COMPLETED for j in jobs)
    assert all(j.attempts_made == 1 for j in jobs if j)  # one recorded, successful run each
    assert set(runs) == set(deliveries) == {str(i) for i in range(1, JOBS + 1)}
    assert sum(runs.values()) >= JOBS  # some jobs ran twice: their worker died mid-run
    # ... and yet the delivery log holds one delivery per job: the effect happened once.
    assert len(deliveries) == JOBS
    print(f"{kills} SIGKILLs, {sum(runs.values()) - JOBS} runs repeated, 0 jobs lost")
