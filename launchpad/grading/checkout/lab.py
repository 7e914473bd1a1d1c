"""The checkout lab: a small world the grader builds around one submission.

Real services on loopback ports (port 0): the auth service, the kit's payment service,
the student's checkout app and the gateway in front of them, with embedded Redis by
default and queue names no other run uses. Around the student's code the lab keeps
*recorders*, so checks can say exactly what was called, in what order, with which
headers: every request to auth and payment, every job added to either queue.

Between checks the lab resets the mocks and gives each queue a fresh Redis list; after a
check it releases anything still hanging and waits briefly for the checkout's requests
in flight, so one check's leftovers never land in the next one.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

import httpx

from launchpad import correlation
from launchpad.gateway import Gateway, Route
from launchpad.grading.checkout.recorders import (
    Added,
    InFlight,
    RecordingQueue,
    Reply,
    Timeline,
    Tracer,
)
from launchpad.grading.checks import Check, CheckFailed
from launchpad.grading.engine import GradingOptions, describe_exception
from launchpad.grading.submission import Submission
from launchpad.http.serve import RunningServer, serve
from launchpad.queue import Job
from launchpad.redis import EMBEDDED_URL, create_redis_connection
from launchpad.services.auth import AuthService, ScryptCost, create_auth_app
from launchpad.services.outbox import Outbox

__all__ = ["STOCK", "USER_EMAIL", "CheckoutLab", "Reply"]

STOCK = {"mug": 20, "lamp": 5, "poster": 3}
USER_EMAIL = "grace@example.com"
OTHER_EMAIL = "linus@example.com"


class CheckoutLab:
    """The world one submission is graded in; checks use its methods and recorders."""

    def __init__(self, submission: Submission, options: GradingOptions, provided: ModuleType):
        self.submission = submission
        self.options = options
        self.provided = provided
        self.call_timeout = options.call_timeout
        self.deadline = options.call_timeout * 2 + 1.5  # how long a check waits for an answer
        self.run_id = uuid.uuid4().hex[:10]
        self.timeline = Timeline()
        self.redis = create_redis_connection("grader", options.redis_url or EMBEDDED_URL)
        self.prefix = f"grade-{self.run_id}"
        self.auth_service = AuthService(cost=ScryptCost(n=2**4, r=4, p=1))
        self.auth = Tracer(
            create_auth_app(self.auth_service, redis=self.redis), "auth", self.timeline
        )
        self.payment = provided.PaymentService(hang_limit=30.0)
        self.payment_http = Tracer(
            provided.create_payment_app(self.payment), "payment", self.timeline
        )
        self.outbox = Outbox()
        self.inventory = provided.InventoryStore(STOCK)
        self.email_queue = RecordingQueue("email", self.redis, self.prefix, self.timeline)
        self.inventory_queue = RecordingQueue("inventory", self.redis, self.prefix, self.timeline)
        self.servers: dict[str, RunningServer] = {}
        self.app_error: str | None = submission.load_error
        self.checkout: InFlight | None = None
        self.env: Any = None
        self._client: httpx.Client | None = None
        self._keys = itertools.count(1)
        self.token = self._user(USER_EMAIL, "Grace")
        self.other_token = self._user(OTHER_EMAIL, "Linus")  # a second customer

    def _user(self, email: str, name: str) -> str:
        """Register a customer and return a session token for them."""
        self.auth_service.register(email, "correct horse battery", name)
        token = self.auth_service.login(email, "correct horse battery")
        assert token is not None
        return token

    # -- starting and stopping ------------------------------------------------------------

    def start(self) -> CheckoutLab:
        self.servers["auth"] = serve(self.auth, name="auth")
        self.servers["payment"] = serve(self.payment_http, name="payment")
        self.env = self.provided.CheckoutEnv(
            auth_url=self.servers["auth"].url,
            payment_url=self.servers["payment"].url,
            timeout=self.call_timeout,
            email_queue=self.email_queue,
            inventory_queue=self.inventory_queue,
            redis=self.redis,
            prefix=self.prefix,
            outbox=self.outbox,
            inventory=self.inventory,
        )
        app = self._create_app()
        if app is None:
            return self
        self.checkout = InFlight(app)
        self.servers["checkout"] = serve(self.checkout, name="checkout")
        gateway = Gateway(
            [
                Route("/auth", self.servers["auth"].url),
                Route("/checkout", self.servers["checkout"].url),
            ],
            upstream_timeout=30.0,
        )
        self.servers["gateway"] = serve(gateway, name="gateway")
        self._client = httpx.Client(
            base_url=self.servers["gateway"].url,
            timeout=self.deadline,
            verify=False,  # plain http on loopback; skips loading a CA bundle (~50 ms)
        )
        return self

    def _create_app(self) -> Any:
        module = self.submission.module
        if module is None:
            return None
        create = getattr(module, "create_app", None)
        if not callable(create):
            self.app_error = "checkout.py has no function create_app(env)"
            return None
        box: dict[str, Any] = {}

        def run() -> None:
            try:
                box["app"] = create(self.env)
            except BaseException as exc:
                box["error"] = exc

        thread = threading.Thread(target=run, name="create-app", daemon=True)
        thread.start()
        thread.join(self.options.load_timeout)
        if thread.is_alive():
            limit = self.options.load_timeout
            self.app_error = f"create_app(env) did not return within {limit:g} s"
        elif "error" in box:
            roots = (self.submission.folder,)
            self.app_error = "create_app(env) raised " + describe_exception(box["error"], roots)
        elif not callable(box.get("app")):
            self.app_error = (
                f"create_app(env) returned {type(box.get('app')).__name__}, not a WSGI app"
            )
        else:
            return box["app"]
        return None

    def stop(self) -> None:
        self.release()
        if self._client is not None:
            self._client.close()
        for server in self.servers.values():
            server.stop()
        self.email_queue.discard()
        self.inventory_queue.discard()
        for key in self.redis.scan_iter(f"{self.prefix}:*", count=500):
            self.redis.delete(key)  # the submission's own keys (orders, delivery logs)

    # -- between checks -------------------------------------------------------------------

    def before_check(self, check: Check) -> None:
        self.payment.reset()
        self.auth.release()
        self.payment_http.release()
        self.auth.failing = False
        self.auth.calls.clear()
        self.payment_http.calls.clear()
        self.outbox.heal()
        self.outbox.clear()
        self.inventory.reset()
        self.email_queue.fresh()
        self.inventory_queue.fresh()
        self.timeline.clear()

    def release(self) -> None:
        self.payment.release()
        self.auth.release()
        self.payment_http.release()
        self.outbox.heal()

    def after_check(self, check: Check) -> None:
        self.release()
        self.after_check_wait()

    def after_check_wait(self, seconds: float = 2.0) -> None:
        """Wait (a little) until the checkout has answered every request it received."""
        until = time.monotonic() + seconds
        while self.checkout is not None and self.checkout.active and time.monotonic() < until:
            time.sleep(0.01)

    # -- what checks use ------------------------------------------------------------------

    def require_app(self) -> None:
        """Fail the check with the reason when the submission's app is not running."""
        if self._client is None:
            raise CheckFailed(
                f"the checkout service is not running: {self.app_error}",
                expected="checkout.py with create_app(env) returning the app",
            )

    def new_key(self) -> str:
        return f"key-{self.run_id}-{next(self._keys)}"

    def order_body(self, quantity: int = 2, sku: str = "mug") -> dict[str, Any]:
        return {"items": [{"sku": sku, "quantity": quantity}], "amountCents": 1200 * quantity}

    def post_checkout(
        self,
        body: Any = None,
        *,
        key: str | None = None,
        token: str | None = "",
        headers: dict[str, str] | None = None,
        content: bytes | None = None,
    ) -> Reply:
        """``POST /checkout`` through the gateway; ``token=""`` means the lab user's token."""
        self.require_app()
        assert self._client is not None
        sent = dict(headers or {})
        if token == "":
            token = self.token
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        if key is not None:
            sent["Idempotency-Key"] = key
        started = time.monotonic()
        try:
            if content is not None:
                sent.setdefault("Content-Type", "application/json")
                response = self._client.post("/checkout", content=content, headers=sent)
            else:
                body = self.order_body() if body is None else body
                response = self._client.post("/checkout", json=body, headers=sent)
        except httpx.TimeoutException:
            return Reply(None, None, {}, time.monotonic() - started)
        seconds = time.monotonic() - started
        try:
            parsed: Any = response.json()
        except ValueError:
            parsed = response.text
        return Reply(response.status_code, parsed, dict(response.headers), seconds)

    def jobs_added(self) -> list[Added]:
        return self.email_queue.adds + self.inventory_queue.adds

    def process(self, kind: str, job: Job, *, may_fail: bool = False) -> Any:
        """Run the submission's worker function for ``kind`` on ``job``, as a worker would.

        An exception fails the check, unless ``may_fail`` (a job that should fail, as one
        that finds no stock): then it is returned.
        """
        name = {"email": "send_confirmation_email", "inventory": "update_inventory"}[kind]
        module = self.submission.module
        fn: Callable[..., Any] | None = getattr(module, name, None) if module else None
        if not callable(fn):
            raise CheckFailed(
                f"checkout.py has no function {name}(job, env)",
                expected=f"def {name}(job, env): ...",
            )
        try:
            with correlation.correlation_scope(job.correlation_id):
                return fn(job, self.env)
        except Exception as exc:
            if may_fail:
                return exc
            raise CheckFailed(
                f"{name} raised " + describe_exception(exc, (self.submission.folder,)),
                called=f"{name}(job {job.id!r} with data {json.dumps(job.data)[:120]}, env)",
                expected="the job processed without an exception",
            ) from None

    def run_all_jobs(self) -> None:
        for job in self.inventory_queue.jobs():
            self.process("inventory", job)
        for job in self.email_queue.jobs():
            self.process("email", job)

    @contextmanager
    def release_payment_after(self, seconds: float) -> Iterator[None]:
        """Let a hung or slow payment answer after ``seconds``, whoever is still waiting.

        A submission that waits for ever then gets its answer, so a check that is not
        about timeouts does not wait for the whole deadline.
        """
        timer = threading.Timer(seconds, self.payment.release)
        timer.daemon = True
        timer.start()
        try:
            yield
        finally:
            timer.cancel()
            self.payment.release()
