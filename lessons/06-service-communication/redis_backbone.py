"""Redis as the backbone: what the queue keeps in Redis, live

Three jobs go through a real queue (one succeeds, one fails, one is delayed) while the demo
reads the queue's keys straight from Redis at three moments: after the adds, while a
worker holds a job, and when the work is done. You see each key's Redis type (list,
sorted set, hash, string) and size change as the jobs move, and that every key of the
queue hashes to the same Redis Cluster slot.

Run: ``launchpad lesson 06 redis_backbone``
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from _demo import Demo, delete_prefix, run_demo, scratch_prefix, wait_until
from redis.crc import key_slot

from launchpad.queue import Job, Queue, Worker
from launchpad.redis import create_redis_connection, describe, ping

HOLDS = {  # what each part of a queue's keys holds (see launchpad/queue/keys.py)
    "wait": "ids waiting for a worker",
    "active": "ids a worker holds",
    "delayed": "ids by due time",
    "completed": "ids by finish time",
    "failed": "ids by finish time",
    "locks": "active id -> lock expiry",
    "tokens": "active id -> lock owner",
    "stalled": "ids seen by a stall check",
    "stalled-check": "stall-check timer (TTL)",
    "id": "next automatic id",
    "jobs": "id -> name, data, options",
    "states": "id -> state",
    "added": "id -> time added",
    "processed": "id -> time started",
    "finished": "id -> time finished",
    "attempts": "id -> attempts made",
    "results": "id -> return value",
    "errors": "id -> failure reason",
    "stacks": "id -> stack trace",
}


def size(conn: Any, key: str, kind: str) -> int:
    """How many items a key holds, whatever its type."""
    length = {
        "list": conn.llen,
        "zset": conn.zcard,
        "hash": conn.hlen,
        "set": conn.scard,
        "string": lambda k: 1,
    }.get(kind)
    return int(length(key)) if length else 0


def snapshot(conn: Any, queue: Queue) -> dict[str, dict[str, Any]]:
    """Every key of the queue that exists now: its part, Redis type and size."""
    base = queue.key_names.base + ":"
    found: dict[str, dict[str, Any]] = {}
    for key in sorted(conn.scan_iter(match=f"{queue.prefix}:*", count=500)):
        kind = conn.type(key)
        found[key.removeprefix(base)] = {"key": key, "type": kind, "size": size(conn, key, kind)}
    return found


def body(demo: Demo) -> None:
    conn = create_redis_connection("backbone")
    queue = Queue("emails", conn, prefix=scratch_prefix())
    holding, release = threading.Event(), threading.Event()

    # --8<-- [start:processor]
    def deliver(job: Job) -> dict[str, Any]:
        if job.id == "welcome-ada":
            holding.set()
            release.wait(5)  # hold the job while the demo looks at Redis
        if job.id == "welcome-bob":
            raise RuntimeError("mailbox full")
        return {"sent": True}

    # --8<-- [end:processor]

    moments: dict[str, dict[str, dict[str, Any]]] = {}
    worker = Worker(queue, deliver, concurrency=1)
    try:
        queue.add("send-notification", {"to": "ada@example.com"}, job_id="welcome-ada")
        queue.add("send-notification", {"to": "bob@example.com"}, job_id="welcome-bob")
        queue.add("send-reminder", {"to": "ada@example.com"}, job_id="reminder-ada", delay=60_000)
        moments["added"] = snapshot(conn, queue)
        worker.start()
        holding.wait(5)
        moments["busy"] = snapshot(conn, queue)
        release.set()
        wait_until(lambda: queue.counts()["completed"] + queue.counts()["failed"] >= 2, 5.0)
        worker.close(timeout=3)
        moments["done"] = snapshot(conn, queue)
        ada = queue.get_job("welcome-ada")
        stored = {
            part: conn.hget(queue.key_names.key(part), "welcome-ada")
            for part in ("states", "attempts", "results")
        }
        counts = queue.counts()
    finally:
        release.set()
        worker.close(timeout=3)
        delete_prefix(conn, queue.prefix)

    parts = sorted({p for snap in moments.values() for p in snap}, key=_order)
    rows = []
    for part in parts:
        kind = next(s[part]["type"] for s in moments.values() if part in s)
        cells = [str(s[part]["size"]) if part in s else "-" for s in moments.values()]
        rows.append([part, kind, *cells, HOLDS.get(part, "")])
    demo.table(
        "key",
        "type",
        *moments,
        "holds",
        rows=rows,
        title=f"keys {queue.key_names.base}:<key> read after the adds, while a worker is "
        "busy, and when done (size; - = no such key)",
    )
    demo.say(f"  the job hash fields of welcome-ada, read with HGET: {stored}")
    all_keys = [s["key"] for snap in moments.values() for s in snap.values()]
    slots = sorted({key_slot(k.encode()) for k in all_keys})
    demo.result(
        len(slots) == 1,
        f"{len(set(all_keys))} keys, all with the hash tag {{{queue.name}}}: "
        f"Redis Cluster slot {slots[0] if slots else '?'} for every one of them",
    )
    healthy = ping(conn)
    demo.result(
        healthy,
        f"PING -> {'PONG' if healthy else 'no answer'} ({describe(conn)}): what GET /health checks",
    )
    demo.observe(
        moments={
            m: {p: {"type": s["type"], "size": s["size"]} for p, s in snap.items()}
            for m, snap in moments.items()
        },
        slots=slots,
        key_count=len(set(all_keys)),
        final_counts=counts,
        ada_state=ada.state.value if ada and ada.state else None,
        ada_stored=stored,
        ping=healthy,
    )
    kinds = sorted({s["type"] for snap in moments.values() for s in snap.values()})
    demo.headline(
        f"{len(set(all_keys))} keys of one queue ({', '.join(kinds)}), all in cluster slot "
        f"{slots[0] if len(slots) == 1 else slots}; PING {'ok' if healthy else 'failed'}"
    )
    demo.panel(
        "A queue is a handful of plain Redis structures: lists for lines of work, sorted sets "
        "for anything ordered by time, hashes for what each job is. Lua scripts move a job "
        "between them in one atomic step, which is why they all share one hash tag.",
        title="takeaway",
    )


def _order(part: str) -> int:
    order = list(HOLDS)
    return order.index(part) if part in order else len(order)


def main(argv: Sequence[str] | None = None) -> int:
    return run_demo(__doc__, body, argv)


if __name__ == "__main__":
    raise SystemExit(main())
