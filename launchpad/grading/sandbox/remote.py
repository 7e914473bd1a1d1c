"""``env``'s clients in the student's process: the lab's services, reached over HTTP.

Loaded by ``child.py`` (by path, like it). ``env.email_queue`` and ``env.inventory_queue``
offer a Queue's ``add`` and ``add_bulk``; ``env.email_provider`` the EmailProvider's
``send``; ``env.inventory`` the InventoryStore's ``take`` and ``level``. Each raises what
the real object raises (a Redis ``ConnectionError``, ``EmailProviderError``,
``OutOfStock``), so a submission cannot tell the difference, and the grader, which
serves them (``launchpad.grading.checkout.backoffice``), records every call.
"""

from __future__ import annotations

import json
from typing import Any


class LabClient:
    """HTTP to the grader's lab service, with the current correlation id on each call."""

    def __init__(self, url: str, timeout: float) -> None:
        import httpx

        self._http = httpx.Client(base_url=url, timeout=timeout, trust_env=False, verify=False)

    def post(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        from launchpad import correlation

        headers = {}
        cid = correlation.current_correlation_id()
        if cid is not None:
            headers[correlation.HEADER] = cid
        response = self._http.post(path, json=body, headers=headers)
        try:
            data = response.json()
        except ValueError:
            data = {}
        return response.status_code, data if isinstance(data, dict) else {}


class RemoteQueue:
    """``env.email_queue`` / ``env.inventory_queue``: ``add`` and ``add_bulk`` of a Queue."""

    def __init__(self, lab: LabClient, kind: str) -> None:
        self._lab, self.kind = lab, kind
        self.name = f"{kind}-queue"

    def add(
        self,
        name: str,
        data: Any,
        *,
        job_id: str | None = None,
        attempts: int | None = None,
        backoff: Any = None,
        delay: int | None = None,
    ) -> Any:
        from launchpad.queue import Job, QueueUnavailable

        if hasattr(data, "model_dump"):
            data = data.model_dump(mode="json", by_alias=True)
        json.dumps(data)  # a TypeError here, as Queue.add raises, for data that is not JSON
        opts = {"attempts": attempts, "backoff": backoff, "delay": delay}
        status, reply = self._lab.post(
            f"/queues/{self.kind}/add", {"name": name, "data": data, "jobId": job_id, "opts": opts}
        )
        if status == 503:  # as Queue.add raises when Redis is down
            raise QueueUnavailable(reply.get("error", "Redis is unavailable"))
        if status != 201:
            raise ValueError(reply.get("error", f"the queue refused the job ({status})"))
        return Job(
            id=str(reply["id"]),
            name=name,
            data=data,
            opts={k: v for k, v in opts.items() if v is not None},
            correlation_id=reply.get("correlationId"),
            duplicate=bool(reply.get("duplicate")),
        )

    def add_bulk(self, jobs: Any) -> list[Any]:
        return [
            self.add(
                j["name"],
                j["data"],
                job_id=j.get("job_id"),
                attempts=j.get("attempts"),
                backoff=j.get("backoff"),
                delay=j.get("delay"),
            )
            for j in jobs
        ]


class RemoteEmailProvider:
    """``env.email_provider``: ``send`` of the kit's EmailProvider, over HTTP."""

    def __init__(self, lab: LabClient) -> None:
        self._lab = lab

    def send(
        self,
        to: str,
        subject: str,
        body: str,
        *,
        type: str = "email",
        idempotency_key: str | None = None,
    ) -> Any:
        from launchpad.services.email_provider import EmailProviderError, Receipt

        message = {
            "to": to,
            "subject": subject,
            "body": body,
            "type": type,
            "idempotencyKey": idempotency_key,
        }
        status, reply = self._lab.post("/email/send", message)
        if status != 201:
            raise EmailProviderError(reply.get("error", f"the email provider answered {status}"))
        return Receipt(str(reply["messageId"]), duplicate=bool(reply.get("duplicate")))


class RemoteInventory:
    """``env.inventory``: ``take`` and ``level`` of the kit's InventoryStore, over HTTP."""

    def __init__(self, lab: LabClient, out_of_stock: type[Exception]) -> None:
        self._lab, self._out_of_stock = lab, out_of_stock

    def take(self, sku: str, quantity: int) -> int:
        status, reply = self._lab.post("/inventory/take", {"sku": sku, "quantity": quantity})
        if status == 409:
            raise self._out_of_stock(reply.get("error", sku))
        if status != 200:
            raise RuntimeError(reply.get("error", f"the stock service answered {status}"))
        return int(reply["left"])

    def level(self, sku: str) -> int:
        status, reply = self._lab.post("/inventory/level", {"sku": sku})
        if status != 200:
            raise RuntimeError(reply.get("error", f"the stock service answered {status}"))
        return int(reply["level"])
