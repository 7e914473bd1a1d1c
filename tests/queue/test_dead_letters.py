"""Dead letters: listing by state, showing a job, retrying and removing failed jobs.

The contract tests run on embedded Redis, a real server and a real Redis Cluster
(``backend_conn``). Jobs are driven into each state by hand (the worker's own scripts, see
``queue_helpers``), so orders and counts are exact; a real worker is used where the point
is what a retried job does next. A hypothesis state machine checks that retries and
removes, in any order and mixed with a worker's runs, keep every job in one state.
"""

from __future__ import annotations

import re
import socket
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from queue_helpers import finish, take, wait_until, where

from launchpad.correlation import correlation_scope
from launchpad.queue import InvalidJobId, JobState, Queue, QueueUnavailable
from launchpad.queue import dead_letters as dl
from launchpad.queue.dead_letters import DeadLetters, JobNotFound, Result, check_job_id
from launchpad.queue.retry import after_failure
from launchpad.redis import create_redis_connection

pytestmark = pytest.mark.timeout(90)

LUA = Path(dl.__file__).parent / "lua"


def fail(q: Queue, job_id: str | None = None, reason: str = "smtp down", **opts: Any) -> str:
    """Add a job and fail its one attempt, as a worker would; returns its id."""
    job = q.add("send", {"to": "ada@example.com"}, job_id=job_id, **opts)
    token = f"tok-{uuid.uuid4().hex[:6]}"
    taken = take(q, token)
    assert taken is not None and taken.id == job.id
    retry_in = after_failure(0, job.attempts, None, unrecoverable=False)
    [reply] = q.scripts.run(
        "move_to_finished", "all", "all", 1000, job.id, token, "failed", reason, "stack",
        retry_in, "",
    )  # fmt: skip
    assert reply[0] == "failed"
    return job.id


def one_of_each(q: Queue) -> dict[str, list[str]]:
    """Jobs in every state: 3 waiting, 1 active, 2 delayed, 2 completed, 3 failed."""
    ids: dict[str, list[str]] = {}
    ids["failed"] = [fail(q, reason=f"reason {i}") for i in range(3)]
    done = [q.add("send", {"n": i}).id for i in range(2)]
    for job_id in done:
        token = f"t-{job_id}"
        assert take(q, token) is not None
        finish(q, job_id, token, ok=True)
    ids["completed"] = done
    active = q.add("send", {"n": "active"}).id
    assert take(q, "held") is not None
    ids["active"] = [active]
    ids["waiting"] = [q.add("send", {"n": i}).id for i in range(3)]
    ids["delayed"] = [q.add("send", {}, delay=90_000).id, q.add("send", {}, delay=60_000).id]
    return ids


# --- listing -----------------------------------------------------------------------------


def test_each_state_lists_its_jobs_in_its_order(backend_conn: Any, make_queue: Any) -> None:
    q = make_queue(backend_conn)
    ids = one_of_each(q)
    letters = DeadLetters(q)
    assert letters.counts() == {state: len(found) for state, found in ids.items()}
    order = {
        "waiting": ids["waiting"],  # next to run first (added first)
        "active": ids["active"],
        "delayed": ids["delayed"][::-1],  # soonest due first
        "completed": ids["completed"][::-1],  # newest first
        "failed": ids["failed"][::-1],
    }
    for state, expected in order.items():
        page = letters.list_jobs(state, count=50)
        assert page.state == JobState(state) and page.total == len(expected)
        assert [job.id for job in page.jobs] == expected, state
        assert all(job.state == JobState(state) for job in page.jobs)
        assert page.next_start is None
        has_times = state in ("delayed", "completed", "failed")
        assert sorted(page.times) == (sorted(expected) if has_times else [])
    due = letters.list_jobs("delayed").times
    assert due[ids["delayed"][0]] - due[ids["delayed"][1]] == pytest.approx(30_000, abs=50)


def test_pages_cover_every_job_once(backend_conn: Any, make_queue: Any) -> None:
    q = make_queue(backend_conn)
    added = [j.id for j in q.add_bulk([{"name": "send", "data": {"n": i}} for i in range(11)])]
    letters, seen, start = DeadLetters(q), [], 0
    while True:
        page = letters.list_jobs("waiting", start=start, count=4)
        assert page.total == 11 and len(page.jobs) <= 4
        seen += [job.id for job in page.jobs]
        if page.next_start is None:
            break
        start = page.next_start
    assert seen == added
    assert letters.list_jobs("waiting", start=50).jobs == []


