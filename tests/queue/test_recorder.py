"""The recorder: slots that finish while a call is on its way share the next call, each slot
gets the reply for its own run, a failed call reaches every slot of its batch, and no slot
waits for ever."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from queue_helpers import take

from launchpad.queue import Queue
from launchpad.queue.recorder import Recorder
from launchpad.queue.scripts import Lane
from launchpad.redis import create_redis_connection

RUN_ARGS = 7  # id, token, outcome, value, stack, retry_in, next_token
COMMON = ("0", "all", 1000)  # keep_completed, keep_failed, lock_ms


class EchoLane:
    """A lane that answers each run with its own arguments, and counts the calls on their
    way at once (the recorder promises at most ``in_flight``)."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.calls: list[int] = []  # runs per call
        self.out = 0
        self.most_out = 0
        self._lock = threading.Lock()

    def run(self, name: str, *args: Any) -> list[Any]:
        assert name == "move_to_finished"
        assert args[: len(COMMON)] == COMMON
        with self._lock:
            self.out += 1
            self.most_out = max(self.most_out, self.out)
        time.sleep(self.delay)
        runs = args[len(COMMON) :]
        with self._lock:
            self.out -= 1
            self.calls.append(len(runs) // RUN_ARGS)
        return [list(runs[i : i + RUN_ARGS]) for i in range(0, len(runs), RUN_ARGS)]


def record_all(recorder: Recorder, runs: list[tuple[Any, ...]]) -> list[Any]:
    """Record every run from a thread of its own, all at once; each thread's reply or error."""
    results: list[Any] = [None] * len(runs)
    start = threading.Barrier(len(runs))

    def slot(i: int) -> None:
        start.wait()
        try:
            results[i] = recorder.record(*runs[i])
        except BaseException as exc:
            results[i] = exc

    threads = [threading.Thread(target=slot, args=(i,)) for i in range(len(runs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not any(thread.is_alive() for thread in threads), "a slot was never woken"
    return results


def echo_run(i: int) -> tuple[Any, ...]:
    return (f"job-{i}", f"tok-{i}", "completed", f'"{i}"', "", -1, f"next-{i}")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    in_flight=st.integers(1, 4),
    slots=st.integers(1, 16),
    rounds=st.integers(1, 3),
    delay=st.sampled_from([0.0, 0.0005, 0.003]),
)
def test_every_slot_gets_the_reply_for_its_own_run(
    in_flight: int, slots: int, rounds: int, delay: float
) -> None:
    lane = EchoLane(delay)
    recorder = Recorder(lane, COMMON, in_flight)  # type: ignore[arg-type]
    for _ in range(rounds):  # the same recorder, again: every lead was given back
        runs = [echo_run(i) for i in range(slots)]
        assert record_all(recorder, runs) == [list(run) for run in runs]
    assert sum(lane.calls) == slots * rounds  # each run sent exactly once
    assert recorder.calls == len(lane.calls) <= slots * rounds
    assert lane.most_out <= in_flight


def test_runs_that_finish_while_a_call_is_on_its_way_share_the_next_call() -> None:
    lane = EchoLane(delay=0.2)  # the first call is slow: the other seven pile up
    recorder = Recorder(lane, COMMON, in_flight=1)  # type: ignore[arg-type]
    record_all(recorder, [echo_run(i) for i in range(8)])
    assert lane.calls[0] == 1 and sum(lane.calls) == 8
    assert len(lane.calls) < 8  # fewer calls than runs: that is the point


def test_a_failed_call_reaches_every_slot_of_its_batch_and_the_next_call_works() -> None:
    lane = EchoLane(delay=0.1)
    recorder = Recorder(lane, COMMON, in_flight=1)  # type: ignore[arg-type]
    failing = [True]
    original = EchoLane.run

    def run(lane: EchoLane, name: str, *args: Any) -> list[Any]:
        replies = original(lane, name, *args)
        if failing[0]:
            raise redis.ConnectionError("Connection reset by peer")
        return replies

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(EchoLane, "run", run)
        results = record_all(recorder, [echo_run(i) for i in range(6)])
    assert all(isinstance(r, redis.ConnectionError) for r in results), results
    failing[0] = False
    assert recorder.record(*echo_run(9)) == list(echo_run(9))  # the lead was given back


@pytest.mark.real_redis
def test_one_call_records_the_runs_of_several_slots_on_a_real_redis(
    real_redis_url: str, unique_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Eight taken jobs, recorded at once, one call at a time, the first slow: each slot
    gets its own job's outcome (half complete, half fail for good) and its next job."""
    q = Queue(unique_name, connection=create_redis_connection("recorder", real_redis_url),
              prefix="lptest")  # fmt: skip
    try:
        ids = [q.add("n", {"i": i}).id for i in range(16)]
        taken = [take(q, f"tok-{i}") for i in range(8)]
        assert [job.id for job in taken if job] == ids[:8]
        slow_first: Callable[..., Any] = Lane.run
        first = threading.Event()

        def run(lane: Lane, name: str, *args: Any) -> Any:
            if not first.is_set():
                first.set()
                time.sleep(0.2)
            return slow_first(lane, name, *args)

        monkeypatch.setattr(Lane, "run", run)
        lane = q.scripts.lane()
        recorder = Recorder(lane, ("all", "all", 30_000), in_flight=1)
        outcomes = ["completed" if i % 2 else "failed" for i in range(8)]
        runs = [
            (ids[i], f"tok-{i}", outcomes[i], '"ok"' if i % 2 else "boom", "", -1, f"next-{i}")
            for i in range(8)
        ]
        replies = record_all(recorder, runs)
        lane.close()
        assert recorder.calls < 8
        assert [reply[0] for reply in replies] == outcomes
        handed = [reply[3] for reply in replies]  # outcome, made, then "job", id, ...
        assert sorted(handed) == sorted(ids[8:])  # every next job handed out once
        assert q.counts() == {"waiting": 0, "active": 8, "delayed": 0, "completed": 4,
                              "failed": 4}  # fmt: skip
    finally:
        q.obliterate()
