"""The gateway on a real port: one event loop moves the bytes of every connection.

:class:`~launchpad.gateway.proxy.Gateway` makes the decisions (which route, which
headers, which error); it is a WSGI app, so it also runs in-process for tests and demos.
On a socket, a WSGI server gives each request a thread that spends its life blocked on a
socket: waiting for the client, then the upstream, then the client again. With several
threads on two cores they also queue for Python's GIL at every wake-up. A proxy mostly
waits, and waiting is what an event loop is for: here one asyncio loop, in one thread,
waits on every socket at once and runs whichever request has bytes to move. It is how
Node runs the seed's gateway.

aiohttp does the HTTP on both sides: its server parses client requests (with a C
parser), its client keeps a pool of kept-alive upstream connections, and both push back
when a peer reads slower than the other side writes (flow control), so a 100 MB body
crosses in 64 KB pieces. In ``bench/gateway_overhead.py`` this front costs a few times
less CPU per request than the same ``Gateway`` on a threaded WSGI server, and less than
the seed's Express gateway.

Two things a proxy must switch off in an HTTP client: cookies (a shared cookie jar would
hand one user's session cookie to the next user's request) and redirects (the client,
not the gateway, decides whether to follow one).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import errno
import json
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from aiohttp import web
from yarl import URL

from launchpad.correlation import HEADER as CORRELATION_HEADER
from launchpad.gateway.bodies import ClientGone, short_body
from launchpad.gateway.headers import response_headers, upstream_headers
from launchpad.gateway.proxy import (
    HEALTH,
    Forward,
    Gateway,
    Refusal,
    Requester,
    error_body,
    loggable,
    status_line,
)
from launchpad.gateway.routes import Route
from launchpad.gateway.upstream import (
    HUNG_UP,
    NO_ANSWER,
    NOT_HTTP,
    REFUSED,
    RESET,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnreachable,
    body_failure,
)
from launchpad.http.serve import RunningServer, check_loopback

__all__ = ["GatewayServer", "serve_gateway"]

# aiohttp's client adds these unless told not to; a proxy forwards only what the client sent.
_NO_AUTO_HEADERS = ("User-Agent", "Accept", "Accept-Encoding", "Content-Type")


class _Upload:
    """The client's body as pieces for the upstream; remembers how far the client got."""

    def __init__(self, request: web.BaseRequest) -> None:
        self.request = request
        self.received = 0
        self.broken: str | None = None

    async def pieces(self) -> AsyncIterator[bytes]:
        content, expected = self.request.content, self.request.content_length
        cut = False
        while True:
            try:
                piece = await content.readany()
            except Exception:  # reset, or a body shorter than its Content-Length
                cut = True
                break
            if not piece:
                break
            self.received += len(piece)
            yield piece
        if cut or (expected is not None and self.received != expected):
            self.broken = short_body(self.received, expected)
            raise ClientGone(self.broken)


