"""Kept-alive upstream connections: reused while good, dropped when stale or half-read.

The upstream here is the stdlib's HTTP/1.1 server, which keeps connections open (the
kit's werkzeug server closes each one), and counts the connections it accepted.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from gateway_fronts import serve_front

from launchpad.gateway import Gateway, Route
from launchpad.http.serve import RunningServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes
    server: _KeepAliveServer

    def setup(self) -> None:
        super().setup()
        with self.server.lock:
            self.server.connections += 1

    def do_GET(self) -> None:
        body = b"x" * 32_000_000 if self.path.endswith("/big") else b"ok"  # > socket buffers
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        if self.server.close_after_each:
            self.close_connection = True  # hang up without saying so (no Connection: close)

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        self.rfile.read(length)
        self.do_GET()

    def log_message(self, *args: object) -> None:
        pass


class _KeepAliveServer(ThreadingHTTPServer):
    daemon_threads = True
    connections = 0
    close_after_each = False
    lock = threading.Lock()


@pytest.fixture
def keepalive() -> Iterator[_KeepAliveServer]:
    server = _KeepAliveServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def gateway_front(keepalive: _KeepAliveServer, front: str) -> Iterator[RunningServer]:
    """The gateway on either front (see conftest) before the counting upstream."""
    url = f"http://127.0.0.1:{keepalive.server_address[1]}"
    with (
        Gateway([Route("/auth", url)], upstream_timeout=2.0) as gw,
        serve_front(front, gw) as server,
    ):
        yield server


def test_sequential_requests_share_one_upstream_connection(
    http: httpx.Client, gateway_front: RunningServer, keepalive: _KeepAliveServer
) -> None:
    for _ in range(20):
        assert http.get(gateway_front.url + "/auth/x").text == "ok"
    assert keepalive.connections == 1


def test_a_connection_the_upstream_closed_is_not_reused(
    http: httpx.Client, gateway_front: RunningServer, keepalive: _KeepAliveServer
) -> None:
    keepalive.close_after_each = True
    for _ in range(5):
        assert http.get(gateway_front.url + "/auth/x").status_code == 200
    assert keepalive.connections == 5


def test_a_half_read_body_drops_the_connection(
    http: httpx.Client, gateway_front: RunningServer, keepalive: _KeepAliveServer
) -> None:
    with http.stream("GET", gateway_front.url + "/auth/big") as r:
        r.iter_raw(1024).__next__()  # read a little, then hang up
    for _ in range(3):
        assert http.get(gateway_front.url + "/auth/x").text == "ok"
    assert keepalive.connections == 2  # the half-read one was closed, not pooled
