"""Run a WSGI app on a real port on 127.0.0.1, in a background thread, and stop it cleanly.

The same app object runs in-process (``httpx.WSGITransport``) for fast tests and on a
real socket here, so students can curl it and tests can see real network failures.

Two servers, both threaded and both accepting chunked request bodies:

* ``werkzeug`` (the default): werkzeug's development server. Simple and strict, but it
  closes the connection after every response and starts a thread per connection.
* ``cheroot`` (CherryPy's production WSGI server): a fixed pool of worker threads and
  HTTP/1.1 keep-alive, with idle connections parked in a selector, not a thread. The
  gateway runs on it in ``launchpad up``: in ``bench/gateway_overhead.py`` it halves the
  gateway's CPU per request compared with werkzeug, which puts the gateway ahead of the
  seed's Node gateway on latency, throughput and memory.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any, Literal, Protocol

from werkzeug.serving import WSGIRequestHandler, make_server

__all__ = ["RunningServer", "ServerKind", "check_loopback", "serve"]

ServerKind = Literal["werkzeug", "cheroot"]
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class _QuietHTTP11Handler(WSGIRequestHandler):
    """HTTP/1.1 (keep-alive) and no access log on stderr: services log JSON themselves."""

    protocol_version = (
        "HTTP/1.1"  # chunked request bodies; werkzeug 3.1 still closes after each response
    )

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass

    def log(self, type: str, message: str, *args: Any) -> None:
        pass


class _WerkzeugServer:
    def __init__(self, app: WSGIApp, host: str, port: int) -> None:
        self._server = make_server(
            host, port, app, threaded=True, request_handler=_QuietHTTP11Handler
        )
        self._server.daemon_threads = True  # type: ignore[attr-defined]  # ThreadingMixIn
        self.port: int = self._server.server_port

    def serve(self) -> None:
        self._server.serve_forever(poll_interval=0.05)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class _CherootServer:
    def __init__(self, app: WSGIApp, host: str, port: int, name: str, threads: int) -> None:
        from cheroot import wsgi

        self._server = wsgi.Server(
            (host, port),
            _chunked_input_is_terminated(app),
            numthreads=threads,
            server_name=name,
            request_queue_size=128,
            shutdown_timeout=1,
        )
        # Idle kept-alive clients allowed before cheroot starts closing them (default 10).
        self._server.keep_alive_conn_limit = 64
        self._server.prepare()  # binds now: a busy port fails here, and the port is known
        self.port = int(self._server.bind_addr[1])

    def serve(self) -> None:
        self._server.serve()

    def stop(self) -> None:
        self._server.stop()


def _chunked_input_is_terminated(app: WSGIApp) -> WSGIApp:
    """Tell the app a chunked body ends by itself (cheroot's reader stops at the last chunk).

    Without ``wsgi.input_terminated``, werkzeug treats a body with no Content-Length as empty.
    """

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
            environ["wsgi.input_terminated"] = True
        return app(environ, start_response)

    return wrapped


class _Server(Protocol):
    """What :class:`RunningServer` needs: a bound port, a blocking serve(), a stop()."""

    port: int

    def serve(self) -> None: ...

    def stop(self) -> None: ...


class RunningServer:
    """A server started by :func:`serve`. Use as a context manager or call :meth:`stop`."""

    def __init__(self, server: _Server, name: str, host: str) -> None:
        self._server = server
        self.name = name
        self.host = host
        self.port: int = server.port
        self.url = f"http://{host}:{self.port}"
        self._thread = threading.Thread(
            target=server.serve, name=f"serve-{name}-{self.port}", daemon=True
        )

    def start(self) -> RunningServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, close the listening socket and wait for the serving thread."""
        if self._thread.is_alive():
            self._server.stop()
            self._thread.join(timeout=5)

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def check_loopback(host: str) -> None:
    """Only loopback addresses are allowed: the kit never listens on a public interface."""
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError(f"refusing to listen on {host!r}: the kit serves on loopback only")


def serve(
    app: Any,
    port: int = 0,
    *,
    name: str = "app",
    host: str = "127.0.0.1",
    server: ServerKind = "werkzeug",
    threads: int = 10,
) -> RunningServer:
    """Serve ``app`` on ``host:port`` (``port=0``: any free port) in a daemon thread.

    Args:
        server: ``"werkzeug"`` or ``"cheroot"`` (see the module docstring).
        threads: cheroot's worker threads: requests handled at once (werkzeug: unbounded).

    Raises ``OSError`` when the port is taken, ``ValueError`` for a non-loopback host.
    """
    check_loopback(host)
    running: _WerkzeugServer | _CherootServer
    if server == "cheroot":
        running = _CherootServer(app, host, port, name, threads)
    elif server == "werkzeug":
        running = _WerkzeugServer(app, host, port)
    else:
        raise ValueError(f"unknown server {server!r}: use 'werkzeug' or 'cheroot'")
    return RunningServer(running, name, host).start()
