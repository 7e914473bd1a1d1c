"""One run of a processor, and what it produced: a result, or an error and its stack.

The worker calls ``run_processor()`` inside the job's correlation id and then hands the
``Outcome`` to the ``move_to_finished`` script. Nothing here talks to Redis.

Whatever a processor raises is caught here, ``BaseException`` included, so a slot thread
never dies with a job in hand (its lock would be renewed for ever). Two kinds are told
apart: ``KeyboardInterrupt`` and ``SystemExit`` mean "stop this process", so the run is
*interrupted* (the job goes back to wait and the worker stops); anything else, such as
``asyncio.CancelledError``, fails the attempt like an ordinary exception.
"""

from __future__ import annotations

import json
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from launchpad.queue.errors import UnrecoverableError
from launchpad.queue.job import Job

__all__ = ["MAX_STACK_CHARS", "Outcome", "Processor", "retention", "run_processor"]

Processor = Callable[[Job], Any]
_JSON = json.JSONEncoder(allow_nan=False, separators=(",", ":"))  # one encoder, made once
MAX_STACK_CHARS = 8000


@dataclass
class Outcome:
    """What one run produced, ready for the scripts (``value``: result JSON or reason)."""

    result: Any = None
    error: BaseException | None = None
    value: str = ""
    stack: str = ""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def unrecoverable(self) -> bool:
        return isinstance(self.error, UnrecoverableError)

    @property
    def interrupted(self) -> bool:
        """The processor asked the process to stop: the run did not finish, through no fault
        of the job's, so the job goes back to wait and the worker stops."""
        return isinstance(self.error, (KeyboardInterrupt, SystemExit))


def run_processor(processor: Processor, job: Job) -> Outcome:
    """Call ``processor(job)``; anything it raises (``BaseException`` too) ends the run.

    A result that is not JSON-serialisable fails the job for good (``UnrecoverableError``):
    running it again would repeat its side effects and return the same kind of value.
    """
    started = time.perf_counter()
    outcome = Outcome()
    try:
        outcome.result = processor(job)
        outcome.value = _result_json(outcome.result)
    except BaseException as exc:  # not only Exception: see the module docstring
        outcome.error = exc
        outcome.value = _reason(exc)
        outcome.stack = "".join(traceback.format_exception(exc))[-MAX_STACK_CHARS:]
    outcome.seconds = time.perf_counter() - started
    return outcome


def _reason(exc: BaseException) -> str:
    """The failure reason stored with the job: the message, and the type where it is not an
    ``Exception`` (``SystemExit: 3`` says more than ``3``)."""
    text, kind = str(exc), type(exc).__name__
    if isinstance(exc, Exception):
        return text or kind
    return f"{kind}: {text}" if text else kind


def _result_json(result: Any) -> str:
    if result is None:  # most processors return nothing
        return "null"
    if isinstance(result, BaseModel):
        result = result.model_dump(mode="json")
    try:
        return _JSON.encode(result)
    except (TypeError, ValueError) as exc:
        raise UnrecoverableError(f"the processor returned a value that is not JSON: {exc}") from exc


def retention(option: bool | int | None) -> str:
    """A retention option as the scripts take it: 'all', or how many finished jobs to keep."""
    if option is None or option is False:
        return "all"
    if option is True:
        return "0"
    if isinstance(option, int) and option >= 0:
        return str(option)
    raise ValueError(
        f"remove_on_complete/remove_on_fail must be None, a bool or an int >= 0, not {option!r}"
    )
