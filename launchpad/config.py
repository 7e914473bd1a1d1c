"""Settings from environment variables, validated once, with errors that name the variable.

Everything a student may want to change without editing code lives here: where Redis is,
where the other services are, the ports, and the default timeout of service calls.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

__all__ = ["ConfigError", "Settings", "load_settings"]

ENV_NAMES: dict[str, str] = {
    "redis_url": "REDIS_URL",
    "auth_service_url": "AUTH_SERVICE_URL",
    "notification_service_url": "NOTIFICATION_SERVICE_URL",
    "gateway_port": "GATEWAY_PORT",
    "auth_port": "AUTH_PORT",
    "notification_port": "NOTIFICATION_PORT",
    "http_timeout": "HTTP_TIMEOUT",
    "log_format": "LOG_FORMAT",
    "gateway_header_timeout": "GATEWAY_HEADER_TIMEOUT",
    "gateway_body_timeout": "GATEWAY_BODY_TIMEOUT",
    "gateway_keepalive_timeout": "GATEWAY_KEEPALIVE_TIMEOUT",
    "gateway_max_header_bytes": "GATEWAY_MAX_HEADER_BYTES",
    "gateway_max_connections": "GATEWAY_MAX_CONNECTIONS",
}


class ConfigError(ValueError):
    """An environment variable has a value the kit cannot use."""


class Settings(BaseModel):
    """The kit's settings. ``redis_url=None`` means: use the embedded Redis."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    redis_url: str | None = None
    """``REDIS_URL``: where Redis is (``redis://``, ``rediss://``, ``unix://``, or
    ``redis+cluster://host:port`` for any node of a Redis Cluster); unset: embedded."""
    auth_service_url: str = "http://127.0.0.1:3001"
    """``AUTH_SERVICE_URL``: where the other services find auth (``launchpad serve``)."""
    notification_service_url: str = "http://127.0.0.1:3002"
    """``NOTIFICATION_SERVICE_URL``: where the gateway finds notifications (``launchpad serve``)."""
    gateway_port: int = Field(default=3000, ge=1, le=65535)
    """``GATEWAY_PORT``: the gateway's port in ``launchpad up`` and ``launchpad serve``."""
    auth_port: int = Field(default=3001, ge=1, le=65535)
    """``AUTH_PORT``: the auth service's port in ``launchpad up`` and ``launchpad serve``."""
    notification_port: int = Field(default=3002, ge=1, le=65535)
    """``NOTIFICATION_PORT``: the notifications service's port, as above."""
    http_timeout: float = Field(default=3.0, gt=0, le=300)
    """``HTTP_TIMEOUT``: seconds a call between services may take, from start to end (also how
    long the gateway waits for a service)."""
    log_format: str = Field(default="json", pattern="^(json|rich|off)$")
    """``LOG_FORMAT``: how ``launchpad serve`` shows its logs: ``json`` (one object per line),
    ``rich`` (for people) or ``off``."""
    # The gateway's limits (launchpad.gateway.rules.Limits); defaults are nginx's.
    gateway_header_timeout: float = Field(default=60.0, gt=0, le=3600)
    """``GATEWAY_HEADER_TIMEOUT``: seconds from a request's first byte to its last header."""
    gateway_body_timeout: float = Field(default=60.0, gt=0, le=3600)
    """``GATEWAY_BODY_TIMEOUT``: seconds the gateway waits between two pieces of a body."""
    gateway_keepalive_timeout: float = Field(default=75.0, gt=0, le=3600)
    """``GATEWAY_KEEPALIVE_TIMEOUT``: seconds an idle client connection stays open."""
    gateway_max_header_bytes: int = Field(default=32 * 1024, ge=1024, le=1024 * 1024)
    """``GATEWAY_MAX_HEADER_BYTES``: the most bytes of one request's header section."""
    gateway_max_connections: int = Field(default=512, ge=1, le=1_000_000)
    """``GATEWAY_MAX_CONNECTIONS``: open client connections at once; the rest get 503."""

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith(("redis://", "rediss://", "unix://", "redis+cluster://")):
            raise ValueError("must start with redis://, rediss://, unix:// or redis+cluster://")
        return value

    @field_validator("auth_service_url", "notification_service_url")
    @classmethod
    def _http_scheme(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read settings from ``environ`` (default: ``os.environ``).

    Raises:
        ConfigError: naming the variable, its value and what it must be.
    """
    env = os.environ if environ is None else environ
    raw: dict[str, Any] = {
        field: env[name] for field, name in ENV_NAMES.items() if env.get(name, "") != ""
    }
    try:
        return Settings(**raw)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else "?"
            name = ENV_NAMES.get(field, field)
            problems.append(f"{name}={raw.get(field)!r}: {err['msg']}")
        raise ConfigError("bad environment setting: " + "; ".join(problems)) from None
