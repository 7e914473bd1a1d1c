"""Job-id dedup under contention, and retries that follow the backoff schedule."""

from __future__ import annotations

import itertools
import random
import threading
import time
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from queue_helpers import wait_until

from launchpad.queue import Backoff, Job
from launchpad.queue.retry import MAX_DELAY_MS, parse_backoff

pytestmark = pytest.mark.timeout(60)


def test_eight_threads_adding_one_id_make_one_job_and_one_run(
    single_conn: Any, make_queue: Any, workers: Any
) -> None:
    q = make_queue(single_conn)
    go = threading.Barrier(8)
    fresh: list[Job] = []

    def producer(n: int) -> None:
        go.wait()
        for i in range(100):
            job = q.add("welcome", {"thread": n, "i": i}, job_id="welcome:user-1")
            if not job.duplicate:
                fresh.append(job)

    threads = [threading.Thread(target=producer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(fresh) == 1
    assert q.counts()["waiting"] == 1
    runs: list[Any] = []
    w = workers(q, lambda job: runs.append(job.data))
    wait_until(lambda: q.counts()["completed"] == 1, what="the one job")
    w.close(5)
    assert runs == [fresh[0].data]


def test_retries_follow_the_exponential_schedule_on_redis_clock(
    single_conn: Any, make_queue: Any, workers: Any
) -> None:
    q = make_queue(single_conn)
    starts: list[int] = []

    def failing(job: Job) -> None:
        assert job.processed_at is not None  # set by Redis when the attempt started
        starts.append(job.processed_at)
        raise RuntimeError("try again")

    # drain_delay is long: the worker must wake for each retry by itself, not by polling.
    workers(q, failing, concurrency=1, drain_delay=5000)
    q.add("n", {}, attempts=4, backoff={"type": "exponential", "delay": 100})
    wait_until(lambda: q.counts()["failed"] == 1, what="all attempts")
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert len(gaps) == 3
    for gap, expected in zip(gaps, [100, 200, 400], strict=True):
        assert expected <= gap < expected + 250, (gaps, "expected about 100, 200, 400 ms")


def test_fixed_backoff_waits_the_same_each_time() -> None:
    b = parse_backoff({"type": "fixed", "delay": 250})
    assert b is not None and [b.delay_for(n) for n in (1, 2, 5)] == [250, 250, 250]
    assert parse_backoff(300) == Backoff("fixed", 300)
    assert parse_backoff(None) is None


@given(
    kind=st.sampled_from(["fixed", "exponential"]),
    delay=st.integers(0, 10**7),
    jitter=st.floats(0, 1),
    retry=st.integers(1, 60),
    seed=st.integers(0, 2**32),
)
def test_a_backoff_delay_stays_within_its_bounds(
    kind: str, delay: int, jitter: float, retry: int, seed: int
) -> None:
    b = parse_backoff({"type": kind, "delay": delay, "jitter": jitter})
    assert b is not None
    full = min(delay if kind == "fixed" else delay * 2 ** (retry - 1), MAX_DELAY_MS)
    got = b.delay_for(retry, random.Random(seed))
    assert full * (1 - jitter) - 1 <= got <= full


@pytest.mark.parametrize(
    "spec",
    [
        {"type": "linear", "delay": 1},
        {"delay": -1},
        {"delay": 1.5},
        {"jitter": 2},
        {"typo": 1},
        "fast",
        True,
    ],
)
def test_a_bad_backoff_is_refused_with_a_reason(spec: Any) -> None:
    with pytest.raises(ValueError, match="backoff"):
        parse_backoff(spec)


def test_a_long_pure_python_loop_keeps_its_lock(
    real_redis: Any, make_queue: Any, workers: Any
) -> None:
    q = make_queue(real_redis)
    runs: list[str] = []

    def busy(job: Job) -> None:
        runs.append(job.id)
        end = time.monotonic() + 1.2  # four lock durations, holding the GIL in Python code
        n = 0
        while time.monotonic() < end:
            n += 1

    settings = {"lock_duration": 300, "stalled_interval": 100, "concurrency": 1}
    workers(q, busy, **settings)
    workers(q, busy, **settings)  # a rival that would take the job if its lock expired
    job = q.add("n", {})
    wait_until(lambda: q.counts()["completed"] == 1, what="the busy job")
    stored = q.get_job(job.id)
    assert runs == [job.id] and stored is not None and stored.stalled_count == 0
