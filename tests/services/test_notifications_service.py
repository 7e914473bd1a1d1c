"""The notification service: checks tokens with auth over sync HTTP (401 when invalid,
503 with a clear body when auth is down or slow), queues a job (202), reports its state."""

from __future__ import annotations

import json
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

NOTE = {"to": "bob@example.com", "subject": "Hi", "body": "Hello Bob", "type": "email"}


class AuthOnAPort:
    """One auth service on a real port for the whole module, with Ada registered."""

    def __init__(self) -> None:
        self.service = AuthService(None, cost=CHEAP)
        self.server = serve(create_auth_app(self.service), name="auth")
        self.service.register("ada@example.com", PASSWORD, "Ada")
        token = self.service.login("ada@example.com", PASSWORD)
        assert token is not None
        self.bearer = {"Authorization": f"Bearer {token}"}
        self.client = ServiceClient("auth", self.server.url, timeout=3.0)


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
    assert job is not None and job.data["to"] == "bob@example.com"
    status = stack.client.get(f"/notifications/{job_id}").json()
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
    assert stack.client.get("/notifications/nope").status_code == 404
    assert stack.client.get("/notifications/a%01b").status_code == 404  # not a possible id
    assert stack.client.get("/notifications/" + "x" * 300).status_code == 404


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{", 400),
        ({"to": "bob@example.com", "subject": "Hi"}, 422),
        (NOTE | {"type": "pigeon"}, 422),
        (NOTE | {"subject": 5}, 422),
        (NOTE | {"body": "x" * 70_000}, 413),
    ],
)
def test_bad_bodies_are_4xx_even_before_auth_is_asked(stack: Stack, body: Any, status: int) -> None:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = stack.client.post("/notifications", content=content, headers=stack.bearer)
    assert response.status_code == status, response.text


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
        assert client.get("/notifications/1").status_code == 503
        assert client.get("/health").status_code == 503
