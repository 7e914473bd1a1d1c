"""The gateway's front: one event loop moves the bytes of every connection.

``Gateway`` (``proxy``) makes the decisions; this file only moves bytes. A threaded
server would give each request a thread that spends its life blocked on a socket:
waiting for the client, then the upstream, then the client again, and on two cores the
threads also queue for Python's GIL at every wake-up. A proxy mostly waits, and waiting
is what an event loop is for: one asyncio loop, in one thread, waits on every socket at
once and runs whichever request has bytes to move. It is how Node runs the seed's gateway.

aiohttp does the HTTP on both sides: its server parses client requests (with a C
parser), its client keeps a pool of kept-alive upstream connections (``upstream``),
and both push back when a peer reads slower than the other side writes (flow control),
so a 100 MB body crosses in 64 KB pieces.

Threat and fault model. Any local process may connect and send anything: the rules
(``rules``) refuse what a trusted hop must not forward, and the limits bound what a
slow or greedy client holds (a head within ``header_timeout``: 408; a body that stalls
``body_timeout``: 408; idle ``keepalive_timeout``: closed; more than ``max_connections``
open: 503). An upstream may hang (504 after ``upstream_timeout``, even if it drips its
answer a byte at a time), refuse or reset (502), or write bytes nobody asked for (the
connection is dropped, never reused). The front promises every client one answer in the
gateway's JSON shape with a correlation id, or a closed connection once the answer's
head has gone out. A connection it ends after a refusal is half-closed and its late
bytes dropped for ``LINGER_S``: closing on unread bytes sends an RST, which can destroy
the answer before the client reads it.

Two things a proxy must switch off in an HTTP client: cookies (a shared cookie jar would
hand one user's session cookie to the next user's request) and redirects (the client,
not the gateway, decides whether to follow one).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import resource
import socket
import sys
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, cast

import aiohttp
from aiohttp import web
from aiohttp.http_exceptions import BadStatusLine, LineTooLong
from aiohttp.http_parser import RawRequestMessage
from yarl import URL

from launchpad.correlation import HEADER as CORRELATION_HEADER
from launchpad.correlation import TRACEPARENT, current_trace
from launchpad.gateway.bodies import ClientGone, short_body
from launchpad.gateway.headers import response_headers, upstream_headers
from launchpad.gateway.health import health_report
from launchpad.gateway.proxy import (
    HEALTH,
    Forward,
    Gateway,
    Requester,
    error_body,
    loggable,
    status_line,
)
from launchpad.gateway.routes import Route
from launchpad.gateway.rules import Refusal, check_request, refuse_request_line, text_headers
from launchpad.gateway.upstream import CleanPool, body_failure, upstream_error
from launchpad.http.deadline import BUDGET_HEADER, format_budget
from launchpad.http.serve import RunningServer, check_loopback

__all__ = ["GatewayServer", "serve_gateway"]

LINGER_S = 2.0  # how long a connection the gateway ends reads and drops the client's bytes
_HEAD_KEPT = 8192  # bytes of a request head kept to read its line: aiohttp's cap is 8190
# aiohttp's client adds these unless told not to; a proxy forwards only what the client sent.
_NO_AUTO_HEADERS = ("User-Agent", "Accept", "Accept-Encoding", "Content-Type")


class _Upload:
    """The client's body as pieces for the upstream; remembers how far the client got."""

    def __init__(self, request: web.BaseRequest, body_timeout: float) -> None:
        self.request = request
        self.body_timeout = body_timeout
        self.received = 0
        self.broken: str | None = None
        self.stalled = False  # the client went quiet mid-body: 408, not 400
        self.last_piece = time.monotonic()  # the upstream's wait for an answer starts here
        self.on_piece: Callable[[], None] | None = None

    async def pieces(self) -> AsyncIterator[bytes]:
        content, expected = self.request.content, self.request.content_length
        cut = False
        while True:
            try:
                piece = await asyncio.wait_for(content.readany(), self.body_timeout)
            except asyncio.TimeoutError:
                self.stalled, cut = True, True
                break
            except Exception:  # reset, or a body shorter than its Content-Length
                cut = True
                break
            if not piece:
                break
            self.received += len(piece)
            self.last_piece = time.monotonic()
            if self.on_piece is not None:
                self.on_piece()
            yield piece
        if self.stalled:
            self.broken = f"no body bytes for {self.body_timeout:g} s (after {self.received})"
            raise ClientGone(self.broken)
        if cut or (expected is not None and self.received != expected):
            self.broken = short_body(self.received, expected)
            raise ClientGone(self.broken)


