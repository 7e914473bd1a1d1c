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
THREADS = 8


def share_ssl_contexts() -> None:
    """Build httpx's default SSL context once per process instead of once per client.

    Every ``ServiceClient`` builds two (about 90 ms of CPU each, loading the CA bundle),
    and a grading makes a few clients; on loopback ``http://`` they are never used. The
    tests grade dozens of submissions, so they share one. Grading itself is unchanged.
    """
    import httpx
    from httpx._transports import default

    if getattr(default.create_ssl_context, "shared", False):
        return
    original = default.create_ssl_context
    shared: dict[tuple[object, ...], object] = {}

    def create_ssl_context(verify: object = True, cert: object = None, trust_env: bool = True):
        if verify is not True or cert is not None:
            return original(verify=verify, cert=cert, trust_env=trust_env)
        key = (verify, cert, trust_env)
        if key not in shared:
            shared[key] = original(verify=verify, cert=cert, trust_env=trust_env)
        return shared[key]

    create_ssl_context.shared = True  # type: ignore[attr-defined]
    default.create_ssl_context = create_ssl_context  # type: ignore[assignment]
    httpx.create_ssl_context = create_ssl_context  # type: ignore[assignment]


share_ssl_contexts()


def grade_chunk(folders: dict[str, Path]) -> dict[str, GradeReport]:
    """Grade ``folders`` in this process, a few at a time (runs in a worker process)."""
    share_ssl_contexts()
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
