"""The same gateway on cheroot, the keep-alive server ``launchpad up`` puts it on.

The gateway is a plain WSGI app, so its rules must not depend on the server in front of
it. These run the server-sensitive cases (raw target, Expect, chunked, keep-alive) there.
"""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Iterator

import pytest
from gateway_upstream import Upstream, header_values, raw_request, read_response

from launchpad.gateway import Gateway, Route
from launchpad.http.serve import serve


@pytest.fixture(scope="module")
def cheroot_port() -> Iterator[int]:
    """One upstream, gateway and cheroot server for the module (cheroot stops in ~0.5 s)."""
    upstream = Upstream()
    with (
        serve(upstream, name="upstream") as up,
        Gateway([Route("/auth", up.url)], upstream_timeout=2.0) as gateway,
        serve(gateway, name="gateway", server="cheroot") as front,
    ):
        yield front.port


def test_forwarding_and_keep_alive(cheroot_port: int) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", cheroot_port, timeout=5)
    for i in range(5):  # five requests, one client connection
        conn.request("POST", f"/auth/echo?i={i}", body=b"abc", headers={"x-correlation-id": "ch-1"})
        response = conn.getresponse()
        echo = json.loads(response.read())
        assert response.status == 200 and not response.will_close
        assert (echo["query"], echo["body_bytes"]) == (f"i={i}", 3)
        assert header_values(echo, "x-correlation-id") == ["ch-1"]
        assert header_values(echo, "x-forwarded-by") == ["gateway"]
    conn.close()


@pytest.mark.parametrize("target", ["/auth/%2e%2e/admin", "/auth/a%2fb", "/auth/%252e"])
def test_escapes_are_refused(cheroot_port: int, target: str) -> None:
    request = f"GET {target} HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n".encode()
    status, _, _ = raw_request(cheroot_port, request)
    assert status == 400


def test_absolute_form_is_refused(cheroot_port: int) -> None:
    request = b"GET http://evil.example/auth/echo HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n"
    status, _, _ = raw_request(cheroot_port, request)
    assert status == 400


def test_expect_100_continue_and_chunked_body(cheroot_port: int) -> None:
    with socket.create_connection(("127.0.0.1", cheroot_port), timeout=5) as sock:
        sock.sendall(
            b"POST /auth/echo HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n"
            b"Expect: 100-continue\r\nConnection: close\r\n\r\n"
        )
        assert sock.recv(1024).startswith(b"HTTP/1.1 100")
        sock.sendall(b"5\r\nhello\r\n0\r\n\r\n")
        status, headers, body = read_response(sock)
    echo = json.loads(body)
    assert (status, echo["body_bytes"]) == (200, 5)
    assert header_values(echo, "x-forwarded-by") == ["gateway"]
    assert header_values(echo, "x-correlation-id") == [headers["x-correlation-id"]]
