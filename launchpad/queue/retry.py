"""Whether a failed attempt is tried again, and when: the queue's one retry decision.

A job is added with ``attempts`` (how many runs it may have, default 1) and a ``backoff``
(how long to wait before each retry). When a run fails, ``after_failure`` decides: retry
after ``delay_ms``, or fail for good (no attempts left, or the processor raised
``UnrecoverableError``). The worker sends the decision to the ``move_to_finished`` script,
which only carries it out; a run that succeeds, or is interrupted, never comes here.

``{"type": "fixed", "delay": 1000}`` waits 1 s before every retry;
``{"type": "exponential", "delay": 1000}`` waits 1 s, 2 s, 4 s ... (delay x 2^(n-1) before
retry n). ``"jitter": 0.5`` takes up to half of each wait away at random, so that jobs that
failed together (a provider was down) do not all come back at the same moment.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["FAIL", "Backoff", "after_failure", "parse_backoff"]

MAX_DELAY_MS = 7 * 24 * 3600 * 1000  # a week: beyond that, a retry is a new job
FAIL = -1
"""``after_failure``'s answer when the job fails for good (else: the ms to wait)."""


@dataclass(frozen=True)
class Backoff:
    """A retry schedule; ``delay_for(n)`` is the wait before retry ``n`` (1 = first retry)."""

    type: Literal["fixed", "exponential"] = "fixed"
    delay: int = 0  # ms
    jitter: float = 0.0  # 0..1: the share of each wait that may be taken away at random

    # --8<-- [start:delay_for]
    def delay_for(self, retry: int, rng: random.Random | None = None) -> int:
        wait = self.delay if self.type == "fixed" else self.delay * 2 ** (retry - 1)
        wait = min(wait, MAX_DELAY_MS)
        if self.jitter:
            wait -= int(wait * self.jitter * (rng or random).random())
        return wait

    # --8<-- [end:delay_for]

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "delay": self.delay}
        if self.jitter:
            out["jitter"] = self.jitter
        return out


def parse_backoff(spec: Any) -> Backoff | None:
    """Check a backoff option and return it as a ``Backoff`` (``None``: retry at once).

    Accepts ``None``, a number (a fixed delay in ms), or a dict with ``type``
    (``"fixed"`` | ``"exponential"``), ``delay`` (ms, >= 0) and optional ``jitter`` (0..1).
    Anything else is a ``ValueError`` that says what was wrong.
    """
    if spec is None:
        return None
    if isinstance(spec, Backoff):
        return spec
    if isinstance(spec, bool) or not isinstance(spec, (int, dict)):
        raise ValueError(
            f"backoff must be a dict like {{'type': 'fixed', 'delay': 1000}}: {spec!r}"
        )
    if isinstance(spec, int):
        spec = {"type": "fixed", "delay": spec}
    unknown = set(spec) - {"type", "delay", "jitter"}
    if unknown:
        raise ValueError(f"backoff has unknown keys {sorted(unknown)}")
    kind = spec.get("type", "fixed")
    if kind not in ("fixed", "exponential"):
        raise ValueError(f"backoff type must be 'fixed' or 'exponential', not {kind!r}")
    delay = spec.get("delay", 0)
    if isinstance(delay, bool) or not isinstance(delay, int) or delay < 0:
        raise ValueError(f"backoff delay must be a whole number of ms >= 0, not {delay!r}")
    jitter = spec.get("jitter", 0)
    if isinstance(jitter, bool) or not isinstance(jitter, (int, float)) or not 0 <= jitter <= 1:
        raise ValueError(f"backoff jitter must be between 0 and 1, not {jitter!r}")
    return Backoff(kind, delay, float(jitter))


# --8<-- [start:after_failure]
def after_failure(
    attempts_made: int, attempts: int, backoff: Backoff | None, *, unrecoverable: bool
) -> int:
    """After a failed run: the ms to wait before the next attempt, or ``FAIL`` (for good).

    Args:
        attempts_made: runs before this one (``Job.attempts_made`` when it was taken).
        attempts: runs the job may have in all (``Job.attempts``).
        backoff: the job's retry schedule; ``None`` retries at once.
        unrecoverable: the processor raised ``UnrecoverableError``: no retry helps.
    """
    this_run = attempts_made + 1
    if unrecoverable or this_run >= attempts:
        return FAIL
    return backoff.delay_for(this_run) if backoff else 0


# --8<-- [end:after_failure]
