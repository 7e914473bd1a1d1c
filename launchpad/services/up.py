"""``launchpad up`` (the whole system) and ``launchpad serve NAME`` (one service).

``launchpad up`` starts gateway :3000, auth :3001, notifications :3002 and the worker in
one process, on the embedded Redis unless ``REDIS_URL`` is set, prints what runs where and
a curl line to try, and stops everything on Ctrl-C.

``launchpad serve auth|notifications|gateway`` runs one service per terminal, as they
would run in production; they meet through a real Redis (``REDIS_URL``) and through the
URLs in ``AUTH_SERVICE_URL`` / ``NOTIFICATION_SERVICE_URL``.
"""

from __future__ import annotations

import argparse
import signal
import threading
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.table import Table

from launchpad.config import ConfigError, Settings, load_settings
from launchpad.gateway import Gateway, Route
from launchpad.gateway.rules import Limits
from launchpad.gateway.server import serve_gateway
from launchpad.http.client import ServiceClient
from launchpad.http.serve import RunningServer, serve
from launchpad.logging import configure_logging
from launchpad.queue import Queue, Worker
from launchpad.redis import create_redis_connection, describe, is_embedded
from launchpad.services.auth import AuthService, create_auth_app
from launchpad.services.auth_store import AuthStore
from launchpad.services.email_provider import EmailProvider
from launchpad.services.notification_worker import (
    NOTIFICATION_JOB_OPTIONS,
    create_notification_worker,
)
from launchpad.services.notifications import (
    QUEUE_NAME,
    NotificationService,
    create_notifications_app,
)
from launchpad.services.outbox_relay import OutboxRelay
from launchpad.services.system import Ports, System

__all__ = ["serve_main", "up_main"]

TRY_REGISTER = (
    "curl -s -X POST {gw}/auth/register -H 'content-type: application/json' "
    """-d '{{"email":"ada@example.com","password":"correct horse","name":"Ada"}}'"""
)
TRY_LOGIN = (
    "curl -s -X POST {gw}/auth/login -H 'content-type: application/json' "
    """-d '{{"email":"ada@example.com","password":"correct horse"}}'"""
)
TRY_NOTIFY = (
    "curl -s -X POST {gw}/notifications -H 'content-type: application/json' "
    "-H 'Authorization: Bearer TOKEN' "
    """-d '{{"to":"ada@example.com","subject":"Hi","body":"Hello Ada","type":"email"}}'"""
)


def _wait_for_ctrl_c() -> None:
    """Block until SIGINT or SIGTERM (Ctrl-C), then restore the old handlers."""
    stop = threading.Event()

    def handler(signum: int, frame: Any) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stop.wait(0.5):
            pass
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _settings_or_exit(console: Console) -> Settings | None:
    try:
        return load_settings()
    except ConfigError as exc:
        console.print(f"[red]{exc}[/]")
        return None


def _pick(port: int | None, default: int) -> int:
    """A port from the command line (0 = any free one) or the default."""
    return default if port is None else port


def _port_in_use(console: Console, exc: BaseException, hint: str) -> int:
    reason = getattr(exc, "strerror", None) or "the port is in use"
    console.print(f"[red]cannot listen: {reason}[/]. {hint}")
    return 1


# -- launchpad up -------------------------------------------------------------------------


def up_main(argv: list[str]) -> int:
    """``launchpad up``: the whole system on real ports until Ctrl-C."""
    parser = argparse.ArgumentParser(
        prog="launchpad up",
        description="Start gateway, auth, notifications and the worker on 127.0.0.1.",
    )
    parser.add_argument(
        "--port-offset",
        type=int,
        default=0,
        metavar="N",
        help="add N to every port (3000+N, 3001+N, 3002+N) on a busy machine",
    )
    parser.add_argument(
        "--gateway-port", type=int, help="default 3000 (GATEWAY_PORT); 0 = any free port"
    )
    parser.add_argument("--auth-port", type=int, help="default 3001 (AUTH_PORT)")
    parser.add_argument("--notifications-port", type=int, help="default 3002 (NOTIFICATION_PORT)")
    parser.add_argument(
        "--delivery-delay",
        type=float,
        default=0.5,
        metavar="SECONDS",
        help="simulated time to send one email (default 0.5)",
    )
    parser.add_argument(
        "--log",
        choices=["rich", "json", "off"],
        default="rich",
        help="how to show the services' logs (default rich)",
    )
    args = parser.parse_args(argv)
    console = Console()
    settings = _settings_or_exit(console)
    if settings is None:
        return 2
    off = args.port_offset
    ports = Ports(
        _pick(args.gateway_port, settings.gateway_port + off),
        _pick(args.auth_port, settings.auth_port + off),
        _pick(args.notifications_port, settings.notification_port + off),
    )
    configure_logging(args.log)
    try:
        system = System(
            mode="ports",
            ports=ports,
            redis_url=settings.redis_url,
            delivery_delay=args.delivery_delay,
            auth_timeout=settings.http_timeout,
            upstream_timeout=settings.http_timeout,
            gateway_limits=Limits.from_settings(settings),
        )
    except (OSError, SystemExit) as exc:  # werkzeug exits (after saying which port) when busy
        return _port_in_use(console, exc, "Another `launchpad up`? Try --port-offset 10.")
    try:
        _show_system(console, system)
        _wait_for_ctrl_c()
        console.print("\n[bold]stopping[/]: worker finishes the jobs in hand, then servers stop")
    finally:
        system.stop()
    console.print("[green]stopped cleanly[/]")
    return 0


