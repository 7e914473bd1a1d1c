"""The route table: a fixed list of path prefixes, each owned by one upstream service.

The gateway forwards only to targets written in this table, never to a host the client
names: it is a reverse proxy, not an open one. A prefix matches whole path segments, so
``/auth`` matches ``/auth`` and ``/auth/login`` but not ``/authx``. A plain string
``startswith`` gets this wrong, and so does http-proxy-middleware's string ``pathFilter``
(it tests ``pathname.indexOf(filter) === 0``). When two prefixes match, the longer wins.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from launchpad.gateway.paths import CheckedPath, PathRejected, check_target

__all__ = ["Route", "RouteTable"]


@dataclass(frozen=True)
class Route:
    """Send requests under ``prefix`` to ``target`` (``http://host:port``).

    ``name`` (default: the prefix without its slash) labels the upstream in logs and in
    ``GET /health``.
    """

    prefix: str
    target: str
    name: str = ""
    segments: tuple[str, ...] = field(init=False, compare=False, repr=False)
    netloc: str = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        try:
            checked = check_target(self.prefix)
        except PathRejected as exc:
            raise ValueError(f"route prefix {self.prefix!r} is not a plain path: {exc}") from None
        if checked.query:
            raise ValueError(f"route prefix {self.prefix!r} must not have a query string")
        url = urlsplit(self.target)
        try:
            url.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError:
            raise ValueError(f"route target {self.target!r} has a bad port") from None
        if url.scheme not in ("http", "https") or not url.hostname or "@" in url.netloc:
            raise ValueError(f"route target {self.target!r} must be an http(s)://host[:port] URL")
        if url.path not in ("", "/") or url.query or url.fragment:
            raise ValueError(
                f"route target {self.target!r} must not have a path: upstream gets the same path"
            )
        object.__setattr__(self, "prefix", checked.path.rstrip("/") or "/")
        object.__setattr__(self, "segments", checked.segments)
        object.__setattr__(self, "target", f"{url.scheme}://{url.netloc}")
        object.__setattr__(self, "netloc", url.netloc)
        if not self.name:
            object.__setattr__(self, "name", checked.segments[0] if checked.segments else "root")

    def matches(self, path: CheckedPath) -> bool:
        """True when ``path`` starts with this prefix, compared segment by segment."""
        own = self.segments
        return path.segments[: len(own)] == own


class RouteTable:
    """Routes, longest prefix first; ``match()`` returns the one that owns a path."""

    def __init__(self, routes: Iterable[Route]) -> None:
        self.routes: tuple[Route, ...] = tuple(
            sorted(routes, key=lambda r: len(r.segments), reverse=True)
        )
        prefixes = [r.prefix for r in self.routes]
        duplicates = {p for p in prefixes if prefixes.count(p) > 1}
        if duplicates:
            raise ValueError(f"route prefix listed twice: {', '.join(sorted(duplicates))}")
        names = [r.name for r in self.routes]
        if len(set(names)) != len(names):
            raise ValueError(f"route names must be unique, got {names}")

    def match(self, path: CheckedPath) -> Route | None:
        for route in self.routes:
            if route.matches(path):
                return route
        return None
