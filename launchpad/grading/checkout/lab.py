"""The checkout lab: a small world the grader builds around one submission.

The grader's own services run in the grader's process on loopback ports (port 0): the
auth service, the kit's payment service, the back office (queues, email provider, stock;
see ``launchpad.grading.checkout.backoffice``) and the gateway. The student's code runs
in a confined process of its own (``launchpad.grading.sandbox``): its checkout app on a
port of its own behind the gateway, and its workers when the lab asks it to run one job.
Around the student's code the lab keeps *recorders*, so checks can say exactly what was
called, in what order, with which headers: every request to auth and payment, every job
added to either queue, every email and stock move.

Threat model: the student's process is hostile. The lab reaches it only by HTTP (through
the gateway, with a size cap on what it reads back) and by the sandbox's pipe, whose
messages are claims it never trusts for a score: checks judge by the recorders. Fault
model: the student's process may hang, die or flood; a request to it has a deadline,
and a process that died or hung is started afresh before the next check (a few times at
most), so one fault costs the checks it happened in.

Between checks the lab resets the mocks and the record of queue adds; after a check it
releases anything still hanging and waits briefly for the checkout's requests in
flight, so one check's leftovers never land in the next one.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx

from launchpad.grading.checkout.backoffice import create_backoffice_app
from launchpad.grading.checkout.recorders import Added, RecordingQueue, Reply, Timeline, Tracer
from launchpad.grading.checkout.student import (
    MAX_RESTARTS,
    StartupClock,
    StudentSide,
    read_capped,
)
from launchpad.grading.checks import Check
from launchpad.grading.engine import GradingOptions
from launchpad.grading.sandbox import Confinement, StudentProcess
from launchpad.grading.submission import Submission
from launchpad.http.serve import RunningServer, serve
from launchpad.redis import EMBEDDED_URL, create_redis_connection
from launchpad.services.auth import AuthService, ScryptCost, create_auth_app
from launchpad.services.email_provider import EmailProvider

__all__ = ["OTHER_EMAIL", "STOCK", "USER_EMAIL", "CheckoutLab", "Reply"]

STOCK = {"mug": 20, "lamp": 5, "poster": 3}
USER_EMAIL = "grace@example.com"
OTHER_EMAIL = "linus@example.com"


class CheckoutLab(StudentSide):
    """The world one submission is graded in; checks use its methods and recorders."""

    def __init__(
        self,
        submission: Submission,
        options: GradingOptions,
        provided: ModuleType,
        confinement: Confinement,
        *,
        code: Path,
    ) -> None:
        self.submission = submission
        self.code = code  # the student process's copy of the submission
        self.options = options
        self.provided = provided
        self.confinement = confinement
        self.call_timeout = options.call_timeout
        # How long a check waits for an answer: env.timeout and a margin, and with the
        # default env.timeout (1 s) less than the service client's own default (3 s), so a
        # client that ignores env.timeout answers too late and fails the timeout checks.
        self.deadline = options.call_timeout + 1.5
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
        self.email_provider = EmailProvider()
        self.inventory = provided.InventoryStore(STOCK)
        self.email_queue = RecordingQueue("email", self.redis, self.prefix, self.timeline)
        self.inventory_queue = RecordingQueue("inventory", self.redis, self.prefix, self.timeline)
        self.servers: dict[str, RunningServer] = {}
        self.app_error: str | None = None
        self.student: StudentProcess | None = None
        self.helpers: list[StudentProcess] = []  # the student's Redis, fresh workers
        self.restarts = 0
        self.startup = StartupClock()
        self.student_redis_url = options.redis_url or ""
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
        queues = {"email": self.email_queue, "inventory": self.inventory_queue}
        office = create_backoffice_app(
            queues, self.email_provider, self.inventory, self.provided.OutOfStock
        )
        self.servers["backoffice"] = serve(office, name="backoffice")
        if not self.student_redis_url:
            self.student_redis_url = self._start_student_redis()
        if self.app_error is None:
            self._launch()  # it imports while the first checks run
        return self

    def _config(self) -> dict[str, Any]:
        """What the student's process is told: where the submission and the services are."""
        return {
            "submission": str(self.code),
            "provided": self.provided.__file__,
            "lab_url": self.servers["backoffice"].url,
            "auth_url": self.servers["auth"].url,
            "payment_url": self.servers["payment"].url,
            "timeout": self.call_timeout,
            "prefix": self.prefix,
            "redis_url": self.student_redis_url,
        }

    @property
    def answers(self) -> dict[str, str]:
        """The decisions file's modes and whys as written (for manual grading)."""
        from launchpad.grading.checkout.checks.decisions import answers

        return answers(self.submission.toml)

    @property
    def isolation(self) -> str:
        return self.confinement.description

    def pids(self) -> list[int]:
        """Every student process the lab started (the sweep finds their children)."""
        procs = [*self.helpers, *([self.student] if self.student else [])]
        return [p.proc.pid for p in procs]

    def stop(self) -> None:
        self.release()
        if self._client is not None:
            self._client.close()
        for proc in [*self.helpers, *([self.student] if self.student else [])]:
            proc.stop()
        for server in self.servers.values():
            server.stop()
        self.email_queue.discard()
        self.inventory_queue.discard()
        if self.options.redis_url:
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
        self.email_provider.heal()
        self.email_provider.clear()
        self.inventory.reset()
        self.email_queue.fresh()
        self.inventory_queue.fresh()
        self.timeline.clear()
        if check.service:
            self.await_app()
        student = self.student
        if student is not None and self._client is not None and not student.alive:
            if self.restarts < MAX_RESTARTS:
                self._restart()
            else:
                self.app_error = f"the checkout process died {self.restarts + 1} times"
                self._client.close()
                self._client = None

    def release(self) -> None:
        self.payment.release()
        self.auth.release()
        self.payment_http.release()
        self.email_provider.heal()

    def after_check(self, check: Check) -> None:
        self.release()
        self.after_check_wait()

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
        if content is None:
            content = json.dumps(self.order_body() if body is None else body).encode()
        sent.setdefault("Content-Type", "application/json")
        try:
            with self._client.stream("POST", "/checkout", content=content, headers=sent) as answer:
                raw = read_capped(answer, started + self.deadline)
        except httpx.TimeoutException:
            return Reply(None, None, {}, time.monotonic() - started)
        except httpx.HTTPError as exc:
            return Reply(None, f"the connection failed: {type(exc).__name__}", {}, 0.0)
        seconds = time.monotonic() - started
        if raw is None:
            return Reply(None, None, {}, seconds)
        try:
            parsed: Any = json.loads(raw)
        except ValueError:
            parsed = raw.decode(errors="replace")
        return Reply(answer.status_code, parsed, dict(answer.headers), seconds)

    def run_new_jobs(self, seen: set[str]) -> None:
        """Run the workers on the jobs whose ids are not in ``seen`` (then add them)."""
        for kind, queue in (("inventory", self.inventory_queue), ("email", self.email_queue)):
            for job in queue.jobs():
                if f"{kind}:{job.id}" not in seen:
                    seen.add(f"{kind}:{job.id}")
                    self.process(kind, job)

    def jobs_added(self) -> list[Added]:
        return self.email_queue.adds + self.inventory_queue.adds

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
