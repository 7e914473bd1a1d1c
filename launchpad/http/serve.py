"""Run a WSGI app on a real port on 127.0.0.1, in a background thread, and stop it cleanly.

The same app object runs in-process (``httpx.WSGITransport``) for fast tests and on a
real socket here, so students can curl it and tests can see real network failures.
The server is werkzeug's threaded server speaking HTTP/1.1: connections are kept alive
and chunked request bodies are accepted.
"""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

__all__ = ["RunningServer", "serve"]


class _QuietHTTP11Handler(WSGIRequestHandler):
    """HTTP/1.1 (keep-alive) and no access log on stderr: services log JSON themselves."""

    protocol_version = "HTTP/1.1"

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass

    def log(self, type: str, message: str, *args: Any) -> None:
        pass


class RunningServer:
    """A server started by :func:`serve`. Use as a context manager or call :meth:`stop`."""

    def __init__(self, server: BaseWSGIServer, name: str) -> None:
        self._server = server
        self.name = name
        self.host = "127.0.0.1"
        self.port: int = server.server_port
        self.url = f"http://{self.host}:{self.port}"
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"serve-{name}-{self.port}",
            daemon=True,
        )

    def start(self) -> RunningServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, close the listening socket and wait for the serving thread."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def serve(app: Any, port: int = 0, *, name: str = "app", host: str = "127.0.0.1") -> RunningServer:
    """Serve ``app`` on ``host:port`` (``port=0``: any free port) in a daemon thread.

    Only loopback addresses are allowed: the kit never listens on a public interface.
    """
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError(f"refusing to listen on {host!r}: the kit serves on loopback only")
    server = make_server(host, port, app, threaded=True, request_handler=_QuietHTTP11Handler)
    server.daemon_threads = True  # type: ignore[attr-defined]  # threaded server: a mixin attr
    return RunningServer(server, name).start()
