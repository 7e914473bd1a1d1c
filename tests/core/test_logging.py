"""Structured logs: the fields every record carries, and secrets that never show."""

from __future__ import annotations

import io
import json
import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from launchpad.correlation import correlation_scope
from launchpad.logging import CollectingHandler, configure_logging, get_logger, redact


@pytest.fixture
def json_lines() -> io.StringIO:
    stream = io.StringIO()
    handler = configure_logging("json", stream=stream)
    yield stream
    logging.getLogger("launchpad").removeHandler(handler)  # type: ignore[arg-type]


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_every_record_carries_service_and_correlation_id(json_lines: io.StringIO) -> None:
    log = get_logger("auth")
    with correlation_scope("req-42"):
        log.info("user registered", extra={"user_id": "u1"})
    log.warning("outside any request")
    first, second = _lines(json_lines)
    assert first["service"] == "auth"
    assert first["correlation_id"] == "req-42"
    assert first["message"] == "user registered"
    assert first["user_id"] == "u1"
    assert first["level"] == "info"
    assert "T" in str(first["ts"])
    assert second["correlation_id"] is None and second["level"] == "warning"


def test_secrets_never_show_even_as_fields(json_lines: io.StringIO) -> None:
    log = get_logger("auth")
    log.info("login", extra={"password": "hunter2", "token": "tok-abc",
                             "headers": {"Authorization": "Bearer tok-abc"},
                             "api_key": "k-1", "email": "a@b.c"})
    log.info("calling with Authorization: Bearer tok-abc")
    text = json_lines.getvalue()
    assert "hunter2" not in text and "tok-abc" not in text and "k-1" not in text
    assert "a@b.c" in text
    assert text.count("[redacted]") == 5


def test_a_multi_line_message_stays_one_json_line(json_lines: io.StringIO) -> None:
    get_logger("gw").info("line one\nline two\r\nforged: entry")
    assert len(json_lines.getvalue().splitlines()) == 1


def test_exceptions_are_logged_with_their_stack(json_lines: io.StringIO) -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        get_logger("svc").exception("failed")
    (line,) = _lines(json_lines)
    assert "RuntimeError: boom" in str(line["error"])


def test_rich_view_shows_the_same_record() -> None:
    stream = io.StringIO()
    handler = configure_logging("rich", stream=stream)
    try:
        with correlation_scope("abcdef123456"):
            get_logger("worker").info("delivered", extra={"token": "secret-tok"})
    finally:
        logging.getLogger("launchpad").removeHandler(handler)  # type: ignore[arg-type]
    out = stream.getvalue()
    assert "worker" in out and "delivered" in out and "abcdef12" in out
    assert "secret-tok" not in out


def test_collecting_handler_keeps_dicts() -> None:
    collector = CollectingHandler()
    logging.getLogger("launchpad").addHandler(collector)
    try:
        with correlation_scope("c-1"):
            get_logger("queue").info("job added", extra={"job_id": "1"})
    finally:
        logging.getLogger("launchpad").removeHandler(collector)
    assert collector.records[-1]["correlation_id"] == "c-1"
    assert collector.records[-1]["job_id"] == "1"


@given(st.text(min_size=6, max_size=40, alphabet=st.characters(min_codepoint=48,
                                                                 max_codepoint=122)))
def test_redact_removes_any_bearer_token_and_secret_field(secret: str) -> None:
    cleaned = redact({"msg": f"Authorization: Bearer {secret}", "password": secret,
                      "nested": [{"refresh_token": secret}]})
    assert secret not in json.dumps(cleaned)
