"""The same gateway in-process: an upstream app behind ``httpx.WSGITransport``, no sockets.

This is how demos and fast tests wire the system. Servers that give no raw request target
(httpx's WSGI transport gives only the decoded ``PATH_INFO``) still get every path rule.
"""

from __future__ import annotations

import httpx
import pytest
from gateway_upstream import Upstream, header_values

from launchpad.gateway import Gateway, Route


@pytest.fixture
def client() -> httpx.Client:
    upstream = Upstream()
    gw = Gateway(
        [
            Route("/auth", "http://auth.internal", transport=httpx.WSGITransport(app=upstream)),
            Route("/boom", "http://boom.internal", transport=httpx.WSGITransport(app=_boom)),
        ],
        upstream_timeout=1.0,
    )
    return httpx.Client(transport=httpx.WSGITransport(app=gw), base_url="http://gateway")


def _boom(environ: object, start_response: object) -> list[bytes]:
    raise RuntimeError("the upstream app crashed")


def test_in_process_forwarding(client: httpx.Client) -> None:
    r = client.post("/auth/echo?a=1", content=b"abc", headers={"x-correlation-id": "in-proc"})
    assert r.status_code == 200
    echo = r.json()
    assert (echo["path"], echo["query"], echo["body_bytes"]) == ("/auth/echo", "a=1", 3)
    assert header_values(echo, "x-correlation-id") == ["in-proc"]
    assert header_values(echo, "x-forwarded-by") == ["gateway"]
    assert r.headers["x-correlation-id"] == "in-proc"


@pytest.mark.parametrize(
    ("path", "status"),
    [("/auth/%2e%2e/boom", 400), ("/auth/%252e%252e/boom", 400), ("/authx", 404)],
)
def test_path_rules_hold_without_a_raw_target(client: httpx.Client, path: str, status: int) -> None:
    assert client.get(path).status_code == status


def test_without_a_raw_target_an_encoded_slash_is_just_a_slash(client: httpx.Client) -> None:
    """The one rule such a server takes away: %2f arrives already decoded. It can only split
    a segment in two, and the path still starts with the route it matched."""
    r = client.get("/auth/a%2fecho")
    assert r.json()["path"] == "/auth/a/echo"


def test_an_in_process_upstream_that_raises_is_a_502(client: httpx.Client) -> None:
    r = client.get("/boom/anything")
    assert r.status_code == 502
    assert r.json()["correlationId"] == r.headers["x-correlation-id"]


def test_health_names_in_process_upstreams(client: httpx.Client) -> None:
    report = client.get("/health").json()
    assert [(u["name"], u["target"], u["status"]) for u in report["upstreams"]] == [
        ("auth", "in-process", "up"),
        ("boom", "in-process", "down"),
    ]


def test_public_surface() -> None:
    import launchpad.gateway as gateway

    assert sorted(gateway.__all__) == [
        "CheckedPath", "Gateway", "PathRejected", "Route", "RouteTable", "check_target",
    ]  # fmt: skip
    assert all(hasattr(gateway, name) for name in gateway.__all__)
