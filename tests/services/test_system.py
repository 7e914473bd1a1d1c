"""The whole path, as the lesson tells it: a client registers through the gateway, auth
queues the welcome email, the worker delivers it once, and one correlation id ties the
log lines of gateway, auth, queue and worker together. In-process on the embedded Redis,
and on real ports with a real Redis server."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

import pytest
from services_helpers import PASSWORD, login, register

from launchpad.logging import CollectingHandler
from launchpad.services.system import System


@pytest.fixture(params=["in-process", "ports"])
def system(request: pytest.FixtureRequest, make_system: Callable[..., System]) -> System:
    if request.param == "ports":
        url: str = request.getfixturevalue("real_redis_url")
        return make_system(mode="ports", redis_url=url)
    return make_system()


def test_register_through_the_gateway_delivers_one_welcome_email_with_one_id(
    system: System, logs: CollectingHandler
) -> None:
    client = system.client()
    response = register(client, "ada@example.com", **{"x-correlation-id": "full-path-1"})
    assert response.status_code == 201
    assert response.headers["x-correlation-id"] == "full-path-1"
    user_id = response.json()["userId"]

    assert system.wait_for_deliveries(1)
    job = system.queue.get_job(f"welcome-email-{user_id}")
    assert job is not None and job.correlation_id == "full-path-1"
    delivery = system.outbox.deliveries[0]
    assert delivery.to == "ada@example.com" and delivery.subject == "Welcome to LaunchPad"

    # registering again (409) queues nothing; the same job id could not be added twice anyway
    assert register(client, "ADA@example.com").status_code == 409
    status = client.get(f"/notifications/welcome-email-{user_id}")
    assert status.json()["state"] == "completed"
    assert len(system.outbox.deliveries) == 1

    services = {r["service"] for r in logs.records if r["correlation_id"] == "full-path-1"}
    assert {"gateway", "auth", "queue", "worker"} <= services, services


def test_login_and_notify_through_the_gateway(system: System, logs: CollectingHandler) -> None:
    client = system.client()
    register(client)
    token = login(client)
    bearer = {"Authorization": f"Bearer {token}"}
    note = {"to": "bob@example.com", "subject": "Hi", "body": "Hello Bob", "type": "email"}
    accepted = client.post("/notifications", json=note, headers=bearer)
    assert accepted.status_code == 202
    assert system.wait_for_deliveries(2)  # the welcome email and this one
    assert {d.to for d in system.outbox.deliveries} == {"ada@example.com", "bob@example.com"}
    assert client.post("/auth/logout", headers=bearer).status_code == 200
    assert client.post("/notifications", json=note, headers=bearer).status_code == 401

    dumped = json.dumps(logs.records)
    assert token not in dumped, "a token reached a log line"
    assert PASSWORD not in dumped


def test_a_crlf_correlation_id_never_reaches_a_log_line(
    make_system: Callable[..., System], logs: CollectingHandler
) -> None:
    system = make_system()
    body = json.dumps({"email": "eve@example.com", "password": PASSWORD, "name": "Eve"})
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/auth/register",
        "RAW_URI": "/auth/register",
        "SERVER_NAME": "gateway",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body.encode()),
        "HTTP_X_CORRELATION_ID": 'evil\r\n{"level":"error","forged":true}',
    }
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc: Any = None) -> Any:
        seen["status"], seen["headers"] = status, dict(headers)

    b"".join(system.gateway(environ, start_response))
    assert seen["status"].startswith("201")
    assert system.wait_for_deliveries(1)
    new_id = seen["headers"]["x-correlation-id"]
    assert "\r" not in new_id and "evil" not in new_id
    dumped = json.dumps(logs.records)
    assert "evil" not in dumped and "forged" not in dumped
    assert any(r["correlation_id"] == new_id and r["service"] == "worker" for r in logs.records)


def test_health_of_every_service(system: System) -> None:
    assert system.client().get("/health").json()["status"] == "ok"
    for name in ("auth", "notifications"):
        health = system.service_client(name).get("/health")  # type: ignore[arg-type]
        assert health.json() == {"status": "ok", "service": name, "redis": "up"}
