"""The one place that waits for a job to arrive: a blocking move from `wait` to `active`.

On a Redis server an idle worker sends ``BLMOVE wait active RIGHT LEFT timeout`` and Redis
answers the moment a job is pushed: no polling. The embedded Redis (fakeredis) answers
such a command at once, blocking or not, so here, and only here, embedded Redis gets a
stand-in: try a plain ``LMOVE``, and when the list is empty wait on a condition that
``Queue.add`` notifies (with a short timeout, for jobs pushed by a retry or a promotion).
The contract tests run the same worker code on both, so a difference would show.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

import redis

from launchpad.redis import is_embedded

__all__ = ["BlockingMove", "notify_embedded_arrival"]

EMBEDDED_POLL_S = 0.05
"""Longest an embedded-Redis worker sleeps before looking again (jobs pushed by scripts)."""

_arrival = threading.Condition()


def notify_embedded_arrival() -> None:
    """Wake workers of this process that wait on the embedded Redis (called after an add)."""
    with _arrival:
        _arrival.notify_all()


class BlockingMove:
    """Moves one job id from ``src`` to ``dst``, waiting up to a timeout for one to arrive.

    ``interrupt()`` (from another thread) makes a waiting ``move()`` return ``None`` soon:
    on a single server with ``CLIENT UNBLOCK``, on embedded Redis with the condition; on a
    cluster the wait ends at its timeout.
    """

    def __init__(self, conn: Any, src: str, dst: str) -> None:
        self.conn, self.src, self.dst = conn, src, dst
        self.embedded = is_embedded(conn)
        self._interrupted = False
        self._client: redis.Redis | None = None
        self._client_id: int | None = None
        if not self.embedded and isinstance(conn, redis.Redis):
            # A connection of its own, so that CLIENT UNBLOCK can name it.
            self._client = redis.Redis(
                connection_pool=conn.connection_pool, single_connection_client=True
            )

    def move(self, timeout_s: float) -> str | None:
        """The id moved, or ``None`` when nothing arrived within ``timeout_s`` seconds."""
        self._interrupted = False
        if self.embedded:
            return self._move_embedded(timeout_s)
        client: Any = self._client if self._client is not None else self.conn
        if self._client is not None and self._client_id is None:
            self._client_id = int(self._client.client_id())  # type: ignore[arg-type]
        if self._interrupted:
            return None
        moved = client.execute_command(
            "BLMOVE", self.src, self.dst, "RIGHT", "LEFT", max(round(timeout_s, 3), 0.001)
        )
        return _text(moved)

    def _move_embedded(self, timeout_s: float) -> str | None:
        deadline = time.monotonic() + timeout_s
        while not self._interrupted:
            moved = self.conn.lmove(self.src, self.dst, "RIGHT", "LEFT")
            if moved is not None:
                return _text(moved)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            with _arrival:
                _arrival.wait(min(remaining, EMBEDDED_POLL_S))
        return None

    def interrupt(self) -> None:
        """Make a waiting ``move()`` return ``None`` soon (safe from any thread)."""
        self._interrupted = True
        if self.embedded:
            notify_embedded_arrival()
        elif self._client_id is not None:
            with contextlib.suppress(redis.RedisError):  # else it ends at its timeout
                self.conn.client_unblock(self._client_id)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)
