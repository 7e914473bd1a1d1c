"""Authentication before body validation, on every route of auth and notifications, found
from the apps' own OpenAPI documents (so a route added later is covered without a word here):

* every operation that takes a body needs a token, except sign-up and login (the two ways
  to get one), named here on purpose;
* for every operation that needs a token, a stranger (no token, a forged one, another
  scheme) with any body, however broken, gets 401 and not a byte of the body is read;
  the same over a raw socket, with a body too large and a header that is wrong.
"""

from __future__ import annotations

import contextlib
import io
import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from counting_input import CountingInput
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from services_helpers import CHEAP, PASSWORD

from launchpad.http.client import ServiceClient
from launchpad.http.serve import serve
from launchpad.http.web import WebApp
from launchpad.queue import Queue
from launchpad.redis import EMBEDDED_URL, create_redis_connection
from launchpad.services.auth import AuthService, create_auth_app
from launchpad.services.notifications import NotificationService, create_notifications_app

PUBLIC_WITH_BODY = {("auth", "POST", "/auth/register"), ("auth", "POST", "/auth/login")}
"""The only operations that read a body from a caller without a token."""


@dataclass(frozen=True)
class Operation:
    service: str
    method: str
    path: str  # OpenAPI form: /notifications/{job_id}
    has_body: bool
    needs_token: bool


@pytest.fixture(scope="module")
def apps() -> Iterator[dict[str, WebApp]]:
    conn = create_redis_connection("auth-first", EMBEDDED_URL)
    queue = Queue(f"auth-first-{id(conn)}", conn)
    auth_service = AuthService(cost=CHEAP)
    auth_service.register("ada@example.com", PASSWORD, "Ada")
    auth_app = create_auth_app(auth_service, redis=conn)
    transport = httpx.WSGITransport(app=auth_app)
    with ServiceClient("auth", "http://auth", transport=transport) as client:
        notes = create_notifications_app(NotificationService(queue, client), redis=conn)
        yield {"auth": auth_app, "notifications": notes}
    queue.obliterate()


def operations(apps: dict[str, WebApp]) -> list[Operation]:
    found = []
    for service, app in apps.items():
        for path, methods in app.openapi()["paths"].items():
            for method, op in methods.items():
                found.append(
                    Operation(
                        service,
                        method.upper(),
                        path,
                        "requestBody" in op,
                        op.get("security") == [{"bearerAuth": []}],
                    )
                )
    return found


def test_every_operation_with_a_body_needs_a_token_except_signup_and_login(
    apps: dict[str, WebApp],
) -> None:
    ops = operations(apps)
    public = {(o.service, o.method, o.path) for o in ops if o.has_body and not o.needs_token}
    assert public == PUBLIC_WITH_BODY
    protected = {(o.service, o.method, o.path) for o in ops if o.needs_token}
    assert protected >= {
        ("auth", "GET", "/auth/verify"),
        ("notifications", "POST", "/notifications"),
        ("notifications", "GET", "/notifications/{job_id}"),
    }


def call(
    app: WebApp, method: str, path: str, body: bytes, authorization: str | None
) -> tuple[int, int, dict[str, Any]]:
    """(status, body bytes the app read, JSON answer) of one request, straight to WSGI."""
    stream = CountingInput(body)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SERVER_NAME": "app",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_IDEMPOTENCY_KEY": "not a safe key",
        "wsgi.url_scheme": "http",
        "wsgi.input": stream,
        "wsgi.errors": io.StringIO(),
    }
    if authorization is not None:
        environ["HTTP_AUTHORIZATION"] = authorization
    seen: list[str] = []
    answer = b"".join(app(environ, lambda status, headers, exc=None: seen.append(status)))
    return int(seen[0].split()[0]), stream.bytes_read, json.loads(answer)


HEADER_TEXT = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=60)
STRANGERS = st.one_of(
    st.none(),
    st.builds(lambda t: f"Bearer {t}", HEADER_TEXT),
    st.builds(lambda t: f"Basic {t}", HEADER_TEXT),
    st.sampled_from(["Bearer", "Bearer ", "bearer  x", "Token abc"]),
)
BODIES = st.one_of(
    st.binary(max_size=300),
    st.builds(lambda v: json.dumps(v).encode(), st.from_type(dict)),
    st.builds(
        lambda to, subject: json.dumps({"to": to, "subject": subject, "body": 5}).encode(),
        st.text(max_size=40),
        st.text(max_size=40),
    ),
    st.just(b"{" * 70_000),
)
SEGMENTS = st.text(min_size=1, max_size=40).map(lambda s: quote(s, safe=""))


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(data=st.data(), authorization=STRANGERS, body=BODIES, segment=SEGMENTS)
def test_a_stranger_gets_401_on_every_protected_operation_and_no_body_is_read(
    apps: dict[str, WebApp],
    data: st.DataObject,
    authorization: str | None,
    body: bytes,
    segment: str,
) -> None:
    protected = [o for o in operations(apps) if o.needs_token]
    op = data.draw(st.sampled_from(protected))
    path = op.path.replace("{job_id}", segment)
    status, read, answer = call(apps[op.service], op.method, path, body, authorization)
    assert status == 401, (op, answer)
    assert read == 0 and "fields" not in answer


@pytest.mark.parametrize(
    ("service", "request_line"),
    [
        ("notifications", "POST /notifications"),
        ("notifications", "GET /notifications/notification-x"),
        ("auth", "GET /auth/verify"),
    ],
)
def test_over_a_raw_socket_a_stranger_with_a_huge_bad_body_gets_401(
    apps: dict[str, WebApp], service: str, request_line: str
) -> None:
    body = b'{"to": "eve@example.com\\r\\nBcc: x", "subject": 5, ' + b"x" * 200_000
    head = (
        f"{request_line} HTTP/1.1\r\nHost: app\r\nAuthorization: Bearer forged\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    with (
        serve(apps[service], name=f"raw-{service}") as server,
        socket.create_connection((server.host, server.port), timeout=10) as sock,
    ):
        sock.sendall(head)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(body)  # the server may answer and close before reading it all
        answer = _read_response(sock)
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line.split()[1] == b"401", answer[:300]
    assert b'"fields"' not in rest and b"www-authenticate: bearer" in rest.lower()


def _read_response(sock: socket.socket) -> bytes:
    """One response, read to its Content-Length (werkzeug keeps a connection whose body
    was left unread open until the client gives up, so EOF is no end marker here)."""
    answer = b""
    while b"\r\n\r\n" not in answer or len(answer) < _expected(answer):
        chunk = sock.recv(65536)
        if not chunk:
            break
        answer += chunk
    return answer


def _expected(answer: bytes) -> int:
    head, _, _ = answer.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(head) + 4 + int(value)
    return len(answer)