class GatewayServer:
    """A ``Gateway`` served by aiohttp on one event loop (see the module docstring)."""

    def __init__(self, gateway: Gateway, host: str = "127.0.0.1", port: int = 0) -> None:
        self.gateway = gateway
        # Bind now, in the caller's thread: a busy port fails here, and the port is known.
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._socket = socket.create_server((host, port), family=family)
        self.port: int = self._socket.getsockname()[1]
        self.max_connections = connection_cap(gateway.limits.max_connections)
        self._loop = _new_loop()
        self._stopping = asyncio.Event()

    # -- the loop's life ---------------------------------------------------------------

    def serve(self) -> None:
        """Run the loop until ``stop()`` (called in the serving thread)."""
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._run())
        finally:
            self._socket.close()
            self._loop.close()

    def stop(self) -> None:
        """Stop from any thread: in-flight requests get up to 1 s to finish, then the loop ends."""
        with contextlib.suppress(RuntimeError):  # the loop has ended already
            self._loop.call_soon_threadsafe(self._stopping.set)

    async def _run(self) -> None:
        await self._start()
        try:
            await self._stopping.wait()
        finally:
            await self._shutdown()

    async def _start(self) -> None:
        timeout = self.gateway.upstream_timeout
        self._session = aiohttp.ClientSession(
            connector=CleanPool(
                limit=0,  # client connections are capped (Limits.max_connections): not these
                keepalive_timeout=4.0,  # below Node's and werkzeug's 5 s: we close first
            ),
            # connect, then each read: a hung upstream is a 504 after `timeout`, while a
            # long download that keeps sending is never cut.
            timeout=aiohttp.ClientTimeout(total=None, connect=timeout, sock_read=timeout),
            auto_decompress=False,  # relay the raw bytes: gzip stays gzip
            cookie_jar=aiohttp.DummyCookieJar(),
            skip_auto_headers=_NO_AUTO_HEADERS,
            trust_env=False,  # HTTP_PROXY must not reroute traffic between services
        )
        limits = self.gateway.limits
        self._web = _Front(
            self._handle,
            self,
            access_log=None,
            keepalive_timeout=limits.keepalive_timeout,
            max_line_size=8190,  # nginx's 8 KB buffer for the request line and each header
            max_field_size=min(8190, limits.max_header_bytes),
            max_headers=128,
            # After an answer sent before the body ended (a refusal), aiohttp reads and
            # drops the rest so the client sees the answer: no longer than a body may stall.
            lingering_time=min(10.0, limits.body_timeout),
        )
        self._server = await self._loop.create_server(self._web, sock=self._socket)

    async def _shutdown(self) -> None:
        self._server.close()
        for connection in self._web.connections:
            connection.close()  # an idle kept-alive one ends now, a busy one after its answer
        await self._web.shutdown(1.0)
        await self._session.close()

    # -- one request -------------------------------------------------------------------

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        started = time.perf_counter()
        gateway = self.gateway
        raw_id = ", ".join(request.headers.getall(CORRELATION_HEADER, ())) or None
        raw_trace = ", ".join(request.headers.getall(TRACEPARENT, ())) or None
        with gateway.request_scope(raw_id, raw_trace) as correlation_id:
            decision = check_request(
                request.method, request.version, request.raw_headers, gateway.limits,
                loggable(request.raw_path),
            ) or gateway.decide(request.method, request.raw_path)  # fmt: skip
            if isinstance(decision, Refusal):
                return self._refuse(request, decision, started, correlation_id)
            if decision is HEALTH:
                return await self._health(request, started, correlation_id)
            assert isinstance(decision, Forward)
            return await self._forward(request, decision, started, correlation_id)

    # --8<-- [start:forward]
    async def _forward(
        self, request: web.BaseRequest, forward: Forward, started: float, correlation_id: str
    ) -> web.StreamResponse:
        """Send the request on to the route's upstream; relay its answer as it comes."""
        route, path = forward.route, forward.path
        trace = current_trace()
        headers = upstream_headers(
            text_headers(request.raw_headers),  # UTF-8 both ways: the bytes as sent
            correlation_id=correlation_id,
            peer=request.remote or "",
            scheme=request.scheme,
            host=request.headers.get("host"),
            upstream_host=route.netloc,
            content_length=request.content_length,
            traceparent=trace.traceparent() if trace else None,
            budget_ms=format_budget(
                self.gateway.budget(request.headers.get(BUDGET_HEADER))
                - (time.perf_counter() - started)
            ),
        )
        limits = self.gateway.limits
        upload = _Upload(request, limits.body_timeout) if request.body_exists else None
        if (
            upload is not None
            and request.version >= (1, 1)  # never to HTTP/1.0 (RFC 9110 §15.2)
            and request.headers.get("expect", "").lower() == "100-continue"
        ):
            await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # now send the body
        sending = self._session.request(
            request.method,
            URL(route.target + path.target, encoded=True),  # checked already: send as is
            headers=headers,
            data=upload.pieces() if upload else None,
            allow_redirects=False,
        )
        try:
            upstream = await self._answer_in_time(sending, upload)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            if upload is not None and upload.broken:  # the client stopped mid-body
                status = 408 if upload.stalled else 400
                refused = self._answer(request, status, upload.broken, started, path.path,
                                       route, correlation_id)  # fmt: skip
                refused.force_close()  # the rest of its body would be read as a request
                return refused
            status, message = self.gateway.failure(route, upstream_error(exc))
            return self._answer(request, status, message, started, path.path, route,
                                correlation_id)  # fmt: skip
        response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
        for name, value in response_headers(
            text_headers(upstream.raw_headers),
            correlation_id=correlation_id,
        ):
            response.headers.add(name, value)
        sent, error = await self._relay(request, response, upstream)
        who = Requester(request.method, request.remote, correlation_id)
        self.gateway.log_request(who, path.path, route, upstream.status, started, sent, error)
        return response

    async def _answer_in_time(self, sending: Any, upload: _Upload | None) -> aiohttp.ClientResponse:
        """The upstream's status and headers, within ``upstream_timeout`` of the last byte
        the gateway sent it. aiohttp's read timeout restarts at every byte, so an upstream
        that drips its status line would never time out; this deadline does (504)."""
        timeout = self.gateway.upstream_timeout
        if sys.version_info < (3, 11):  # pragma: no cover - no asyncio.timeout(): poll
            return await _answer_by_polling(sending, upload, timeout)
        async with asyncio.timeout(timeout) as deadline:
            if upload is not None:  # each piece sent moves the deadline on
                upload.on_piece = lambda: deadline.reschedule(self._loop.time() + timeout)
            response: aiohttp.ClientResponse = await sending
            return response

    async def _relay(
        self, request: web.BaseRequest, response: web.StreamResponse,
        upstream: aiohttp.ClientResponse,
    ) -> tuple[int, str | None]:  # fmt: skip
        """Copy the upstream's body to the client piece by piece; (bytes sent, what broke)."""
        sent = 0
        try:
            await response.prepare(request)
            while True:
                try:
                    piece = await upstream.content.readany()
                except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                    # Status and headers are sent already: all we can do is cut the
                    # connection, so the client sees a broken body, not a short "whole" one.
                    if request.transport is not None:
                        request.transport.abort()
                    upstream.close()
                    return sent, str(
                        body_failure(exc, timed_out=isinstance(exc, asyncio.TimeoutError))
                    )
                if not piece:
                    break
                await response.write(piece)
                sent += len(piece)
            await response.write_eof()
        except ConnectionError:
            upstream.close()  # half-read: this connection cannot carry another request
            return sent, f"client went away after {sent} bytes of the body"
        except BaseException:  # cancelled (the gateway is stopping) or a bug: drop it too
            upstream.close()
            raise
        upstream.release()  # read to the end: back to the pool
        return sent, None

    # --8<-- [end:forward]

    async def _health(
        self, request: web.BaseRequest, started: float, correlation_id: str
    ) -> web.Response:
        gateway = self.gateway
        timeout = min(gateway.upstream_timeout, 2.0)
        report = await health_report(
            gateway.name, gateway.routes, self._session, timeout, correlation_id
        )
        status = 200 if report["status"] == "ok" else 503
        who = Requester(request.method, request.remote, correlation_id)
        self.gateway.log_request(who, "/health", None, status, started, 0, None)
        return _json(status, json.dumps(report).encode(), correlation_id)

    def _refuse(
        self, request: web.BaseRequest, refusal: Refusal, started: float, correlation_id: str
    ) -> web.Response:
        """A request the gateway will not forward: its own answer, in HTTP/1.1."""
        if request.version not in ((1, 0), (1, 1)):
            _frame_as_http11(request)
        response = self._answer(request, refusal.status, refusal.message, started,
                                refusal.path, None, correlation_id)  # fmt: skip
        for name, value in refusal.headers:
            response.headers[name] = value
        if refusal.close:
            response.force_close()
        return response

    def _answer(
        self, request: web.BaseRequest, status: int, message: str, started: float, path: str,
        route: Route | None, correlation_id: str,
    ) -> web.Response:  # fmt: skip
        """The gateway's own JSON answer (an error), carrying the correlation id."""
        who = Requester(request.method, request.remote, correlation_id)
        self.gateway.log_request(who, path, route, status, started, 0, message)
        return _json(status, error_body(message, correlation_id), correlation_id)


