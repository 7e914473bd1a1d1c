"""Dead letters: look at a queue's jobs, and retry or remove the ones that failed.

A job that used up its attempts (or stalled too often, or raised ``UnrecoverableError``)
lands in ``failed`` and stays there: a *dead letter*. Nothing runs it again by itself,
because the queue cannot know whether the cause is gone. An operator looks at it, fixes
the cause, and retries it (BullMQ's ``retryJobs``, RQ's ``requeue``) or removes it.

>>> letters = DeadLetters(Queue("notifications"))
>>> page = letters.list_jobs("failed")            # newest first, 20 at a time
>>> letters.show(page.jobs[0].id).failed_reason
>>> letters.retry()                               # every failed job, back to waiting

Threat model: this is an operator's tool. Its caller (``launchpad jobs``, a script, a
demo) may pass anything typed on a command line: states and job ids are checked before
Redis is touched (an id is 1-255 characters without control characters; a state is one of
the five) and page sizes are bounded, so a typo is a clear ``ValueError``, never a Redis
error or a huge read. It trusts Redis and the queue's own scripts, as the queue does; it
refuses nothing a worker may do.

Fault model: other clients keep working while an operator looks. A worker may take, fail
or finish jobs, retention may delete them, another operator may retry or remove the same
job. Each change is one Lua script that checks and moves a job in one step, so a job
retried twice at once is queued once, and a job that is gone or no longer failed is
*reported* (``Result.MISSING``, ``Result.NOT_FAILED``), not an exception halfway through a
list. A page is one atomic read, but the next page is read later: a job may move between
pages. Redis unreachable or too slow is ``QueueUnavailable``,
with the cause in its message; nothing is half-done, since each script is all or nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum
from functools import cache
from importlib import resources
from typing import Any

from launchpad.queue.blocking import notify_embedded_arrival
from launchpad.queue.errors import InvalidJobId, QueueError, redis_errors
from launchpad.queue.job import Job, JobState
from launchpad.queue.keys import KEY_PARTS
from launchpad.queue.queue import Queue
from launchpad.redis import is_embedded

__all__ = [
    "PAGE_MAX",
    "DeadLetters",
    "Handled",
    "JobNotFound",
    "JobPage",
    "Result",
    "check_job_id",
    "check_state",
]

PAGE_MAX = 1000  # jobs per page at most: one page is one script, and Redis runs nothing else
RETRY_CHUNK = 1000  # failed jobs per script call when retrying them all
_SCRIPTS = ("list_jobs", "retry_failed", "remove_failed")


class JobNotFound(QueueError, LookupError):
    """No job with this id in the queue (never added, or removed since)."""


class Result(str, Enum):
    """What a retry or remove did to one job."""

    RETRIED = "retried"  # it was failed and now waits for a worker
    REMOVED = "removed"  # it was failed and is gone; its id is free
    MISSING = "missing"  # no such job: a typo, or removed (by retention or someone else)
    NOT_FAILED = "not-failed"  # the job exists in another state and was left alone


@dataclass(frozen=True)
class Handled:
    """The outcome for one job id: ``result``, and the job's state after it (if it exists)."""

    job_id: str
    result: Result
    state: JobState | None = None

    @property
    def done(self) -> bool:
        return self.result in (Result.RETRIED, Result.REMOVED)


@dataclass(frozen=True)
class JobPage:
    """One page of the jobs in one state.

    Attributes:
        state: the state listed.
        total: jobs in that state when the page was read.
        start: position of the first job of the page (0 = the first).
        jobs: the jobs, in the state's order (see ``DeadLetters.list_jobs()``).
        times: ms since the epoch per job id: the due time of a delayed job, the finish
            time of a completed or failed one (empty for waiting and active).
    """

    state: JobState
    total: int
    start: int
    jobs: list[Job]
    times: dict[str, int] = field(default_factory=dict)

    @property
    def next_start(self) -> int | None:
        """``start`` of the next page, or ``None`` when this one reaches the end."""
        end = self.start + len(self.jobs)
        return end if self.jobs and end < self.total else None


def check_state(state: JobState | str) -> JobState:
    """``state`` as a ``JobState``; a ``ValueError`` naming the valid ones otherwise."""
    try:
        return JobState(state)
    except ValueError:
        valid = ", ".join(s.value for s in JobState)
        raise ValueError(f"unknown job state {state!r}; use one of: {valid}") from None


def check_job_id(job_id: Any) -> str:
    """An id to look up, checked: a str of 1-255 characters without control characters.

    Plain numbers are fine here (the queue's automatic ids are numbers); ``add`` is
    stricter about the ids it accepts for new jobs.
    """
    if not isinstance(job_id, str):
        raise InvalidJobId(f"a job id is a str, not {type(job_id).__name__}")
    if not job_id or len(job_id) > 255:
        raise InvalidJobId(f"a job id has 1-255 characters, not {len(job_id)}")
    if any(ord(c) < 32 or ord(c) == 127 for c in job_id):
        raise InvalidJobId(f"a job id has no control characters: {job_id!r}")
    return job_id


