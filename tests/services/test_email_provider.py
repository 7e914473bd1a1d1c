"""The fake email provider: counts deliveries, honours idempotency keys, fails and hangs
on demand, and stays correct under many threads."""

from __future__ import annotations

import threading
import time

import pytest

from launchpad.services.email_provider import EmailProvider, EmailProviderError


def test_every_send_is_recorded() -> None:
    email_provider = EmailProvider()
    first = email_provider.send("ada@example.com", "Hi", "one")
    second = email_provider.send("ADA@example.com", "Hi", "two", type="sms")
    assert first.message_id != second.message_id
    assert [d.body for d in email_provider.sent_to("ada@example.com")] == ["one", "two"]
    assert email_provider.deliveries[1].type == "sms"


def test_the_same_idempotency_key_is_delivered_once_and_says_so() -> None:
    email_provider = EmailProvider()
    first = email_provider.send("ada@example.com", "Hi", "body", idempotency_key="k1")
    again = email_provider.send("ada@example.com", "Hi", "body", idempotency_key="k1")
    assert not first.duplicate
    assert again.duplicate and again.message_id == first.message_id
    assert len(email_provider.deliveries) == 1
    assert email_provider.calls == 2


def test_fail_next_n_then_deliver() -> None:
    email_provider = EmailProvider()
    email_provider.fail_next(2)
    for _ in range(2):
        with pytest.raises(EmailProviderError):
            email_provider.send("a@example.com", "s", "b")
    email_provider.send("a@example.com", "s", "b")
    assert len(email_provider.deliveries) == 1


def test_fail_always_until_healed() -> None:
    email_provider = EmailProvider()
    email_provider.fail_always()
    for _ in range(5):
        with pytest.raises(EmailProviderError):
            email_provider.send("a@example.com", "s", "b")
    email_provider.heal()
    email_provider.send("a@example.com", "s", "b")
    assert len(email_provider.deliveries) == 1


def test_hang_blocks_each_send_and_heal_releases_it() -> None:
    email_provider = EmailProvider()
    email_provider.hang(0.2)
    started = time.monotonic()
    email_provider.send("a@example.com", "s", "b")
    assert time.monotonic() - started >= 0.19
    email_provider.hang(30)
    done = threading.Event()
    threading.Thread(
        target=lambda: (email_provider.send("a@example.com", "s", "b"), done.set())
    ).start()
    time.sleep(0.05)
    assert not done.is_set()
    email_provider.heal()
    assert done.wait(2), "heal() must release a hung send"
    assert len(email_provider.deliveries) == 2


def test_many_threads_same_keys_deliver_each_key_once() -> None:
    email_provider = EmailProvider()

    def worker(n: int) -> None:
        for i in range(50):
            email_provider.send("a@example.com", "s", "b", idempotency_key=f"key-{i}")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert email_provider.calls == 400
    assert sorted(d.idempotency_key or "" for d in email_provider.deliveries) == sorted(
        f"key-{i}" for i in range(50)
    )