def test_a_paused_queue_still_lists_its_waiting_jobs(backend_conn: Any, make_queue: Any) -> None:
    q = make_queue(backend_conn)
    added = [q.add("send", {}).id for _ in range(2)]
    q.pause()
    assert [j.id for j in DeadLetters(q).list_jobs("waiting").jobs] == added


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"state": "dead"}, "unknown job state 'dead'; use one of: waiting, active"),
        ({"count": 0}, "count must be a whole number from 1 to 1000"),
        ({"count": 1001}, "count must be"),
        ({"start": -1}, "start must be a whole number >= 0"),
        ({"start": True}, "start must be"),
    ],
)
def test_bad_listing_arguments_are_refused_before_redis(kwargs: Any, message: str) -> None:
    class NoRedis:
        def register_script(self, text: str) -> Any:
            return lambda **_: pytest.fail("Redis was called")

    q = Queue("q", connection=NoRedis())
    with pytest.raises(ValueError, match=re.escape(message)):
        DeadLetters(q).list_jobs(**kwargs)


# --- showing -----------------------------------------------------------------------------


def test_show_gives_everything_an_operator_needs(backend_conn: Any, make_queue: Any) -> None:
    q = make_queue(backend_conn)
    with correlation_scope("req-7"):
        job_id = fail(q, "welcome-ada", reason="mailbox full", attempts=1)
    job = DeadLetters(q).show(job_id)
    assert (job.id, job.name, job.data) == ("welcome-ada", "send", {"to": "ada@example.com"})
    assert (job.state, job.attempts_made, job.attempts) == (JobState.FAILED, 1, 1)
    assert job.failed_reason == "mailbox full" and job.correlation_id == "req-7"
    assert job.added_at and job.processed_at and job.finished_at
    assert job.added_at <= job.processed_at <= job.finished_at
    with pytest.raises(JobNotFound, match="no job 'welcome-bob' in queue"):
        DeadLetters(q).show("welcome-bob")


@given(st.text(max_size=300))
def test_job_ids_from_a_command_line_are_checked(text: str) -> None:
    ok = 1 <= len(text) <= 255 and not any(ord(c) < 32 or ord(c) == 127 for c in text)
    if ok:
        assert check_job_id(text) == text
    else:
        with pytest.raises(InvalidJobId):
            check_job_id(text)


def test_a_non_string_id_is_refused() -> None:
    with pytest.raises(InvalidJobId, match="not int"):
        check_job_id(42)


# --- retrying ----------------------------------------------------------------------------


def test_retry_by_id_queues_the_job_once(backend_conn: Any, make_queue: Any) -> None:
    q = make_queue(backend_conn)
    first, second = fail(q), fail(q)
    letters = DeadLetters(q)
    handled = letters.retry([first, first, "no-such-job"])
    assert [(h.job_id, h.result, h.state) for h in handled] == [
        (first, Result.RETRIED, JobState.WAITING),
        (first, Result.NOT_FAILED, JobState.WAITING),
        ("no-such-job", Result.MISSING, None),
    ]
    assert where(q, first) == ["wait"] and where(q, second) == ["failed"]
    assert q.counts() == {"waiting": 1, "active": 0, "delayed": 0, "completed": 0, "failed": 1}
    job = q.get_job(first)
    assert job is not None and job.finished_at is None and job.failed_reason == "smtp down"


