"""A deadline for a whole HTTP call, not just for each read.

httpx's read timeout restarts on every chunk it receives, so a server that drips one
byte every 200 ms never trips a 3 s read timeout: the call could last forever. The
seed's axios ``timeout`` is a deadline for the whole call, and so is ours.

How: every socket operation of the call gets ``min(its own timeout, time left)``. We get
at the socket operations through httpcore's one small I/O interface, the network backend
(``httpcore.NetworkBackend``): :class:`DeadlineBackend` wraps the normal one and shortens
each ``read``/``write``/``connect`` to the deadline of the call in progress, kept in a
context variable. In-process apps (``httpx.WSGITransport``) have no socket: there the
call runs in a helper thread that we stop waiting for at the deadline.
"""

from __future__ import annotations

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

__all__ = ["DeadlineHTTPTransport", "InProcessDeadlineTransport", "call_deadline", "time_left"]

_deadline: ContextVar[float | None] = ContextVar("http_call_deadline", default=None)


@contextmanager
def call_deadline(seconds: float) -> Iterator[float]:
    """Every socket operation in the block must finish within ``seconds`` from now."""
    at = time.monotonic() + seconds
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
    """``httpx.HTTPTransport`` (pooled keep-alive connections) on the :class:`DeadlineBackend`."""

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
    The response body is read inside the thread, so the caller gets it whole.
    """

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        at = _deadline.get()
        if at is None:
            return self.inner.handle_request(request)
        box: dict[str, typing.Any] = {}

        def run() -> None:
            try:
                response = self.inner.handle_request(request)
                response.read()
                box["response"] = response
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

    def close(self) -> None:
        self.inner.close()
