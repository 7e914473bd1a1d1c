"""``launchpad doctor``: check a student's set-up by running each core piece once.

Every line of the report is something that really happened just now: a Redis round trip,
a Lua script, a service call that forwarded a correlation id, a deadline that fired.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import time
from collections.abc import Callable
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from launchpad import __version__
from launchpad.config import ConfigError, load_settings
from launchpad.correlation import HEADER, correlation_scope
from launchpad.http.client import ServiceClient, ServiceTimeout
from launchpad.redis import EMBEDDED_URL, create_redis_connection, describe

__all__ = ["doctor_main", "run_checks"]

Check = Callable[[], str]


def _python() -> str:
    return f"Python {sys.version.split()[0]}"


def _settings() -> str:
    s = load_settings()
    return (
        f"REDIS_URL={'(unset: embedded)' if s.redis_url is None else 'set'}, "
        f"timeout {s.http_timeout:g} s"
    )


def _redis(url: str | None) -> Check:
    def check() -> str:
        conn = create_redis_connection("doctor", url)
        key = f"launchpad:doctor:{time.monotonic_ns()}"
        conn.set(key, "ok", px=10_000)
        length = int(
            conn.eval(  # type: ignore[arg-type,unused-ignore]
                "return redis.call('STRLEN', KEYS[1])", 1, key
            )
        )
        conn.delete(key)
        if length != 2:
            raise RuntimeError(f"Lua script returned {length!r}, expected 2")
        return f"{describe(conn)}: SET, GET and a Lua script work"

    return check


def _echo_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    if environ["PATH_INFO"] == "/slow":
        time.sleep(1.0)
    body = json.dumps({"seen": environ.get("HTTP_X_CORRELATION_ID")}).encode()
    start_response("200 OK", [("content-type", "application/json")])
    return [body]


def _service_call() -> str:
    client = ServiceClient(
        "echo", "http://echo", timeout=0.3, transport=httpx.WSGITransport(app=_echo_app)
    )
    with correlation_scope() as cid:
        seen = client.get("/").json()["seen"]
    if seen != cid:
        raise RuntimeError(f"the service saw {HEADER}={seen!r}, expected {cid!r}")
    started = time.monotonic()
    try:
        client.get("/slow")
    except ServiceTimeout:
        elapsed = time.monotonic() - started
        return f"correlation id forwarded; a slow call timed out after {elapsed:.2f} s"
    raise RuntimeError("a 1 s call finished although the deadline was 0.3 s")


def _ports() -> str:
    s = load_settings()
    busy = []
    for port in (s.gateway_port, s.auth_port, s.notification_port):
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                busy.append(port)
    if busy:
        return f"ports {busy} are in use (launchpad up needs them free, or set *_PORT)"
    return f"ports {s.gateway_port}, {s.auth_port}, {s.notification_port} are free"


def run_checks() -> list[tuple[str, bool, str]]:
    """Run every check; returns (name, passed, what happened) rows."""
    checks: list[tuple[str, Check]] = [
        ("python", _python),
        ("settings", _settings),
        ("embedded redis", _redis(EMBEDDED_URL)),
    ]
    try:
        if load_settings().redis_url:
            checks.append(("REDIS_URL", _redis(None)))
    except ConfigError:
        pass  # the settings row reports it
    checks += [("service call", _service_call), ("ports", _ports)]
    rows = []
    for name, check in checks:
        try:
            rows.append((name, True, check()))
        except Exception as exc:
            rows.append((name, False, f"{type(exc).__name__}: {exc}"))
    return rows


def doctor_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="launchpad doctor",
        description="Check your set-up: run each core piece of the kit once and report.",
    )
    parser.parse_args(argv)
    rows = run_checks()
    table = Table(title=f"launchpad {__version__}: set-up check")
    table.add_column("check", style="cyan")
    table.add_column("")
    table.add_column("what happened")
    for name, ok, detail in rows:
        table.add_row(name, "[green]ok[/]" if ok else "[red]FAIL[/]", detail)
    Console().print(table)
    return 0 if all(ok for _, ok, _ in rows) else 1
