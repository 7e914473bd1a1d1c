"""Lean: a waiting job costs Redis no more than in BullMQ's Python port (~246 bytes for the
bench's payload, issue 14), and its stored JSON holds nothing a reader could not infer."""

from __future__ import annotations

import json
from typing import Any

import pytest

from launchpad.correlation import correlation_scope
from launchpad.queue import Queue
from launchpad.redis import create_redis_connection

BULLMQ_PYTHON_PORT_BYTES_PER_JOB = 246


def _bytes(conn: Any, keys: list[str]) -> int:
    return sum(int(conn.memory_usage(key, samples=0) or 0) for key in keys)


@pytest.mark.real_redis
def test_a_waiting_job_takes_no_more_redis_memory_than_in_bullmqs_port(
    real_redis_url: str, unique_name: str
) -> None:
    conn = create_redis_connection("memory-test", real_redis_url)
    q = Queue(unique_name, connection=conn, prefix="lptest")
    n = 5000  # enough for Redis to store the per-attribute hashes as hash tables
    try:
        before = _bytes(conn, q.keys())
        q.add_bulk([{"name": "noop", "data": {"i": i}} for i in range(n)])
        per_job = (_bytes(conn, q.keys()) - before) / n
        assert per_job <= BULLMQ_PYTHON_PORT_BYTES_PER_JOB, per_job
    finally:
        q.obliterate()


def test_the_stored_record_leaves_out_defaults(embedded_redis: Any, unique_name: str) -> None:
    q = Queue(unique_name, connection=embedded_redis)
    plain = q.add("noop", {"i": 1})
    jobs_key = q.key_names.key("jobs")
    assert json.loads(embedded_redis.hget(jobs_key, plain.id)) == {"name": "noop", "data": {"i": 1}}
    with correlation_scope("req-1"):
        tuned = q.add("noop", {}, attempts=3, backoff={"type": "fixed", "delay": 5})
    stored = json.loads(embedded_redis.hget(jobs_key, tuned.id))
    assert stored == {
        "name": "noop",
        "data": {},
        "opts": {"attempts": 3, "backoff": {"type": "fixed", "delay": 5}},
        "cid": "req-1",
    }
    for job in (plain, tuned):  # what a reader sees is the whole picture, defaults included
        found = q.get_job(job.id)
        assert found is not None
        assert found.opts == job.opts and found.correlation_id == job.correlation_id
    assert q.get_job(plain.id).opts == {"attempts": 1, "backoff": None, "delay": 0}  # type: ignore[union-attr]
