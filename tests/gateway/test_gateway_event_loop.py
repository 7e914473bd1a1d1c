"""What only the event-loop front (``serve_gateway``, what ``launchpad up`` runs) must do.

The rules every front keeps are in test_gateway_proxy.py, run on both. Here: client
keep-alive, how it starts and stops, what it refuses to serve, and the two settings a
proxy's HTTP client must get right (no cookie jar, no redirects).
"""

from __future__ import annotations

import http.client
import json
import socket
import time
from collections.abc import Iterable, Iterator
from typing import Any

import httpx
import pytest
from gateway_upstream import Upstream, header_values, raw_request

from launchpad.gateway import Gateway, Route
from launchpad.gateway.server import serve_gateway
from launchpad.http.serve import RunningServer, serve


def _cookie_then_redirect(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    """An upstream that sets a cookie on /login, redirects on /moved, echoes cookies else."""
    path = environ["PATH_INFO"]
    if path.endswith("/login"):
        start_response("200 OK", [("set-cookie", "session=alice-secret; Path=/"),
                                  ("content-length", "2")])  # fmt: skip
        return [b"ok"]
    if path.endswith("/moved"):
        start_response("302 Found", [("location", "/auth/elsewhere"), ("content-length", "0")])
        return []
    body = json.dumps({"cookie": environ.get("HTTP_COOKIE")}).encode()
    start_response("200 OK", [("content-type", "application/json"),
                              ("content-length", str(len(body)))])  # fmt: skip
    return [body]


@pytest.fixture(scope="module")
def loop_front() -> Iterator[RunningServer]:
    """One upstream and one event-loop gateway for the module."""
    with (
        serve(Upstream(), name="upstream") as up,
        Gateway([Route("/auth", up.url)], upstream_timeout=2.0) as gateway,
        serve_gateway(gateway) as front,
    ):
        yield front


def test_one_client_connection_carries_many_requests(loop_front: RunningServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", loop_front.port, timeout=5)
    for i in range(5):
        conn.request("POST", f"/auth/echo?i={i}", body=b"abc", headers={"x-correlation-id": "k-1"})
        response = conn.getresponse()
        echo = json.loads(response.read())
        assert response.status == 200 and not response.will_close
        assert (echo["query"], echo["body_bytes"]) == (f"i={i}", 3)
        assert header_values(echo, "x-correlation-id") == ["k-1"]
    conn.close()


def test_head_gets_the_headers_and_no_body(loop_front: RunningServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", loop_front.port, timeout=5)
    conn.request("HEAD", "/auth/download?size=5000")
    response = conn.getresponse()
    assert response.status == 200, response.getheaders()
    assert response.getheader("content-length") == "5000"
    assert response.read() == b""
    conn.close()


def test_an_oversized_header_is_a_json_431(loop_front: RunningServer) -> None:
    request = b"GET /auth/echo HTTP/1.1\r\nHost: gw\r\nx-big: " + b"a" * 20_000 + b"\r\n\r\n"
    status, headers, body = raw_request(loop_front.port, request)
    assert status == 431  # RFC 6585 §5
    answer = json.loads(body)
    assert answer["error"] == "a header line is too long"
    assert answer["correlationId"] == headers["x-correlation-id"]


@pytest.fixture(scope="module")
def cookie_front() -> Iterator[RunningServer]:
    """An event-loop gateway before the upstream that sets cookies and redirects."""
    with (
        serve(_cookie_then_redirect, name="upstream") as up,
        Gateway([Route("/auth", up.url)]) as gateway,
        serve_gateway(gateway) as front,
    ):
        yield front


def test_a_cookie_set_for_one_client_never_reaches_another(
    http: httpx.Client, cookie_front: RunningServer
) -> None:
    """A shared cookie jar in the gateway's client would log every user in as the last one."""
    alice = http.get(cookie_front.url + "/auth/login")
    assert alice.headers["set-cookie"].startswith("session=alice-secret")  # relayed
    bob = httpx.get(cookie_front.url + "/auth/whoami")  # a different client, no cookie sent
    assert bob.json() == {"cookie": None}


def test_a_redirect_is_relayed_not_followed(
    http: httpx.Client, cookie_front: RunningServer
) -> None:
    r = http.get(cookie_front.url + "/auth/moved")
    assert (r.status_code, r.headers["location"]) == (302, "/auth/elsewhere")


def test_a_busy_port_fails_at_start_and_loopback_only() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken, Gateway([]) as gateway:
        with pytest.raises(OSError):
            serve_gateway(gateway, taken.getsockname()[1])
        with pytest.raises(ValueError, match="loopback"):
            serve_gateway(gateway, host="0.0.0.0")


def test_stop_closes_the_port_promptly() -> None:
    with Gateway([]) as gateway:
        front = serve_gateway(gateway)
        assert httpx.get(front.url + "/nowhere").status_code == 404
        started = time.monotonic()
        front.stop()
        assert time.monotonic() - started < 3
    with pytest.raises(httpx.ConnectError):
        httpx.get(front.url + "/nowhere")


def test_a_bug_in_the_gateway_is_a_json_500_and_a_logged_stack(
    monkeypatch: pytest.MonkeyPatch, gateway_logs: Any
) -> None:
    with Gateway([]) as gateway, serve_gateway(gateway) as front:

        def broken(method: str, target: str) -> None:
            raise RuntimeError("a bug")

        monkeypatch.setattr(gateway, "decide", broken)
        r = httpx.get(front.url + "/auth/x")
    assert r.status_code == 500
    assert r.json() == {
        "error": "the gateway failed; its log has the details",
        "correlationId": r.headers["x-correlation-id"],
    }
    (failed,) = [rec for rec in gateway_logs.records if rec["message"] == "gateway failed"]
    assert "RuntimeError: a bug" in failed["error"]
    assert "a bug" not in r.text  # the stack stays in the log


def test_the_loop_is_uvloop_when_it_is_installed() -> None:
    """uvloop (a dependency off Windows) cut the gateway's CPU per request by about 20%."""
    uvloop = pytest.importorskip("uvloop")
    from launchpad.gateway.server import _new_loop

    loop = _new_loop()
    try:
        assert isinstance(loop, uvloop.Loop)
    finally:
        loop.close()
