"""After a run is recorded: bring the local ``Job`` up to date, log, call back.

The worker calls ``report()`` once the ``move_to_finished`` script has stored a run's
outcome, so what the log and the callbacks say is already true in Redis. Nothing here
talks to Redis. A callback that raises is logged and never kills the worker's slot thread;
``KeyboardInterrupt`` or ``SystemExit`` from it is handed back, and the worker stops.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from launchpad.logging import get_logger
from launchpad.queue.job import Job, JobState
from launchpad.queue.outcome import Outcome

__all__ = ["Callback", "report"]

Callback = Callable[[Job, Any], None]

log = get_logger("worker")


def report(
    job: Job,
    outcome: Outcome,
    stored: str,
    fields: dict[str, Any],
    on_completed: Callback | None,
    on_failed: Callback | None,
) -> BaseException | None:
    """Log what ``stored`` (the script's word for the run) means and call the callback.

    Args:
        job: the job that ran (its ``attempts_made`` is already updated).
        outcome: what the processor produced.
        stored: ``completed``, ``retried``, ``failed`` or ``returned`` (interrupted run).
        fields: log fields naming the queue and the job.
        on_completed / on_failed: the worker's callbacks, or None.

    Returns:
        The ``KeyboardInterrupt`` or ``SystemExit`` a callback raised, else None.
    """
    if stored == "returned":
        job.state = JobState.WAITING
        log.warning(
            "processor raised: job put back in wait, worker stopping",
            extra={**fields, "reason": outcome.value},
        )
        return None
    if stored == "completed":
        job.state, job.return_value = JobState.COMPLETED, outcome.result
        log.info("job completed", extra=fields)
        return _call(on_completed, job, outcome.result)
    assert outcome.error is not None
    job.failed_reason = outcome.value
    if stored == "failed":
        job.state = JobState.FAILED
    log.warning(
        "job failed" if stored == "failed" else "attempt failed: will retry",
        extra={**fields, "reason": job.failed_reason, "attempts_made": job.attempts_made},
    )
    return _call(on_failed, job, outcome.error)


def _call(callback: Callback | None, job: Job, value: Any) -> BaseException | None:
    if callback is None:
        return None
    try:
        callback(job, value)
    except BaseException as exc:  # a callback must not kill the slot thread either
        log.error("worker callback raised", extra={"job_id": job.id, "error": repr(exc)})
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            return exc
    return None
