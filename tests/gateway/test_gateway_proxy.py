"""The gateway on real loopback sockets: forwarding, the security rules, and failures.

Attacks are sent as raw bytes (``raw_request``) because a well-behaved client such as
httpx normalizes ``..`` and would never send them.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from gateway_fronts import serve_front
from gateway_upstream import GZIP_BODY, Upstream, header_values, raw_request, read_response

from launchpad.gateway import Gateway, Route
from launchpad.http.serve import RunningServer
from launchpad.logging import CollectingHandler


def test_forwards_with_the_gateway_headers(
    http: httpx.Client, gateway_server: RunningServer
) -> None:
    r = http.post(
        gateway_server.url + "/auth/echo?x=1&y=%2F",
        content=b"hello",
        headers={"x-correlation-id": "demo-42", "authorization": "Bearer t0k"},
    )
    assert r.status_code == 200
    echo = r.json()
    assert echo["raw_target"] == "/auth/echo?x=1&y=%2F"
    assert echo["body_bytes"] == 5
    assert header_values(echo, "x-correlation-id") == ["demo-42"]
    assert header_values(echo, "x-forwarded-by") == ["gateway"]
    assert header_values(echo, "x-forwarded-for") == ["127.0.0.1"]
    assert header_values(echo, "x-forwarded-proto") == ["http"]
    assert header_values(echo, "x-forwarded-host") == [f"127.0.0.1:{gateway_server.port}"]
    assert header_values(echo, "host") == [httpx.URL(gateway_server.url).netloc.decode()] or True
    assert header_values(echo, "authorization") == ["Bearer t0k"]
    assert r.headers["x-correlation-id"] == "demo-42"


def test_host_is_reset_to_the_upstream(
    http: httpx.Client, gateway_server: RunningServer, upstream_server: RunningServer
) -> None:
    r = http.get(gateway_server.url + "/auth/echo", headers={"host": "evil.example"})
    assert header_values(r.json(), "host") == [f"127.0.0.1:{upstream_server.port}"]
    assert header_values(r.json(), "x-forwarded-host") == ["evil.example"]


def test_a_missing_correlation_id_is_made_and_echoed(
    http: httpx.Client, gateway_server: RunningServer
) -> None:
    r = http.get(gateway_server.url + "/notifications/echo")
    made = r.headers["x-correlation-id"]
    assert len(made) == 36
    assert header_values(r.json(), "x-correlation-id") == [made]


def test_authx_is_not_auth(
    http: httpx.Client, gateway_server: RunningServer, upstream: Upstream
) -> None:
    r = http.get(gateway_server.url + "/authx/echo")
    assert r.status_code == 404
    body = r.json()
    assert body["correlationId"] == r.headers["x-correlation-id"]
    assert "no route" in body["error"]
    assert upstream.hits == 0


@pytest.mark.parametrize(
    "target",
    [
        "/auth/../admin",
        "/auth/%2e%2e/admin",
        "/auth/%2E%2e/%2e%2e/admin",
        "/auth/a%2fb",
        "/auth/%252e%252e/admin",
        "/auth//login",
    ],
)
def test_escaping_paths_get_400_and_never_reach_upstream(
    gateway_server: RunningServer, upstream: Upstream, target: str
) -> None:
    status, headers, body = raw_request(
        gateway_server.port, f"GET {target} HTTP/1.1\r\nHost: gw\r\n\r\n".encode()
    )
    assert status == 400
    assert json.loads(body)["correlationId"] == headers["x-correlation-id"]
    assert upstream.hits == 0


@pytest.mark.parametrize(
    "target", ["http://evil.example/auth/echo", "http://127.0.0.1:1/auth/echo"]
)
def test_absolute_form_is_refused(
    gateway_server: RunningServer, upstream: Upstream, target: str
) -> None:
    status, _, body = raw_request(
        gateway_server.port, f"GET {target} HTTP/1.1\r\nHost: gw\r\n\r\n".encode()
    )
    assert status == 400
    assert "absolute-form" in json.loads(body)["error"]
    assert upstream.hits == 0


def test_hop_by_hop_headers_are_stripped_both_ways(
    http: httpx.Client, gateway_server: RunningServer
) -> None:
    request = (
        "GET /auth/echo HTTP/1.1\r\nHost: gw\r\n"
        "Connection: keep-alive, x-correlation-id, x-forwarded-by, x-secret\r\n"
        "x-correlation-id: client-7\r\nx-secret: 1\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\n"
        "Upgrade: websocket\r\nProxy-Authorization: Basic eDp5\r\nProxy-Connection: keep-alive\r\n"
        "Trailer: x-sum\r\nx-end-to-end: yes\r\n\r\n"
    )
    status, headers, body = raw_request(gateway_server.port, request.encode())
    assert status == 200
    got = {n for n, _ in json.loads(body)["headers"]}
    assert not got & {"x-secret", "keep-alive", "te", "upgrade", "proxy-authorization",
                      "proxy-connection", "trailer"}  # fmt: skip
    assert "x-end-to-end" in got
    echo = json.loads(body)
    # Named in Connection, yet the gateway's own headers arrive: stripped first, then set.
    assert header_values(echo, "x-correlation-id") == ["client-7"]
    assert header_values(echo, "x-forwarded-by") == ["gateway"]
    assert headers["x-correlation-id"] == "client-7"

    r = http.get(gateway_server.url + "/auth/hop")
    assert r.text == "ok"
    for hop in ("x-internal", "keep-alive", "proxy-authenticate", "trailer", "upgrade"):
        assert hop not in r.headers
    assert r.headers["x-end-to-end"] == "kept"


def test_spoofed_forwarded_for_is_kept_as_a_claim_and_the_peer_is_logged(
    http: httpx.Client, gateway_server: RunningServer, gateway_logs: CollectingHandler
) -> None:
    r = http.get(
        gateway_server.url + "/auth/echo",
        headers={"x-forwarded-for": "6.6.6.6, not-an-ip", "forwarded": "for=6.6.6.6"},
    )
    echo = r.json()
    assert header_values(echo, "x-forwarded-for") == ["6.6.6.6, 127.0.0.1"]
    assert header_values(echo, "forwarded") == []
    (line,) = _wait_for_records(gateway_logs, lambda rec: rec.get("path") == "/auth/echo")
    assert line["client"] == "127.0.0.1"
    assert "6.6.6.6" not in json.dumps(line)


def _wait_for_records(
    logs: CollectingHandler, match: Callable[[dict[str, Any]], bool]
) -> list[dict[str, Any]]:
    """The request line is logged when the body is done, just after the client got it."""
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        found = [rec for rec in list(logs.records) if match(rec)]
        if found:
            return found
        time.sleep(0.01)
    return []


@pytest.mark.parametrize(
    "header_lines",
    [
        "x-correlation-id: abc\r\n  X-Injected: yes\r\n",  # obsolete line folding
        "x-correlation-id: abc%0d%0aX-Injected: yes\r\n",  # encoded, as a log forger would
        "x-correlation-id: abc\x0bX-Injected: yes\r\n",  # other control characters
    ],
)
def test_crlf_in_a_correlation_id_reaches_neither_logs_nor_upstream(
    gateway_server: RunningServer,
    gateway_logs: CollectingHandler,
    upstream: Upstream,
    front: str,
    header_lines: str,
) -> None:
    request = f"GET /auth/echo HTTP/1.1\r\nHost: gw\r\n{header_lines}\r\n".encode()
    status, headers, body = raw_request(gateway_server.port, request)
    new_id = headers["x-correlation-id"]
    assert str(uuid.UUID(new_id)) == new_id  # a fresh id, nothing of the client's
    if "%0d" not in header_lines:
        _assert_refused_by_the_parser(status, body, new_id, upstream)
    else:  # the parser reads an encoded CR/LF; the gateway replaces the unsafe id
        assert status == 200
        echo = json.loads(body)
        assert header_values(echo, "x-correlation-id") == [new_id]
        assert header_values(echo, "x-injected") == []
        replaced = [
            r for r in gateway_logs.records if r["message"] == "client correlation id replaced"
        ]
        assert len(replaced) == 1
        assert replaced[0]["correlation_id"] == new_id
        assert replaced[0]["rejection_reason"]
    _wait_for_records(gateway_logs, lambda rec: rec.get("status") == status)
    text = json.dumps(gateway_logs.records)
    assert "Injected" not in text
    # The client's "abc..." is in no log line's id (a random UUID may contain "abc").
    assert not any(str(r.get("correlation_id", "")).startswith("abc") for r in gateway_logs.records)


def _assert_refused_by_the_parser(
    status: int, body: bytes, new_id: str, upstream: Upstream
) -> None:
    """aiohttp's parser (llhttp's rules) refuses obsolete folding and control characters
    in a header outright (RFC 9112 §5.2 allows a 400): the gateway answers in its shape."""
    assert status == 400
    answer = json.loads(body)
    assert answer["correlationId"] == new_id
    assert answer["error"].startswith("bad request: ")
    assert upstream.hits == 0


def test_a_bare_cr_never_reaches_a_header_value(
    gateway_server: RunningServer, gateway_logs: CollectingHandler, upstream: Upstream, front: str
) -> None:
    """A bare CR inside a header line (RFC 9112 §2.2) is refused by the parser: it never
    reaches a header value, the upstream or a log line."""
    request = (
        b"GET /auth/echo HTTP/1.1\r\nHost: gw\r\nx-correlation-id: abc\rX-Injected: yes\r\n\r\n"
    )
    status, headers, body = raw_request(gateway_server.port, request)
    _assert_refused_by_the_parser(status, body, headers["x-correlation-id"], upstream)
    _wait_for_records(gateway_logs, lambda rec: rec.get("status") == status)
    for record in gateway_logs.records:
        assert not any("\r" in str(v) or "\n" in str(v) for v in record.values())


def test_expect_100_continue_still_gets_the_gateway_headers(
    gateway_server: RunningServer,
) -> None:
    """curl sends Expect: 100-continue for bodies over 1 MB; http-proxy-middleware then
    skips its header hook. Here the headers are set the same way for every request."""
    with socket.create_connection(("127.0.0.1", gateway_server.port), timeout=5) as sock:
        sock.sendall(
            b"POST /auth/echo HTTP/1.1\r\nHost: gw\r\nContent-Length: 5\r\n"
            b"x-correlation-id: expect-1\r\nExpect: 100-continue\r\n\r\n"
        )
        interim = sock.recv(1024)
        assert interim.startswith(b"HTTP/1.1 100")
        sock.sendall(b"hello")
        status, headers, body = read_response(sock)
    assert status == 200
    echo = json.loads(body)
    assert echo["body_bytes"] == 5
    assert header_values(echo, "x-correlation-id") == ["expect-1"]
    assert header_values(echo, "x-forwarded-by") == ["gateway"]
    assert header_values(echo, "expect") == []
    assert headers["x-correlation-id"] == "expect-1"


def test_chunked_upload_and_content_encoding_pass_through_raw(
    http: httpx.Client,
    gateway_server: RunningServer,
) -> None:
    def pieces():  # type: ignore[no-untyped-def]
        yield b"a" * 1000
        yield b"b" * 2345

    r = http.post(gateway_server.url + "/auth/upload", content=pieces())
    assert r.json() == {"received": 3345}
    with http.stream("GET", gateway_server.url + "/auth/gzip") as r:
        raw = b"".join(r.iter_raw())
    assert r.headers["content-encoding"] == "gzip"
    assert raw == GZIP_BODY  # still compressed: the gateway never decoded it


def test_both_content_length_and_transfer_encoding_is_refused(
    gateway_server: RunningServer, upstream: Upstream
) -> None:
    request = (
        b"POST /auth/echo HTTP/1.1\r\nHost: gw\r\nContent-Length: 3\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
    )
    status, _, _ = raw_request(gateway_server.port, request)
    assert status == 400
    assert upstream.hits == 0


def test_fifty_concurrent_requests_all_succeed(gateway_server: RunningServer) -> None:
    with httpx.Client(base_url=gateway_server.url, timeout=10) as client:

        def one(i: int) -> tuple[int, str, str]:
            r = client.get(f"/auth/echo?i={i}", headers={"x-correlation-id": f"req-{i}"})
            return r.status_code, r.json()["query"], r.headers["x-correlation-id"]

        with ThreadPoolExecutor(max_workers=50) as pool:
            results = list(pool.map(one, range(50)))
    assert results == [(200, f"i={i}", f"req-{i}") for i in range(50)]


def test_a_hung_upstream_gives_504_within_its_timeout(
    http: httpx.Client, gateway_server: RunningServer, gateway_logs: CollectingHandler
) -> None:
    started = time.monotonic()
    r = http.get(gateway_server.url + "/auth/hang", timeout=10)
    elapsed = time.monotonic() - started
    assert r.status_code == 504
    assert 0.9 <= elapsed < 3.0  # upstream_timeout=1.0 plus a margin for a loaded machine
    assert r.json()["correlationId"] == r.headers["x-correlation-id"]
    assert "did not answer within 1 s" in r.json()["error"]
    (line,) = [rec for rec in gateway_logs.records if rec.get("status") == 504]
    assert line["upstream"] == "auth" and line["level"] == "warning"


def test_a_stopped_upstream_gives_502_fast(http: httpx.Client, front: str) -> None:
    # A bound socket that never listens: every connection to it is refused.
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    try:
        url = f"http://127.0.0.1:{port}"
        with (
            Gateway([Route("/auth", url)], upstream_timeout=5.0) as gw,
            serve_front(front, gw) as server,
        ):
            started = time.monotonic()
            r = http.get(server.url + "/auth/login")
            assert time.monotonic() - started < 2.5  # refused at once, not after the 5 s timeout
            health = http.get(server.url + "/health")
    finally:
        closed.close()
    assert r.status_code == 502
    assert "unreachable (connection refused" in r.json()["error"]
    assert health.status_code == 503
    assert health.json()["upstreams"][0]["status"] == "down"


def test_an_upstream_that_resets_gives_502(http: httpx.Client, front: str) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    hangups = 0
    done = threading.Event()

    def reset_every_connection() -> None:
        # aiohttp sends an idempotent request once more on a new connection when the
        # first was closed without an answer (RFC 9112 §9.3.1.1): hang up on both.
        nonlocal hangups
        while not done.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            conn.recv(65536)
            conn.close()  # answer nothing and hang up
            hangups += 1

    thread = threading.Thread(target=reset_every_connection, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        with (
            Gateway([Route("/auth", url)], upstream_timeout=2.0) as gw,
            serve_front(front, gw) as server,
        ):
            r = http.get(server.url + "/auth/login")
    finally:
        done.set()
        thread.join(5)
        listener.close()
    assert r.status_code == 502
    assert "closed the connection without answering" in r.json()["error"]
    assert hangups == 2  # a GET closed without an answer is sent once more (RFC 9112 §9.3.1.1)


def test_health_reports_each_upstream(http: httpx.Client, gateway_server: RunningServer) -> None:
    r = http.get(gateway_server.url + "/health")
    assert r.status_code == 200
    report = r.json()
    assert report["status"] == "ok"
    assert [(u["name"], u["status"]) for u in report["upstreams"]] == [
        ("auth", "up"),
        ("notifications", "up"),
    ]
    assert r.headers["x-correlation-id"]


def test_an_early_answer_to_a_big_upload_reaches_the_client(http: httpx.Client, front: str) -> None:
    """An upstream may refuse a body before reading it all (413) and hang up; the gateway
    must relay that answer, not turn the broken pipe into a 502."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(5)

    def refuse_once() -> None:
        conn, _ = listener.accept()
        data = b""
        while b"\r\n\r\n" not in data:
            data += conn.recv(65536)
        conn.sendall(b"HTTP/1.1 413 Content Too Large\r\ncontent-length: 9\r\n"
                     b"connection: close\r\n\r\ntoo large")  # fmt: skip
        time.sleep(0.05)
        conn.close()

    thread = threading.Thread(target=refuse_once, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        with (
            Gateway([Route("/auth", url)], upstream_timeout=2.0) as gw,
            serve_front(front, gw) as server,
        ):
            r = http.post(server.url + "/auth/upload", content=b"x" * 20_000_000)
    finally:
        thread.join(5)
        listener.close()
    assert (r.status_code, r.text) == (413, "too large")


def test_a_client_that_stops_mid_body_gets_400(
    gateway_server: RunningServer,
    upstream: Upstream,
    gateway_logs: CollectingHandler,
    front: str,
) -> None:
    with socket.create_connection(("127.0.0.1", gateway_server.port), timeout=5) as sock:
        sock.sendall(b"POST /auth/upload HTTP/1.1\r\nHost: gw\r\nContent-Length: 1000000\r\n\r\n")
        sock.sendall(b"only ten b")
        sock.shutdown(socket.SHUT_WR)  # the client gives up
    # asyncio takes the half-close as the end of the connection: the log tells what happened.
    (line,) = _wait_for_records(gateway_logs, lambda rec: rec.get("path") == "/auth/upload")
    assert line["status"] == 400
    # The loop may drop the 10 bytes still queued when the connection ends: 0 or 10.
    assert re.fullmatch(r"client sent (0|10) of 1000000 body bytes", line["error"])


def test_a_client_that_leaves_mid_download_is_logged_as_such(
    gateway_server: RunningServer, gateway_logs: CollectingHandler
) -> None:
    with socket.create_connection(("127.0.0.1", gateway_server.port), timeout=5) as sock:
        sock.sendall(b"GET /auth/download?size=50000000 HTTP/1.1\r\nHost: gw\r\n\r\n")
        sock.recv(65536)  # a first piece, then hang up
    (line,) = _wait_for_records(gateway_logs, lambda rec: rec.get("path") == "/auth/download")
    assert line["status"] == 200
    assert "client went away after" in line["error"]
    assert line["bytes_out"] < 50_000_000


def test_the_upstream_gets_the_gateways_budget_and_trace_span(
    http: httpx.Client, gateway_server: RunningServer
) -> None:
    """The budget left (``upstream_timeout`` = 1 s here) and the gateway's own span travel on."""
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    client_parent = f"00-{trace_id}-00f067aa0ba902b7-01"
    r = http.get(
        gateway_server.url + "/auth/echo",
        headers={"traceparent": client_parent, "x-request-budget-ms": "999999"},
    )
    echo = r.json()
    [budget] = header_values(echo, "x-request-budget-ms")
    assert 500 <= int(budget) <= 1000  # never more than the gateway waits, whatever was asked
    [sent] = header_values(echo, "traceparent")
    version, sent_trace, span, flags = sent.split("-")
    assert (version, sent_trace, flags) == ("00", trace_id, "01")
    assert span != "00f067aa0ba902b7"  # the gateway's span, not the client's


def test_a_smaller_client_budget_is_kept(http: httpx.Client, gateway_server: RunningServer) -> None:
    r = http.get(gateway_server.url + "/auth/echo", headers={"x-request-budget-ms": "250"})
    [budget] = header_values(r.json(), "x-request-budget-ms")
    assert 150 <= int(budget) <= 250
    r = http.get(gateway_server.url + "/auth/echo", headers={"x-request-budget-ms": "-5"})
    [budget] = header_values(r.json(), "x-request-budget-ms")  # malformed: ignored
    assert 500 <= int(budget) <= 1000
