"""The one place that waits for a job to arrive: a blocking move from `wait` to `active`.

On a Redis server an idle worker sends ``BLMOVE wait active RIGHT LEFT timeout`` and Redis
answers the moment a job is pushed: no polling. The embedded Redis (fakeredis) answers
such a command at once, blocking or not, so here, and only here, embedded Redis gets a
stand-in: try a plain ``LMOVE``, and when the list is empty wait on a condition that
``Queue.add`` and the worker notify after their scripts (with a short timeout as a backstop).
The contract tests run the same worker code on both, so a difference would show.

A block must also end on time: Redis checks blocked clients' timeouts on its cron tick
(every 100 ms at the default ``hz 10``), so a ``BLMOVE`` meant to end when a delayed job
falls due can end up to 100 ms late. The worker ends it itself: a timer sends
``CLIENT UNBLOCK`` at the due time, which the server acts on as soon as it reads it.

A blocking read must never trip the client's own socket timeout (redis-py 8 sets 5 s on
every connection, redis-py 5 none): the wait gets a connection of its own whose socket
timeout is longer than the longest block, so an idle worker neither logs a timeout nor
reconnects, whatever ``drain_delay`` is.

Fault model: if Redis dies mid-block, ``move()`` raises what redis-py raises and drops its
connection (the worker logs, waits and tries again); if the timer's ``CLIENT UNBLOCK``
cannot be sent, the block still ends at its own timeout, one server tick late; a timer
that fires just after its block ended can only end the next block early, which makes the
worker look once more. Nobody but the worker itself sends to this connection.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

import redis
from redis.cluster import RedisCluster

from launchpad.queue.keys import QueueKeys
from launchpad.redis import is_embedded

__all__ = ["BlockingMove", "notify_embedded_arrival"]

SOCKET_MARGIN_S = 5.0
"""How much longer than the longest block the blocking connection waits for a reply."""

EMBEDDED_POLL_S = 0.05
"""Longest an embedded-Redis worker sleeps before looking again (jobs pushed by scripts)."""

_arrival = threading.Condition()


def notify_embedded_arrival() -> None:
    """Wake workers of this process that wait on the embedded Redis (called after an add)."""
    with _arrival:
        _arrival.notify_all()


class BlockingMove:
    """Moves one job id from a queue's `wait` to its `active`, waiting up to a timeout.

    ``interrupt()`` (from another thread) makes a waiting ``move()`` return ``None`` soon:
    on a server (or the cluster node that holds the queue) with ``CLIENT UNBLOCK``, on
    embedded Redis with the condition. ``longest_block_s`` caps every wait, and the
    blocking connection's socket timeout is set above it.
    """

    def __init__(self, conn: Any, keys: QueueKeys, longest_block_s: float) -> None:
        self.conn, self.src, self.dst = conn, keys.key("wait"), keys.key("active")
        self.longest_block_s = longest_block_s
        self.embedded = is_embedded(conn)
        self._interrupted = False
        self._client: redis.Redis | None = None  # a connection of its own, to unblock by id
        self._node_client: redis.Redis | None = None  # who can reach it: pool or cluster node
        self._client_id: int | None = None

    def _blocking_client(self) -> redis.Redis:
        """A single-connection client on the server that holds ``src`` (made once)."""
        if self._client is None:
            if isinstance(self.conn, RedisCluster):
                node = self.conn.get_node_from_key(self.src)  # type: ignore[no-untyped-call,unused-ignore]
                self._node_client = node.redis_connection
            else:
                self._node_client = self.conn
            assert self._node_client is not None
            shared = self._node_client.connection_pool
            kwargs = dict(shared.connection_kwargs)
            limit = kwargs.get("socket_timeout")
            if limit is not None:  # never shorter than a block: the server answers first
                kwargs["socket_timeout"] = max(limit, self.longest_block_s + SOCKET_MARGIN_S)
            own = redis.ConnectionPool(connection_class=shared.connection_class, **kwargs)
            client = redis.Redis(connection_pool=own, single_connection_client=True)
            self._client_id = int(client.client_id())  # type: ignore[arg-type,unused-ignore]
            self._client = client
        return self._client

    def move(self, timeout_s: float) -> str | None:
        """The id moved, or ``None`` when nothing arrived within ``timeout_s`` seconds."""
        timeout_s = min(timeout_s, self.longest_block_s)
        if self.embedded:
            return self._move_embedded(timeout_s)
        client = self._blocking_client()
        if self._interrupted:
            return None
        on_time = threading.Timer(timeout_s, self._unblock)  # not at the server's next tick
        on_time.daemon = True
        on_time.start()
        try:
            moved = client.execute_command(  # type: ignore[no-untyped-call]
                "BLMOVE", self.src, self.dst, "RIGHT", "LEFT", max(round(timeout_s, 3), 0.001)
            )
        except redis.RedisError:
            self.close()  # e.g. the slot moved to another cluster node: start afresh
            raise
        finally:
            on_time.cancel()
        return _text(moved)

    def _unblock(self) -> None:
        """End the block now (as a timeout: ``BLMOVE`` answers nil). A late call that
        meets the next block only makes the worker look once more."""
        node, client_id = self._node_client, self._client_id
        if node is not None and client_id is not None:
            with contextlib.suppress(redis.RedisError):
                node.client_unblock(client_id)

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

    def nudge(self) -> None:
        """After a script that may have pushed a wake-up marker: embedded waiters look now.

        A server wakes a blocked ``BLMOVE`` by itself; on embedded Redis this saves the
        waiter up to ``EMBEDDED_POLL_S``.
        """
        if self.embedded:
            notify_embedded_arrival()

    def interrupt(self) -> None:
        """Make a waiting ``move()`` return ``None`` soon, and every later one at once.

        Safe from any thread; a worker calls it when it stops for good.
        """
        self._interrupted = True
        if self.embedded:
            notify_embedded_arrival()
        else:
            self._unblock()  # if that fails, the block ends at its timeout

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client.connection_pool.disconnect()
        self._client = self._node_client = self._client_id = None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)