@cache
def _source(name: str) -> str:
    """Script ``name`` with the queue's header: the table ``K`` and ``_common.lua``.

    The same header the queue's own scripts get (see ``scripts.py``), so these scripts
    read and write jobs with the engine's helpers and key names, and run on a Cluster.
    """
    lua = resources.files("launchpad.queue").joinpath("lua")
    names = ", ".join(f"[{part!r}] = KEYS[{i}]" for i, part in enumerate(KEY_PARTS, 1))
    header = f"local K = {{{names}}}\n" + lua.joinpath("_common.lua").read_text("utf-8")
    return header + "\n" + lua.joinpath(f"{name}.lua").read_text("utf-8")


class DeadLetters:
    """An operator's view of one queue: list jobs by state, show one, retry or remove failed ones.

    Args:
        queue: the queue to look at; its connection, prefix and key layout are used.
    """

    def __init__(self, queue: Queue) -> None:
        self.queue = queue
        conn = queue.connection
        self._keys = queue.keys()
        self._scripts = {name: conn.register_script(_source(name)) for name in _SCRIPTS}

    def _run(self, name: str, *args: Any) -> Any:
        with redis_errors(self.queue.name):
            return self._scripts[name](keys=self._keys, args=args)

    def counts(self) -> dict[str, int]:
        """Jobs per state (the queue's own count, with Redis errors translated)."""
        with redis_errors(self.queue.name):
            return self.queue.counts()

    def list_jobs(
        self, state: JobState | str = JobState.FAILED, start: int = 0, count: int = 20
    ) -> JobPage:
        """One page of the jobs in ``state``, read in one atomic step.

        Order: waiting jobs next to run first; active ones most recently taken first;
        delayed ones soonest due first; completed and failed ones newest first.

        Args:
            state: ``waiting``, ``active``, ``delayed``, ``completed`` or ``failed``.
            start: how many jobs to skip (``page.next_start`` of the previous page).
            count: jobs per page, 1 to ``PAGE_MAX``.
        """
        listed = check_state(state)
        if isinstance(start, bool) or not isinstance(start, int) or start < 0:
            raise ValueError(f"start must be a whole number >= 0, not {start!r}")
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= PAGE_MAX:
            raise ValueError(f"count must be a whole number from 1 to {PAGE_MAX}, not {count!r}")
        reply = self._run("list_jobs", listed.value, start, count)
        jobs, times = [], {}
        for job_id, score, *fields in reply[1:]:
            jobs.append(Job.from_reply(str(job_id), fields))
            if score:
                times[str(job_id)] = int(float(score))
        return JobPage(listed, int(reply[0]), start, jobs, times)

    def show(self, job_id: str) -> Job:
        """Everything stored about one job; ``JobNotFound`` if there is no such job."""
        checked = check_job_id(job_id)
        with redis_errors(self.queue.name):
            job = self.queue.get_job(checked)
        if job is None:
            raise JobNotFound(f"no job {checked!r} in queue {self.queue.name!r}")
        return job

    def retry(
        self, job_ids: Iterable[str] | None = None, *, reset_attempts: bool = False
    ) -> list[Handled]:
        """Move failed jobs back to ``waiting``: the ones named, or all of them.

        Each job is checked and moved in one atomic step, so retrying a job twice (two
        operators at once) queues it once; the second gets ``Result.NOT_FAILED``.

        Args:
            job_ids: the ids to retry (each checked first; nothing is sent if one is
                malformed); ``None`` retries every job that had failed when the call
                began. Jobs that fail again meanwhile are not retried twice.
            reset_attempts: start the job's attempts made again from 0, so it gets all its
                attempts and backoff back. Without it (BullMQ's default too) the job has
                used its attempts, and a retry is exactly one more run.

        Returns:
            One ``Handled`` per job, in order: retried, missing or not failed.
        """
        reset = int(bool(reset_attempts))
        if job_ids is not None:
            ids = [check_job_id(job_id) for job_id in job_ids]
            handled: list[Handled] = []
            for i in range(0, len(ids), RETRY_CHUNK):
                _, results = self._run(
                    "retry_failed", reset, "", RETRY_CHUNK, *ids[i : i + RETRY_CHUNK]
                )
                handled += [_handled(r) for r in results]
        else:
            handled, cutoff = [], ""
            while True:  # one chunk per call, so Redis never runs one long script
                cutoff, results = self._run("retry_failed", reset, cutoff, RETRY_CHUNK)
                handled += [_handled(r) for r in results]
                if len(results) < RETRY_CHUNK:
                    break
        if any(h.result is Result.RETRIED for h in handled) and is_embedded(self.queue.connection):
            notify_embedded_arrival()
        return handled

    def remove(self, job_id: str) -> Handled:
        """Delete one failed job and all that is stored about it; its id can be used again.

        A job in any other state is left alone (``Result.NOT_FAILED``): a worker may hold it.
        """
        checked = check_job_id(job_id)
        result, state = self._run("remove_failed", checked)
        return Handled(checked, Result(result), JobState(state) if state else None)


def _handled(reply: list[Any]) -> Handled:
    job_id, result, state = reply
    return Handled(str(job_id), Result(result), JobState(state) if state else None)
