"""``launchpad worker MODULE:FUNCTION`` and graceful stops on SIGTERM / SIGINT."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from queue_helpers import wait_until
from rich.console import Console

from launchpad.queue import JobState, Queue, Worker
from launchpad.queue.live import _view, load_processor, worker_main

pytestmark = pytest.mark.timeout(60)

HERE = Path(__file__).parent


def _launchpad(*args: str) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
    }
    env.pop("REDIS_URL", None)
    code = "import sys; from launchpad.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


@pytest.mark.real_redis
def test_worker_command_runs_a_burst(real_redis_url: str, real_redis: Any, make_queue: Any) -> None:
    q = make_queue(real_redis)
    jobs = q.add_bulk([{"name": "echo", "data": {"n": i}} for i in range(5)])
    proc = _launchpad(
        "worker",
        "queue_processors:echo",
        "--queue",
        q.name,
        "--prefix",
        "lptest",
        "--redis-url",
        real_redis_url,
        "--burst",
        "--no-live",
    )
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert "worker stopped after 5 jobs" in out
    assert [q.get_job(j.id).return_value for j in jobs] == [{"n": i} for i in range(5)]  # type: ignore[union-attr]


@pytest.mark.real_redis
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_lets_the_job_in_hand_finish(
    real_redis_url: str, real_redis: Any, make_queue: Any, sig: signal.Signals
) -> None:
    q = make_queue(real_redis)
    job = q.add("slow", {"seconds": 0.5})
    proc = _launchpad(
        "worker",
        "queue_processors:slow",
        "--queue",
        q.name,
        "--prefix",
        "lptest",
        "--redis-url",
        real_redis_url,
        "--no-live",
    )
    try:
        wait_until(lambda: q.counts()["active"] == 1, seconds=20, what="the job to start")
        proc.send_signal(sig)
        out, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    stored = q.get_job(job.id)
    assert stored is not None and stored.state is JobState.COMPLETED


@pytest.mark.real_redis
def test_worker_run_stops_on_sigterm_after_the_job_in_hand(
    real_redis_url: str, real_redis: Any, make_queue: Any
) -> None:
    q = make_queue(real_redis)
    job = q.add("slow", {"seconds": 0.5})
    code = (
        "import sys; sys.path.insert(0, sys.argv[3]);"
        "from launchpad.queue import Queue, Worker;"
        "from launchpad.redis import create_redis_connection;"
        "from queue_processors import slow;"
        "conn = create_redis_connection('t', sys.argv[1]);"
        "q = Queue(sys.argv[2], connection=conn, prefix='lptest');"
        "Worker(q, slow, concurrency=2).run(); print('run returned')"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, real_redis_url, q.name, str(HERE)],
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until(lambda: q.counts()["active"] == 1, seconds=20, what="the job to start")
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0 and "run returned" in out, out
    assert q.get_job(job.id).state is JobState.COMPLETED  # type: ignore[union-attr]


def test_a_bad_target_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert worker_main(["no_such_module_xyz:run"]) == 2
    assert worker_main(["queue_processors:not_a_function"]) == 2
    assert worker_main(["nocolon"]) == 2
    err = capsys.readouterr().err
    assert "cannot load processor" in err
    assert load_processor("queue_processors:echo").__name__ == "echo"


def test_worker_main_in_process_on_embedded_redis(embedded_redis: Any) -> None:
    q = Queue("cli-embedded", connection=embedded_redis)
    q.add_bulk([{"name": "echo", "data": i} for i in range(3)])
    before = signal.getsignal(signal.SIGINT)
    code = worker_main(
        [
            "queue_processors:echo",
            "--queue",
            "cli-embedded",
            "--redis-url",
            "embedded://",
            "--burst",
            "--no-live",
        ]
    )
    assert code == 0 and q.counts()["completed"] == 3
    assert signal.getsignal(signal.SIGINT) is before  # handlers are given back


def test_the_live_view_shows_counts_and_rate(embedded_redis: Any) -> None:
    q = Queue("view", connection=embedded_redis)
    w = Worker(q, lambda job: None)
    console = Console(record=True, width=120)
    counts = {"waiting": 7, "active": 2, "delayed": 0, "completed": 41, "failed": 1}
    console.print(_view(q, w, counts, 123.4, "embedded (in-process)"))
    text = console.export_text()
    assert "waiting" in text and "41" in text and "123" in text and "view" in text
