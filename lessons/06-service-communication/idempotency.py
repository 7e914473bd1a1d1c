"""Idempotency: a worker dies mid-job, the job runs again, how many emails?

A worker is killed at a chosen moment while it sends a welcome email; its lock runs out,
the queue puts the stalled job back, and a second worker runs it again. Without a delivery
log the user gets two emails; with one, one. A crash between "send" and "record" still
sends two, and an idempotency key on the send closes that window. Then: a duplicate job id
is a no-op, and logging out twice is harmless.

Run: ``launchpad lesson 06 idempotency``
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import _demo  # noqa: F401  first: it explains a missing package before httpx is imported
import httpx
from _demo import Demo, delete_prefix, run_demo, scratch_prefix, wait_until

from launchpad.queue import Job, Queue, Worker
from launchpad.redis import create_redis_connection
from launchpad.services.auth import AuthService, create_auth_app
from launchpad.services.email_provider import EmailProvider

# The kit's defaults are 30 s each. The dying worker's lock is short so that the demo is
# quick; the second worker's is longer so that a busy machine cannot make it stall too.
LOCK_MS, SECOND_LOCK_MS, STALL_MS = 500, 5000, 200

WELCOME = {"to": "ada@example.com", "subject": "Welcome to LaunchPad", "body": "Hi Ada"}


class Died(Exception):
    """Raised in the 'dead' worker's thread so that nothing after the crash point runs.

    The worker was killed first, so it never reports this (or anything) to the queue.
    """


class Crash:
    """Kills the first run of a job at one point of the processor: ``crash("point")``."""

    def __init__(self, at: str) -> None:
        self.at = at
        self.reached = threading.Event()
        self.buried = threading.Event()  # set at the end: the dead thread may go away

    def __call__(self, point: str) -> None:
        if point == self.at and not self.reached.is_set():
            self.reached.set()
            self.buried.wait(10)
            raise Died(point)


def make_processor(
    email_provider: EmailProvider,
    redis: Any,
    log_prefix: str,
    *,
    delivery_log: bool,
    idempotency_key: bool,
    crash: Callable[[str], None],
    events: list[tuple[float, str, str]],
    clock: Callable[[], float],
) -> Callable[[Job], dict[str, Any]]:
    """The welcome-email processor, with or without each defence."""
    runs = {"n": 0}

    def note(what: str) -> None:
        events.append((clock(), f"run {runs['n']}", what))

    # --8<-- [start:check_send_record]
    def process(job: Job) -> dict[str, Any]:
        log_key = f"{log_prefix}:delivery-log:{job.id}"
        if delivery_log and redis.get(log_key):  # 1. check
            note("delivery log says: already sent -> skip")
            return {"skipped": True}
        to, subject, text = job.data["to"], job.data["subject"], job.data["body"]
        key = job.id if idempotency_key else None  # the same on every attempt
        receipt = email_provider.send(to, subject, text, idempotency_key=key)  # 2. send
        note("provider: key seen, NOT sent again" if receipt.duplicate else "email sent")
        crash("between send and record")
        if delivery_log:
            redis.set(log_key, receipt.message_id)  # 3. record
            note("delivery recorded")
        crash("before the queue heard back")
        return {"message_id": receipt.message_id}

    # --8<-- [end:check_send_record]

    def counted(job: Job) -> dict[str, Any]:
        runs["n"] += 1
        return process(job)

    return counted


def crash_and_retry(
    demo: Demo, *, delivery_log: bool, idempotency_key: bool, crash_at: str
) -> dict[str, Any]:
    """One welcome job; the first worker dies at ``crash_at``; a second one finishes it."""
    conn = create_redis_connection("idempotency")
    prefix = scratch_prefix()
    queue = Queue("welcome", conn, prefix=prefix)
    email_provider = EmailProvider()
    crash = Crash(crash_at)
    started = time.monotonic()
    events: list[tuple[float, str, str]] = []

    def clock() -> float:
        return time.monotonic() - started

    process = make_processor(
        email_provider,
        conn,
        prefix,
        delivery_log=delivery_log,
        idempotency_key=idempotency_key,
        crash=crash,
        events=events,
        clock=clock,
    )
    options: dict[str, Any] = {"concurrency": 1, "stalled_interval": STALL_MS}
    job = queue.add("send-notification", WELCOME, job_id="welcome-email-ada", attempts=3)
    first = Worker(queue, process, lock_duration=LOCK_MS, **options)
    first.start()
    second: Worker | None = None
    try:
        crash.reached.wait(5)
        first.kill()
        events.append((clock(), "worker 1", f"killed {crash_at}"))
        second = Worker(queue, process, lock_duration=SECOND_LOCK_MS, **options)
        second.start()
        wait_until(lambda: _state(queue, job.id) in ("completed", "failed"), timeout=8.0)
    finally:
        if second is not None:
            second.close(timeout=3)
        crash.buried.set()
    final = queue.get_job(job.id)
    assert final is not None
    if final.finished_at and final.added_at:
        events.append((clock(), "queue", f"job {final.state and final.state.value}"))
    delete_prefix(conn, prefix)
    return {
        "deliveries": len(email_provider.deliveries),
        "provider_calls": email_provider.calls,
        "runs": len({who for _, who, _ in events if who.startswith("run")}),
        "stalled_count": final.stalled_count,
        "job_state": final.state.value if final.state else None,
        "events": events,
    }


def _state(queue: Queue, job_id: str) -> str | None:
    job = queue.get_job(job_id)
    return job.state.value if job and job.state else None


def body(demo: Demo) -> None:
    demo.shortened(
        f"the dying worker's lock lasts {LOCK_MS} ms, stall checks run every {STALL_MS} ms "
        "(30 s each by default)"
    )
    cases = [
        ("A", "no delivery log", False, False, "before the queue heard back"),
        ("B", "delivery log", True, False, "before the queue heard back"),
        ("C", "delivery log", True, False, "between send and record"),
        ("D", "delivery log + idempotency key", True, True, "between send and record"),
    ]
    rows = []
    observed: dict[str, Any] = {}
    for label, defence, use_log, use_key, crash_at in cases:
        demo.step(f"{label}. {defence}; the worker dies {crash_at}")
        result = crash_and_retry(
            demo, delivery_log=use_log, idempotency_key=use_key, crash_at=crash_at
        )
        demo.timeline(result.pop("events"), title="")
        demo.say(
            f"  [dim]worker 1's lock ran out; the queue found the job stalled "
            f"({result['stalled_count']}x) and put it back; worker 2 ran it again[/]"
        )
        n = result["deliveries"]
        demo.result(n == 1, f"Ada received [bold]{n}[/] welcome email{'s' if n != 1 else ''}")
        rows.append([label, defence, crash_at, str(n)])
        observed[label] = result | {"defence": defence, "crash": crash_at}
    demo.table(
        "", "defence", "worker died", "emails", rows=rows, title="one job, one crash, four ways"
    )
    demo.observe(crash_cases=observed)

    demo.step("job-id dedup: the same job id added twice")
    conn = create_redis_connection("idempotency")
    prefix = scratch_prefix()
    queue = Queue("welcome", conn, prefix=prefix)
    first = queue.add("send-notification", WELCOME, job_id="welcome-email-ada")
    again = queue.add("send-notification", WELCOME, job_id="welcome-email-ada")
    waiting = queue.counts()["waiting"]
    delete_prefix(conn, prefix)
    demo.result(
        again.duplicate and waiting == 1,
        f"first add: duplicate={first.duplicate}; second add: duplicate={again.duplicate}, "
        f"same job {again.id!r}; jobs waiting: {waiting}",
    )
    demo.observe(
        job_id_dedup={
            "first_duplicate": first.duplicate,
            "second_duplicate": again.duplicate,
            "same_id": first.id == again.id,
            "waiting": waiting,
        }
    )

    demo.step("logout is idempotent by nature: call it twice")
    auth = AuthService()
    auth.register("ada@example.com", "correct horse battery", "Ada")
    token = auth.login("ada@example.com", "correct horse battery")
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(
        transport=httpx.WSGITransport(app=create_auth_app(auth)), base_url="http://auth"
    ) as client:
        answers = [client.post("/auth/logout", headers=headers) for _ in range(2)]
        verify = client.get("/auth/verify", headers=headers)
    for i, r in enumerate(answers, start=1):
        demo.result(r.status_code == 200, f"logout #{i} -> {r.status_code} {r.json()}")
    demo.result(
        verify.status_code == 401, f"the token afterwards: GET /auth/verify -> {verify.status_code}"
    )
    demo.observe(
        logout_twice={
            "statuses": [r.status_code for r in answers],
            "same_body": answers[0].json() == answers[1].json(),
            "verify_after": verify.status_code,
        }
    )
    n = {label: case["deliveries"] for label, case in observed.items()}
    demo.headline(
        f"emails after a crash: {n['A']} without a log, {n['B']} with one; crash in the window: "
        f"{n['C']}, with an idempotency key: {n['D']}; same job id twice -> 1 job; "
        f"logout twice -> {answers[0].status_code}, {answers[1].status_code}"
    )
    demo.panel(
        "A queue delivers at least once, so a job can run twice. A delivery log stops the "
        "repeat when the crash comes after 'record'; only an idempotency key on the side "
        "effect itself stops it when the crash comes between 'send' and 'record'.",
        title="takeaway",
    )


def main(argv: Sequence[str] | None = None) -> int:
    return run_demo(__doc__, body, argv)


if __name__ == "__main__":
    raise SystemExit(main())
