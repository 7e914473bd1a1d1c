"""Deadlines that travel, a deadline over the whole call, and a cap on the answer's size.

The promises (see ``launchpad/http/deadline.py`` and ``client.py``):

* the budget header is parsed strictly: digits only, capped, anything else ignored;
* a service that got a budget gives its own calls ``min(timeout, left - margin)`` and
  forwards what is left, so it answers its caller before the caller gives up;
* one deadline covers every attempt and every backoff wait of a call;
* a body over ``max_response_bytes`` is an error, found while counting, not after
  holding it all (a declared length, an endless stream, a gzip bomb).
"""

from __future__ import annotations

import gzip
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from launchpad.http.client import (
    ResponseTooLarge,
    ServiceClient,
    ServiceTimeout,
    UnexpectedStatus,
)
from launchpad.http.deadline import (
    BUDGET_HEADER,
    MAX_BUDGET_MS,
    format_budget,
    parse_budget,
    request_budget,
    request_time_left,
)
from launchpad.http.serve import serve
from launchpad.http.web import ApiError, Request, WebApp

MARGIN = 1.0  # seconds a loaded 2-core machine may add to a deadline

# -- the header: a strict little parser ------------------------------------------------------


@given(st.text(max_size=20))
def test_any_text_is_a_budget_in_range_or_none(value: str) -> None:
    seconds = parse_budget(value)
    assert seconds is None or 0 <= seconds <= MAX_BUDGET_MS / 1000
    if seconds is not None:
        assert value.strip(" \t").isascii() and value.strip(" \t").isdigit()


@given(st.integers(min_value=0, max_value=10**10 - 1))
def test_digits_are_milliseconds_capped_at_an_hour(ms: int) -> None:
    assert parse_budget(str(ms)) == min(ms, MAX_BUDGET_MS) / 1000


@given(st.floats(min_value=-5, max_value=4000, allow_nan=False))
def test_format_then_parse_rounds_down_to_the_millisecond(seconds: float) -> None:
    back = parse_budget(format_budget(seconds))
    assert back is not None
    assert back <= max(0.0, seconds) + 1e-9
    assert back >= min(max(0.0, seconds), MAX_BUDGET_MS / 1000) - 0.001 - 1e-9


@pytest.mark.parametrize(
    "value", ["", " ", "-5", "+5", "1.5", "1e3", "0x10", "١٢", "12 34", "99999999999"]
)
def test_malformed_budgets_are_no_budget(value: str) -> None:
    assert parse_budget(value) is None


def test_request_budget_is_scoped() -> None:
    assert request_time_left() is None
    with request_budget(2.0):
        left = request_time_left()
        assert left is not None and 1.5 < left <= 2.0
        with request_budget(None):
            assert request_time_left() is None
    assert request_time_left() is None


# -- what a ServiceClient forwards, and when it does not even try --------------------------


