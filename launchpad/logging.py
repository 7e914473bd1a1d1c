"""Structured logs: every record carries its service, the correlation id and the trace id.

Services write JSON lines (one object per line) so tools can read and join them; demos
show the same records in a rich console view. Both views go through ``record_to_dict()``,
which is also where secrets are removed: a field named like a password, token or
authorization header is printed as ``[redacted]``, whatever the caller passed.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import IO, Any, Literal

from rich.console import Console
from rich.text import Text

from launchpad.correlation import current_correlation_id, current_trace

__all__ = [
    "CollectingHandler",
    "JsonLinesFormatter",
    "RichConsoleHandler",
    "configure_logging",
    "get_logger",
    "record_to_dict",
    "redact",
]

ROOT = "launchpad"
REDACTED = "[redacted]"
_SECRET_KEY = re.compile(r"pass(word)?|token|secret|authori[sz]ation|cookie|api[_-]?key", re.I)
_BEARER = re.compile(r"(Bearer\s+)[^\s\"']+", re.I)

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "service",
    "correlation_id",
    "trace_id",
    "taskName",
}


class _ContextFilter(logging.Filter):
    """Stamp the service name and the current correlation id on each record."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self.service
        if not hasattr(record, "correlation_id"):
            record.correlation_id = current_correlation_id()
        if not hasattr(record, "trace_id"):
            trace = current_trace()
            record.trace_id = trace.trace_id if trace else None
        return True


def get_logger(service: str) -> logging.Logger:
    """The logger of one service (``launchpad.<service>``); extra fields go in ``extra=``.

    Example: ``get_logger("auth").info("user registered", extra={"user_id": uid})``.
    """
    logger = logging.getLogger(f"{ROOT}.{service}")
    if not any(isinstance(f, _ContextFilter) for f in logger.filters):
        logger.addFilter(_ContextFilter(service))
    return logger


def redact(value: Any, key: str | None = None) -> Any:
    """``value`` with secrets replaced: by field name, recursively, and Bearer tokens in text."""
    if key is not None and _SECRET_KEY.search(key):
        return REDACTED
    if isinstance(value, Mapping):
        return {str(k): redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return _BEARER.sub(r"\1" + REDACTED, value)
    return value


def record_to_dict(record: logging.LogRecord) -> dict[str, Any]:
    """One record as a flat dict: ts, level, service, correlation_id, message, then extras."""
    out: dict[str, Any] = {
        "ts": datetime.fromtimestamp(record.created, tz=timezone.utc).isoformat(
            timespec="milliseconds"
        ),
        "level": record.levelname.lower(),
        "service": getattr(record, "service", record.name.removeprefix(f"{ROOT}.")),
        "correlation_id": getattr(record, "correlation_id", None),
        "message": redact(record.getMessage()),
    }
    trace_id = getattr(record, "trace_id", None)
    if trace_id:  # OpenTelemetry's name for it: log lines join the trace
        out["trace_id"] = trace_id
    for key, value in vars(record).items():
        if key not in _STANDARD and not key.startswith("_"):
            out[key] = redact(value, key)
    if record.exc_info and record.exc_info[0] is not None:
        out["error"] = redact(logging.Formatter().formatException(record.exc_info))
    return out


class JsonLinesFormatter(logging.Formatter):
    """One JSON object per line; never more than one line per record."""

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(record_to_dict(record), default=str, ensure_ascii=True)


_LEVEL_STYLE = {"debug": "dim", "info": "cyan", "warning": "yellow", "error": "bold red"}


class RichConsoleHandler(logging.Handler):
    """A readable console view of the same records, for demos."""

    def __init__(self, console: Console | None = None) -> None:
        super().__init__()
        self.console = console or Console(stderr=True)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            d = record_to_dict(record)
            line = Text()
            line.append(d["ts"][11:23] + " ", style="dim")
            line.append(f"{d['level']:<7}", style=_LEVEL_STYLE.get(d["level"], ""))
            line.append(f"{d['service']:<14}", style="bold magenta")
            cid = d["correlation_id"] or "-"
            line.append(f"[{cid[:8]}] ", style="green")
            line.append(str(d["message"]))
            core = {"ts", "level", "service", "correlation_id", "message", "trace_id"}
            extras = " ".join(f"{k}={v}" for k, v in d.items() if k not in core)
            if extras:
                line.append("  " + extras, style="dim")
            self.console.print(line, soft_wrap=True, highlight=False)
        except Exception:  # pragma: no cover - logging must never raise
            self.handleError(record)


class CollectingHandler(logging.Handler):
    """Keeps records as dicts in memory, so a demo or a test can show what was logged."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[dict[str, Any]] = []
        self._lock_records = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        d = record_to_dict(record)
        with self._lock_records:
            self.records.append(d)

    def clear(self) -> None:
        with self._lock_records:
            self.records.clear()


def configure_logging(
    fmt: Literal["json", "rich", "off"] = "json",
    *,
    stream: IO[str] | None = None,
    level: int = logging.INFO,
) -> logging.Handler | None:
    """Send every ``launchpad.*`` record to one handler (replacing a previous one).

    ``json`` writes JSON lines to ``stream`` (default stderr), ``rich`` the console view,
    ``off`` nothing. Returns the handler so a caller may remove it again.
    """
    root = logging.getLogger(ROOT)
    for old in [h for h in root.handlers if getattr(h, "_launchpad_main", False)]:
        root.removeHandler(old)
    root.setLevel(level)
    root.propagate = False
    if fmt == "off":
        root.addHandler(logging.NullHandler())
        return None
    handler: logging.Handler
    if fmt == "rich":
        handler = RichConsoleHandler(Console(file=stream or sys.stderr))
    else:
        handler = logging.StreamHandler(stream or sys.stderr)
        handler.setFormatter(JsonLinesFormatter())
    setattr(handler, "_launchpad_main", True)  # noqa: B010 - marks the handler we own
    root.addHandler(handler)
    return handler
