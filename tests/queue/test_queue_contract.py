"""The queue's contract, run on embedded Redis, a real server and a real Redis Cluster.

Each test says what a user of the queue can count on. If embedded Redis ever behaves
differently from a server (it does not block on BLMOVE, for one), a test here fails.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from queue_helpers import finish, stall_check, take, wait_until, where

from launchpad.correlation import correlation_scope, current_correlation_id
from launchpad.logging import CollectingHandler, get_logger
from launchpad.queue import InvalidJobId, Job, JobState, UnrecoverableError
from launchpad.queue.scripts import Lane

pytestmark = pytest.mark.timeout(60)


def test_add_returns_the_stored_job(backend_conn: Any, make_queue: Any) -> None:
    q = make_queue(backend_conn)
    with correlation_scope("req-42"):
        job = q.add("send-notification", {"to": "ada@example.com"}, attempts=2)
    assert (job.name, job.data, job.duplicate, job.state) == (
        "send-notification",
        {"to": "ada@example.com"},
        False,
        JobState.WAITING,
    )
    stored = q.get_job(job.id)
    assert stored is not None
    assert stored.correlation_id == "req-42"
    assert stored.opts["attempts"] == 2
    assert stored.added_at == job.added_at
    assert q.counts() == {"waiting": 1, "active": 0, "delayed": 0, "completed": 0, "failed": 0}
    assert q.get_job("nope") is None


def test_automatic_ids_are_unique(backend_conn: Any, make_queue: Any) -> None:
    q = make_queue(backend_conn)
    jobs = [*q.add_bulk([{"name": "n", "data": i} for i in range(50)]), q.add("n", 50)]
    assert len({j.id for j in jobs}) == 51
    assert [q.get_job(j.id).data for j in jobs[:3]] == [0, 1, 2]  # type: ignore[union-attr]
    assert q.counts()["waiting"] == 51


def test_bad_data_is_a_type_error_and_writes_nothing(backend_conn: Any, make_queue: Any) -> None:
    q = make_queue(backend_conn)
    with pytest.raises(TypeError, match="JSON-serialisable"):
        q.add("n", {"when": object()})
    with pytest.raises(TypeError):
        q.add_bulk([{"name": "n", "data": 1}, {"name": "n", "data": {1, 2}}])
    with pytest.raises(InvalidJobId, match="plain number"):
        q.add("n", {}, job_id="17")
    with pytest.raises(ValueError, match="attempts"):
        q.add("n", {}, attempts=0)
    assert sum(backend_conn.exists(name) for name in list(q.keys())) == 0


@pytest.mark.parametrize("state", ["waiting", "delayed", "active", "completed", "failed"])
def test_an_existing_id_makes_add_a_no_op(backend_conn: Any, make_queue: Any, state: str) -> None:
    q = make_queue(backend_conn)
    first = q.add("n", {"v": 1}, job_id="welcome-ada", delay=60_000 if state == "delayed" else 0)
    if state in ("active", "completed", "failed"):
        job = take(q, "t1")
        assert job is not None and job.id == "welcome-ada"
        if state != "active":
            finish(q, job.id, "t1", ok=state == "completed")
    before = q.counts()
    again = q.add("n", {"v": 2}, job_id="welcome-ada")
    assert again.duplicate and again.id == first.id
    assert again.data == {"v": 1} and again.state == JobState(state)
    assert q.counts() == before
    assert where(q, "welcome-ada") == [{"waiting": "wait"}.get(state, state)]


def test_retention_frees_a_job_id(backend_conn: Any, make_queue: Any, workers: Any) -> None:
    q = make_queue(backend_conn)
    w = workers(q, lambda job: job.data, remove_on_complete=True)
    q.add("n", 1, job_id="once")
    wait_until(lambda: w.processed == 1, what="first run")
    assert q.get_job("once") is None
    again = q.add("n", 2, job_id="once")
    assert not again.duplicate
    wait_until(lambda: w.processed == 2, what="second run")


def test_keep_the_newest_n_finished_jobs(backend_conn: Any, make_queue: Any) -> None:
    q = make_queue(backend_conn)
    q.add_bulk([{"name": "n", "data": i, "job_id": f"j{i}"} for i in range(5)])
    for i in range(5):
        job = take(q, f"t{i}")
        assert job is not None
        finish(q, job.id, f"t{i}", keep="2")
    assert q.counts()["completed"] == 2
    assert [q.get_job(f"j{i}") is not None for i in range(5)] == [False] * 3 + [True] * 2


def test_worker_runs_jobs_and_records_results(
    backend_conn: Any, make_queue: Any, workers: Any
) -> None:
    q = make_queue(backend_conn)
    done: list[tuple[str, Any]] = []
    workers(q, lambda job: {"echo": job.data}, on_completed=lambda j, r: done.append((j.id, r)))
    job = q.add("echo", {"x": 1})
    wait_until(lambda: done, what="completion callback")
    stored = q.get_job(job.id)
    assert stored is not None and stored.state is JobState.COMPLETED
    assert stored.return_value == {"echo": {"x": 1}} == done[0][1]
    assert stored.attempts_made == 1
    assert stored.added_at <= stored.processed_at <= stored.finished_at  # type: ignore[operator]


def test_failures_are_retried_then_recorded(
    backend_conn: Any, make_queue: Any, workers: Any
) -> None:
    q = make_queue(backend_conn)
    failures: list[int] = []

    def flaky(job: Job) -> None:
        raise ConnectionError(f"provider down (attempt {job.attempts_made + 1})")

    workers(q, flaky, on_failed=lambda j, e: failures.append(j.attempts_made))
    job = q.add("n", {}, attempts=3, backoff={"type": "fixed", "delay": 20})
    # on_failed runs after the outcome is stored: wait for the callback, not the count
    wait_until(lambda: len(failures) == 3, what="three failed attempts")
    stored = q.get_job(job.id)
    assert stored is not None and stored.state is JobState.FAILED
    assert stored.attempts_made == 3 and failures == [1, 2, 3]
    assert stored.failed_reason == "provider down (attempt 3)"
    assert "ConnectionError" in (stored.stacktrace or "")


def test_unrecoverable_error_skips_the_retries(
    backend_conn: Any, make_queue: Any, workers: Any
) -> None:
    q = make_queue(backend_conn)

    def refuse(job: Job) -> None:
        raise UnrecoverableError("address does not exist")

    workers(q, refuse)
    job = q.add("n", {}, attempts=5)
    wait_until(lambda: q.counts()["failed"] == 1, what="job to fail")
    stored = q.get_job(job.id)
    assert stored is not None
    assert (stored.attempts_made, stored.failed_reason) == (1, "address does not exist")


def test_a_delayed_job_waits_then_runs(backend_conn: Any, make_queue: Any, workers: Any) -> None:
    q = make_queue(backend_conn)
    workers(q, lambda job: None)
    job = q.add("n", {}, delay=300)
    assert job.state is JobState.DELAYED and q.counts()["delayed"] == 1
    wait_until(lambda: q.counts()["completed"] == 1, what="delayed job to run")
    stored = q.get_job(job.id)
    assert stored is not None and stored.processed_at - stored.added_at >= 300  # type: ignore[operator]


def test_pause_holds_jobs_and_resume_releases_them(
    backend_conn: Any, make_queue: Any, workers: Any
) -> None:
    q = make_queue(backend_conn)
    q.pause()
    assert q.is_paused()
    w = workers(q, lambda job: None)
    q.add_bulk([{"name": "n", "data": i} for i in range(3)])
    time.sleep(0.3)
    assert q.counts()["waiting"] == 3 and w.processed == 0
    q.resume()
    wait_until(lambda: q.counts()["completed"] == 3, what="jobs after resume")


def test_an_idle_worker_blocks_on_redis_and_wakes_at_once(
    backend_conn: Any, make_queue: Any, workers: Any
) -> None:
    q = make_queue(backend_conn)
    calls: list[str] = []
    run = q.scripts.run

    def counting_run(name: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(name)
        return run(name, *args, **kwargs)

    q.scripts.run = counting_run  # type: ignore[method-assign]
    w = workers(q, lambda job: None, concurrency=1, drain_delay=5000, stalled_interval=60_000)
    time.sleep(0.6)
    idle_calls = calls.count("move_to_active")
    assert idle_calls <= 2, f"an idle worker polled Redis {idle_calls} times in 0.6 s"
    started = time.monotonic()
    q.add("n", {})
    wait_until(lambda: w.processed == 1, seconds=3, what="the idle worker to wake")
    assert time.monotonic() - started < 1.5


def test_close_finishes_the_jobs_in_hand(backend_conn: Any, make_queue: Any, workers: Any) -> None:
    q = make_queue(backend_conn)
    started = threading.Event()

    def slow(job: Job) -> str:
        started.set()
        time.sleep(0.3)
        return "done"

    w = workers(q, slow, concurrency=1)
    q.add_bulk([{"name": "n", "data": i} for i in range(3)])
    assert started.wait(5)
    assert w.close(timeout=5) is True
    assert not w.running
    assert q.counts()["completed"] == 1 and q.counts()["waiting"] == 2


def test_a_killed_workers_job_is_put_back_and_run_again(
    backend_conn: Any, make_queue: Any, workers: Any
) -> None:
    q = make_queue(backend_conn)
    runs: list[str] = []
    first_run = threading.Event()
    release = threading.Event()

    def hang_first(job: Job) -> str:
        runs.append(job.id)
        if len(runs) == 1:
            first_run.set()
            release.wait(5)
        return "ok"

    settings = {"lock_duration": 200, "stalled_interval": 100}
    dying = workers(q, hang_first, concurrency=1, **settings)
    job = q.add("n", {})
    assert first_run.wait(5)
    dying.kill()
    workers(q, hang_first, concurrency=1, **settings)
    wait_until(lambda: q.counts()["completed"] == 1, what="the stalled job to be redone")
    release.set()
    stored = q.get_job(job.id)
    assert stored is not None
    assert runs == [job.id, job.id]
    assert (stored.stalled_count, stored.attempts_made) == (1, 1)


def test_a_job_that_stalls_too_often_fails(backend_conn: Any, make_queue: Any) -> None:
    q = make_queue(backend_conn)
    job = q.add("n", {})
    for round_ in range(2):
        assert take(q, f"t{round_}", lock_ms=1) is not None
        stall_check(q)  # marks the active job
        time.sleep(0.01)
        back, failed = stall_check(q, max_stalled=1)  # its lock is gone: stalled
        assert (back, failed) == (([job.id], []) if round_ == 0 else ([], [job.id]))
    stored = q.get_job(job.id)
    assert stored is not None and stored.state is JobState.FAILED
    assert stored.failed_reason == "job stalled more than allowable limit"


def test_a_worker_that_lost_its_lock_cannot_overwrite(backend_conn: Any, make_queue: Any) -> None:
    q = make_queue(backend_conn)
    job = q.add("n", {})
    assert take(q, "old", lock_ms=1) is not None
    stall_check(q)
    time.sleep(0.01)
    assert stall_check(q) == ([job.id], [])
    assert take(q, "new") is not None
    assert finish(q, job.id, "old", ok=False) == ["lost"]
    assert q.get_job(job.id).state is JobState.ACTIVE  # type: ignore[union-attr]
    assert finish(q, job.id, "new")[0] == "completed"


def test_the_worker_restores_the_correlation_id(
    backend_conn: Any, make_queue: Any, workers: Any
) -> None:
    q = make_queue(backend_conn)
    seen: list[str | None] = []
    handler = CollectingHandler()
    logger = get_logger("worker")
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel("INFO")
    try:
        workers(q, lambda job: seen.append(current_correlation_id()))
        with correlation_scope("req-7"):
            q.add("n", {})
        wait_until(lambda: seen, what="the job to run")
        q.add("n", {})  # added outside any request: the run gets an id of its own
        wait_until(lambda: len(seen) == 2, what="the second job to run")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    assert seen[0] == "req-7" and seen[1] is not None and seen[1].startswith("run-")
    started = [r for r in handler.records if r.get("message") == "job started"]
    assert started and started[0]["correlation_id"] == "req-7"


def test_jobs_run_concurrently(backend_conn: Any, make_queue: Any, workers: Any) -> None:
    q = make_queue(backend_conn)
    running, peak, lock = [0], [0], threading.Lock()

    def slow(job: Job) -> None:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.15)
        with lock:
            running[0] -= 1

    workers(q, slow, concurrency=4)
    q.add_bulk([{"name": "n", "data": i} for i in range(8)])
    wait_until(lambda: q.counts()["completed"] == 8, what="8 jobs")
    assert peak[0] == 4


def test_drain_and_obliterate(backend_conn: Any, make_queue: Any) -> None:
    q = make_queue(backend_conn)
    q.add_bulk([{"name": "n", "data": i} for i in range(4)])
    q.add("n", {}, delay=60_000)
    job = take(q, "t")
    assert job is not None
    assert q.drain() == 4  # 3 waiting + 1 delayed; the active one stays
    assert q.counts() == {"waiting": 0, "active": 1, "delayed": 0, "completed": 0, "failed": 0}
    q.obliterate()
    assert sum(backend_conn.exists(name) for name in list(q.keys())) == 0


def test_every_key_of_a_queue_is_in_one_cluster_slot(backend_conn: Any, make_queue: Any) -> None:
    from redis.crc import key_slot

    q = make_queue(backend_conn)
    names = q.keys()
    assert all(name.startswith(f"lptest:{{{q.name}}}:") for name in names)
    assert len({key_slot(name.encode()) for name in names}) == 1


def test_a_busy_worker_needs_about_one_round_trip_per_job(
    backend_conn: Any, make_queue: Any, workers: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    q = make_queue(backend_conn)
    q.add_bulk([{"name": "n", "data": i} for i in range(100)])
    calls: list[str] = []
    run, lane_run = q.scripts.run, Lane.run

    def counting_run(name: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(name)
        return run(name, *args, **kwargs)

    def counting_lane_run(lane: Lane, name: str, *args: Any) -> Any:
        calls.append(name)  # the recorder's connection: finish + next
        return lane_run(lane, name, *args)

    q.scripts.run = counting_run  # type: ignore[method-assign]
    monkeypatch.setattr(Lane, "run", counting_lane_run)
    w = workers(q, lambda job: None, concurrency=1, drain_delay=5000)
    wait_until(lambda: w.processed == 100, what="100 jobs")
    # at concurrency 1, one move_to_finished per job (it hands out the next job), plus a few
    # fetches and a stall check; the blocking BLMOVE is not a script and only when idle
    # (several slots may share a call: test_recorder.py)
    assert calls.count("move_to_finished") == 100
    assert len(calls) <= 110, calls[:20]


def test_a_worker_with_many_slots_records_several_runs_per_call(
    backend_conn: Any, make_queue: Any, workers: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fifty slots: runs that finish while two calls are out go together in the next call;
    every job is still completed exactly once."""
    q = make_queue(backend_conn)
    q.add_bulk([{"name": "n", "data": i} for i in range(500)])
    runs_per_call: list[int] = []
    lane_run = Lane.run

    def counting_lane_run(lane: Lane, name: str, *args: Any) -> Any:
        if name == "move_to_finished":
            runs_per_call.append((len(args) - 3) // 7)  # 3 common arguments, 7 per run
        return lane_run(lane, name, *args)

    monkeypatch.setattr(Lane, "run", counting_lane_run)
    done: list[str] = []
    w = workers(q, lambda job: time.sleep(0.001), concurrency=50,
                on_completed=lambda job, _: done.append(job.id))  # fmt: skip
    wait_until(lambda: w.processed == 500, what="500 jobs")
    assert sum(runs_per_call) == 500
    assert len(runs_per_call) < 250, runs_per_call[:50]  # about sixteen runs per call in the bench
    assert sorted(done) == sorted(set(done)) and len(done) == 500


def test_a_result_that_is_not_json_fails_the_job_without_retries(
    backend_conn: Any, make_queue: Any, workers: Any
) -> None:
    q = make_queue(backend_conn)
    workers(q, lambda job: object())
    job = q.add("n", {}, attempts=3)
    wait_until(lambda: q.counts()["failed"] == 1, what="the job to fail")
    stored = q.get_job(job.id)
    assert stored is not None and stored.attempts_made == 1
    assert "not JSON" in (stored.failed_reason or "")


def test_bulk_adds_are_split_into_chunks_and_the_first_id_wins(
    backend_conn: Any, make_queue: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import launchpad.queue.queue as queue_module

    monkeypatch.setattr(queue_module, "BULK_CHUNK", 3)
    q = make_queue(backend_conn)
    items = [{"name": "n", "data": i, "job_id": f"id-{i % 4}"} for i in range(10)]
    jobs = q.add_bulk(items)
    assert [j.duplicate for j in jobs] == [False] * 4 + [True] * 6
    assert [j.data for j in jobs] == [0, 1, 2, 3] * 2 + [0, 1]
    assert q.counts()["waiting"] == 4


def test_a_duplicate_add_returns_the_whole_existing_job(backend_conn: Any, make_queue: Any) -> None:
    q = make_queue(backend_conn)
    q.add("n", {"v": 1}, job_id="receipt-9")
    job = take(q, "t")
    assert job is not None
    finish(q, job.id, "t")
    again = q.add("n", {"v": 2}, job_id="receipt-9")
    assert again.duplicate and again.state is JobState.COMPLETED
    assert (again.attempts_made, again.return_value, again.data) == (1, "ok", {"v": 1})
    assert again.finished_at is not None
