"""The outbox: Redis is down at sign-up, and the email still arrives, once

Auth writes the new user and a pending welcome email in ONE transaction in its own store,
and does not talk to Redis while the user waits. Its outbox relay moves the email to the
queue when Redis can take it, as job welcome-email-<user id>. The demo cuts auth off from
Redis, signs a user up, watches the relay fail and back off, brings Redis back and counts
the emails. Then it makes the relay send the same row twice more, as after a crash.

Run: ``launchpad lesson 06 outbox``
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from _demo import Demo, run_demo, wait_until
from _redis_switch import RedisSwitch

from launchpad.queue import Queue
from launchpad.services.notification_worker import NOTIFICATION_JOB_OPTIONS
from launchpad.services.system import System

DELIVERY_DELAY = 0.1  # seconds the fake provider takes per email
FAILED_TRIES = 2  # let the relay fail this often before Redis comes back


def body(demo: Demo) -> None:
    demo.shortened(f"the email provider takes {DELIVERY_DELAY:g} s per email (default 0.5 s)")
    name = f"lesson06-{uuid.uuid4().hex[:8]}"
    switch = RedisSwitch("auth")  # auth's way to Redis, which the demo can cut
    auth_queue = Queue(name, switch.connection, default_job_options=NOTIFICATION_JOB_OPTIONS)
    try:
        with (
            demo.collect_logs() as logs,
            System(
                queue_name=name,
                worker=False,  # started once Redis is back: only the relay decides what is queued
                delivery_delay=DELIVERY_DELAY,
                auth_queue=auth_queue,
                cleanup=True,
            ) as system,
        ):
            try:
                _run(demo, system, switch, logs.records)
            finally:
                switch.on()
    finally:
        switch.close()


def _run(demo: Demo, system: System, switch: RedisSwitch, records: list[dict[str, Any]]) -> None:
    relay, store, client = system.outbox_relay, system.auth_store, system.client()
    assert relay is not None
    email = "ada@example.com"
    events: list[tuple[float, str, str]] = []
    started_wall, started = time.time(), time.monotonic()

    def now() -> float:
        return time.monotonic() - started

    demo.step("Redis goes down (for auth); Ada signs up and logs in")
    switch.off()
    events.append((now(), "redis", "down: auth's connection is refused"))
    sign_up_at = now()
    r = client.post(
        "/auth/register", json={"email": email, "password": "correct horse", "name": "Ada"}
    )
    answered = now() - sign_up_at
    user_id = r.json()["userId"]
    events.append((now(), "client", f"201 from /auth/register after {answered * 1000:.0f} ms"))
    login = client.post("/auth/login", json={"email": email, "password": "correct horse"})
    events.append((now(), "client", f"{login.status_code} from /auth/login: Ada can log in"))
    health = system.service_client("auth").get("/health").status_code
    [row] = store.pending()  # the row the relay will send; kept to send it again later
    pending_while_down = store.outbox_counts()
    emails_while_down = len(system.email_provider.sent_to(email))
    demo.result(r.status_code == 201, f"POST /auth/register -> {r.status_code}")
    demo.result(login.status_code == 200, f"POST /auth/login -> {login.status_code}")
    demo.say(
        f"  auth's /health says {health} (Redis is down); auth's outbox: "
        f"[bold]{pending_while_down['pending']} pending[/]; emails sent: {emails_while_down}"
    )

    wait_until(lambda: relay.failed_passes >= FAILED_TRIES, timeout=10.0)
    failures = [rec for rec in records if rec["message"].startswith("the queue is unavailable")]
    waits = [float(rec["retry_in_s"]) for rec in failures]
    for rec, wait in zip(failures, waits, strict=True):
        t = datetime.fromisoformat(rec["ts"]).timestamp() - started_wall
        events.append(
            (t, "auth relay", f"queue unavailable; the row stays; next try in {wait:g} s")
        )

    demo.step("Redis comes back; the relay's next try gets through; the worker starts")
    switch.on()
    back_at = now()
    events.append((back_at, "redis", "up again"))
    wait_until(lambda: store.outbox_counts()["pending"] == 0, timeout=10.0)
    job = system.queue.get_job(row.job_id)
    assert job is not None and job.added_at is not None
    queued_after = job.added_at / 1000 - started_wall - back_at
    events.append(
        (job.added_at / 1000 - started_wall, "auth relay", f"queued {row.job_id[:22]}...")
    )
    system.start_worker()
    system.wait_for_deliveries(1, timeout=10.0)
    delivered = system.email_provider.sent_to(email)
    for d in delivered:
        events.append((d.sent_at - started_wall, "email", f"welcome email delivered to {d.to}"))
    demo.timeline(events, title="one sign-up while Redis is down (times measured in this run)")

    demo.step("the relay sends the same row twice more (as after a crash before 'mark sent')")
    resent = [relay.send(row) for _ in range(2)]
    for again in resent:
        demo.result(again.duplicate, f"add {again.id[:22]}... -> duplicate={again.duplicate}")
    time.sleep(3 * DELIVERY_DELAY)  # room for a second email, were there a second job
    counts = system.queue.counts()
    jobs = sum(counts.values())
    emails = len(system.email_provider.sent_to(email))
    demo.table(
        "what",
        "count",
        rows=[
            ["welcome jobs in the queue (any state)", jobs],
            ["welcome emails Ada received", emails],
            ["outbox rows pending", store.outbox_counts()["pending"]],
        ],
        title="after Redis came back and two re-sends",
    )
    demo.observe(
        register_status=r.status_code,
        register_ms=round(answered * 1000, 1),
        login_status=login.status_code,
        health_while_down=health,
        outbox_while_down=pending_while_down,
        emails_while_down=emails_while_down,
        relay_failures_while_down=len(failures),
        relay_waits_s=waits,
        queued_after_redis_back_s=round(queued_after, 3),
        job_id=row.job_id,
        user_id=user_id,
        outbox_after=store.outbox_counts(),
        resend_duplicates=[again.duplicate for again in resent],
        jobs_for_user=jobs,
        emails_delivered=emails,
    )
    demo.headline(
        f"Redis down at sign-up: 201 in {answered * 1000:.0f} ms, 1 email pending in the outbox; "
        f"queued {queued_after:.2f} s after Redis came back; emails: {emails}, "
        f"after 2 re-sends: {jobs} job"
    )
    demo.panel(
        f"The sign-up never waited for Redis: the user and the email were one transaction in "
        f"auth's own store. The relay kept the email through {len(failures)} failed tries and "
        f"queued it {queued_after:.2f} s after Redis came back. Sending it again could not make "
        f"a second job: the job id is the user's, so Ada got {emails} email.",
        title="takeaway",
    )


def main(argv: Sequence[str] | None = None) -> int:
    return run_demo(__doc__, body, argv)


if __name__ == "__main__":
    raise SystemExit(main())
