"""Every lesson 06 demo runs to completion, and what it shows on screen is what happened.

Each demo's ``--json`` observations are checked against the claims it prints (see
``lesson06_checks.py``): on the embedded Redis one demo per test, and on a real Redis
server the whole lesson in one run (``launchpad lesson 06 --json``). Then the real command
once, in a subprocess, as a student runs it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from lesson06_checks import CHECKS

from launchpad.lessons import Lesson, lesson_main

ROOT = Path(__file__).resolve().parents[2]


def test_every_demo_has_checks(lesson06: Lesson) -> None:
    assert sorted(CHECKS) == sorted(d.name for d in lesson06.demos)


@pytest.mark.parametrize("name", list(CHECKS))
def test_demo_on_embedded_redis(name: str, run_json) -> None:  # type: ignore[no-untyped-def]
    observed = run_json(name)
    CHECKS[name](observed)
    assert observed["elapsed_s"] < 15


@pytest.mark.real_redis
def test_whole_lesson_on_a_real_redis_server(
    real_redis_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("REDIS_URL", real_redis_url)
    assert lesson_main(["06", "--json"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert len(lines) == 1
    observed = json.loads(lines[0])
    assert sorted(observed) == sorted(CHECKS)
    for name, check in CHECKS.items():
        check(observed[name])
    # a real server, really: the backbone demo read its keys from it
    assert observed["redis_backbone"]["ping"] is True


def test_launchpad_lesson_06_runs_end_to_end_and_prints_every_title(lesson06: Lesson) -> None:
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env["COLUMNS"] = "200"  # titles on one line, as in a wide terminal
    launchpad = Path(sys.executable).with_name("launchpad")
    command = [str(launchpad)] if launchpad.exists() else [sys.executable, "-m", "launchpad.cli"]
    done = subprocess.run(
        [*command, "lesson", "06"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for demo in lesson06.demos:
        assert demo.title in done.stdout, f"missing title: {demo.title}"
    assert "What you just saw" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr
    # the recap repeats numbers measured in this run (asserted in the --json tests above)
    assert "emails after a crash: 2 without a log, 1 with one" in done.stdout
    assert "crash in the window: 2, with an idempotency key: 1" in done.stdout
    assert "down -> 502 in" in done.stdout and "hung -> 504 after" in done.stdout
    assert "answered 503 at" in done.stdout and "before the gateway's 1000 ms" in done.stdout


def test_a_demo_runs_as_a_plain_script_by_path() -> None:
    script = ROOT / "lessons" / "06-service-communication" / "decision_matrix.py"
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    done = subprocess.run(
        [sys.executable, str(script), "--json"],
        cwd=ROOT / "docs",  # any directory: the script finds its helper next to itself
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    observed = json.loads(done.stdout)  # stdout is exactly one JSON object
    assert observed["missing_demos"] == []
