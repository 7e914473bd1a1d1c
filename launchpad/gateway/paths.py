"""The request path a gateway may forward: decoded once, checked segment by segment.

A gateway routes on the path, and the upstream routes on it again. When the two read the
same bytes differently, a request can land somewhere the gateway never allowed. Encoded dot
segments (``/auth/%2e%2e/admin``) slipped past the route checks of several proxies this way
(CVE-2025-32431 among them); ``%2f`` hides a slash from one side but not the other; and
``%25`` survives one decoding as a ``%`` that the next decoder turns into something else.

So the gateway decodes the path exactly once, rejects (400) anything whose meaning could
change on a second reading, and rebuilds the upstream path from the checked segments: the
upstream sees a path with one meaning, the same one the route table saw.

Rules, per segment (the parts between ``/``):

- ``.`` and ``..`` are refused, raw or encoded (``%2e``): no climbing out of a route;
- ``%2f`` (slash) and ``%5c`` (backslash) are refused: a segment stays one segment;
- ``%25`` is refused, and so is a ``%`` not followed by two hex digits: no double decoding;
- control characters (``%00``, ``%0a``…) and bytes that are not UTF-8 are refused;
- an empty segment (``//``) is refused except as the trailing slash, because ``//host``
  reads as a host name to many URL parsers.

The request target itself must be origin-form (``/path?query``, RFC 9112 §3.2.1): a
gateway that accepts ``GET http://elsewhere/`` is one step from being an open proxy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from urllib.parse import quote, unquote_to_bytes

__all__ = ["CheckedPath", "PathRejected", "check_segment", "check_target"]

# RFC 3986 pchar minus the percent sign: what a segment may hold without escaping.
_SEGMENT_SAFE = "!$&'()*+,;=:@-._~"
_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_FORBIDDEN_ESCAPES = re.compile(r"%(2f|5c|25)", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_RAW_ALLOWED = re.compile(r"[!-~]*")  # printable ASCII, no space: what a request line carries


class PathRejected(ValueError):
    """The request target is not one the gateway forwards; the reason is safe to log and show."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class CheckedPath:
    """A request path that passed every rule: decoded segments plus the raw query string."""

    segments: tuple[str, ...]
    trailing_slash: bool = False
    query: str = ""

    @cached_property
    def path(self) -> str:
        """The path rebuilt from the checked segments, each escaped once (what upstream gets)."""
        encoded = "/".join(quote(s, safe=_SEGMENT_SAFE) for s in self.segments)
        tail = "/" if self.trailing_slash and self.segments else ""
        return "/" + encoded + tail

    @cached_property
    def target(self) -> str:
        """``path`` plus ``?query`` when there is one."""
        return self.path + (f"?{self.query}" if self.query else "")


def check_segment(raw: str) -> str:
    """One raw (still escaped) segment, decoded once; raises ``PathRejected``."""
    if _ESCAPE.search(raw):
        raise PathRejected("malformed percent-escape in path")
    forbidden = _FORBIDDEN_ESCAPES.search(raw)
    if forbidden:
        what = {"2f": "an encoded slash (%2f)", "5c": "an encoded backslash (%5c)"}
        code = forbidden.group(1).lower()
        raise PathRejected(f"path contains {what.get(code, 'an encoded percent sign (%25)')}")
    try:
        decoded = unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        raise PathRejected("path is not valid UTF-8 after decoding") from None
    if decoded in (".", ".."):
        raise PathRejected("path contains a dot segment ('.' or '..', raw or encoded)")
    if _CONTROL.search(decoded):
        raise PathRejected("path contains a control character")
    if "\\" in decoded:
        raise PathRejected("path contains a backslash")
    return decoded


def check_target(target: str) -> CheckedPath:
    """Check a raw request target (``/a/b?q``) and return its decoded segments.

    ``target`` is the request target exactly as the client sent it. Raises
    ``PathRejected`` with a reason.
    """
    if not target.startswith("/"):
        if "://" in target:
            raise PathRejected("absolute-form request target refused: send only the path")
        raise PathRejected("request target must be a path starting with '/'")
    if not _RAW_ALLOWED.fullmatch(target):
        raise PathRejected("request target contains characters that must be percent-encoded")
    if "#" in target:
        raise PathRejected("request target contains a fragment ('#')")
    raw_path, _, query = target.partition("?")
    raw_segments = raw_path.split("/")[1:]
    trailing_slash = len(raw_segments) > 1 and raw_segments[-1] == ""
    if trailing_slash or raw_segments == [""]:
        raw_segments = raw_segments[:-1]
    if any(s == "" for s in raw_segments):
        raise PathRejected("path contains an empty segment ('//')")
    segments = tuple(check_segment(s) for s in raw_segments)
    return CheckedPath(segments, trailing_slash, query)
