"""The gateway: one front door that forwards each request to the service its route names.

It is a WSGI app, so it runs in-process (``httpx.WSGITransport``) or on a real port
(:func:`launchpad.http.serve.serve`) like every service of the kit. Per request it:

1. accepts the client's correlation id or makes one (:mod:`launchpad.correlation`);
2. checks the path (:mod:`.paths`) and finds its route (:mod:`.routes`): 400 or 404 if none;
3. forwards the request with end-to-end headers plus its own (:mod:`.headers`), streaming
   the body from the client to the upstream as it arrives;
4. relays the upstream's status, headers and raw body bytes back as they arrive.

Bodies are never held whole in memory: a 100 MB upload or download passes through in
64 KB pieces. Raw bytes means a gzip-encoded body reaches the client still encoded.

Upstream connections are pooled: one ``httpx.Client`` per upstream, shared by all threads,
keeps connections open between requests (the seed's gateway opened a new one per request).

When the upstream fails, the status says how (RFC 9110 §15.6): 502 Bad Gateway when it
refused or dropped the connection or answered garbage, 504 Gateway Timeout when it did not
answer within ``upstream_timeout``. http-proxy-middleware answers 504 for both, which hides
from a student whether a service is down or just slow.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from launchpad.correlation import HEADER as CORRELATION_HEADER
from launchpad.correlation import (
    accept,
    correlation_scope,
    current_correlation_id,
    new_correlation_id,
    rejection_reason,
)
from launchpad.gateway.headers import client_headers, response_headers, upstream_headers
from launchpad.gateway.health import health_report
from launchpad.gateway.paths import CheckedPath, PathRejected, check_target, target_from_decoded
from launchpad.gateway.routes import Route, RouteTable
from launchpad.logging import get_logger

__all__ = ["Gateway"]

CHUNK = 64 * 1024
"""Bytes read from the client per step while streaming a request body."""

Environ = dict[str, Any]
_ENVIRON_KEY = "launchpad.correlation_id"
StartResponse = Callable[..., Any]


class _BadRequest(Exception):
    """The request cannot be forwarded as sent (answered with 400, reason shown)."""


class _ClientGone(Exception):
    """The client stopped sending before the body it announced was complete."""


def _raw_target(environ: Environ) -> str:
    """The request target as sent: ``RAW_URI`` (gunicorn, werkzeug) or ``REQUEST_URI``."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        return str(raw)
    return target_from_decoded(environ.get("PATH_INFO", "/"), environ.get("QUERY_STRING", ""))


def _request_body(environ: Environ) -> tuple[Iterator[bytes] | None, int | None]:
    """The client's body as an iterator of pieces, and its length when the client gave one.

    A request with both ``Transfer-Encoding`` and ``Content-Length`` is refused: the two
    framings can disagree, which is how request smuggling works (RFC 9112 §6.1).
    """
    stream = environ["wsgi.input"]
    chunked = bool(environ.get("HTTP_TRANSFER_ENCODING")) or environ.get("wsgi.input_terminated")
    length_text = environ.get("CONTENT_LENGTH") or ""
    if chunked and length_text and environ.get("HTTP_TRANSFER_ENCODING"):
        raise _BadRequest("both Transfer-Encoding and Content-Length sent")
    if chunked:
        return _read_to_end(stream), None
    if not length_text:
        return None, None
    if not (length_text.isascii() and length_text.isdigit()):
        raise _BadRequest("Content-Length is not a number")
    length = int(length_text)
    return (_read_exactly(stream, length) if length else None), length


def _read(stream: Any, size: int) -> bytes:
    try:
        data: bytes = stream.read(size)
    except OSError as exc:  # reset by the client, or a malformed chunked body
        raise _ClientGone(f"reading the request body failed: {exc}") from None
    return data


def _read_to_end(stream: Any) -> Iterator[bytes]:
    while data := _read(stream, CHUNK):
        yield data


def _read_exactly(stream: Any, length: int) -> Iterator[bytes]:
    remaining = length
    while remaining > 0:
        data = _read(stream, min(CHUNK, remaining))
        if not data:
            raise _ClientGone(f"client sent {length - remaining} of {length} body bytes")
        remaining -= len(data)
        yield data


def _status_line(code: int) -> str:
    try:
        return f"{code} {HTTPStatus(code).phrase}"
    except ValueError:
        return f"{code} Unknown"


