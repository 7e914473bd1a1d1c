"""How the gateway talks to one upstream: send a request, stream the answer back.

Two implementations behind one small interface (the way httpx puts I/O behind its
transports):

- :class:`PooledUpstream` for a service on a socket: a pool of kept-alive HTTP/1.1
  connections (stdlib ``http.client``). Opening a TCP connection per request, as the seed's
  gateway does, costs a handshake every time; a pool pays it once per connection.
- :class:`HttpxUpstream` for anything an ``httpx`` transport can reach, such as a WSGI app
  in the same process (``httpx.WSGITransport``): tests and demos without sockets.

Why not httpx for sockets too? It is the kit's service client and a fine one, but a
gateway sends every request of the system: in a loop of small kept-alive GETs here, httpx
spent about 680 µs of CPU per request, httpcore alone 390 and ``http.client`` 180. With
httpx the whole gateway cost about twice the CPU per request. The pool below is small
enough to read, which suits a lesson about keep-alive anyway.

Failures come out as two exceptions the proxy turns into statuses (RFC 9110 §15.6):
:class:`UpstreamTimeout` (no answer in time: 504) and :class:`UpstreamUnreachable`
(refused, reset, or not HTTP: 502).
"""

from __future__ import annotations

import http.client
import select
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

if TYPE_CHECKING:  # imported when an HttpxUpstream is made: socket-only gateways start faster
    import httpx

__all__ = [
    "HttpxUpstream",
    "PooledUpstream",
    "UpstreamError",
    "UpstreamResponse",
    "UpstreamTimeout",
    "UpstreamUnreachable",
]

CHUNK = 64 * 1024
"""Most bytes read from the upstream per piece (the same size the client side uses)."""
Headers = list[tuple[str, str]]


class UpstreamError(Exception):
    """The upstream gave no usable answer."""


class UpstreamTimeout(UpstreamError):
    """Connected (or trying to), but no answer within the timeout: 504."""


class UpstreamUnreachable(UpstreamError):
    """Refused, reset, closed early or answered something that is not HTTP: 502."""


# The words a failure is reported in, the same whichever client met it (see server.py too).
NO_ANSWER = "no answer in time"
REFUSED = "connection refused: nothing listens there"
HUNG_UP = "closed the connection without answering"
RESET = "connection reset"
NOT_HTTP = "answered something that is not HTTP"


def body_failure(exc: BaseException, *, timed_out: bool) -> UpstreamError:
    """A body that stopped partway: it went quiet (504's kind) or it broke (502's)."""
    if timed_out:
        return UpstreamTimeout("upstream stopped sending its body")
    return UpstreamUnreachable(f"upstream body broke off ({type(exc).__name__})")


class UpstreamResponse(Protocol):
    """Status and headers at once; the body as raw bytes (never decoded) while it arrives."""

    status: int
    headers: Headers

    def iter_raw(self) -> Iterator[bytes]: ...

    def close(self) -> None: ...


class Upstream(Protocol):
    def send(
        self,
        method: str,
        target: str,
        headers: Headers,
        body: Iterator[bytes] | None,
        *,
        timeout: float | None = None,
    ) -> UpstreamResponse: ...

    def close(self) -> None: ...


# -- a service on a socket: kept-alive connections --------------------------------------

_REPLAYABLE = frozenset({"GET", "HEAD", "OPTIONS", "DELETE", "PUT", "TRACE"})


