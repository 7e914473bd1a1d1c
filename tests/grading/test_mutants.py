"""For each check, a mutant of the solution that breaks exactly that requirement: the grader
must fail that check, and only that check."""

from __future__ import annotations

import pytest

from launchpad.grading.checkout import EXERCISE
from launchpad.grading.results import GradeReport

from .mutants import MUTANTS

CHECKS = EXERCISE.registry  # the kit's checks and the instructor's hidden ones

# The first test to ask for the graded reports waits for all of them (a minute at most on
# a busy machine): more than pytest's default limit for one test.
pytestmark = pytest.mark.timeout(300)


def test_every_check_has_a_mutant() -> None:
    assert {m.check for m in MUTANTS} == {c.name for c in CHECKS}
    assert len({m.key for m in MUTANTS}) == len(MUTANTS)


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.key for m in MUTANTS])
def test_the_grader_fails_exactly_the_broken_check(mutant, graded: dict[str, GradeReport]) -> None:
    report = graded[mutant.key]
    broken = report.result(mutant.check)
    assert report.failed() == [mutant.check], (
        f"mutant '{mutant.what}' should fail only {mutant.check}; "
        + "; ".join(f"{r.name}: {r.message}" for r in report.results if r.status != "passed")
    )
    assert broken.score == 0 or broken.status == "partial"
    assert broken.message, "a failed check must say what happened"
    assert broken.hint, "a failed check must say where to look"
