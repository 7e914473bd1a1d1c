"""Recorders the lab puts around the submission, so a check can say exactly what it did.

* ``Tracer`` sits in front of a service (auth, payment): it records every request
  with its ``x-correlation-id``, and can hang on purpose until released, or answer 503;
* ``RecordingQueue`` stands in for a queue: it records every add (the job id asked
  for, whether it was a duplicate, the correlation id the submission sent) and can fail as
  if Redis were down;
* ``Timeline`` keeps the order of it all;
* ``Reply`` is what came back from one request the lab sent.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import redis as redis_lib

from launchpad.queue import Job, Queue

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = [
    "Added",
    "Event",
    "RecordingQueue",
    "Reply",
    "Timeline",
    "Traced",
    "Tracer",
]


@dataclass(frozen=True)
class Event:
    """One thing that happened, in order: ``("auth", "GET /auth/verify")``."""

    source: str
    what: str
    at: float = field(default_factory=time.monotonic)


class Timeline:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.events: list[Event] = []

    def add(self, source: str, what: str) -> None:
        with self._lock:
            self.events.append(Event(source, what))

    def clear(self) -> None:
        with self._lock:
            self.events = []

    def sources(self) -> list[str]:
        with self._lock:
            return [e.source for e in self.events]


@dataclass(frozen=True)
class Traced:
    method: str
    path: str
    correlation_id: str | None


class Tracer:
    """WSGI middleware in front of a service: records each request; can hang or fail."""

    def __init__(self, app: WSGIApplication, name: str, timeline: Timeline) -> None:
        self.app, self.name, self.timeline = app, name, timeline
        self.calls: list[Traced] = []
        self.hanging = False
        self.failing = False  # answer 503 to everything: the service is down
        self._released = threading.Event()

    def hang(self) -> None:
        self._released.clear()
        self.hanging = True

    def release(self) -> None:
        self.hanging = False
        self._released.set()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        self.calls.append(
            Traced(environ["REQUEST_METHOD"], path, environ.get("HTTP_X_CORRELATION_ID"))
        )
        self.timeline.add(self.name, f"{environ['REQUEST_METHOD']} {path}")
        if self.failing:
            start_response("503 Service Unavailable", [("Content-Type", "application/json")])
            return [b'{"error":"unavailable (the grader made it so)"}']
        if self.hanging:
            self._released.wait(30)
            start_response("503 Service Unavailable", [("Content-Type", "application/json")])
            return [b'{"error":"gave up (the grader let go)"}']
        return self.app(environ, start_response)


@dataclass(frozen=True)
class Added:
    """One ``add`` the submission made: what it asked for and what the queue did."""

    name: str
    requested_id: str | None
    job_id: str
    duplicate: bool
    correlation_id: str | None  # the x-correlation-id the submission sent with the add


class RecordingQueue:
    """Stands in for a ``Queue``: records each add, passes it on, or fails on purpose.

    One Redis queue serves a whole grading (its automatic job ids never restart, so a
    delivery log keyed by them cannot mistake one check's job for another's); the record
    of adds starts afresh for each check.
    """

    _numbers = itertools.count(1)

    def __init__(self, kind: str, connection: Any, prefix: str, timeline: Timeline) -> None:
        self.kind, self.connection, self.prefix, self.timeline = kind, connection, prefix, timeline
        self.adds: list[Added] = []
        self.failing = False
        self.inner = self._new_queue()

    def _new_queue(self) -> Queue:
        return Queue(f"{self.prefix}-{self.kind}-{next(self._numbers)}", connection=self.connection)

    def fresh(self) -> None:
        self.adds = []
        self.failing = False

    def add(
        self,
        name: str,
        data: Any,
        *,
        job_id: str | None = None,
        sent_cid: str | None = None,
        **options: Any,
    ) -> Job:
        self.timeline.add(f"queue:{self.kind}", f"add {name}")
        if self.failing:
            raise redis_lib.exceptions.ConnectionError(
                "Redis is unavailable (the grader cut it off on purpose)"
            )
        job = self.inner.add(name, data, job_id=job_id, **options)
        self.adds.append(Added(name, job_id, job.id, job.duplicate, sent_cid))
        return job

    def discard(self) -> None:
        """Delete the current queue's keys (a real Redis is shared: leave nothing behind)."""
        with contextlib.suppress(Exception):  # Redis gone: nothing we can clean
            self.inner.obliterate()

    def jobs(self) -> list[Job]:
        """The distinct jobs in the queue now (duplicates added once)."""
        found = []
        for job_id in dict.fromkeys(a.job_id for a in self.adds):
            job = self.inner.get_job(job_id)
            if job is not None:
                found.append(job)
        return found


@dataclass(frozen=True)
class Reply:
    """What came back from one request, and how long it took."""

    status: int | None  # None: no answer before the deadline
    body: Any
    headers: dict[str, str]
    seconds: float

    @property
    def json(self) -> dict[str, Any]:
        return self.body if isinstance(self.body, dict) else {}

    def describe(self) -> str:
        if self.status is None:
            return f"no answer within {self.seconds:.1f} s"
        body = self.body
        if isinstance(body, dict):  # the id is noise in a message; checks look at it apart
            body = {k: v for k, v in body.items() if k != "correlationId"}
        text = json.dumps(body) if not isinstance(body, str) else body
        text = text if len(text) <= 160 else text[:157] + "..."
        return f"{self.status} {text}"
