"""No job is held for ever: whatever a processor raises ends its run and frees its slot.

Before this was fixed, a processor raising a ``BaseException`` that is not an ``Exception``
(``asyncio.CancelledError``, ``SystemExit``, ``KeyboardInterrupt``) killed its slot thread:
the job stayed ``active`` for ever, its lock renewed by the housekeeping thread, and the
slot never ran another job.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
from queue_helpers import wait_until, where

from launchpad.queue import Job, JobState

pytestmark = pytest.mark.timeout(60)


class Custom(BaseException):
    """A BaseException of the processor's own (some libraries define such)."""


@pytest.mark.parametrize("raised", [asyncio.CancelledError(), GeneratorExit(), Custom("odd")])
def test_a_base_exception_fails_the_attempt_and_frees_the_slot(
    backend_conn: Any, make_queue: Any, workers: Any, raised: BaseException
) -> None:
    q = make_queue(backend_conn)
    runs: list[str] = []

    def cancelled_once(job: Job) -> str:
        runs.append(job.id)
        if job.id == "first" and job.attempts_made == 0:
            raise raised
        return "ok"

    w = workers(q, cancelled_once, concurrency=1)
    q.add("n", {}, job_id="first", attempts=2)
    q.add("n", {}, job_id="second")
    wait_until(lambda: q.counts()["completed"] == 2, what="both jobs to complete")
    first = q.get_job("first")
    assert first is not None and first.state is JobState.COMPLETED
    assert first.attempts_made == 2  # the BaseException counted as a failed attempt
    assert first.failed_reason == type(raised).__name__ + (
        ": odd" if isinstance(raised, Custom) else ""
    )
    assert sorted(runs) == ["first", "first", "second"]
    assert w.running and w.jobs_in_hand() == []


def test_a_base_exception_on_the_last_attempt_fails_the_job(
    backend_conn: Any, make_queue: Any, workers: Any
) -> None:
    q = make_queue(backend_conn)

    def cancel(job: Job) -> None:
        raise asyncio.CancelledError

    w = workers(q, cancel, concurrency=1)
    q.add("n", {}, job_id="doomed")
    wait_until(lambda: q.counts()["failed"] == 1, what="the job to fail")
    stored = q.get_job("doomed")
    assert stored is not None and stored.failed_reason == "CancelledError"
    assert "CancelledError" in (stored.stacktrace or "")
    q.add("n", {}, job_id="next")  # the slot is free: a later job runs too
    wait_until(lambda: q.counts()["failed"] == 2, what="the next job to run")
    assert w.running


@pytest.mark.parametrize("raised", [SystemExit(3), KeyboardInterrupt()])
def test_exit_or_interrupt_returns_the_job_and_stops_the_worker(
    backend_conn: Any, make_queue: Any, workers: Any, raised: BaseException
) -> None:
    q = make_queue(backend_conn)
    slow_started, slow_done = threading.Event(), threading.Event()

    def processor(job: Job) -> str:
        if job.id == "slow":
            slow_started.set()
            time.sleep(0.5)
            slow_done.set()
            return "finished"
        assert slow_started.wait(5)
        raise raised

    q.add("n", {}, job_id="slow")
    q.add("n", {}, job_id="exits", attempts=3)
    q.add("n", {}, job_id="later")
    w = workers(q, processor, concurrency=2)
    wait_until(lambda: not w.running, what="the worker to stop")
    assert slow_done.is_set(), "the other job in hand finished before the worker stopped"
    assert w.interruption is raised
    returned = q.get_job("exits")
    assert returned is not None and returned.state is JobState.WAITING
    assert returned.attempts_made == 0  # an interrupted run is not an attempt
    assert where(q, "exits") == ["wait"]
    assert q.get_job("slow").state is JobState.COMPLETED  # type: ignore[union-attr]
    assert q.counts() == {"waiting": 2, "active": 0, "delayed": 0, "completed": 1, "failed": 0}


def test_run_raises_the_exit_once_the_worker_has_stopped(single_conn: Any, make_queue: Any) -> None:
    from launchpad.queue import Worker

    q = make_queue(single_conn)

    def leave(job: Job) -> None:
        raise SystemExit(7)

    q.add("n", {}, job_id="exits")
    worker = Worker(q, leave, concurrency=3, drain_delay=200)
    with pytest.raises(SystemExit) as info:
        worker.run()
    assert info.value.code == 7
    assert not worker.running
    assert q.get_job("exits").state is JobState.WAITING  # type: ignore[union-attr]


def test_a_callback_that_exits_stops_the_worker_without_losing_the_outcome(
    single_conn: Any, make_queue: Any, workers: Any
) -> None:
    q = make_queue(single_conn)

    def on_completed(job: Job, result: Any) -> None:
        raise SystemExit(0)

    w = workers(q, lambda job: "ok", concurrency=1, on_completed=on_completed)
    q.add("n", {}, job_id="done")
    wait_until(lambda: not w.running, what="the worker to stop")
    assert q.get_job("done").state is JobState.COMPLETED  # type: ignore[union-attr]
    assert isinstance(w.interruption, SystemExit)