class GatewayServer:
    """A :class:`Gateway` served by aiohttp on one event loop (see the module docstring).

    Every route must name a network upstream: an in-process route (``transport=``) has no
    socket to reach, so use the WSGI ``Gateway`` itself for those.
    """

    def __init__(self, gateway: Gateway, host: str = "127.0.0.1", port: int = 0) -> None:
        in_process = [r.name for r in gateway.routes if r.transport is not None]
        if in_process:
            raise ValueError(
                f"routes {in_process} are in-process: serve them with the WSGI Gateway "
                "(httpx.WSGITransport or launchpad.http.serve.serve)"
            )
        self.gateway = gateway
        # Bind now, in the caller's thread: a busy port fails here, and the port is known.
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._socket = socket.create_server((host, port), family=family)
        self.port: int = self._socket.getsockname()[1]
        self._loop = asyncio.new_event_loop()
        self._stopping = asyncio.Event()

    # -- the loop's life ---------------------------------------------------------------

    def serve(self) -> None:
        """Run the loop until :meth:`stop` (called in the serving thread)."""
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
            connector=aiohttp.TCPConnector(
                limit=0,  # no cap on open upstream connections, as for the WSGI front
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
        self._web = _Front(self._handle, self, access_log=None)
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
        with gateway.request_scope(raw_id) as correlation_id:
            decision = gateway.decide(request.method, request.raw_path)
            if isinstance(decision, Refusal):
                return self._answer(request, decision.status, decision.message, started,
                                    decision.path, None, correlation_id)  # fmt: skip
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
        headers = upstream_headers(
            [(n.decode("latin-1"), v.decode("latin-1")) for n, v in request.raw_headers],
            correlation_id=correlation_id,
            peer=request.remote or "",
            scheme=request.scheme,
            host=request.headers.get("host"),
            upstream_host=route.netloc,
            content_length=request.content_length,
        )
        upload = _Upload(request) if request.body_exists else None
        if upload is not None and request.headers.get("expect", "").lower() == "100-continue":
            await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # now send the body
        try:
            upstream = await self._session.request(
                request.method,
                URL(route.target + path.target, encoded=True),  # checked already: send as is
                headers=headers,
                data=upload.pieces() if upload else None,
                allow_redirects=False,
            )
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            if upload is not None and upload.broken:  # the client stopped mid-body
                return self._answer(request, 400, upload.broken, started, path.path, route,
                                    correlation_id)  # fmt: skip
            status, message = self.gateway.failure(route, _upstream_error(exc))
            return self._answer(request, status, message, started, path.path, route,
                                correlation_id)  # fmt: skip
        response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
        for name, value in response_headers(
            [(n.decode("latin-1"), v.decode("latin-1")) for n, v in upstream.raw_headers],
            correlation_id=correlation_id,
        ):
            response.headers.add(name, value)
        sent, error = await self._relay(request, response, upstream)
        who = Requester(request.method, request.remote, correlation_id)
        self.gateway.log_request(who, path.path, route, upstream.status, started, sent, error)
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
        # Gateway.health() blocks (it asks each upstream in a thread): keep it off the loop,
        # and take the request's context along so its checks carry this correlation id.
        context = contextvars.copy_context()
        report = await self._loop.run_in_executor(None, context.run, self.gateway.health)
        status = 200 if report["status"] == "ok" else 503
        who = Requester(request.method, request.remote, correlation_id)
        self.gateway.log_request(who, "/health", None, status, started, 0, None)
        return _json(status, json.dumps(report).encode(), correlation_id)

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

    def __call__(self) -> web.RequestHandler:
        return _Connection(self, loop=self._loop, **self._kwargs)


class _Connection(web.RequestHandler):
    """One client connection. Only :meth:`handle_error` differs from aiohttp's."""

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
        with gateway.request_scope(None) as correlation_id:
            if status >= 500:
                gateway.log.error("gateway failed", exc_info=exc)
                reason = "the gateway failed; its log has the details"
            else:
                reason = "bad request: " + _first_line(message or str(exc))
            who = Requester(request.method, request.remote, correlation_id)
            gateway.log_request(who, loggable(request.raw_path), None, status, started, 0, reason)
        if request.writer.output_size > 0:
            raise ConnectionError("the response had begun: no error can be sent")
        response = _json(status, error_body(reason, correlation_id), correlation_id)
        response.force_close()
        return response


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


def _upstream_error(exc: BaseException) -> UpstreamError:
    """aiohttp's failure as the gateway's two kinds: no answer in time, or no usable answer."""
    if isinstance(exc, asyncio.TimeoutError):  # aiohttp's ServerTimeoutError is one
        return UpstreamTimeout(NO_ANSWER)
    if isinstance(exc, aiohttp.ClientConnectorError):
        if isinstance(exc.os_error, ConnectionRefusedError):
            return UpstreamUnreachable(REFUSED)
        return UpstreamUnreachable(f"cannot connect: {exc.os_error.strerror or exc.os_error}")
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return UpstreamUnreachable(HUNG_UP)
    if isinstance(exc, aiohttp.ClientOSError) and exc.errno in (errno.ECONNRESET, errno.EPIPE):
        return UpstreamUnreachable(RESET)
    if isinstance(exc, aiohttp.ClientResponseError):
        return UpstreamUnreachable(NOT_HTTP)
    return UpstreamUnreachable(type(exc).__name__)


def serve_gateway(
    gateway: Gateway, port: int = 0, *, host: str = "127.0.0.1", name: str = "gateway"
) -> RunningServer:
    """Serve ``gateway`` on ``host:port`` (``port=0``: any free port) in a daemon thread.

    Raises ``OSError`` when the port is taken, ``ValueError`` for a non-loopback host or
    an in-process route.
    """
    check_loopback(host)
    return RunningServer(GatewayServer(gateway, host, port), name, host).start()
