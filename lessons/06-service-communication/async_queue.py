"""Async via the queue: sign-up returns at once, the welcome email comes later

A user registers through the gateway. Auth saves the user with its welcome email in its
outbox and answers right away; its outbox relay adds a send-notification job to the queue
in Redis, and the notification worker picks the job up and sends the email through the
(fake) email provider afterwards. The timeline shows when each
thing happened, measured in this run.

Run: ``launchpad lesson 06 async_queue``
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence

from _demo import Demo, run_demo, wait_until

from launchpad.services.system import System

DELIVERY_DELAY = 0.4  # seconds the fake provider takes per email (the kit's default: 0.5)


def body(demo: Demo) -> None:
    demo.shortened(f"the email provider takes {DELIVERY_DELAY:g} s per email (default 0.5 s)")
    # --8<-- [start:system]
    system = System(
        queue_name=f"lesson06-{uuid.uuid4().hex[:8]}",  # our own queue on a shared Redis
        delivery_delay=DELIVERY_DELAY,
        cleanup=True,  # delete the queue's keys at the end
    )
    # --8<-- [end:system]
    with system, demo.collect_logs() as logs:
        client = system.client()
        email = "ada@example.com"
        started_wall, started = time.time(), time.monotonic()
        r = client.post(
            "/auth/register",
            json={"email": email, "password": "correct horse battery", "name": "Ada"},
        )
        answered = time.monotonic() - started
        user_id = r.json()["userId"]
        cid = r.headers["x-correlation-id"]
        demo.result(r.status_code == 201, f"POST /auth/register -> 201 in {answered * 1000:.0f} ms")
        sent_yet = len(system.email_provider.sent_to(email))
        demo.say(f"  emails sent to {email} when the answer arrived: [bold]{sent_yet}[/]")

        job_id = f"welcome-email-{user_id}"
        wait_until(lambda: _finished(system, job_id), timeout=10.0)
        job = system.queue.get_job(job_id)
        deliveries = system.email_provider.sent_to(email)
        assert job is not None and job.added_at and job.processed_at and job.finished_at

        def since(epoch_s: float) -> float:
            return epoch_s - started_wall

        events = [
            (0.0, "client", "POST /auth/register sent through the gateway"),
            (since(job.added_at / 1000), "auth", "outbox relay queued the welcome-email job"),
            (answered, "client", "201 Created received: sign-up is done"),
            (since(job.processed_at / 1000), "worker", "took the job from the queue"),
            *[(since(d.sent_at), "email", f"email delivered to {d.to}") for d in deliveries],
            (since(job.finished_at / 1000), "queue", f"job {job.state and job.state.value}"),
        ]
        demo.timeline(events, title="one sign-up, two speeds (times measured in this run)")

        wait_until(lambda: any(r.get("service") == "worker" for r in logs.records), 1.0)
        traced = [rec for rec in logs.records if rec.get("correlation_id") == cid]
        demo.log_lines(
            [r for r in traced if r["service"] in ("gateway", "auth", "queue", "worker")],
            title="the correlation id travels with the job, into the worker",
        )
        email_after = since(deliveries[0].sent_at) if deliveries else None
        demo.observe(
            register_status=r.status_code,
            register_s=round(answered, 3),
            emails_when_register_answered=sent_yet,
            email_after_s=round(email_after, 3) if email_after is not None else None,
            emails_delivered=len(deliveries),
            job_state=job.state.value if job.state else None,
            job_correlation_id=job.correlation_id,
            register_correlation_id=cid,
            worker_logged_id=any(rec["service"] == "worker" for rec in traced),
        )
        if email_after is not None:
            demo.headline(
                f"sign-up answered in {answered * 1000:.0f} ms; the email went out "
                f"{email_after:.2f} s after the request, from the worker"
            )
            demo.panel(
                f"Sign-up answered after {answered * 1000:.0f} ms; the email went out "
                f"{email_after:.2f} s after the request, by another part of the system. Auth "
                "only knew the job was safely stored in Redis.",
                title="takeaway",
            )


def _finished(system: System, job_id: str) -> bool:
    job = system.queue.get_job(job_id)
    return job is not None and job.state is not None and job.state.finished


def main(argv: Sequence[str] | None = None) -> int:
    return run_demo(__doc__, body, argv)


if __name__ == "__main__":
    raise SystemExit(main())
