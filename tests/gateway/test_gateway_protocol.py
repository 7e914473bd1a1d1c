"""The protocol rules of :mod:`launchpad.gateway.rules`, each with the RFC it comes from.

Every finding is sent as raw bytes to the event-loop front, and so are its neighbours
(other versions, other refused methods, other malformed authorities): a rule that holds
for the one example an auditor tried but not the next is not a rule.
"""

from __future__ import annotations

import json
import socket
import time

import pytest
from gateway_upstream import Upstream, header_values, raw_request, read_response
from hypothesis import given
from hypothesis import strategies as st

from launchpad.gateway.rules import (
    FORWARDED_METHODS,
    Limits,
    check_request,
    refuse_request_line,
    valid_host,
)
from launchpad.http.serve import RunningServer


@pytest.fixture
def front() -> str:
    """These rules are the event-loop front's (the WSGI front is being removed)."""
    return "event-loop"


def _closed_after(sock: socket.socket) -> bool:
    """True when the server closed the connection after its answer."""
    sock.settimeout(5)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


@pytest.mark.parametrize("version", ["HTTP/2.0", "HTTP/3.0", "HTTP/1.2", "HTTP/0.9"])
def test_versions_other_than_1_0_and_1_1_get_505(
    gateway_server: RunningServer, upstream: Upstream, version: str
) -> None:
    """RFC 9110 §6.2 and §15.6.6: a version we do not speak is 505, framed as HTTP/1.1."""
    request = f"GET /auth/echo {version}\r\nHost: gw\r\n\r\n".encode()
    with socket.create_connection(("127.0.0.1", gateway_server.port), timeout=10) as sock:
        sock.sendall(request)
        head = sock.recv(65536)
        assert head.startswith(b"HTTP/1.1 505 "), head[:40]
        assert f"{version} is not supported".encode() in head
        assert _closed_after(sock) or head.endswith(b"}")
    assert upstream.hits == 0


def test_a_version_dripped_a_byte_at_a_time_still_gets_505(
    gateway_server: RunningServer, upstream: Upstream
) -> None:
    """The parser refuses HTTP/1.2 on its last byte; the gateway kept the line's first bytes.

    The head's other bytes arrive after the answer (the pause makes that certain): the
    gateway reads and drops them instead of closing on them, since closing a socket with
    unread bytes sends an RST, which fails the client's next send and can destroy the
    answer it has not read yet.
    """
    with socket.create_connection(("127.0.0.1", gateway_server.port), timeout=10) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for byte in b"GET /auth/echo HTTP/1.2\r\n":
            sock.sendall(bytes([byte]))
        time.sleep(0.3)
        for byte in b"Host: gw\r\n\r\n":
            sock.sendall(bytes([byte]))
            time.sleep(0.01)
        status, _, body = read_response(sock)
    assert status == 505 and b"HTTP/1.2" in body
    assert upstream.hits == 0


@pytest.mark.parametrize("method", ["CONNECT", "TRACE"])
def test_connect_and_trace_are_refused_not_forwarded(
    gateway_server: RunningServer, upstream: Upstream, method: str
) -> None:
    """RFC 9110 §9.3.6/§9.3.8 and §15.5.6: known methods the gateway will not run: 405 + Allow."""
    request = f"{method} /auth/x HTTP/1.1\r\nHost: gw\r\n\r\n".encode()
    status, headers, _ = raw_request(gateway_server.port, request)
    assert status == 405
    assert headers["allow"] == ", ".join(FORWARDED_METHODS)
    assert upstream.hits == 0


@pytest.mark.parametrize("method", ["PROPFIND", "FOO", "BREW", "get", "X-CUSTOM"])
def test_unknown_methods_get_501(
    gateway_server: RunningServer, upstream: Upstream, method: str
) -> None:
    """RFC 9110 §9.1: a method the server does not recognize is 501 (methods are
    case-sensitive, §9.1: ``get`` is not GET), whether the rules or the parser saw it first."""
    status, _, body = raw_request(
        gateway_server.port, f"{method} /auth/x HTTP/1.1\r\nHost: gw\r\n\r\n".encode()
    )
    assert status == 501, body
    assert json.loads(body)["error"] == "unknown method"
    assert upstream.hits == 0


