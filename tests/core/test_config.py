"""Settings come from the environment; a bad value names its variable."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from launchpad.config import ConfigError, load_settings


def test_defaults_match_the_lesson() -> None:
    s = load_settings({})
    assert s.redis_url is None  # embedded Redis
    assert (s.gateway_port, s.auth_port, s.notification_port) == (3000, 3001, 3002)
    assert s.http_timeout == 3.0
    assert s.auth_service_url == "http://127.0.0.1:3001"


def test_values_are_read_and_converted() -> None:
    s = load_settings({"REDIS_URL": "redis://127.0.0.1:6380/2", "AUTH_PORT": "4001",
                       "HTTP_TIMEOUT": "0.5", "AUTH_SERVICE_URL": "http://127.0.0.1:4001/"})
    assert s.redis_url == "redis://127.0.0.1:6380/2"
    assert s.auth_port == 4001
    assert s.http_timeout == 0.5
    assert s.auth_service_url == "http://127.0.0.1:4001"


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"GATEWAY_PORT": "eighty"}, "GATEWAY_PORT"),
        ({"AUTH_PORT": "70000"}, "AUTH_PORT"),
        ({"HTTP_TIMEOUT": "-1"}, "HTTP_TIMEOUT"),
        ({"HTTP_TIMEOUT": "soon"}, "HTTP_TIMEOUT"),
        ({"REDIS_URL": "localhost:6379"}, "REDIS_URL"),
        ({"AUTH_SERVICE_URL": "127.0.0.1:3001"}, "AUTH_SERVICE_URL"),
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT"),
    ],
)
def test_a_bad_value_is_a_clear_error_naming_the_variable(env: dict[str, str],
                                                          variable: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(env)
    message = str(info.value)
    assert variable in message
    assert repr(next(iter(env.values()))) in message


def test_empty_values_mean_unset() -> None:
    assert load_settings({"REDIS_URL": "", "GATEWAY_PORT": ""}).gateway_port == 3000


@given(st.text(max_size=12))
def test_port_parsing_never_crashes(value: str) -> None:
    try:
        port = load_settings({"GATEWAY_PORT": value}).gateway_port
    except ConfigError as exc:
        assert "GATEWAY_PORT" in str(exc)
    else:
        assert 1 <= port <= 65535


def test_gateway_limits_come_from_the_environment() -> None:
    from launchpad.gateway.rules import Limits

    assert Limits.from_settings(load_settings({})) == Limits()  # nginx's defaults
    limits = Limits.from_settings(
        load_settings({"GATEWAY_HEADER_TIMEOUT": "5", "GATEWAY_MAX_CONNECTIONS": "64"})
    )
    assert (limits.header_timeout, limits.max_connections) == (5.0, 64)
    with pytest.raises(ConfigError, match="GATEWAY_MAX_HEADER_BYTES"):
        load_settings({"GATEWAY_MAX_HEADER_BYTES": "10"})
