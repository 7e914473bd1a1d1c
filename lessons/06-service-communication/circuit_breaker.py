"""Circuit breaker: stop waiting for a service that keeps failing, answer less, recover

Auth hangs. The notification service's ServiceClient has a deadline and a circuit breaker:
the first calls each wait for the whole deadline, then the breaker opens and calls fail in
microseconds, without being sent. While it is open, a read that the business allows to be
a little stale answers from what it last knew (a degraded answer), and a write fails at
once with 503. When auth is back, one trial call (half-open) closes the breaker again.

Run: ``launchpad lesson 06 circuit_breaker``
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from _demo import Demo, Hang, run_demo

from launchpad.http.breaker import CircuitBreaker
from launchpad.http.client import ServiceClient, ServiceError, verify_token
from launchpad.http.serve import serve
from launchpad.services.auth import AuthService, create_auth_app

TIMEOUT = 0.3  # the kit's default is 3 s; shorter keeps the demo quick
THRESHOLD = 3  # failures in a row that open the breaker
RESET = 0.5  # seconds open before a trial call
STALE_OK = 60.0  # a read may trust a token verified this recently (a business decision)


# --8<-- [start:degrade]
class TokenChecks:
    """How a caller decides what a failed call to auth means: fail, or answer with less."""

    def __init__(self, auth: ServiceClient) -> None:
        self.auth = auth
        self.last_seen: dict[str, tuple[dict[str, Any], float]] = {}  # token -> user, when

    def user(self, token: str, *, stale_ok: bool) -> tuple[dict[str, Any] | None, str]:
        """(the user or None, how we know). Raises ServiceError when we cannot know."""
        try:
            user = verify_token(self.auth, token)
        except ServiceError:
            user, seen_at = self.last_seen.get(token, (None, 0.0))
            age = time.monotonic() - seen_at
            if stale_ok and user is not None and age < STALE_OK:
                return user, f"degraded: auth unavailable, verified {age:.1f} s ago"
            raise  # a write, or a token we never saw: no answer without auth
        if user is not None:
            self.last_seen[token] = (user, time.monotonic())
        return user, "auth said so"


# --8<-- [end:degrade]


def body(demo: Demo) -> None:
    service = AuthService()
    hang = Hang(create_auth_app(service), max_seconds=TIMEOUT + 5)
    server = serve(hang, name="auth")
    # --8<-- [start:client]
    breaker = CircuitBreaker(failure_threshold=THRESHOLD, reset_timeout=RESET)
    auth = ServiceClient("auth", server.url, timeout=TIMEOUT, breaker=breaker)
    # --8<-- [end:client]
    demo.shortened(f"a {TIMEOUT:g} s deadline and a {RESET:g} s open breaker (defaults: 3 s, 5 s)")
    service.register("ada@example.com", "correct horse battery", "Ada")
    service.register("bo@example.com", "correct horse battery", "Bo")
    ada = service.login("ada@example.com", "correct horse battery")
    bo = service.login("bo@example.com", "correct horse battery")
    assert ada is not None and bo is not None
    checks = TokenChecks(auth)
    try:
        checks.user(ada, stale_ok=False)  # Ada was verified a moment ago: auth was up
        demo.step(f"1. auth hangs; 6 calls in a row (the breaker opens after {THRESHOLD} failures)")
        hang.on()
        calls = _calls_while_down(demo, auth, bo, 6)
        demo.step("2. while it is open: what a failure means is a business decision")
        degraded = _degraded(demo, checks, ada, bo)
        demo.step(f"3. auth is back; after {RESET:g} s one trial call goes through (half-open)")
        hang.release()
        recovery = _recover(demo, auth, breaker, ada)
    finally:
        hang.release()
        server.stop()
        auth.close()
    demo.observe(
        calls=calls,
        degraded=degraded,
        recovery=recovery,
        timeout_s=TIMEOUT,
        threshold=THRESHOLD,
        reset_s=RESET,
    )
    waited = [c for c in calls if c["outcome"] == "ServiceTimeout"]
    refused = [c for c in calls if c["outcome"] == "CircuitOpen"]
    demo.headline(
        f"{len(waited)} calls waited {min(c['seconds'] for c in waited):.2f}+ s, then "
        f"{len(refused)} failed in {max(c['seconds'] for c in refused) * 1e6:.0f} µs or less; "
        f"recovered via half-open -> {recovery['state_after']}"
    )
    demo.panel(
        "A deadline bounds one call; a breaker bounds the damage of many. Past its threshold it "
        "fails at once instead of tying up a thread for the whole deadline, and it lets one "
        "trial through to find out when the service is back. While it is open, the caller "
        "decides: fail, answer with less (degrade), or queue the work for later.",
        title="takeaway",
    )


def _calls_while_down(demo: Demo, auth: ServiceClient, token: str, n: int) -> list[dict[str, Any]]:
    rows, out = [], []
    for i in range(1, n + 1):
        state = auth.breaker.state.value if auth.breaker else "-"
        started = time.perf_counter()
        try:
            verify_token(auth, token)
            outcome = "answer"
        except ServiceError as exc:
            outcome = type(exc).__name__
        took = time.perf_counter() - started
        shown = f"{took * 1e6:.0f} µs" if took < 0.01 else f"{took:.3f} s"
        rows.append([str(i), state, outcome, shown])
        out.append({"call": i, "state_before": state, "outcome": outcome, "seconds": took})
    demo.table(
        "call",
        "breaker before",
        "the caller got",
        "after",
        rows=rows,
        title="the same call, six times",
    )
    return out


def _degraded(demo: Demo, checks: TokenChecks, ada: str, bo: str) -> dict[str, Any]:
    user, how = checks.user(ada, stale_ok=True)
    demo.result(user is not None, f"read (Ada's notification status): answered; {how}")
    try:
        checks.user(bo, stale_ok=True)
        bo_outcome = "answered"
    except ServiceError as exc:
        bo_outcome = type(exc).__name__
    demo.result(bo_outcome != "answered", f"read with a token never seen: {bo_outcome} -> 503")
    try:
        checks.user(ada, stale_ok=False)
        write_outcome = "answered"
    except ServiceError as exc:
        write_outcome = type(exc).__name__
    demo.result(write_outcome != "answered", f"write (send a notification): {write_outcome} -> 503")
    return {
        "stale_read": how,
        "stale_read_user": (user or {}).get("email"),
        "unknown_token": bo_outcome,
        "write": write_outcome,
    }


def _recover(
    demo: Demo, auth: ServiceClient, breaker: CircuitBreaker, token: str
) -> dict[str, Any]:
    time.sleep(breaker.retry_after())
    before = breaker.state.value
    started = time.perf_counter()
    user = verify_token(auth, token)
    took = time.perf_counter() - started
    after = breaker.state.value
    demo.result(
        after == "closed",
        f"breaker {before} -> trial call answered in {took * 1000:.0f} ms "
        f"({(user or {}).get('email')}) -> breaker {after}",
    )
    return {
        "state_before": before,
        "state_after": after,
        "trial_seconds": round(took, 4),
        "user": (user or {}).get("email"),
    }


def main(argv: Sequence[str] | None = None) -> int:
    return run_demo(__doc__, body, argv)


if __name__ == "__main__":
    raise SystemExit(main())
