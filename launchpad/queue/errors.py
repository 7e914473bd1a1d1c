"""What can go wrong with the queue, as one small hierarchy.

```
QueueError                  base of everything the queue raises on purpose
 ├── InvalidJobId           a custom job id the queue refuses (also a ValueError)
 ├── QueueUnavailable       Redis cannot be reached or did not answer in time
 └── UnrecoverableError     raised BY A PROCESSOR: fail this job now, skip the retries left
```

Bad ``data`` (not JSON-serialisable) is a plain ``TypeError``, raised before Redis is
touched, as Python does for any argument of the wrong type. ``Queue.add`` and the dead
letters turn Redis's connection and timeout errors into ``QueueUnavailable``, so a producer
can tell "try again later" without importing redis; elsewhere they still pass through.
A worker that lost a job's lock raises nothing: it logs it and drops that run's result.
"""

from __future__ import annotations

__all__ = ["InvalidJobId", "QueueError", "QueueUnavailable", "UnrecoverableError"]


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
