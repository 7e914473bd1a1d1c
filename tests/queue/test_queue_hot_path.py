"""The worker's hot path: a C reply parser, and a lane (one pipelined connection for all the
slots) that gives each caller its own reply and keeps working when its connection is
killed, the server freezes or the server forgets the scripts."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

import hiredis
import pytest
import redis
import redis.utils
from hypothesis import given
from hypothesis import strategies as st

from launchpad.queue import Queue
from launchpad.queue.lane import Lane, _pack, _packed_head
from launchpad.redis import create_redis_connection


def test_redis_replies_are_parsed_by_hiredis() -> None:
    """Reply parsing in pure Python was a third of a worker's CPU at concurrency 5 (issue 14):
    hiredis is a dependency of the kit, so `pip install` gives every worker the C parser."""
    assert redis.utils.HIREDIS_AVAILABLE
    conn = create_redis_connection("hot-path-test", "redis://127.0.0.1:1/0")  # never connects
    connection = conn.connection_pool.make_connection()
    assert "Hiredis" in type(connection._parser).__name__


def _lane_client_id(lane: Lane) -> int:
    return int(lane._call("CLIENT", "ID"))  # on the lane's own connection


@pytest.mark.real_redis
def test_a_lane_whose_connection_was_killed_reconnects(
    real_redis_url: str, unique_name: str
) -> None:
    conn = create_redis_connection("hot-path-test", real_redis_url)
    q = Queue(unique_name, connection=conn, prefix="lptest")
    q.add("x", {})
    lane = q.scripts.lane()
    try:
        victim = _lane_client_id(lane)
        assert conn.client_kill_filter(_id=victim) == 1
        # The reader sees the close and drops the connection, so this call opens a new one,
        # unless it was sent before the reader saw the close: then it fails.
        with contextlib.suppress(redis.ConnectionError):
            lane.run("counts")
        assert int(lane.run("counts")[0]) == 1  # a new connection, same answer
        assert _lane_client_id(lane) != victim
    finally:
        lane.close()
        q.obliterate()


@pytest.mark.real_redis
def test_many_threads_on_one_lane_each_get_their_own_reply(
    real_redis_url: str, unique_name: str
) -> None:
    """Twenty threads, pipelined on one connection: each reads back its own job, every time,
    and a call that Redis refuses fails for its caller only."""
    q = Queue(unique_name, connection=create_redis_connection("hot-path-test", real_redis_url),
              prefix="lptest")  # fmt: skip
    ids = [q.add("x", {"i": i}).id for i in range(20)]
    lane = q.scripts.lane()
    wrong: list[str] = []

    def reads(i: int) -> None:
        for n in range(50):
            if n % 10 == 0:
                with pytest.raises(redis.ResponseError):
                    lane._call("INCR", q.key_names.key("jobs"))  # a hash: WRONGTYPE
            record = lane.run("get_job", ids[i])[0]
            if f'"i":{i}' not in record.replace(" ", ""):
                wrong.append(record)

    threads = [threading.Thread(target=reads, args=(i,)) for i in range(20)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert not wrong
        assert not any(thread.is_alive() for thread in threads)
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


@pytest.fixture
def frozen_later(private_redis: str) -> Iterator[tuple[str, int]]:
    """The private server's URL with a 0.5 s socket timeout, and its pid (to SIGSTOP)."""
    pid = int(redis.Redis.from_url(private_redis).info("server")["process_id"])
    yield f"{private_redis}?socket_timeout=0.5", pid
    os.kill(pid, signal.SIGCONT)  # never leave it frozen


def test_a_call_to_a_frozen_server_times_out_and_the_lane_recovers(
    frozen_later: tuple[str, int],
) -> None:
    url, pid = frozen_later
    q = Queue("frozen", connection=create_redis_connection("hot-path-test", url), prefix="lptest")
    q.add("x", {})
    lane = q.scripts.lane()
    try:
        assert int(lane.run("counts")[0]) == 1
        os.kill(pid, signal.SIGSTOP)
        started = time.monotonic()
        waiting, others = start_calls(lane, 4)
        with pytest.raises(redis.TimeoutError):
            lane.run("counts")
        join_all(waiting)
        waited = time.monotonic() - started
        assert 0.45 <= waited < 3.0, waited  # the socket timeout, not for ever
        assert len(others) == 4  # the calls behind it fail too, none hangs
        assert all(isinstance(exc, redis.TimeoutError) for exc in others), others
        os.kill(pid, signal.SIGCONT)
        assert int(lane.run("counts")[0]) == 1  # a new connection: no stale reply read
    finally:
        os.kill(pid, signal.SIGCONT)
        lane.close()


@pytest.fixture
def patient_lane(frozen_later: tuple[str, int]) -> Iterator[tuple[Lane, int]]:
    """A lane on the private server with a 30 s socket timeout, and the server's pid."""
    url, pid = frozen_later
    url = url.replace("socket_timeout=0.5", "socket_timeout=30")
    lane = Queue("patient", connection=create_redis_connection("hot-path-test", url),
                 prefix="lptest").scripts.lane()  # fmt: skip
    lane.run("counts")  # connected
    yield lane, pid
    lane.close()


def start_calls(lane: Lane, n: int) -> tuple[list[threading.Thread], list[BaseException]]:
    """``n`` threads making one call each on ``lane``; what they raise goes in the list."""
    errors: list[BaseException] = []

    def call() -> None:
        try:
            lane.run("counts")
        except redis.RedisError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(n)]
    for thread in threads:
        thread.start()
    return threads, errors


def join_all(threads: list[threading.Thread]) -> None:
    for thread in threads:
        thread.join(10)
    assert not any(thread.is_alive() for thread in threads), "a call never returned"


@pytest.mark.parametrize("ending", ["the lane is closed", "the server is killed"])
def test_calls_waiting_on_a_lane_fail_at_once_when(
    ending: str, patient_lane: tuple[Lane, int]
) -> None:
    lane, pid = patient_lane
    os.kill(pid, signal.SIGSTOP)
    waiting, errors = start_calls(lane, 3)
    time.sleep(0.2)
    started = time.monotonic()
    if ending == "the lane is closed":
        lane.close()
    else:
        os.kill(pid, signal.SIGKILL)  # the kernel resets the connection
    join_all(waiting)
    assert time.monotonic() - started < 5  # not the 30 s timeout
    assert len(errors) == 3 and all(isinstance(e, redis.ConnectionError) for e in errors)
    if ending == "the lane is closed":
        with pytest.raises(redis.ConnectionError, match="closed"):
            lane.run("counts")


_ARG = st.one_of(st.text(max_size=20), st.binary(max_size=20), st.integers(-(2**62), 2**62))


@given(head=st.lists(_ARG, min_size=1, max_size=6), args=st.lists(_ARG, max_size=6))
def test_a_command_packed_from_a_packed_head_is_the_command_packed_whole(
    head: list[Any], args: list[Any]
) -> None:
    """The lane packs a script's name and keys once; the bytes on the wire must not change."""
    whole = hiredis.pack_command((*head, *args))
    assert _pack(_packed_head(*head), tuple(args)) == whole
