"""Eventual consistency: the worker is down, the backlog grows, then drains

With the notification worker stopped, users sign up and log in: auth's data is up to date
at once, while their welcome emails wait as jobs in Redis. The backlog grows with each
sign-up. Then the worker starts again, works the backlog off to zero, and every user ends
up with exactly one email: the system agrees with itself again, eventually.

Run: ``launchpad lesson 06 eventual_consistency``
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence

from _demo import Demo, run_demo, wait_until
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from launchpad.services.system import System

USERS = ["ada", "grace", "alan", "barbara", "edsger"]
DELIVERY_DELAY = 0.15  # seconds per email, one at a time, so the drain is visible


def backlog_table(rows: list[list[str]]) -> Table:
    table = Table(title="worker stopped: users sign up", header_style="bold", title_justify="left")
    for column in ("user", "sign-up", "log-in", "jobs waiting", "emails sent"):
        table.add_column(
            column, justify="right" if column.startswith(("jobs", "emails")) else "left"
        )
    for row in rows:
        table.add_row(*row)
    return table


def body(demo: Demo) -> None:
    demo.shortened(f"1 worker thread, {DELIVERY_DELAY:g} s per email: a visible drain")
    system = System(
        queue_name=f"lesson06-{uuid.uuid4().hex[:8]}",
        worker=False,  # the notification worker is down
        concurrency=1,
        delivery_delay=DELIVERY_DELAY,
        cleanup=True,
    )
    with system:
        client = system.client()
        emails = [f"{name}@example.com" for name in USERS]
        rows: list[list[str]] = []
        waiting_seen: list[int] = []
        logins_ok = 0
        demo.step("the worker is stopped; five users sign up and log in")
        live = Live(backlog_table(rows), console=demo.console, auto_refresh=False)
        if demo.console.is_terminal:  # redrawn in place; elsewhere printed once, complete
            live.start()
        for name, email in zip(USERS, emails, strict=True):
            password = f"{name}-password-123"
            r1 = client.post(
                "/auth/register", json={"email": email, "password": password, "name": name}
            )
            r2 = client.post("/auth/login", json={"email": email, "password": password})
            logins_ok += r2.status_code == 200
            # auth's outbox relay moves the welcome email to the queue, in the background
            wait_until(lambda: system.auth_store.outbox_counts()["pending"] == 0, 5.0)
            waiting = system.queue.counts()["waiting"]
            waiting_seen.append(waiting)
            sent = len(system.email_provider.deliveries)
            rows.append([name, str(r1.status_code), str(r2.status_code), str(waiting), str(sent)])
            live.update(backlog_table(rows), refresh=True)
        if demo.console.is_terminal:
            live.stop()
        else:
            demo.console.print(backlog_table(rows))
        demo.say(
            f"  {logins_ok} of {len(USERS)} users can log in already; "
            f"[bold]{len(system.email_provider.deliveries)}[/] welcome emails sent: "
            "the two views disagree"
        )

        demo.step("the worker comes back and works off the backlog")
        samples: list[tuple[float, int, int, int]] = []  # t, waiting, active, delivered
        started = time.monotonic()
        system.start_worker()
        progress = Progress(
            TextColumn("  draining"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("emails sent · backlog {task.fields[backlog]}"),
            console=demo.console,
        )
        with progress:
            task = progress.add_task("drain", total=len(USERS), backlog=waiting_seen[-1])
            deadline = started + 10.0
            while time.monotonic() < deadline:
                counts = system.queue.counts()
                delivered = len(system.email_provider.deliveries)
                backlog = counts["waiting"] + counts["active"]
                samples.append(
                    (time.monotonic() - started, counts["waiting"], counts["active"], delivered)
                )
                progress.update(task, completed=delivered, backlog=backlog)
                if backlog == 0 and delivered >= len(USERS):
                    break
                time.sleep(0.05)
        drained_in = samples[-1][0]
        per_user = {email: len(system.email_provider.sent_to(email)) for email in emails}
        final = system.queue.counts()
        backlog_after = final["waiting"] + final["active"]
        demo.table(
            "user",
            "welcome emails received",
            rows=[[email, str(n)] for email, n in per_user.items()],
            title=f"drained in {drained_in:.2f} s; backlog now {backlog_after}",
        )
        demo.observe(
            users=len(USERS),
            logins_ok_while_stopped=logins_ok,
            backlog_while_stopped=waiting_seen,
            emails_while_stopped=int(rows[-1][4]),
            backlog_samples=[
                {"t": round(t, 3), "waiting": w, "active": a, "delivered": d}
                for t, w, a, d in samples
            ],
            backlog_after=backlog_after,
            completed_after=final["completed"],
            drained_in_s=round(drained_in, 3),
            emails_per_user=per_user,
        )
    demo.headline(
        f"backlog grew to {max(waiting_seen)} while {logins_ok} users could log in; drained to "
        f"{backlog_after} in {drained_in:.2f} s; emails per user: "
        f"{sorted(set(per_user.values()))}"
    )
    demo.panel(
        f"While the worker was down, the users existed and could log in, and their "
        f"{max(waiting_seen)} emails waited safely in Redis. When it came back, the backlog "
        "drained and each user got one email. Fine for a welcome email; not for 'paid, "
        "therefore may download': that needs a synchronous answer or a saga.",
        title="takeaway",
    )


def main(argv: Sequence[str] | None = None) -> int:
    return run_demo(__doc__, body, argv)


if __name__ == "__main__":
    raise SystemExit(main())
