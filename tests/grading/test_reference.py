"""The reference solution scores full marks; the untouched starter scores low without
crashing the grader; and the author's check: every TODO-covered check fails on the
starter, whose files carry those TODOs."""

from __future__ import annotations

import re

import pytest

from launchpad.grading.checkout import EXERCISE
from launchpad.grading.results import GradeReport

from .conftest import SOLUTION, STARTER

CHECKS = EXERCISE.registry  # the kit's checks and the instructor's hidden ones

# The first test to ask for the graded reports waits for all of them (a minute at most on
# a busy machine): more than pytest's default limit for one test.
pytestmark = pytest.mark.timeout(300)


def test_the_solution_scores_full_marks_and_the_extra_credit(
    graded: dict[str, GradeReport],
) -> None:
    report = graded["solution"]
    assert report.failed() == []
    assert report.max_score == 100
    assert report.score == 100 + sum(c.points for c in CHECKS if c.extra_credit)


def test_the_starter_scores_low_but_not_zero(graded: dict[str, GradeReport]) -> None:
    report = graded["starter"]
    assert report.outcome == "complete"
    assert 0 < report.score <= 10
    assert report.result("rejects_bad_body").passed  # the body model comes with the starter
    for result in report.results:
        assert "Traceback" not in result.message


def test_the_starter_fails_every_check_a_todo_covers(graded: dict[str, GradeReport]) -> None:
    report = graded["starter"]
    starter_text = "\n".join(
        p.read_text() for p in (STARTER / "checkout.py", STARTER / "decisions.toml")
    )
    covered = [c for c in CHECKS if c.todo]
    assert len(covered) >= len(CHECKS) - 1
    for item in covered:
        assert re.search(rf"\b{item.todo}\b", starter_text), f"{item.todo} is not in the starter"
        assert report.result(item.name).status != "passed", f"the starter passes {item.name}"


def test_the_solution_has_no_todo_left() -> None:
    for path in SOLUTION.iterdir():
        if path.suffix in (".py", ".toml"):
            assert "TODO" not in path.read_text(), path


def test_failure_messages_say_what_was_called_got_and_expected(
    graded: dict[str, GradeReport],
) -> None:
    message = graded["payment_timeout_504"].result("payment_timeout_504").message
    assert "called:" in message and "got:" in message and "expected:" in message
    assert "no answer within" in message
