"""Timeouts, limits and a clean pool: what a slow, greedy or faulty neighbour meets.

Each test runs a gateway with small limits (fractions of a second, a few connections) so a
limit is hit in seconds; the defaults (``Limits()``) are nginx's. Clients and upstreams
are raw sockets on loopback, behaving as an attacker or a broken service would.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
from gateway_upstream import raw_request, read_response

from launchpad.gateway import Gateway, Route
from launchpad.gateway.rules import Limits
from launchpad.gateway.server import connection_cap, serve_gateway
from launchpad.http.serve import RunningServer

SMALL = Limits(header_timeout=0.5, body_timeout=0.5, keepalive_timeout=1.0, max_connections=4)


class RawUpstream:
    """An upstream on a raw socket that answers each request with ``answer(n)`` bytes."""

    def __init__(self, answers: list[list[tuple[float, bytes]]]) -> None:
        self.answers = answers  # per request: (delay, bytes) pieces to write
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.requests = 0
        self._stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:  # close() closed the listening socket under us
                return
            threading.Thread(target=self._connection, args=(conn,), daemon=True).start()

    def _connection(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(10)
            buffer = b""
            while not self._stop.is_set():
                while b"\r\n\r\n" not in buffer:
                    try:
                        data = conn.recv(65536)
                    except OSError:
                        return
                    if not data:
                        return
                    buffer += data
                _, buffer = buffer.split(b"\r\n\r\n", 1)
                index = min(self.requests, len(self.answers) - 1)
                self.requests += 1
                for delay, piece in self.answers[index]:
                    time.sleep(delay)
                    try:
                        conn.sendall(piece)
                    except OSError:
                        return

    def close(self) -> None:
        self._stop.set()
        self.sock.close()


def _ok(body: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)


@pytest.fixture
def serve_raw() -> Iterator[object]:
    made: list[tuple[RawUpstream, RunningServer]] = []

    def start(answers: list[list[tuple[float, bytes]]], **options: object) -> RunningServer:
        upstream = RawUpstream(answers)
        gateway = Gateway(
            [Route("/auth", f"http://127.0.0.1:{upstream.port}")], upstream_timeout=1.0,
            **options,  # type: ignore[arg-type]
        )  # fmt: skip
        server = serve_gateway(gateway)
        made.append((upstream, server))
        return server

    yield start
    for upstream, server in made:
        server.stop()
        upstream.close()


def test_bytes_an_upstream_writes_after_its_answer_never_reach_the_next_client(
    serve_raw: object,
) -> None:
    """RFC 9112 §9.3 (persistence) and the pool's rule: a connection that received
    anything while idle is closed, not handed to the next request."""
    stray = _ok(b"poison")  # a whole, well-formed second answer nobody asked for
    server = serve_raw([[(0, _ok(b"first")), (0.2, stray)], [(0, _ok(b"clean"))]])  # type: ignore[operator]
    assert raw_request(server.port, b"GET /auth/a HTTP/1.1\r\nHost: gw\r\n\r\n")[2] == b"first"
    time.sleep(0.5)  # the stray bytes arrive while the connection is idle in the pool
    for _ in range(3):
        body = raw_request(server.port, b"GET /auth/b HTTP/1.1\r\nHost: gw\r\n\r\n")[2]
        assert body == b"clean"


def test_bytes_in_the_same_write_as_the_answer_never_reach_the_next_client(
    serve_raw: object,
) -> None:
    """The stray answer comes in the same TCP write as the real one (one read for the
    gateway): the bytes left over after the answer's end also mark the connection as
    unusable (aiohttp's ``should_close`` sees its parser's tail), so it is not pooled."""
    server = serve_raw([[(0, _ok(b"first") + _ok(b"poison"))], [(0, _ok(b"clean"))]])  # type: ignore[operator]
    assert raw_request(server.port, b"GET /auth/a HTTP/1.1\r\nHost: gw\r\n\r\n")[2] == b"first"
    for _ in range(3):
        body = raw_request(server.port, b"GET /auth/b HTTP/1.1\r\nHost: gw\r\n\r\n")[2]
        assert body == b"clean"


def test_an_upstream_that_half_closes_is_not_reused(serve_raw: object) -> None:
    server = serve_raw([[(0, _ok(b"one"))], [(0, _ok(b"two"))]])  # type: ignore[operator]
    assert raw_request(server.port, b"GET /auth/a HTTP/1.1\r\nHost: gw\r\n\r\n")[0] == 200
    assert raw_request(server.port, b"GET /auth/a HTTP/1.1\r\nHost: gw\r\n\r\n")[0] == 200


def test_a_dripped_status_line_is_a_504_after_the_upstream_timeout(serve_raw: object) -> None:
    """aiohttp's read timeout restarts at each byte; the gateway's deadline does not."""
    drip = [(0.2, bytes([b])) for b in _ok(b"late")]  # ~0.2 s a byte: ~8 s in all
    server = serve_raw([drip])  # type: ignore[operator]
    started = time.monotonic()
    status, _, _ = raw_request(server.port, b"GET /auth/a HTTP/1.1\r\nHost: gw\r\n\r\n")
    assert status == 504
    assert time.monotonic() - started < 4.0  # 1 s timeout; a loaded machine keeps 4


def _gateway(limits: Limits, upstream: RunningServer) -> RunningServer:
    gateway = Gateway([Route("/auth", upstream.url)], upstream_timeout=1.0, limits=limits)
    return serve_gateway(gateway)


def test_a_slow_request_head_gets_408_and_is_closed(upstream_server: RunningServer) -> None:
    """Slowloris: a head dripped a byte at a time must be whole within header_timeout."""
    with _gateway(SMALL, upstream_server) as gw, socket.create_connection(
        ("127.0.0.1", gw.port), timeout=10
    ) as sock:  # fmt: skip
        started = time.monotonic()
        answer = b""
        for byte in b"GET /auth/echo HTTP/1.1\r\nHost: gw\r\nX-Slow: " + b"a" * 100:
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                break
            sock.settimeout(0.1)
            try:
                answer += sock.recv(65536)
                break
            except TimeoutError:
                continue
        sock.settimeout(10)
        while chunk := sock.recv(65536):
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 408 ")
        assert time.monotonic() - started < 5.0


def test_an_idle_connection_is_closed_after_the_keepalive_timeout(
    upstream_server: RunningServer,
) -> None:
    with _gateway(SMALL, upstream_server) as gw, socket.create_connection(
        ("127.0.0.1", gw.port), timeout=10
    ) as sock:  # fmt: skip
        sock.sendall(b"GET /auth/echo HTTP/1.1\r\nHost: gw\r\n\r\n")
        assert read_response(sock)[0] == 200
        started = time.monotonic()
        assert sock.recv(1) == b""  # closed by the gateway, without a word
        assert 0.5 < time.monotonic() - started < 5.0


def test_a_connection_that_never_sends_is_closed(upstream_server: RunningServer) -> None:
    with _gateway(SMALL, upstream_server) as gw, socket.create_connection(
        ("127.0.0.1", gw.port), timeout=10
    ) as sock:  # fmt: skip
        assert sock.recv(1) == b""


def test_a_body_that_stalls_gets_408_and_is_closed(upstream_server: RunningServer) -> None:
    with _gateway(SMALL, upstream_server) as gw, socket.create_connection(
        ("127.0.0.1", gw.port), timeout=10
    ) as sock:  # fmt: skip
        sock.sendall(b"POST /auth/upload HTTP/1.1\r\nHost: gw\r\nContent-Length: 100\r\n\r\nab")
        status, _, _ = read_response(sock)
        assert status == 408
        assert sock.recv(1) == b""


def test_connections_over_the_cap_get_503_and_the_others_still_work(
    upstream_server: RunningServer,
) -> None:
    limits = Limits(max_connections=3)
    with _gateway(limits, upstream_server) as gw:
        held = [socket.create_connection(("127.0.0.1", gw.port), timeout=10) for _ in range(3)]
        try:
            time.sleep(0.2)
            status, headers, _ = raw_request(gw.port, b"GET /auth/echo HTTP/1.1\r\nHost: g\r\n\r\n")
            assert status == 503
            assert headers["retry-after"] == "1"
            held[0].sendall(b"GET /auth/echo HTTP/1.1\r\nHost: gw\r\n\r\n")
            assert read_response(held[0])[0] == 200  # those inside are served
        finally:
            for sock in held:
                sock.close()
        time.sleep(0.2)
        assert raw_request(gw.port, b"GET /auth/echo HTTP/1.1\r\nHost: g\r\n\r\n")[0] == 200


def test_the_cap_stays_below_the_descriptor_limit() -> None:
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert connection_cap(10**9) <= max(1, soft // 4)
    assert connection_cap(2) == 2


def test_a_flooded_gateway_leaves_the_services_beside_it_reachable() -> None:
    """Under ``launchpad up`` the services share the gateway's process: past its cap the
    gateway answers 503, and auth (same process, own port) still answers."""
    from launchpad.services.auth import ScryptCost
    from launchpad.services.system import System

    with System(
        mode="ports", redis_url="embedded://", worker=False, scrypt=ScryptCost(n=2**4, r=1, p=1),
        gateway_limits=Limits(max_connections=4),
    ) as system:  # fmt: skip
        port = int(system.gateway_url.rsplit(":", 1)[1])
        flood = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(12)]
        try:
            time.sleep(0.2)
            status, _, _ = raw_request(port, b"GET /health HTTP/1.1\r\nHost: gw\r\n\r\n")
            assert status == 503
            auth_port = int(system.auth_url.rsplit(":", 1)[1])
            status, _, _ = raw_request(auth_port, b"GET /health HTTP/1.1\r\nHost: a\r\n\r\n")
            assert status == 200
        finally:
            for sock in flood:
                sock.close()
