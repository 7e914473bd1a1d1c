"""Deadlines that travel: the service that is slow is the one blamed

Auth hangs. The gateway will wait 1 s for notifications, and notifications' own deadline for
auth is 1 s too. The gateway sends what it will wait in the x-request-budget-ms header;
notifications cuts its call to auth to what is left minus a margin, so it answers the
client "503: auth did not answer" before the gateway gives up, instead of the gateway
blaming notifications with a 504. Every time on the timeline is measured in this run.

Run: ``launchpad lesson 06 deadlines``
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

import _demo  # noqa: F401  first: it explains a missing package before httpx is imported
import httpx
from _demo import Demo, Hang, run_demo, scratch_prefix

from launchpad.correlation import parse_traceparent
from launchpad.gateway import Gateway, Route
from launchpad.gateway.server import serve_gateway
from launchpad.http.client import ServiceClient
from launchpad.http.deadline import BUDGET_HEADER, parse_budget
from launchpad.http.serve import serve
from launchpad.queue import Queue
from launchpad.redis import create_redis_connection
from launchpad.services.auth import AuthService, create_auth_app
from launchpad.services.notifications import NotificationService, create_notifications_app

GATEWAY_TIMEOUT = 1.0  # the gateway's wait for an upstream; the kit's default is 3 s
AUTH_TIMEOUT = 1.0  # notifications' own deadline for auth: the same, as with the defaults
MARGIN = 0.1  # what notifications keeps back to send its own answer (the default)
CLIENT_BUDGET_MS = 400  # step 3: a client in a hurry sends a budget of its own


class Watch:
    """WSGI middleware: when each request arrived, with which budget and trace, and when
    (and with what status) the app began its answer. Times are ``time.monotonic()``."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.seen: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        entry: dict[str, Any] = {
            "arrived": time.monotonic(),
            "path": str(environ.get("PATH_INFO", "")),
            "budget": environ.get("HTTP_" + BUDGET_HEADER.upper().replace("-", "_")),
            "traceparent": environ.get("HTTP_TRACEPARENT"),
        }
        with self._lock:
            self.seen.append(entry)

        def answer(status: str, headers: Any, exc_info: Any = None) -> Any:
            entry["answered"] = time.monotonic()
            entry["status"] = int(status.split(" ", 1)[0])
            return start_response(status, headers, exc_info)

        return self.app(environ, answer)


def body(demo: Demo) -> None:
    conn = create_redis_connection("notifications")
    queue = Queue("notifications", conn, prefix=scratch_prefix())
    auth_hang = Hang(create_auth_app(AuthService(), redis=conn), max_seconds=10)
    auth_watch = Watch(auth_hang)  # sees each request arrive, before the hang holds it
    auth = serve(auth_watch, name="auth")
    # --8<-- [start:wiring]
    # notifications' own deadline for auth: as long as the gateway's wait (both 3 s by default)
    auth_client = ServiceClient("auth", auth.url, timeout=AUTH_TIMEOUT, margin=MARGIN)
    notif_watch = Watch(create_notifications_app(NotificationService(queue, auth_client)))
    notifications = serve(notif_watch, name="notifications")
    # the gateway waits GATEWAY_TIMEOUT for an answer, and sends that on as the budget
    gateway = Gateway(
        [Route("/auth", auth.url), Route("/notifications", notifications.url)],
        upstream_timeout=GATEWAY_TIMEOUT,
    )
    # --8<-- [end:wiring]
    front = serve_gateway(gateway)
    client = httpx.Client(base_url=front.url, timeout=10.0)
    demo.shortened(
        f"the gateway waits {GATEWAY_TIMEOUT:g} s and notifications waits {AUTH_TIMEOUT:g} s "
        "for auth (defaults: 3 s and 3 s)"
    )
    try:
        token = _sign_in(demo, client)
        demo.step(f"2. auth hangs; POST /notifications through the gateway ({BUDGET_HEADER})")
        auth_hang.on()
        chain = _one_request(demo, client, token, notif_watch, auth_watch, None)
        _timeline(demo, chain, title="one request, auth hung: who answered, and when")
        demo.say(
            "  one trace across the hops: the traceparent at notifications and at auth both "
            f"name trace [green]{', '.join(chain['trace_ids'])}[/]"
        )
        demo.step(f"3. a client in a hurry sends its own {BUDGET_HEADER}: {CLIENT_BUDGET_MS}")
        hurried = _one_request(demo, client, token, notif_watch, auth_watch, CLIENT_BUDGET_MS)
        _timeline(
            demo, hurried, title=f"the same, with the client's budget of {CLIENT_BUDGET_MS} ms"
        )
    finally:
        auth_hang.release()
        client.close()
        for server in (front, notifications, auth):
            server.stop()
        gateway.close()
        auth_client.close()
        queue.obliterate()
    demo.observe(
        gateway_timeout_s=GATEWAY_TIMEOUT,
        auth_timeout_s=AUTH_TIMEOUT,
        margin_s=MARGIN,
        client_budget_ms=CLIENT_BUDGET_MS,
        chain=chain,
        hurried=hurried,
    )
    demo.headline(
        f"auth hung: notifications got {chain['notifications_budget_ms']} ms from the gateway, "
        f"gave auth {chain['auth_budget_ms']} ms and answered {chain['status']} at "
        f"{chain['client_s'] * 1000:.0f} ms, before the gateway's {GATEWAY_TIMEOUT * 1000:.0f} ms; "
        f"with a {CLIENT_BUDGET_MS} ms client budget: {hurried['status']} at "
        f"{hurried['client_s'] * 1000:.0f} ms"
    )
    demo.panel(
        "Without the header, notifications would have waited its whole second for auth, "
        "starting after the gateway had started its own: the gateway would have given up "
        "first and answered 504, blaming notifications. Sent along as the time left, the "
        "deadline shrinks at each hop, and the service that knows what went wrong answers "
        "while its caller is still listening.",
        title="takeaway",
    )


