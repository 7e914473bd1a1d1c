"""The lab's back office: the queues, the email provider and the stock, as one HTTP service.

The student's process reaches these the way a deployed service reaches a queue broker,
an email API or a stock service: over the network (the ``env`` objects it is given are
thin HTTP clients, see ``launchpad.grading.sandbox.child``). The grader keeps the
real objects in its own process, so what they record (every add with its job id and
correlation id, every email, every stock move) is the grader's record, not the student's.

Threat model: the caller is the student's code. It may send any body (each is validated
by a pydantic model, 64 KiB at most, answered 4xx when wrong), any correlation id (it is
recorded as sent: a wrong one costs the student, it cannot help), and as many requests
as its open-file limit allows. Nothing it sends reaches the grader's results except
through what the checks then read from the recorders.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field

from launchpad import correlation
from launchpad.http.web import ApiError, CamelModel, Request, WebApp
from launchpad.queue import QueueUnavailable
from launchpad.services.email_provider import EmailProvider, EmailProviderError

if TYPE_CHECKING:
    from launchpad.grading.checkout.recorders import RecordingQueue

__all__ = ["create_backoffice_app"]

Short = Field(min_length=1, max_length=256)


class JobOptions(CamelModel):
    attempts: int | None = Field(default=None, ge=1, le=1000)
    backoff: Any = None
    delay: int | None = Field(default=None, ge=0, le=86_400_000)


class AddBody(CamelModel):
    name: str = Short
    data: Any = None
    job_id: str | None = Field(default=None, min_length=1, max_length=256)
    opts: JobOptions = Field(default_factory=JobOptions)


class EmailBody(CamelModel):
    to: str = Short
    subject: str = Field(max_length=2000)
    body: str = Field(max_length=20_000)
    type: str = Field(default="email", max_length=100)
    idempotency_key: str | None = Field(default=None, max_length=256)


class TakeBody(CamelModel):
    sku: str = Short
    quantity: int = Field(ge=-1_000_000, le=1_000_000)


class LevelBody(CamelModel):
    sku: str = Short


def create_backoffice_app(
    queues: dict[str, RecordingQueue],
    email_provider: EmailProvider,
    inventory: Any,
    out_of_stock: type[Exception],
) -> WebApp:
    """The back office's HTTP API over the lab's own recorders."""
    app = WebApp("lab", description="The grader's queues, email provider and stock.")

    @app.post("/queues/<kind>/add", body=AddBody, status=201)
    def add(request: Request, body: AddBody, kind: str) -> Any:
        """Add a job to the email or inventory queue (recorded)."""
        if kind not in queues:
            raise ApiError(404, f"no queue {kind!r}")
        sent = request.headers.get(correlation.HEADER)
        options = body.opts.model_dump(exclude_none=True)
        try:
            job = queues[kind].add(body.name, body.data, job_id=body.job_id, sent_cid=sent,
                                   **options)  # fmt: skip
        except QueueUnavailable as exc:
            raise ApiError(503, str(exc)) from None
        except (TypeError, ValueError) as exc:
            raise ApiError(400, str(exc)[:500]) from None
        return {"id": job.id, "duplicate": job.duplicate, "correlationId": job.correlation_id}

    @app.post("/email/send", body=EmailBody, status=201)
    def send(request: Request, body: EmailBody) -> Any:
        """Send one email with the lab's provider (recorded)."""
        try:
            receipt = email_provider.send(
                body.to,
                body.subject,
                body.body,
                type=body.type,
                idempotency_key=body.idempotency_key,
            )
        except EmailProviderError as exc:
            raise ApiError(503, str(exc)) from None
        return {"messageId": receipt.message_id, "duplicate": receipt.duplicate}

    @app.post("/inventory/take", body=TakeBody)
    def take(request: Request, body: TakeBody) -> Any:
        """Take stock (recorded, not idempotent)."""
        try:
            return {"left": inventory.take(body.sku, body.quantity)}
        except out_of_stock as exc:
            raise ApiError(409, str(exc)) from None

    @app.post("/inventory/level", body=LevelBody)
    def level(request: Request, body: LevelBody) -> Any:
        """How much of a product is left."""
        return {"level": inventory.level(body.sku)}

    return app
