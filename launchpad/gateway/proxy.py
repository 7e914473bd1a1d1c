"""The gateway's decisions for one request, shared by its front (``server``).

Per request the gateway:

1. accepts the client's correlation id or makes one (``launchpad.correlation``), and
   opens its own span of the client's trace;
2. checks the protocol rules (``rules``), the path (``paths``) and finds the
   route (``routes``): 4xx/5xx if any fails, 404 if no route owns the path;
3. forwards the request with the end-to-end headers plus its own (``headers``),
   streaming the body both ways over a clean pool of upstream connections (``upstream``).

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

from launchpad.correlation import (
    accept_context,
    correlation_scope,
    rejection_reason,
)
from launchpad.gateway.paths import CheckedPath, PathRejected, check_target
from launchpad.gateway.routes import Route, RouteTable
from launchpad.gateway.rules import Limits, Refusal
from launchpad.gateway.upstream import (
    UpstreamError,
    UpstreamTimeout,
)
from launchpad.http.deadline import parse_budget
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
    """A fixed table of upstreams by path prefix, the limits, and the decisions per request.

    Served by ``launchpad.gateway.server.serve_gateway()``. ``upstream_timeout`` bounds
    each wait on an upstream: connecting, the answer's head after the last byte sent, and
    each read of its body. A hung upstream gives 504 after that long, while a long
    download that keeps sending is never cut. ``GET /health`` is answered by the gateway.
    """

    def __init__(
        self,
        routes: Iterable[Route],
        *,
        upstream_timeout: float = 3.0,
        name: str = "gateway",
        limits: Limits | None = None,
    ) -> None:
        self.table = RouteTable(routes)
        self.limits = limits or Limits()
        self.upstream_timeout = upstream_timeout
        self.name = name
        self.log = get_logger(name)

    @property
    def routes(self) -> tuple[Route, ...]:
        return self.table.routes

    def close(self) -> None:
        """Nothing to release: the front owns its connections (kept for ``with``)."""

    def __enter__(self) -> Gateway:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- what every front end shares: the decisions, the messages, the log line ----------

    @contextmanager
    def request_scope(
        self, raw_id: str | None, raw_traceparent: str | None = None
    ) -> Iterator[str]:
        """The request's correlation id (the client's if safe, else a new one) and its trace
        context (the gateway's own span, in the client's trace if it sent a valid one).

        A replaced id is logged with the reason, never with the raw value: it may hold
        CR/LF or worse.
        """
        correlation_id, trace = accept_context(raw_id, raw_traceparent)
        with correlation_scope(correlation_id, trace):
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

    def budget(self, client_budget: str | None) -> float:
        """Seconds this request may take upstream: ``upstream_timeout``, or less if the client
        sent a smaller ``x-request-budget-ms`` (a client can only shorten its own wait)."""
        asked = parse_budget(client_budget)
        return self.upstream_timeout if asked is None else min(asked, self.upstream_timeout)

    def failure(self, route: Route, error: UpstreamError) -> tuple[int, str]:
        """The status and message for an upstream that gave no usable answer."""
        if isinstance(error, UpstreamTimeout):
            # 504: no answer in time. The upstream may be slow, overloaded or stuck, and
            # it may still finish the work: the client cannot know whether it happened.
            return 504, f"{route.name} did not answer within {self.upstream_timeout:g} s"
        # 502: no usable answer at all: refused (nothing listens), reset, or not HTTP.
        return 502, f"{route.name} is unreachable ({error})"

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


@dataclass(frozen=True)
class Forward:
    """Send the request to ``route``'s upstream, at the checked ``path``."""

    route: Route
    path: CheckedPath


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


def loggable(target: str) -> str:
    """A raw target made safe for a log line: printable ASCII only, at most 200 chars."""
    return quote(target[:200], safe="!#$&'()*+,/:;=?@[]~%-._")
