"""The notification worker: retries with backoff, and never sends an email twice, even
when a worker dies between sending and recording (the delivery log + idempotency key)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from launchpad.queue import Job, JobState, Queue
from launchpad.redis import EMBEDDED_URL, create_redis_connection
from launchpad.services.email_provider import EmailProvider
from launchpad.services.notification_worker import (
    NOTIFICATION_JOB_OPTIONS,
    NotificationProcessor,
    create_notification_worker,
)
from launchpad.services.system import System

NOTE = {"to": "bob@example.com", "subject": "Hi", "body": "Hello", "type": "email"}


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def finished(queue: Queue, job_id: str) -> Callable[[], bool]:
    def check() -> bool:
        job = queue.get_job(job_id)
        return job is not None and job.state is not None and job.state.finished

    return check


def test_the_lesson_defaults() -> None:
    assert NOTIFICATION_JOB_OPTIONS == {
        "attempts": 3,
        "backoff": {"type": "exponential", "delay": 1000},
    }
    queue = Queue("defaults-check", create_redis_connection("t", EMBEDDED_URL))
    worker = create_notification_worker(queue, EmailProvider())
    assert worker.concurrency == 5
    assert isinstance(worker.processor, NotificationProcessor)
    assert worker.processor.delivery_delay == 0.5


class CrashBeforeRecording:
    """A Redis connection whose first SET fails: the worker 'dies' after sending."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.crashed = False

    def get(self, key: str) -> Any:
        return self.real.get(key)

    def set(self, *args: Any, **kwargs: Any) -> Any:
        if not self.crashed:
            self.crashed = True
            raise ConnectionError("worker died before recording the delivery")
        return self.real.set(*args, **kwargs)


def test_a_retry_after_a_crash_between_send_and_record_sends_nothing_twice(
    unique_name: str,
) -> None:
    conn = create_redis_connection("t", EMBEDDED_URL)
    email_provider = EmailProvider()
    flaky = CrashBeforeRecording(conn)
    process = NotificationProcessor(email_provider, flaky, delivery_delay=0, key_prefix=unique_name)
    job = Job(id="welcome-email-1", name="send-notification", data=NOTE)
    with pytest.raises(ConnectionError):
        process(job)  # sent, then "died": the delivery log has no entry
    assert len(email_provider.deliveries) == 1
    result = process(job)  # the retry: the log misses it, the idempotency key catches it
    assert result["duplicate"] is True
    assert len(email_provider.deliveries) == 1
    calls = email_provider.calls
    assert process(job)["duplicate"] is True  # a third run stops at the delivery log
    assert email_provider.calls == calls, "the delivery log answers without asking the provider"
    conn.delete(f"{unique_name}:welcome-email-1")


def test_failures_are_retried_with_backoff_then_delivered_once(
    make_system: Callable[..., System], redis_url: str
) -> None:
    system = make_system(redis_url=redis_url)
    system.email_provider.fail_next(2)
    job = system.queue.add("send-notification", NOTE)
    assert wait_for(finished(system.queue, job.id))
    done = system.queue.get_job(job.id)
    assert done is not None and done.state is JobState.COMPLETED
    assert done.attempts_made == 3
    assert len(system.email_provider.deliveries) == 1
    assert system.email_provider.calls == 3


def test_a_provider_that_always_fails_fails_the_job_after_3_attempts(
    make_system: Callable[..., System],
) -> None:
    system = make_system()
    system.email_provider.fail_always()
    job = system.queue.add("send-notification", NOTE)
    assert wait_for(finished(system.queue, job.id))
    failed = system.queue.get_job(job.id)
    assert failed is not None and failed.state is JobState.FAILED
    assert failed.attempts_made == 3
    assert "provider is unavailable" in (failed.failed_reason or "")
    assert system.email_provider.deliveries == []


def test_a_killed_worker_does_not_cause_a_duplicate_email(
    make_system: Callable[..., System], redis_url: str
) -> None:
    system = make_system(
        redis_url=redis_url,
        delivery_delay=0.3,
        worker_options={"lock_duration": 300, "stalled_interval": 150},
    )
    job = system.queue.add("send-notification", NOTE)
    assert wait_for(lambda: bool(system.worker and system.worker.jobs_in_hand()), 5)
    system.kill_worker()  # mid-delivery: its result will never be recorded
    system.start_worker()  # another worker finds the stalled job and runs it again
    assert wait_for(finished(system.queue, job.id))
    done = system.queue.get_job(job.id)
    assert done is not None and done.state is JobState.COMPLETED
    assert done.return_value["duplicate"] is True, "the second run found the delivery log"
    assert len(system.email_provider.deliveries) == 1


def test_stopping_with_a_hung_provider_gives_up_after_the_timeout(
    make_system: Callable[..., System],
) -> None:
    system = make_system()
    system.email_provider.hang(30)
    system.queue.add("send-notification", NOTE)
    assert wait_for(lambda: bool(system.worker and system.worker.jobs_in_hand()), 5)
    started = time.monotonic()
    assert system.stop_worker(timeout=0.3) is False  # killed: the job will run again later
    assert time.monotonic() - started < 0.3 + 1.5
    system.email_provider.heal()
