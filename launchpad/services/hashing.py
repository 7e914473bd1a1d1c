"""A bounded pool for password hashing: a flood of logins waits in line or is turned away.

A password hash is meant to be expensive: scrypt at the kit's cost takes ~16 MiB and tens
of ms of CPU, so that a stolen table of hashes is slow to crack. The same cost makes a
login flood dangerous for the service itself. Hashed on each request's own thread, 40
logins at once are 40 hashes at once: ~640 MiB, and every other request (``/auth/verify``,
which other services call on *every* request) waits for a CPU behind them.

So hashes run on a ``HashingPool``: a few threads of its own, as many as the machine
has CPUs (more would not finish sooner, they would only hold more memory at once), and a
queue of bounded length in front of them. A request that finds a free place in the queue
waits its turn briefly; one that finds the queue full is refused at once with
``HashingBusy``, which the HTTP layer answers as ``503`` with ``Retry-After``. Memory
then stays near ``workers x 16 MiB`` whatever the flood. Verifying a token never hashes,
and on Linux the hashing threads run at a lower CPU priority (nice 10), so a request that
does not hash is served first even while every CPU is busy hashing.

Fault model: a caller may give up while its hash waits or runs; its place is freed only
when that hash is done, so the bound holds even then. A function that raises passes its
exception to the caller and frees its place the same way.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

__all__ = ["HashingBusy", "HashingPool", "shared_pool"]

T = TypeVar("T")


class HashingBusy(Exception):
    """Every hashing thread is busy and the queue is full: try again in a moment."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many password checks at once; try again in {retry_after} s")
        self.retry_after = retry_after


class HashingPool:
    """Run expensive hashes on ``workers`` threads, with at most ``queue_size`` waiting.

    Args:
        workers: threads that hash; default: the machine's CPUs (``os.cpu_count()``).
        queue_size: hashes that may wait for a thread; default: 8 per worker, so a wait
            of at most ~8 hashes' time (about a second at the kit's cost).
        retry_after: seconds a refused caller is told to wait (``Retry-After``).
    """

    def __init__(
        self, workers: int | None = None, queue_size: int | None = None, *, retry_after: int = 1
    ) -> None:
        self.workers = workers or os.cpu_count() or 1
        self.queue_size = 8 * self.workers if queue_size is None else queue_size
        self.retry_after = retry_after
        self._lock = threading.Lock()
        self._in_flight = 0  # running + waiting
        self._executor = ThreadPoolExecutor(
            self.workers, thread_name_prefix="password-hash", initializer=_yield_the_cpu
        )

    def run(self, fn: Callable[..., T], *args: object) -> T:
        """``fn(*args)`` on a pool thread, waiting for its turn; ``HashingBusy`` if the
        queue is full (then ``fn`` is not run at all)."""
        with self._lock:
            if self._in_flight >= self.workers + self.queue_size:
                raise HashingBusy(self.retry_after)
            self._in_flight += 1

        def task() -> T:
            try:
                return fn(*args)
            finally:
                self._give_back()  # before the caller hears back, and even if it left

        try:
            future: Future[T] = self._executor.submit(task)
        except BaseException:
            self._give_back()
            raise
        return future.result()

    @property
    def in_flight(self) -> int:
        """Hashes running or waiting now."""
        return self._in_flight

    def _give_back(self) -> None:
        with self._lock:
            self._in_flight -= 1


def _yield_the_cpu() -> None:
    """Lower this hashing thread's priority, so requests that do not hash go first."""
    if sys.platform == "linux":  # a Linux thread has its own nice value
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)


_shared: HashingPool | None = None
_shared_lock = threading.Lock()


def shared_pool() -> HashingPool:
    """The process's pool: the bound is on the process's memory, so its services share one."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = HashingPool()
        return _shared
