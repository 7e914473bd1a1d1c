"""A circuit breaker: stop calling a service that keeps failing, and try again later.

A deadline bounds how long one call to a dead service waits. But a service that is down
for a minute still costs every caller the whole deadline on every call, and every waiting
call holds a thread and a connection: the caller slows down with the callee, and the
callee, when it comes back, is hit by everyone at once. A breaker remembers recent
failures and, past a threshold, fails calls *at once*, without sending them:

* **closed** (normal): calls go through. ``failure_threshold`` failures in a row open it.
* **open**: calls fail immediately, for ``reset_timeout`` seconds.
* **half-open**: then one trial call is let through (the others still fail at once).
  If it succeeds, the breaker closes; if it fails, it opens again for another
  ``reset_timeout``.

What counts as a failure is the caller's choice (``ServiceClient`` counts timeouts, refused
or broken connections and 5xx answers; a 401 is an answer, not a failure). One breaker
per service: a client holds one for the service it calls. The clock is passed in, so the
state machine can be tested without waiting (``tests/http/test_breaker.py``).

This module knows nothing about HTTP; it is called from one thread or many (a lock keeps
its counters whole).
"""

from __future__ import annotations

import enum
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["BreakerState", "CircuitBreaker"]


class BreakerState(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


@dataclass
class _Counters:
    failures: int = 0  # in a row, while closed
    opened_at: float | None = None  # set while open (and half-open)
    trial_in_flight: bool = False  # half-open: the one call let through is still out


class CircuitBreaker:
    """Closed, open or half-open, for calls to one service.

    Args:
        failure_threshold: failures in a row that open the breaker.
        reset_timeout: seconds it stays open before one trial call is let through.
        clock: a ``time.monotonic``-like function (tests pass a manual one).
    """

    def __init__(
        self,
        failure_threshold: int = 5,
        reset_timeout: float = 5.0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        if reset_timeout <= 0:
            raise ValueError("reset_timeout must be > 0 seconds")
        self.failure_threshold = failure_threshold
        self.reset_timeout = reset_timeout
        self._clock = clock
        self._c = _Counters()
        self._lock = threading.Lock()

    @property
    def state(self) -> BreakerState:
        with self._lock:
            return self._state()

    def _state(self) -> BreakerState:
        if self._c.opened_at is None:
            return BreakerState.CLOSED
        if self._clock() - self._c.opened_at < self.reset_timeout:
            return BreakerState.OPEN
        return BreakerState.HALF_OPEN

    def retry_after(self) -> float:
        """Seconds until a trial call may go (0 when calls may go now)."""
        with self._lock:
            if self._c.opened_at is None:
                return 0.0
            return max(0.0, self._c.opened_at + self.reset_timeout - self._clock())

    @property
    def failures(self) -> int:
        """Failures in a row counted while closed."""
        return self._c.failures

    def allow(self) -> bool:
        """May a call go now? In half-open, True for one trial call at a time.

        Every call that was allowed must be followed by ``record_success()`` or
        ``record_failure()``, or a half-open breaker waits for its trial for ever.
        """
        with self._lock:
            state = self._state()
            if state is BreakerState.CLOSED:
                return True
            if state is BreakerState.OPEN or self._c.trial_in_flight:
                return False
            self._c.trial_in_flight = True
            return True

    def record_success(self) -> None:
        """The call got an answer: close (a trial succeeded) or reset the count."""
        with self._lock:
            self._c = _Counters()

    def record_failure(self) -> None:
        """The call failed: count it while closed; a failed trial opens again."""
        with self._lock:
            if self._c.opened_at is not None:  # open or half-open: (re)open from now
                self._c.opened_at = self._clock()
                self._c.trial_in_flight = False
                return
            self._c.failures += 1
            if self._c.failures >= self.failure_threshold:
                self._c.opened_at = self._clock()
