"""Shared fixtures: which Redis a test runs on.

Every test starts with ``REDIS_URL`` removed from its environment, so "embedded by
default" is what a test sees unless it asks for the real server through a fixture.

The real server is ``REDIS_URL`` as the test run was started with, or
``redis://127.0.0.1:6379/0``. When none answers, real-Redis tests skip with the reason,
except under ``LAUNCHPAD_REQUIRE_REAL_REDIS=1`` (CI), where they fail.

Tests share one real server with other tests: they never FLUSHALL/FLUSHDB; they use
unique queue names or key prefixes and delete what they made.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis as redis_lib
from log_capture import collected_logs

from launchpad.http.serve import RunningServer, serve
from launchpad.logging import CollectingHandler
from launchpad.redis import EMBEDDED_URL, create_redis_connection, reset_embedded

STUDENT_COPY = (Path(__file__).resolve().parents[1] / ".launchpad-student-copy").is_file()
REAL_REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
REQUIRE_REAL_REDIS = os.environ.get("LAUNCHPAD_REQUIRE_REAL_REDIS") == "1"


def _real_redis_answers(url: str) -> str | None:
    """None when a real Redis answers PING at ``url``, else why not."""
    try:
        conn = redis_lib.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)
        conn.ping()
        conn.close()
        return None
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"


@pytest.hookimpl(trylast=True)  # after the folders' own hooks (tests/grading groups its own)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Each test file runs in one process of ``make test`` (``--dist loadgroup``), its tests in
    their order, as the files were written; in a student copy (``launchpad release``), tests
    that need the instructor's kit skip."""
    skip = pytest.mark.skip(reason="needs the instructor's kit; this is a student copy")
    for item in items:
        if not item.get_closest_marker("xdist_group"):
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))
        if STUDENT_COPY and item.get_closest_marker("instructor_kit"):
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _no_ambient_redis_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)


@pytest.fixture(scope="session")
def real_redis_url() -> str:
    """The URL of a real Redis server; fails (CI) or skips (laptop) when none answers."""
    problem = _real_redis_answers(REAL_REDIS_URL)
    if problem is not None:
        message = f"no real Redis at {REAL_REDIS_URL} ({problem})"
        if REQUIRE_REAL_REDIS:
            pytest.fail(message + " and LAUNCHPAD_REQUIRE_REAL_REDIS=1", pytrace=False)
        pytest.skip(message + "; start redis-server or set REDIS_URL to run this test")
    return REAL_REDIS_URL


@pytest.fixture
def real_redis(real_redis_url: str) -> Iterator[redis_lib.Redis]:
    conn = create_redis_connection("test", real_redis_url)
    yield conn
    conn.close()


@pytest.fixture
def embedded_redis() -> Iterator[redis_lib.Redis]:
    reset_embedded()
    conn = create_redis_connection("test", EMBEDDED_URL)
    yield conn
    reset_embedded()


@pytest.fixture(params=["embedded", "real"])
def redis_url(request: pytest.FixtureRequest) -> str:
    """Parametrises a test over both backends: the URL to pass to create_redis_connection."""
    if request.param == "embedded":
        reset_embedded()
        return EMBEDDED_URL
    url: str = request.getfixturevalue("real_redis_url")
    return url


@pytest.fixture
def unique_name() -> str:
    """A name no other test uses (for queues and key prefixes on the shared server)."""
    return f"t-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def logs() -> Iterator[CollectingHandler]:
    """Every ``launchpad.*`` record logged during the test, as dicts."""
    with collected_logs() as handler:
        yield handler


@pytest.fixture(params=["in-process", "socket"])
def connect(request: pytest.FixtureRequest) -> Iterator[Callable[[Any], httpx.Client]]:
    """``connect(app)``: a client for a WSGI app, in-process or through a real loopback port."""
    clients: list[httpx.Client] = []
    servers: list[RunningServer] = []

    def connect(app: Any) -> httpx.Client:
        if request.param == "in-process":
            client = httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://app")
        else:
            server = serve(app, name="test-app")
            servers.append(server)
            client = httpx.Client(base_url=server.url, timeout=10)
        clients.append(client)
        return client

    yield connect
    for client in clients:
        client.close()
    for server in servers:
        server.stop()