@pytest.mark.parametrize("line", ["G\x01T /auth/x HTTP/1.1", "GET /auth/x HTTP/1.10",
                                  "GET /auth/x http/1.1"])  # fmt: skip
def test_a_malformed_request_line_is_400(
    gateway_server: RunningServer, upstream: Upstream, line: str
) -> None:
    """RFC 9112 §3: not ``token SP target SP HTTP/d.d``: a bad request, not a version or
    method question. (Two spaces between the parts are read leniently, as §3 allows.)"""
    status, _, _ = raw_request(gateway_server.port, f"{line}\r\nHost: gw\r\n\r\n".encode())
    assert status == 400
    assert upstream.hits == 0


@pytest.mark.parametrize(
    "host",
    ["evil example", "a/b", "user@gw", "gw:80/x", "gw:99999", "gw:x", "[::1", "gw\tx"],
)
def test_malformed_host_gets_400(
    gateway_server: RunningServer, upstream: Upstream, host: str
) -> None:
    """RFC 9112 §3.2: a Host with an invalid value is 400, and it is not forwarded."""
    status, _, _ = raw_request(
        gateway_server.port, f"GET /auth/echo HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    )
    assert status == 400
    assert upstream.hits == 0


def test_host_missing_or_twice_gets_400(gateway_server: RunningServer, upstream: Upstream) -> None:
    """RFC 9112 §3.2: an HTTP/1.1 request has exactly one Host; HTTP/1.0 may have none."""
    port = gateway_server.port
    assert raw_request(port, b"GET /auth/echo HTTP/1.1\r\n\r\n")[0] == 400
    assert raw_request(port, b"GET /auth/echo HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")[0] == 400
    assert upstream.hits == 0
    assert raw_request(port, b"GET /auth/echo HTTP/1.0\r\n\r\n")[0] == 200


@pytest.mark.parametrize("host", ["gw", "gw:3000", "127.0.0.1:80", "[::1]:3000", "a.b-c_d"])
def test_well_formed_hosts_pass(gateway_server: RunningServer, host: str) -> None:
    status, _, _ = raw_request(
        gateway_server.port, f"GET /auth/echo HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    )
    assert status == 200


def test_http_1_0_with_transfer_encoding_is_refused_and_closed(
    gateway_server: RunningServer, upstream: Upstream
) -> None:
    """RFC 9112 §6.1: HTTP/1.0 plus Transfer-Encoding is faulty framing: close after it."""
    request = (
        b"POST /auth/echo HTTP/1.0\r\nHost: gw\r\nConnection: keep-alive\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", gateway_server.port), timeout=10) as sock:
        sock.sendall(request)
        status, _, _ = read_response(sock)
        assert status == 400
        assert _closed_after(sock)
    assert upstream.hits == 0


def test_no_100_continue_for_http_1_0(gateway_server: RunningServer) -> None:
    """RFC 9110 §15.2: a server must not send a 1xx answer to an HTTP/1.0 client."""
    request = (
        b"POST /auth/echo HTTP/1.0\r\nHost: gw\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", gateway_server.port), timeout=10) as sock:
        sock.sendall(request)
        sock.settimeout(0.5)
        with pytest.raises(TimeoutError):
            sock.recv(100)  # nothing: no "100 Continue", the gateway waits for the body
        sock.settimeout(10)
        sock.sendall(b"hello")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert data.startswith(b"HTTP/1.0 200 ") or data.startswith(b"HTTP/1.1 200 ")
    assert b"100 Continue" not in data


def test_100_continue_still_goes_to_http_1_1(gateway_server: RunningServer) -> None:
    request = (
        b"POST /auth/echo HTTP/1.1\r\nHost: gw\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", gateway_server.port), timeout=10) as sock:
        sock.sendall(request)
        assert sock.recv(100).startswith(b"HTTP/1.1 100 Continue")
        sock.sendall(b"hello")
        assert read_response(sock)[0] == 200


