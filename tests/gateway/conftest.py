"""Fixtures for the gateway tests: a real upstream on a loopback port, a gateway in front."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import httpx
import pytest
from gateway_fronts import FRONTS, serve_front
from gateway_upstream import Upstream
from log_capture import collected_logs

from launchpad.gateway import Gateway, Route
from launchpad.http.serve import RunningServer, serve
from launchpad.logging import CollectingHandler


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    app = Upstream()
    yield app
    app.release.set()  # end any request still hanging


@pytest.fixture
def upstream_server(upstream: Upstream) -> Iterator[RunningServer]:
    with serve(upstream, name="upstream") as server:
        yield server
        upstream.release.set()


@pytest.fixture
def gateway(upstream_server: RunningServer) -> Iterator[Gateway]:
    gw = Gateway(
        [Route("/auth", upstream_server.url), Route("/notifications", upstream_server.url)],
        upstream_timeout=1.0,
    )
    yield gw
    gw.close()


@pytest.fixture(params=FRONTS)
def front(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def gateway_server(gateway: Gateway, front: str) -> Iterator[RunningServer]:
    with serve_front(front, gateway) as server:
        yield server


@pytest.fixture
def gateway_logs() -> Iterator[CollectingHandler]:
    """Every record the gateway logs during the test, as dicts."""
    with collected_logs("launchpad.gateway", logging.DEBUG) as handler:
        yield handler


@pytest.fixture(scope="session")
def http() -> Iterator[httpx.Client]:
    """One client for the whole run (making an httpx.Client costs ~0.1 s: its TLS setup)."""
    with httpx.Client(timeout=10) as client:
        yield client
