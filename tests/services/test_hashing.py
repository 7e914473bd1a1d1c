"""The hashing pool: never more than ``workers`` hashes at once, at most ``queue_size``
waiting, a full queue refused at once, and every place given back (also after an error)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from services_helpers import CHEAP, PASSWORD

from launchpad.services.auth import AuthService, create_auth_app
from launchpad.services.hashing import HashingBusy, HashingPool, shared_pool


@contextmanager
def occupied(pool: HashingPool, count: int) -> Iterator[list[threading.Thread]]:
    """``count`` calls stuck in ``pool`` (running or waiting) until the block ends."""
    release = threading.Event()
    started = threading.Semaphore(0)

    def hold() -> None:
        started.release()
        release.wait(30)

    threads = [threading.Thread(target=pool.run, args=(hold,)) for _ in range(count)]
    for thread in threads:
        thread.start()
    for _ in range(min(count, pool.workers)):  # the running ones have begun
        assert started.acquire(timeout=10)
    wait_until(lambda: pool.in_flight == count)  # and the others wait in the queue
    try:
        yield threads
    finally:
        release.set()
        for thread in threads:
            thread.join(timeout=10)


def wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "condition not met within 10 s"
        time.sleep(0.005)


def test_the_default_pool_is_sized_to_the_machine_and_shared() -> None:
    pool = HashingPool()
    assert pool.workers == (os.cpu_count() or 1)
    assert pool.queue_size == 8 * pool.workers
    assert shared_pool() is shared_pool()
    assert AuthService().pool is shared_pool()


def test_a_full_queue_is_refused_at_once_and_frees_up_afterwards() -> None:
    pool = HashingPool(workers=2, queue_size=3, retry_after=2)
    with occupied(pool, 5):
        ran: list[bool] = []
        started = time.monotonic()
        with pytest.raises(HashingBusy) as info:
            pool.run(lambda: ran.append(True))
        assert time.monotonic() - started < 1.0  # refused, not queued
        assert ran == [] and info.value.retry_after == 2
    assert pool.in_flight == 0
    for _ in range(10):  # every place came back
        assert pool.run(lambda: 7) == 7


def test_a_waiting_call_runs_when_a_worker_is_free() -> None:
    pool = HashingPool(workers=1, queue_size=1)
    results: list[int] = []
    with occupied(pool, 1):
        waiter = threading.Thread(target=lambda: results.append(pool.run(lambda: 42)))
        waiter.start()
        wait_until(lambda: pool.in_flight == 2)
        assert results == []  # waits its turn behind the running one
    waiter.join(timeout=10)
    assert results == [42]


def test_an_error_reaches_the_caller_and_frees_its_place() -> None:
    pool = HashingPool(workers=1, queue_size=0)

    def broken() -> None:
        raise ValueError("boom")

    for _ in range(5):
        with pytest.raises(ValueError, match="boom"):
            pool.run(broken)
    assert pool.in_flight == 0
    assert pool.run(lambda: "fine") == "fine"


@settings(max_examples=25, deadline=None)
@given(workers=st.integers(1, 4), queue_size=st.integers(0, 6), callers=st.integers(1, 20))
def test_never_more_than_workers_at_once_and_every_caller_answered(
    workers: int, queue_size: int, callers: int
) -> None:
    pool = HashingPool(workers=workers, queue_size=queue_size)
    lock = threading.Lock()
    running = [0, 0]  # now, most ever
    answers: list[str] = []

    def work() -> str:
        with lock:
            running[0] += 1
            running[1] = max(running[1], running[0])
        time.sleep(0.002)
        with lock:
            running[0] -= 1
        return "done"

    def call() -> None:
        try:
            answers.append(pool.run(work))
        except HashingBusy:
            answers.append("busy")

    threads = [threading.Thread(target=call) for _ in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(answers) == callers and pool.in_flight == 0
    assert running[1] <= workers
    assert answers.count("done") >= min(callers, workers)
    if callers <= workers + queue_size:
        assert "busy" not in answers


def test_login_and_register_answer_503_with_retry_after_when_the_pool_is_full() -> None:
    pool = HashingPool(workers=1, queue_size=0, retry_after=3)
    service = AuthService(cost=CHEAP, pool=pool)
    app = create_auth_app(service)
    service.register("ada@example.com", PASSWORD, "Ada")
    token = service.login("ada@example.com", PASSWORD)
    transport = httpx.WSGITransport(app=app)
    with httpx.Client(transport=transport, base_url="http://auth") as client, occupied(pool, 1):
        login = client.post("/auth/login", json={"email": "ada@example.com", "password": PASSWORD})
        signup = client.post(
            "/auth/register", json={"email": "bob@example.com", "password": PASSWORD, "name": "B"}
        )
        for busy in (login, signup):
            assert busy.status_code == 503, busy.text
            assert busy.headers["retry-after"] == "3"
            assert "too many password checks" in busy.json()["error"]
        # verifying a token never hashes, so it does not wait for the pool
        verified = client.get("/auth/verify", headers={"Authorization": f"Bearer {token}"})
        assert verified.status_code == 200
    assert service.login("bob@example.com", PASSWORD) is None  # the refused sign-up made nothing
    with httpx.Client(transport=transport, base_url="http://auth") as client:
        again = client.post("/auth/login", json={"email": "ada@example.com", "password": PASSWORD})
    assert again.status_code == 200


def test_the_openapi_document_lists_the_503() -> None:
    paths = create_auth_app(AuthService(cost=CHEAP)).openapi()["paths"]
    for path in ("/auth/login", "/auth/register"):
        assert "503" in paths[path]["post"]["responses"]
