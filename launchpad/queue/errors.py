"""What can go wrong with the queue, as one small hierarchy.

```
QueueError                  base of everything the queue raises on purpose
 ├── InvalidJobId           a custom job id the queue refuses (also a ValueError)
 ├── QueueUnavailable       Redis cannot be reached or did not answer in time
 └── UnrecoverableError     raised BY A PROCESSOR: fail this job now, skip the retries left
```

Bad ``data`` (not JSON-serialisable) is a plain ``TypeError``, raised before Redis is
touched, as Python does for any argument of the wrong type. Redis's own errors cross one
boundary, ``redis_errors`` below, which every public method of ``Queue`` and
``DeadLetters`` goes through: unreachable, slow, loading or read-only becomes
``QueueUnavailable`` ("try again later"), any other refusal a ``QueueError``. So a
producer catches the queue's errors without importing redis. The worker handles Redis
failures itself (it logs, waits and fetches again); a worker that lost a job's lock raises
nothing: it logs it and drops that run's result.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import redis.exceptions

__all__ = [
    "InvalidJobId",
    "QueueError",
    "QueueUnavailable",
    "UnrecoverableError",
    "redis_errors",
]


class QueueError(Exception):
    """Base class of the queue's own errors."""


class InvalidJobId(QueueError, ValueError):
    """A custom job id that would clash with the queue's own ids or cannot be stored."""


class QueueUnavailable(QueueError):
    """Redis cannot be reached or did not answer in time: no job can be added or taken now."""


class UnrecoverableError(QueueError):
    """Raise this in a processor when retrying cannot help (bad input, a permanent refusal).

    The job goes straight to ``failed``, whatever attempts it has left.
    """


_UNAVAILABLE = (
    redis.exceptions.ConnectionError,  # refused, reset, loading, too many connections
    redis.exceptions.TimeoutError,
    redis.exceptions.ClusterDownError,
    redis.exceptions.TryAgainError,  # a Cluster slot is moving
    redis.exceptions.ReadOnlyError,  # a replica, or a primary failing over
)


@contextmanager
def redis_errors(queue_name: str) -> Iterator[None]:
    """The queue's one boundary with Redis's errors (see the module docstring)."""
    try:
        yield
    except _UNAVAILABLE as exc:
        raise QueueUnavailable(f"queue {queue_name!r}: {exc}") from exc
    except redis.exceptions.RedisError as exc:
        raise QueueError(f"queue {queue_name!r}: Redis refused: {exc}") from exc