class _Front(web.Server):
    """aiohttp's low-level server, with the gateway's own answer to a request it cannot parse."""

    def __init__(self, handler: Any, owner: GatewayServer, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.owner = owner

    def __call__(self) -> asyncio.Protocol:  # type: ignore[override]
        if len(self.connections) >= self.owner.max_connections:
            return _Full(self.owner.gateway)  # 503 and close, before a descriptor runs out
        return _Connection(self, loop=self._loop, **self._kwargs)


class _Full(asyncio.Protocol):
    """A connection over the cap: one 503 written at once, then closed (nothing is read)."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        with self.gateway.request_scope(None) as correlation_id:
            cap = self.gateway.limits.max_connections
            message = f"the gateway has {cap} open connections, its limit: try again soon"
            self.gateway.log.warning("connection refused: at the limit", extra={"limit": cap})
        body = error_body(message, correlation_id)
        transport.write(
            b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
            b"Retry-After: 1\r\nConnection: close\r\n"
            + f"{CORRELATION_HEADER}: {correlation_id}\r\n".encode()
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        transport.close()


class _Connection(web.RequestHandler):
    """One client connection: aiohttp's, plus a deadline for a request's head and the
    gateway's own answer to a request aiohttp's parser refused (``handle_error()``).

    aiohttp drops a connection idle for ``keepalive_timeout`` (before the first request
    and between requests) but gives a request whose head arrives a byte at a time
    (slowloris) that whole time again and again. Here the head must be complete within
    ``header_timeout`` of its first byte, or the client gets 408 and the connection ends.

    It also keeps the first bytes of each head: when the parser refuses a request line
    (``HTTP/1.2``, ``BREW``), ``rules.refuse_request_line`` gives it the rules' status.
    """

    _head_timer: asyncio.TimerHandle | None = None
    _head = b""  # the first bytes of the request head now arriving (its request line)
    _refused_head = b""  # ... of the first head the parser refused (the connection ends)
    _linger_after_answer = False  # the answer refuses a head whose rest may still arrive

    def data_received(self, data: bytes) -> None:
        if self._force_close:
            return  # the connection is ending: its bytes are read and dropped
        heads = self._request_count
        if self._current_request is None and len(self._head) < _HEAD_KEPT:
            self._head += data[: _HEAD_KEPT - len(self._head)]
        super().data_received(data)
        if self._request_count > heads:  # a whole head arrived: its deadline is met
            refused = not isinstance(self._messages[-1][0], RawRequestMessage)
            if refused and not self._refused_head:
                self._refused_head = self._head
            self._head = b""
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None
        elif data and self._head_timer is None and self._current_request is None:
            assert isinstance(self._manager, _Front)
            timeout = self._manager.owner.gateway.limits.header_timeout
            self._head_timer = self._loop.call_later(timeout, self._head_too_slow, heads)

    def _head_too_slow(self, heads: int) -> None:
        self._head_timer = None
        if self._request_count != heads or self.transport is None:
            return
        assert isinstance(self._manager, _Front)
        gateway = self._manager.owner.gateway
        with gateway.request_scope(None) as correlation_id:
            message = f"request head not complete within {gateway.limits.header_timeout:g} s"
            gateway.log.warning("408 " + message)
        body = error_body(message, correlation_id)
        self.transport.write(
            b"HTTP/1.1 408 Request Timeout\r\nContent-Type: application/json\r\n"
            b"Connection: close\r\n"
            + f"{CORRELATION_HEADER}: {correlation_id}\r\n".encode()
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        self._close_after_answer()

    def _close_after_answer(self) -> None:
        """Send FIN after the answer, drop whatever the client still sends, close later.

        Closing a socket with unread bytes (the rest of a dripped head) sends RST, and an
        RST can destroy the answer before the client reads it; nginx's ``lingering_close``
        exists for the same reason.
        """
        assert self.transport is not None
        self._force_close = True  # aiohttp's data_received ignores the connection from now
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self._loop.call_later(LINGER_S, self.force_close)

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
        super().connection_lost(exc)

    def handle_error(
        self, request: web.BaseRequest, status: int = 500, exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:  # fmt: skip
        """A request aiohttp's parser refused (400), or a bug in the gateway (500).

        aiohttp would answer in plain text, echo the offending bytes and log a traceback.
        The gateway answers in its JSON shape with a new correlation id and logs one line
        with the parser's reason. A request that cannot be parsed is refused whole: no
        guess about what a malformed header meant ever reaches an upstream or a log line.
        """
        assert isinstance(self._manager, _Front)
        gateway = self._manager.owner.gateway
        started = time.perf_counter()
        refusal = None
        if isinstance(exc, BadStatusLine):  # a version or method the rules refuse too?
            line = self._refused_head.split(b"\n", 1)[0].removesuffix(b"\r")
            refusal = refuse_request_line(line)
        path = loggable(refusal.path if refusal else request.raw_path)
        with gateway.request_scope(None) as correlation_id:
            if status >= 500:
                gateway.log.error("gateway failed", exc_info=exc)
                reason = "the gateway failed; its log has the details"
            elif refusal is not None:
                status, reason = refusal.status, refusal.message
            elif isinstance(exc, LineTooLong):  # RFC 6585 §5 (a header), RFC 9110 §15.5.15
                status = 414 if "status line" in str(exc).lower() else 431
                reason = "request line too long" if status == 414 else "a header line is too long"
            else:
                reason = "bad request: " + _first_line(message or str(exc))
            who = Requester(request.method, request.remote, correlation_id)
            gateway.log_request(who, path, None, status, started, 0, reason)
        if request.writer.output_size > 0:
            raise ConnectionError("the response had begun: no error can be sent")
        _frame_as_http11(request)  # not the HTTP/1.0 aiohttp assumes for an unread line
        response = _json(status, error_body(reason, correlation_id), correlation_id)
        for name, value in refusal.headers if refusal else ():
            response.headers[name] = value
        response.force_close()
        self._linger_after_answer = True
        return response

    async def finish_response(
        self, request: web.BaseRequest, resp: web.StreamResponse, start_time: float | None
    ) -> tuple[web.StreamResponse, bool]:
        """After an answer to a refused head, close as ``_close_after_answer`` does.

        aiohttp closes at once; the head's last bytes (and a body) may still be on their
        way, and closing on them sends the RST that can destroy the answer.
        """
        answered = await super().finish_response(request, resp, start_time)
        if self._linger_after_answer and self.transport is not None:
            self._close_after_answer()
        return answered


async def _answer_by_polling(
    sending: Any, upload: _Upload | None, timeout: float
) -> aiohttp.ClientResponse:  # pragma: no cover - Python 3.10 only
    """``_answer_in_time`` for Python 3.10: wait in steps, extended while the body moves."""
    task: asyncio.Future[aiohttp.ClientResponse] = asyncio.ensure_future(sending)
    while True:
        since = upload.last_piece if upload is not None else None
        left = timeout if since is None else since + timeout - time.monotonic()
        done, _ = await asyncio.wait((task,), timeout=max(left, 0.0))
        if done:
            return task.result()
        if upload is None or upload.last_piece == since:  # no progress: give up
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
            raise asyncio.TimeoutError


def _frame_as_http11(request: web.BaseRequest) -> None:
    """aiohttp answers in the request's version; the gateway's own errors go as HTTP/1.1
    (RFC 9110 §6.2: a 505 names the version the server speaks)."""
    request._version = aiohttp.HttpVersion11  # (a private field: no public setter)
    request._cache.pop("version", None)


def _first_line(text: str) -> str:
    """A parser's reason, without the raw bytes aiohttp quotes after it."""
    line = text.strip().split("\n", 1)[0].strip()
    return "".join(c for c in line if c.isprintable()).rstrip(":")[:200]


def _json(status: int, data: bytes, correlation_id: str) -> web.Response:
    reason = status_line(status).split(" ", 1)[1]
    return web.Response(
        status=status, reason=reason, body=data, content_type="application/json",
        headers={CORRELATION_HEADER: correlation_id},
    )  # fmt: skip


def _new_loop() -> asyncio.AbstractEventLoop:
    """uvloop's event loop (libuv, the loop under Node) when installed, else asyncio's."""
    try:  # a dependency on Linux and macOS; imported by name so mypy runs without it too
        uvloop = importlib.import_module("uvloop")
    except ImportError:
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


def connection_cap(wanted: int) -> int:
    """Client connections the gateway accepts: ``wanted``, lowered to a quarter of the
    process's descriptor limit. Each client connection may hold an upstream one too, and
    under ``launchpad up`` the services share this process: they must keep descriptors to
    answer with while the gateway is flooded."""
    try:
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (ValueError, OSError):  # pragma: no cover - no such limit on this platform
        return wanted
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(1, min(wanted, soft // 4))


def serve_gateway(
    gateway: Gateway, port: int = 0, *, host: str = "127.0.0.1", name: str = "gateway"
) -> RunningServer:
    """Serve ``gateway`` on ``host:port`` (``port=0``: any free port) in a daemon thread.

    Raises ``OSError`` when the port is taken, ``ValueError`` for a non-loopback host or
    an in-process route.
    """
    check_loopback(host)
    return RunningServer(GatewayServer(gateway, host, port), name, host).start()
