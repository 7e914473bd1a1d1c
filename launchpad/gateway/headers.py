"""Which headers cross the gateway, in each direction, and which the gateway sets itself.

Hop-by-hop headers describe one connection, not the message, so a proxy must not forward
them (RFC 9110 §7.6.1): ``Connection`` and every header it names, plus Keep-Alive,
Proxy-Connection, TE, Trailer, Transfer-Encoding, Upgrade, Proxy-Authenticate and
Proxy-Authorization. The gateway strips them in both directions *before* it adds its own
headers. The order matters: a client that sends ``Connection: x-correlation-id`` asks the
next hop to drop that header, and a proxy that set its own headers first and filtered
afterwards would drop its own correlation id.

Headers the gateway owns are replaced, never taken from the client: ``x-correlation-id``
(accepted or made, see ``launchpad.correlation``), ``x-forwarded-by``,
``X-Forwarded-Proto`` and ``X-Forwarded-Host``. ``X-Forwarded-For`` gets the real peer
appended; the client's own entries are kept only when they are IP addresses, and the
gateway never believes them (it logs the peer). ``Host`` and ``Content-Length`` are reset
for the new connection; ``Expect`` was already answered by the front server.

Every request gets the same treatment, whatever its body. http-proxy-middleware does not:
for a request with ``Expect: 100-continue`` (curl sends it for any body over 1 MB) its
``proxyReq`` hook never runs, and the seed's gateway forwards such a request without
``x-correlation-id`` or ``x-forwarded-by`` (checked against ``bench/peers/seed_gateway.js``).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

from launchpad.correlation import HEADER as CORRELATION_HEADER
from launchpad.correlation import TRACEPARENT
from launchpad.http.deadline import BUDGET_HEADER

__all__ = [
    "HOP_BY_HOP",
    "end_to_end",
    "forwarded_for",
    "response_headers",
    "upstream_headers",
]

Headers = list[tuple[str, str]]

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110 §5.6.2
_LINE_BREAKS = re.compile(r"[\r\n]+[ \t]*")

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "proxy-authenticate",
        "proxy-authorization",
    }
)
"""RFC 9110 §7.6.1 (and the old ``Proxy-Connection``): never forwarded, either way."""

# Set by the gateway for the next hop; a client's copy is dropped first.
_GATEWAY_OWNED = frozenset(
    {
        CORRELATION_HEADER,
        "x-forwarded-by",
        "x-forwarded-for",
        "x-forwarded-proto",
        "x-forwarded-host",
        "forwarded",  # RFC 7239: a client could claim any "for=" it likes
        "host",
        "content-length",
        "expect",
        BUDGET_HEADER,  # the gateway's budget for this request, never the client's own
        TRACEPARENT,  # the gateway is a hop of the trace: its own span is the parent
    }
)
# Stamped by the front server on every response it sends; an upstream copy would repeat them.
_FRONT_SERVER_OWNED = frozenset({"date", "server", CORRELATION_HEADER})


def end_to_end(headers: Iterable[tuple[str, str]]) -> Headers:
    """``headers`` minus hop-by-hop ones: the fixed list and every name ``Connection`` lists.

    On the way, a value folded over several lines (obsolete, RFC 9112 §5.2) is joined with
    spaces, and a header whose name is not an HTTP token is dropped: what leaves the gateway
    never carries a CR or LF into the next message.
    """
    items = [(name.lower(), _unfold(value)) for name, value in headers if _TOKEN.fullmatch(name)]
    named = {
        token.strip().lower()
        for name, value in items
        if name == "connection"
        for token in value.split(",")
        if token.strip()
    }
    return [(n, v) for n, v in items if n not in HOP_BY_HOP and n not in named]


def _unfold(value: str) -> str:
    return _LINE_BREAKS.sub(" ", value).strip() if ("\r" in value or "\n" in value) else value


def forwarded_for(client_value: str | None, peer: str) -> str:
    """``X-Forwarded-For`` for the next hop: the client's well-formed IPs, then the real peer.

    Only the last entry was seen by the gateway itself; the rest is the client's claim,
    kept for the record and stripped of anything that is not an IP address.
    """
    claimed = []
    for entry in (client_value or "").split(","):
        try:
            claimed.append(str(ipaddress.ip_address(entry.strip())))
        except ValueError:
            continue
    return ", ".join([*claimed, peer])


def upstream_headers(
    client: Iterable[tuple[str, str]],
    *,
    correlation_id: str,
    peer: str,
    scheme: str,
    host: str | None,
    content_length: int | None,
    upstream_host: str | None = None,
    traceparent: str | None = None,
    budget_ms: str | None = None,
) -> Headers:
    """The headers the upstream receives: end-to-end client headers, then the gateway's.

    ``upstream_host`` becomes ``Host`` (the upstream's own name, like ``changeOrigin``);
    the client's ``Host`` travels as ``X-Forwarded-Host``. ``traceparent`` names the
    gateway's span; ``budget_ms`` is what the gateway will still wait, in milliseconds.
    """
    kept = end_to_end(client)
    client_xff = ",".join(v for n, v in kept if n == "x-forwarded-for") or None
    out = [(n, v) for n, v in kept if n not in _GATEWAY_OWNED]
    if upstream_host:
        out.insert(0, ("host", upstream_host))
    out.append((CORRELATION_HEADER, correlation_id))
    out.append(("x-forwarded-by", "gateway"))
    out.append(("x-forwarded-for", forwarded_for(client_xff, peer)))
    out.append(("x-forwarded-proto", scheme))
    if host:
        out.append(("x-forwarded-host", host))
    if traceparent:
        out.append((TRACEPARENT, traceparent))
    if budget_ms is not None:
        out.append((BUDGET_HEADER, budget_ms))
    if content_length is not None:
        out.append(("content-length", str(content_length)))
    return out


def response_headers(upstream: Iterable[tuple[str, str]], *, correlation_id: str) -> Headers:
    """The headers the client receives: end-to-end upstream headers plus the correlation id.

    ``Content-Length`` is kept only as one plain number, and only when the upstream did not
    also send ``Transfer-Encoding``: the gateway relays the body's bytes as the upstream
    framed them, so that number stays true; otherwise the front server frames the body.
    """
    upstream = list(upstream)
    chunked = any(n.lower() == "transfer-encoding" for n, _ in upstream)
    kept = end_to_end(upstream)
    out = [(n, v) for n, v in kept if n not in _FRONT_SERVER_OWNED and n != "content-length"]
    lengths = {v.strip() for n, v in kept if n == "content-length"}
    if len(lengths) == 1 and not chunked:
        length = lengths.pop()
        if length.isascii() and length.isdigit():
            out.append(("content-length", length))
    out.append((CORRELATION_HEADER, correlation_id))
    return out