def _loggable(target: str) -> str:
    """A raw target made safe for a log line: printable ASCII only, at most 200 chars."""
    return quote(target[:200], safe="!#$&'()*+,/:;=?@[]~%-._")


class _Relay:
    """The upstream's body, handed to the WSGI server piece by piece as raw bytes.

    A class (not a generator) so that ``close()`` always runs: the server calls it when
    the body is sent or the client went away, and it returns the connection to the pool.
    """

    def __init__(self, upstream: httpx.Response, done: Callable[[int, str | None], None]):
        self._upstream = upstream
        self._done: Callable[[int, str | None], None] | None = done
        self.sent = 0
        self.error: str | None = None

    def __iter__(self) -> Iterator[bytes]:
        try:
            for piece in self._upstream.iter_raw():
                self.sent += len(piece)
                yield piece
        except httpx.HTTPError as exc:
            # Status and headers are gone already: all we can do is cut the connection,
            # so the client sees a broken body instead of a short "complete" one.
            self.error = f"upstream body broke off: {type(exc).__name__}"
            raise

    def close(self) -> None:
        self._upstream.close()
        if self._done is not None:
            done, self._done = self._done, None
            done(self.sent, self.error)


class Gateway:
    """A WSGI app that forwards requests by path prefix to a fixed table of upstreams.

    ``upstream_timeout`` bounds each wait on an upstream socket: connecting, each write
    and each read (so a hung upstream gives 504 after that long, while a long download
    that keeps sending is never cut). ``GET /health`` is answered by the gateway itself.
    """

    def __init__(
        self,
        routes: Iterable[Route],
        *,
        upstream_timeout: float = 3.0,
        name: str = "gateway",
        max_connections: int = 100,
    ) -> None:
        self.table = RouteTable(routes)
        self.upstream_timeout = upstream_timeout
        self.name = name
        self.log = get_logger(name)
        self._clients = {
            route.name: self._client_for(route, max_connections) for route in self.table.routes
        }

    @property
    def routes(self) -> tuple[Route, ...]:
        return self.table.routes

    def _client_for(self, route: Route, max_connections: int) -> httpx.Client:
        transport = route.transport or httpx.HTTPTransport(
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            )
        )
        # trust_env=False: an HTTP_PROXY variable must not reroute traffic between services.
        return httpx.Client(
            transport=transport,
            timeout=httpx.Timeout(self.upstream_timeout),
            follow_redirects=False,
            trust_env=False,
        )

    def close(self) -> None:
        """Close the pooled upstream connections."""
        for client in self._clients.values():
            client.close()

    def __enter__(self) -> Gateway:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- one request ---------------------------------------------------------------------

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        raw_id = environ.get("HTTP_X_CORRELATION_ID")
        correlation_id = accept(raw_id)
        environ[_ENVIRON_KEY] = correlation_id
        with correlation_scope(correlation_id):
            if raw_id is not None and raw_id != correlation_id:
                # The raw value may hold CR/LF or worse: log why it was replaced, never it.
                self.log.warning(
                    "client correlation id replaced",
                    extra={"rejection_reason": rejection_reason(raw_id)},
                )
            method = environ.get("REQUEST_METHOD", "GET")
            target = _raw_target(environ)
            try:
                path = check_target(target)
            except PathRejected as exc:
                return self._answer(environ, start_response, 400, exc.reason, started, target)
            if path.segments == ("health",) and method in ("GET", "HEAD"):
                return self._health(environ, start_response, started)
            route = self.table.match(path)
            if route is None:
                message = f"no route for {path.path}"
                return self._answer(environ, start_response, 404, message, started, target)
            return self._forward(environ, start_response, route, path, correlation_id, started)

    # --8<-- [start:proxy]
    def _forward(
        self,
        environ: Environ,
        start_response: StartResponse,
        route: Route,
        path: CheckedPath,
        correlation_id: str,
        started: float,
    ) -> Iterable[bytes]:
        """Send the request on to ``route``'s upstream and relay its answer as it comes."""
        method = environ.get("REQUEST_METHOD", "GET")
        try:
            body, length = _request_body(environ)
        except _BadRequest as exc:
            return self._answer(environ, start_response, 400, str(exc), started, path.path)
        headers = upstream_headers(
            client_headers(environ),
            correlation_id=correlation_id,
            peer=environ.get("REMOTE_ADDR", ""),
            scheme=environ.get("wsgi.url_scheme", "http"),
            host=environ.get("HTTP_HOST"),
            content_length=length,
        )
        client = self._clients[route.name]
        request = client.build_request(
            method, route.target + path.target, headers=headers, content=body
        )
        try:
            upstream = client.send(request, stream=True)
        except httpx.TimeoutException:
            # 504: the upstream took the request but gave no answer in time. It may be
            # slow, overloaded or stuck; it may even still finish the work.
            message = f"{route.name} did not answer within {self.upstream_timeout:g} s"
            return self._answer(environ, start_response, 504, message, started, path.path, route)
        except httpx.TransportError as exc:
            # 502: no usable answer at all: connection refused (nothing listening),
            # reset mid-way, or a reply that is not HTTP.
            message = f"{route.name} is unreachable ({type(exc).__name__})"
            return self._answer(environ, start_response, 502, message, started, path.path, route)
        except _ClientGone as exc:
            return self._answer(environ, start_response, 400, str(exc), started, path.path, route)
        except Exception:  # an in-process upstream app raised: still the upstream's fault
            self.log.exception("in-process upstream failed", extra={"upstream": route.name})
            message = f"{route.name} failed to answer"
            return self._answer(environ, start_response, 502, message, started, path.path, route)
        start_response(
            _status_line(upstream.status_code),
            response_headers(_decoded(upstream.headers.raw), correlation_id=correlation_id),
        )

        def done(sent: int, error: str | None) -> None:
            status = upstream.status_code
            self._log_request(environ, path.path, route, status, started, sent, error=error)

        return _Relay(upstream, done)

    # --8<-- [end:proxy]

    # -- answers the gateway gives itself ------------------------------------------------

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
        """A JSON error that carries the correlation id, logged like a forwarded request."""
        correlation_id = _current_id()
        body = {
            "status": status,
            "error": HTTPStatus(status).phrase,
            "message": message,
            "correlation_id": correlation_id,
        }
        self._log_request(environ, _loggable(path), route, status, started, 0, error=message)
        head = environ.get("REQUEST_METHOD") == "HEAD"
        return _json(start_response, status, body, correlation_id, head=head)

    def _log_request(
        self,
        environ: Environ,
        path: str,
        route: Route | None,
        status: int,
        started: float,
        sent: int,
        *,
        error: str | None = None,
    ) -> None:
        """One line per request: who asked what, where it went, what came back, how fast.

        ``client`` is the socket peer, never a client-supplied X-Forwarded-For entry.
        """
        method = environ.get("REQUEST_METHOD", "GET")
        fields: dict[str, Any] = {
            "method": method,
            "path": path,
            "upstream": route.name if route else None,
            "status": status,
            "elapsed_ms": round((time.perf_counter() - started) * 1000, 2),
            "bytes_out": sent,
            "client": environ.get("REMOTE_ADDR"),
            # The body may finish after the request's correlation scope closed.
            "correlation_id": environ[_ENVIRON_KEY],
        }
        if error:
            fields["error"] = error
        level = logging.WARNING if status >= 500 or (error and sent) else logging.INFO
        self.log.log(level, f"{method} {path} -> {status}", extra=fields)

    def _health(
        self, environ: Environ, start_response: StartResponse, started: float
    ) -> list[bytes]:
        report = self.health()
        status = 200 if report["status"] == "ok" else 503
        self._log_request(environ, "/health", None, status, started, 0)
        head = environ.get("REQUEST_METHOD") == "HEAD"
        return _json(start_response, status, report, _current_id(), head=head)

    def health(self) -> dict[str, Any]:
        """Ask every upstream's ``GET /health`` at once; ``status``: ``ok`` or ``degraded``."""
        timeout = min(self.upstream_timeout, 2.0)
        return health_report(self.name, self.routes, self._clients, timeout, _current_id())


def _current_id() -> str:
    """The id of the request in hand (every answer is made inside its correlation scope)."""
    return current_correlation_id() or new_correlation_id()


def _decoded(raw: Iterable[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
    """httpx's raw header pairs as WSGI wants them: latin-1 text (PEP 3333)."""
    return [(name.decode("latin-1"), value.decode("latin-1")) for name, value in raw]


def _json(
    start_response: StartResponse, status: int, body: dict[str, Any], correlation_id: str, *,
    head: bool = False,
) -> list[bytes]:  # fmt: skip
    data = json.dumps(body).encode()
    start_response(
        _status_line(status),
        [
            ("content-type", "application/json"),
            ("content-length", str(len(data))),
            (CORRELATION_HEADER, correlation_id),
        ],
    )
    return [] if head else [data]
