"""A hypothesis state machine drives the queue's scripts through random histories.

Rules: adds (with repeated ids), takes, successes, failures (retried at once, retried
later, or final), stalls (a worker dies) and time passing (delayed jobs come due). The
model is a dict of what each job's state must be. After every step:
every job is in exactly one state structure, it is the state the model expects, the
counts match, and no job has more attempts than it was allowed.

Time is a manual clock: delays are a minute long, and the rule ``time_passes`` makes
every delayed job due by setting its score to 0; a stall is a lock whose expiry is set
to 0. So a history replays the same way every time.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from queue_helpers import finish, snapshot, stall_check, take

from launchpad.queue import JobState, Queue

pytestmark = pytest.mark.timeout(90)

MINUTE = 60_000
STRUCTURE = {
    "waiting": "wait",
    "active": "active",
    "delayed": "delayed",
    "completed": "completed",
    "failed": "failed",
}


def machine_for(conn: Any) -> type[RuleBasedStateMachine]:
    class QueueMachine(RuleBasedStateMachine):
        held = Bundle("held")

        def __init__(self) -> None:
            super().__init__()
            self.q = Queue(f"sm-{uuid.uuid4().hex[:10]}", connection=conn, prefix="lptest")
            self.state: dict[str, str] = {}
            self.allowed: dict[str, int] = {}
            self.made: dict[str, int] = {}
            self.stalls: dict[str, int] = {}
            self.tokens: dict[str, str] = {}
            self.n = 0

        def teardown(self) -> None:
            self.q.obliterate()

        @rule(
            job_id=st.sampled_from(["a", "b", "c", "d", None]),
            attempts=st.integers(1, 3),
            delayed=st.booleans(),
        )
        def add(self, job_id: str | None, attempts: int, delayed: bool) -> None:
            existed = job_id in self.state
            job = self.q.add(
                "n", {"v": self.n}, job_id=job_id, attempts=attempts, delay=MINUTE if delayed else 0
            )
            self.n += 1
            assert job.duplicate == existed
            if existed:
                assert job.state == JobState(self.state[job.id])
                return
            self.state[job.id] = "delayed" if delayed else "waiting"
            self.allowed[job.id] = attempts
            self.made[job.id] = self.stalls[job.id] = 0

        @precondition(lambda self: "waiting" in self.state.values())
        @rule()
        def take(self) -> None:
            self.n += 1
            token = f"tok-{self.n}"
            job = take(self.q, token)
            assert job is not None, "a job was waiting but none was handed out"
            assert self.state[job.id] == "waiting"
            self.state[job.id] = "active"
            self.tokens[job.id] = token

        def _held(self) -> list[str]:
            return sorted(self.tokens)

        @precondition(lambda self: bool(self.tokens))
        @rule(pick=st.integers(0, 10), remove=st.booleans())
        def complete(self, pick: int, remove: bool) -> None:
            job_id = self._held()[pick % len(self.tokens)]
            reply = finish(self.q, job_id, self.tokens.pop(job_id), keep="0" if remove else "all")
            assert reply[0] == "completed"
            self.made[job_id] += 1
            if remove:
                for table in (self.state, self.allowed, self.made, self.stalls):
                    del table[job_id]
            else:
                self.state[job_id] = "completed"

        @precondition(lambda self: bool(self.tokens))
        @rule(pick=st.integers(0, 10), later=st.booleans())
        def fail(self, pick: int, later: bool) -> None:
            job_id = self._held()[pick % len(self.tokens)]
            reply = finish(
                self.q,
                job_id,
                self.tokens.pop(job_id),
                ok=False,
                retry_delay=MINUTE if later else 0,
                attempts=self.allowed[job_id],
            )
            self.made[job_id] += 1
            if self.made[job_id] < self.allowed[job_id]:
                assert reply[0] == "retried"
                self.state[job_id] = "delayed" if later else "waiting"
            else:
                assert reply[0] == "failed"
                self.state[job_id] = "failed"

        @precondition(lambda self: bool(self.tokens))
        @rule(pick=st.integers(0, 10))
        def worker_dies(self, pick: int) -> None:
            job_id = self._held()[pick % len(self.tokens)]
            del self.tokens[job_id]
            stall_check(self.q)  # marks the active jobs
            self.q.connection.zadd(self.q.key_names.key("locks"), {job_id: 0})  # lock ran out
            back, failed = stall_check(self.q, max_stalled=1)
            self.stalls[job_id] += 1
            expected = "failed" if self.stalls[job_id] > 1 else "waiting"
            assert (back, failed) == (([job_id], []) if expected == "waiting" else ([], [job_id]))
            self.state[job_id] = expected

        @rule()
        def time_passes(self) -> None:
            due = [i for i, s in self.state.items() if s == "delayed"]
            if due:
                self.q.connection.zadd(self.q.key_names.key("delayed"), dict.fromkeys(due, 0))
            assert self.q.promote_delayed() == len(due)
            for job_id in due:
                self.state[job_id] = "waiting"

        @invariant()
        def every_job_is_where_the_model_says_and_within_its_attempts(self) -> None:
            seen = snapshot(self.q, list(self.state))
            for job_id, state in self.state.items():
                found, job = seen[job_id]
                assert found == [STRUCTURE[state]], job_id
                assert job is not None and job.state == JobState(state)
                assert job.attempts_made == self.made[job_id] <= job.attempts
            expected = dict.fromkeys(STRUCTURE, 0)
            for state in self.state.values():
                expected[state] += 1
            assert self.q.counts() == expected

    return QueueMachine


def test_queue_state_machine(single_conn: Any, request: pytest.FixtureRequest) -> None:
    embedded = "embedded" in request.node.callspec.id
    run_state_machine_as_test(
        machine_for(single_conn),
        settings=settings(
            max_examples=10 if embedded else 50,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