class _PooledResponse:
    def __init__(self, pool: PooledUpstream, conn: http.client.HTTPConnection,
                 response: http.client.HTTPResponse, *, reusable: bool) -> None:  # fmt: skip
        self.status = response.status
        self.headers: Headers = response.getheaders()
        self._pool, self._conn, self._response = pool, conn, response
        self._complete = False
        self._released = False
        self._reusable = reusable

    def iter_raw(self) -> Iterator[bytes]:
        try:
            while data := self._response.read1(CHUNK):
                if self._response.length == 0:  # Content-Length reached: the body is whole
                    self._finish()  # release before the client can see the last bytes
                yield data
        except TimeoutError as exc:
            raise body_failure(exc, timed_out=True) from None
        except (OSError, http.client.HTTPException) as exc:
            raise body_failure(exc, timed_out=False) from None
        if self._response.length not in (None, 0):  # closed before Content-Length was reached
            raise UpstreamUnreachable("upstream closed before the end of its body")
        self._finish()

    def _finish(self) -> None:
        """The body was read to its end: give the connection back now, not when the server
        calls close() after the client already has every byte and may be sending its next
        request, which should find this connection idle."""
        self._complete = True
        self.close()

    def close(self) -> None:
        """Give the connection back if the body was read to its end; otherwise drop it."""
        if self._released:
            return
        self._released = True
        reusable = self._reusable and self._complete and not self._response.will_close
        self._response.close()
        if reusable:
            self._pool.checkin(self._conn)
        else:
            self._conn.close()


