"""A tiny web layer on werkzeug: how a service turns HTTP requests into calls and back.

A service is a plain class that holds its state, plus a ``WebApp`` in front of it.
The app does the chores every endpoint needs, so a handler only says what it means:

* **routing**: ``@app.post("/auth/login", body=LoginBody)``; an unknown path is a 404 and a
  known path with the wrong method a 405, both as JSON;
* **who before what**: an endpoint with ``auth=`` learns who calls before it reads a byte
  of the body, so a stranger gets 401, never a 422 that tells them about the schema;
* **validated bodies**: the body must be JSON (else 400) that fits the pydantic model (else
  422 naming each bad field); the handler gets a model instance, never raw bytes;
* **limits**: a body over ``max_body_bytes`` is refused with 413 before it is parsed;
* **correlation**: the ``x-correlation-id`` header is accepted if safe (else replaced), made
  current for the request, and echoed on every response; a W3C ``traceparent`` is
  accepted beside it (the two ids map one to one, see ``launchpad.correlation``);
* **the caller's deadline**: an ``x-request-budget-ms`` header becomes the request's budget
  (``launchpad.http.deadline.request_budget()``), which every ``ServiceClient`` call made
  while handling it respects; a request whose budget is already spent is answered 504
  before the handler runs, since its caller has stopped waiting;
* **failures**: a bug in a handler becomes a 500 with the correlation id and no stack trace
  for the client; the stack goes to the log, where the same id finds it;
* ``GET /health`` pings Redis (503 when it does not answer) and ``GET /openapi.json``
  describes every endpoint (OpenAPI 3.1), built from the same pydantic models.

Example:

```python
app = WebApp("auth", redis=conn)

@app.post("/auth/login", body=LoginBody, response=TokenBody, errors={401: "wrong login"})
def login(request: Request, body: LoginBody) -> TokenBody:
    token = service.login(body.email, body.password)
    if token is None:
        raise ApiError(401, "invalid email or password")
    return TokenBody(token=token)
```

An app is a WSGI callable: run it in-process with ``httpx.WSGITransport(app=app)`` or on
a real port with ``launchpad.http.serve.serve()``.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound, RequestEntityTooLarge
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from launchpad import correlation
from launchpad.http.deadline import BUDGET_HEADER, parse_budget, request_budget
from launchpad.logging import get_logger
from launchpad.redis import describe, ping

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

__all__ = [
    "ApiError",
    "CamelModel",
    "ErrorBody",
    "FieldError",
    "Request",
    "Response",
    "WebApp",
    "bearer_token",
    "json_response",
]

Handler = Callable[..., Any]


class CamelModel(BaseModel):
    """A model whose JSON names are camelCase (``user_id`` is sent as ``userId``)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class FieldError(BaseModel):
    field: str
    message: str


class ErrorBody(CamelModel):
    """Every error answer has this shape; ``fields`` only for a 422."""

    error: str
    correlation_id: str | None = None
    fields: list[FieldError] | None = None


