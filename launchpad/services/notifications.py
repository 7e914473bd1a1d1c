"""The notification service: accept a notification now, deliver it later.

Two kinds of communication meet here, which is why the lesson uses this service:

* **sync**: before accepting anything it asks the auth service "whose token is this?"
  (``GET /auth/verify`` through ``ServiceClient``, 3 s deadline,
  the correlation id forwarded). It cannot go on without the answer, so it waits; when
  auth is down or slow, it answers 503 at once and says why, rather than hanging too;
* **async**: the delivery itself is a job on the queue. The client gets ``202 Accepted``
  and a ``jobId`` in milliseconds; the worker
  (``launchpad.services.notification_worker``) sends the email when it can.

request | answer
--- | ---
``POST /notifications`` | Bearer + ``{to, subject, body, type}`` → 202 ``{jobId}``
``GET /notifications/{jobId}`` | Bearer → ``{jobId, state, attempts, result, failedReason}``

An optional ``Idempotency-Key`` header makes a retried POST safe: the same key from the
same user names the same job, so a client that lost the first answer and sends again
does not queue a second email.

Threat model: any client on the network may call, with any token, header and body.
Notification ids are unguessable (a random UUID, or a UUID derived from the user's own
id and Idempotency-Key), and a notification is shown only to the user who sent it: no
token is 401; someone else's notification is 404, the same answer as one that does not
exist, so a caller cannot even learn that an id is taken (OWASP API1, broken
object-level authorization). Welcome emails queued by auth carry the new user's id, so
each user sees their own.

Whom a user may write to: **only their own account's address**, as auth reports it for
the token (403 otherwise, naming ``to``). Anyone can sign up, with no proof they own the
address, so any wider rule would make the service an open relay for spam and phishing
with the kit's name on it. (A product that needs more would add verified contacts.)
``to`` and ``subject`` go into an email's headers, so control characters in them (CR/LF:
header injection) and invalid addresses are refused with 422 before anything is queued
(``launchpad.services.fields``).

Fault model: auth down, refusing or hung → 503 with ``Retry-After`` within auth's
timeout (never a hang, never a guess about the token); Redis down → 503 "nothing was
queued" (the client knows to retry; a retry with the same Idempotency-Key is safe).
"""

from __future__ import annotations

import uuid
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

from launchpad.correlation import is_safe
from launchpad.http.client import ServiceClient, ServiceError, ServiceTimeout, verify_token
from launchpad.http.web import ApiError, CamelModel, FieldError, Request, WebApp, bearer_token
from launchpad.logging import get_logger
from launchpad.queue import InvalidJobId, Job, QueueUnavailable
from launchpad.services.fields import BodyText, EmailAddress, HeaderText

__all__ = ["QUEUE_NAME", "NotificationQueue", "NotificationService", "create_notifications_app"]

log = get_logger("notifications")

QUEUE_NAME = "notifications"
"""The queue the notification jobs go through (auth adds welcome emails to it too)."""

_KEYED_IDS = uuid.UUID("6f0d3c4e-2a51-4c1e-9a57-0c1d2b3e4f50")
"""The namespace of job ids derived from (user id, Idempotency-Key) with ``uuid5``."""

NOT_FOUND = "no such notification"
"""One answer for "missing" and "someone else's", on purpose."""


class NotificationQueue(Protocol):
    """What this service needs from a queue (``launchpad.queue.Queue`` is one)."""

    def add(self, name: str, data: Any, *, job_id: str | None = None) -> Job: ...

    def get_job(self, job_id: str) -> Job | None: ...


