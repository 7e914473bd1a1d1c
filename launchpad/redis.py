"""One way to get a Redis connection: the embedded one by default, a real one when asked.

``REDIS_URL`` unset → an in-process Redis (fakeredis with Lua), so a student needs no
server; ``REDIS_URL=redis://…`` → that server. Like the seed's ``lazyConnect``, a real
connection is made on the first command, not at start-up, so a service can start before
Redis does. Connect and error events are logged with the connection's name.
"""

from __future__ import annotations

import threading
from typing import Any, TypeAlias
from urllib.parse import urlsplit, urlunsplit

import redis
from redis.cluster import RedisCluster
from redis.connection import Connection, SSLConnection, UnixDomainSocketConnection

from launchpad.config import load_settings
from launchpad.logging import get_logger

__all__ = [
    "EMBEDDED_URL",
    "RedisConnection",
    "RedisUnavailable",
    "create_redis_connection",
    "describe",
    "is_embedded",
    "ping",
    "reset_embedded",
]

RedisConnection: TypeAlias = "redis.Redis | RedisCluster"
"""What the kit accepts as a connection: a single server (real or embedded) or a cluster."""

log = get_logger("redis")

_embedded_lock = threading.Lock()
_embedded_server: Any = None
_announced = False

EMBEDDED_URL = "embedded://"
"""Ask for the embedded Redis explicitly, whatever ``REDIS_URL`` says."""


class RedisUnavailable(redis.exceptions.ConnectionError):
    """A real Redis did not answer; the message says which URL and what to do."""


def safe_url(url: str) -> str:
    """``url`` with any password replaced by ``***``, fit for logs and messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


class _NamedConnectionMixin:
    """Logs connect and failure events, and turns a refused connect into a helpful error."""

    launchpad_name = "redis"
    launchpad_url = ""

    def connect(self) -> None:
        try:
            super().connect()  # type: ignore[misc]
        except redis.exceptions.ConnectionError as exc:
            log.error(
                "Redis error",
                extra={
                    "connection": self.launchpad_name,
                    "url": self.launchpad_url,
                    "error": str(exc),
                },
            )
            raise RedisUnavailable(
                f"cannot reach Redis at {self.launchpad_url} for {self.launchpad_name!r}: "
                f"{str(exc).rstrip('.')}. "
                "Start a server (redis-server --port 6379) or unset REDIS_URL to use the "
                "embedded Redis."
            ) from exc

    def on_connect(self) -> None:
        super().on_connect()  # type: ignore[misc]
        log.info(
            "Redis connected", extra={"connection": self.launchpad_name, "url": self.launchpad_url}
        )


def _connection_class(url: str, name: str) -> type[Connection]:
    base: type[Connection]
    if url.startswith("unix://"):
        base = UnixDomainSocketConnection  # type: ignore[assignment]
    elif url.startswith("rediss://"):
        base = SSLConnection
    else:
        base = Connection
    attrs = {"launchpad_name": name, "launchpad_url": safe_url(url)}
    return type(f"Named{base.__name__}", (_NamedConnectionMixin, base), attrs)


def _embedded_server_instance() -> Any:
    """The one embedded server of this process: every connection made here shares its data."""
    global _embedded_server
    import fakeredis

    with _embedded_lock:
        if _embedded_server is None:
            _embedded_server = fakeredis.FakeServer()
        return _embedded_server


def reset_embedded() -> None:
    """Forget the embedded server's data (tests and demos that want a clean start)."""
    global _embedded_server
    with _embedded_lock:
        _embedded_server = None


CLUSTER_SCHEME = "redis+cluster://"
"""``redis+cluster://host:port`` (any node) reaches a Redis Cluster; ``redis://`` one server."""


def create_redis_connection(name: str, url: str | None = None) -> redis.Redis:
    """A Redis connection named ``name``.

    Args:
        name: what the connection is for ("queue", "auth", ...); shown in logs and in
            ``CLIENT LIST`` on a real server.
        url: a ``redis://`` URL, a ``redis+cluster://host:port`` URL (any node of a Redis
            Cluster), or ``"embedded://"``; ``None`` reads ``REDIS_URL``, and when that is
            unset too the embedded Redis is used.

    Returns:
        A client with ``decode_responses=True`` (strings in, strings out). A real server's
        does not connect until its first command; a cluster client reads the slot map at once.
    """
    if url is None:
        url = load_settings().redis_url
    if not url or url == EMBEDDED_URL:
        import fakeredis

        global _announced
        if not _announced:
            _announced = True
            log.info(
                "using embedded Redis (in-process; set REDIS_URL to use a server)",
                extra={"connection": name, "backend": "embedded"},
            )
        conn: redis.Redis = fakeredis.FakeRedis(
            server=_embedded_server_instance(), decode_responses=True
        )
        conn.launchpad_embedded = True  # type: ignore[attr-defined]
        return conn
    if url.startswith(CLUSTER_SCHEME):
        cluster = RedisCluster.from_url(
            "redis://" + url[len(CLUSTER_SCHEME) :],
            decode_responses=True,
            socket_connect_timeout=3,
            client_name=name,
        )
        return cluster  # type: ignore[return-value]  # same commands; see RedisConnection
    pool = redis.ConnectionPool.from_url(
        url,
        decode_responses=True,
        socket_connect_timeout=3,
        client_name=name,
        connection_class=_connection_class(url, name),
    )
    return redis.Redis(connection_pool=pool)


def is_embedded(conn: Any) -> bool:
    """True for the in-process Redis (whose blocking commands do not block like a server's)."""
    return bool(getattr(conn, "launchpad_embedded", False))


def describe(conn: Any) -> str:
    """A one-line, password-free description: ``embedded`` or the server's URL."""
    if is_embedded(conn):
        return "embedded (in-process)"
    if isinstance(conn, RedisCluster):
        nodes = conn.get_nodes()  # type: ignore[no-untyped-call,unused-ignore]
        return "cluster " + ",".join(f"{n.host}:{n.port}" for n in nodes)
    kw = conn.connection_pool.connection_kwargs
    if "path" in kw:
        return f"unix://{kw['path']}"
    return f"redis://{kw.get('host', '?')}:{kw.get('port', '?')}/{kw.get('db', 0)}"


def ping(conn: Any) -> bool:
    """True when Redis answers PING; never raises (for health checks)."""
    try:
        return bool(conn.ping())
    except Exception:
        return False
