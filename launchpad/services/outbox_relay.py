"""The outbox relay: moves auth's pending outbox rows to the queue, until each is there.

Registration writes the user and its welcome email in one transaction in auth's own store
(``launchpad.services.auth_store``); it never talks to Redis. This relay, a background
thread of the auth service, does the talking: it reads pending rows oldest first, adds each
to the queue under the row's **job id** (``welcome-email-<user id>``), and marks the row sent
only after the queue accepted it. While the queue is unavailable it keeps the rows and tries
again with exponential backoff, so "the email will arrive" holds through a Redis outage.

Threat and fault model:

* who calls it: the auth process that owns the store; rows were written by auth itself, so
  their data is trusted, and the queue checks it again (JSON, job id rules);
* **Redis down or slow**: ``Queue.add`` raises ``QueueUnavailable``;
  the row stays pending and the relay waits 0.1 s, 0.2 s, 0.4 s ... (at most ``max_wait``)
  before the next try, so a dead Redis is not hammered and a live one is reached again soon;
* **the relay dies between "queue accepted" and "mark sent"** (auth killed, a crash): the
  row is still pending after the restart and is sent again. That second add carries the
  same job id, so the queue ignores it (``job.duplicate``): one job, one email. This is
  where the queue's job-id dedup earns its place. (It holds while the queue keeps the
  finished job; see ``launchpad/queue/README.md`` on retention.)
* **Redis killed mid-relay**: a row whose add did not answer stays pending and is sent
  again, deduplicated as above. A job Redis acknowledged and then lost in the crash is not
  re-sent (the row is marked): the outbox hands over at least once; what Redis accepted is
  as durable as Redis's persistence makes it (``appendfsync always`` loses nothing);
* any other error from the queue (a bug, bad data): logged with the row's job id, retried
  with the same backoff; the thread never dies of it.

What it promises: every row committed to the store reaches the queue at least once, as one
job; delivery after that is the worker's promise (at least once, idempotent sends).
"""

from __future__ import annotations

import threading
from typing import Any

from launchpad.correlation import correlation_scope
from launchpad.logging import get_logger
from launchpad.queue import Backoff, Job, Queue, QueueUnavailable
from launchpad.services.auth_store import AuthStore, OutboxEntry

__all__ = ["OutboxRelay"]

log = get_logger("auth")

RETRY_BACKOFF = Backoff("exponential", 100)
"""The wait after a failed pass: 0.1 s, 0.2 s, 0.4 s ... (capped by ``max_wait``)."""


class OutboxRelay:
    """Copies pending outbox rows to ``queue``; ``start()`` runs it as a daemon thread.

    Args:
        store: auth's store, which holds the outbox.
        queue: where the jobs go.
        batch: rows read per pass.
        backoff: the wait after a failed pass (exponential from 100 ms by default).
        max_wait: the longest wait between tries while the queue is unavailable, seconds.
        idle_wait: how long an idle relay sleeps before it looks again, seconds; a new row
            wakes it at once (``store.on_pending``).
        keep_sent: seconds a sent row is kept before it is pruned.
    """

    def __init__(
        self,
        store: AuthStore,
        queue: Queue,
        *,
        batch: int = 100,
        backoff: Backoff = RETRY_BACKOFF,
        max_wait: float = 5.0,
        idle_wait: float = 1.0,
        keep_sent: float = 3600.0,
    ) -> None:
        self.store = store
        self.queue = queue
        self.batch = batch
        self.backoff = backoff
        self.max_wait = max_wait
        self.idle_wait = idle_wait
        self.keep_sent = keep_sent
        self.failed_passes = 0  # in a row; 0 once a pass succeeds
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        store.on_pending(self._wake.set)

    # --8<-- [start:send]
    def send(self, entry: OutboxEntry) -> Job:
        """Add one row's job to the queue; a row sent before comes back as a duplicate.

        Raises:
            QueueUnavailable: Redis cannot be reached; the row stays pending.
        """
        self.store.count_attempt(entry.id)
        with correlation_scope(entry.correlation_id):  # the sign-up's id travels on
            return self.queue.add(entry.job_name, entry.data, job_id=entry.job_id)

    # --8<-- [end:send]

    # --8<-- [start:relay_pending]
    def relay_pending(self) -> int:
        """One pass: send pending rows oldest first, marking each sent after the queue took it.

        Returns the number of rows marked sent. Raises what ``send()`` raises, at the
        first row that fails; the rows before it are marked, the rest stay pending.
        """
        moved = 0
        for entry in self.store.pending(self.batch):
            job = self.send(entry)
            self.store.mark_sent(entry.id)  # only now: a crash before this re-sends (dedup)
            moved += 1
            log.info(
                "outbox row sent" if not job.duplicate else "outbox row was queued before",
                extra={"job_id": entry.job_id, "duplicate": job.duplicate},
            )
        return moved

    # --8<-- [end:relay_pending]

    # -- the background thread --------------------------------------------------------------

    def start(self) -> None:
        """Run ``run()`` in a daemon thread (auth starts it with the service)."""
        if self._thread is not None:
            raise RuntimeError("the relay is running already")
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, name="outbox-relay", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop after the current pass (a pass waits at most for Redis's timeouts)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def run(self) -> None:
        """Relay until ``stop()``: a pass, then sleep until woken, or back off after a failure."""
        while not self._stop.is_set():
            self._wake.clear()
            try:
                moved = self.relay_pending()
            except QueueUnavailable as exc:
                self._failed(exc, "the queue is unavailable; the rows stay pending")
                continue
            except Exception as exc:  # not Redis: a bug or bad data; keep the thread alive
                self._failed(exc, "the outbox relay failed; the rows stay pending")
                continue
            self.failed_passes = 0
            if moved:
                self.store.prune_sent(self.keep_sent)
            if moved < self.batch:
                self._wake.wait(self.idle_wait)

    def _failed(self, exc: Exception, message: str) -> None:
        self.failed_passes += 1
        wait = min(self.backoff.delay_for(self.failed_passes) / 1000, self.max_wait)
        extra: dict[str, Any] = {
            "error": f"{type(exc).__name__}: {exc}",
            "retry_in_s": round(wait, 3),
            "failed_passes": self.failed_passes,
        }
        log.warning(message, extra=extra)
        self._stop.wait(wait)
