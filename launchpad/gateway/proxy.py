"""The gateway: one front door that forwards each request to the service its route names.

It is a WSGI app, so it runs in-process (``httpx.WSGITransport``) or on a real port
(:func:`launchpad.http.serve.serve`) like every service of the kit. Per request it:

1. accepts the client's correlation id or makes one (:mod:`launchpad.correlation`);
2. checks the path (:mod:`.paths`) and finds its route (:mod:`.routes`): 400 or 404 if none;
3. forwards the request with the end-to-end headers plus its own (:mod:`.headers`),
   streaming the body to the upstream as it arrives (:mod:`.bodies`);
4. relays the upstream's status, headers and raw body back as they arrive, over a pool
   of kept-alive upstream connections (:mod:`.upstream`).

When the upstream fails, the status says how (RFC 9110 §15.6): 502 Bad Gateway when it
refused or dropped the connection or answered something that is not HTTP, 504 Gateway
Timeout when it did not answer within ``upstream_timeout``. http-proxy-middleware answers
504 for both, which hides whether a service is down or only slow.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, NamedTuple
from urllib.parse import quote

from launchpad.correlation import HEADER as CORRELATION_HEADER
from launchpad.correlation import (
    accept,
    correlation_scope,
    current_correlation_id,
    new_correlation_id,
    rejection_reason,
)
from launchpad.gateway.bodies import ClientGone, Relay, RequestRefused, request_body
from launchpad.gateway.headers import client_headers, response_headers, upstream_headers
from launchpad.gateway.health import health_report
from launchpad.gateway.paths import CheckedPath, PathRejected, check_target, target_from_decoded
from launchpad.gateway.routes import Route, RouteTable
from launchpad.gateway.upstream import (
    HttpxUpstream,
    PooledUpstream,
    Upstream,
    UpstreamError,
    UpstreamTimeout,
)
from launchpad.logging import get_logger

__all__ = [
    "HEALTH",
    "Forward",
    "Gateway",
    "Refusal",
    "Requester",
    "error_body",
    "loggable",
    "status_line",
]

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
_ENVIRON_KEY = "launchpad.correlation_id"


class Gateway:
    """A WSGI app that forwards requests by path prefix to a fixed table of upstreams.

    ``upstream_timeout`` bounds each wait on an upstream: connecting, each write and each
    read. A hung upstream gives 504 after that long, while a long download that keeps
    sending is never cut. ``GET /health`` is answered by the gateway itself.
    """

    def __init__(
        self,
        routes: Iterable[Route],
        *,
        upstream_timeout: float = 3.0,
        name: str = "gateway",
        max_idle_connections: int = 64,
    ) -> None:
        self.table = RouteTable(routes)
        self.upstream_timeout = upstream_timeout
        self.name = name
        self.log = get_logger(name)
        self.upstreams: dict[str, Upstream] = {}
        for route in self.table.routes:
            self.upstreams[route.name] = (
                HttpxUpstream(route.target, route.transport, upstream_timeout)
                if route.transport is not None
                else PooledUpstream(route.target, upstream_timeout, max_idle=max_idle_connections)
            )

    @property
    def routes(self) -> tuple[Route, ...]:
        return self.table.routes

    def close(self) -> None:
        """Close the kept-alive upstream connections."""
        for upstream in self.upstreams.values():
            upstream.close()

    def __enter__(self) -> Gateway:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        with self.request_scope(environ.get("HTTP_X_CORRELATION_ID")) as correlation_id:
            environ[_ENVIRON_KEY] = correlation_id
            decision = self.decide(environ["REQUEST_METHOD"], _raw_target(environ))
            if isinstance(decision, Refusal):
                return self._answer(
                    environ, start_response, decision.status, decision.message, started,
                    decision.path,
                )  # fmt: skip
            if decision is HEALTH:
                return self._health(environ, start_response, started)
            assert isinstance(decision, Forward)
            return self._forward(environ, start_response, decision.route, decision.path, started)

    # -- what every front end shares: the decisions, the messages, the log line ----------

    @contextmanager
    def request_scope(self, raw_id: str | None) -> Iterator[str]:
        """The request's correlation id (the client's if safe, else a new one), in scope.

        A replaced id is logged with the reason, never with the raw value: it may hold
        CR/LF or worse.
        """
        correlation_id = accept(raw_id)
        with correlation_scope(correlation_id):
            if raw_id is not None and raw_id != correlation_id:
                self.log.warning(
                    "client correlation id replaced",
                    extra={"rejection_reason": rejection_reason(raw_id)},
                )
            yield correlation_id

    def decide(self, method: str, target: str) -> Forward | Refusal | _Health:
        """Where a request goes: forward to a route, the gateway's own health, or 400/404."""
        try:
            path = check_target(target)
        except PathRejected as exc:
            return Refusal(400, exc.reason, loggable(target))
        if path.segments == ("health",) and method in ("GET", "HEAD"):
            return HEALTH
        route = self.table.match(path)
        if route is None:
            return Refusal(404, f"no route for {path.path}", loggable(path.path))
        return Forward(route, path)

    def failure(self, route: Route, error: UpstreamError) -> tuple[int, str]:
        """The status and message for an upstream that gave no usable answer."""
        if isinstance(error, UpstreamTimeout):
            # 504: no answer in time. The upstream may be slow, overloaded or stuck, and
            # it may still finish the work: the client cannot know whether it happened.
            return 504, f"{route.name} did not answer within {self.upstream_timeout:g} s"
        # 502: no usable answer at all: refused (nothing listens), reset, or not HTTP.
        return 502, f"{route.name} is unreachable ({error})"

    # --8<-- [start:proxy]
    def _forward(
        self,
        environ: Environ,
        start_response: StartResponse,
        route: Route,
        path: CheckedPath,
        started: float,
    ) -> Iterable[bytes]:
        """Send the request on to the route's upstream; relay its answer as it comes."""
        answer = self._answer
        try:
            body, length = request_body(environ)
        except RequestRefused as exc:
            return answer(environ, start_response, 400, str(exc), started, path.path, route)
        headers = upstream_headers(
            client_headers(environ),
            correlation_id=environ[_ENVIRON_KEY],
            peer=environ.get("REMOTE_ADDR", ""),
            scheme=environ.get("wsgi.url_scheme", "http"),
            host=environ.get("HTTP_HOST"),
            upstream_host=route.netloc,
            content_length=length,
        )
        try:
            upstream = self.upstreams[route.name].send(
                environ["REQUEST_METHOD"], path.target, headers, body
            )
        except UpstreamError as exc:
            status, message = self.failure(route, exc)
            return answer(environ, start_response, status, message, started, path.path, route)
        except ClientGone as exc:  # the client stopped mid-body: nothing to forward
            return answer(environ, start_response, 400, str(exc), started, path.path, route)
        except Exception as exc:  # an in-process upstream app raised: its fault, not ours
            self.log.exception("upstream app raised", extra={"upstream": route.name})
            message = f"{route.name} failed ({type(exc).__name__})"
            return answer(environ, start_response, 502, message, started, path.path, route)
        start_response(
            status_line(upstream.status),
            response_headers(upstream.headers, correlation_id=environ[_ENVIRON_KEY]),
        )

        def done(sent: int, error: str | None) -> None:
            self.log_request(_who(environ), path.path, route, upstream.status, started, sent, error)

        return Relay(upstream, done)

    # --8<-- [end:proxy]

    def _answer(
        self,
        environ: Environ,
        start_response: StartResponse,
        status: int,
        message: str,
        started: float,
        path: str,
        route: Route | None = None,
    ) -> list[bytes]:
        """The gateway's own JSON answer (an error), carrying the correlation id."""
        self.log_request(_who(environ), loggable(path), route, status, started, 0, message)
        return _json(environ, start_response, status, error_body(message, environ[_ENVIRON_KEY]))

    def _health(
        self, environ: Environ, start_response: StartResponse, started: float
    ) -> list[bytes]:
        report = self.health()
        status = 200 if report["status"] == "ok" else 503
        self.log_request(_who(environ), "/health", None, status, started, 0, None)
        return _json(environ, start_response, status, json.dumps(report).encode())

    def health(self) -> dict[str, Any]:
        """Ask every upstream's ``GET /health`` at once; ``status``: ``ok`` or ``degraded``."""
        timeout = min(self.upstream_timeout, 2.0)
        correlation_id = current_correlation_id() or new_correlation_id()
        return health_report(self.name, self.routes, self.upstreams, timeout, correlation_id)

    def log_request(
        self,
        who: Requester,
        path: str,
        route: Route | None,
        status: int,
        started: float,
        sent: int,
        error: str | None,
    ) -> None:
        """One line per request: what was asked, where it went, what came back, how fast.

        ``who.client`` is the socket peer, never a client-supplied X-Forwarded-For entry.
        """
        method = who.method
        fields: dict[str, Any] = {
            "method": method,
            "path": path,
            "upstream": route.name if route else None,
            "status": status,
            "elapsed_ms": round((time.perf_counter() - started) * 1000, 2),
            "bytes_out": sent,
            "client": who.client,
            # A relayed body ends after the request's correlation scope has closed.
            "correlation_id": who.correlation_id,
        }
        if error:
            fields["error"] = error
        level = logging.WARNING if status >= 500 or (error and sent) else logging.INFO
        self.log.log(level, f"{method} {path} -> {status}", extra=fields)


