"""Recording finished runs: many slots, one connection, one script call for a batch.

Every run a worker finishes must be recorded in Redis (the ``move_to_finished`` script),
and the same call hands out the slot's next job. All the slots send their calls on the
worker's one `Lane` (pipelined: ``lane.py``), but only so many calls go on their way at
once (`calls_in_flight`); a slot that finishes while that many are out leaves its run in
the ``pending`` list and waits. The slots *combine* their calls: when a call's reply comes
back, its sender (the *leader*) gives each slot of its batch its answer and hands the lead
to the first pending slot, which sends everything that piled up meanwhile in one call.

Fault model: a call that fails (Redis gone, a timeout) fails for every run of its batch,
each slot gets the exception and reports it, and those jobs run again once their locks
expire; the lane opens a new connection for the next call. Whatever happens, every
waiting slot is woken, so no slot waits for ever.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from launchpad.queue.lane import Lane

__all__ = ["Recorder", "calls_in_flight"]

FEW_SLOTS = 10


def calls_in_flight(concurrency: int) -> int:
    """How many recording calls a worker of ``concurrency`` slots lets out at once.

    Up to ``FEW_SLOTS`` slots, one per slot: nobody waits for anybody, and a job's time is
    what its slot waits for. Beyond that the interpreter's time is what counts, and one
    call out at a time carries the most runs per call (everything that finished while it
    was out) and wakes the fewest threads. Measured on a noisy two-core machine (jobs/s,
    40,000 no-op jobs, runs paired): at 5 slots, 6,700-7,200 with 5 out and 5,500-5,900
    with 3; at 10 slots 6,300-6,800 with 10 and 6,500-7,100 with 1; at 20 slots
    5,300-6,300 with 20 and 8,000-8,100 with 1; at 50 slots 6,400-7,700 with 1 and
    5,700-6,700 with 2, the one-out run ahead in each of four pairs.
    """
    return concurrency if concurrency <= FEW_SLOTS else 1


class _Run:
    """One run waiting to be recorded: its script arguments, then its reply or error."""

    __slots__ = ("_woken", "args", "batch", "error", "lead", "reply", "then_wake")

    def __init__(self, args: tuple[Any, ...]) -> None:
        self.args = args
        self.reply: list[Any] | None = None
        self.error: BaseException | None = None
        self.lead = False  # set when this run's slot is to send ``batch``
        self.batch: list[_Run] = []  # the runs it sends, its own first
        self.then_wake: Iterator[_Run] | None = None  # the runs of its batch still asleep
        self._woken = threading.Lock()  # held until the slot may go on: the cheapest wait
        self._woken.acquire()

    def wait(self) -> None:
        self._woken.acquire()

    def wake(self) -> None:
        self._woken.release()


class Recorder:
    """Sends ``move_to_finished`` for the runs of all the slots of one worker.

    Args:
        lane: the worker's lane (its one connection for the hot path).
        common: the arguments every run shares (retention, lock duration), sent once.
        in_flight: how many calls may be on their way at once.
    """

    def __init__(self, lane: Lane, common: tuple[Any, ...], in_flight: int) -> None:
        self._lane = lane
        self._free = in_flight  # calls that may still be sent before runs must wait
        self._common = common
        self._lock = threading.Lock()
        self._pending: list[_Run] = []
        self.calls = 0  # script calls sent (for tests: fewer than runs under load)

    def record(self, *run_args: Any) -> list[Any]:
        """Record one run (``id, token, outcome, value, stack, retry_in, next_token``).

        Returns the script's reply for this run; raises what the call raised.
        """
        run = _Run(run_args)
        with self._lock:
            self._pending.append(run)
            if self._free:  # a call may go now: lead it, with whatever is pending
                self._free -= 1
                run.lead, run.batch, self._pending = True, self._pending, []
        if not run.lead:
            run.wait()  # answered by another slot's call, or handed the lead of the next one
            _wake_next(run)
        if run.lead:
            self._send(run.batch)
        if run.error is not None:
            raise run.error
        assert run.reply is not None
        return run.reply

    def _send(self, batch: list[_Run]) -> None:
        """Send ``batch`` in one call, answer each run, pass the lead on."""
        args: list[Any] = list(self._common)
        for run in batch:
            args.extend(run.args)
        try:
            self.calls += 1
            replies = self._lane.run("move_to_finished", *args)
            for run, reply in zip(batch, replies, strict=True):
                run.reply = reply
        except BaseException as exc:  # every slot of the batch hears of it, none waits
            for run in batch:
                run.error = exc
        # A batch is claimed together with the lead, under the lock: no run is in two batches.
        with self._lock:
            successor = self._pending[0] if self._pending else None
            if successor is None:
                self._free += 1
            else:
                successor.lead, successor.batch, self._pending = True, self._pending, []
        # batch[0] is the leader's own run; the others wake one after another (each wakes the
        # next), not all at once: ten threads woken together all fight for the
        # interpreter lock (measured at 50 slots: 4.1-4.5 thread switches per job, not 4.8)
        if len(batch) > 1:
            batch[1].then_wake = iter(batch[2:])
            batch[1].wake()
        if successor is not None:
            successor.wake()


def _wake_next(run: _Run) -> None:
    """A run woken with its batch's answers wakes the next run of that batch."""
    if run.then_wake is not None:
        following = next(run.then_wake, None)
        if following is not None:
            following.then_wake = run.then_wake
            following.wake()
