"""``WebApp(route(..., auth=...))``: the caller is known before the body is read, so
a request with a bad token and a bad body is a 401, and the body is not even read."""

from __future__ import annotations

from typing import Any

import httpx
from counting_input import CountingInput
from pydantic import BaseModel

from launchpad.http.web import ApiError, Request, WebApp, bearer_token


class Thing(BaseModel):
    name: str


def make_app() -> WebApp:
    app = WebApp("things")

    def caller(request: Request) -> str:
        if bearer_token(request) != "good":
            raise ApiError(401, "who are you?", headers={"WWW-Authenticate": "Bearer"})
        return "ada"

    @app.post("/things", body=Thing, auth=caller, status=201)
    def create(request: Request, user: str, body: Thing) -> dict[str, Any]:
        return {"owner": user, "name": body.name}

    return app


def call(app: WebApp, body: bytes, token: str | None) -> tuple[str, int]:
    stream = CountingInput(body)
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/things",
        "SERVER_NAME": "app",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.url_scheme": "http",
        "wsgi.input": stream,
    }
    if token is not None:
        environ["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    seen: list[str] = []
    b"".join(app(environ, lambda status, headers, exc=None: seen.append(status)))
    return seen[0], stream.bytes_read


def test_the_body_of_an_unknown_caller_is_never_read() -> None:
    app = make_app()
    for body in (b"{", b'{"name": 5}', b'{"name": "box"}', b"x" * 100_000):
        status, read = call(app, body, "bad")
        assert (status, read) == ("401 UNAUTHORIZED", 0)
        status, read = call(app, body, None)
        assert (status, read) == ("401 UNAUTHORIZED", 0)


def test_a_known_caller_gets_the_usual_body_checks_and_is_passed_on() -> None:
    app = make_app()
    assert call(app, b"{", "good")[0].startswith("400")
    assert call(app, b'{"name": 5}', "good")[0].startswith("422")
    assert call(app, b"x" * 100_000, "good")[0].startswith("413")
    with httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://app") as client:
        made = client.post(
            "/things", json={"name": "box"}, headers={"Authorization": "Bearer good"}
        )
    assert made.status_code == 201 and made.json() == {"owner": "ada", "name": "box"}


def test_the_openapi_document_marks_an_auth_endpoint_as_needing_a_bearer_token() -> None:
    op = make_app().openapi()["paths"]["/things"]["post"]
    assert op["security"] == [{"bearerAuth": []}]
