"""Redis's errors cross one boundary (``launchpad.queue.errors.redis_errors``), and the retry
decision lives in one function (``launchpad.queue.retry.after_failure``).

A producer catches ``QueueUnavailable`` ("try again later") or ``QueueError`` without
importing redis: every public method of ``Queue`` is tried on a port where nothing
listens, and on a Redis where someone overwrote the queue's keys.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import pytest
import redis
from hypothesis import given
from hypothesis import strategies as st

from launchpad.queue import Queue, QueueUnavailable
from launchpad.queue.errors import QueueError
from launchpad.queue.retry import FAIL, Backoff, after_failure
from launchpad.redis import create_redis_connection

CALLS: dict[str, Callable[[Queue], Any]] = {
    "add": lambda q: q.add("send", {"n": 1}),
    "add_bulk": lambda q: q.add_bulk([{"name": "send", "data": {"n": 1}}]),
    "get_job": lambda q: q.get_job("1"),
    "counts": lambda q: q.counts(),
    "is_paused": lambda q: q.is_paused(),
    "pause": lambda q: q.pause(),
    "resume": lambda q: q.resume(),
    "promote_delayed": lambda q: q.promote_delayed(),
    "drain": lambda q: q.drain(),
    "obliterate": lambda q: q.obliterate(),
}


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed when the block ends: nothing listens there


@pytest.mark.parametrize("call", sorted(CALLS))
def test_every_queue_method_says_queue_unavailable_when_redis_is_down(call: str) -> None:
    port = _closed_port()
    conn = create_redis_connection("errors-test", f"redis://127.0.0.1:{port}/0")
    queue = Queue("mail", connection=conn)
    with pytest.raises(QueueUnavailable, match=f"queue 'mail': .*{port}") as caught:
        CALLS[call](queue)
    assert not isinstance(caught.value, redis.exceptions.RedisError)
    assert isinstance(caught.value.__cause__, redis.exceptions.ConnectionError)


@pytest.mark.real_redis
def test_a_redis_refusal_is_a_queue_error_not_unavailable(
    real_redis_url: str, unique_name: str
) -> None:
    """Someone wrote a string where the queue keeps a hash: Redis answers WRONGTYPE. That is
    not "try again later" (it will fail again), so it is a plain ``QueueError``."""
    conn = create_redis_connection("errors-test", real_redis_url)
    queue = Queue(unique_name, connection=conn)
    try:
        conn.set(queue.key_names.key("meta"), "not a hash")
        with pytest.raises(QueueError, match="Redis refused") as caught:
            queue.is_paused()
        assert not isinstance(caught.value, QueueUnavailable)
    finally:
        conn.delete(*queue.keys())


@given(
    made=st.integers(0, 20),
    attempts=st.integers(1, 20),
    delay=st.integers(0, 10_000),
    kind=st.sampled_from(["fixed", "exponential", None]),
    unrecoverable=st.booleans(),
)
def test_after_failure_retries_only_while_attempts_are_left(
    made: int, attempts: int, delay: int, kind: str | None, unrecoverable: bool
) -> None:
    backoff = Backoff(kind, delay) if kind else None  # type: ignore[arg-type]
    answer = after_failure(made, attempts, backoff, unrecoverable=unrecoverable)
    if unrecoverable or made + 1 >= attempts:
        assert answer == FAIL
    else:
        assert answer == (backoff.delay_for(made + 1) if backoff else 0)
        assert answer >= 0
