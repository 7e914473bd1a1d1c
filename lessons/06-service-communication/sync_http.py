"""Sync HTTP: verify a token with auth, with a deadline

The notification service asks auth who a token belongs to, over a real loopback socket:
a valid token gives the user, an invalid one gives None (a 401 is an expected answer),
a stopped auth fails at once, a hanging auth fails when the deadline passes. On every
call the caller's correlation id reaches auth and shows up in both services' logs.

Run: ``launchpad lesson 06 sync_http`` or ``python lessons/06-service-communication/sync_http.py``
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from _demo import Demo, Hang, run_demo

from launchpad.correlation import correlation_scope
from launchpad.http.client import ServiceClient, ServiceError, verify_token
from launchpad.http.serve import serve
from launchpad.logging import get_logger
from launchpad.services.auth import AuthService, create_auth_app

TIMEOUT = 1.0  # the kit's default is 3 s (HTTP_TIMEOUT); 1 s keeps the demo short

log = get_logger("notifications")


# --8<-- [start:caller]
def who_is(auth: ServiceClient, token: str) -> dict[str, Any] | None:
    """What the notification service does before it accepts a request from a user."""
    user = verify_token(auth, token)  # None on 401; raises ServiceError on anything else
    if user is None:
        log.info("token rejected by auth: answering 401")
    else:
        log.info("token verified", extra={"user_id": user["userId"]})
    return user


# --8<-- [end:caller]


def timed_call(auth: ServiceClient, token: str) -> tuple[str, Any, float]:
    """(outcome, value, seconds): the user, None, or the error class the caller caught."""
    started = time.monotonic()
    try:
        user = who_is(auth, token)
        return ("user" if user else "None", user, time.monotonic() - started)
    except ServiceError as exc:
        return (type(exc).__name__, str(exc), time.monotonic() - started)


def body(demo: Demo) -> None:
    service = AuthService()  # the real auth service, its state in memory
    hang = Hang(create_auth_app(service), max_seconds=TIMEOUT + 5)
    server = serve(hang, name="auth")
    demo.say(f"auth is listening on [bold]{server.url}[/] (a real socket on loopback)")
    demo.shortened(f"a {TIMEOUT:g} s call timeout (the kit's default: 3 s)")

    auth = ServiceClient("auth", server.url, timeout=TIMEOUT)
    service.register("ada@example.com", "correct horse battery", "Ada")
    token = service.login("ada@example.com", "correct horse battery")
    assert token is not None
    rows: list[list[str]] = []
    try:
        with demo.collect_logs() as logs, correlation_scope() as cid:
            demo.step("1. a valid token")
            outcome, user, took = timed_call(auth, token)
            who = f"{user['email']}, userId {user['userId'][:8]}..." if user else "?"
            demo.result(outcome == "user", f"auth answered 200 -> {who}  ({took * 1000:.0f} ms)")
            rows.append(["valid token", "200", outcome, f"{took * 1000:.0f} ms"])
            demo.observe(valid={"outcome": outcome, "user": user, "seconds": round(took, 3)})
            auth_lines = [r for r in logs.records if r["service"] == "auth"]
            caller_lines = [r for r in logs.records if r["service"] in ("client", "notifications")]
            demo.log_lines(
                caller_lines + auth_lines,
                title="one correlation id on both sides (client: notifications' ServiceClient)",
            )
            demo.observe(
                correlation={
                    "id": cid,
                    "caller_lines": sum(r["correlation_id"] == cid for r in caller_lines),
                    "auth_lines": sum(r["correlation_id"] == cid for r in auth_lines),
                }
            )

            demo.step("2. an invalid token")
            outcome, value, took = timed_call(auth, "not-a-real-token")
            demo.result(outcome == "None", f"auth answered 401 -> verify_token returned {value}")
            rows.append(["invalid token", "401", outcome, f"{took * 1000:.0f} ms"])
            demo.observe(invalid={"outcome": outcome, "value": value, "seconds": round(took, 3)})

            demo.step(f"3. auth hangs (the caller gives up after {TIMEOUT:g} s)")
            hang.on()
            outcome, message, took = timed_call(auth, token)
            hang.release()
            demo.result(outcome == "ServiceTimeout", f"{outcome} after {took:.2f} s: {message}")
            rows.append(["auth hangs", "-", outcome, f"{took:.2f} s"])
            demo.observe(
                hanging={"outcome": outcome, "seconds": round(took, 3), "timeout_s": TIMEOUT}
            )

            demo.step("4. auth is stopped (nothing listens on its port)")
            server.stop()
            outcome, message, took = timed_call(auth, token)
            demo.result(outcome == "ServiceUnavailable", f"{outcome} after {took * 1000:.0f} ms")
            demo.say(f"  [dim]{message}[/]")
            rows.append(["auth stopped", "-", outcome, f"{took * 1000:.0f} ms"])
            demo.observe(stopped={"outcome": outcome, "seconds": round(took, 3)})
    finally:
        hang.release()
        server.stop()
        auth.close()

    demo.table("case", "status", "what the caller got", "time", rows=rows, title="summary")
    obs = demo.observations
    demo.headline(
        f"401 -> {obs['invalid']['outcome']}; hung auth -> {obs['hanging']['outcome']} after "
        f"{obs['hanging']['seconds']:.2f} s; stopped auth -> {obs['stopped']['outcome']} in "
        f"{obs['stopped']['seconds'] * 1000:.0f} ms"
    )
    demo.panel(
        "Expected failures are values (401 -> None); unexpected ones are errors the caller "
        "can tell apart (ServiceTimeout, ServiceUnavailable). Every call has a deadline.",
        title="takeaway",
    )


def main(argv: Sequence[str] | None = None) -> int:
    return run_demo(__doc__, body, argv)


if __name__ == "__main__":
    raise SystemExit(main())
