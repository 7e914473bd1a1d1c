"""The web layer: every bad input is a 4xx JSON answer, a bug is a 500 without a stack
trace, the correlation id is echoed, /health tells the truth about Redis, and the
OpenAPI document describes the routes. Each test runs in-process and on a real socket.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, Field

from launchpad.correlation import parse_traceparent
from launchpad.http.client import ServiceClient
from launchpad.http.serve import serve
from launchpad.http.web import ApiError, Request, WebApp, bearer_token
from launchpad.logging import CollectingHandler
from launchpad.redis import EMBEDDED_URL, create_redis_connection


class ThingBody(BaseModel):
    name: str = Field(min_length=1, max_length=20)
    count: int = Field(ge=0)


class ThingOut(BaseModel):
    name: str
    count: int


def make_app(redis: Any = None, *, with_bug: bool = True) -> WebApp:
    app = WebApp("things", redis=redis, max_body_bytes=2048)

    @app.post("/things", body=ThingBody, response=ThingOut, status=201, errors={409: "taken"})
    def create(request: Request, body: ThingBody) -> ThingOut:
        if with_bug and body.name == "boom":
            raise RuntimeError("secret internals: db password is hunter2")
        if body.name == "taken":
            raise ApiError(409, "that name is taken")
        return ThingOut(name=body.name, count=body.count)

    @app.get("/things/<thing_id>", response=ThingOut, bearer=True)
    def read(request: Request, thing_id: str) -> dict[str, Any]:
        if bearer_token(request) != "good":
            raise ApiError(401, "bad token")
        return {"name": thing_id, "count": 1}

    return app


@pytest.fixture
def client(connect: Callable[[Any], httpx.Client]) -> httpx.Client:
    reset_redis = create_redis_connection("web-test", EMBEDDED_URL)
    return connect(make_app(reset_redis))


def assert_json_error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    assert body["error"]
    assert body["correlationId"] == response.headers["x-correlation-id"]
    return body


def test_a_valid_body_reaches_the_handler(client: httpx.Client) -> None:
    response = client.post("/things", json={"name": "lamp", "count": 3})
    assert response.status_code == 201
    assert response.json() == {"name": "lamp", "count": 3}


def test_bad_json_is_400(client: httpx.Client) -> None:
    assert_json_error(client.post("/things", content=b'{"name": "lamp",'), 400)
    assert_json_error(client.post("/things", content=b"\xff\xfe not utf-8"), 400)
    assert_json_error(client.post("/things", content=b"[" * 5000 + b"]" * 5000), 413)
    assert_json_error(client.post("/things", content=b"[" * 1000 + b"]" * 1000), 400)  # too deep


def test_missing_and_wrong_fields_are_422_naming_the_field(client: httpx.Client) -> None:
    body = assert_json_error(client.post("/things", json={"name": "lamp"}), 422)
    assert [f["field"] for f in body["fields"]] == ["count"]
    body = assert_json_error(client.post("/things", json={"name": 7, "count": "x"}), 422)
    assert {f["field"] for f in body["fields"]} == {"name", "count"}
    body = assert_json_error(client.post("/things", json=["not", "an", "object"]), 422)
    assert body["fields"][0]["field"] == "body"


def test_422_never_echoes_the_input(client: httpx.Client) -> None:
    response = client.post("/things", json={"name": "x" * 30 + "hunter2", "count": 1})
    assert_json_error(response, 422)
    assert "hunter2" not in response.text


def test_a_body_over_the_limit_is_413(client: httpx.Client) -> None:
    assert_json_error(client.post("/things", content=b"x" * 2049), 413)
    assert_json_error(client.post("/things", content=b"x" * 5_000_000), 413)
    body = json.dumps({"name": "lamp", "count": 1}).encode()
    exactly = body + b" " * (2048 - len(body))  # at the limit is still fine
    assert client.post("/things", content=exactly).status_code == 201


def test_a_chunked_body_over_the_limit_is_413_on_a_real_socket() -> None:
    with serve(make_app(), name="web-test") as server, httpx.Client(base_url=server.url) as c:
        response = c.post("/things", content=iter([b"x" * 1500, b"y" * 1500]))
        assert_json_error(response, 413)
        # and the server is still fine afterwards
        assert c.post("/things", json={"name": "ok", "count": 0}).status_code == 201


def test_unknown_route_is_404_and_wrong_method_405(client: httpx.Client) -> None:
    assert_json_error(client.get("/nothing/here"), 404)
    body = assert_json_error(client.delete("/things"), 405)
    assert "POST" in body["error"]
    assert client.delete("/things").headers["allow"] == "POST"


def test_an_unhandled_error_is_500_with_the_id_and_no_stack(
    client: httpx.Client, logs: CollectingHandler
) -> None:
    response = client.post("/things", json={"name": "boom", "count": 1})
    body = assert_json_error(response, 500)
    assert "Traceback" not in response.text and "hunter2" not in response.text
    logged = [r for r in logs.records if r["message"] == "unhandled error"]
    assert len(logged) == 1
    assert logged[0]["correlation_id"] == body["correlationId"]
    assert "Traceback" in logged[0]["error"] and "RuntimeError" in logged[0]["error"]


def test_api_errors_are_json(client: httpx.Client) -> None:
    assert_json_error(client.post("/things", json={"name": "taken", "count": 1}), 409)
    assert_json_error(client.get("/things/abc"), 401)
    ok = client.get("/things/abc", headers={"Authorization": "Bearer good"})
    assert ok.json() == {"name": "abc", "count": 1}


def test_a_safe_correlation_id_is_echoed_and_used_in_logs(
    client: httpx.Client, logs: CollectingHandler
) -> None:
    response = client.get("/things/x", headers={"x-correlation-id": "req-42"})
    assert response.headers["x-correlation-id"] == "req-42"
    assert any(r["correlation_id"] == "req-42" for r in logs.records)


def test_a_crlf_correlation_id_is_replaced_and_never_logged(
    connect: Callable[[Any], httpx.Client], logs: CollectingHandler
) -> None:
    app = make_app()
    # httpx refuses to send CR/LF in a header, so go under it with a raw WSGI call.
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/things/x",
        "SERVER_NAME": "app",
        "SERVER_PORT": "80",
        "wsgi.url_scheme": "http",
        "wsgi.input": __import__("io").BytesIO(b""),
        "HTTP_X_CORRELATION_ID": "evil\r\nlevel=error forged-line",
    }
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc: Any = None) -> Any:
        seen["headers"] = dict(headers)

    b"".join(app(environ, start_response))
    assert seen["headers"]["x-correlation-id"] != environ["HTTP_X_CORRELATION_ID"]
    dumped = json.dumps(logs.records)
    assert "forged-line" not in dumped and "evil" not in dumped
    assert any(r.get("reason") == "contains CR or LF" for r in logs.records)


def test_control_characters_in_the_path_do_not_reach_a_log_line(
    client: httpx.Client, logs: CollectingHandler
) -> None:
    assert_json_error(client.get("/nothing%0d%0aforged"), 404)
    for record in logs.records:
        assert "\r" not in json.dumps(record) and "\n" not in str(record["message"])


def test_health_pings_redis(connect: Callable[[Any], httpx.Client]) -> None:
    up = connect(make_app(create_redis_connection("web-test", EMBEDDED_URL)))
    assert up.get("/health").json() == {"status": "ok", "service": "things", "redis": "up"}
    down = connect(make_app(create_redis_connection("web-test", "redis://127.0.0.1:1/0")))
    response = down.get("/health")
    assert response.status_code == 503
    assert response.json()["redis"] == "down"


def test_openapi_document_describes_the_routes(client: httpx.Client) -> None:
    doc = client.get("/openapi.json").json()
    assert doc["openapi"] == "3.1.0"
    assert set(doc["paths"]) == {"/health", "/things", "/things/{thing_id}"}
    post = doc["paths"]["/things"]["post"]
    schema_ref = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert schema_ref == "#/components/schemas/ThingBody"
    assert set(post["responses"]) == {"201", "400", "409", "413", "422"}
    assert doc["paths"]["/things/{thing_id}"]["get"]["security"] == [{"bearerAuth": []}]
    for ref in _refs(doc):
        name = ref.rsplit("/", 1)[1]
        assert name in doc["components"]["schemas"], ref


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


_IN_PROCESS = httpx.Client(
    transport=httpx.WSGITransport(app=make_app(with_bug=False)), base_url="http://app"
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=st.one_of(
        st.binary(max_size=300),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
            lambda inner: (
                st.lists(inner, max_size=4)
                | st.dictionaries(st.sampled_from(["name", "count", "x"]), inner, max_size=3)
            ),
            max_leaves=10,
        ).map(lambda v: json.dumps(v).encode()),
    ),
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"]),
    path=st.sampled_from(["/things", "/things/a", "/health", "/", "/things/"]),
)
def test_any_request_gets_json_and_never_a_5xx(body: bytes, method: str, path: str) -> None:
    response = _IN_PROCESS.request(method, path, content=body)
    assert response.status_code < 500, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-correlation-id"]


def test_a_traceparent_is_accepted_logged_and_passed_on_with_this_hop_as_parent(
    logs: CollectingHandler,
) -> None:
    """The W3C header on real sockets: in at one service, out of its ServiceClient."""
    seen: list[dict[str, str]] = []

    def downstream(environ: dict[str, object], start_response: Any) -> list[bytes]:
        seen.append({"traceparent": str(environ.get("HTTP_TRACEPARENT"))})
        start_response("200 OK", [("content-length", "2")])
        return [b"{}"]

    down = serve(downstream, name="down")
    client = ServiceClient("down", down.url, timeout=3.0)
    app = WebApp("middle")

    @app.get("/work")
    def work(request: Request) -> dict[str, str]:
        client.get("/")
        return {"ok": "yes"}

    middle = serve(app, name="middle")
    inbound = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    try:
        r = httpx.get(f"{middle.url}/work", headers={"traceparent": inbound}, timeout=5)
        assert r.status_code == 200
        # no x-correlation-id came: it is the trace id written as a UUID
        assert r.headers["x-correlation-id"] == "4bf92f35-77b3-4da6-a3ce-929d0e0e4736"
        out = parse_traceparent(seen[0]["traceparent"])
        assert out is not None
        assert out.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"  # the same trace...
        assert out.parent_id != "00f067aa0ba902b7"  # ...with the middle service as parent
        assert out.flags == "01"
        assert any(
            rec["service"] == "middle" and rec.get("trace_id") == out.trace_id
            for rec in logs.records
        )
    finally:
        middle.stop()
        down.stop()
        client.close()
