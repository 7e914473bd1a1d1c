"""The whole LaunchPad system in one object: gateway, auth (+ its outbox relay),
notifications, queue, worker.

Demos, the lesson, the grader, ``launchpad up`` and the tests all need the same wiring,
so it lives here once. ``System`` builds every part, joins them, starts them, and
stops them again; it runs two ways:

* ``mode="in-process"`` (default): the apps call each other through
  ``httpx.WSGITransport``, no sockets; fast and hermetic, for tests and demos. The gateway
  is the exception: it is one event-loop front everywhere, so it and the two apps behind it
  listen on free loopback ports of this process;
* ``mode="ports"``: each app on a real 127.0.0.1 port (``0`` = any free port), so you
  can curl it and see real network failures.

Example:

```python
from launchpad.services.system import System

with System(delivery_delay=0.05) as system:          # embedded Redis unless redis_url
    client = system.client()                          # talks to the gateway
    client.post("/auth/register", json={"email": "ada@example.com",
                                        "password": "correct horse", "name": "Ada"})
    system.wait_for_deliveries(1)                     # the worker sent the welcome email
    print(system.email_provider.deliveries)           # [Delivery(to='ada@example.com', ...)]
    system.kill_worker()                              # a crash, for the idempotency demo
    system.start_worker()
```

What you can reach: ``email_provider``, ``queue`` (notifications' view of the queue), ``worker``,
``auth_service``, ``auth_store`` (users and the outbox), ``outbox_relay``, ``gateway``, the
apps, and ``gateway_url`` / ``auth_url`` / ``notifications_url`` (real URLs in ``"ports"``
mode, placeholders in-process; use ``client()`` / ``service_client()`` rather than the
URL in-process).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal

import httpx

from launchpad.gateway import Gateway, Route
from launchpad.gateway.rules import Limits
from launchpad.gateway.server import serve_gateway
from launchpad.http.client import ServiceClient
from launchpad.http.serve import RunningServer, serve
from launchpad.http.web import WebApp
from launchpad.logging import get_logger
from launchpad.queue import Queue, Worker
from launchpad.redis import create_redis_connection, describe
from launchpad.services.auth import AuthService, ScryptCost, create_auth_app
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

__all__ = ["Ports", "System"]

log = get_logger("system")

Mode = Literal["in-process", "ports"]


@dataclass(frozen=True)
class Ports:
    """Where each service listens in ``"ports"`` mode; ``0`` picks any free port."""

    gateway: int = 0
    auth: int = 0
    notifications: int = 0

    @classmethod
    def lesson(cls, offset: int = 0) -> Ports:
        """The lesson's ports, 3000/3001/3002, moved by ``offset`` on a busy machine."""
        return cls(3000 + offset, 3001 + offset, 3002 + offset)


