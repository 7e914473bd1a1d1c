"""A student's first minute: pauses between demos, a hint for a typo, directions when the
kit's packages are missing, and a first line on screen at once.
"""

from __future__ import annotations

import io
import os
import pty
import subprocess
import sys
import time
from pathlib import Path

import pytest

from launchpad.lessons import LessonNotFound, find_lesson, lesson_main

ROOT = Path(__file__).resolve().parents[2]
LESSON_DIR = ROOT / "lessons" / "06-service-communication"

TINY_DEMO = '''"""Tiny demo {n}: prints one line"""
import sys


def main(argv):
    sys.stdout.write("tiny demo {n} ran\\n")
    return 0
'''


@pytest.fixture
def tiny_lesson(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A lessons folder with lesson 06 made of three one-line demos."""
    folder = tmp_path / "lessons" / "06-tiny"
    folder.mkdir(parents=True)
    (folder / "README.md").write_text("# Tiny\n", encoding="utf-8")
    for n in (1, 2, 3):
        (folder / f"demo_{n}.py").write_text(TINY_DEMO.format(n=n), encoding="utf-8")
    monkeypatch.setenv("LAUNCHPAD_LESSONS_DIR", str(tmp_path / "lessons"))
    return tmp_path / "lessons"


def test_a_typo_gets_the_closest_demo_name(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(LessonNotFound, match="did you mean 'idempotency'"):
        find_lesson("06").demo("idempotncy")
    assert lesson_main(["06", "sync-htp"]) == 2
    assert "did you mean 'sync_http'?" in capsys.readouterr().err
    with pytest.raises(LessonNotFound) as info:
        find_lesson("06").demo("zzzz")
    assert "did you mean" not in str(info.value)  # nothing close: no guess


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_step_waits_for_enter_and_q_stops(
    tiny_lesson: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", _Terminal("\nq\n"))  # Enter after part 1, q after 2
    assert lesson_main(["06", "--step"]) == 0
    out = capsys.readouterr().out
    assert "tiny demo 1 ran" in out and "tiny demo 2 ran" in out
    assert "tiny demo 3 ran" not in out  # stopped before part 3
    assert out.count("Enter") == 2


def test_step_is_off_when_stdin_is_not_a_terminal(tiny_lesson: Path) -> None:
    env = {**os.environ, "LAUNCHPAD_LESSONS_DIR": str(tiny_lesson), "COLUMNS": "120"}
    env.pop("REDIS_URL", None)
    done = subprocess.run(
        [sys.executable, "-m", "launchpad.cli", "lesson", "06", "--step"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert all(f"tiny demo {n} ran" in done.stdout for n in (1, 2, 3))  # no wait, no hang
    assert "not a terminal" in done.stdout


def test_step_in_a_real_terminal_pauses(tiny_lesson: Path) -> None:
    """Through a pseudo-terminal: the run stops at the prompt until Enter is pressed."""
    env = {**os.environ, "LAUNCHPAD_LESSONS_DIR": str(tiny_lesson), "COLUMNS": "120"}
    env.pop("REDIS_URL", None)
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "launchpad.cli", "lesson", "06", "--step"],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=env,
        close_fds=True,
    )
    os.close(follower)
    seen = b""

    def read_until(marker: bytes, seconds: float) -> bool:
        nonlocal seen
        deadline = time.monotonic() + seconds
        while marker not in seen and time.monotonic() < deadline:
            try:
                seen += os.read(leader, 4096)
            except OSError:
                break
        return marker in seen

    try:
        assert read_until(b"Enter", 30), seen.decode(errors="replace")
        time.sleep(0.3)
        assert proc.poll() is None and b"tiny demo 2 ran" not in seen  # waiting for us
        os.write(leader, b"\n")
        assert read_until(b"tiny demo 2 ran", 30)
        os.write(leader, b"\n")
        assert read_until(b"tiny demo 3 ran", 30)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(leader)


def test_a_demo_run_without_the_kit_says_how_to_activate_it(tmp_path: Path) -> None:
    """``python -S`` has no site-packages: no rich, no launchpad, like a bare system Python."""
    for demo in ("sync_http.py", "gateway_proxy.py", "idempotency.py"):
        done = subprocess.run(
            [sys.executable, "-S", str(LESSON_DIR / demo)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr
        assert "is missing from the Python that ran it" in done.stderr
        assert ". .venv/bin/activate" in done.stderr and demo in done.stderr


def test_the_first_line_comes_within_a_second() -> None:
    """``launchpad lesson 06``: the intro panel is on screen before any demo starts."""
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env["COLUMNS"] = "120"
    launchpad = Path(sys.executable).with_name("launchpad")
    command = [str(launchpad)] if launchpad.exists() else [sys.executable, "-m", "launchpad.cli"]
    started = time.monotonic()
    proc = subprocess.Popen(
        [*command, "lesson", "06", "decision_matrix"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()
    took = time.monotonic() - started
    proc.communicate(timeout=60)
    assert first.strip()
    assert took < 1.0 + 2.0  # 1 s promised; a loaded 2-core machine gets a margin
