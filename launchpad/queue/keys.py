"""The Redis keys of one queue: a fixed, short list, all in one Redis Cluster slot.

Every key is ``<prefix>:{<queue>}:<part>``. The braces are a Redis Cluster *hash tag*:
only ``<queue>`` is hashed, so every key of a queue lands in the same slot and one Lua
script may touch them all atomically.

A job is not one key. Its attributes are spread over one hash per attribute, with the
job id as the field (``HGET launchpad:{mail}:attempts 42``), next to the lists and sorted
sets that hold its state. That is why the list below is fixed: each script receives the
whole list in KEYS, in this order, and never builds a key name of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["KEY_PARTS", "QueueKeys"]

# --8<-- [start:parts]
KEY_PARTS: tuple[str, ...] = (
    # where a job is: lists and sorted sets of job ids, one per state
    "wait",  # list: LPUSH to add, the worker moves from the right end (FIFO)
    "paused",  # list: `wait` renamed while the queue is paused
    "active",  # list: jobs a worker holds
    "delayed",  # sorted set: score = due time (ms, Redis clock)
    "completed",  # sorted set: score = finish time, trimmed by retention
    "failed",  # sorted set: score = finish time, trimmed by retention
    # bookkeeping for workers
    "locks",  # sorted set: active job -> lock expiry (ms); no entry or past = no lock
    "tokens",  # hash: active job -> token of the worker run that holds it
    "stalled",  # set: active jobs seen by the last stall check
    "stalled-check",  # string with a TTL: one stall check per interval, for all workers
    "meta",  # hash: paused flag
    "id",  # counter for automatic job ids
    # what a job is: one hash per attribute, field = job id
    "jobs",  # JSON: name, data, opts, correlation id (written once, at add)
    "states",  # waiting | active | delayed | completed | failed
    "added",  # timestamps in ms (Redis clock)
    "processed",
    "finished",
    "attempts",  # attempts made (finished runs, success or failure)
    "stalls",  # times the job stalled
    "results",  # JSON return value
    "errors",  # failure reason of the last failed attempt
    "stacks",  # stack trace of the last failed attempt
)
# --8<-- [end:parts]


@dataclass(frozen=True)
class QueueKeys:
    """Key names of the queue ``name`` under ``prefix``."""

    prefix: str
    name: str

    @property
    def base(self) -> str:
        """``<prefix>:{<queue>}``: every key of this queue starts with it."""
        return f"{self.prefix}:{{{self.name}}}"

    def key(self, part: str) -> str:
        if part not in KEY_PARTS:
            raise KeyError(f"unknown queue key part {part!r}")
        return f"{self.base}:{part}"

    def all(self) -> list[str]:
        """All keys in the order the Lua scripts expect them in KEYS."""
        return [f"{self.base}:{part}" for part in KEY_PARTS]
