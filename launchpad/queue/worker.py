"""The consumer's side: take jobs, run the processor, record what happened.

A worker runs ``concurrency`` jobs at once, each in its own thread. One more thread
fetches jobs while a slot is free (blocking on Redis when the queue is empty), and one
keeps house: it renews the locks of the jobs in hand and puts back jobs whose worker
died (stalled). A busy slot needs at most one round trip per job: the script that records
a result also hands out the next job. All the slots share one pipelined connection
(``lane.py``), and with more than ten slots, slots that finish together share one call
(``recorder.py``).

Delivery is at least once: a worker can die after the side effect and before the
result is recorded, and then the job runs again. Make processors idempotent.

No job is held for ever: whatever a processor raises, ``BaseException`` included, ends
its run and frees its slot (see ``outcome.py``). ``KeyboardInterrupt`` or ``SystemExit``
from a processor puts its job back in wait (no attempt counted) and stops the worker like
``stop()``; ``run()`` then raises that exception once the other jobs in hand are done.
"""

from __future__ import annotations

import itertools
import logging
import queue as threadq
import signal
import threading
import time
import uuid
from typing import Any

from launchpad.correlation import correlation_scope
from launchpad.logging import get_logger
from launchpad.queue import housekeeping
from launchpad.queue.blocking import BlockingMove
from launchpad.queue.job import Job, JobState
from launchpad.queue.outcome import Outcome, Processor, retention, run_processor
from launchpad.queue.queue import Queue
from launchpad.queue.recorder import Recorder, calls_in_flight
from launchpad.queue.report import Callback, report
from launchpad.queue.retry import FAIL, after_failure, parse_backoff

__all__ = ["Processor", "Worker"]

log = get_logger("worker")


