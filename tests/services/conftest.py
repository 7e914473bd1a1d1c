"""Fixtures for the service tests: logs, a cheap password hash, and whole systems."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from services_helpers import CHEAP

from launchpad.http.serve import serve
from launchpad.logging import CollectingHandler
from launchpad.services.system import System


@pytest.fixture
def logs() -> Iterator[CollectingHandler]:
    """Every ``launchpad.*`` record logged during the test, as dicts."""
    logger = logging.getLogger("launchpad")
    handler = CollectingHandler()
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(old_level)


@pytest.fixture(params=["in-process", "socket"])
def connect(request: pytest.FixtureRequest) -> Iterator[Callable[[Any], httpx.Client]]:
    """``connect(app)``: a client for a WSGI app, in-process or through a loopback port."""
    clients: list[httpx.Client] = []
    servers = []

    def connect(app: Any) -> httpx.Client:
        if request.param == "in-process":
            client = httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://app")
        else:
            server = serve(app, name="service-test")
            servers.append(server)
            client = httpx.Client(base_url=server.url, timeout=10)
        clients.append(client)
        return client

    yield connect
    for client in clients:
        client.close()
    for server in servers:
        server.stop()


@pytest.fixture
def make_system(unique_name: str) -> Iterator[Callable[..., System]]:
    """``make_system(**options)``: a started :class:`System` on a unique queue, fast
    settings (cheap hash, 20 ms deliveries, 50 ms backoff), stopped and cleaned up after."""
    systems: list[System] = []

    def make(**options: Any) -> System:
        options.setdefault("queue_name", unique_name)
        options.setdefault("scrypt", CHEAP)
        options.setdefault("delivery_delay", 0.02)
        options.setdefault("backoff_ms", 50)
        options.setdefault("cleanup", True)
        # an idle worker looks at delayed (backed-off) jobs every 100 ms, not every second
        options["worker_options"] = {"drain_delay": 100} | options.get("worker_options", {})
        system = System(**options)
        systems.append(system)
        return system

    yield make
    for system in systems:
        system.stop()
