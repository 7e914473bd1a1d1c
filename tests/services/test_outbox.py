"""The fake email provider: counts deliveries, honours idempotency keys, fails and hangs
on demand, and stays correct under many threads."""

from __future__ import annotations

import threading
import time

import pytest

from launchpad.services.outbox import Outbox, OutboxError


def test_every_send_is_recorded() -> None:
    outbox = Outbox()
    first = outbox.send("ada@example.com", "Hi", "one")
    second = outbox.send("ADA@example.com", "Hi", "two", type="sms")
    assert first.message_id != second.message_id
    assert [d.body for d in outbox.sent_to("ada@example.com")] == ["one", "two"]
    assert outbox.deliveries[1].type == "sms"


def test_the_same_idempotency_key_is_delivered_once_and_says_so() -> None:
    outbox = Outbox()
    first = outbox.send("ada@example.com", "Hi", "body", idempotency_key="k1")
    again = outbox.send("ada@example.com", "Hi", "body", idempotency_key="k1")
    assert not first.duplicate
    assert again.duplicate and again.message_id == first.message_id
    assert len(outbox.deliveries) == 1
    assert outbox.calls == 2


def test_fail_next_n_then_deliver() -> None:
    outbox = Outbox()
    outbox.fail_next(2)
    for _ in range(2):
        with pytest.raises(OutboxError):
            outbox.send("a@example.com", "s", "b")
    outbox.send("a@example.com", "s", "b")
    assert len(outbox.deliveries) == 1


def test_fail_always_until_healed() -> None:
    outbox = Outbox()
    outbox.fail_always()
    for _ in range(5):
        with pytest.raises(OutboxError):
            outbox.send("a@example.com", "s", "b")
    outbox.heal()
    outbox.send("a@example.com", "s", "b")
    assert len(outbox.deliveries) == 1


def test_hang_blocks_each_send_and_heal_releases_it() -> None:
    outbox = Outbox()
    outbox.hang(0.2)
    started = time.monotonic()
    outbox.send("a@example.com", "s", "b")
    assert time.monotonic() - started >= 0.19
    outbox.hang(30)
    done = threading.Event()
    threading.Thread(target=lambda: (outbox.send("a@example.com", "s", "b"), done.set())).start()
    time.sleep(0.05)
    assert not done.is_set()
    outbox.heal()
    assert done.wait(2), "heal() must release a hung send"
    assert len(outbox.deliveries) == 2


def test_many_threads_same_keys_deliver_each_key_once() -> None:
    outbox = Outbox()

    def worker(n: int) -> None:
        for i in range(50):
            outbox.send("a@example.com", "s", "b", idempotency_key=f"key-{i}")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outbox.calls == 400
    assert sorted(d.idempotency_key or "" for d in outbox.deliveries) == sorted(
        f"key-{i}" for i in range(50)
    )
