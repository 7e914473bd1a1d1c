"""Test helpers for the gateway: an upstream that shows what it received, and a raw client.

The upstream is a plain WSGI app (it runs in-process or on a real port):

- ``*/echo``: JSON of the method, raw target, path, headers (as a list) and body size;
- ``*/download?size=N``: N bytes, streamed in 64 KB pieces, never held whole;
- ``*/upload``: reads the body in pieces and answers how many bytes came;
- ``*/gzip``: a gzip-encoded body with ``Content-Encoding: gzip``;
- ``*/hang``: waits until the test ends (at most 10 s) before answering;
- ``*/utf8``: answers with a header whose value is UTF-8 (``café ☕``);
- ``*/hop``: answers with hop-by-hop headers the gateway must not pass on;
- ``/health``: 200.

``raw_request`` sends bytes exactly as written, because httpx (rightly) normalizes
``..`` and refuses absolute-form targets: the attacks must be sent by hand.
"""

from __future__ import annotations

import gzip
import http.client
import json
import socket
import threading
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import parse_qs

PIECE = b"x" * 65536
GZIP_TEXT = b"hello through the gateway, still compressed\n" * 50
GZIP_BODY = gzip.compress(GZIP_TEXT)


class Upstream:
    """The upstream app, with a count of requests and a switch that ends every hang."""

    def __init__(self) -> None:
        self.hits = 0
        self.release = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        with self._lock:
            self.hits += 1
        path = environ.get("PATH_INFO", "")
        query = parse_qs(environ.get("QUERY_STRING", ""))
        if path == "/health":
            return _json(start_response, {"status": "ok"})
        if path.endswith("/download"):
            size = int(query.get("size", ["0"])[0])
            start_response("200 OK", [("content-type", "application/octet-stream"),
                                      ("content-length", str(size))])  # fmt: skip
            # werkzeug's server would send a body even for HEAD: no body means none.
            return [] if environ["REQUEST_METHOD"] == "HEAD" else _pieces(size)
        if path.endswith("/upload"):
            return _json(start_response, {"received": _drain(environ)})
        if path.endswith("/gzip"):
            start_response("200 OK", [("content-type", "text/plain"),
                                      ("content-encoding", "gzip"),
                                      ("content-length", str(len(GZIP_BODY)))])  # fmt: skip
            return [GZIP_BODY]
        if path.endswith("/hang"):
            self.release.wait(10)
            return _json(start_response, {"late": True})
        if path.endswith("/utf8"):  # PEP 3333: header text is the raw bytes as latin-1
            raw = "café ☕".encode().decode("latin-1")
            start_response("200 OK", [("x-name", raw), ("content-length", "0")])
            return []
        if path.endswith("/hop"):
            start_response("200 OK", [("content-type", "text/plain"),
                                      ("connection", "x-internal"),
                                      ("x-internal", "upstream secret"),
                                      ("keep-alive", "timeout=5"),
                                      ("proxy-authenticate", "Basic realm=x"),
                                      ("trailer", "x-checksum"),
                                      ("upgrade", "h2c"),
                                      ("x-end-to-end", "kept"),
                                      ("content-length", "2")])  # fmt: skip
            return [b"ok"]
        headers = [
            (k[5:].lower().replace("_", "-"), str(v)) for k, v in environ.items()
            if k.startswith("HTTP_")
        ]  # fmt: skip
        if environ.get("CONTENT_LENGTH"):
            headers.append(("content-length", environ["CONTENT_LENGTH"]))
        return _json(start_response, {
            "method": environ["REQUEST_METHOD"],
            "raw_target": environ.get("RAW_URI") or environ.get("REQUEST_URI"),
            "path": path,
            "query": environ.get("QUERY_STRING", ""),
            "headers": headers,
            "body_bytes": _drain(environ),
        })  # fmt: skip


def _json(start_response: Any, body: dict[str, Any]) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response("200 OK", [("content-type", "application/json"),
                              ("content-length", str(len(data)))])  # fmt: skip
    return [data]


def _pieces(size: int) -> Iterator[bytes]:
    left = size
    while left > 0:
        piece = PIECE if left >= len(PIECE) else PIECE[:left]
        left -= len(piece)
        yield piece


def _drain(environ: dict[str, Any]) -> int:
    stream = environ["wsgi.input"]
    if environ.get("wsgi.input_terminated"):
        total = 0
        while data := stream.read(65536):
            total += len(data)
        return total
    left = int(environ.get("CONTENT_LENGTH") or 0)
    total = 0
    while left > 0:
        data = stream.read(min(65536, left))
        if not data:
            break
        total += len(data)
        left -= len(data)
    return total


def header_values(echo: dict[str, Any], name: str) -> list[str]:
    """All values of header ``name`` that the echo endpoint received."""
    return [v for n, v in echo["headers"] if n == name]


def raw_request(
    port: int, data: bytes, *, timeout: float = 10.0
) -> tuple[int, dict[str, str], bytes]:
    """Send ``data`` as written; return status, headers (last one wins) and body."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        return read_response(sock)


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Read one response (after any interim 100 Continue), framed as its headers say.

    Framing, not the connection's end, marks the end: a keep-alive server leaves the
    connection open after answering.
    """
    response = http.client.HTTPResponse(sock)
    response.begin()  # skips interim 1xx answers
    body = response.read()  # de-chunks a chunked body
    headers = {name.lower(): value for name, value in response.getheaders()}
    return response.status, headers, body
