"""Fixtures for the grader's tests: the solution, the starter and every mutant, graded once.

Each grading runs the submission's code in confined processes of its own, as
``launchpad grade`` does; the gradings themselves run in a few worker processes that each
grade several submissions at a time in threads: most of a grading is waiting on purpose
(a hung service, a timeout), so threads overlap the waits, and the processes use both
cores despite the GIL.
"""

from __future__ import annotations

import multiprocessing
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from launchpad.grading.cli import grade_main
from launchpad.grading.engine import GradingOptions, grade_submission
from launchpad.grading.results import GradeReport

from .mutants import MUTANTS, write_mutant

ROOT = Path(__file__).resolve().parents[2]
SOLUTION = ROOT / "solutions" / "checkout"
STARTER = ROOT / "exercises" / "checkout"
EXAMPLES = Path(__file__).resolve().parent / "examples"
# The fixtures grade a dozen submissions at once (3 processes x 4 threads, plus a batch)
# beside make test's other test process, on what may be a 2-core machine, so a student
# process can wait seconds for a core: the import and whole-grading limits here are the
# machine's margin, not a test of them (tests/grading/hostile does that). More threads
# finish no sooner on 2 cores (8 took 83 s where 4 take 69 s) and stretch each check: a
# fresh worker took 16 s to start at 8 threads.
OPTIONS = GradingOptions(load_timeout=30.0, time_limit=240.0)
PROCESSES = 3
THREADS = 4


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


def materialise(name: str, into: Path) -> Path:
    """A copy of ``examples/<name>/submission`` (``*.py.txt`` becomes ``*.py``)."""
    shutil.copytree(EXAMPLES / name / "submission", into)
    for path in into.glob("*.py.txt"):
        path.rename(path.with_suffix(""))
    return into


def write_submission(folder: Path, source: str) -> Path:
    """A submission with this ``checkout.py`` and the solution's decisions."""
    folder.mkdir(parents=True)
    (folder / "checkout.py").write_text(source)
    shutil.copy(SOLUTION / "decisions.toml", folder)
    return folder


QUICK = frozenset({"decisions_modes", "invalid_token_401", "happy_path"})
HANGS = "import time\ntime.sleep(600)\n"
BATCH_LIMIT = 30  # each grading starts two student processes; the mutants load the machine


@dataclass
class BatchRun:
    gradebook: Path
    results: Path
    exit_code: int
    seconds: float


def run_batch(root: Path) -> BatchRun:
    """The issue's batch: the solution, the starter, a syntax error and one that hangs."""
    klass = root / "class"
    shutil.copytree(SOLUTION, klass / "ada")
    shutil.copytree(STARTER, klass / "bob")
    materialise("syntax-error", klass / "cyd")
    write_submission(klass / "dan", HANGS)
    gradebook, results = root / "gradebook.csv", root / "results"
    argv = [
        "--batch",
        str(klass),
        "--out",
        str(gradebook),
        "--results-dir",
        str(results),
        "--time-limit",
        str(BATCH_LIMIT),
        "--jobs",
        "4",
        "--call-timeout",  # generous: none of these checks hangs a service on purpose,
        "3",  # and the batch runs while the mutants are graded (a busy machine)
    ]
    for name in sorted(QUICK):
        argv += ["--only", name]
    started = time.monotonic()
    code = grade_main(argv)
    return BatchRun(gradebook, results, code, time.monotonic() - started)


@pytest.fixture(scope="session")
def class_batch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Future[BatchRun]]:
    """The batch, started in the background: its hung submission waits out its time limit
    while the mutants are graded (see ``graded``, which asks for this fixture first)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        yield pool.submit(run_batch, tmp_path_factory.mktemp("batch"))


@pytest.fixture(scope="session")
def graded(
    tmp_path_factory: pytest.TempPathFactory, class_batch: Future[BatchRun]
) -> dict[str, GradeReport]:
    """Reports keyed by "solution", "starter" and each mutant's check name."""
    root = tmp_path_factory.mktemp("mutants")
    folders = {"solution": SOLUTION, "starter": STARTER}
    for mutant in MUTANTS:
        folders[mutant.key] = write_mutant(mutant, root / mutant.key.replace(":", "-"))
    names = list(folders)
    chunks = [{n: folders[n] for n in names[i::PROCESSES]} for i in range(PROCESSES)]
    context = multiprocessing.get_context("spawn")  # no fork of a process with threads
    reports: dict[str, GradeReport] = {}
    with ProcessPoolExecutor(max_workers=PROCESSES, mp_context=context) as pool:
        for part in pool.map(grade_chunk, chunks):
            reports.update(part)
    return reports


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Keep the files whose tests need the graded reports in one test process (``make test``
    runs two, with ``--dist loadgroup``): each process would otherwise grade them all again."""
    needs = {"graded", "class_batch"}
    files = {item.path for item in items if needs & set(getattr(item, "fixturenames", ()))}
    for item in items:
        if item.path in files:
            item.add_marker(pytest.mark.xdist_group("graded"))
