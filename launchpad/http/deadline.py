"""Deadlines: one for a whole HTTP call, and one that travels with a request down a chain.

**The call's deadline.** httpx's read timeout restarts on every chunk it receives, so a
server that drips one byte every 200 ms never trips a 3 s read timeout: the call could
last forever. The seed's axios ``timeout`` is a deadline for the whole call, and so is
ours. How: every socket operation of the call gets ``min(its own timeout, time left)``. We
get at the socket operations through httpcore's one small I/O interface, the network
backend (``httpcore.NetworkBackend``): ``DeadlineBackend`` wraps the normal one and
shortens each ``read``/``write``/``connect`` to the deadline of the call in progress, kept
in a context variable. In-process apps (``httpx.WSGITransport``) have no socket: there the
call runs in a helper thread that we stop waiting for at the deadline.

**The request's budget.** When the gateway gives up on a request after 3 s and the service
behind it also waits 3 s for its own call, the service's answer ("auth is unavailable")
arrives after the gateway has already told the client "504: notifications did not answer":
the healthy service is blamed. So the remaining time travels with the request, as gRPC's
deadlines do: the header ``BUDGET_HEADER`` carries the milliseconds the caller will
still wait. It is *relative* (milliseconds left, not a time of day), so the two machines'
clocks need not agree; each hop loses only the time the message spent on the wire. A
service makes it current with ``request_budget()`` (the web layer does this for every
request), ``request_time_left()`` reads it, and ``ServiceClient`` gives its own call
``min(its timeout, time left - a margin)`` and forwards what is left of *that*.

Threat model: the budget header comes from the caller. A malformed value (not 1-10 ASCII
digits) is ignored, never an error; a huge one is capped at ``MAX_BUDGET_MS``; a
budget can only *shorten* a service's own timeouts, never lengthen them, so a hostile
caller can at worst make its own request fail sooner.
"""

from __future__ import annotations

import math
import ssl
import threading
import time
import typing
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache

import httpcore
import httpx

__all__ = [
    "BUDGET_HEADER",
    "MAX_BUDGET_MS",
    "DeadlineHTTPTransport",
    "InProcessDeadlineTransport",
    "call_deadline",
    "format_budget",
    "parse_budget",
    "request_budget",
    "request_time_left",
    "time_left",
]

BUDGET_HEADER = "x-request-budget-ms"
"""The header with the milliseconds the caller will still wait for this request."""

MAX_BUDGET_MS = 3_600_000
"""A budget above an hour is a mistake or a trick; it counts as an hour."""

_deadline: ContextVar[float | None] = ContextVar("http_call_deadline", default=None)
_request_deadline: ContextVar[float | None] = ContextVar("request_deadline", default=None)


# -- the request's budget, as it travels from hop to hop ----------------------------------


def parse_budget(value: str | None) -> float | None:
    """Seconds from a ``BUDGET_HEADER`` value; ``None`` if absent or malformed.

    Only 1-10 ASCII digits are a budget ("250", "0"); a sign, a dot, spaces inside or
    anything else means "no budget", so a bad header can never make a request fail.
    """
    if value is None:
        return None
    value = value.strip(" \t")
    if not (1 <= len(value) <= 10 and value.isascii() and value.isdigit()):
        return None
    return min(int(value), MAX_BUDGET_MS) / 1000


def format_budget(seconds: float) -> str:
    """The header value for ``seconds`` left: whole milliseconds, rounded down, never < 0."""
    return str(max(0, min(MAX_BUDGET_MS, math.floor(seconds * 1000))))


@contextmanager
def request_budget(seconds: float | None) -> Iterator[float | None]:
    """The request handled in this block must be answered within ``seconds`` from now.

    ``None`` means the caller sent no budget: calls then use their own timeouts. Yields
    the deadline as a ``time.monotonic()`` value (or ``None``).
    """
    at = None if seconds is None else time.monotonic() + seconds
    token = _request_deadline.set(at)
    try:
        yield at
    finally:
        _request_deadline.reset(token)


