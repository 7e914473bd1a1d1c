"""The auth service: its rules (hashing, sessions, case-insensitive emails, the welcome
email's outbox row) and its HTTP API, in-process and on a real socket."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from services_helpers import CHEAP, DOWN_REDIS, PASSWORD, login, register

from launchpad.correlation import correlation_scope
from launchpad.logging import CollectingHandler
from launchpad.queue import Queue
from launchpad.redis import EMBEDDED_URL, create_redis_connection
from launchpad.services.auth import INVALID_LOGIN, AuthService, EmailTaken, create_auth_app


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# -- the service's rules -----------------------------------------------------------------


def test_passwords_are_salted_per_user() -> None:
    auth = AuthService(cost=CHEAP)
    a = auth.register("a@example.com", PASSWORD, "A")
    b = auth.register("b@example.com", PASSWORD, "B")
    assert a.salt != b.salt and a.password_hash != b.password_hash
    assert PASSWORD.encode() not in a.password_hash


def test_emails_are_compared_case_insensitively() -> None:
    auth = AuthService(cost=CHEAP)
    auth.register("Ada@Example.com", PASSWORD, "Ada")
    with pytest.raises(EmailTaken):
        auth.register("ada@EXAMPLE.COM", PASSWORD, "Ada again")
    assert auth.login("ADA@example.com", PASSWORD) is not None


def test_login_verify_logout_and_expiry() -> None:
    clock = Clock()
    auth = AuthService(cost=CHEAP, session_ttl=60, clock=clock)
    user = auth.register("ada@example.com", PASSWORD, "Ada")
    assert auth.login("ada@example.com", "wrong password") is None
    assert auth.login("nobody@example.com", PASSWORD) is None
    token = auth.login("ada@example.com", PASSWORD)
    assert token is not None and len(token) >= 40
    assert auth.verify(token) == user
    clock.now += 61
    assert auth.verify(token) is None, "sessions expire"
    fresh = auth.login("ada@example.com", PASSWORD)
    assert fresh is not None and fresh != token
    auth.logout(fresh)
    auth.logout(fresh)  # idempotent
    assert auth.verify(fresh) is None


def test_register_writes_one_welcome_row_with_the_correlation_id() -> None:
    auth = AuthService(cost=CHEAP)
    with correlation_scope("reg-1"):
        user = auth.register("ada@example.com", PASSWORD, "Ada")
    [row] = auth.store.pending()
    assert row.job_id == f"welcome-email-{user.id}" and row.job_name == "send-notification"
    assert row.correlation_id == "reg-1"
    assert row.data["to"] == "ada@example.com" and row.data["userId"] == user.id


def test_register_succeeds_when_redis_is_down_and_keeps_the_email(
    unique_name: str, logs: CollectingHandler
) -> None:
    queue = Queue(unique_name, create_redis_connection("auth", DOWN_REDIS))
    service = AuthService(cost=CHEAP)
    app = create_auth_app(service, redis=queue.connection)
    with httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://auth") as c:
        response = register(c, **{"x-correlation-id": "redis-down-1"})
        assert response.status_code == 201
        assert login(c)  # the user exists and can log in
        assert c.get("/health").status_code == 503
    assert service.store.outbox_counts() == {"pending": 1, "sent": 0}  # not lost: waiting
    assert not [r for r in logs.records if r["service"] == "auth" and r["level"] == "error"]


# -- the HTTP API, in-process and on a socket ------------------------------------------


@pytest.fixture
def auth_client(connect: Callable[[Any], httpx.Client]) -> httpx.Client:
    conn = create_redis_connection("t", EMBEDDED_URL)
    return connect(create_auth_app(AuthService(cost=CHEAP), redis=conn))


def test_register_201_then_409_for_the_same_email(auth_client: httpx.Client) -> None:
    first = register(auth_client, "Ada@Example.com")
    assert first.status_code == 201
    assert set(first.json()) == {"userId", "email", "name"}
    taken = register(auth_client, "ada@example.COM")
    assert taken.status_code == 409
    assert "already registered" in taken.json()["error"]


def test_the_same_401_for_a_wrong_password_and_an_unknown_email(
    auth_client: httpx.Client,
) -> None:
    register(auth_client)
    wrong = auth_client.post("/auth/login", json={"email": "ada@example.com", "password": "nope"})
    unknown = auth_client.post("/auth/login", json={"email": "zed@example.com", "password": "x"})
    assert wrong.status_code == unknown.status_code == 401
    strip = lambda r: {k: v for k, v in r.json().items() if k != "correlationId"}  # noqa: E731
    assert strip(wrong) == strip(unknown) == {"error": INVALID_LOGIN}


def test_verify_needs_a_live_bearer_token(auth_client: httpx.Client) -> None:
    register(auth_client)
    token = login(auth_client)
    ok = auth_client.get("/auth/verify", headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200 and set(ok.json()) == {"userId", "email"}
    for header in ({}, {"Authorization": "Bearer nope"}, {"Authorization": f"Basic {token}"},
                   {"Authorization": "Bearer"}):  # fmt: skip
        response = auth_client.get("/auth/verify", headers=header)
        assert response.status_code == 401, header
        assert response.headers["www-authenticate"] == "Bearer"


def test_logout_is_idempotent_and_ends_the_session(auth_client: httpx.Client) -> None:
    register(auth_client)
    token = login(auth_client)
    bearer = {"Authorization": f"Bearer {token}"}
    for _ in range(2):
        response = auth_client.post("/auth/logout", headers=bearer)
        assert response.status_code == 200 and response.json() == {"message": "logged out"}
    assert auth_client.post("/auth/logout").status_code == 200  # no token at all: still 200
    assert auth_client.get("/auth/verify", headers=bearer).status_code == 401


@pytest.mark.parametrize(
    ("path", "body", "status", "field"),
    [
        ("/auth/register", b"{not json", 400, None),
        ("/auth/register", {"email": "ada@example.com", "name": "Ada"}, 422, "password"),
        ("/auth/register", {"email": "not-an-email", "password": PASSWORD, "name": "A"}, 422,
         "email"),
        ("/auth/register", {"email": "a@b.co", "password": "short", "name": "A"}, 422,
         "password"),
        ("/auth/register", {"email": 5, "password": PASSWORD, "name": "A"}, 422, "email"),
        ("/auth/register", {"email": "ada@localhost", "password": PASSWORD, "name": "A"}, 422,
         "email"),
        ("/auth/register", {"email": "ada@example.com\r\nBcc: eve@example.com",
                            "password": PASSWORD, "name": "A"}, 422, "email"),
        ("/auth/register", {"email": "ada@example.com", "password": PASSWORD,
                            "name": "Ada\r\nBcc: eve@example.com"}, 422, "name"),
        ("/auth/login", {"email": "a@b.co"}, 422, "password"),
        ("/auth/login", {"email": ["a"], "password": None}, 422, "email"),
        ("/auth/login", b"x" * 100_000, 413, None),
    ],
)  # fmt: skip
def test_bad_bodies_are_4xx_json(
    auth_client: httpx.Client, path: str, body: Any, status: int, field: str | None
) -> None:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = auth_client.post(path, content=content)
    assert response.status_code == status, response.text
    if field is not None:
        assert field in {f["field"] for f in response.json()["fields"]}


def test_unknown_routes_and_wrong_methods_are_json(auth_client: httpx.Client) -> None:
    assert auth_client.get("/auth/nothing").status_code == 404
    assert auth_client.get("/auth/login").status_code == 405
    assert auth_client.delete("/auth/verify").json()["error"].startswith("method DELETE")


def test_tokens_and_passwords_never_reach_the_logs(
    auth_client: httpx.Client, logs: CollectingHandler
) -> None:
    register(auth_client)
    token = login(auth_client)
    auth_client.get("/auth/verify", headers={"Authorization": f"Bearer {token}"})
    auth_client.post("/auth/logout", headers={"Authorization": f"Bearer {token}"})
    dumped = json.dumps(logs.records)
    assert logs.records
    assert token not in dumped and PASSWORD not in dumped
