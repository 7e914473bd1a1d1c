"""``launchpad jobs``: tables for people at 80 columns, JSON for scripts, one-line errors.

Most tests run the command in this process on the embedded Redis (``--redis-url
embedded://`` sees the jobs this process made); one runs the real command in a subprocess
against a real Redis server, as an operator would.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from launchpad.cli import COMMANDS
from launchpad.correlation import correlation_scope
from launchpad.jobs_cli import jobs_main
from launchpad.queue import Job, JobState, Queue, Worker
from launchpad.redis import EMBEDDED_URL, create_redis_connection, reset_embedded

pytestmark = pytest.mark.timeout(60)

UUID_ID = "0b7f3c2e-5d1a-4b8e-9f6a-2c4d8e1f3a5b"  # the services' job ids look like this
LONG_ID = "welcome-email-" + "x" * 40 + "-end"  # too wide for 80 columns beside the rest
REASON = "SMTP 451: mailbox temporarily unavailable [bold]not markup[/bold]"


def broken(job: Job) -> None:
    raise RuntimeError(REASON)


def fail_all(q: Queue, expected: int) -> None:
    """Run a worker whose every attempt fails until ``expected`` jobs are failed."""
    worker = Worker(q, broken, drain_delay=20)
    worker.start()
    deadline = time.monotonic() + 20
    while q.counts()["failed"] < expected and time.monotonic() < deadline:
        time.sleep(0.01)
    assert worker.close(10)
    assert q.counts()["failed"] == expected


@pytest.fixture
def queue(monkeypatch: pytest.MonkeyPatch) -> Iterator[Queue]:
    """An embedded queue with 3 failed jobs (one with a correlation id) and 1 delayed one."""
    monkeypatch.setenv("COLUMNS", "80")
    reset_embedded()
    q = Queue("mail", connection=create_redis_connection("test", EMBEDDED_URL), prefix="lptest")
    with correlation_scope("req-42"):
        q.add("send-notification", {"to": "ada@example.com"}, job_id=UUID_ID, attempts=2)
    q.add("send-notification", {"to": "bob@example.com"}, job_id=LONG_ID)
    q.add("send-notification", {"to": "cy@example.com"})
    fail_all(q, 3)
    q.add("send-notification", {"to": "later@example.com"}, delay=60_000)
    yield q
    reset_embedded()


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = jobs_main(["mail", "--prefix", "lptest", "--redis-url", EMBEDDED_URL, *args])
    out, err = capsys.readouterr()
    return code, out, err


def id_cells(out: str) -> list[str]:
    """The id column's text, a folded id joined again (the column starts each table line)."""
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.strip().startswith("id "))
    width = lines[header].index("tries") - 1
    cells: list[str] = []
    for line in lines[header + 2 :]:
        if not line.strip():
            break
        cell, rest = line[:width].strip(), line[width:].strip()
        if not cell:
            continue  # the second line of the last column (a failed job's reason)
        if re.match(r"\d+/\d+ ", rest):
            cells.append(cell)  # a new row starts with its tries
        else:
            cells[-1] += cell  # the folded end of the id above
    return cells


def test_jobs_is_a_launchpad_command() -> None:
    assert COMMANDS["jobs"].target == "launchpad.jobs_cli:jobs_main"


def test_failed_jobs_fit_80_columns_with_whole_ids(
    queue: Queue, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys)
    assert code == 0
    assert all(len(line) <= 80 for line in out.splitlines()), out
    assert "waiting 0 · active 0 · delayed 1 · completed 0 · failed 3" in out
    assert sorted(id_cells(out)) == sorted(["1", UUID_ID, LONG_ID])
    assert f" {UUID_ID} " in out  # short enough: on one line, not folded
    assert "SMTP 451: mail" in out  # the reason (cut with "…" at 80 columns)
    assert "2/2" in out and "1/1" in out
    assert "failed jobs 1-3 of 3" in out
    assert "embedded Redis: it lives in this process" in err