def request_time_left() -> float | None:
    """Seconds left of the current request's budget (may be <= 0), or ``None`` if none."""
    at = _request_deadline.get()
    return None if at is None else at - time.monotonic()


# -- the call's deadline, enforced on every socket operation ------------------------------


@contextmanager
def call_deadline(at: float) -> Iterator[float]:
    """Every socket operation in the block must finish by ``at`` (a ``time.monotonic()``)."""
    token = _deadline.set(at)
    try:
        yield at
    finally:
        _deadline.reset(token)


def time_left(timeout: float | None) -> float | None:
    """``timeout`` shortened to what remains of the current deadline (raises if none remains)."""
    at = _deadline.get()
    if at is None:
        return timeout
    left = at - time.monotonic()
    if left <= 0:
        raise httpcore.ReadTimeout("deadline of the call passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, time_left(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, time_left(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: typing.Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        return _DeadlineStream(
            self._inner.start_tls(ssl_context, server_hostname, time_left(timeout))
        )

    def get_extra_info(self, info: str) -> typing.Any:
        return self._inner.get_extra_info(info)


class DeadlineBackend(httpcore.NetworkBackend):
    """The normal socket backend, with every operation cut short at the call's deadline."""

    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._inner.connect_tcp(
            host, port, time_left(timeout), local_address, socket_options
        )
        return _DeadlineStream(stream)

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:
        return _DeadlineStream(
            self._inner.connect_unix_socket(path, time_left(timeout), socket_options)
        )

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


@lru_cache(maxsize=1)
def _shared_ssl_context() -> ssl.SSLContext:
    """One TLS context for every client: building one costs tens of milliseconds of CPU."""
    return httpx.create_ssl_context()


class DeadlineHTTPTransport(httpx.HTTPTransport):
    """``httpx.HTTPTransport`` (pooled keep-alive connections) on the ``DeadlineBackend``."""

    def __init__(self, limits: httpx.Limits | None = None) -> None:
        limits = limits or httpx.Limits(max_connections=100)
        super().__init__(verify=_shared_ssl_context(), limits=limits)
        # httpx builds its pool in __init__ without a way to pass a network backend;
        # we rebuild it with the same limits and ours.
        self._pool = httpcore.ConnectionPool(
            ssl_context=_shared_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=DeadlineBackend(),
        )


class InProcessDeadlineTransport(httpx.BaseTransport):
    """Runs an in-process transport (a WSGI app) in a helper thread, up to the deadline.

    An app that hangs cannot be interrupted from outside; the caller stops waiting for it
    at the deadline and gets a timeout, and the helper thread ends when the app returns.
    The response body is read inside the thread, so the caller gets it whole, but never
    more than ``max_bytes + 1`` of it: the caller's own size check then sees it is too big.
    """

    def __init__(self, inner: httpx.BaseTransport, max_bytes: int) -> None:
        self.inner = inner
        self.max_bytes = max_bytes

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        at = _deadline.get()
        if at is None:
            return self.inner.handle_request(request)
        box: dict[str, typing.Any] = {}

        def run() -> None:
            try:
                box["response"] = self._read_bounded(self.inner.handle_request(request))
            except BaseException as exc:  # handed to the caller's thread below
                box["error"] = exc

        worker = threading.Thread(target=run, name="in-process-call", daemon=True)
        worker.start()
        worker.join(max(0.0, at - time.monotonic()))
        if worker.is_alive():
            raise httpx.ReadTimeout("deadline of the call passed", request=request)
        if "error" in box:
            raise box["error"]
        response = box["response"]
        assert isinstance(response, httpx.Response)
        return response

    def _read_bounded(self, response: httpx.Response) -> httpx.Response:
        chunks: list[bytes] = []
        size = 0
        try:
            assert isinstance(response.stream, httpx.SyncByteStream)
            for chunk in response.stream:
                chunks.append(chunk)
                size += len(chunk)
                if size > self.max_bytes:
                    break
        finally:
            response.close()
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=httpx.ByteStream(b"".join(chunks)),
            extensions=response.extensions,
        )

    def close(self) -> None:
        self.inner.close()
