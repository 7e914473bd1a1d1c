"""Bodies cross the gateway in pieces, both ways, and are never held whole.

A gateway that reads a whole upload before forwarding it (or a whole download before
relaying it) needs memory for the largest body anyone sends, and makes the client wait
for the slowest leg twice. The front (``server``) hands the upstream each piece of
the request body as it arrives and relays the answer's raw bytes the same way (aiohttp's
flow control pauses the faster side): a gzip body stays gzip, byte for byte.
"""

from __future__ import annotations

__all__ = ["ClientGone", "short_body"]


class ClientGone(Exception):
    """The client stopped sending (or went quiet) before its body was complete."""


def short_body(received: int, expected: int | None) -> str:
    """Why a request body is incomplete, for the 400 and the log line."""
    if expected is None:
        return f"client stopped after {received} body bytes"
    return f"client sent {received} of {expected} body bytes"
