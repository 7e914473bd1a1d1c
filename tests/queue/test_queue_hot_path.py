"""The worker's hot path: a C reply parser, and a lane (a slot's own connection) that keeps
working when its connection is killed or the server forgets the scripts."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import redis.utils

from launchpad.queue import Queue
from launchpad.queue.scripts import Lane
from launchpad.redis import create_redis_connection


def test_redis_replies_are_parsed_by_hiredis() -> None:
    """Reply parsing in pure Python was a third of a worker's CPU at concurrency 5 (issue 14):
    hiredis is a dependency of the kit, so `pip install` gives every worker the C parser."""
    assert redis.utils.HIREDIS_AVAILABLE
    conn = create_redis_connection("hot-path-test", "redis://127.0.0.1:1/0")  # never connects
    connection = conn.connection_pool.make_connection()
    assert "Hiredis" in type(connection._parser).__name__


def _lane_client_id(lane: Lane) -> int:
    lane.run("counts")  # opens its connection
    connection: Any = lane._connection
    connection.send_command("CLIENT", "ID")
    return int(connection.read_response())


@pytest.mark.real_redis
def test_a_killed_lane_connection_fails_one_call_then_reconnects(
    real_redis_url: str, unique_name: str
) -> None:
    conn = create_redis_connection("hot-path-test", real_redis_url)
    q = Queue(unique_name, connection=conn, prefix="lptest")
    q.add("x", {})
    lane = q.scripts.lane()
    try:
        victim = _lane_client_id(lane)
        assert conn.client_kill_filter(_id=victim) == 1
        with pytest.raises(redis.ConnectionError):
            lane.run("counts")
        assert int(lane.run("counts")[0]) == 1  # a new connection, same answer
        assert _lane_client_id(lane) != victim
    finally:
        lane.close()
        q.obliterate()


@pytest.fixture
def private_redis() -> Iterator[str]:
    """A redis-server of this test's own (it flushes the script cache: not on a shared one)."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server not on PATH")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"redis://127.0.0.1:{port}/0"
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis.from_url(url).ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def test_a_lane_loads_its_script_again_after_script_flush(private_redis: str) -> None:
    conn = create_redis_connection("hot-path-test", private_redis)
    q = Queue("flush", connection=conn, prefix="lptest")
    q.add("x", {})
    lane = q.scripts.lane()
    try:
        assert int(lane.run("counts")[0]) == 1
        conn.script_flush()
        assert int(lane.run("counts")[0]) == 1
        assert conn.script_exists(q.scripts._scripts["counts"].sha) == [True]
    finally:
        lane.close()