class NotificationBody(BaseModel):
    """A notification; ``to`` and ``subject`` reach an email's headers (see ``fields``)."""

    to: EmailAddress = Field(description="your own account's address (the only one allowed)")
    subject: HeaderText = Field(min_length=1, max_length=200)
    body: BodyText = Field(max_length=10_000)
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
        except ServiceTimeout as exc:  # its deadline: our timeout, or less if our caller's is
            log.warning("auth did not answer in time", extra={"timeout_s": exc.seconds})
            raise ApiError(
                503,
                f"the auth service did not answer within {exc.seconds:.2g} s; try again soon",
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

    def caller(self, request: Request) -> dict[str, Any]:
        """The ``auth=`` hook of every endpoint: who calls, asked before the body is read."""
        return self.authenticate(bearer_token(request))

    def submit(self, user: dict[str, Any], body: NotificationBody, key: str | None) -> Job:
        """Queue one notification; with ``key``, the same key (same user) gives the same job.

        The id is a random UUID, or for a keyed request ``uuid5(user id + key)``: stable for
        the retry, unguessable to anyone who does not know the user's id.
        """
        user_id = str(user.get("userId"))
        if body.to.lower() != str(user.get("email", "")).lower():
            raise ApiError(
                403,
                "to: you may send notifications only to your own account's address",
                fields=[FieldError(field="to", message="not your account's address")],
            )
        data = body.model_dump() | {"userId": user_id}
        name = uuid.uuid5(_KEYED_IDS, f"{user_id}\n{key}") if key else uuid.uuid4()
        try:
            job = self.queue.add("send-notification", data, job_id=f"notification-{name}")
        except QueueUnavailable as exc:
            log.error("could not queue a notification", extra={"error": type(exc).__name__})
            raise ApiError(
                503, "the queue is unavailable; nothing was queued, try again soon"
            ) from None
        log.info("notification queued", extra={"job_id": job.id, "type": body.type})
        return job

    def status(self, user: dict[str, Any], job_id: str) -> Job:
        """The job ``job_id`` if ``user`` sent it; 404 when it is missing *or* not theirs."""
        try:
            job = self.queue.get_job(job_id)
        except InvalidJobId:
            job = None  # an id the queue could never have made is simply not there
        except QueueUnavailable as exc:
            log.error("could not read a job", extra={"error": type(exc).__name__})
            raise ApiError(503, "the queue is unavailable; try again soon") from None
        owner = job.data.get("userId") if job is not None and isinstance(job.data, dict) else None
        if job is None or owner is None or owner != user.get("userId"):
            raise ApiError(404, NOT_FOUND)
        return job


def create_notifications_app(service: NotificationService, *, redis: Any = None) -> WebApp:
    """The notification service's HTTP API (a WSGI app); ``redis`` is what ``/health`` pings."""
    app = WebApp("notifications", redis=redis, description="Queue notifications for delivery.")

    @app.post(
        "/notifications",
        body=NotificationBody,
        response=AcceptedBody,
        status=202,
        auth=service.caller,
        errors={
            400: "bad body or Idempotency-Key",
            401: "missing or invalid token",
            403: "`to` is not the caller's own address",
            503: "auth or the queue is unavailable",
        },
    )
    def submit(request: Request, user: dict[str, Any], body: NotificationBody) -> AcceptedBody:
        """Queue a notification for delivery (202: accepted, not yet sent)."""
        key = request.headers.get("Idempotency-Key")
        if key is not None and not is_safe(key):
            raise ApiError(400, "Idempotency-Key must be 1-128 chars of [A-Za-z0-9._:-]")
        job = service.submit(user, body, key)
        return AcceptedBody(job_id=job.id, duplicate=job.duplicate)

    @app.get(
        "/notifications/<job_id>",
        response=StatusBody,
        auth=service.caller,
        errors={
            401: "missing or invalid token",
            404: "no such notification, or not yours",
            503: "auth or the queue is unavailable",
        },
    )
    def status(request: Request, user: dict[str, Any], job_id: str) -> StatusBody:
        """Where is my notification? (the job's state as the queue names it)"""
        job = service.status(user, job_id)
        return StatusBody(
            job_id=job.id,
            state=job.state.value if job.state else "unknown",
            attempts=job.attempts_made,
            result=job.return_value,
            failed_reason=job.failed_reason,
        )

    return app
