"""How the lab reaches the student's processes: the app behind the gateway, and the workers.

A mixin of ``CheckoutLab`` (kept apart to keep each
file readable). Threat model: every process here is the student's and hostile; the lab
talks to it only through the gateway (HTTP, with a deadline and a cap on what it reads
back) and the sandbox's pipe (whose replies are claims: checks judge by the recorders).
Fault model: it may hang, die or never start; each becomes a sentence on the checks that
needed it, and a process that died is started afresh before the next check (at most
``MAX_RESTARTS`` times). The machine may be slow to start a process (forty gradings at
once): ``load_timeout`` bounds that wait, and the ``StartupClock`` tells the engine how
long a check waited for it, so the check's own time limit never pays for the machine.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import httpx

from launchpad.gateway import Gateway, Route
from launchpad.gateway.server import serve_gateway
from launchpad.grading.checks import CheckFailed
from launchpad.grading.sandbox import Confinement, Failed, Imported, Ready, StudentProcess
from launchpad.http.serve import RunningServer
from launchpad.queue import Job

if TYPE_CHECKING:
    from launchpad.grading.engine import GradingOptions

__all__ = [
    "MAX_REPLY",
    "MAX_RESTARTS",
    "WORKERS",
    "WORKER_LIMIT",
    "StartupClock",
    "StudentSide",
    "read_capped",
]

WORKERS = {"email": "send_confirmation_email", "inventory": "update_inventory"}
WORKER_LIMIT = 3.0  # seconds one worker run may take
MAX_RESTARTS = 3  # fresh student processes after one died or hung
MAX_REPLY = 1024 * 1024  # bytes of an answer the lab reads


class StartupClock:
    """Seconds spent waiting for the submission's processes to start, a wait in progress
    included: what the engine leaves out of a check's time limit (see ``startup_seconds``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._done = 0.0
        self._since: list[float] = []  # the start of each wait in progress

    @contextmanager
    def waiting(self) -> Iterator[None]:
        began = time.monotonic()
        with self._lock:
            self._since.append(began)
        try:
            yield
        finally:
            with self._lock:
                self._since.remove(began)
                self._done += time.monotonic() - began

    def seconds(self) -> float:
        now = time.monotonic()
        with self._lock:
            return self._done + sum(now - began for began in self._since)


