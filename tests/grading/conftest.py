"""Fixtures for the grader's tests: the solution, the starter and every mutant, graded once.

Grading runs in-process here (the engine, not a child process) and several submissions
at a time in threads: most of a grading is waiting on purpose (a hung service, a
timeout), so threads overlap the waits and the whole suite stays within its budget.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from launchpad.grading.engine import GradingOptions, grade_submission
from launchpad.grading.results import GradeReport

from .mutants import MUTANTS, write_mutant

ROOT = Path(__file__).resolve().parents[2]
SOLUTION = ROOT / "solutions" / "checkout"
STARTER = ROOT / "exercises" / "checkout"
EXAMPLES = Path(__file__).resolve().parent / "examples"
OPTIONS = GradingOptions(call_timeout=0.5)


@pytest.fixture(scope="session")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, GradeReport]:
    """Reports keyed by "solution", "starter" and each mutant's check name."""
    root = tmp_path_factory.mktemp("mutants")
    folders = {"solution": SOLUTION, "starter": STARTER}
    for mutant in MUTANTS:
        folders[mutant.check] = write_mutant(mutant, root / mutant.check)
    with ThreadPoolExecutor(max_workers=6) as pool:
        futures = {
            name: pool.submit(grade_submission, folder, options=OPTIONS)
            for name, folder in folders.items()
        }
        return {name: future.result() for name, future in futures.items()}