class PooledUpstream:
    """Keep-alive HTTP/1.1 connections to one upstream, shared by every gateway thread.

    A connection is taken for one request and given back once its response was read to
    the end. Idle ones are closed after ``idle_expiry`` seconds (before the server's own
    keep-alive timeout drops them) and checked for a hang-up before reuse. ``timeout``
    bounds connecting and each socket read or write.
    """

    def __init__(self, target: str, timeout: float, *, max_idle: int = 64,
                 idle_expiry: float = 4.0) -> None:  # fmt: skip
        url = urlsplit(target)
        self.host = url.hostname or "127.0.0.1"
        self.port = url.port or (443 if url.scheme == "https" else 80)
        self.netloc = url.netloc
        self._connection_class = (
            http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
        )
        self.timeout = timeout
        self.max_idle = max_idle
        self.idle_expiry = idle_expiry
        self._idle: list[tuple[http.client.HTTPConnection, float]] = []
        self._lock = threading.Lock()

    # --8<-- [start:pool]
    def checkout(self) -> tuple[http.client.HTTPConnection, bool]:
        """An open idle connection if one is still good (reused=True), else a new one."""
        now = time.monotonic()
        while True:
            with self._lock:
                if not self._idle:
                    break
                conn, since = self._idle.pop()  # the most recently used: least likely stale
            if now - since < self.idle_expiry and not _hung_up(conn):
                return conn, True
            conn.close()
        return self._connection_class(self.host, self.port, timeout=self.timeout), False

    def checkin(self, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            if len(self._idle) < self.max_idle:
                self._idle.append((conn, time.monotonic()))
                return
        conn.close()

    # --8<-- [end:pool]

    def send(
        self,
        method: str,
        target: str,
        headers: Headers,
        body: Iterator[bytes] | None,
        *,
        timeout: float | None = None,
    ) -> UpstreamResponse:
        conn, reused = self.checkout()
        try:
            return self._send_on(conn, method, target, headers, body, timeout)
        except UpstreamUnreachable:
            # A kept-alive connection the server closed a moment ago fails on first use.
            # Only then, and only for a request we can send again unchanged, try a new one.
            if not (reused and body is None and method in _REPLAYABLE):
                raise
        fresh = self._connection_class(self.host, self.port, timeout=self.timeout)
        return self._send_on(fresh, method, target, headers, body, timeout)

    def _send_on(
        self,
        conn: http.client.HTTPConnection,
        method: str,
        target: str,
        headers: Headers,
        body: Iterator[bytes] | None,
        timeout: float | None,
    ) -> UpstreamResponse:
        chunked = body is not None and not any(n == "content-length" for n, _ in headers)
        try:
            conn.timeout = self.timeout if timeout is None else timeout
            if conn.sock is not None:
                conn.sock.settimeout(conn.timeout)
            conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
            for name, value in headers:
                conn.putheader(name, value)
            if chunked:
                conn.putheader("transfer-encoding", "chunked")
            conn.endheaders()
            body_sent = True
            try:
                _send_body(conn, body, chunked)
            except (BrokenPipeError, ConnectionResetError):
                body_sent = False  # it may have answered early (413, 401...): read it below
            response = conn.getresponse()
        except TimeoutError:
            conn.close()
            raise UpstreamTimeout(NO_ANSWER) from None
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise UpstreamUnreachable(_why(exc)) from None
        except BaseException:  # the client's body failed: this connection is half-used
            conn.close()
            raise
        return _PooledResponse(self, conn, response, reusable=body_sent)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn, _ in idle:
            conn.close()


def _send_body(
    conn: http.client.HTTPConnection, body: Iterator[bytes] | None, chunked: bool
) -> None:
    for piece in body or ():
        if chunked and piece:
            conn.send(b"%x\r\n%b\r\n" % (len(piece), piece))
        elif piece:
            conn.send(piece)
    if chunked:
        conn.send(b"0\r\n\r\n")


def _why(exc: BaseException) -> str:
    """A failure in words a student can act on."""
    if isinstance(exc, ConnectionRefusedError):
        return REFUSED
    if isinstance(exc, http.client.RemoteDisconnected):
        return HUNG_UP
    if isinstance(exc, ConnectionResetError):
        return RESET
    if isinstance(exc, http.client.HTTPException):
        return f"{NOT_HTTP} ({type(exc).__name__})"
    return f"{type(exc).__name__}: {exc}"


def _hung_up(conn: http.client.HTTPConnection) -> bool:
    """True when an idle connection is readable: the server closed it (or sent junk)."""
    if conn.sock is None:
        return True
    try:
        poller = select.poll()
    except AttributeError:  # pragma: no cover - Windows has no poll
        readable, _, _ = select.select([conn.sock], [], [], 0)
        return bool(readable)
    poller.register(conn.sock, select.POLLIN)
    return bool(poller.poll(0))


# -- anything httpx can reach: an in-process app ----------------------------------------


class _HttpxResponse:
    def __init__(self, response: httpx.Response) -> None:
        self.status = response.status_code
        self.headers: Headers = [
            (n.decode("latin-1"), v.decode("latin-1")) for n, v in response.headers.raw
        ]
        self._response = response

    def iter_raw(self) -> Iterator[bytes]:
        import httpx

        try:
            yield from self._response.iter_raw()
        except httpx.TimeoutException as exc:
            raise body_failure(exc, timed_out=True) from None
        except httpx.HTTPError as exc:
            raise body_failure(exc, timed_out=False) from None

    def close(self) -> None:
        self._response.close()


class HttpxUpstream:
    """An upstream behind any httpx transport; ``httpx.WSGITransport`` runs it in-process."""

    def __init__(self, target: str, transport: httpx.BaseTransport, timeout: float) -> None:
        import httpx

        self.target = target
        # trust_env=False: an HTTP_PROXY variable must not reroute traffic between services.
        self._client = httpx.Client(
            transport=transport, timeout=timeout, follow_redirects=False, trust_env=False
        )

    def send(
        self,
        method: str,
        target: str,
        headers: Headers,
        body: Iterator[bytes] | None,
        *,
        timeout: float | None = None,
    ) -> UpstreamResponse:
        import httpx

        raw_headers = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in headers]  # PEP 3333
        request = self._client.build_request(
            method, self.target + target, headers=raw_headers, content=body,
            timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
        )  # fmt: skip
        try:
            return _HttpxResponse(self._client.send(request, stream=True))
        except httpx.TimeoutException:
            raise UpstreamTimeout(NO_ANSWER) from None
        except httpx.ConnectError:
            raise UpstreamUnreachable(REFUSED) from None
        except httpx.TransportError as exc:
            raise UpstreamUnreachable(type(exc).__name__) from None

    def close(self) -> None:
        self._client.close()
