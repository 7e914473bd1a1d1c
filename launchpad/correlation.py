"""Correlation ids: one id per client request, carried through every hop.

The gateway makes (or accepts) an id and puts it in the ``x-correlation-id`` header;
each service keeps it in a context variable while it handles the request, the service
client forwards it, the queue stores it in the job, and the worker restores it. Every
log line of one request then carries the same id, across processes.

An id from a client is untrusted input: it ends up in log lines and upstream headers,
so only a short, plain value is kept (``[A-Za-z0-9._:-]``, 1-128 chars). Anything else
(empty, too long, CR/LF, control or non-ASCII characters) is replaced by a fresh id,
and the raw value is never logged (log forging, CWE-117).

**W3C Trace Context.** Beside ``x-correlation-id`` the kit accepts and sends
``traceparent`` (https://www.w3.org/TR/trace-context/), the header OpenTelemetry uses, so
a service instrumented with OpenTelemetry joins the same trace. The two ids map one to
one:

* a correlation id that is a UUID (``8-4-4-4-12`` hex, as the kit makes them) *is* the
  trace id: its 32 hex digits, lowercased (``0af7651b-...`` -> ``0af7651b...``);
* any other safe correlation id (``order-42``) gives the trace id ``sha256(id)[:32]``, so
  every hop derives the same trace id from it without being told;
* a request that brings only a valid ``traceparent`` gets the correlation id that is the
  trace id written as a UUID, so mapping it back gives the same trace id.

When a client sends both, both are kept as sent. Each service handling a request is one
*span*: it gets a fresh span id (8 random bytes), and its outgoing calls carry
``traceparent: 00-<trace id>-<its span id>-<flags>``; the sampled flag is passed on as it
came (``01`` when the trace starts here). A malformed ``traceparent`` is ignored, as the
spec asks, and never logged. ``tracestate`` is not read or sent.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

__all__ = [
    "HEADER",
    "MAX_LENGTH",
    "TRACEPARENT",
    "TraceContext",
    "TraceParent",
    "accept",
    "accept_context",
    "correlation_scope",
    "current_correlation_id",
    "current_trace",
    "is_safe",
    "new_correlation_id",
    "parse_traceparent",
    "rejection_reason",
    "trace_id_for",
]

HEADER = "x-correlation-id"
"""The HTTP header (and log field) that carries the id."""

MAX_LENGTH = 128

_SAFE = re.compile(r"[A-Za-z0-9._:\-]{1,128}")

TRACEPARENT = "traceparent"
"""The W3C Trace Context header: ``00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>``."""

_current: ContextVar[str | None] = ContextVar("correlation_id", default=None)
_trace: ContextVar[TraceContext | _DerivedTrace | None] = ContextVar("trace_context", default=None)
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?")


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


def current_trace() -> TraceContext | None:
    """The trace context (trace id, this hop's span id) of the request being handled."""
    trace = _trace.get()
    return trace.get() if isinstance(trace, _DerivedTrace) else trace


@contextmanager
def correlation_scope(
    correlation_id: str | None = None, trace: TraceContext | None = None
) -> Iterator[str]:
    """Make ``correlation_id`` current for the ``with`` block (a new one if ``None``).

    ``trace`` is the block's trace context; without one it is derived from the id (same
    trace id on every hop, a new span id), as a worker does when it restores a job's id,
    and made only when something in the block asks for it (`current_trace`).
    Context variables follow threads and asyncio tasks correctly, so a request handled
    in one thread never sees another request's id.
    """
    cid = correlation_id if correlation_id is not None else new_correlation_id()
    token = _current.set(cid)
    trace_token = _trace.set(trace or _DerivedTrace(cid))
    try:
        yield cid
    finally:
        _trace.reset(trace_token)
        _current.reset(token)


# -- W3C Trace Context ---------------------------------------------------------------------


@dataclass(frozen=True)
class TraceContext:
    """One hop's place in a trace: the trace id, this hop's span id, and the flags."""

    trace_id: str  # 32 lowercase hex digits, not all zero
    span_id: str  # 16 lowercase hex digits, not all zero
    flags: str = "01"  # 01: sampled

    @classmethod
    def start(cls, trace_id: str, flags: str = "01") -> TraceContext:
        """This hop's span in trace ``trace_id``: a fresh random span id."""
        span = secrets.token_hex(8)
        while span == "0" * 16:  # pragma: no cover - one chance in 2**64
            span = secrets.token_hex(8)
        return cls(trace_id, span, flags)

    def traceparent(self) -> str:
        """The header value for a call this hop makes: this hop's span is the parent."""
        return f"00-{self.trace_id}-{self.span_id}-{self.flags}"


class _DerivedTrace:
    """The trace context of a scope opened without one, made when first asked for.

    A worker opens a scope for every job it runs and most runs never log or call out:
    a span id costs a system call for randomness, a trace id a hash. Made once, it stays:
    every line and call of the scope shows the same span.
    """

    __slots__ = ("_cid", "_lock", "_made")

    def __init__(self, correlation_id: str) -> None:
        self._cid = correlation_id
        self._made: TraceContext | None = None
        self._lock = threading.Lock()  # a copied context may ask from two threads at once

    def get(self) -> TraceContext:
        if self._made is None:
            with self._lock:
                if self._made is None:
                    self._made = TraceContext.start(trace_id_for(self._cid))
        return self._made


@dataclass(frozen=True)
class TraceParent:
    """A parsed ``traceparent`` header."""

    version: str
    trace_id: str
    parent_id: str
    flags: str


def parse_traceparent(value: str | None) -> TraceParent | None:
    """A valid ``traceparent`` value, parsed; ``None`` for anything else.

    The spec's rules: lowercase hex only; version ``ff`` is invalid; version ``00`` is
    exactly 55 characters; a later version may add fields after a ``-``; a trace id or
    parent id of all zeros is invalid.
    """
    if value is None or len(value) > 512:
        return None
    match = _TRACEPARENT.fullmatch(value.strip(" \t"))
    if match is None:
        return None
    version, trace_id, parent_id, flags, rest = match.groups()
    if version == "ff" or (version == "00" and rest is not None):
        return None
    if trace_id == "0" * 32 or parent_id == "0" * 16:
        return None
    return TraceParent(version, trace_id, parent_id, flags)


def trace_id_for(correlation_id: str) -> str:
    """The trace id of a correlation id: the UUID's hex, or the first half of its SHA-256."""
    if _UUID.fullmatch(correlation_id):
        hexed = correlation_id.replace("-", "").lower()
        if hexed != "0" * 32:
            return hexed
    return hashlib.sha256(correlation_id.encode()).hexdigest()[:32]


def _uuid_form(trace_id: str) -> str:
    return str(uuid.UUID(hex=trace_id))


def accept_context(
    correlation_header: str | None, traceparent_header: str | None
) -> tuple[str, TraceContext]:
    """The correlation id and trace context of an inbound request, each derived from the
    other when only one came (see the module docstring), both fresh when neither did."""
    parent = parse_traceparent(traceparent_header)
    if correlation_header is not None and is_safe(correlation_header):
        cid = correlation_header
    elif parent is not None:
        cid = _uuid_form(parent.trace_id)
    else:
        cid = new_correlation_id()
    if parent is not None:
        return cid, TraceContext.start(parent.trace_id, parent.flags)
    return cid, TraceContext.start(trace_id_for(cid))