def _show_system(console: Console, system: System) -> None:
    table = Table(title="LaunchPad is up", title_style="bold", show_header=True)
    table.add_column("part", style="cyan")
    table.add_column("where")
    table.add_column("what it does")
    table.add_row("gateway", system.gateway_url, "the one door: /auth/* and /notifications/*")
    table.add_row("auth", system.auth_url, "register, login, verify, logout; outbox relay")
    table.add_row("notifications", system.notifications_url, "POST /notifications → a job")
    table.add_row(
        "worker",
        f"queue {system.queue.name!r}",
        f"delivers via the fake email_provider, concurrency {system.concurrency}",
    )
    table.add_row("redis", describe(system.redis), "the queue and the delivery log")
    console.print(table)
    gw = system.gateway_url
    console.print("\nTry it (then put the token from login in the third line):")
    for line in (TRY_REGISTER, TRY_LOGIN, TRY_NOTIFY):
        console.print(f"  {line.format(gw=gw)}", highlight=False, soft_wrap=True)
    console.print(f"  curl -s {gw}/health\n\nCtrl-C stops everything.", highlight=False)


# -- launchpad serve NAME ---------------------------------------------------------------


def serve_main(argv: list[str]) -> int:
    """``launchpad serve auth|notifications|gateway [--port P]``: one service until Ctrl-C."""
    parser = argparse.ArgumentParser(
        prog="launchpad serve",
        description="Run one service on 127.0.0.1; run each in its own terminal, "
        "with REDIS_URL pointing at one Redis server.",
    )
    parser.add_argument("service", choices=["auth", "notifications", "gateway"])
    parser.add_argument(
        "--port",
        type=int,
        help="default: AUTH_PORT / NOTIFICATION_PORT / GATEWAY_PORT (3001 / 3002 / 3000)",
    )
    parser.add_argument(
        "--no-worker",
        action="store_true",
        help="notifications only: do not run the worker in this process",
    )
    parser.add_argument("--delivery-delay", type=float, default=0.5, metavar="SECONDS")
    parser.add_argument(
        "--db",
        default=":memory:",
        metavar="FILE",
        help="auth only: keep users and the outbox in this SQLite file (default: in memory)",
    )
    parser.add_argument(
        "--log",
        choices=["rich", "json", "off"],
        default=None,
        help="log view (default LOG_FORMAT, json)",
    )
    args = parser.parse_args(argv)
    console = Console(stderr=True)
    settings = _settings_or_exit(console)
    if settings is None:
        return 2
    configure_logging(args.log or settings.log_format)  # type: ignore[arg-type]
    builders: dict[
        str, Callable[[Settings, argparse.Namespace], tuple[Any, int, Callable[[], None]]]
    ]
    builders = {
        "auth": _build_auth,
        "notifications": _build_notifications,
        "gateway": _build_gateway,
    }
    if args.service != "gateway" and settings.redis_url is None:
        console.print(
            "[yellow]REDIS_URL is unset: this process uses its own embedded Redis, "
            "which other processes cannot see. For services in separate terminals, "
            "start redis-server and set REDIS_URL=redis://127.0.0.1:6379.[/]"
        )
    app, default_port, cleanup = builders[args.service](settings, args)
    port = _pick(args.port, default_port)
    server: RunningServer
    try:
        if isinstance(app, Gateway):  # one event loop for every client connection
            server = serve_gateway(app, port, name=args.service)
        else:
            server = serve(app, port, name=args.service)
    except (OSError, SystemExit) as exc:
        cleanup()
        return _port_in_use(console, exc, "Is it already running? Use --port.")
    console.print(f"[bold]{args.service}[/] listening on {server.url}   (Ctrl-C stops it)")
    try:
        _wait_for_ctrl_c()
    finally:
        server.stop()
        cleanup()
    console.print(f"[green]{args.service} stopped cleanly[/]")
    return 0


def _queue(name: str, settings: Settings) -> Queue:
    conn = create_redis_connection(name, settings.redis_url)
    return Queue(QUEUE_NAME, conn, default_job_options=NOTIFICATION_JOB_OPTIONS)


def _build_auth(
    settings: Settings, args: argparse.Namespace
) -> tuple[Any, int, Callable[[], None]]:
    queue = _queue("auth", settings)
    store = AuthStore(args.db)
    app = create_auth_app(AuthService(store), redis=queue.connection)
    relay = OutboxRelay(store, queue)  # the welcome emails: outbox -> queue, in the background
    relay.start()

    def cleanup() -> None:
        relay.stop()
        store.close()

    return app, settings.auth_port, cleanup


def _build_notifications(
    settings: Settings, args: argparse.Namespace
) -> tuple[Any, int, Callable[[], None]]:
    queue = _queue("notifications", settings)
    auth = ServiceClient("auth", settings.auth_service_url, timeout=settings.http_timeout)
    app = create_notifications_app(NotificationService(queue, auth), redis=queue.connection)
    worker: Worker | None = None
    if not args.no_worker:
        worker_queue = _queue("worker", settings)
        worker = create_notification_worker(
            worker_queue, EmailProvider(), delivery_delay=args.delivery_delay
        )
        worker.start()

    def cleanup() -> None:
        if worker is not None:
            worker.close()
        auth.close()

    if is_embedded(queue.connection) and worker is None:
        Console(stderr=True).print(
            "[yellow]no worker and an embedded Redis: nothing will deliver these jobs[/]"
        )
    return app, settings.notification_port, cleanup


def _build_gateway(
    settings: Settings, args: argparse.Namespace
) -> tuple[Any, int, Callable[[], None]]:
    gateway = Gateway(
        [
            Route("/auth", settings.auth_service_url),
            Route("/notifications", settings.notification_service_url),
        ],
        upstream_timeout=settings.http_timeout,
        limits=Limits.from_settings(settings),
    )
    return gateway, settings.gateway_port, gateway.close
