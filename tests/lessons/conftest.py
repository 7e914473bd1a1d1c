"""Helpers to run lesson 06's demos in this process and read their ``--json`` observations.

Demos are loaded by path through :mod:`launchpad.lessons`, the same way
``launchpad lesson 06 DEMO --json`` runs them, so a test sees exactly what a user sees.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from launchpad.lessons import Lesson, find_lesson, run_demo


@pytest.fixture(scope="session")
def lesson06() -> Lesson:
    return find_lesson("06")


RunJson = Callable[[str], dict[str, Any]]


@pytest.fixture
def run_json(lesson06: Lesson, capsys: pytest.CaptureFixture[str]) -> RunJson:
    """Run one demo with ``--json``; assert stdout is exactly one JSON object; return it."""

    def run(name: str) -> dict[str, Any]:
        capsys.readouterr()
        code = run_demo(lesson06, lesson06.demo(name), ["--json"])
        out = capsys.readouterr().out
        assert code == 0, f"{name} exited {code}"
        lines = [line for line in out.splitlines() if line.strip()]
        assert len(lines) == 1, f"{name} --json printed more than one line:\n{out}"
        observed: dict[str, Any] = json.loads(lines[0])
        assert isinstance(observed, dict)
        return observed

    return run