class StudentSide:
    """The student's processes, as the lab starts, reaches and replaces them."""

    options: GradingOptions
    confinement: Confinement
    servers: dict[str, RunningServer]
    deadline: float
    app_error: str | None
    student: StudentProcess | None
    helpers: list[StudentProcess]
    restarts: int
    _client: httpx.Client | None
    _app_settled: threading.Event
    startup: StartupClock

    def startup_seconds(self) -> float:
        """Seconds the checks have waited for a fresh worker process to start (the engine
        does not count them against a check's time limit: ``load_timeout`` bounds them)."""
        return self.startup.seconds()

    def _config(self) -> dict[str, Any]:
        raise NotImplementedError

    def _spawn(self, mode: str) -> StudentProcess:
        return StudentProcess(mode, self._config(), self.confinement)

    def _start_student_redis(self) -> str:
        """The student's ``env.redis``: an embedded Redis server in a process of theirs."""
        server = self._spawn("redis")
        self.helpers.append(server)
        ready = server.wait((Ready,), max(10.0, self.options.load_timeout))
        if not isinstance(ready, Ready):
            self.app_error = f"the submission's Redis did not start: {server.log_tail()}"
            return ""
        return f"redis://127.0.0.1:{ready.port}/0"

    def _await_app(self) -> None:
        """Wait for the student's app to be served (or to fail): then route the gateway."""
        proc, limit = self.student, self.options.load_timeout
        assert proc is not None
        first = proc.wait((Imported, Failed), limit)
        if first is None:
            self.app_error = _why_not(proc, "importing checkout.py", "finish", limit)
            return
        if isinstance(first, Failed):
            self.app_error = first.message
            return
        second = proc.wait((Ready, Failed), limit)
        if second is None:
            self.app_error = _why_not(proc, "create_app(env)", "return", limit)
        elif isinstance(second, Failed):
            self.app_error = second.message
        elif isinstance(second, Ready):
            self._start_gateway(f"http://127.0.0.1:{second.port}")

    def _start_gateway(self, checkout_url: str) -> None:
        gateway = Gateway(
            [
                Route("/auth", self.servers["auth"].url),
                Route("/checkout", checkout_url),
            ],
            upstream_timeout=30.0,
        )
        self.servers["gateway"] = serve_gateway(gateway)  # the front `launchpad up` runs
        self._client = httpx.Client(
            base_url=self.servers["gateway"].url,
            timeout=self.deadline,
            verify=False,  # plain http on loopback; skips loading a CA bundle (~50 ms)
            trust_env=False,
        )

    def _restart(self) -> None:
        """A fresh student process after the last one died or hung (a few times at most)."""
        if self.student is not None:
            self.student.stop()
        if self._client is not None:
            self._client.close()
            self._client = None
            self.servers.pop("gateway").stop()
        self.restarts += 1
        self._launch()
        self._app_settled.wait(self.options.load_timeout * 2 + 1)

    def after_check_wait(self, seconds: float = 2.0) -> None:
        """Wait (a little) until the checkout has answered every request it received."""
        until = time.monotonic() + seconds
        while self.student is not None and self._client is not None and self.student.alive:
            left = until - time.monotonic()
            if left <= 0:
                return
            reply = self.student.request("idle", min(left, 0.5))
            if reply is None or reply.active == 0:
                return
            time.sleep(0.01)

    # -- what checks use ------------------------------------------------------------------

    def _launch(self) -> None:
        """Start the student's service, and wait for it in a thread of its own: the first
        checks (the decisions file) need no service and run meanwhile."""
        self.student = self._spawn("service")
        self._app_settled = threading.Event()

        def settle() -> None:
            try:
                self._await_app()
            finally:
                self._app_settled.set()

        threading.Thread(target=settle, name="student-app", daemon=True).start()

    def await_app(self) -> bool:
        """Wait until the service is up or has failed (``False``: it is still starting)."""
        settled = getattr(self, "_app_settled", None)
        return settled is None or settled.wait(self.options.load_timeout * 2 + 1)

    def require_app(self) -> None:
        """Fail the check with the reason when the submission's app is not running."""
        if not self.await_app():
            raise CheckFailed("the checkout service is still starting", expected="a service")
        if self._client is None:
            raise CheckFailed(
                f"the checkout service is not running: {self.app_error}",
                expected="checkout.py with create_app(env) returning the app",
            )

    def process(self, kind: str, job: Job, *, may_fail: bool = False, fresh: bool = False) -> Any:
        """Have the submission's worker for ``kind`` run ``job``, as a queue worker would.

        The worker runs in the student's process (``fresh``: in a new worker process, as
        after a restart, so what it remembered in memory is gone). An exception, a hang or
        a dead process fails the check, unless ``may_fail`` (a job that should fail, as
        one that finds no stock): then the error, in words, is returned.
        """
        name = WORKERS[kind]
        where = " in a fresh worker process" if fresh else ""
        called = f"{name}(job {job.id!r} with data {json.dumps(job.data)[:120]}, env){where}"
        proc = self._fresh_worker(called) if fresh else self._service()
        fields = {
            "id": job.id,
            "name": job.name,
            "data": job.data,
            "opts": job.opts,
            "correlationId": job.correlation_id,
            "attemptsMade": job.attempts_made,
        }
        reply = proc.request("run", WORKER_LIMIT, worker=kind, job=fields)
        ended = f"exited (code {proc.exit_code})" if not proc.alive else "hung"
        if fresh or reply is None:
            proc.stop()  # a fresh one serves the next check (see before_check)
        if reply is None:
            raise CheckFailed(
                f"{name} did not finish within {WORKER_LIMIT:g} s: the process {ended}",
                called=called,
                expected="the job processed, within a few seconds",
            )
        if not reply.ok:
            if may_fail:
                return reply.error
            raise CheckFailed(
                reply.error or f"{name} failed",
                called=called,
                expected="the job processed without an exception",
            )
        return None

    def _service(self) -> StudentProcess:
        self.require_app()
        assert self.student is not None
        return self.student

    def _fresh_worker(self, called: str) -> StudentProcess:
        proc = self._spawn("worker")
        self.helpers.append(proc)
        with self.startup.waiting():
            first = proc.wait((Ready, Failed), self.options.load_timeout * 2)
        if not isinstance(first, Ready):
            proc.stop()
            why = first.message if isinstance(first, Failed) else "it did not start"
            raise CheckFailed(
                f"a fresh worker process could not run the job: {why}",
                called=called,
                expected="checkout.py imports in a new process",
            )
        return proc


def _why_not(proc: StudentProcess, what: str, verb: str, limit: float) -> str:
    """Why the student's process said nothing: it hung, or it died (and its last words)."""
    if proc.alive:
        return f"{what} did not {verb} within {limit:g} s"
    tail = proc.log_tail()
    return f"the checkout process exited (code {proc.exit_code}) during {what}" + (
        f": {tail}" if tail else ""
    )


def read_capped(answer: httpx.Response, until: float) -> bytes | None:
    """The answer's body, at most ``MAX_REPLY`` bytes; ``None`` past ``until``."""
    raw = b""
    for chunk in answer.iter_bytes():
        raw += chunk
        if len(raw) > MAX_REPLY:
            return raw[:MAX_REPLY]
        if time.monotonic() > until:
            return None
    return raw
