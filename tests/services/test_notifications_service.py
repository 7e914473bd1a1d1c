"""The notification service: checks tokens with auth over sync HTTP (401 when invalid,
503 with a clear body when auth is down or slow), queues a job (202) under an unguessable
id, and reports its state only to the user who sent it."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from services_helpers import CHEAP, DOWN_REDIS, PASSWORD

from launchpad.http.client import ServiceClient
from launchpad.http.serve import RunningServer, serve
from launchpad.queue import Queue
from launchpad.redis import EMBEDDED_URL, create_redis_connection
from launchpad.services.auth import AuthService, create_auth_app
from launchpad.services.notifications import NotificationService, create_notifications_app

NOTE = {"to": "ada@example.com", "subject": "Hi", "body": "Hello Ada", "type": "email"}
BOB_NOTE = NOTE | {"to": "bob@example.com"}


class AuthOnAPort:
    """One auth service on a real port for the whole module, with Ada and Bob registered."""

    def __init__(self) -> None:
        self.service = AuthService(cost=CHEAP)
        self.server = serve(create_auth_app(self.service), name="auth")
        self.bearer = self._user("ada@example.com", "Ada")
        self.bob = self._user("bob@example.com", "Bob")
        self.client = ServiceClient("auth", self.server.url, timeout=3.0)

    def _user(self, email: str, name: str) -> dict[str, str]:
        self.service.register(email, PASSWORD, name)
        token = self.service.login(email, PASSWORD)
        assert token is not None
        return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def auth() -> Iterator[AuthOnAPort]:
    a = AuthOnAPort()
    yield a
    a.client.close()
    a.server.stop()


class Stack:
    """Notifications (reached via ``connect``) in front of the auth service on a port."""

    def __init__(self, auth: AuthOnAPort, queue_name: str, connect: Callable[[Any], httpx.Client]):
        conn = create_redis_connection("t", EMBEDDED_URL)
        self.queue = Queue(queue_name, conn)
        self.auth_client = auth.client
        self.bearer = auth.bearer
        self.bob = auth.bob
        service = NotificationService(self.queue, auth.client)
        self.client = connect(create_notifications_app(service, redis=conn))


@pytest.fixture
def stack(
    auth: AuthOnAPort, unique_name: str, connect: Callable[[Any], httpx.Client]
) -> Iterator[Stack]:
    s = Stack(auth, unique_name, connect)
    yield s
    s.queue.obliterate()


def test_a_valid_token_gets_202_and_a_job_id(stack: Stack) -> None:
    response = stack.client.post("/notifications", json=NOTE, headers=stack.bearer)
    assert response.status_code == 202, response.text
    job_id = response.json()["jobId"]
    job = stack.queue.get_job(job_id)
    assert job is not None and job.data["to"] == "ada@example.com"
    status = stack.client.get(f"/notifications/{job_id}", headers=stack.bearer).json()
    assert status == {
        "jobId": job_id,
        "state": "waiting",
        "attempts": 0,
        "result": None,
        "failedReason": None,
    }


def test_missing_or_invalid_token_is_401(stack: Stack) -> None:
    assert stack.client.post("/notifications", json=NOTE).status_code == 401
    bad = stack.client.post("/notifications", json=NOTE, headers={"Authorization": "Bearer x"})
    assert bad.status_code == 401 and bad.json()["error"] == "invalid or expired token"


def test_an_idempotency_key_makes_a_retried_post_safe(stack: Stack) -> None:
    headers = stack.bearer | {"Idempotency-Key": "order-17"}
    first = stack.client.post("/notifications", json=NOTE, headers=headers).json()
    again = stack.client.post("/notifications", json=NOTE, headers=headers).json()
    assert first["jobId"] == again["jobId"]
    assert (first["duplicate"], again["duplicate"]) == (False, True)
    bad = stack.client.post("/notifications", json=NOTE, headers=stack.bearer | {
        "Idempotency-Key": "spaces are not ok"})  # fmt: skip
    assert bad.status_code == 400


def test_unknown_job_is_404(stack: Stack) -> None:
    get = stack.client.get
    assert get("/notifications/nope", headers=stack.bearer).status_code == 404
    assert get("/notifications/a%01b", headers=stack.bearer).status_code == 404  # impossible id
    assert get("/notifications/" + "x" * 300, headers=stack.bearer).status_code == 404


UUID_ID = re.compile(  # a random (v4) or a derived (v5) UUID
    r"^notification-[0-9a-f]{8}-[0-9a-f]{4}-[45][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
)


def test_ids_are_unguessable_uuids_not_a_counter(stack: Stack) -> None:
    ids = [
        stack.client.post("/notifications", json=NOTE, headers=stack.bearer).json()["jobId"]
        for _ in range(5)
    ]
    assert all(UUID_ID.match(i) for i in ids), ids
    assert len(set(ids)) == 5
    assert not any(str(n) in ids for n in range(1, 50)), "a sequential id leaked through"


def test_a_notification_is_shown_only_to_its_sender(stack: Stack) -> None:
    job_id = stack.client.post("/notifications", json=NOTE, headers=stack.bearer).json()["jobId"]
    path = f"/notifications/{job_id}"
    assert stack.client.get(path, headers=stack.bearer).status_code == 200

    no_token = stack.client.get(path)
    assert no_token.status_code == 401 and no_token.headers["www-authenticate"] == "Bearer"
    bad_token = stack.client.get(path, headers={"Authorization": "Bearer forged"})
    assert bad_token.status_code == 401

    # Bob gets exactly what a missing id gets: he cannot tell "taken" from "free"
    theirs = stack.client.get(path, headers=stack.bob)
    missing = stack.client.get("/notifications/notification-nope", headers=stack.bob)
    assert (theirs.status_code, theirs.json()["error"]) == (404, missing.json()["error"])
    assert set(theirs.json()) == set(missing.json())
    assert "state" not in theirs.text and job_id not in theirs.text


def test_an_idempotency_key_is_per_user(stack: Stack) -> None:
    key = {"Idempotency-Key": "order-18"}
    ada = stack.client.post("/notifications", json=NOTE, headers=stack.bearer | key).json()
    bob = stack.client.post("/notifications", json=BOB_NOTE, headers=stack.bob | key).json()
    assert ada["jobId"] != bob["jobId"] and not bob["duplicate"]
    assert UUID_ID.match(ada["jobId"]) and UUID_ID.match(bob["jobId"])


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{", 400),
        ({"to": "ada@example.com", "subject": "Hi"}, 422),
        (NOTE | {"type": "pigeon"}, 422),
        (NOTE | {"subject": 5}, 422),
        (NOTE | {"body": "x" * 70_000}, 413),
    ],
)
def test_a_known_caller_with_a_bad_body_gets_4xx(stack: Stack, body: Any, status: int) -> None:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = stack.client.post("/notifications", content=content, headers=stack.bearer)
    assert response.status_code == status, response.text


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"to": "ada@example.com\r\nBcc: eve@example.com"}, "to"),
        ({"to": "ada@example.com\x00"}, "to"),
        ({"to": "Ada <ada@example.com>"}, "to"),
        ({"to": "ada@localhost"}, "to"),
        ({"to": "not an address"}, "to"),
        ({"subject": "Hi\r\nBcc: eve@example.com"}, "subject"),
        ({"subject": "Hi\nthere"}, "subject"),
        ({"subject": "Hi\u2028there"}, "subject"),
        ({"body": "Hello\x00Ada"}, "body"),
    ],
)
def test_header_injection_and_bad_addresses_are_422_naming_the_field(
    stack: Stack, changes: dict[str, str], field: str
) -> None:
    response = stack.client.post("/notifications", json=NOTE | changes, headers=stack.bearer)
    assert response.status_code == 422, response.text
    assert [f["field"] for f in response.json()["fields"]] == [field]
    assert "eve@" not in response.text  # the input is not echoed back
    assert sum(stack.queue.counts().values()) == 0


def test_a_user_may_write_only_to_their_own_address(stack: Stack) -> None:
    other = stack.client.post("/notifications", json=BOB_NOTE, headers=stack.bearer)
    assert other.status_code == 403, other.text
    assert other.json()["fields"] == [{"field": "to", "message": "not your account's address"}]
    same = NOTE | {"to": "ADA@Example.com", "body": "Line one\r\nLine two\tand a tab"}
    assert stack.client.post("/notifications", json=same, headers=stack.bearer).status_code == 202
    assert stack.queue.counts()["waiting"] == 1


@pytest.mark.parametrize(
    "body",
    [b"{", b'{"to": 5}', json.dumps(NOTE | {"type": "pigeon"}).encode(), b"x" * 70_000],
    ids=["not-json", "bad-field", "bad-enum", "too-large"],
)
@pytest.mark.parametrize("token", [None, "forged"])
def test_a_stranger_gets_401_before_the_body_is_looked_at(
    stack: Stack, body: bytes, token: str | None
) -> None:
    """Authentication first: a stranger learns nothing about the schema (no 422, 400, 413)."""
    headers = {"Idempotency-Key": "not a safe key"}  # a bad header is not looked at either
    if token:
        headers["Authorization"] = f"Bearer {token}"
    response = stack.client.post("/notifications", content=body, headers=headers)
    assert response.status_code == 401, response.text
    assert "fields" not in response.json()


def test_auth_down_is_503_with_a_clear_body(
    unique_name: str, connect: Callable[[Any], httpx.Client]
) -> None:
    queue = Queue(unique_name, create_redis_connection("t", EMBEDDED_URL))
    with ServiceClient("auth", "http://127.0.0.1:1", timeout=3.0) as auth:
        client = connect(create_notifications_app(NotificationService(queue, auth)))
        response = client.post("/notifications", json=NOTE, headers={"Authorization": "Bearer t"})
    assert response.status_code == 503
    assert "auth service is unavailable" in response.json()["error"]
    assert response.headers["retry-after"] == "1"


def test_auth_slow_is_503_within_the_timeout(
    unique_name: str, connect: Callable[[Any], httpx.Client]
) -> None:
    release = threading.Event()

    def hung_auth(environ: Any, start_response: Any) -> list[bytes]:
        release.wait(10)
        start_response("200 OK", [("content-type", "application/json")])
        return [b"{}"]

    queue = Queue(unique_name, create_redis_connection("t", EMBEDDED_URL))
    server: RunningServer = serve(hung_auth, name="hung-auth")
    try:
        with ServiceClient("auth", server.url, timeout=0.5) as auth:
            client = connect(create_notifications_app(NotificationService(queue, auth)))
            started = time.monotonic()
            response = client.post(
                "/notifications", json=NOTE, headers={"Authorization": "Bearer t"}
            )
            elapsed = time.monotonic() - started
    finally:
        release.set()
        server.stop()
    assert response.status_code == 503
    assert "did not answer within 0.5 s" in response.json()["error"]
    assert elapsed < 0.5 + 1.5


def test_queue_down_is_503_and_nothing_is_lost_silently(unique_name: str, stack: Stack) -> None:
    down = Queue(unique_name, create_redis_connection("t", DOWN_REDIS))
    service = NotificationService(down, stack.auth_client)
    app = create_notifications_app(service, redis=down.connection)
    with httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://n") as client:
        response = client.post("/notifications", json=NOTE, headers=stack.bearer)
        assert response.status_code == 503
        assert "nothing was queued" in response.json()["error"]
        assert client.get("/notifications/x-1", headers=stack.bearer).status_code == 503
        assert client.get("/health").status_code == 503
