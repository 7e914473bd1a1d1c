"""Small helpers for queue tests: wait for a condition, and drive scripts by hand."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from launchpad.queue import Job, JobState, Queue
from launchpad.queue.retry import FAIL, Backoff, after_failure


def wait_until(check: Callable[[], Any], seconds: float = 10.0, what: str = "condition") -> Any:
    """Poll ``check`` until it is truthy; fail with ``what`` after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError(f"timed out after {seconds} s waiting for {what}")


def take(q: Queue, token: str, lock_ms: int = 30_000) -> Job | None:
    """What a worker does to fetch: lock the next waiting job for ``token``."""
    reply = q.scripts.run("move_to_active", token, lock_ms, "")
    if reply[0] != "job":
        return None
    _, job_id, record, attempts = reply[:4]
    return Job.from_record(
        job_id, record, state=JobState.ACTIVE, attempts_made=int(attempts), token=token
    )


def finish(
    q: Queue,
    job_id: str,
    token: str,
    ok: bool = True,
    retry_delay: int = 0,
    attempts: int = 1,
    keep: str = "all",
) -> list[Any]:
    """What a worker does after a run: decide a retry (``after_failure``, from the attempts
    stored before this run), record it, take no next job. Returns the script reply."""
    retry_in = FAIL
    if not ok:
        made = int(q.connection.hget(q.key_names.key("attempts"), job_id) or 0)
        backoff = Backoff("fixed", retry_delay) if retry_delay else None
        retry_in = after_failure(made, attempts, backoff, unrecoverable=False)
    outcome, value = ("completed", '"ok"') if ok else ("failed", "boom")
    replies: list[Any] = q.scripts.run(
        "move_to_finished", keep, keep, 1000, job_id, token, outcome, value, "", retry_in, ""
    )
    return list(replies[0])


def stall_check(q: Queue, max_stalled: int = 1) -> tuple[list[str], list[str]]:
    back, failed = q.scripts.run("move_stalled_to_wait", max_stalled, 1000, 1)
    return list(back), list(failed)


def where(q: Queue, job_id: str) -> list[str]:
    """Every state structure that lists ``job_id`` (a healthy job is in exactly one)."""
    conn, k = q.connection, q.key_names
    found = [
        name for name in ("wait", "paused", "active") if conn.lpos(k.key(name), job_id) is not None
    ]
    found += [
        name
        for name in ("delayed", "completed", "failed")
        if conn.zscore(k.key(name), job_id) is not None
    ]
    return found


def snapshot(q: Queue, job_ids: list[str]) -> dict[str, tuple[list[str], Job | None]]:
    """For each id: the state structures that list it, and the stored job (one round trip)."""
    k = q.key_names
    lists, sets = ("wait", "paused", "active"), ("delayed", "completed", "failed")
    pipe = q.connection.pipeline(transaction=False)
    for job_id in job_ids:
        for name in lists:
            pipe.lpos(k.key(name), job_id)
        for name in sets:
            pipe.zscore(k.key(name), job_id)
        q.scripts.run("get_job", job_id, client=pipe)
    replies = pipe.execute()
    out = {}
    step = len(lists) + len(sets) + 1
    for i, job_id in enumerate(job_ids):
        row = replies[i * step : (i + 1) * step]
        found = [name for name, hit in zip(lists + sets, row, strict=False) if hit is not None]
        out[job_id] = (found, Job.from_reply(job_id, row[-1]) if row[-1] else None)
    return out
