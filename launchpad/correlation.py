"""Correlation ids: one id per client request, carried through every hop.

The gateway makes (or accepts) an id and puts it in the ``x-correlation-id`` header;
each service keeps it in a context variable while it handles the request, the service
client forwards it, the queue stores it in the job, and the worker restores it. Every
log line of one request then carries the same id, across processes.

An id from a client is untrusted input: it ends up in log lines and upstream headers,
so only a short, plain value is kept (``[A-Za-z0-9._:-]``, 1-128 chars). Anything else
(empty, too long, CR/LF, control or non-ASCII characters) is replaced by a fresh id,
and the raw value is never logged (log forging, CWE-117).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = [
    "HEADER",
    "MAX_LENGTH",
    "accept",
    "correlation_scope",
    "current_correlation_id",
    "is_safe",
    "new_correlation_id",
    "rejection_reason",
]

HEADER = "x-correlation-id"
"""The HTTP header (and log field) that carries the id."""

MAX_LENGTH = 128

_SAFE = re.compile(r"[A-Za-z0-9._:\-]{1,128}")

_current: ContextVar[str | None] = ContextVar("correlation_id", default=None)


def new_correlation_id() -> str:
    """A fresh random id (uuid4, 36 chars), safe by construction."""
    return str(uuid.uuid4())


def is_safe(value: str | None) -> bool:
    """True when ``value`` may travel as it is: 1-128 chars of ``[A-Za-z0-9._:-]``."""
    return value is not None and _SAFE.fullmatch(value) is not None


def rejection_reason(value: str | None) -> str | None:
    """Why ``value`` would be replaced, in words safe to log; ``None`` if it is kept.

    The reason names the rule that failed, never the value itself.
    """
    if value is None:
        return "missing"
    if value == "":
        return "empty"
    if len(value) > MAX_LENGTH:
        return f"too long ({len(value)} chars, at most {MAX_LENGTH})"
    if "\r" in value or "\n" in value:
        return "contains CR or LF"
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        return "contains a control character"
    if not value.isascii():
        return "contains non-ASCII characters"
    if not is_safe(value):
        return "contains characters outside [A-Za-z0-9._:-]"
    return None


def accept(value: str | None) -> str:
    """Keep a safe inbound id unchanged; replace anything else with a fresh one."""
    return value if value is not None and is_safe(value) else new_correlation_id()


def current_correlation_id() -> str | None:
    """The id of the request or job being handled in this context, if any."""
    return _current.get()


@contextmanager
def correlation_scope(correlation_id: str | None = None) -> Iterator[str]:
    """Make ``correlation_id`` current for the ``with`` block (a new one if ``None``).

    Context variables follow threads and asyncio tasks correctly, so a request handled
    in one thread never sees another request's id.
    """
    cid = correlation_id if correlation_id is not None else new_correlation_id()
    token = _current.set(cid)
    try:
        yield cid
    finally:
        _current.reset(token)
