"""The notification worker: takes ``send-notification`` jobs and delivers them, once.

The queue delivers a job *at least once*: a worker that crashes after sending but
before it reports success gets its job retried by another worker. Sending is the one
step that must not repeat, so the processor makes it idempotent in two layers:

1. a **delivery log** in Redis (one key per job): "already delivered? then skip";
2. the provider's **idempotency key** (the job id): the log alone has a window (send
   succeeded, the worker died before it wrote the log), and the key closes it, because
   the provider itself refuses to deliver the same key twice.

Defaults as in the lesson: concurrency 5, 3 attempts, exponential backoff from 1 s, and a
simulated provider latency of 500 ms per email.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any

from launchpad.logging import get_logger
from launchpad.queue import Job, Queue, Worker
from launchpad.services.email_provider import EmailProvider

__all__ = [
    "DELIVERY_LOG_TTL",
    "NOTIFICATION_JOB_OPTIONS",
    "NotificationProcessor",
    "create_notification_worker",
]

log = get_logger("worker")

NOTIFICATION_JOB_OPTIONS: dict[str, Any] = {
    "attempts": 3,
    "backoff": {"type": "exponential", "delay": 1000},  # ms: 1 s, then 2 s
}
"""The queue's default job options for notifications (pass to ``Queue(...)``)."""

DELIVERY_LOG_TTL = 7 * 24 * 3600  # seconds a delivery is remembered


class NotificationProcessor:
    """Delivers one notification job through the email provider, idempotently.

    Args:
        email_provider: the email provider.
        connection: Redis, for the delivery log.
        delivery_delay: seconds each send takes (a stand-in for a real provider's latency).
        key_prefix: where the delivery log lives: ``<key_prefix>:<job id>``.
    """

    def __init__(
        self,
        email_provider: EmailProvider,
        connection: Any,
        *,
        delivery_delay: float = 0.5,
        key_prefix: str = "launchpad:delivery-log",
    ) -> None:
        self.email_provider = email_provider
        self.connection = connection
        self.delivery_delay = delivery_delay
        self.key_prefix = key_prefix

    def log_key(self, job: Job) -> str:
        return f"{self.key_prefix}:{job.id}"

    # --8<-- [start:process]
    def __call__(self, job: Job) -> dict[str, Any]:
        data = job.data
        log.info(
            "processing notification",
            extra={"job_id": job.id, "type": data.get("type"), "attempt": job.attempts_made + 1},
        )
        # 1. check the delivery log: a retried job that already went out stops here
        delivered = self.connection.get(self.log_key(job))
        if delivered:
            log.info("already delivered, skipping", extra={"job_id": job.id})
            return {"delivered": True, "duplicate": True, "messageId": delivered}
        # 2. send, with the job id as the provider's idempotency key
        time.sleep(self.delivery_delay)
        receipt = self.email_provider.send(
            data["to"],
            data["subject"],
            data["body"],
            type=data.get("type", "email"),
            idempotency_key=job.id,
        )
        # 3. record the delivery (if we die before this line, step 2's key still holds)
        self.connection.set(self.log_key(job), receipt.message_id, ex=DELIVERY_LOG_TTL)
        log.info(
            "notification delivered",
            extra={"job_id": job.id, "message_id": receipt.message_id},
        )
        return {
            "delivered": True,
            "duplicate": receipt.duplicate,
            "messageId": receipt.message_id,
            "timestamp": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
        }

    # --8<-- [end:process]


def create_notification_worker(
    queue: Queue,
    email_provider: EmailProvider,
    *,
    concurrency: int = 5,
    delivery_delay: float = 0.5,
    **worker_options: Any,
) -> Worker:
    """A worker (not started) that delivers ``queue``'s notification jobs via ``email_provider``.

    The delivery log lives next to the queue's keys, so two systems on one Redis with
    different queue names never see each other's deliveries.
    """
    processor = NotificationProcessor(
        email_provider,
        queue.connection,
        delivery_delay=delivery_delay,
        key_prefix=f"{queue.prefix}:{{{queue.name}}}:delivery-log",
    )
    return Worker(queue, processor, concurrency=concurrency, **worker_options)