class Requester(NamedTuple):
    """Who asked: the method, the socket peer and the request's correlation id."""

    method: str
    client: str | None
    correlation_id: str


def _who(environ: Environ) -> Requester:
    return Requester(environ["REQUEST_METHOD"], environ.get("REMOTE_ADDR"), environ[_ENVIRON_KEY])


@dataclass(frozen=True)
class Forward:
    """Send the request to ``route``'s upstream, at the checked ``path``."""

    route: Route
    path: CheckedPath


@dataclass(frozen=True)
class Refusal:
    """The gateway answers itself with ``status``: 400 for a bad path, 404 for no route."""

    status: int
    message: str
    path: str  # safe for a log line


class _Health:
    """``GET /health``: the gateway answers with its upstreams' state."""


HEALTH = _Health()


def error_body(message: str, correlation_id: str) -> bytes:
    """The gateway's error, in the services' shape (``launchpad.http.web.ErrorBody``), so a
    client reads one kind of error whichever hop answered."""
    return json.dumps({"error": message, "correlationId": correlation_id}).encode()


def status_line(code: int) -> str:
    """``"404 Not Found"``; an unregistered code keeps its number."""
    try:
        return f"{code} {HTTPStatus(code).phrase}"
    except ValueError:
        return f"{code} Unknown"


def _raw_target(environ: Environ) -> str:
    """The request target as sent: ``RAW_URI`` (gunicorn, werkzeug) or ``REQUEST_URI``."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        return str(raw)
    return target_from_decoded(environ.get("PATH_INFO", "/"), environ.get("QUERY_STRING", ""))


def loggable(target: str) -> str:
    """A raw target made safe for a log line: printable ASCII only, at most 200 chars."""
    return quote(target[:200], safe="!#$&'()*+,/:;=?@[]~%-._")


def _json(environ: Environ, start_response: StartResponse, status: int, data: bytes) -> list[bytes]:
    start_response(
        status_line(status),
        [
            ("content-type", "application/json"),
            ("content-length", str(len(data))),
            (CORRELATION_HEADER, environ[_ENVIRON_KEY]),
        ],
    )
    return [] if environ["REQUEST_METHOD"] == "HEAD" else [data]