def test_other_states_and_paging(queue: Queue, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--state", "delayed")
    assert code == 0 and " due " in out and re.search(r"in (59|60) s", out)
    code, out, _ = run(capsys, "--count", "2")
    assert code == 0 and "failed jobs 1-2 of 3; next page: --start 2" in out
    code, out, _ = run(capsys, "--start", "2", "--json")
    page = json.loads(out)
    assert (page["total"], page["start"], page["next_start"], len(page["jobs"])) == (3, 2, None, 1)
    code, out, _ = run(capsys, "--state", "completed")
    assert code == 0 and "no completed jobs" in out


def test_json_lists_jobs_for_scripts(queue: Queue, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--json")
    assert code == 0 and len(out.splitlines()) == 1
    page = json.loads(out)
    assert page["counts"] == {"waiting": 0, "active": 0, "delayed": 1, "completed": 0, "failed": 3}
    assert (page["queue"], page["state"], page["total"]) == ("mail", "failed", 3)
    first = next(job for job in page["jobs"] if job["id"] == UUID_ID)
    assert first["failed_reason"] == REASON and first["correlation_id"] == "req-42"
    assert (first["attempts_made"], first["attempts"], first["state"]) == (2, 2, "failed")
    assert first["added_at"] <= first["processed_at"] <= first["finished_at"]
    code, out, _ = run(capsys, "--state", "delayed", "--json")
    (delayed,) = json.loads(out)["jobs"]
    assert delayed["due_at"] - delayed["added_at"] == pytest.approx(60_000, abs=100)


def test_show_one_job(queue: Queue, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--show", UUID_ID)
    assert code == 0
    for text in (UUID_ID, "2 made of 2", "req-42", '"to": "ada@example.com"', "RuntimeError"):
        assert text in out
    for text in ("SMTP 451: mailbox temporarily unavailable", "[bold]not", "markup[/bold]"):
        assert text in out
    code, out, _ = run(capsys, "--show", UUID_ID, "--json")
    job = json.loads(out)
    assert job["failed_reason"] == REASON and job["data"] == {"to": "ada@example.com"}
    assert "RuntimeError" in job["stacktrace"] and job["opts"]["attempts"] == 2


def test_retry_some_then_all(queue: Queue, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--retry", UUID_ID, UUID_ID, "ghost")
    assert code == 1  # not everything named was retried
    assert "1 of 3 retried" in out and "not-failed" in out and "missing" in out
    assert queue.counts()["waiting"] == 1
    code, out, _ = run(capsys, "--retry", "--reset-attempts", "--json")
    assert code == 0
    handled = json.loads(out)["handled"]
    assert sorted(h["id"] for h in handled) == sorted(["1", LONG_ID])
    assert {h["result"] for h in handled} == {"retried"}
    assert queue.get_job("1").attempts_made == 0  # type: ignore[union-attr]
    code, out, _ = run(capsys, "--retry")
    assert code == 0 and "no failed jobs in queue mail: nothing retried" in out


def test_remove(queue: Queue, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--remove", "1")
    assert code == 0 and "1 of 1 removed" in out and queue.get_job("1") is None
    code, out, _ = run(capsys, "--remove", "1", "--json")
    assert code == 1 and json.loads(out)["handled"] == [
        {"id": "1", "result": "missing", "state": None}
    ]
    code, out, _ = run(capsys, "--remove", "2")  # the delayed job (automatic id 2): left alone
    assert code == 1 and "not-failed" in out and queue.get_job("2").state == JobState.DELAYED  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        (["--state", "dead"], 2, "unknown job state 'dead'; use one of: waiting"),
        (["--show", "a\nb"], 2, "a job id has no control characters"),
        (["--show", "x" * 256], 2, "a job id has 1-255 characters"),
        (["--count", "0"], 2, "count must be a whole number from 1 to 1000"),
        (["--count", "ten"], 2, "argument --count: invalid int value: 'ten'"),
        (["--reset-attempts"], 2, "--reset-attempts goes with --retry"),
        (["--show", "1", "--remove", "1"], 2, "not allowed with argument"),
        (["--frobnicate"], 2, "unrecognized arguments: --frobnicate"),
        (["--show", "ghost"], 1, "no job 'ghost' in queue 'mail'"),
    ],
)
def test_errors_are_one_line_with_an_exit_status(
    queue: Queue, capsys: pytest.CaptureFixture[str], args: list[str], status: int, message: str
) -> None:
    code, out, err = run(capsys, *args)
    lines = [line for line in err.splitlines() if not line.startswith("embedded Redis")]
    assert code == status
    assert len(lines) == 1 and lines[0].startswith("launchpad jobs: error: "), err
    assert message in " ".join(err.split())
    assert "Traceback" not in out + err and out == ""
    code, out, _ = run(capsys, *args, "--json")
    assert code == status and json.loads(out) == {
        "error": json.loads(out)["error"],
        "exit_status": status,
    }


def test_bad_queue_name_and_url_are_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert jobs_main(["has space"]) == 2
    assert "queue name must be" in capsys.readouterr().err
    assert jobs_main(["mail", "--redis-url", "http://example.com"]) == 2
    assert "bad --redis-url" in capsys.readouterr().err


def test_unreachable_redis_is_exit_1_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens once the socket is closed
    assert jobs_main(["mail", "--redis-url", f"redis://127.0.0.1:{port}/0"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1
    assert f"cannot reach Redis at redis://127.0.0.1:{port}/0" in err and "Traceback" not in err


@pytest.mark.real_redis
def test_the_real_command_on_a_real_server(real_redis_url: str, real_redis: Any) -> None:
    name = f"t-{uuid.uuid4().hex[:10]}"
    q = Queue(name, connection=real_redis, prefix="lptest")
    try:
        q.add("send-notification", {"to": "ada@example.com"}, job_id=UUID_ID)
        fail_all(q, 1)
        env = {**os.environ, "COLUMNS": "80", "REDIS_URL": real_redis_url}
        code = "import sys; from launchpad.cli import main; sys.exit(main(sys.argv[1:]))"

        def launchpad(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-c", code, "jobs", name, "--prefix", "lptest", *args],
                env=env, capture_output=True, text=True, timeout=60,
            )  # fmt: skip

        listed = launchpad()
        assert listed.returncode == 0, listed.stderr
        assert f" {UUID_ID} " in listed.stdout and "embedded" not in listed.stderr
        retried = launchpad("--retry", UUID_ID, "--json")
        assert retried.returncode == 0, retried.stderr
        assert json.loads(retried.stdout)["handled"][0]["result"] == "retried"
        assert q.get_job(UUID_ID).state == JobState.WAITING  # type: ignore[union-attr]
    finally:
        q.obliterate()
