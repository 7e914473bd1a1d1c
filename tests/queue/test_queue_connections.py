"""Connections: a blocking wait never trips the client's socket timeout, and a lock warning
means a lost lock.

Before these were fixed, redis-py 8's 5 s default socket timeout cut every blocking wait of
``drain_delay`` >= 5000 ms ("could not fetch a job: Timeout reading from socket" every ~5 s,
then a reconnect), and "lock lost" was logged for jobs that had simply finished between the
renewal's snapshot of the jobs in hand and the renewal (168 in 3,000 jobs with no stall).
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import redis as redis_lib
from queue_helpers import take, wait_until
from redis.cluster import RedisCluster

from launchpad.logging import CollectingHandler
from launchpad.queue import housekeeping
from launchpad.redis import create_redis_connection

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(params=[pytest.param("real", marks=pytest.mark.real_redis), "cluster"])
def short_timeout_conn(request: pytest.FixtureRequest) -> Any:
    """A client whose socket timeout (1 s) is shorter than the worker's drain_delay."""
    if request.param == "real":
        url = request.getfixturevalue("real_redis_url")
        conn: Any = redis_lib.Redis.from_url(url, decode_responses=True, socket_timeout=1)
    else:
        request.applymarker(pytest.mark.cluster)
        ports = request.getfixturevalue("redis_cluster")
        conn = RedisCluster(
            host="127.0.0.1", port=ports[0], decode_responses=True, socket_timeout=1
        )
    yield conn
    conn.close()


def test_a_blocking_wait_longer_than_the_socket_timeout_is_not_an_error(
    short_timeout_conn: Any, make_queue: Any, workers: Any, logs: CollectingHandler
) -> None:
    q = make_queue(short_timeout_conn)
    w = workers(q, lambda job: "done", concurrency=2, drain_delay=2500)
    time.sleep(3.2)  # one whole block of 2.5 s, on a client that gives up after 1 s
    errors = [r for r in logs.records if r["message"] == "could not fetch a job"]
    assert errors == [], errors[:2]
    q.add("n", {})
    wait_until(lambda: w.processed == 1, seconds=5, what="the job after a long idle wait")


def test_no_lock_warning_for_jobs_that_finish_during_a_renewal(
    single_conn: Any, make_queue: Any, workers: Any, logs: CollectingHandler
) -> None:
    q = make_queue(single_conn)
    q.add_bulk([{"name": "n", "data": i} for i in range(1500)])
    # a renewal every 5 ms while four slots finish jobs: many land between snapshot and renewal
    w = workers(q, lambda job: None, concurrency=4, lock_duration=10, remove_on_complete=True)
    wait_until(lambda: w.processed == 1500, seconds=40, what="1,500 jobs")
    false = [r for r in logs.records if r["message"].startswith("lock lost")]
    assert false == [], f"{len(false)} lock warnings without a lost lock"


def test_a_really_lost_lock_is_still_reported(
    single_conn: Any, make_queue: Any, logs: CollectingHandler
) -> None:
    q = make_queue(single_conn)
    q.add("n", {}, job_id="held")
    job = take(q, "worker-a:1")
    assert job is not None
    single_conn.hset(q.key_names.key("tokens"), "held", "worker-b:1")  # someone else has it
    lost = housekeeping.renew_locks(q.scripts, q.name, [job], 1000, still_held=lambda j: True)
    assert lost == ["held"]
    assert [r["job_id"] for r in logs.records if r["message"].startswith("lock lost")] == ["held"]
    # the same reply for a run that left the worker's hand (it finished): no warning
    logs.clear()
    gone = housekeeping.renew_locks(q.scripts, q.name, [job], 1000, still_held=lambda j: False)
    assert gone == [] and not [r for r in logs.records if r["message"].startswith("lock lost")]


@pytest.mark.cluster
def test_a_cluster_url_reaches_a_redis_cluster(
    redis_cluster: list[int], make_queue: Any, workers: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDIS_URL", f"redis+cluster://127.0.0.1:{redis_cluster[1]}")
    conn = create_redis_connection("queue-test")  # from REDIS_URL, as the CLI and services do
    assert isinstance(conn, RedisCluster)
    # queues whose slots live on different nodes all work through the one client
    queues = [make_queue(conn, name=f"cluster-url-{i}") for i in range(6)]
    nodes = {conn.get_node_from_key(q.key_names.key("wait")).port for q in queues}
    assert len(nodes) > 1
    for q in queues:
        w = workers(q, lambda job: "done")
        q.add("n", {})
        wait_until(lambda w=w: w.processed == 1, seconds=10, what="a job through the cluster URL")
    conn.close()