def _budget_echo(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    raw = json.dumps({"budget": environ.get("HTTP_X_REQUEST_BUDGET_MS")}).encode()
    start_response("200 OK", [("content-type", "application/json")])
    return [raw]


@pytest.fixture(scope="module")
def echo_url() -> Iterator[str]:
    with serve(_budget_echo, name="echo") as server:
        yield server.url


@settings(deadline=None)  # a loaded machine may take a while for one call
@given(
    budget=st.floats(min_value=0.3, max_value=5.0),
    timeout=st.floats(min_value=0.3, max_value=5.0),
    margin=st.floats(min_value=0.0, max_value=0.2),
)
def test_the_forwarded_budget_is_min_of_timeout_and_left_minus_margin(
    budget: float, timeout: float, margin: float
) -> None:
    client = ServiceClient(
        "echo", "http://echo", timeout, httpx.WSGITransport(app=_budget_echo), margin=margin
    )
    with request_budget(budget):
        sent = int(client.get("/").json()["budget"])
    assert sent <= min(timeout, budget - margin) * 1000
    assert sent >= (min(timeout, budget - margin) - MARGIN) * 1000  # minus time spent getting there
    client.close()


def test_a_budget_travels_on_real_sockets(echo_url: str) -> None:
    with ServiceClient("echo", echo_url, timeout=3.0, margin=0.1) as client:
        assert int(client.get("/").json()["budget"]) <= 3000  # no budget: its own timeout
        with request_budget(0.8):
            assert 400 <= int(client.get("/").json()["budget"]) <= 700


def test_no_call_is_made_when_the_budget_is_spent() -> None:
    calls: list[str] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        calls.append(environ["PATH_INFO"])
        start_response("200 OK", [])
        return [b""]

    client = ServiceClient("auth", "http://auth", 3.0, httpx.WSGITransport(app=app), margin=0.1)
    with request_budget(0.05), pytest.raises(ServiceTimeout) as info:
        client.get("/auth/verify")
    assert calls == []
    assert "no time left" in str(info.value) and info.value.seconds == 0


# -- one deadline for the whole call, retries and backoff included -------------------------


def test_retries_share_one_deadline_against_a_hung_server() -> None:
    hung = socket.socket()
    hung.bind(("127.0.0.1", 0))
    hung.listen(16)  # accepts connections (the kernel does), never answers
    url = f"http://127.0.0.1:{hung.getsockname()[1]}"
    client = ServiceClient("inventory", url, timeout=1.0, retries=3, backoff=0.05)
    started = time.monotonic()
    with pytest.raises(ServiceTimeout):
        client.get("/stock")  # four fresh 1 s deadlines would take over 4 s
    assert time.monotonic() - started < 1.0 + MARGIN
    client.close()
    hung.close()


def test_no_backoff_wait_outlives_the_deadline() -> None:
    calls = {"n": 0}

    def always_503(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        calls["n"] += 1
        start_response("503 Service Unavailable", [("content-length", "0")])
        return [b""]

    client = ServiceClient(
        "inventory",
        "http://inv",
        0.5,
        httpx.WSGITransport(app=always_503),
        retries=10,
        backoff=0.2,
    )
    started = time.monotonic()
    with pytest.raises(UnexpectedStatus):
        client.get("/stock")  # ten backoffs of up to 0.2 * 2**n s would take minutes
    assert time.monotonic() - started < 0.5 + MARGIN
    assert 1 <= calls["n"] <= 11


# -- a service that got a budget answers before its caller gives up ------------------------


def test_a_service_answers_within_the_budget_it_was_given() -> None:
    release = threading.Event()
    seen: list[str | None] = []

    def hung_auth(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.append(environ.get("HTTP_X_REQUEST_BUDGET_MS"))
        release.wait(10)
        start_response("200 OK", [])
        return [b""]

    auth_server = serve(hung_auth, name="auth")
    auth = ServiceClient("auth", auth_server.url, timeout=3.0)  # its own timeout: 3 s
    app = WebApp("notifications")

    @app.get("/work")
    def work(request: Request) -> dict[str, str]:
        try:
            auth.get("/auth/verify")
        except ServiceTimeout as exc:
            raise ApiError(503, f"auth did not answer within {exc.seconds:.2f} s") from None
        return {"ok": "yes"}

    server = serve(app, name="notifications")
    try:
        with httpx.Client(timeout=5) as caller:
            started = time.monotonic()
            r = caller.get(f"{server.url}/work", headers={BUDGET_HEADER: "800"})
            took = time.monotonic() - started
        assert r.status_code == 503
        # the call to auth got what was left minus the margin, not auth's own 3 s...
        given = float(r.json()["error"].split("within ")[1].split(" s")[0])
        assert 0.5 <= given <= 0.7
        assert seen and seen[0] is not None and 500 <= int(seen[0]) <= 700
        # ...so the answer came near the 800 ms budget, far from the 3 s (loaded machine: margin)
        assert took < 0.8 + MARGIN
    finally:
        release.set()
        server.stop()
        auth_server.stop()
        auth.close()


def test_a_spent_budget_is_answered_504_without_running_the_handler() -> None:
    ran: list[bool] = []
    app = WebApp("svc")

    @app.get("/work")
    def work(request: Request) -> dict[str, str]:
        ran.append(True)
        return {"left": f"{request_time_left()}"}

    with httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://svc") as c:
        r = c.get("/work", headers={BUDGET_HEADER: "0"})
        assert r.status_code == 504 and ran == []
        r = c.get("/work", headers={BUDGET_HEADER: "not-a-number"})
        assert r.status_code == 200 and r.json() == {"left": "None"}  # ignored, not fatal
        r = c.get("/work", headers={BUDGET_HEADER: "2000"})
        assert 1.0 < float(r.json()["left"]) <= 2.0


# -- the size cap ---------------------------------------------------------------------------


def _raw_server(reply: bytes, then_forever: bytes = b"") -> tuple[socket.socket, dict[str, int]]:
    """A socket server that sends ``reply``, then ``then_forever`` until the client leaves."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(4)
    sent = {"bytes": 0}

    def run() -> None:
        try:
            conn, _ = sock.accept()
        except OSError:
            return
        with conn:
            try:
                conn.recv(65536)
                conn.sendall(reply)
                sent["bytes"] += len(reply)
                while then_forever:
                    conn.sendall(then_forever)
                    sent["bytes"] += len(then_forever)
            except OSError:
                pass

    threading.Thread(target=run, daemon=True).start()
    return sock, sent


def test_an_endless_body_is_cut_off_at_the_cap() -> None:
    chunk = b"x" * 65536
    endless = b"%x\r\n%s\r\n" % (len(chunk), chunk)
    sock, sent = _raw_server(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n", endless)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    client = ServiceClient("auth", url, timeout=5.0, max_response_bytes=1_000_000)
    with client, pytest.raises(ResponseTooLarge, match="over 1000000 bytes"):
        client.get("/")
    time.sleep(0.1)
    assert sent["bytes"] < 20_000_000  # stopped reading: not the gigabytes it would send
    sock.close()


def test_a_declared_length_over_the_cap_fails_before_reading() -> None:
    head = b"HTTP/1.1 200 OK\r\ncontent-length: 5000000000\r\n\r\n"
    sock, _ = _raw_server(head)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    with ServiceClient("auth", url, timeout=5.0, max_response_bytes=1000) as client:
        started = time.monotonic()
        with pytest.raises(ResponseTooLarge):
            client.get("/")
        assert time.monotonic() - started < 5.0  # did not wait for the 5 GB
    sock.close()


def test_a_gzip_bomb_counts_as_big_as_it_unpacks() -> None:
    bomb = gzip.compress(b"\0" * 5_000_000)  # about 5 KB on the wire
    head = b"HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-length: %d\r\n\r\n" % len(bomb)
    sock, _ = _raw_server(head + bomb)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    client = ServiceClient("auth", url, timeout=5.0, max_response_bytes=1_000_000)
    with client, pytest.raises(ResponseTooLarge):
        client.get("/")
    sock.close()


def test_an_in_process_app_is_capped_too_and_small_bodies_pass() -> None:
    produced = {"bytes": 0}

    def big_app(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", [("content-type", "text/plain")])
        for _ in range(10_000):
            produced["bytes"] += 10_000
            yield b"y" * 10_000

    client = ServiceClient(
        "big", "http://big", 5.0, httpx.WSGITransport(app=big_app), max_response_bytes=50_000
    )
    with pytest.raises(ResponseTooLarge):
        client.get("/")
    assert produced["bytes"] <= 70_000  # stopped pulling from the app at the cap
    small = ServiceClient(
        "echo", "http://echo", 5.0, httpx.WSGITransport(app=_budget_echo), max_response_bytes=100
    )
    assert 4000 <= int(small.get("/").json()["budget"]) <= 5000  # a small body passes


def test_a_compressed_small_answer_reads_normally(echo_url: str) -> None:
    body = gzip.compress(b'{"ok": true}')
    head = b"HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-length: %d\r\n\r\n" % len(body)
    sock, _ = _raw_server(head + body)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    with ServiceClient("auth", url, timeout=5.0) as client:
        response = client.get("/")
        assert response.json() == {"ok": True}
        assert "content-encoding" not in response.headers  # the body is decoded
    sock.close()
