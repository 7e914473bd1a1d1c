"""The ``launchpad`` command: its help lists every command, and ``doctor`` checks a set-up."""

from __future__ import annotations

import subprocess
import sys

import pytest

from launchpad.cli import COMMANDS, main
from launchpad.doctor import run_checks


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert name in out
    assert "launchpad lesson 06" in out


def test_every_command_points_at_a_real_function() -> None:
    import importlib

    missing = []
    for name, command in COMMANDS.items():
        module_name, func = command.target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError:
            missing.append(name)
            continue
        assert callable(getattr(module, func)), f"{name}: {command.target}"
    # Every command must exist once the kit is complete; the list documents what is left.
    assert set(missing) <= {"lessons", "lesson", "up", "serve", "worker", "check", "grade",
                            "docs"}


def test_an_unknown_command_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lesons"]) == 2
    assert "unknown command 'lesons'" in capsys.readouterr().err


def test_the_console_script_runs() -> None:
    done = subprocess.run([sys.executable, "-m", "launchpad.cli", "--help"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    assert "doctor" in done.stdout


def test_doctor_runs_each_core_piece_on_embedded_redis() -> None:
    rows = {name: (ok, detail) for name, ok, detail in run_checks()}
    assert rows["embedded redis"][0], rows["embedded redis"]
    assert "Lua" in rows["embedded redis"][1]
    ok, detail = rows["service call"]
    assert ok, detail
    assert "timed out after 0.3" in detail


def test_doctor_checks_the_real_server_when_redis_url_is_set(
    monkeypatch: pytest.MonkeyPatch, real_redis_url: str
) -> None:
    monkeypatch.setenv("REDIS_URL", real_redis_url)
    rows = {name: (ok, detail) for name, ok, detail in run_checks()}
    assert rows["REDIS_URL"][0] and "redis://" in rows["REDIS_URL"][1]


def test_doctor_reports_a_down_server_as_a_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    rows = {name: (ok, detail) for name, ok, detail in run_checks()}
    ok, detail = rows["REDIS_URL"]
    assert not ok and "cannot reach Redis" in detail
