"""The gateway's side of each upstream: a clean pool of connections, and what a failure is.

aiohttp's client keeps kept-alive connections to each upstream (opening a TCP connection
per request, as the seed's gateway does, costs a handshake every time). ``CleanPool``
adds the rule a proxy's pool must keep: a connection is reused only if nothing arrived on
it while it sat idle and the upstream did not close its side.

Failures come out as two exceptions, translated from aiohttp's in one place
(``upstream_error()``), which the gateway turns into statuses (RFC 9110 §15.6):
``UpstreamTimeout`` (no answer in time: 504) and ``UpstreamUnreachable``
(refused, reset, or not HTTP: 502).
"""

from __future__ import annotations

import asyncio
import errno
import functools
from typing import Any

import aiohttp
from aiohttp.client_proto import ResponseHandler

__all__ = [
    "CleanPool",
    "UpstreamError",
    "UpstreamTimeout",
    "UpstreamUnreachable",
    "body_failure",
    "upstream_error",
]


class UpstreamError(Exception):
    """The upstream gave no usable answer."""


class UpstreamTimeout(UpstreamError):
    """Connected (or trying to), but no answer within the timeout: 504."""


class UpstreamUnreachable(UpstreamError):
    """Refused, reset, closed early or answered something that is not HTTP: 502."""


# The words a failure is reported in.
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


def upstream_error(exc: BaseException) -> UpstreamError:
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


class _UpstreamConnection(ResponseHandler):
    """aiohttp's upstream connection, which notices bytes that arrive while it is idle."""

    idle = False

    def set_response_params(self, *args: Any, **kwargs: Any) -> None:
        self.idle = False  # a request is being sent: bytes are expected again
        super().set_response_params(*args, **kwargs)

    def data_received(self, data: bytes) -> None:
        if self.idle and data:
            # Nobody asked: these bytes would be read as the *next* request's answer.
            self.idle = False
            self.close()
            return
        super().data_received(data)


class CleanPool(aiohttp.TCPConnector):
    """aiohttp's pool of kept-alive upstream connections, reusing one only while clean.

    A connection goes back to the pool once its answer was read to the end. If the
    upstream then writes anything (a stray second response, junk) or half-closes, the
    connection is closed instead of reused: otherwise those bytes would be served as
    the answer to the next client, whoever that is. (aiohttp checks this only at the
    moment of release, so ``_release`` is extended here; aiohttp >= 3.10.)
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._factory = functools.partial(_UpstreamConnection, loop=self._loop)  # type: ignore[assignment]

    def _release(self, key: Any, protocol: Any, *, should_close: bool = False) -> None:
        super()._release(key, protocol, should_close=should_close)
        if isinstance(protocol, _UpstreamConnection) and protocol.is_connected():
            protocol.idle = True  # pooled: from now on, any byte is a stray one
