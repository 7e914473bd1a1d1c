"""Run a WSGI app on a real port on 127.0.0.1, in a background thread, and stop it cleanly.

The same app object runs in-process (``httpx.WSGITransport``) for fast tests and on a
real socket here, so students can curl it and tests can see real network failures.

The server is werkzeug's threaded one: simple and strict, a thread per connection,
chunked request bodies accepted. It closes the connection after every response, which
costs a service little (each is called by a few clients) and the front door a lot: the
gateway runs on its own event loop instead (``launchpad.gateway.server``), which
serves through this module's ``RunningServer`` too.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any, Protocol

from werkzeug.serving import WSGIRequestHandler, make_server

__all__ = ["RunningServer", "check_loopback", "serve"]

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


class _Server(Protocol):
    """What ``RunningServer`` needs: a bound port, a blocking serve(), a stop()."""

    port: int

    def serve(self) -> None: ...

    def stop(self) -> None: ...


class RunningServer:
    """A server started by ``serve()``. Use as a context manager or call ``stop()``."""

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
) -> RunningServer:
    """Serve ``app`` on ``host:port`` (``port=0``: any free port) in a daemon thread.

    Raises ``OSError`` when the port is taken, ``ValueError`` for a non-loopback host.
    """
    check_loopback(host)
    return RunningServer(_WerkzeugServer(app, host, port), name, host).start()
