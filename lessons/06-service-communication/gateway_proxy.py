"""Gateway proxy: one front door, the correlation id, streaming, 502 and 504

The gateway forwards each request by its path prefix to auth or notifications, on real
loopback ports. It gives the request a correlation id that every service's log lines then
carry, tells the services who sent it (x-forwarded-by, X-Forwarded-For), streams a slow
response to the client piece by piece, and answers 502 when a service is down and 504 when
one does not answer in time.

Run: ``launchpad lesson 06 gateway_proxy``
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import _demo  # noqa: F401  first: it explains a missing package before httpx is imported
import httpx
from _demo import Demo, Hang, Spy, run_demo, scratch_prefix, ticker_app, wait_until

from launchpad.gateway import Gateway, Route
from launchpad.gateway.server import serve_gateway
from launchpad.http.client import ServiceClient
from launchpad.http.serve import serve
from launchpad.queue import Queue
from launchpad.redis import create_redis_connection
from launchpad.services.auth import AuthService, create_auth_app
from launchpad.services.notifications import NotificationService, create_notifications_app

UPSTREAM_TIMEOUT = 1.0  # the kit's default is 3 s; shorter keeps the demo quick
PIECES, EVERY = 4, 0.2  # the slow upstream sends 4 pieces, 200 ms apart


def body(demo: Demo) -> None:
    conn = create_redis_connection("notifications")
    queue = Queue("notifications", conn, prefix=scratch_prefix())
    auth_service = AuthService()
    auth_spy = Spy(create_auth_app(auth_service, redis=conn))
    auth_hang = Hang(auth_spy, max_seconds=UPSTREAM_TIMEOUT + 5)
    auth = serve(auth_hang, name="auth")
    auth_client = ServiceClient("auth", auth.url, timeout=3.0)
    notif_spy = Spy(create_notifications_app(NotificationService(queue, auth_client), redis=conn))
    notifications = serve(notif_spy, name="notifications")
    ticker = serve(ticker_app(PIECES, EVERY), name="ticker")
    # --8<-- [start:routes]
    gateway = Gateway(
        [
            Route("/auth", auth.url),
            Route("/notifications", notifications.url),
            Route("/ticker", ticker.url),  # a slow upstream, to watch streaming
        ],
        upstream_timeout=UPSTREAM_TIMEOUT,
    )
    # --8<-- [end:routes]
    front = serve_gateway(gateway)  # the event-loop front, as `launchpad up` runs it
    client = httpx.Client(base_url=front.url, timeout=10.0)
    servers = [front, auth, notifications, ticker]
    demo.table(
        "service",
        "listens on",
        rows=[[s.name, s.url] for s in servers],
        title="four real servers on loopback; the client only knows the gateway",
    )
    demo.shortened(f"the gateway waits {UPSTREAM_TIMEOUT:g} s for an upstream (default 3 s)")
    try:
        with demo.collect_logs() as logs:
            _one_request_many_services(demo, client, auth_spy, notif_spy, logs.records)
        _streaming(demo, client)
        _failures(demo, client, notifications, auth_hang)
    finally:
        auth_hang.release()
        client.close()
        for server in servers:
            server.stop()
        gateway.close()
        auth_client.close()
        queue.obliterate()
    obs = demo.observations
    services = [s for s in ("gateway", "notifications", "auth") if s in obs["services_logging_id"]]
    demo.headline(
        f"one id in the logs of {len(services)} services ({', '.join(services)}); "
        f"{len(obs['stream_arrivals_s'])} pieces streamed; down -> {obs['down']['status']} in "
        f"{obs['down']['seconds'] * 1000:.0f} ms; hung -> {obs['hanging']['status']} after "
        f"{obs['hanging']['seconds']:.2f} s"
    )
    demo.panel(
        "The client talked to one address. The gateway chose the service by path, gave the "
        "request an id every service logged, passed the body through as it came, and said "
        "502 for 'down' and 504 for 'too slow' (RFC 9110).",
        title="takeaway",
    )


def _one_request_many_services(
    demo: Demo, client: httpx.Client, auth_spy: Spy, notif_spy: Spy, records: list[dict[str, Any]]
) -> None:
    demo.step("a user signs up and logs in through the gateway")
    email, password = "grace@example.com", "correct horse battery"
    r = client.post("/auth/register", json={"email": email, "password": password, "name": "Grace"})
    demo.result(r.status_code == 201, f"POST /auth/register -> {r.status_code}")
    r = client.post("/auth/login", json={"email": email, "password": password})
    token = r.json()["token"]
    demo.result(r.status_code == 200, f"POST /auth/login -> {r.status_code} (a token)")
    seen = auth_spy.seen[-1]
    demo.table(
        "header",
        "value auth received",
        rows=[[k, v] for k, v in seen.items() if k != "path"],
        title="what the gateway added on the way to auth",
    )
    demo.observe(
        auth_received={k: v for k, v in seen.items() if k != "path"},
        login_response_id=r.headers.get("x-correlation-id"),
    )

    demo.step("one request that crosses three services: submit a notification")
    del records[:]
    r = client.post(
        "/notifications",
        json={"to": email, "subject": "Hello", "body": "Hi Grace"},
        headers={"Authorization": f"Bearer {token}"},
    )
    cid = r.headers.get("x-correlation-id")
    demo.result(r.status_code == 202, f"POST /notifications -> {r.status_code} {r.json()}")
    demo.say(f"  no id from the client, so the gateway made one: [green]{cid}[/]")
    # the gateway logs a request when it has relayed the last byte, just after the client
    # has it: give that line a moment to land
    wait_until(
        lambda: any(r["service"] == "gateway" and r.get("correlation_id") == cid for r in records),
        timeout=2.0,
    )
    mine = [rec for rec in records if rec.get("correlation_id") == cid]
    demo.log_lines(
        mine, title="every log line of that one request (gateway -> notifications -> auth)"
    )
    services = sorted({str(rec["service"]) for rec in mine})  # + the client/queue libraries
    demo.observe(
        notification_status=r.status_code,
        correlation_id=cid,
        services_logging_id=services,
        notifications_received_id=notif_spy.seen[-1].get("x-correlation-id"),
        auth_received_id=auth_spy.seen[-1].get("x-correlation-id"),
    )


def _streaming(demo: Demo, client: httpx.Client) -> None:
    demo.step(f"a slow response is streamed: {PIECES} pieces, {EVERY * 1000:.0f} ms apart")
    started = time.monotonic()
    arrivals: list[float] = []
    with client.stream("GET", "/ticker") as r:
        for line in r.iter_lines():
            if line:
                arrivals.append(time.monotonic() - started)
                demo.say(f"  [dim]{arrivals[-1] * 1000:6.0f} ms[/]  client got: {line}")
    demo.result(
        len(arrivals) == PIECES and arrivals[0] < arrivals[-1] - EVERY,
        f"the first piece arrived {(arrivals[-1] - arrivals[0]) * 1000:.0f} ms before the last: "
        "the gateway passed each piece on as it came, it did not wait for the whole body",
    )
    demo.observe(stream_arrivals_s=[round(t, 3) for t in arrivals])


def _failures(demo: Demo, client: httpx.Client, notifications: Any, auth_hang: Hang) -> None:
    demo.step("notifications is stopped: nothing listens on its port")
    notifications.stop()
    started = time.monotonic()
    r = client.get("/notifications/some-job")
    took = time.monotonic() - started
    demo.result(
        r.status_code == 502, f"{r.status_code} {r.json()['error']}  ({took * 1000:.0f} ms)"
    )
    demo.observe(down={"status": r.status_code, "seconds": round(took, 3)})

    demo.step("auth hangs: it accepts the connection and never answers")
    auth_hang.on()
    started = time.monotonic()
    r = client.post("/auth/login", json={"email": "x@example.com", "password": "whatever1"})
    took = time.monotonic() - started
    auth_hang.release()
    demo.result(r.status_code == 504, f"{r.status_code} {r.json()['error']}  ({took:.2f} s)")
    demo.observe(
        hanging={"status": r.status_code, "seconds": round(took, 3), "timeout_s": UPSTREAM_TIMEOUT}
    )
    demo.table(
        "upstream",
        "gateway answered",
        "after",
        rows=[
            ["down (connection refused)", "502 Bad Gateway", "at once"],
            ["hung (no answer)", "504 Gateway Timeout", f"{took:.2f} s"],
        ],
        title="two different failures, two different answers",
    )


def main(argv: Sequence[str] | None = None) -> int:
    return run_demo(__doc__, body, argv)


if __name__ == "__main__":
    raise SystemExit(main())
