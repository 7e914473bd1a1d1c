"""Fixtures for the grader's tests: the solution, the starter and every mutant, graded once.

Grading runs in-process here (the engine, not a child process per submission), in a few
worker processes that each grade several submissions at a time in threads: most of a
grading is waiting on purpose (a hung service, a timeout), so threads overlap the waits,
and the processes use both cores despite the GIL.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import pytest

from launchpad.grading.engine import GradingOptions, grade_submission
from launchpad.grading.results import GradeReport

from .mutants import MUTANTS, write_mutant

ROOT = Path(__file__).resolve().parents[2]
SOLUTION = ROOT / "solutions" / "checkout"
STARTER = ROOT / "exercises" / "checkout"
EXAMPLES = Path(__file__).resolve().parent / "examples"
OPTIONS = GradingOptions()
PROCESSES = 3
THREADS = 4


def grade_chunk(folders: dict[str, Path]) -> dict[str, GradeReport]:
    """Grade ``folders`` in this process, a few at a time (runs in a worker process)."""
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        futures = {
            name: pool.submit(grade_submission, folder, options=OPTIONS)
            for name, folder in folders.items()
        }
        return {name: future.result() for name, future in futures.items()}


@pytest.fixture(scope="session")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, GradeReport]:
    """Reports keyed by "solution", "starter" and each mutant's check name."""
    root = tmp_path_factory.mktemp("mutants")
    folders = {"solution": SOLUTION, "starter": STARTER}
    for mutant in MUTANTS:
        folders[mutant.check] = write_mutant(mutant, root / mutant.check)
    names = list(folders)
    chunks = [{n: folders[n] for n in names[i::PROCESSES]} for i in range(PROCESSES)]
    context = multiprocessing.get_context("spawn")  # no fork of a process with threads
    reports: dict[str, GradeReport] = {}
    with ProcessPoolExecutor(max_workers=PROCESSES, mp_context=context) as pool:
        for part in pool.map(grade_chunk, chunks):
            reports.update(part)
    return reports