def test_two_operators_retrying_at_once_queue_each_job_once(
    backend_conn: Any, make_queue: Any
) -> None:
    q = make_queue(backend_conn)
    ids = [fail(q) for _ in range(5)]
    results: list[list[dl.Handled]] = []
    go = threading.Barrier(4)

    def operator() -> None:
        letters = DeadLetters(q)
        go.wait()
        results.append(letters.retry(ids))

    threads = [threading.Thread(target=operator) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    retried = [h.job_id for batch in results for h in batch if h.result is Result.RETRIED]
    assert sorted(retried) == sorted(ids)
    assert q.counts()["waiting"] == 5
    assert sorted(q.connection.lrange(q.key_names.key("wait"), 0, -1)) == sorted(ids)


def test_retry_all_takes_every_failed_job_in_chunks(
    backend_conn: Any, make_queue: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dl, "RETRY_CHUNK", 2)
    q = make_queue(backend_conn)
    ids = [fail(q) for _ in range(5)]
    waiting = q.add("send", {}).id
    handled = DeadLetters(q).retry()
    assert sorted(h.job_id for h in handled) == sorted(ids)
    assert {h.result for h in handled} == {Result.RETRIED}
    assert q.counts()["failed"] == 0 and q.counts()["waiting"] == 6
    assert where(q, waiting) == ["wait"]
    assert DeadLetters(q).retry() == []


def test_retry_all_does_not_chase_jobs_that_fail_again(
    single_conn: Any, make_queue: Any, workers: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dl, "RETRY_CHUNK", 2)
    q = make_queue(single_conn)
    ids = [fail(q) for _ in range(8)]

    def fails_at_once(job: Any) -> None:
        raise RuntimeError("still broken")

    workers(q, fails_at_once, concurrency=4, drain_delay=20)
    handled = DeadLetters(q).retry()
    assert sorted(h.job_id for h in handled) == sorted(ids)  # each once, though they fail again
    wait_until(lambda: q.counts()["failed"] == 8, what="the retried jobs to fail again")


def test_a_retry_is_one_more_run_unless_attempts_are_reset(
    single_conn: Any, make_queue: Any, workers: Any
) -> None:
    q = make_queue(single_conn)
    runs: list[str] = []

    def broken(job: Any) -> None:
        runs.append(job.id)
        raise RuntimeError("provider down")

    job = q.add("send", {}, job_id="welcome-ada", attempts=2)
    workers(q, broken, drain_delay=20)
    failed = wait_until(lambda: (j := q.get_job(job.id)) and j.state == JobState.FAILED and j)
    assert failed.attempts_made == 2 and runs == [job.id] * 2
    letters = DeadLetters(q)
    assert letters.retry([job.id])[0].result is Result.RETRIED
    wait_until(lambda: len(runs) == 3 and q.get_job(job.id).state == JobState.FAILED)  # type: ignore[union-attr]
    assert q.get_job(job.id).attempts_made == 3  # type: ignore[union-attr]
    assert letters.retry([job.id], reset_attempts=True)[0].result is Result.RETRIED
    wait_until(lambda: len(runs) == 5 and q.get_job(job.id).state == JobState.FAILED)  # type: ignore[union-attr]
    assert q.get_job(job.id).attempts_made == 2  # type: ignore[union-attr]


def test_a_stalled_dead_letter_gets_its_stall_budget_back(
    backend_conn: Any, make_queue: Any
) -> None:
    q = make_queue(backend_conn)
    job_id = fail(q)
    q.connection.hset(q.key_names.key("stalls"), job_id, 2)
    DeadLetters(q).retry([job_id])
    assert q.get_job(job_id).stalled_count == 0  # type: ignore[union-attr]


# --- removing ----------------------------------------------------------------------------


def test_remove_deletes_a_failed_job_and_frees_its_id(backend_conn: Any, make_queue: Any) -> None:
    q = make_queue(backend_conn)
    job_id = fail(q, "welcome-ada")
    waiting = q.add("send", {}, job_id="welcome-bob").id
    letters = DeadLetters(q)
    assert letters.remove(job_id) == dl.Handled(job_id, Result.REMOVED, None)
    assert q.get_job(job_id) is None and where(q, job_id) == []
    assert letters.remove(job_id).result is Result.MISSING
    assert letters.remove(waiting) == dl.Handled(waiting, Result.NOT_FAILED, JobState.WAITING)
    assert where(q, waiting) == ["wait"]
    assert q.add("send", {}, job_id=job_id).duplicate is False  # the id is free again


def test_remove_and_retry_racing_do_one_or_the_other(backend_conn: Any, make_queue: Any) -> None:
    q = make_queue(backend_conn)
    ids = [fail(q) for _ in range(20)]
    removed: list[dl.Handled] = []
    retried: list[dl.Handled] = []
    go = threading.Barrier(2)

    def remover() -> None:
        letters = DeadLetters(q)
        go.wait()
        removed.extend(letters.remove(job_id) for job_id in ids)

    def retrier() -> None:
        letters = DeadLetters(q)
        go.wait()
        retried.extend(letters.retry([job_id])[0] for job_id in ids)

    threads = [threading.Thread(target=remover), threading.Thread(target=retrier)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    for job_id, rm, rt in zip(ids, removed, retried, strict=True):
        assert [rm.done, rt.done].count(True) == 1, (rm, rt)
        if rm.done:  # removed first: the retry reports it missing
            assert rt.result is Result.MISSING and q.get_job(job_id) is None
        else:  # retried first: the remove leaves the waiting job alone
            assert rm.result is Result.NOT_FAILED and where(q, job_id) == ["wait"]


# --- faults ------------------------------------------------------------------------------


def test_unreachable_redis_is_queue_unavailable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed when the block ends: nothing listens there
    conn = create_redis_connection("dead-letters-test", f"redis://127.0.0.1:{port}/0")
    letters = DeadLetters(Queue("mail", connection=conn))
    for call in (letters.counts, letters.list_jobs, lambda: letters.show("1"), letters.retry):
        with pytest.raises(QueueUnavailable, match=f"queue 'mail': cannot reach Redis .*{port}"):
            call()


@pytest.mark.parametrize("name", dl._SCRIPTS)
def test_scripts_touch_only_keys_given_in_KEYS(name: str) -> None:
    body = (LUA / f"{name}.lua").read_text()
    assert "KEYS[" not in body, "use the K table, not KEYS[i]"
    for command, first_arg in re.findall(r"redis\.call\('(\w+)',\s*([^,)]+)", body):
        assert first_arg.startswith(("K.", "K[", "set", "list", "waiting_list(")), (
            f"{name}: {command} on {first_arg}: a key not taken from KEYS"
        )
    assert len((LUA / f"{name}.lua").read_text().splitlines()) <= 400


# --- any history -------------------------------------------------------------------------


class DeadLetterMachine(RuleBasedStateMachine):
    """Adds, runs that fail or succeed, retries (by id, all) and removes in any order."""

    def __init__(self) -> None:
        super().__init__()
        conn = create_redis_connection("dl-machine", "embedded://")
        self.q = Queue(f"m-{uuid.uuid4().hex[:8]}", connection=conn, prefix="lptest")
        self.letters = DeadLetters(self.q)
        self.model: dict[str, str] = {}

    def teardown(self) -> None:
        self.q.obliterate()

    @rule()
    def a_job_is_added(self) -> None:
        self.model[self.q.add("send", {}).id] = "waiting"

    @rule(data=st.data(), reset=st.booleans())
    def retry_some(self, data: st.DataObject, reset: bool) -> None:
        known = [*sorted(self.model), "ghost"]
        ids = data.draw(st.lists(st.sampled_from(known), max_size=4))
        for h in self.letters.retry(ids, reset_attempts=reset):
            before = self.model.get(h.job_id)
            expected = {None: Result.MISSING, "failed": Result.RETRIED}.get(
                before, Result.NOT_FAILED
            )
            assert h.result is expected
            if h.result is Result.RETRIED:
                self.model[h.job_id] = "waiting"

    @rule()
    def retry_all(self) -> None:
        handled = self.letters.retry()
        assert sorted(h.job_id for h in handled) == sorted(
            i for i, s in self.model.items() if s == "failed"
        )
        self.model.update({h.job_id: "waiting" for h in handled})

    @rule(data=st.data())
    def remove_one(self, data: st.DataObject) -> None:
        job_id = data.draw(st.sampled_from([*sorted(self.model), "ghost"]))
        h = self.letters.remove(job_id)
        if self.model.get(job_id) == "failed":
            assert h.result is Result.REMOVED
            del self.model[job_id]
        else:
            assert not h.done

    @rule(ok=st.booleans())
    def a_worker_runs_the_next_job(self, ok: bool) -> None:
        job = take(self.q, "w")
        if job is None:
            return
        finish(self.q, job.id, "w", ok=ok)
        self.model[job.id] = "completed" if ok else "failed"

    @invariant()
    def every_job_is_where_the_model_says(self) -> None:
        structure = {"waiting": "wait", "completed": "completed", "failed": "failed"}
        for job_id, state in self.model.items():
            assert where(self.q, job_id) == [structure[state]]
        counts = self.letters.counts()
        for state in ("waiting", "completed", "failed"):
            assert counts[state] == list(self.model.values()).count(state)


def test_any_history_of_retries_and_removes() -> None:
    run_state_machine_as_test(
        DeadLetterMachine,
        settings=settings(
            max_examples=40, stateful_step_count=25, deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )  # fmt: skip