def _sign_in(demo: Demo, client: httpx.Client) -> str:
    demo.step("1. Ada signs up and logs in through the gateway (auth answers)")
    email, password = "ada@example.com", "correct horse battery"
    r = client.post("/auth/register", json={"email": email, "password": password, "name": "Ada"})
    demo.result(r.status_code == 201, f"POST /auth/register -> {r.status_code}")
    r = client.post("/auth/login", json={"email": email, "password": password})
    demo.result(r.status_code == 200, f"POST /auth/login -> {r.status_code} (a token)")
    token: str = r.json()["token"]
    return token


def _one_request(
    demo: Demo,
    client: httpx.Client,
    token: str,
    notif_watch: Watch,
    auth_watch: Watch,
    client_budget_ms: int | None,
) -> dict[str, Any]:
    """POST /notifications with auth hung; what each hop saw and did, measured."""
    headers = {"Authorization": f"Bearer {token}"}
    if client_budget_ms is not None:
        headers[BUDGET_HEADER] = str(client_budget_ms)
    n_before, a_before = len(notif_watch.seen), len(auth_watch.seen)
    started = time.monotonic()
    r = client.post(
        "/notifications",
        json={"to": "ada@example.com", "subject": "Hi", "body": "Hello"},
        headers=headers,
    )
    ended = time.monotonic()
    (notif,) = notif_watch.seen[n_before:]
    (verify,) = auth_watch.seen[a_before:]
    error = str(r.json().get("error"))
    demo.result(
        r.status_code == 503 and ended - started < GATEWAY_TIMEOUT,
        f"{r.status_code} {error}  ({(ended - started) * 1000:.0f} ms)",
    )
    traces = {
        parsed.trace_id
        for parsed in (
            parse_traceparent(notif["traceparent"]),
            parse_traceparent(verify["traceparent"]),
        )
        if parsed is not None
    }
    return {
        "status": r.status_code,
        "error": error,
        "client_budget_ms": client_budget_ms,
        "correlation_id": r.headers.get("x-correlation-id"),
        "client_s": round(ended - started, 4),
        "notifications_arrived_s": round(notif["arrived"] - started, 4),
        "notifications_budget_ms": _ms(notif["budget"]),
        "auth_arrived_s": round(verify["arrived"] - started, 4),
        "auth_budget_ms": _ms(verify["budget"]),
        "auth_answered": "answered" in verify,
        "auth_call_s": round(notif["answered"] - verify["arrived"], 4),
        "notifications_answered_s": round(notif["answered"] - started, 4),
        "notifications_status": notif["status"],
        "trace_ids": sorted(traces),
    }


def _ms(value: str | None) -> int | None:
    seconds = parse_budget(value)
    return None if seconds is None else round(seconds * 1000)


def _timeline(demo: Demo, c: dict[str, Any], *, title: str) -> None:
    own = "the client's" if c["client_budget_ms"] is not None else "its own"
    demo.timeline(
        [
            (0.0, "client", "POST /notifications (Bearer token)"),
            (
                c["notifications_arrived_s"],
                "notifications",
                f"request arrives with {BUDGET_HEADER}: {c['notifications_budget_ms']} "
                f"(from the gateway: {own} budget)",
            ),
            (
                c["auth_arrived_s"],
                "auth",
                f"GET /auth/verify arrives with {BUDGET_HEADER}: {c['auth_budget_ms']} "
                f"(notifications' {AUTH_TIMEOUT * 1000:.0f} ms cut to what was left, minus "
                f"{MARGIN * 1000:.0f} ms); auth hangs",
            ),
            (
                c["notifications_answered_s"],
                "notifications",
                f"stops waiting after {c['auth_call_s'] * 1000:.0f} ms; answers "
                f"{c['notifications_status']}",
            ),
            (c["client_s"], "client", f"gets {c['status']} from notifications, via the gateway"),
            (GATEWAY_TIMEOUT, "gateway", "[dim]its deadline: a 504 would have come here[/]"),
            *(
                [(c["client_budget_ms"] / 1000, "client", "[dim]the budget it sent ends here[/]")]
                if c["client_budget_ms"] is not None
                else []
            ),
        ],
        title=title,
    )


def main(argv: Sequence[str] | None = None) -> int:
    return run_demo(__doc__, body, argv)


if __name__ == "__main__":
    raise SystemExit(main())
