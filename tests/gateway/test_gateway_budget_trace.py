"""The gateway's budget and trace, end to end: ``x-request-budget-ms`` and ``traceparent``.

A client may send either header; what reaches a service is always the gateway's one value.
A client budget can only shorten the gateway's (a larger or malformed one is ignored).
Then one request through the whole system, on real ports and on the embedded and the real
Redis: every log line it leaves, from the gateway to the worker, carries one trace id.
(The headers on a real port, on each front: ``test_gateway_proxy.py``.)
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from log_capture import collected_logs

from launchpad.correlation import trace_id_for
from launchpad.gateway import Gateway, Route
from launchpad.gateway.headers import upstream_headers
from launchpad.http.deadline import BUDGET_HEADER
from launchpad.services.auth import ScryptCost
from launchpad.services.system import System

PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
GATEWAY = Gateway([Route("/spy", "http://127.0.0.1:9")], upstream_timeout=3.0)

budget_values = st.one_of(
    st.none(),
    st.integers(min_value=0, max_value=10**12).map(str),
    st.text(max_size=12),
    st.sampled_from(["-5", "1.5", " 250 ", "0x10", "99999999999", "\uff11\uff12\uff13"]),
)
client_header = st.tuples(
    st.sampled_from([BUDGET_HEADER, "traceparent", "x-other", "connection"]),
    st.one_of(budget_values.filter(lambda v: v is not None), st.just(PARENT)),
)


@settings(deadline=None)  # the machine is shared: timing is not the point
@given(budget_values)
def test_a_client_budget_never_lengthens_the_gateways(value: str | None) -> None:
    assert 0 <= GATEWAY.budget(value) <= GATEWAY.upstream_timeout


@settings(deadline=None)
@given(st.lists(client_header, max_size=6))
def test_the_upstream_gets_one_budget_and_one_traceparent_the_gateways(
    client: list[tuple[str, str]],
) -> None:
    mine = f"00-{TRACE}-1111111111111111-01"
    out = upstream_headers(
        client, correlation_id="cid", peer="127.0.0.1", scheme="http", host=None,
        content_length=None, traceparent=mine, budget_ms="2999",
    )  # fmt: skip
    assert [v for n, v in out if n == BUDGET_HEADER] == ["2999"]
    assert [v for n, v in out if n == "traceparent"] == [mine]


@pytest.mark.parametrize(
    ("client_value", "seconds"),
    [
        (None, 3.0),  # none: the gateway's own
        ("250", 0.25),  # smaller: the client waits less, the service must know
        ("60000", 3.0),  # larger: never lengthens the gateway's wait
        ("0", 0.0),  # spent already: the service answers 504 at once
        ("-1", 3.0),  # malformed: ignored
        ("1.5", 3.0),
        ("10, 20", 3.0),  # two values joined (WSGI): which one was meant is a guess
    ],
)
def test_a_client_budget_can_only_shorten(client_value: str | None, seconds: float) -> None:
    assert GATEWAY.budget(client_value) == seconds


def test_one_trace_id_from_the_gateway_to_the_worker(redis_url: str, unique_name: str) -> None:
    """POST /notifications with a traceparent: gateway -> notifications -> auth (verify)
    -> queue -> worker; each of their log lines carries the client's trace id."""
    cid, records = _traced_notification(redis_url, unique_name, {"traceparent": PARENT})
    assert cid == str(uuid.UUID(hex=TRACE))  # the trace id, as the kit's id
    mine = [r for r in records if r.get("correlation_id") == cid]
    assert {r.get("trace_id") for r in mine} == {TRACE}
    services = {r["service"] for r in mine}
    # "client" is ServiceClient inside notifications, calling auth
    assert {"gateway", "notifications", "client", "auth", "queue", "worker"} <= services


def test_a_job_carries_the_correlation_id_not_the_traceparent(
    redis_url: str, unique_name: str
) -> None:
    """A client sends both ids, and they do not map to each other: the HTTP hops keep the
    client's trace, the worker derives its trace id from the correlation id (as the
    lesson's OpenTelemetry section says)."""
    headers = {"traceparent": PARENT, "x-correlation-id": "order-42"}
    cid, records = _traced_notification(redis_url, unique_name, headers)
    assert cid == "order-42"
    mine = [r for r in records if r.get("correlation_id") == cid]
    http = {r.get("trace_id") for r in mine if r["service"] in ("gateway", "notifications", "auth")}
    assert http == {TRACE}
    worker = {r.get("trace_id") for r in mine if r["service"] == "worker"}
    assert worker == {trace_id_for("order-42")} != {TRACE}


def _traced_notification(
    redis_url: str, name: str, headers: dict[str, str]
) -> tuple[str, list[dict[str, Any]]]:
    """Sign up, log in, POST /notifications with ``headers``; wait for the worker to
    send it. Returns the request's correlation id and every log record."""
    with (
        collected_logs() as logs,
        System(
            mode="ports", redis_url=redis_url, queue_name=name, delivery_delay=0.0,
            scrypt=ScryptCost(n=2**4, r=1, p=1), cleanup=True,
        ) as system,
    ):  # fmt: skip
        client = system.client()
        email = f"{name}@example.com"
        signup = {"email": email, "password": "correct horse battery", "name": "Ada"}
        assert client.post("/auth/register", json=signup).status_code == 201
        login = client.post("/auth/login", json={"email": email, "password": signup["password"]})
        token = login.json()["token"]
        sent = client.post(
            "/notifications",
            json={"to": email, "subject": "hi", "body": "traced"},
            headers={"Authorization": f"Bearer {token}", **headers},
        )
        assert sent.status_code == 202, sent.text
        cid = sent.headers["x-correlation-id"]
        assert system.wait_for_deliveries(2, timeout=15)  # welcome email + this one
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not _worker_done(logs.records, cid):
            time.sleep(0.02)
        return cid, list(logs.records)


def _worker_done(records: list[dict[str, Any]], cid: str) -> bool:
    return any(r.get("correlation_id") == cid and r.get("service") == "worker" for r in records)