class System:
    """Builds, starts and stops the lesson's system; see the module docstring.

    Args:
        mode: ``"in-process"`` or ``"ports"``.
        ports: the ports in ``"ports"`` mode (default: any free ones).
        redis_url: ``None`` reads ``REDIS_URL`` (unset: embedded Redis); or a URL, or
            ``"embedded://"``.
        queue_name: the notification queue; use a unique one on a shared Redis.
        worker: start the notification worker now (``start_worker()`` later otherwise).
        concurrency, delivery_delay, attempts, backoff_ms: the worker's and jobs' settings.
        auth_timeout: notifications' deadline for token checks with auth.
        upstream_timeout: the gateway's wait for an upstream.
        gateway_limits: the gateway's client timeouts and caps (default: nginx's).
        scrypt: password-hash cost (tests pass a cheap one).
        email_provider: the email provider (default: a new ``EmailProvider``).
        auth_store: auth's users and outbox (default: a new in-memory ``AuthStore``).
        auth_queue: the queue auth's outbox relay adds to (default: the notification queue
            on its own ``"auth"`` connection); demos pass one whose Redis they can cut.
        cleanup: on ``stop()``, delete this queue's keys and delivery log from Redis.
        worker_options: passed on to ``Worker``.
    """

    def __init__(
        self,
        *,
        mode: Mode = "in-process",
        ports: Ports | None = None,
        redis_url: str | None = None,
        queue_name: str = QUEUE_NAME,
        worker: bool = True,
        concurrency: int = 5,
        delivery_delay: float = 0.5,
        attempts: int = 3,
        backoff_ms: int = 1000,
        auth_timeout: float = 3.0,
        upstream_timeout: float = 3.0,
        gateway_limits: Limits | None = None,
        session_ttl: float = 3600.0,
        scrypt: ScryptCost | None = None,
        email_provider: EmailProvider | None = None,
        auth_store: AuthStore | None = None,
        auth_queue: Queue | None = None,
        cleanup: bool = False,
        worker_options: dict[str, Any] | None = None,
    ) -> None:
        if mode not in ("in-process", "ports"):
            raise ValueError(f"mode must be 'in-process' or 'ports', not {mode!r}")
        self.mode = mode
        self.cleanup = cleanup
        self.concurrency = concurrency
        self.delivery_delay = delivery_delay
        self.worker_options = dict(worker_options or {})
        self.email_provider = email_provider or EmailProvider()
        self._servers: list[RunningServer] = []
        self._clients: list[httpx.Client] = []
        self._lock = threading.Lock()
        self.worker: Worker | None = None
        self.outbox_relay: OutboxRelay | None = None

        # Each service has its own Redis connection and its own view of the queue, as it
        # would in its own process; they meet only in Redis.
        options = NOTIFICATION_JOB_OPTIONS | {
            "attempts": attempts,
            "backoff": {"type": "exponential", "delay": backoff_ms},
        }
        self.redis = create_redis_connection("system", redis_url)
        auth_queue = auth_queue or Queue(
            queue_name, create_redis_connection("auth", redis_url), default_job_options=options
        )
        self.queue = Queue(
            queue_name,
            create_redis_connection("notifications", redis_url),
            default_job_options=options,
        )
        self._worker_queue = Queue(
            queue_name, create_redis_connection("worker", redis_url), default_job_options=options
        )

        # auth: state + app, and the relay that moves its outbox to the queue
        self.auth_store = auth_store or AuthStore()
        self.auth_service = AuthService(self.auth_store, session_ttl=session_ttl, cost=scrypt)
        self.auth_app: WebApp = create_auth_app(self.auth_service, redis=auth_queue.connection)
        ports = ports or Ports()
        try:
            self.outbox_relay = OutboxRelay(self.auth_store, auth_queue)
            self.outbox_relay.start()
            self.auth_url, auth_transport = self._place(self.auth_app, "auth", ports.auth)

            # notifications: calls auth over sync HTTP, with a deadline
            self.auth_client = ServiceClient(
                "auth", self.auth_url, timeout=auth_timeout, transport=auth_transport
            )
            self.notification_service = NotificationService(self.queue, self.auth_client)
            self.notifications_app: WebApp = create_notifications_app(
                self.notification_service, redis=self.queue.connection
            )
            self.notifications_url, _ = self._place(
                self.notifications_app, "notifications", ports.notifications
            )

            # gateway: the one door for clients, always on its event loop (a real port)
            self.gateway = Gateway(
                [
                    Route("/auth", self._upstream_url(self.auth_app, "auth")),
                    Route("/notifications", self._upstream_url(self.notifications_app, "notif")),
                ],
                upstream_timeout=upstream_timeout,
                limits=gateway_limits,
            )
            server = serve_gateway(self.gateway, ports.gateway if mode == "ports" else 0)
            self._servers.append(server)
            self.gateway_url = server.url
            if worker:
                self.start_worker()
        except BaseException:
            self.stop()
            raise
        log.info(
            "system started",
            extra={"mode": mode, "gateway": self.gateway_url, "redis": describe(self.redis)},
        )

    def _place(self, app: Any, name: str, port: int) -> tuple[str, httpx.BaseTransport | None]:
        """Where ``app`` can be reached: a real port, or an in-process transport."""
        if self.mode == "ports":
            server = serve(app, port, name=name)
            self._servers.append(server)
            return server.url, None
        return f"http://{name}.internal", httpx.WSGITransport(app=app)

    def _upstream_url(self, app: Any, name: str) -> str:
        """The URL the gateway forwards to: the service's port; in-process, a loopback port
        of its own (the gateway is one event-loop front, reached only over sockets)."""
        if self.mode == "ports":
            return self.auth_url if name == "auth" else self.notifications_url
        server = serve(app, 0, name=name)
        self._servers.append(server)
        return server.url

    # -- clients ------------------------------------------------------------------------

    def client(self, **kwargs: Any) -> httpx.Client:
        """An ``httpx.Client`` for the gateway (closed by ``stop()``)."""
        kwargs.setdefault("timeout", 10.0)
        client = httpx.Client(base_url=self.gateway_url, **kwargs)
        self._clients.append(client)
        return client

    def service_client(self, service: Literal["auth", "notifications", "gateway"]) -> httpx.Client:
        """An ``httpx.Client`` straight to one service, bypassing the gateway."""
        apps: dict[str, Any] = {
            "auth": self.auth_app,
            "notifications": self.notifications_app,
        }
        app = apps.get(service)
        url = {
            "auth": self.auth_url,
            "notifications": self.notifications_url,
            "gateway": self.gateway_url,
        }[service]
        transport = None  # the gateway is always on a port
        if self.mode == "in-process" and app is not None:
            transport = httpx.WSGITransport(app=app)
        client = httpx.Client(base_url=url, transport=transport, timeout=10.0)
        self._clients.append(client)
        return client

    # -- the worker ---------------------------------------------------------------------

    def start_worker(self) -> Worker:
        """Start a (new) notification worker; the old one must be stopped or killed."""
        with self._lock:
            if self.worker is not None:
                raise RuntimeError("a worker is running; stop_worker() or kill_worker() first")
            self.worker = create_notification_worker(
                self._worker_queue,
                self.email_provider,
                concurrency=self.concurrency,
                delivery_delay=self.delivery_delay,
                **self.worker_options,
            )
            self.worker.start()
            return self.worker

    def stop_worker(self, timeout: float = 10.0) -> bool:
        """Graceful: stop fetching and finish the jobs in hand, for up to ``timeout`` s.

        Returns False when jobs were still running then (a hung provider): the worker is
        killed, so those jobs stall and run again later, as after a crash.
        """
        with self._lock:
            worker, self.worker = self.worker, None
        if worker is None or worker.close(timeout=timeout):
            return True
        log.warning("worker did not finish in time; killed", extra={"timeout_s": timeout})
        worker.kill()
        return False

    def kill_worker(self) -> None:
        """A crash: the worker stops at once; its active jobs stall and come back later."""
        with self._lock:
            worker, self.worker = self.worker, None
        if worker is not None:
            worker.kill()

    def wait_for_deliveries(self, count: int, timeout: float = 10.0) -> bool:
        """Wait until the email provider holds at least ``count`` deliveries; False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.email_provider.deliveries) >= count:
                return True
            time.sleep(0.02)
        return len(self.email_provider.deliveries) >= count

    # -- stopping -----------------------------------------------------------------------

    def stop(self) -> None:
        """Stop the relay, the worker, the servers and the clients; ``cleanup`` deletes keys."""
        if self.outbox_relay is not None:
            self.outbox_relay.stop()
        self.stop_worker()
        for client in self._clients:
            client.close()
        self._clients.clear()
        for server in reversed(self._servers):
            server.stop()
        self._servers.clear()
        if hasattr(self, "gateway"):
            self.gateway.close()
        if hasattr(self, "auth_client"):
            self.auth_client.close()
        if self.cleanup:
            self._delete_keys()

    def _delete_keys(self) -> None:
        try:
            self.queue.obliterate()
            pattern = f"{self.queue.prefix}:{{{self.queue.name}}}:delivery-log:*"
            for key in self.redis.scan_iter(match=pattern, count=500):
                self.redis.delete(key)
        except Exception as exc:  # cleanup must not hide the real error of a test
            log.warning("could not delete the system's keys", extra={"error": str(exc)})

    def __enter__(self) -> System:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
