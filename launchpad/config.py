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
}


class ConfigError(ValueError):
    """An environment variable has a value the kit cannot use."""


class Settings(BaseModel):
    """The kit's settings. ``redis_url=None`` means: use the embedded Redis."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    redis_url: str | None = None
    auth_service_url: str = "http://127.0.0.1:3001"
    notification_service_url: str = "http://127.0.0.1:3002"
    gateway_port: int = Field(default=3000, ge=1, le=65535)
    auth_port: int = Field(default=3001, ge=1, le=65535)
    notification_port: int = Field(default=3002, ge=1, le=65535)
    http_timeout: float = Field(default=3.0, gt=0, le=300)
    log_format: str = Field(default="json", pattern="^(json|rich|off)$")

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
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
