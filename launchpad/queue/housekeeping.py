"""A worker's housekeeping: keep the locks of its jobs alive, and put back stalled jobs.

Both are one script call for any number of jobs. The worker's housekeeping thread calls
``renew_locks()`` every ``lock_duration / 2`` and ``check_stalled()`` every
``stalled_interval`` (the script itself makes sure that only one check per interval runs,
however many workers there are).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from launchpad.logging import get_logger
from launchpad.queue.job import Job
from launchpad.queue.scripts import Scripts

__all__ = ["check_stalled", "renew_locks"]

log = get_logger("worker")


def renew_locks(
    scripts: Scripts,
    queue: str,
    held: Iterable[Job],
    lock_duration: int,
    still_held: Callable[[Job], bool],
) -> list[str]:
    """Extend the lock of every job in ``held``; returns (and logs) the ids whose lock was lost.

    ``held`` is a snapshot: a job in it may finish while the renewal is on its way, and the
    script then finds its token gone just as for a lost lock. ``still_held(job)`` tells the
    two apart after the reply: the worker drops a run from its hand before it sends the
    result, so a run still in hand whose token is gone really lost its lock.
    """
    runs = list(held)
    args: list[object] = [lock_duration]
    for job in runs:
        args += [job.id, job.token]
    if not runs:
        return []
    gone = {str(job_id) for job_id in scripts.run("extend_locks", *args)}
    lost = [job.id for job in runs if job.id in gone and still_held(job)]
    for job_id in lost:
        log.warning(
            "lock lost: the job stalled and was put back", extra={"queue": queue, "job_id": job_id}
        )
    return lost


def check_stalled(
    scripts: Scripts, queue: str, max_stalled_count: int, interval: int, force: bool = False
) -> tuple[list[str], list[str]]:
    """Put back jobs whose worker died; returns (ids put back, ids failed for stalling)."""
    back, failed = scripts.run("move_stalled_to_wait", max_stalled_count, interval, int(force))
    for job_id in back:
        log.warning("job stalled: put back in wait", extra={"queue": queue, "job_id": job_id})
    for job_id in failed:
        log.error(
            "job stalled more than allowable limit: failed",
            extra={"queue": queue, "job_id": job_id},
        )
    return list(back), list(failed)
