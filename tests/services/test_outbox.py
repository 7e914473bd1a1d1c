"""The transactional outbox: auth's store writes a user and its email together, and the relay
moves the email to the queue once, however often it is sent and however long Redis is down.

Fault tests with killed processes are in ``test_outbox_faults.py``.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from services_helpers import CHEAP, DOWN_REDIS, PASSWORD

from launchpad.correlation import correlation_scope
from launchpad.logging import CollectingHandler
from launchpad.queue import Backoff, Queue, QueueUnavailable
from launchpad.redis import _embedded_server_instance, create_redis_connection
from launchpad.services.auth import AuthService, EmailTaken, User, welcome_email
from launchpad.services.auth_store import AuthStore, NewMessage
from launchpad.services.outbox_relay import OutboxRelay


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


@pytest.fixture
def queue(redis_url: str, unique_name: str) -> Iterator[Queue]:
    q = Queue(unique_name, create_redis_connection("auth", redis_url))
    yield q
    q.obliterate()


def user(email: str = "ada@example.com", user_id: str = "u-1") -> User:
    return User(user_id, email, "Ada", b"salt", b"hash")


# -- the store: both rows or neither -------------------------------------------------------


def test_a_failing_outbox_insert_leaves_no_user() -> None:
    store = AuthStore()
    bad = NewMessage("send-notification", "welcome-email-u-1", {"not json": {1, 2}})
    with pytest.raises(TypeError):
        store.create_user(user(), [bad])  # the user INSERT ran first, then this failed
    assert store.user_by_email("ada@example.com") is None
    assert store.outbox_counts() == {"pending": 0, "sent": 0}
    store.create_user(user(), [welcome_email(user())])  # and the store still works
    assert store.user_by_id("u-1") is not None


def test_a_taken_email_adds_no_outbox_row() -> None:
    store = AuthStore()
    store.create_user(user(), [welcome_email(user())])
    second = user(user_id="u-2")
    with pytest.raises(EmailTaken):
        store.create_user(second, [welcome_email(second)])
    assert store.outbox_counts() == {"pending": 1, "sent": 0}
    assert store.user_by_id("u-2") is None


def test_a_file_store_keeps_users_and_pending_rows_across_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "auth.db"
    first = AuthService(AuthStore(path), cost=CHEAP)
    ada = first.register("ada@example.com", PASSWORD, "Ada")
    first.store.close()
    again = AuthService(AuthStore(path), cost=CHEAP)
    assert again.login("ada@example.com", PASSWORD) is not None
    assert [row.job_id for row in again.store.pending()] == [f"welcome-email-{ada.id}"]


def test_sql_in_an_email_is_data() -> None:
    auth = AuthService(cost=CHEAP)
    sneaky = "x'); DROP TABLE users; --@example.com"
    auth.register(sneaky, PASSWORD, "Bobby")
    assert auth.login(sneaky, PASSWORD) is not None
    assert auth.store.outbox_counts()["pending"] == 1


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.sampled_from(["ada", "Ada", "grace", "GRACE", "alan", "edsger", "barbara"]),
        min_size=1,
        max_size=12,
    )
)
def test_concurrent_sign_ups_give_one_row_per_user_and_none_for_refused_ones(
    names: list[str],
) -> None:
    auth = AuthService(cost=CHEAP)
    outcomes: list[str] = []

    def sign_up(name: str) -> None:
        try:
            auth.register(f"{name}@example.com", PASSWORD, name)
            outcomes.append("ok")
        except EmailTaken:
            outcomes.append("taken")

    threads = [threading.Thread(target=sign_up, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    distinct = {n.lower() for n in names}
    assert outcomes.count("ok") == len(distinct)
    rows = auth.store.pending(1000)
    assert len(rows) == len(distinct)
    for row in rows:
        owner = auth.store.user_by_id(row.data["userId"])
        assert owner is not None and row.job_id == f"welcome-email-{owner.id}"


# -- the relay -----------------------------------------------------------------------------


def test_the_relay_queues_each_row_once_and_a_re_send_is_a_no_op(queue: Queue) -> None:
    auth = AuthService(cost=CHEAP)
    with correlation_scope("sign-up-7"):
        ada = auth.register("ada@example.com", PASSWORD, "Ada")
    auth.register("grace@example.com", PASSWORD, "Grace")
    relay = OutboxRelay(auth.store, queue)
    [first_row, _] = auth.store.pending()
    assert relay.relay_pending() == 2
    assert auth.store.outbox_counts() == {"pending": 0, "sent": 2}
    assert relay.relay_pending() == 0  # nothing pending: nothing sent
    again = relay.send(first_row)  # as after a crash between "queued" and "marked sent"
    assert again.duplicate and again.id == f"welcome-email-{ada.id}"
    assert queue.counts()["waiting"] == 2
    job = queue.get_job(f"welcome-email-{ada.id}")
    assert job is not None and job.correlation_id == "sign-up-7"
    assert job.data["to"] == "ada@example.com"


def test_the_relay_keeps_rows_while_the_queue_is_unavailable(unique_name: str) -> None:
    auth = AuthService(cost=CHEAP)
    auth.register("ada@example.com", PASSWORD, "Ada")
    relay = OutboxRelay(auth.store, Queue(unique_name, create_redis_connection("a", DOWN_REDIS)))
    with pytest.raises(QueueUnavailable):
        relay.relay_pending()
    [row] = auth.store.pending()
    assert row.attempts == 1  # tried once, still pending


def test_the_relay_thread_backs_off_exponentially_while_redis_is_down(
    unique_name: str, logs: CollectingHandler
) -> None:
    auth = AuthService(cost=CHEAP)
    auth.register("ada@example.com", PASSWORD, "Ada")
    queue = Queue(unique_name, create_redis_connection("a", DOWN_REDIS))
    relay = OutboxRelay(auth.store, queue, backoff=Backoff("exponential", 20), max_wait=0.1)
    relay.start()
    try:
        assert wait_for(lambda: relay.failed_passes >= 5)
    finally:
        relay.stop()
    assert not relay.running
    waits = [
        r["retry_in_s"] for r in logs.records if r["message"].startswith("the queue is unavailable")
    ]
    assert waits[:5] == [0.02, 0.04, 0.08, 0.1, 0.1]  # doubling, capped at max_wait
    assert auth.store.outbox_counts() == {"pending": 1, "sent": 0}


def test_stop_interrupts_a_long_backoff(unique_name: str) -> None:
    auth = AuthService(cost=CHEAP)
    auth.register("ada@example.com", PASSWORD, "Ada")
    queue = Queue(unique_name, create_redis_connection("a", DOWN_REDIS))
    relay = OutboxRelay(auth.store, queue, backoff=Backoff("fixed", 60_000), max_wait=60.0)
    relay.start()
    assert wait_for(lambda: relay.failed_passes >= 1)
    relay.stop(timeout=5.0)  # the relay sleeps 60 s; stop must not wait for that
    assert not relay.running


def test_embedded_redis_down_then_back_delivers_the_job_once(unique_name: str) -> None:
    server = _embedded_server_instance()
    queue = Queue(unique_name, create_redis_connection("auth", "embedded://"))
    auth = AuthService(cost=CHEAP)
    relay = OutboxRelay(auth.store, queue, backoff=Backoff("exponential", 10), max_wait=0.05)
    relay.start()
    try:
        server.connected = False
        ada = auth.register("ada@example.com", PASSWORD, "Ada")
        assert wait_for(lambda: relay.failed_passes >= 3)
        assert auth.store.outbox_counts()["pending"] == 1
        server.connected = True
        assert wait_for(lambda: auth.store.outbox_counts()["pending"] == 0)
    finally:
        server.connected = True
        relay.stop()
    assert queue.counts()["waiting"] == 1
    assert queue.get_job(f"welcome-email-{ada.id}") is not None
    queue.obliterate()


def test_a_new_row_wakes_an_idle_relay(queue: Queue) -> None:
    auth = AuthService(cost=CHEAP)
    relay = OutboxRelay(auth.store, queue, idle_wait=60.0)  # would sleep a minute unwoken
    relay.start()
    try:
        ada = auth.register("ada@example.com", PASSWORD, "Ada")
        assert wait_for(lambda: queue.get_job(f"welcome-email-{ada.id}") is not None, 5.0)
    finally:
        relay.stop()


def test_an_unexpected_error_is_logged_and_the_relay_lives_on(
    queue: Queue, logs: CollectingHandler
) -> None:
    store = AuthStore()
    bad = NewMessage("send-notification", "12345", {"to": "x"})  # a plain-number id: refused
    store.create_user(user(), [bad])
    relay = OutboxRelay(store, queue, backoff=Backoff("fixed", 10), max_wait=0.05)
    relay.start()
    try:
        assert wait_for(lambda: relay.failed_passes >= 2)
        assert relay.running
    finally:
        relay.stop()
    failures = [r for r in logs.records if r["message"].startswith("the outbox relay failed")]
    assert failures and "InvalidJobId" in failures[0]["error"]


def test_a_closed_store_is_an_error_not_a_hang() -> None:
    store = AuthStore()
    store.close()
    with pytest.raises(sqlite3.ProgrammingError):
        store.pending()
