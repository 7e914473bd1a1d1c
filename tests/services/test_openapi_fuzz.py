"""Property-based fuzzing of every endpoint from its own OpenAPI document (schemathesis):
valid and invalid requests alike must never get a 5xx. A valid token is mixed in, so the
fuzz reaches past the token check into the queue."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from services_helpers import CHEAP, PASSWORD

from launchpad.http.client import ServiceClient
from launchpad.queue import Queue
from launchpad.redis import EMBEDDED_URL, create_redis_connection
from launchpad.services.auth import AuthService, create_auth_app
from launchpad.services.notifications import NotificationService, create_notifications_app

EXAMPLES = {GenerationMode.POSITIVE: 70, GenerationMode.NEGATIVE: 40}  # per operation
MIN_REQUESTS = 500


@dataclass
class Tally:
    statuses: list[tuple[str, int]] = field(default_factory=list)


@pytest.fixture(scope="module")
def apps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    conn = create_redis_connection("fuzz", EMBEDDED_URL)
    queue = Queue(f"fuzz-{id(conn)}", conn)
    auth_service = AuthService(cost=CHEAP)
    auth_app = create_auth_app(auth_service, redis=conn)
    auth_service.register("fuzz@example.com", PASSWORD, "Fuzz")

    def new_token() -> str:  # a fresh session per case: the fuzz also calls logout
        token = auth_service.login("fuzz@example.com", PASSWORD)
        assert token is not None
        return token

    with ServiceClient("auth", "http://auth", transport=httpx.WSGITransport(app=auth_app)) as c:
        notifications_app = create_notifications_app(NotificationService(queue, c), redis=conn)
        yield {"auth": auth_app, "notifications": notifications_app, "new_token": new_token}
    queue.obliterate()


def test_no_endpoint_answers_5xx_to_generated_requests(apps: dict[str, Any]) -> None:
    tally = Tally()
    for name in ("auth", "notifications"):
        schema = schemathesis.openapi.from_wsgi("/openapi.json", apps[name])
        for result in schema.get_all_operations():
            operation = result.ok()
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                if mode is GenerationMode.NEGATIVE and operation.path_parameters:
                    # any path segment is a string, so schemathesis searches long (and in
                    # vain) for an invalid one; the 404 path is covered by positive cases
                    continue
                _fuzz(operation, mode, apps["new_token"], tally)
    assert len(tally.statuses) >= MIN_REQUESTS, len(tally.statuses)
    errors = [(label, status) for label, status in tally.statuses if status >= 500]
    assert errors == []
    # the fuzz got past validation into real work, not only 4xx
    assert {status for _, status in tally.statuses} >= {200, 201, 202, 400, 401, 404, 422}


def _fuzz(operation: Any, mode: GenerationMode, new_token: Callable[[], str], tally: Tally) -> None:
    generated = operation.as_strategy(generation_mode=mode)

    def with_token(case: Any) -> Any:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {new_token()}"}
        return case

    def to_self(case: Any) -> Any:  # a user may write only to their own address
        if isinstance(case.body, dict) and "to" in case.body:
            case.body = {**case.body, "to": "fuzz@example.com"}
        return with_token(case)

    strategies = [generated]
    if operation.security:
        strategies += [generated.map(with_token), generated.map(to_self)]

    @settings(
        max_examples=EXAMPLES[mode],
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=st.one_of(strategies))
    def run(case: Any) -> None:
        response = case.call()
        tally.statuses.append((operation.label, response.status_code))
        assert response.status_code < 500, (operation.label, response.text)
        assert response.headers["content-type"] == ["application/json"]

    try:
        run()
    except Unsatisfiable:
        # GET /health has no inputs, so there is nothing to make invalid in it
        assert mode is GenerationMode.NEGATIVE, operation.label
