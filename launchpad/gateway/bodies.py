"""Bodies cross the gateway in pieces, both ways, and are never held whole.

A gateway that reads a whole upload before forwarding it (or a whole download before
relaying it) needs memory for the largest body anyone sends, and makes the client wait
for the slowest leg twice. Here the request body is an iterator over ``wsgi.input`` that
the upstream connection pulls 64 KB at a time, and the response body is an iterator over
the upstream's raw bytes that the front server pulls the same way. Raw means undecoded:
a gzip body stays gzip, byte for byte.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from launchpad.gateway.upstream import UpstreamError, UpstreamResponse

__all__ = ["CHUNK", "ClientGone", "Relay", "RequestRefused", "request_body", "short_body"]

CHUNK = 64 * 1024
"""Bytes per piece: large enough to keep syscalls few, small enough to keep memory flat."""


class RequestRefused(Exception):
    """The request cannot be forwarded as sent (400, with this reason)."""


class ClientGone(Exception):
    """The client stopped sending before its body was complete."""


def request_body(environ: dict[str, Any]) -> tuple[Iterator[bytes] | None, int | None]:
    """The client's body as pieces, and its length when the client announced one.

    A request with both ``Transfer-Encoding`` and ``Content-Length`` is refused: the two
    framings can disagree, which is how request smuggling works (RFC 9112 §6.1).
    """
    stream = environ["wsgi.input"]
    encoding = environ.get("HTTP_TRANSFER_ENCODING")
    length_text = environ.get("CONTENT_LENGTH") or ""
    if encoding and length_text:
        raise RequestRefused("both Transfer-Encoding and Content-Length sent")
    if encoding or environ.get("wsgi.input_terminated"):
        return _read_to_end(stream), None  # the server de-chunks; we read until it ends
    if not length_text:
        return None, None
    if not (length_text.isascii() and length_text.isdigit()):
        raise RequestRefused("Content-Length is not a number")
    length = int(length_text)
    return (_read_exactly(stream, length) if length else None), length


def _read(stream: Any, size: int) -> bytes:
    try:
        data: bytes = stream.read(size)
    except OSError as exc:  # reset by the client, or a malformed chunked body
        raise ClientGone(f"reading the request body failed: {exc}") from None
    return data


def _read_to_end(stream: Any) -> Iterator[bytes]:
    while data := _read(stream, CHUNK):
        yield data


def _read_exactly(stream: Any, length: int) -> Iterator[bytes]:
    """Never read past ``length``: on a kept-alive socket the next request follows."""
    remaining = length
    while remaining > 0:
        data = _read(stream, min(CHUNK, remaining))
        if not data:
            raise ClientGone(short_body(length - remaining, length))
        remaining -= len(data)
        yield data


def short_body(received: int, expected: int | None) -> str:
    """Why a request body is incomplete, for the 400 and the log line."""
    if expected is None:
        return f"client stopped after {received} body bytes"
    return f"client sent {received} of {expected} body bytes"


class Relay:
    """The upstream's body for the WSGI server, piece by piece; calls ``done`` at the end.

    A class rather than a generator so that ``close()`` always runs: the server calls it
    when the body is sent or the client went away, and it gives the upstream connection
    back to the pool (or drops it, if the body was not read to its end).
    """

    def __init__(self, upstream: UpstreamResponse, done: Callable[[int, str | None], None]):
        self._upstream = upstream
        self._done: Callable[[int, str | None], None] | None = done
        self.sent = 0
        self.error: str | None = None
        self._finished = False

    def __iter__(self) -> Iterator[bytes]:
        try:
            for piece in self._upstream.iter_raw():
                self.sent += len(piece)
                yield piece
            self._finished = True
        except UpstreamError as exc:
            # Status and headers are sent already: all we can do is cut the connection,
            # so the client sees a broken body instead of a short "complete" one.
            self.error = str(exc)
            raise

    def close(self) -> None:
        self._upstream.close()
        if not self._finished and self.error is None:
            self.error = f"client went away after {self.sent} bytes of the body"
        if self._done is not None:
            done, self._done = self._done, None
            done(self.sent, self.error)
