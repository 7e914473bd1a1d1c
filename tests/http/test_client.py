"""ServiceClient against real loopback servers that misbehave, and in-process apps.

The promises: every call ends by its deadline (even against a server that drips one
byte at a time), a closed port is ServiceUnavailable, an unexpected status is
UnexpectedStatus, the correlation id is forwarded, and retries happen only where safe.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from launchpad.correlation import correlation_scope
from launchpad.http.client import (
    ServiceClient,
    ServiceError,
    ServiceTimeout,
    ServiceUnavailable,
    UnexpectedStatus,
    verify_token,
)
from launchpad.http.serve import serve

MARGIN = 1.0  # seconds a loaded 2-core machine may add to a deadline


class RawServer:
    """A loopback TCP server whose connection handler we write by hand (hangs, drips)."""

    def __init__(self, handler: Callable[[socket.socket], None]) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.handler = handler
        self.stopped = threading.Event()
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            threading.Thread(target=self.handler, args=(conn,), daemon=True).start()

    def close(self) -> None:
        self.stopped.set()
        self.sock.close()
        for conn in self.conns:
            conn.close()


@pytest.fixture
def raw_server() -> Iterator[Callable[[Callable[[socket.socket], None]], RawServer]]:
    servers: list[RawServer] = []

    def start(handler: Callable[[socket.socket], None]) -> RawServer:
        servers.append(RawServer(handler))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def _never_answer(conn: socket.socket) -> None:
    try:
        conn.recv(65536)
        time.sleep(30)
    except OSError:
        pass


def _drip(conn: socket.socket) -> None:
    """Answers, but one byte every 200 ms: no single read ever waits long."""
    try:
        conn.recv(65536)
        body = b'{"userId": "u1", "email": "slow@example.com", "padding": "' + b"x" * 200 + b'"}'
        head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
        for byte in head + str(len(body)).encode() + b"\r\n\r\n" + body:
            conn.sendall(bytes([byte]))
            time.sleep(0.2)
    except OSError:
        pass


@pytest.mark.parametrize("behaviour", [_never_answer, _drip], ids=["hung", "dripping"])
def test_a_call_ends_at_its_deadline(raw_server: Any, behaviour: Any) -> None:
    server = raw_server(behaviour)
    client = ServiceClient("auth", server.url, timeout=1.0)
    started = time.monotonic()
    with pytest.raises(ServiceTimeout) as info:
        client.get("/auth/verify")
    elapsed = time.monotonic() - started
    assert 0.9 <= elapsed < 1.0 + MARGIN
    assert "auth" in str(info.value) and "1 s" in str(info.value)
    assert isinstance(info.value, ServiceError)


def test_a_closed_port_is_unavailable_and_fails_fast() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again when the block ends
    client = ServiceClient("auth", f"http://127.0.0.1:{port}", timeout=3.0)
    started = time.monotonic()
    with pytest.raises(ServiceUnavailable) as info:
        client.get("/health")
    assert time.monotonic() - started < 1.0
    assert "auth is unavailable" in str(info.value)


def _echo_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    path = environ["PATH_INFO"]
    if path == "/auth/verify":
        if environ.get("HTTP_AUTHORIZATION") == "Bearer good":
            body = {"userId": "u1", "email": "ada@example.com"}
            status = "200 OK"
        else:
            body, status = {"error": "invalid token"}, "401 Unauthorized"
    elif path == "/boom":
        body, status = {"error": "internal"}, "500 Internal Server Error"
    else:
        body, status = {"cid": environ.get("HTTP_X_CORRELATION_ID")}, "200 OK"
    raw = json.dumps(body).encode()
    start_response(
        status, [("content-type", "application/json"), ("content-length", str(len(raw)))]
    )
    return [raw]


@pytest.fixture(params=["real-socket", "in-process"])
def echo_client(request: pytest.FixtureRequest) -> Iterator[ServiceClient]:
    if request.param == "in-process":
        client = ServiceClient(
            "auth", "http://auth", timeout=2.0, transport=httpx.WSGITransport(app=_echo_app)
        )
        yield client
        client.close()
    else:
        with serve(_echo_app, name="echo") as server:
            client = ServiceClient("auth", server.url, timeout=2.0)
            yield client
            client.close()


def test_the_correlation_id_reaches_the_server(echo_client: ServiceClient) -> None:
    with correlation_scope("req-7f3a"):
        assert echo_client.get("/echo").json() == {"cid": "req-7f3a"}
    assert echo_client.get("/echo").json() == {"cid": None}


def test_verify_token_401_is_a_value_and_500_is_an_error(echo_client: ServiceClient) -> None:
    assert verify_token(echo_client, "good") == {"userId": "u1", "email": "ada@example.com"}
    assert verify_token(echo_client, "forged") is None
    with pytest.raises(UnexpectedStatus) as info:
        echo_client.get("/boom")
    assert info.value.status_code == 500
    assert "auth answered GET /boom with 500" in str(info.value)


def test_an_in_process_app_that_hangs_still_times_out() -> None:
    release = threading.Event()

    def hung_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        release.wait(10)
        start_response("200 OK", [])
        return [b""]

    client = ServiceClient(
        "auth", "http://auth", timeout=0.5, transport=httpx.WSGITransport(app=hung_app)
    )
    started = time.monotonic()
    with pytest.raises(ServiceTimeout):
        client.get("/auth/verify")
    assert time.monotonic() - started < 0.5 + MARGIN
    release.set()


def _flaky_app(failures: int, status: str = "503 Service Unavailable") -> Any:
    calls = {"n": 0}

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        calls["n"] += 1
        if calls["n"] <= failures:
            start_response(status, [("content-length", "0")])
            return [b""]
        start_response("200 OK", [("content-length", "2")])
        return [b"{}"]

    app.calls = calls  # type: ignore[attr-defined]
    return app


def test_retries_a_5xx_for_an_idempotent_get() -> None:
    app = _flaky_app(failures=2)
    client = ServiceClient(
        "inventory", "http://inv", transport=httpx.WSGITransport(app=app), retries=3, backoff=0.01
    )
    assert client.get("/stock").status_code == 200
    assert app.calls["n"] == 3


def test_never_retries_a_post_without_an_idempotency_key() -> None:
    app = _flaky_app(failures=1)
    client = ServiceClient(
        "payment", "http://pay", transport=httpx.WSGITransport(app=app), retries=3, backoff=0.01
    )
    with pytest.raises(UnexpectedStatus):
        client.post("/charge", json={"amount": 10})
    assert app.calls["n"] == 1  # a second charge could bill the customer twice


def test_retries_a_post_that_carries_an_idempotency_key() -> None:
    app = _flaky_app(failures=1)
    client = ServiceClient(
        "payment", "http://pay", transport=httpx.WSGITransport(app=app), retries=2, backoff=0.01
    )
    response = client.post("/charge", json={"amount": 10}, headers={"Idempotency-Key": "order-1"})
    assert response.status_code == 200
    assert app.calls["n"] == 2


def test_retries_are_bounded() -> None:
    app = _flaky_app(failures=100)
    client = ServiceClient(
        "inventory", "http://inv", transport=httpx.WSGITransport(app=app), retries=2, backoff=0.01
    )
    with pytest.raises(UnexpectedStatus):
        client.get("/stock")
    assert app.calls["n"] == 3


def test_a_refused_post_is_retried_because_it_never_arrived() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = ServiceClient("payment", f"http://127.0.0.1:{port}", retries=2, backoff=0.01)
    started = time.monotonic()
    with pytest.raises(ServiceUnavailable):
        client.post("/charge", json={})
    assert time.monotonic() - started < 2


def test_a_timeout_is_mandatory() -> None:
    with pytest.raises(ValueError, match="deadline"):
        ServiceClient("auth", "http://x", timeout=0)
