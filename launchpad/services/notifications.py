"""The notification service: accept a notification now, deliver it later.

Two kinds of communication meet here, which is why the lesson uses this service:

* **sync**: before accepting anything it asks the auth service "whose token is this?"
  (``GET /auth/verify`` through :class:`~launchpad.http.client.ServiceClient`, 3 s deadline,
  the correlation id forwarded). It cannot go on without the answer, so it waits; when
  auth is down or slow, it answers 503 at once and says why, rather than hanging too;
* **async**: the delivery itself is a job on the queue. The client gets ``202 Accepted``
  and a ``jobId`` in milliseconds; the worker
  (:mod:`launchpad.services.notification_worker`) sends the email when it can.

====================  ============================================================
POST /notifications   Bearer + ``{to, subject, body, type}`` → 202 ``{jobId}``; 401; 503
GET  /notifications/{jobId}  → ``{jobId, state, attempts, result, failedReason}``; 404
====================  ============================================================

An optional ``Idempotency-Key`` header makes a retried POST safe: the same key from the
same user names the same job, so a client that lost the first answer and sends again
does not queue a second email.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field
from redis.exceptions import RedisError

from launchpad.correlation import is_safe
from launchpad.http.client import ServiceClient, ServiceError, ServiceTimeout, verify_token
from launchpad.http.web import ApiError, CamelModel, Request, WebApp, bearer_token
from launchpad.logging import get_logger
from launchpad.queue import InvalidJobId, Job

__all__ = ["QUEUE_NAME", "NotificationQueue", "NotificationService", "create_notifications_app"]

log = get_logger("notifications")

QUEUE_NAME = "notifications"
"""The queue the notification jobs go through (auth adds welcome emails to it too)."""


class NotificationQueue(Protocol):
    """What this service needs from a queue (``launchpad.queue.Queue`` is one)."""

    def add(self, name: str, data: Any, *, job_id: str | None = None) -> Job: ...

    def get_job(self, job_id: str) -> Job | None: ...


class NotificationBody(BaseModel):
    to: str = Field(min_length=3, max_length=254)
    subject: str = Field(min_length=1, max_length=200)
    body: str = Field(max_length=10_000)
    type: Literal["email", "sms", "push"] = "email"


class AcceptedBody(CamelModel):
    job_id: str
    duplicate: bool = False  # True: this Idempotency-Key was used before; no new job


class StatusBody(CamelModel):
    job_id: str
    state: str  # the queue's word: waiting, active, delayed, completed, failed
    attempts: int
    result: Any = None
    failed_reason: str | None = None


class NotificationService:
    """Accepts notifications for verified users and reports on their jobs.

    Args:
        queue: where notification jobs go.
        auth: a client for the auth service; its timeout bounds every token check.
    """

    def __init__(self, queue: NotificationQueue, auth: ServiceClient) -> None:
        self.queue = queue
        self.auth = auth

    # --8<-- [start:authenticate]
    def authenticate(self, token: str | None) -> dict[str, Any]:
        """The user behind ``token``, asked of the auth service; an ApiError otherwise."""
        if token is None:
            raise ApiError(401, "missing Bearer token", headers={"WWW-Authenticate": "Bearer"})
        try:
            user = verify_token(self.auth, token)
        except ServiceTimeout:
            log.warning("auth did not answer in time", extra={"timeout_s": self.auth.timeout})
            raise ApiError(
                503,
                f"the auth service did not answer within {self.auth.timeout:g} s; try again soon",
                headers={"Retry-After": "1"},
            ) from None
        except ServiceError as exc:
            log.warning("auth is unavailable", extra={"error": type(exc).__name__})
            raise ApiError(
                503,
                "the auth service is unavailable, so the token cannot be checked; try again soon",
                headers={"Retry-After": "1"},
            ) from None
        if user is None:
            raise ApiError(401, "invalid or expired token", headers={"WWW-Authenticate": "Bearer"})
        return user

    # --8<-- [end:authenticate]

    def submit(self, user: dict[str, Any], body: NotificationBody, key: str | None) -> Job:
        """Queue one notification; with ``key``, the same key gives the same job."""
        data = body.model_dump() | {"userId": user.get("userId")}
        job_id = f"notification-{user.get('userId')}-{key}" if key else None
        try:
            job = self.queue.add("send-notification", data, job_id=job_id)
        except RedisError as exc:
            log.error("could not queue a notification", extra={"error": type(exc).__name__})
            raise ApiError(
                503, "the queue is unavailable; nothing was queued, try again soon"
            ) from None
        log.info("notification queued", extra={"job_id": job.id, "type": body.type})
        return job

    def status(self, job_id: str) -> Job:
        try:
            job = self.queue.get_job(job_id)
        except InvalidJobId:
            job = None  # an id the queue could never have made is simply not there
        except RedisError as exc:
            log.error("could not read a job", extra={"error": type(exc).__name__})
            raise ApiError(503, "the queue is unavailable; try again soon") from None
        if job is None:
            raise ApiError(404, "no such notification job")
        return job


def create_notifications_app(service: NotificationService, *, redis: Any = None) -> WebApp:
    """The notification service's HTTP API (a WSGI app); ``redis`` is what ``/health`` pings."""
    app = WebApp("notifications", redis=redis, description="Queue notifications for delivery.")

    @app.post(
        "/notifications",
        body=NotificationBody,
        response=AcceptedBody,
        status=202,
        bearer=True,
        errors={
            400: "bad body or Idempotency-Key",
            401: "missing or invalid token",
            503: "auth or the queue is unavailable",
        },
    )
    def submit(request: Request, body: NotificationBody) -> AcceptedBody:
        """Queue a notification for delivery (202: accepted, not yet sent)."""
        key = request.headers.get("Idempotency-Key")
        if key is not None and not is_safe(key):
            raise ApiError(400, "Idempotency-Key must be 1-128 chars of [A-Za-z0-9._:-]")
        user = service.authenticate(bearer_token(request))
        job = service.submit(user, body, key)
        return AcceptedBody(job_id=job.id, duplicate=job.duplicate)

    @app.get(
        "/notifications/<job_id>", response=StatusBody, errors={503: "the queue is unavailable"}
    )
    def status(request: Request, job_id: str) -> StatusBody:
        """Where is this notification? (the job's state as the queue names it)"""
        job = service.status(job_id)
        return StatusBody(
            job_id=job.id,
            state=job.state.value if job.state else "unknown",
            attempts=job.attempts_made,
            result=job.return_value,
            failed_reason=job.failed_reason,
        )

    return app
