"""What can go wrong with the queue, as one small hierarchy.

```
QueueError                  base of everything the queue raises on purpose
 ├── InvalidJobId           a custom job id the queue refuses (also a ValueError)
 ├── LockLostError          a worker's lock on a job was gone when it reported the result
 └── UnrecoverableError     raised BY A PROCESSOR: fail this job now, skip the retries left
```

Bad ``data`` (not JSON-serialisable) is a plain ``TypeError``, raised before Redis is
touched, as Python does for any argument of the wrong type. Redis's own exceptions
(connection refused, timeouts) pass through unchanged: they are about Redis, not the queue.
"""

from __future__ import annotations

__all__ = ["InvalidJobId", "LockLostError", "QueueError", "UnrecoverableError"]


class QueueError(Exception):
    """Base class of the queue's own errors."""


class InvalidJobId(QueueError, ValueError):
    """A custom job id that would clash with the queue's own ids or cannot be stored."""


class LockLostError(QueueError):
    """The worker no longer holds the job: it stalled and another worker may have taken it.

    The result of that run is discarded; the job's fate belongs to its new holder.
    """

    def __init__(self, job_id: str) -> None:
        super().__init__(f"lock lost for job {job_id!r}; its result was discarded")
        self.job_id = job_id


class UnrecoverableError(QueueError):
    """Raise this in a processor when retrying cannot help (bad input, a permanent refusal).

    The job goes straight to ``failed``, whatever attempts it has left.
    """