class ApiError(Exception):
    """Raise in a handler to answer with a JSON error: ``raise ApiError(401, "...")``."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        fields: list[FieldError] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.fields = fields
        self.headers = dict(headers or {})


def json_response(
    data: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """A JSON response; pydantic models are dumped with their JSON (camelCase) names."""
    if isinstance(data, BaseModel):
        data = data.model_dump(mode="json", by_alias=True)
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return Response(body, status=status, headers=headers, content_type="application/json")


def bearer_token(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or ``None``."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def _printable(text: str, limit: int = 200) -> str:
    """``text`` safe for a log line: control characters escaped, length bounded."""
    out = "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in text[:limit])
    return out + ("..." if len(text) > limit else "")


@dataclass(frozen=True)
class Endpoint:
    """One route: what it accepts, what it answers, and the function that does the work."""

    method: str
    path: str  # a werkzeug rule: /notifications/<job_id>
    handler: Handler
    body: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    summary: str = ""
    errors: dict[int, str | tuple[str, type[BaseModel]]] = field(default_factory=dict)
    bearer: bool = False  # needs "Authorization: Bearer <token>" (shown in the OpenAPI doc)
    public: bool = True  # listed in the OpenAPI document
    auth: Callable[[Request], Any] | None = None  # runs first; its result is ``user=``

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}"


class HealthBody(BaseModel):
    status: str
    service: str
    redis: str


class WebApp:
    """A WSGI app: a route table, body validation, JSON errors and correlation ids.

    Args:
        service: the service's name, used in logs, ``/health`` and the OpenAPI title.
        redis: the connection ``/health`` pings; ``None`` reports Redis as not used.
        max_body_bytes: larger request bodies are refused with 413.
    """

    def __init__(
        self,
        service: str,
        *,
        redis: Any = None,
        max_body_bytes: int = 64 * 1024,
        version: str = "1.0.0",
        description: str = "",
    ) -> None:
        self.service = service
        self.redis = redis
        self.max_body_bytes = max_body_bytes
        self.version = version
        self.description = description
        self.log = get_logger(service)
        self.endpoints: dict[str, Endpoint] = {}
        self._map = Map(strict_slashes=False, merge_slashes=False)
        self.route(
            "GET",
            "/health",
            response=HealthBody,
            summary="Is the service up, and does Redis answer?",
            errors={503: ("Redis does not answer", HealthBody)},
        )(self._health)
        self.route("GET", "/openapi.json", public=False)(self._openapi)

    # -- declaring routes ---------------------------------------------------------------

    def route(
        self,
        method: str,
        path: str,
        *,
        body: type[BaseModel] | None = None,
        response: type[BaseModel] | None = None,
        status: int = 200,
        summary: str = "",
        errors: Mapping[int, str | tuple[str, type[BaseModel]]] | None = None,
        bearer: bool = False,
        public: bool = True,
        auth: Callable[[Request], Any] | None = None,
    ) -> Callable[[Handler], Handler]:
        """Register ``handler(request, [user,] [body,] **path_params)`` for ``method path``.

        ``auth(request)`` (if given) runs before the body is read and returns the caller,
        passed on as ``user``; it refuses with an ``ApiError`` (401, 503...). The
        handler returns a model, a dict (sent with ``status``) or a ``Response``.
        """

        def register(handler: Handler) -> Handler:
            ep = Endpoint(
                method.upper(),
                path,
                handler,
                body,
                response,
                status,
                summary or (handler.__doc__ or "").strip().split("\n")[0],
                dict(errors or {}),
                bearer or auth is not None,
                public,
                auth,
            )
            self.endpoints[ep.name] = ep
            self._map.add(Rule(path, methods=[ep.method], endpoint=ep.name))
            return handler

        return register

    def get(self, path: str, **options: Any) -> Callable[[Handler], Handler]:
        return self.route("GET", path, **options)

    def post(self, path: str, **options: Any) -> Callable[[Handler], Handler]:
        return self.route("POST", path, **options)

    # -- handling a request -------------------------------------------------------------

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        request.max_content_length = self.max_body_bytes + 1
        inbound = request.headers.get(correlation.HEADER)
        cid, trace = correlation.accept_context(
            inbound, request.headers.get(correlation.TRACEPARENT)
        )
        started = time.monotonic()
        # --8<-- [start:budget]
        raw_budget = request.headers.get(BUDGET_HEADER)
        budget = parse_budget(raw_budget)
        with correlation.correlation_scope(cid, trace), request_budget(budget):
            if inbound is not None and cid != inbound:
                reason = correlation.rejection_reason(inbound)
                self.log.warning("replaced an unsafe correlation id", extra={"reason": reason})
            if raw_budget is not None and budget is None:
                self.log.warning(f"ignored a malformed {BUDGET_HEADER} header")
            if budget == 0:
                message = "the caller's deadline passed before this request arrived"
                response = self._error(504, message, cid)
            else:
                response = self._dispatch(request, cid)
            # --8<-- [end:budget]
            response.headers[correlation.HEADER] = cid
            path = _printable(request.path)
            self.log.info(
                f"{request.method} {path} -> {response.status_code}",
                extra={
                    "method": request.method,
                    "path": path,
                    "status": response.status_code,
                    "elapsed_ms": round((time.monotonic() - started) * 1000, 1),
                },
            )
        return response(environ, start_response)

    def _dispatch(self, request: Request, cid: str) -> Response:
        try:
            name, matched = self._map.bind_to_environ(request.environ).match()
            ep, params = self.endpoints[name], dict(matched)
            if ep.auth is not None:  # who calls, before a byte of the body is read
                params["user"] = ep.auth(request)
            if ep.body is not None:
                params["body"] = self._parse_body(request, ep.body)
            result = ep.handler(request, **params)
            if isinstance(result, Response):
                return result
            return json_response(result, ep.status)
        except ApiError as exc:
            return self._error(exc.status, exc.message, cid, exc.fields, exc.headers)
        except NotFound:
            return self._error(404, f"no route for {_printable(request.path, 80)}", cid)
        except MethodNotAllowed as exc:
            allowed = ", ".join(sorted(exc.valid_methods or []))
            message = f"method {request.method} not allowed here; use {allowed}"
            return self._error(405, message, cid, headers={"Allow": allowed})
        except RequestEntityTooLarge:
            message = f"request body too large (at most {self.max_body_bytes} bytes)"
            return self._error(413, message, cid, headers={"Connection": "close"})
        except HTTPException as exc:
            return self._error(exc.code or 400, exc.description or exc.name, cid)
        except Exception:
            # The client gets the id to quote; the stack trace stays in our log.
            self.log.exception("unhandled error", extra={"method": request.method})
            return self._error(500, "internal error; quote the correlation id", cid)

    def _parse_body(self, request: Request, model: type[BaseModel]) -> BaseModel:
        # werkzeug stops reading at max_content_length (limit + 1 here, see __call__):
        # a longer body, chunked or not, shows up as one byte too many.
        raw = request.get_data(cache=False)
        if len(raw) > self.max_body_bytes:
            raise RequestEntityTooLarge()
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):
            raise ApiError(400, "request body is not valid JSON") from None
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            # Name the fields and the rule; never echo the input (it may be a password).
            fields = [
                FieldError(field=".".join(str(p) for p in e["loc"]) or "body", message=e["msg"])
                for e in exc.errors(include_input=False, include_url=False)
            ]
            summary = "; ".join(f"{f.field}: {f.message}" for f in fields[:5])
            raise ApiError(422, f"invalid request body: {summary}", fields=fields) from None

    def _error(
        self,
        status: int,
        message: str,
        cid: str,
        fields: list[FieldError] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        body = ErrorBody(error=message, correlation_id=cid, fields=fields)
        dumped = body.model_dump(mode="json", by_alias=True, exclude_none=True)
        return json_response(dumped, status, headers)

    # -- the two built-in endpoints -----------------------------------------------------

    def _health(self, request: Request) -> Response:
        if self.redis is None:
            return json_response(HealthBody(status="ok", service=self.service, redis="not used"))
        if ping(self.redis):
            return json_response(HealthBody(status="ok", service=self.service, redis="up"))
        self.log.warning(
            "health check: Redis does not answer", extra={"redis": describe(self.redis)}
        )
        return json_response(HealthBody(status="degraded", service=self.service, redis="down"), 503)

    def _openapi(self, request: Request) -> Response:
        return json_response(self.openapi())

    def openapi(self) -> dict[str, Any]:
        """The OpenAPI 3.1 document of this app, built from its routes and models."""
        return _openapi_document(self)


# -- OpenAPI 3.1: the same models that validate requests describe them ------------------

_PATH_PARAM = re.compile(r"<(?:\w+:)?(\w+)>")


def _openapi_document(app: WebApp) -> dict[str, Any]:
    schemas: dict[str, Any] = {}

    def ref(model: type[BaseModel], mode: Literal["validation", "serialization"]) -> Any:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}", mode=mode)
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
        return {"$ref": f"#/components/schemas/{model.__name__}"}

    def answer(description: str, model: type[BaseModel] | None = None) -> dict[str, Any]:
        model = model or ErrorBody
        content = {"application/json": {"schema": ref(model, "serialization")}}
        return {"description": description, "content": content}

    paths: dict[str, dict[str, Any]] = {}
    for ep in app.endpoints.values():
        if not ep.public:
            continue
        op: dict[str, Any] = {
            "summary": ep.summary,
            "operationId": ep.handler.__name__.strip("_"),
            "responses": {str(ep.status): answer("success", ep.response)},
        }
        params = _PATH_PARAM.findall(ep.path)
        if params:
            op["parameters"] = [
                {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
                for p in params
            ]
            op["responses"]["404"] = answer("not found")
        if ep.body is not None:
            schema = ref(ep.body, "validation")
            op["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": schema}},
            }
            op["responses"]["400"] = answer("the body is not JSON")
            op["responses"]["413"] = answer("the body is too large")
            op["responses"]["422"] = answer("a field is missing or invalid")
        if ep.bearer:
            op["security"] = [{"bearerAuth": []}]
        for status, doc in ep.errors.items():
            op["responses"][str(status)] = answer(*doc) if isinstance(doc, tuple) else answer(doc)
        paths.setdefault(_PATH_PARAM.sub(r"{\1}", ep.path), {})[ep.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": app.service, "version": app.version, "description": app.description},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
        },
    }
