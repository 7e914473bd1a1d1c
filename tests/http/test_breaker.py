"""The circuit breaker: its state machine against a model (hypothesis, manual clock), then
a ServiceClient with a breaker against real loopback sockets (a hung port, a closed port).
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import httpx
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from launchpad.http.breaker import BreakerState, CircuitBreaker
from launchpad.http.client import (
    CircuitOpen,
    ServiceClient,
    ServiceTimeout,
    ServiceUnavailable,
    UnexpectedStatus,
)
from launchpad.http.serve import serve

MARGIN = 1.0


class ManualClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class BreakerMachine(RuleBasedStateMachine):
    """Random calls, answers and waits; after each step the breaker agrees with the model.

    The model is the rule in words: ``threshold`` failures in a row open it; open refuses
    for ``reset`` seconds; then one trial at a time; a trial's success closes, its failure
    reopens; any success while closed forgets the failures.
    """

    THRESHOLD, RESET = 3, 5.0

    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock()
        self.breaker = CircuitBreaker(self.THRESHOLD, self.RESET, clock=self.clock)
        self.failures = 0
        self.opened_at: float | None = None
        self.trial = False
        self.outstanding = 0  # calls allowed whose outcome is not recorded yet

    def model_state(self) -> BreakerState:
        if self.opened_at is None:
            return BreakerState.CLOSED
        if self.clock.now - self.opened_at < self.RESET:
            return BreakerState.OPEN
        return BreakerState.HALF_OPEN

    @rule(seconds=st.floats(min_value=0, max_value=8, allow_nan=False))
    def wait(self, seconds: float) -> None:
        self.clock.now += seconds

    @rule()
    def call(self) -> None:
        state = self.model_state()
        expected = state is BreakerState.CLOSED or (
            state is BreakerState.HALF_OPEN and not self.trial
        )
        assert self.breaker.allow() is expected
        if expected:
            self.outstanding += 1
            if state is BreakerState.HALF_OPEN:
                self.trial = True

    @precondition(lambda self: self.outstanding > 0)
    @rule(ok=st.booleans())
    def outcome(self, ok: bool) -> None:
        self.outstanding -= 1
        if ok:
            self.breaker.record_success()
            self.failures, self.opened_at, self.trial = 0, None, False
            return
        self.breaker.record_failure()
        if self.opened_at is not None:
            self.opened_at, self.trial = self.clock.now, False
        else:
            self.failures += 1
            if self.failures >= self.THRESHOLD:
                self.opened_at = self.clock.now

    @invariant()
    def agrees_with_the_model(self) -> None:
        assert self.breaker.state is self.model_state()
        if self.opened_at is None:
            assert self.breaker.failures == self.failures < self.THRESHOLD
            assert self.breaker.retry_after() == 0
        else:
            expected = max(0.0, self.opened_at + self.RESET - self.clock.now)
            assert self.breaker.retry_after() == pytest.approx(expected)


TestBreakerMachine = BreakerMachine.TestCase
TestBreakerMachine.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)


def test_the_whole_cycle_with_a_manual_clock() -> None:
    clock = ManualClock()
    b = CircuitBreaker(2, 10.0, clock=clock)
    assert b.allow() and b.state is BreakerState.CLOSED
    b.record_failure()
    assert b.state is BreakerState.CLOSED
    b.record_failure()
    assert b.state is BreakerState.OPEN and not b.allow()
    clock.now += 9.9
    assert not b.allow() and b.retry_after() == pytest.approx(0.1)
    clock.now += 0.1
    assert b.state is BreakerState.HALF_OPEN
    assert b.allow() and not b.allow()  # one trial, the others still refused
    b.record_failure()  # the trial failed: open for another 10 s
    assert b.state is BreakerState.OPEN and b.retry_after() == pytest.approx(10.0)
    clock.now += 10
    assert b.allow()
    b.record_success()
    assert b.state is BreakerState.CLOSED and b.failures == 0


@pytest.mark.parametrize("bad", [{"failure_threshold": 0}, {"reset_timeout": 0}])
def test_nonsense_settings_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        CircuitBreaker(**bad)


def test_many_threads_keep_the_count_whole() -> None:
    b = CircuitBreaker(801, 60.0)
    threads = [
        threading.Thread(target=lambda: [b.record_failure() for _ in range(100)]) for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert b.failures == 800 and b.state is BreakerState.CLOSED  # no count lost
    b.record_failure()
    assert b.state is BreakerState.OPEN


# -- a ServiceClient with a breaker, on real sockets ----------------------------------------


def test_a_hung_service_costs_the_deadline_only_until_the_breaker_opens() -> None:
    hung = socket.socket()
    hung.bind(("127.0.0.1", 0))
    hung.listen(16)
    url = f"http://127.0.0.1:{hung.getsockname()[1]}"
    client = ServiceClient("auth", url, timeout=0.3, breaker=CircuitBreaker(3, 30.0))
    for _ in range(3):
        with pytest.raises(ServiceTimeout):
            client.get("/auth/verify")
    started = time.monotonic()
    with pytest.raises(CircuitOpen) as info:
        client.get("/auth/verify")
    assert time.monotonic() - started < 0.3  # not the deadline: not sent at all
    assert isinstance(info.value, ServiceUnavailable)  # callers that catch it still do
    assert "circuit open" in str(info.value) and 29 < info.value.retry_after <= 30
    client.close()
    hung.close()


def test_recovery_goes_through_half_open_on_real_sockets() -> None:
    state = {"up": False, "calls": 0}

    def flaky(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        state["calls"] += 1
        status = "200 OK" if state["up"] else "503 Service Unavailable"
        start_response(status, [("content-length", "2")])
        return [b"{}"]

    with serve(flaky, name="flaky") as server:
        client = ServiceClient("auth", server.url, timeout=2.0, breaker=CircuitBreaker(2, 0.3))
        for _ in range(2):
            with pytest.raises(UnexpectedStatus):  # 5xx: counted as failures
                client.get("/x")
        with pytest.raises(CircuitOpen):
            client.get("/x")
        assert state["calls"] == 2  # the refused call never reached the server
        state["up"] = True
        time.sleep(0.35)
        assert client.breaker is not None
        assert client.breaker.state is BreakerState.HALF_OPEN
        assert client.get("/x").status_code == 200  # the trial
        assert client.breaker.state is BreakerState.CLOSED
        client.close()


def test_a_401_is_an_answer_not_a_failure() -> None:
    def deny(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("401 Unauthorized", [("content-length", "2")])
        return [b"{}"]

    client = ServiceClient(
        "auth", "http://auth", 1.0, httpx.WSGITransport(app=deny), breaker=CircuitBreaker(1, 60)
    )
    for _ in range(5):
        assert client.get("/auth/verify", expect={200, 401}).status_code == 401
    assert client.breaker is not None and client.breaker.state is BreakerState.CLOSED


def test_retries_stop_at_an_open_breaker() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    breaker = CircuitBreaker(2, 30.0)
    client = ServiceClient(
        "auth", f"http://127.0.0.1:{port}", 1.0, retries=5, backoff=0.01, breaker=breaker
    )
    with pytest.raises(CircuitOpen):
        client.get("/x")  # two refused attempts open it; the third is refused at once
    assert breaker.state is BreakerState.OPEN
