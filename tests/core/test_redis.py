"""The same Redis smoke test on the embedded Redis and on a real server."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from launchpad.redis import (
    EMBEDDED_URL,
    RedisUnavailable,
    create_redis_connection,
    describe,
    is_embedded,
    ping,
)


def test_set_get_lua_and_a_blocking_pop_across_threads(redis_url: str, unique_name: str) -> None:
    producer = create_redis_connection("producer", redis_url)
    consumer = create_redis_connection("consumer", redis_url)
    key = f"{unique_name}:greeting"
    items = f"{unique_name}:items"
    try:
        producer.set(key, "hello")
        assert consumer.get(key) == "hello"  # strings in, strings out

        script = "redis.call('SET', KEYS[1], ARGV[1]); return redis.call('STRLEN', KEYS[1])"
        assert producer.eval(script, 1, key, "hello, world") == 12
        assert consumer.get(key) == "hello, world"

        def push_later() -> None:
            time.sleep(0.3)
            producer.rpush(items, "job-1")

        threading.Thread(target=push_later).start()
        started = time.monotonic()
        popped = consumer.blpop([items], timeout=5)
        waited = time.monotonic() - started
        assert popped == (items, "job-1")
        assert 0.2 < waited < 4, "BLPOP must block until the other thread pushes"
        assert ping(producer)
    finally:
        producer.delete(key, items)
        producer.close()
        consumer.close()


def test_embedded_is_one_server_per_process() -> None:
    a = create_redis_connection("a", EMBEDDED_URL)
    b = create_redis_connection("b", EMBEDDED_URL)
    a.set("shared:k", "v")
    assert b.get("shared:k") == "v"
    assert is_embedded(a) and describe(a).startswith("embedded")


def test_unset_redis_url_means_embedded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    assert is_embedded(create_redis_connection("default"))


def test_real_connection_is_lazy_and_a_down_server_says_what_to_do() -> None:
    conn = create_redis_connection("notifications", "redis://:s3cret@127.0.0.1:1/0")
    assert not is_embedded(conn)  # created without touching the network
    assert ping(conn) is False
    with pytest.raises(RedisUnavailable) as info:
        conn.get("x")
    message = str(info.value)
    assert "127.0.0.1:1" in message and "notifications" in message
    assert "REDIS_URL" in message and "redis-server" in message
    assert "s3cret" not in message


@pytest.mark.real_redis
def test_real_server_is_described_by_url(real_redis_url: str) -> None:
    conn = create_redis_connection("describe", real_redis_url)
    assert describe(conn).startswith("redis://")
    assert ping(conn)


def test_require_real_redis_turns_a_skip_into_a_failure(tmp_path: Path) -> None:
    """CI sets LAUNCHPAD_REQUIRE_REAL_REDIS=1 so a missing server can never pass silently."""
    root = Path(__file__).resolve().parents[2]
    for support in ("conftest.py", "log_capture.py"):
        (tmp_path / support).write_text((root / "tests" / support).read_text())
    (tmp_path / "test_needs_real.py").write_text(textwrap.dedent("""
        def test_it(real_redis):
            assert real_redis.ping()
    """))
    base_env = {k: v for k, v in os.environ.items() if k != "LAUNCHPAD_REQUIRE_REAL_REDIS"}
    base_env["REDIS_URL"] = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    base_env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # a bare pytest starts much faster

    def run(extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs",
             str(tmp_path)],
            env={**base_env, **extra}, capture_output=True, text=True, timeout=60,
            cwd=tmp_path,
        )

    relaxed = run({})
    assert relaxed.returncode == 0, relaxed.stdout
    assert "1 skipped" in relaxed.stdout and "no real Redis" in relaxed.stdout
    strict = run({"LAUNCHPAD_REQUIRE_REAL_REDIS": "1"})
    assert strict.returncode == 1, strict.stdout
    assert "1 error" in strict.stdout or "1 failed" in strict.stdout
