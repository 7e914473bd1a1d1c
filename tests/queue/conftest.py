"""Fixtures for the queue: one Redis per backend, including a real 3-node Redis Cluster.

``backend_conn`` runs a test three times: embedded Redis, the real server, and a Redis
Cluster of three ``redis-server`` processes on loopback ports 7100-7199 that this file
starts once per session and stops at the end.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis as redis_lib
from redis.cluster import RedisCluster

from launchpad.queue import Queue, Worker
from launchpad.redis import EMBEDDED_URL, create_redis_connection, reset_embedded

CLUSTER_PORT_RANGE = range(7100, 7198, 3)
REQUIRE = os.environ.get("LAUNCHPAD_REQUIRE_REAL_REDIS") == "1"


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _wait_for(check: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except redis_lib.RedisError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"timed out after {seconds} s waiting for {what}")


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[int]]:
    """Start a 3-master Redis Cluster on loopback; yields its ports; stops it at the end."""
    if shutil.which("redis-server") is None:
        if REQUIRE:
            pytest.fail("redis-server not found, and LAUNCHPAD_REQUIRE_REAL_REDIS=1")
        pytest.skip("redis-server not on PATH: cannot start a local Redis Cluster")
    base = next((p for p in CLUSTER_PORT_RANGE if all(_free(p + i) for i in range(3))), None)
    if base is None:
        pytest.fail("no three free ports in 7100-7199 for the test cluster")
    ports = [base, base + 1, base + 2]
    workdir: Path = tmp_path_factory.mktemp("cluster")
    procs = []
    try:
        for port in ports:
            procs.append(
                subprocess.Popen(
                    [
                        "redis-server",
                        "--port",
                        str(port),
                        "--bind",
                        "127.0.0.1",
                        "--cluster-enabled",
                        "yes",
                        "--cluster-config-file",
                        f"nodes-{port}.conf",
                        "--save",
                        "",
                        "--appendonly",
                        "no",
                        "--dir",
                        str(workdir),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        nodes = [redis_lib.Redis(port=p, socket_timeout=5) for p in ports]
        for node in nodes:
            _wait_for(lambda n=node: bool(n.ping()), 10, "cluster nodes to start")
        per = 16384 // 3
        ranges = [(0, per - 1), (per, 2 * per - 1), (2 * per, 16383)]
        for node, (lo, hi) in zip(nodes, ranges, strict=True):
            node.execute_command("CLUSTER", "ADDSLOTSRANGE", lo, hi)
        for port in ports[1:]:
            nodes[0].execute_command("CLUSTER", "MEET", "127.0.0.1", port)

        def ready() -> bool:
            return all(b"cluster_state:ok" in n.execute_command("CLUSTER", "INFO") for n in nodes)

        _wait_for(ready, 15, "cluster_state:ok")
        for node in nodes:
            node.close()
        yield ports
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture(
    params=[
        "embedded",
        pytest.param("real", marks=pytest.mark.real_redis),
        pytest.param("cluster", marks=pytest.mark.cluster),
    ]
)
def backend_conn(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A connection to each backend in turn (the contract suite runs on all three)."""
    if request.param == "embedded":
        reset_embedded()
        conn: Any = create_redis_connection("queue-test", EMBEDDED_URL)
    elif request.param == "real":
        conn = create_redis_connection("queue-test", request.getfixturevalue("real_redis_url"))
    else:
        ports = request.getfixturevalue("redis_cluster")
        conn = RedisCluster(host="127.0.0.1", port=ports[0], decode_responses=True)
    yield conn
    conn.close()


@pytest.fixture(params=["embedded", pytest.param("real", marks=pytest.mark.real_redis)])
def single_conn(request: pytest.FixtureRequest) -> Iterator[Any]:
    """Embedded and real server only (tests whose point is not the cluster)."""
    if request.param == "embedded":
        reset_embedded()
        conn: Any = create_redis_connection("queue-test", EMBEDDED_URL)
    else:
        conn = create_redis_connection("queue-test", request.getfixturevalue("real_redis_url"))
    yield conn
    conn.close()


@pytest.fixture
def make_queue(unique_name: str) -> Iterator[Callable[..., Queue]]:
    """Queues with a unique name under prefix ``lptest``; obliterated afterwards."""
    made: list[Queue] = []

    def make(conn: Any, **kwargs: Any) -> Queue:
        q = Queue(kwargs.pop("name", unique_name), connection=conn, prefix="lptest", **kwargs)
        made.append(q)
        return q

    yield make
    for q in made:
        with contextlib.suppress(redis_lib.RedisError):
            q.obliterate()


@pytest.fixture
def workers() -> Iterator[Callable[..., Worker]]:
    """Workers started in the background and always stopped after the test."""
    started: list[Worker] = []

    def start(queue: Queue, processor: Any, **kwargs: Any) -> Worker:
        kwargs.setdefault("drain_delay", 200)
        w = Worker(queue, processor, **kwargs)
        w.start()
        started.append(w)
        return w

    yield start
    for w in started:
        if not w.close(timeout=10):
            w.kill()
