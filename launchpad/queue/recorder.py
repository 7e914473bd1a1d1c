"""Recording finished runs: many slots, one connection, one script call for a batch.

Every run a worker finishes must be recorded in Redis (the ``move_to_finished`` script),
and the same call hands out the slot's next job. With one call per run, fifty slots mean
fifty threads each waiting on a socket of their own, and they spend more time handing the
interpreter to each other than running jobs. So the slots share a few connections (lanes)
and *combine* their calls: a slot that finishes while a lane is free sends the call itself
(it *leads*); a slot that finishes while every lane is busy leaves its run in the
``pending`` list and waits. When a leader's reply comes back it gives each slot of its
batch its answer and hands its lane to the first pending slot, which sends everything that
piled up meanwhile in one call. With no more slots than lanes nothing ever waits and each
run is a plain call; at concurrency 50 one call records about six runs.

Fault model: a call that fails (Redis gone, a timeout) fails for every run of its batch,
each slot gets the exception and reports it, and those jobs run again once their locks
expire; the next batch opens a new connection. Whatever happens, every waiting slot is
woken, so no slot waits for ever.
"""

from __future__ import annotations

import threading
from typing import Any

from launchpad.queue.scripts import Lane, Scripts

__all__ = ["MAX_LANES", "Recorder"]

MAX_LANES = 5
"""Most lanes a worker records on. Measured on two cores at concurrency 50, 3 to 5 lanes
gave the most jobs per second (~6 runs per call); with more, the threads spend their time
waiting for each other. At concurrency 5 or less every slot has a lane of its own."""


class _Run:
    """One run waiting to be recorded: its script arguments, then its reply or error."""

    __slots__ = ("_woken", "args", "batch", "error", "lead", "reply")

    def __init__(self, args: tuple[Any, ...]) -> None:
        self.args = args
        self.reply: list[Any] | None = None
        self.error: BaseException | None = None
        self.lead: Lane | None = None  # set when this run's slot is to send ``batch``
        self.batch: list[_Run] = []  # the runs it sends, its own first
        self._woken = threading.Lock()  # held until the slot may go on: the cheapest wait
        self._woken.acquire()

    def wait(self) -> None:
        self._woken.acquire()

    def wake(self) -> None:
        self._woken.release()


class Recorder:
    """Sends ``move_to_finished`` for the runs of all the slots of one worker.

    Args:
        scripts: the queue's scripts (a lane of their own is opened for the calls).
        common: the arguments every run shares (retention, lock duration), sent once.
        lanes: how many calls may be on their way at once (one connection each).
    """

    def __init__(self, scripts: Scripts, common: tuple[Any, ...], lanes: int) -> None:
        self._lanes: list[Lane] = [scripts.lane() for _ in range(lanes)]  # free lanes
        self._all_lanes = list(self._lanes)
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
            if self._lanes:  # a lane is free: lead now, with whatever is pending
                run.lead, run.batch, self._pending = self._lanes.pop(), self._pending, []
        if run.lead is None:
            run.wait()  # answered by another slot's call, or handed the lead of the next one
        if run.lead is not None:
            self._send(run.lead, run.batch)
        if run.error is not None:
            raise run.error
        assert run.reply is not None
        return run.reply

    def _send(self, lane: Lane, batch: list[_Run]) -> None:
        """Send ``batch`` in one call, answer each run, pass the lane on."""
        args: list[Any] = list(self._common)
        for run in batch:
            args.extend(run.args)
        try:
            self.calls += 1
            replies = lane.run("move_to_finished", *args)
            for run, reply in zip(batch, replies, strict=True):
                run.reply = reply
        except BaseException as exc:  # every slot of the batch hears of it, none waits
            for run in batch:
                run.error = exc
        # A batch is claimed together with a lane, under the lock: no run is in two batches.
        with self._lock:
            successor = self._pending[0] if self._pending else None
            if successor is None:
                self._lanes.append(lane)
            else:
                successor.lead, successor.batch, self._pending = lane, self._pending, []
        for run in batch[1:]:  # batch[0] is the leader's own run
            run.wake()
        if successor is not None:
            successor.wake()

    def close(self) -> None:
        for lane in self._all_lanes:
            lane.close()