class Worker:
    """Runs ``processor(job)`` for the jobs of ``queue``.

    Args:
        queue: the queue to work on (its connection is used).
        processor: called with each ``Job``; its return value (JSON-serialisable) is
            stored; an exception fails the attempt, ``UnrecoverableError`` fails the job.
        concurrency: jobs run at once, each in its own thread.
        lock_duration: ms a job stays locked without renewal; renewed every half of it.
        stalled_interval: ms between stall checks (one check per interval for all workers).
        max_stalled_count: times a job may stall and be put back before it fails.
        remove_on_complete / remove_on_fail: ``True`` deletes a finished job at once (its id
            becomes free), an int keeps the newest N, ``None`` keeps all.
        on_completed / on_failed: called as ``(job, result)`` / ``(job, error)`` after the
            outcome is stored (on_failed also for an attempt that will be retried).
        drain_delay: longest ms an idle worker blocks on Redis at once; a job due sooner wakes it.
    """

    def __init__(
        self,
        queue: Queue,
        processor: Processor,
        *,
        concurrency: int = 5,
        lock_duration: int = 30_000,
        stalled_interval: int = 30_000,
        max_stalled_count: int = 1,
        remove_on_complete: bool | int | None = None,
        remove_on_fail: bool | int | None = None,
        on_completed: Callback | None = None,
        on_failed: Callback | None = None,
        drain_delay: int = 1000,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        if lock_duration < 10 or stalled_interval < 10:
            raise ValueError("lock_duration and stalled_interval must be >= 10 ms")
        self.queue = queue
        self.processor = processor
        self.concurrency = concurrency
        self.lock_duration = lock_duration
        self.stalled_interval = stalled_interval
        self.max_stalled_count = max_stalled_count
        self.keep_completed = retention(remove_on_complete)
        self.keep_failed = retention(remove_on_fail)
        self.on_completed = on_completed
        self.on_failed = on_failed
        self.drain_delay = drain_delay
        self.id = uuid.uuid4().hex[:12]
        self.processed = 0  # runs whose outcome was stored (for live views and tests)
        self._tokens = itertools.count(1)
        self._scripts = queue.scripts
        self._in_hand: dict[str, Job] = {}
        self._in_hand_lock = threading.Lock()
        self._free = threading.Semaphore(concurrency)
        self._handoff: threadq.SimpleQueue[Job | None] = threadq.SimpleQueue()
        self._stopping = threading.Event()
        self._housekeeping_done = threading.Event()
        self._finished = threading.Event()
        self._killed = False
        self._started = False
        self._due_in: int | None = None  # after an empty fetch: ms to the next delayed job
        self.interruption: BaseException | None = None  # KeyboardInterrupt/SystemExit seen
        self._mover = BlockingMove(queue.connection, queue.key_names, drain_delay / 1000)
        common = (self.keep_completed, self.keep_failed, lock_duration)
        self._lane = self._scripts.lane()  # the slots' one connection (pipelined)
        self._recorder = Recorder(self._lane, common, calls_in_flight(concurrency))

    # --- life cycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Start working in background threads and return at once."""
        if self._started:
            raise RuntimeError("this worker was already started")
        self._started = True
        log.info(
            "worker started",
            extra={"queue": self.queue.name, "worker": self.id, "concurrency": self.concurrency},
        )
        slots = [
            threading.Thread(target=self._slot, name=f"worker-{self.id}-slot{i}", daemon=True)
            for i in range(self.concurrency)
        ]
        for thread in slots:
            thread.start()
        threading.Thread(
            target=self._housekeeping, name=f"worker-{self.id}-house", daemon=True
        ).start()
        threading.Thread(
            target=self._fetcher, args=(slots,), name=f"worker-{self.id}-fetch", daemon=True
        ).start()

    def run(self) -> None:
        """Work until ``close()`` (from another thread), SIGINT or SIGTERM; then return.

        Signals are handled only when called from the main thread. The first signal stops
        fetching and lets the jobs in hand finish; a second one acts as usual (e.g. Ctrl-C
        raises KeyboardInterrupt).

        Raises:
            KeyboardInterrupt | SystemExit: a processor (or callback) raised it; the worker
                stopped as on a signal, and the exception goes on to the caller as it would
                have without a worker in between.
        """
        previous: dict[signal.Signals, Any] = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                previous[sig] = signal.signal(sig, self._on_signal)
        try:
            self.start()
            while not self._finished.wait(0.25):
                pass
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if self.interruption is not None:
            raise self.interruption

    def _on_signal(self, signum: int, _frame: Any) -> None:
        log.info("signal received: finishing jobs in hand", extra={"signal": signum})
        default = signal.SIG_DFL if signum == signal.SIGTERM else signal.default_int_handler
        signal.signal(signum, default)
        self.stop()

    def stop(self) -> None:
        """Stop fetching and return at once; jobs in hand finish (see ``close``).

        Safe in a signal handler: the Redis call that wakes a blocked fetch runs in a
        thread of its own, never in the caller's (which may be inside a Redis call).
        """
        self._stopping.set()
        self._free.release()  # wake the fetcher if every slot is busy
        threading.Thread(target=self._mover.interrupt, daemon=True).start()

    def close(self, timeout: float | None = None) -> bool:
        """Stop fetching, let the jobs in hand finish, and return True when all did.

        Returns False if ``timeout`` (seconds) passed first; those jobs keep their locks
        while they run, and are put back as stalled if this process ends before them.
        """
        self.stop()
        if not self._started:
            return True
        return self._finished.wait(timeout)

    def kill(self) -> None:
        """Act as if this process died now (for demos and tests within one process).

        Locks are no longer renewed and results of the jobs in hand are thrown away, so
        those jobs stall and another worker puts them back. Returns at once.
        """
        self._killed = True
        self.stop()

    @property
    def running(self) -> bool:
        return self._started and not self._finished.is_set()

    def jobs_in_hand(self) -> list[Job]:
        with self._in_hand_lock:
            return list(self._in_hand.values())

    def _holds(self, job: Job) -> bool:
        """True while this run of ``job`` is in hand (it leaves before its result is sent)."""
        with self._in_hand_lock:
            return self._in_hand.get(job.id) is job

    # --- threads ---------------------------------------------------------------------------

    def _fetcher(self, slots: list[threading.Thread]) -> None:
        """Fetch a job whenever a slot is free; at stop, wind everything down in order."""
        failures = 0
        while not self._stopping.is_set():
            self._free.acquire()
            if self._stopping.is_set():
                break
            try:
                job = self._fetch()
                failures = 0
            except Exception as exc:  # Redis down: say so, wait, try again
                job = None
                failures += 1
                log.error(
                    "could not fetch a job", extra={"queue": self.queue.name, "error": str(exc)}
                )
                self._stopping.wait(min(0.1 * 2**failures, 5.0))
            if job is None:
                self._free.release()
            else:
                self._handoff.put(job)
        for _ in slots:
            self._handoff.put(None)
        for thread in slots:
            thread.join()
        self._housekeeping_done.set()
        self._mover.close()
        self._lane.close()
        log.info("worker stopped", extra={"queue": self.queue.name, "worker": self.id})
        self._finished.set()

    def _slot(self) -> None:
        """Run jobs handed over by the fetcher; keep going while finishing yields a next job."""
        while True:
            job = self._handoff.get()
            if job is None:
                return
            next_job: Job | None = job
            try:
                while next_job is not None:
                    current, next_job = next_job, None
                    try:
                        next_job = self._work(current)
                    except Exception as exc:  # Redis went away while we recorded the outcome
                        log.error(
                            "could not record the job's outcome; "
                            "it runs again once its lock expires",
                            extra={
                                "queue": self.queue.name,
                                "job_id": current.id,
                                "error": str(exc),
                            },
                        )
            finally:
                self._free.release()

    def _housekeeping(self) -> None:
        """Renew locks every lock_duration/2 and check for stalled jobs every stalled_interval."""
        renew_every = self.lock_duration / 2000
        next_renew = time.monotonic() + renew_every
        next_check = time.monotonic()
        while not self._housekeeping_done.is_set() and not self._killed:
            now = time.monotonic()
            try:
                if now >= next_renew:
                    next_renew = now + renew_every
                    held = self.jobs_in_hand()
                    housekeeping.renew_locks(
                        self._scripts, self.queue.name, held, self.lock_duration, self._holds
                    )
                if now >= next_check:
                    next_check = now + self.stalled_interval / 1000
                    self.check_stalled()
            except Exception as exc:
                log.error(
                    "housekeeping failed", extra={"queue": self.queue.name, "error": str(exc)}
                )
            self._housekeeping_done.wait(max(min(next_renew, next_check) - time.monotonic(), 0.001))

    # --- talking to Redis ------------------------------------------------------------------

    def _token(self) -> str:
        return f"{self.id}:{next(self._tokens)}"

    def _take(self, reply: list[Any], token: str) -> tuple[Job | None, int]:
        """A job from a take reply (``['job', id, ...]``), or None and ms to the next due job."""
        if reply[0] != "job":
            return None, int(reply[1])
        _, job_id, record, attempts, added, processed = reply[:6]
        job = Job.from_record(
            job_id,
            record,
            state=JobState.ACTIVE,
            attempts_made=int(attempts),
            added_at=int(added),
            processed_at=int(processed),
            token=token,
        )
        with self._in_hand_lock:
            self._in_hand[job.id] = job
        return job, 0

    def _fetch(self) -> Job | None:
        """Take a waiting job; if there is none, block on Redis until one arrives.

        After a fetch that found nothing, the next one goes straight to the blocking wait.
        """
        token = self._token()
        due_in = self._due_in
        if due_in is None:
            reply = self._scripts.run("move_to_active", token, self.lock_duration, "")
            job, due_in = self._take(reply, token)
            if job is not None or self._stopping.is_set():
                return job
        wait_ms = self.drain_delay if due_in < 0 else min(self.drain_delay, max(due_in, 1))
        moved = self._mover.move(wait_ms / 1000)
        reply = self._scripts.run("move_to_active", token, self.lock_duration, moved or "")
        job, due_in = self._take(reply, token)
        self._due_in = None if job is not None else due_in
        return job

    def check_stalled(self, force: bool = False) -> tuple[list[str], list[str]]:
        """Put back jobs whose worker died; returns (ids put back, ids failed).

        Runs at most once per ``stalled_interval`` across all workers, unless ``force``.
        """
        return housekeeping.check_stalled(
            self._scripts, self.queue.name, self.max_stalled_count, self.stalled_interval, force
        )

    # --- one job ---------------------------------------------------------------------------

    def _work(self, job: Job) -> Job | None:
        """Run one job and store its outcome; returns the next job if the script handed one."""
        # A job added outside any request has no id: give the run one, so its lines join up.
        with correlation_scope(job.correlation_id or f"run-{job.token}"):
            fields: dict[str, Any] = {"queue": self.queue.name, "job_id": job.id}
            fields["job_name"] = job.name
            if log.isEnabledFor(logging.INFO):
                log.info("job started", extra={**fields, "attempt": job.attempts_made + 1})
            outcome = run_processor(self.processor, job)
            if self._killed:
                return None  # "dead": never acknowledge
            if outcome.interrupted:
                self._interrupt(outcome.error)  # before _finish: it must not fetch a next job
            reply, next_token = self._finish(job, outcome)
            fields["duration_ms"] = round(outcome.seconds * 1000, 1)
            if reply[0] == "lost":
                log.warning("lock lost: result discarded (the job was put back)", extra=fields)
                return None
            if reply[0] != "returned":
                with self._in_hand_lock:  # `+=` from several slot threads needs a lock
                    self.processed += 1
            job.attempts_made = int(reply[1])
            stop = report(job, outcome, reply[0], fields, self.on_completed, self.on_failed)
            if stop is not None:
                self._interrupt(stop)
        if len(reply) > 3:
            next_job, _ = self._take(reply[2:], next_token)
            return next_job
        return None

    def _finish(self, job: Job, outcome: Outcome) -> tuple[list[Any], str]:
        """Record the run (and take the next job, unless stopping): one round trip."""
        status = "returned" if outcome.interrupted else "completed" if outcome.ok else "failed"
        backoff = parse_backoff(job.opts.get("backoff")) if status == "failed" else None
        retry_in = FAIL if status != "failed" else after_failure(
            job.attempts_made, job.attempts, backoff, unrecoverable=outcome.unrecoverable
        )  # fmt: skip
        job.state = JobState.DELAYED if retry_in > 0 else JobState.WAITING  # if it is retried
        next_token = "" if self._stopping.is_set() else self._token()
        # out of hand BEFORE the result is sent: see housekeeping.renew_locks
        with self._in_hand_lock:
            self._in_hand.pop(job.id, None)
        reply = self._recorder.record(
            job.id, job.token, status, outcome.value, outcome.stack, retry_in, next_token
        )
        self._mover.nudge()  # the script may have pushed a wake-up marker (embedded Redis)
        return reply, next_token

    def _interrupt(self, exc: BaseException | None) -> None:
        """A processor or callback raised KeyboardInterrupt/SystemExit: stop as on a signal."""
        if self.interruption is None:
            self.interruption = exc
        self.stop()
