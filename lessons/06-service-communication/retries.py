"""Retries you can watch: backoff between attempts, then a dead letter you retry by hand

A welcome-email job names an email template that was never deployed, so every attempt
fails. The queue retries it with exponential backoff (the gaps are measured), gives up after
the third attempt and keeps it in `failed`: a dead letter. An operator lists the dead
letters, reads the reason, deploys the template, and retries the job, which now succeeds.

Run: ``launchpad lesson 06 retries``  (then try ``launchpad jobs --help``)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

from _demo import Demo, delete_prefix, run_demo, scratch_prefix, wait_until

from launchpad.queue import Job, JobState, Queue, Worker
from launchpad.queue.retry import parse_backoff
from launchpad.queue.dead_letters import DeadLetters
from launchpad.redis import create_redis_connection

ATTEMPTS = 3
BACKOFF = {"type": "exponential", "delay": 200}  # ms: 200 before retry 1, 400 before retry 2


class Mailer:
    """A worker's email sender: knows the templates that were deployed, and when it ran."""

    def __init__(self) -> None:
        self.templates = {"welcome-v1": "Welcome, {name}!"}
        self.started: list[float] = []  # monotonic time each run began
        self.ended: list[float] = []  # ... and ended (raised or returned)
        self.sent: list[str] = []
        self.lock = threading.Lock()

    # --8<-- [start:poison]
    def send_welcome(self, job: Job) -> dict[str, Any]:
        template = self.templates.get(job.data["template"])
        if template is None:  # every attempt fails the same way until someone deploys it
            raise LookupError(f"no email template {job.data['template']!r}")
        text = template.format(name=job.data["name"])
        return {"sent_to": job.data["to"], "text": text}

    # --8<-- [end:poison]

    def __call__(self, job: Job) -> dict[str, Any]:
        with self.lock:
            self.started.append(time.monotonic())
        try:
            result = self.send_welcome(job)
            self.sent.append(job.data["to"])
            return result
        finally:
            with self.lock:
                self.ended.append(time.monotonic())


def body(demo: Demo) -> None:
    demo.shortened(f"backoff starts at {BACKOFF['delay']} ms (real jobs: seconds or minutes)")
    conn = create_redis_connection("retries")
    prefix = scratch_prefix()
    queue = Queue("notifications", conn, prefix=prefix)
    mailer = Mailer()
    worker = Worker(queue, mailer, concurrency=1)
    worker.start()
    try:
        _watch(demo, queue, mailer)
    finally:
        worker.close(timeout=5)
        delete_prefix(conn, prefix)
        conn.close()


def _watch(demo: Demo, queue: Queue, mailer: Mailer) -> None:
    demo.step(f"a job with attempts={ATTEMPTS} and backoff {BACKOFF}")
    t0 = time.monotonic()
    # --8<-- [start:add]
    job = queue.add(
        "send-welcome",
        {"to": "ada@example.com", "name": "Ada", "template": "welcome-v2"},
        job_id="welcome-email-ada",
        attempts=ATTEMPTS,
        backoff=BACKOFF,
    )
    # --8<-- [end:add]
    wait_until(lambda: _state(queue, job.id) is JobState.FAILED, timeout=10)
    failed = queue.get_job(job.id)
    assert failed is not None
    runs = len(mailer.started)
    schedule = parse_backoff(BACKOFF)
    assert schedule is not None
    planned = [schedule.delay_for(n) for n in range(1, runs)]
    gaps = [(mailer.started[i + 1] - mailer.ended[i]) * 1000 for i in range(runs - 1)]
    events: list[tuple[float, str, str]] = [(0.0, "queue", f"job {job.id} added")]
    for i in range(runs):
        events.append((mailer.started[i] - t0, "worker", f"attempt {i + 1} starts"))
        wait = f"; backoff {planned[i]} ms" if i < len(planned) else "; no attempts left"
        events.append((mailer.ended[i] - t0, "worker", f"attempt {i + 1} fails{wait}"))
    events.append((mailer.ended[-1] - t0, "queue", f"job failed: {failed.failed_reason}"))
    demo.timeline(events, title="three attempts, measured in this run")
    demo.table(
        "retry",
        "backoff planned",
        "gap measured",
        rows=[[n + 1, f"{planned[n]} ms", f"{gaps[n]:.0f} ms"] for n in range(len(gaps))],
        title="the wait doubles: delay x 2^(retry-1)",
    )

    demo.step("the operator lists the dead letters (launchpad jobs notifications)")
    letters = DeadLetters(queue)
    page = letters.list_jobs("failed")
    demo.table(
        "id",
        "attempts",
        "reason",
        rows=[[j.id, f"{j.attempts_made}/{j.attempts}", j.failed_reason] for j in page.jobs],
        title=f"failed jobs: {page.total}",
    )

    demo.step("deploy the missing template, then retry the job (launchpad jobs ... --retry ID)")
    mailer.templates["welcome-v2"] = "Welcome aboard, {name}!"
    # --8<-- [start:retry]
    first, second = letters.retry([job.id]), letters.retry([job.id])  # two operators at once
    # --8<-- [end:retry]
    now = first[0].state.value if first[0].state else "-"
    demo.result(first[0].done, f"first retry: {first[0].result.value}, job now {now}")
    demo.result(
        not second[0].done, f"second retry: {second[0].result.value} (queued once, not twice)"
    )
    wait_until(lambda: _state(queue, job.id) is JobState.COMPLETED, timeout=10)
    done = queue.get_job(job.id)
    assert done is not None
    demo.result(
        done.state is JobState.COMPLETED,
        f"job {done.state and done.state.value} on run {len(mailer.started)}; "
        f"email sent to {', '.join(mailer.sent)}",
    )
    gaps_ms = [round(g, 1) for g in gaps]
    demo.observe(
        attempts=ATTEMPTS,
        runs_before_dead_letter=runs,
        planned_backoff_ms=planned,
        gaps_ms=gaps_ms,
        failed_state=failed.state and failed.state.value,
        failed_reason=failed.failed_reason,
        attempts_made_when_failed=failed.attempts_made,
        dead_letters=[j.id for j in page.jobs],
        dead_letters_total=page.total,
        retry_results=[first[0].result.value, second[0].result.value],
        state_after_retry=done.state and done.state.value,
        attempts_made_after_retry=done.attempts_made,
        runs_total=len(mailer.started),
        emails_sent=len(mailer.sent),
        counts_after=queue.counts(),
    )
    demo.headline(
        f"{runs} attempts, backoff gaps {' and '.join(f'{g:.0f}' for g in gaps)} ms, "
        "then failed; retried by hand after the fix: completed"
    )
    demo.panel(
        f"The job failed {runs} times, {' then '.join(f'{g:.0f} ms' for g in gaps)} apart, "
        "and then stopped: retrying cannot fix a missing template. It waited in `failed` "
        "with its reason until a person fixed the cause and retried it. A queue that retried "
        "for ever would hide the bug; one that dropped the job would lose the email.",
        title="takeaway",
    )


def _state(queue: Queue, job_id: str) -> JobState | None:
    job = queue.get_job(job_id)
    return job.state if job else None


def main(argv: Sequence[str] | None = None) -> int:
    return run_demo(__doc__, body, argv)


if __name__ == "__main__":
    raise SystemExit(main())
