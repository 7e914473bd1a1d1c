"""A job: what to do (name + data), how hard to try (opts), and what happened so far.

A ``Job`` is a snapshot read from Redis: it does not update itself. Ask the queue
again (``queue.get_job(id)``) to see later changes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

__all__ = ["DEFAULT_OPTS", "Job", "JobState"]

DEFAULT_OPTS: dict[str, Any] = {"attempts": 1, "backoff": None, "delay": 0}
"""A job's opts unless it says otherwise; the stored JSON leaves these out."""


class JobState(str, Enum):
    """Where a job is, with BullMQ's meaning of each state."""

    WAITING = "waiting"  # in line for a worker (also while the queue is paused)
    ACTIVE = "active"  # a worker holds it (with a lock it keeps renewing)
    DELAYED = "delayed"  # waits for a due time: a `delay` at add, or a retry's backoff
    COMPLETED = "completed"  # the processor returned; `return_value` holds what it returned
    FAILED = "failed"  # the last attempt failed, or it stalled too often; see `failed_reason`

    @property
    def finished(self) -> bool:
        return self in (JobState.COMPLETED, JobState.FAILED)


def _ms(text: str) -> int | None:
    return int(text) if text else None


@dataclass
class Job:
    """One unit of work, as the queue stored it.

    Attributes:
        id: unique in its queue; an automatic number, or the ``job_id`` given at add.
        name: what kind of work ("send-notification").
        data: the JSON payload the processor gets.
        opts: ``attempts``, ``backoff`` and ``delay`` as they applied to this job.
        correlation_id: the id that was current at ``add``; the worker restores it.
        duplicate: True when ``add`` found this id already there and changed nothing.
        attempts_made: finished runs so far (successful or not; a stalled run does not count).
        added_at, processed_at, finished_at: milliseconds since the epoch, Redis's clock.
    """

    id: str
    name: str
    data: Any
    opts: dict[str, Any] = field(default_factory=dict)
    correlation_id: str | None = None
    duplicate: bool = False
    state: JobState | None = None
    attempts_made: int = 0
    stalled_count: int = 0
    added_at: int | None = None
    processed_at: int | None = None
    finished_at: int | None = None
    return_value: Any = None
    failed_reason: str | None = None
    stacktrace: str | None = None
    token: str | None = field(default=None, repr=False, compare=False)

    @property
    def attempts(self) -> int:
        """How many runs this job may have in all."""
        return int(self.opts.get("attempts", 1))

    @classmethod
    def from_record(cls, job_id: str, record: str, **fields: Any) -> Job:
        """Build a job from the JSON stored at add (see ``Queue._prepare``) plus ``fields``."""
        stored = json.loads(record)
        return cls(
            id=job_id,
            name=stored["name"],
            data=stored["data"],
            opts={**DEFAULT_OPTS, **stored.get("opts", {})},
            correlation_id=stored.get("cid"),
            **fields,
        )

    @classmethod
    def from_reply(cls, job_id: str, reply: list[Any]) -> Job:
        """Build a job from the reply of the ``get_job`` script."""
        record, state, added, processed, finished, attempts, stalls, result, error, stack = reply
        return cls.from_record(
            job_id,
            record,
            state=JobState(state),
            added_at=_ms(added),
            processed_at=_ms(processed),
            finished_at=_ms(finished),
            attempts_made=int(attempts or 0),
            stalled_count=int(stalls or 0),
            return_value=json.loads(result) if result else None,
            failed_reason=error or None,
            stacktrace=stack or None,
        )