def test_utf8_header_bytes_cross_verbatim_both_ways(gateway_server: RunningServer) -> None:
    """RFC 9110 §5.5: field values are opaque bytes; UTF-8 is neither re-encoded nor mangled."""
    value = "Zoë ☕".encode()
    request = b"GET /auth/echo HTTP/1.1\r\nHost: gw\r\nx-name: " + value + b"\r\n\r\n"
    status, _, body = raw_request(gateway_server.port, request)
    assert status == 200
    [seen] = header_values(json.loads(body), "x-name")
    assert seen.encode("latin-1") == value  # the upstream got the very bytes
    with socket.create_connection(("127.0.0.1", gateway_server.port), timeout=10) as sock:
        sock.sendall(b"GET /auth/utf8 HTTP/1.1\r\nHost: gw\r\n\r\n")
        head = sock.recv(65536)
    assert b"\r\nx-name: " + "café ☕".encode() + b"\r\n" in head.replace(b"X-Name", b"x-name")


def test_a_header_that_is_not_utf8_is_refused(
    gateway_server: RunningServer, upstream: Upstream
) -> None:
    request = b"GET /auth/echo HTTP/1.1\r\nHost: gw\r\nx-name: caf\xe9\r\n\r\n"
    assert raw_request(gateway_server.port, request)[0] == 400
    assert upstream.hits == 0


def test_header_section_over_the_cap_gets_431(
    gateway_server: RunningServer, upstream: Upstream
) -> None:
    """RFC 6585 §5: 431 for a header section over the cap (32 KB: nginx's 4 x 8 KB)."""
    lines = b"".join(b"x-pad-%d: %s\r\n" % (i, b"a" * 4000) for i in range(9))  # ~36 KB
    status, _, _ = raw_request(
        gateway_server.port, b"GET /auth/echo HTTP/1.1\r\nHost: gw\r\n" + lines + b"\r\n"
    )
    assert status == 431
    lines = b"".join(b"x-pad-%d: %s\r\n" % (i, b"a" * 4000) for i in range(7))  # ~28 KB
    status, _, _ = raw_request(
        gateway_server.port, b"GET /auth/echo HTTP/1.1\r\nHost: gw\r\n" + lines + b"\r\n"
    )
    assert status == 200
    assert upstream.hits == 1


def test_one_header_line_over_8_kb_gets_431(gateway_server: RunningServer) -> None:
    request = b"GET /auth/echo HTTP/1.1\r\nHost: gw\r\nx-big: " + b"a" * 9000 + b"\r\n\r\n"
    assert raw_request(gateway_server.port, request)[0] == 431


# -- the pure rules, without a socket -------------------------------------------------


@given(st.binary(max_size=40))
def test_a_valid_host_never_holds_a_space_slash_or_at(value: bytes) -> None:
    if valid_host(value):
        assert not set(value.strip(b" \t")) & set(b" /@\t\r\n\\?#")


@given(st.sampled_from(["GET", "POST", "CONNECT", "TRACE", "X"]), st.integers(0, 3),
       st.integers(0, 9))  # fmt: skip
def test_check_request_forwards_only_known_methods_and_versions(
    method: str, major: int, minor: int
) -> None:
    refusal = check_request(method, (major, minor), [(b"Host", b"gw")], Limits(), "/")
    if refusal is None:
        assert method in FORWARDED_METHODS and (major, minor) in ((1, 0), (1, 1))
    elif (major, minor) not in ((1, 0), (1, 1)):
        assert refusal.status == 505 and refusal.close


_TCHARS = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_TOKEN = st.text(_TCHARS, min_size=1, max_size=12)  # RFC 9110 §5.6.2


@given(_TOKEN, st.integers(0, 9), st.integers(0, 9))
def test_a_refused_request_line_gets_the_status_the_rules_give(
    method: str, major: int, minor: int
) -> None:
    """Whether the parser or the rules see a line first, its version and method get one
    answer: the one ``check_request`` gives a request with a good Host."""
    line = f"{method} /x HTTP/{major}.{minor}".encode()
    by_line = refuse_request_line(line)
    by_rules = check_request(method, (major, minor), [(b"Host", b"gw")], Limits(), "/x")
    if by_rules is None:
        assert by_line is None
    else:
        assert by_line is not None
        assert (by_line.status, by_line.message) == (by_rules.status, by_rules.message)
        assert by_line.path == "/x"


@given(st.binary(max_size=60))
def test_a_line_that_is_not_a_request_line_is_left_to_the_parser(line: bytes) -> None:
    refusal = refuse_request_line(line)
    if refusal is not None:
        _method, target, version = line.split(b" ")
        assert version[:5] == b"HTTP/" and len(version) == 8 and target
        assert refusal.status in (405, 501, 505)
