"""The outbox under real faults: the auth process SIGKILLed between "queued" and "marked
sent", and a real Redis server SIGKILLed in the middle of a relay. One email per user."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from launchpad.queue import Backoff, Queue
from launchpad.redis import create_redis_connection
from launchpad.services.auth import welcome_email
from launchpad.services.auth_store import AuthStore, User
from launchpad.services.email_provider import EmailProvider
from launchpad.services.notification_worker import create_notification_worker
from launchpad.services.outbox_relay import OutboxRelay

HERE = Path(__file__).parent


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.005)
    return condition()


def auth_process(mode: str, db: Path, url: str, queue: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(HERE / "outbox_auth_process.py"), mode, str(db), url, queue],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.real_redis
def test_auth_killed_between_queued_and_marked_sent_still_sends_one_email(
    real_redis_url: str, unique_name: str, tmp_path: Path
) -> None:
    db = tmp_path / "auth.db"
    queue = Queue(unique_name, create_redis_connection("test", real_redis_url))
    try:
        died = auth_process("register-and-die", db, real_redis_url, unique_name)
        assert died.returncode == -signal.SIGKILL, died.stderr[-2000:]
        user_id = died.stdout.split()[0]
        assert "not killed" not in died.stdout
        job_id = f"welcome-email-{user_id}"
        assert queue.get_job(job_id) is not None  # the queue took it ...
        store = AuthStore(db)
        assert store.outbox_counts() == {"pending": 1, "sent": 0}  # ... the row never heard
        store.close()

        again = auth_process("restart", db, real_redis_url, unique_name)
        assert again.returncode == 0, again.stderr[-2000:]
        assert json.loads(again.stdout) == {"moved": 1, "outbox": {"pending": 0, "sent": 1}}
        assert sum(queue.counts().values()) == 1  # the re-send was a duplicate: one job

        provider = EmailProvider()
        worker = create_notification_worker(queue, provider, delivery_delay=0.0)
        worker.start()
        try:
            assert wait_for(lambda: len(provider.deliveries) >= 1)
            assert wait_for(lambda: queue.counts()["completed"] == 1)
        finally:
            worker.close()
        assert [d.to for d in provider.deliveries] == ["ada@example.com"]
    finally:
        queue.obliterate()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _redis_server(port: int, workdir: Path) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(workdir),
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--save",
            "",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    conn = create_redis_connection("probe", f"redis://127.0.0.1:{port}/0")

    def answers() -> bool:
        try:
            return bool(conn.ping())
        except Exception:
            return False

    assert wait_for(answers, 10.0), "redis-server did not start"
    conn.close()
    return server


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")
def test_redis_killed_mid_relay_loses_and_doubles_nothing(tmp_path: Path) -> None:
    port = _free_port()
    server = _redis_server(port, tmp_path)
    users = 3000
    store = AuthStore()
    for i in range(users):
        u = User(f"u-{i}", f"user{i}@example.com", "U", b"s", b"h")
        store.create_user(u, [welcome_email(u)])
    queue = Queue("outbox-fault", create_redis_connection("auth", f"redis://127.0.0.1:{port}/0"))
    relay = OutboxRelay(store, queue, batch=50, backoff=Backoff("fixed", 50), max_wait=0.05)
    try:
        relay.start()
        assert wait_for(lambda: store.outbox_counts()["sent"] >= 100)
        server.send_signal(signal.SIGKILL)  # mid-relay
        server.wait(10)
        pending_at_kill = store.outbox_counts()["pending"]
        assert pending_at_kill > 0, "the relay finished before the kill: nothing was tested"
        assert wait_for(lambda: relay.failed_passes >= 2)
        server = _redis_server(port, tmp_path)  # same port, same append-only file
        assert wait_for(lambda: store.outbox_counts()["pending"] == 0, 60.0)
        counts = queue.counts()
        assert counts["waiting"] == users  # none lost, none doubled
        ids = {f"welcome-email-u-{i}" for i in range(users)}
        assert all(queue.get_job(job_id) is not None for job_id in sorted(ids)[:50])
    finally:
        relay.stop()
        server.send_signal(signal.SIGKILL)
        server.wait(10)
