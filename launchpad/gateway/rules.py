"""What the gateway refuses before it routes a request, and why: pure functions, no socket.

A gateway is a trusted hop: the services behind it believe that what it forwards is
well-formed HTTP/1.1 with one meaning. So, before a path is even looked at, every request
passes these rules, each from the RFC that a production proxy (nginx, Envoy) also holds:

- **version** (RFC 9110 §6.2, §15.6.6): only HTTP/1.0 and HTTP/1.1 are spoken here.
  ``GET / HTTP/2.0`` in HTTP/1 framing is a client confused about the protocol: 505.
- **method** (RFC 9110 §9): the gateway forwards the methods an API uses. ``CONNECT``
  would make it a tunnel and ``TRACE`` echoes the headers the gateway adds (cross-site
  tracing): both known, both refused with 405 and an ``Allow`` header; a method nobody
  registered is 501, which is what RFC 9110 §9.1 asks of a server that does not know it.
- **Host** (RFC 9112 §3.2): an HTTP/1.1 request carries exactly one Host, and its value is
  an authority: a name or IP and an optional port. A space, ``/``, ``@`` or anything else
  outside that grammar is 400: such a Host is how cache-poisoning and routing tricks begin.
- **framing** (RFC 9112 §6.1): an HTTP/1.0 message with ``Transfer-Encoding`` has faulty
  framing (1.0 has no chunked encoding); it is refused and the connection is closed.
- **size** (RFC 6585 §5): the request's header section is capped (32 KB by default, as
  nginx's four 8 KB buffers): over the cap is 431.
- **text** (RFC 9110 §5.5): header values pass through as the bytes the client sent. The
  gateway reads them as UTF-8; a value that is not UTF-8 is refused (400) rather than
  re-encoded into something the client did not send.

Every refusal closes the connection when the rest of the byte stream may not be read the
way the client meant it (framing, version).

The HTTP parser (aiohttp's llhttp) refuses some of these lines before the rules see them:
``GET / HTTP/1.2`` or ``BREW / HTTP/1.1``. ``refuse_request_line`` gives such a line the
status the rules give it (505, 501) rather than a bare 400. One deviation: RFC 9110 §6.2
says a minor version above 1.1 SHOULD be read as 1.1; the parser cannot, so the gateway
answers 505 and names the version to speak.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from launchpad.config import Settings

__all__ = [
    "FORWARDED_METHODS",
    "Limits",
    "Refusal",
    "check_request",
    "header_text",
    "refuse_request_line",
    "text_headers",
    "valid_host",
]

FORWARDED_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
"""The methods the gateway forwards; the ``Allow`` header of a 405 lists them."""

_REFUSED_METHODS = frozenset({"CONNECT", "TRACE"})  # registered (RFC 9110 §9.3), not allowed
_VERSIONS = ((1, 0), (1, 1))

# RFC 9112 §3: method SP request-target SP HTTP-version, the method a token (RFC 9110 §5.6.2).
_REQUEST_LINE = re.compile(
    rb"(?P<method>[!#$%&'*+\-.^_`|~0-9A-Za-z]+) (?P<target>[^ \x00-\x1f\x7f]+) "
    rb"HTTP/(?P<major>[0-9])\.(?P<minor>[0-9])"
)

# RFC 3986 §3.2.2-3: IP-literal / IPv4 / reg-name, then an optional port.
_HOST = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]*)(:[0-9]{0,5})?")


@dataclass(frozen=True)
class Limits:
    """How long the gateway waits for a client, and how much it holds for one.

    Defaults are nginx's (``client_header_timeout``, ``client_body_timeout``,
    ``keepalive_timeout``, ``large_client_header_buffers``); ``max_connections`` is the
    open client connections the gateway accepts at once, the rest get 503 (it is lowered
    further to fit the process's file descriptor limit, see ``server.connection_cap``).
    """

    header_timeout: float = 60.0  # from the first byte of a request to its last header
    body_timeout: float = 60.0  # between two pieces of a request body
    keepalive_timeout: float = 75.0  # an idle connection, before and between requests
    max_header_bytes: int = 32 * 1024  # the whole header section of a request
    max_connections: int = 512  # open client connections

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        """The limits the ``GATEWAY_*`` environment variables set (see launchpad.config)."""
        return cls(
            header_timeout=settings.gateway_header_timeout,
            body_timeout=settings.gateway_body_timeout,
            keepalive_timeout=settings.gateway_keepalive_timeout,
            max_header_bytes=settings.gateway_max_header_bytes,
            max_connections=settings.gateway_max_connections,
        )


@dataclass(frozen=True)
class Refusal:
    """The gateway answers itself with ``status`` and closes the connection if ``close``."""

    status: int
    message: str
    path: str  # safe for a log line
    close: bool = False
    headers: tuple[tuple[str, str], ...] = field(default=())


def check_request(
    method: str,
    version: tuple[int, int],
    raw_headers: Sequence[tuple[bytes, bytes]],
    limits: Limits,
    path: str,
) -> Refusal | None:
    """The first rule a request breaks (as a ``Refusal``), or ``None`` if it breaks none.

    ``path`` is the (loggable) target, only carried into the refusal for the log line.
    """
    refusal = _version_rule(version, path)
    if refusal is not None:
        return refusal
    size = sum(len(n) + len(v) + 4 for n, v in raw_headers)  # "name: value\r\n"
    if size > limits.max_header_bytes:
        message = f"request headers are {size} bytes, over the {limits.max_header_bytes} cap"
        return Refusal(431, message, path, close=True)
    refusal = _method_rule(method, path)
    if refusal is not None:
        return refusal
    names = [n.lower() for n, _ in raw_headers]
    if version == (1, 0) and b"transfer-encoding" in names:
        message = "HTTP/1.0 has no Transfer-Encoding: the body's framing is faulty"
        return Refusal(400, message, path, close=True)
    hosts = [v for n, v in raw_headers if n.lower() == b"host"]
    if len(hosts) > 1 or (version == (1, 1) and not hosts):
        return Refusal(400, "an HTTP/1.1 request needs exactly one Host header", path)
    if hosts and not valid_host(hosts[0]):
        return Refusal(400, "the Host header is not a host[:port]", path)
    if any(header_text(v) is None for _, v in raw_headers):
        return Refusal(400, "a header value is not UTF-8", path)
    return None


def refuse_request_line(line: bytes) -> Refusal | None:
    """For a request line the HTTP parser refused: the version or method rule it breaks
    (505, 405, 501) when the line is well-formed, else ``None`` (the parser's 400 stands).

    The refusal's ``path`` is the line's target as sent: make it loggable before logging.
    """
    match = _REQUEST_LINE.fullmatch(line)
    if match is None:
        return None
    path = match["target"].decode("latin-1")
    version = (int(match["major"]), int(match["minor"]))
    return _version_rule(version, path) or _method_rule(match["method"].decode("ascii"), path)


def _version_rule(version: tuple[int, int], path: str) -> Refusal | None:
    if version in _VERSIONS:
        return None
    shown = f"HTTP/{version[0]}.{version[1]}"
    return Refusal(505, f"{shown} is not supported: speak HTTP/1.1", path, close=True)


def _method_rule(method: str, path: str) -> Refusal | None:
    if method in FORWARDED_METHODS:
        return None
    if method in _REFUSED_METHODS:
        allow = (("allow", ", ".join(FORWARDED_METHODS)),)
        return Refusal(405, f"{method} is not forwarded", path, headers=allow)
    return Refusal(501, "unknown method", path)


def valid_host(value: bytes) -> bool:
    """True for ``name``, ``name:port``, ``1.2.3.4:80``, ``[::1]:80`` (RFC 9112 §3.2)."""
    try:
        text = value.decode("ascii").strip(" \t")
    except UnicodeDecodeError:
        return False
    match = _HOST.fullmatch(text)
    if match is None:
        return False
    port = (match.group(2) or ":")[1:]
    return not port or int(port) <= 65535


def header_text(value: bytes) -> str | None:
    """A header value's text: its bytes read as UTF-8 (written back as the same bytes), or
    ``None`` when they are not UTF-8."""
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return None


def text_headers(raw: Iterable[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
    """Raw (name, value) pairs as text, dropping any pair that is not UTF-8 (a response's
    header the gateway cannot relay byte for byte)."""
    out = []
    for name, value in raw:
        text = header_text(value)
        if text is not None:
            out.append((name.decode("latin-1"), text))
    return out
