"""A worker's housekeeping: keep the locks of its jobs alive, and put back stalled jobs.

Both are one script call for any number of jobs. The worker's housekeeping thread calls
:func:`renew_locks` every ``lock_duration / 2`` and :func:`check_stalled` every
``stalled_interval`` (the script itself makes sure that only one check per interval runs,
however many workers there are).
"""

from __future__ import annotations

from collections.abc import Iterable

from launchpad.logging import get_logger
from launchpad.queue.job import Job
from launchpad.queue.scripts import Scripts

__all__ = ["check_stalled", "renew_locks"]

log = get_logger("worker")


def renew_locks(scripts: Scripts, queue: str, held: Iterable[Job], lock_duration: int) -> list[str]:
    """Extend the lock of every job in ``held``; returns the ids whose lock was lost."""
    args: list[object] = [lock_duration]
    for job in held:
        args += [job.id, job.token]
    if len(args) == 1:
        return []
    lost = [str(job_id) for job_id in scripts.run("extend_locks", *args)]
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
