"""``launchpad lessons`` and ``launchpad lesson``: finding lessons and demos, bad input."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from launchpad.lessons import (
    LessonNotFound,
    find_lesson,
    find_lessons,
    find_lessons_dir,
    lesson_main,
    lessons_main,
    run_demo,
)

EXPECTED_DEMOS = [
    "sync_http",
    "gateway_proxy",
    "deadlines",
    "circuit_breaker",
    "async_queue",
    "eventual_consistency",
    "outbox",
    "idempotency",
    "retries",
    "redis_backbone",
    "decision_matrix",
]


def test_lesson_06_has_its_demos_in_teaching_order() -> None:
    lesson = find_lesson("06")
    assert [d.name for d in lesson.demos] == EXPECTED_DEMOS
    assert lesson.title == "Service communication"
    for demo in lesson.demos:
        assert demo.path.is_file()
        assert demo.title and demo.title != demo.name, f"{demo.name} needs a docstring title"


def test_lesson_number_and_demo_may_be_written_several_ways() -> None:
    assert find_lesson("6").number == "06"
    lesson = find_lesson("06")
    assert lesson.demo("sync_http.py").name == "sync_http"
    assert lesson.demo("sync-http").name == "sync_http"
    assert lesson.demo("1").name == "sync_http"


def test_lessons_dir_is_found_from_the_package(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # not inside the clone: the package's location still finds it
    assert (find_lessons_dir() / "06-service-communication").is_dir()
    assert [lesson.number for lesson in find_lessons()][:1] == ["06"]


def test_unknown_lesson_or_demo_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert lesson_main(["99"]) == 2
    assert "no lesson '99'" in capsys.readouterr().err
    assert lesson_main(["06", "nope"]) == 2
    err = capsys.readouterr().err
    assert "no demo 'nope'" in err and "sync_http" in err
    with pytest.raises(LessonNotFound):
        find_lesson("06").demo("")


def test_lessons_lists_every_demo_with_its_title(capsys: pytest.CaptureFixture[str]) -> None:
    assert lessons_main([]) == 0
    out = capsys.readouterr().out
    for name in EXPECTED_DEMOS:
        assert name in out
    assert "launchpad lesson 06" in out


def test_one_demo_by_name_with_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert lesson_main(["06", "decision_matrix", "--json"]) == 0
    observed = json.loads(capsys.readouterr().out)
    assert observed["missing_demos"] == []


def test_redis_that_does_not_answer_is_one_clear_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as s:  # a port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{port}/0")
    assert lesson_main(["06", "sync_http"]) == 2
    captured = capsys.readouterr()
    assert "the demos need Redis" in captured.err and f"127.0.0.1:{port}" in captured.err
    assert "unset REDIS_URL" in captured.err.replace("\n", " ")
    assert "Traceback" not in captured.err + captured.out


LESSON_06 = find_lesson("06")


@given(st.text(max_size=40))
def test_any_demo_name_is_a_known_demo_or_a_clear_error(name: str) -> None:
    lesson = LESSON_06
    try:
        demo = lesson.demo(name)
    except LessonNotFound as exc:
        assert "its demos: sync_http" in str(exc)
    else:
        assert demo in lesson.demos


def test_the_recap_line_is_written_where_the_runner_asks(tmp_path: Path) -> None:
    lesson = find_lesson("06")
    recap = tmp_path / "recap.txt"
    code = run_demo(lesson, lesson.demo("decision_matrix"), ["--result-file", str(recap)])
    assert code == 0
    assert recap.read_text(encoding="utf-8").startswith("6 interactions of LaunchPad")
