"""Hostile submissions (see ``submissions.py``): each gets exactly its honest score, the kit
and the results are untouched, and nothing it started is left running.

The attacks that only OS-level isolation stops (signalling the grader, writing the kit,
reading hidden checks) are asserted when the tests run as root, as the grader does on
Gradescope; elsewhere they are skipped, as the scorecard says ("needs root").
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest

from launchpad.grading.checkout import EXERCISE
from launchpad.grading.engine import GradingOptions, grade_submission
from launchpad.grading.results import GradeReport, to_gradescope, write_results

from ..conftest import ROOT, SOLUTION, STARTER
from .submissions import HONEST, HOSTILE, source

pytestmark = pytest.mark.timeout(300)
ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="OS-level isolation needs root")
KIT_FILES = [
    ROOT / "launchpad" / "__init__.py",
    ROOT / "launchpad" / "grading" / "results.py",
    ROOT / "exercises" / "checkout" / "provided.py",
]
TAG = f"lp-hostile-{uuid.uuid4().hex[:12]}"


def tagged() -> list[int]:
    """Processes whose command line carries this run's tag (the attacks' sleepers)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and TAG.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def digest(paths: list[Path]) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in paths if p.exists()}


def write(folder: Path, code: str) -> Path:
    folder.mkdir(parents=True)
    (folder / "checkout.py").write_text(code)
    shutil.copy(SOLUTION / "decisions.toml", folder)
    return folder


@pytest.fixture(scope="module")
def drop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A folder anyone may write to, outside pytest's own (mode 700) temp tree."""
    folder = Path(f"/tmp/{TAG}")
    folder.mkdir(mode=0o1777)
    os.chmod(folder, 0o1777)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def graded(
    tmp_path_factory: pytest.TempPathFactory, drop: Path
) -> dict[str, tuple[GradeReport, Path]]:
    """Every hostile submission graded at once; its report and its results.json."""
    root = tmp_path_factory.mktemp("hostile")
    starter = (STARTER / "checkout.py").read_text()
    before = digest(KIT_FILES)
    folders = {
        h.name: write(root / h.name, source(starter, h, TAG, str(drop)))
        for h in HOSTILE
        if h.name != "kill-parent"  # graded by a real `launchpad grade --batch` below
    }

    def grade(name: str) -> tuple[GradeReport, Path]:
        report = grade_submission(folders[name], options=GradingOptions())
        out = write_results(report, root / "results" / name / "results.json")
        return report, out

    with ThreadPoolExecutor(max_workers=5) as pool:
        reports = dict(zip(folders, pool.map(grade, folders), strict=True))
    assert digest(KIT_FILES) == before, "a submission changed the kit"
    return reports


@pytest.mark.parametrize("hostile", [h for h in HOSTILE if h.name != "kill-parent"],
                         ids=lambda h: h.name)  # fmt: skip
def test_a_hostile_submission_gets_its_honest_score(
    hostile, graded: dict[str, tuple[GradeReport, Path]]
) -> None:
    report, _ = graded[hostile.name]
    assert report.score == hostile.score, [
        (r.name, r.score, r.message[:200]) for r in report.results if r.score
    ]
    assert report.outcome == "complete"


def test_nothing_a_submission_started_is_left_running(
    graded: dict[str, tuple[GradeReport, Path]], drop: Path
) -> None:
    assert tagged() == []
    alive = drop / "alive"
    assert alive.exists(), "the escaping process never ran: the test proves nothing"
    seen = alive.read_text()
    time.sleep(0.5)
    assert alive.read_text() == seen, "a process that left its session still runs"


def test_forged_claims_and_rewritten_files_change_nothing(
    graded: dict[str, tuple[GradeReport, Path]],
) -> None:
    report, out = graded["forge"]
    time.sleep(1.0)  # the forger's rewriter would have run by now
    data = json.loads(out.read_text())
    assert data["score"] == HONEST
    assert data == to_gradescope(report).model_dump(mode="json", exclude_none=True)


def test_patching_the_grader_patches_nothing(
    graded: dict[str, tuple[GradeReport, Path]], drop: Path
) -> None:
    tried = (drop / "patch.txt").read_text()
    if os.geteuid() == 0:  # the grader's package is an empty folder for the student
        assert "launchpad.grading.engine: ModuleNotFoundError" in tried, tried
    assert graded["patch-grader"][0].score == HONEST


@ROOT_ONLY
def test_the_kit_is_read_only_for_a_submission(
    graded: dict[str, tuple[GradeReport, Path]], drop: Path
) -> None:
    outcome = (drop / "write.txt").read_text()
    assert "written" not in outcome, outcome
    assert "OSError" in outcome or "PermissionError" in outcome


@ROOT_ONLY
def test_hidden_checks_and_the_solution_cannot_be_read(
    graded: dict[str, tuple[GradeReport, Path]],
) -> None:
    _, out = graded["leak"]
    text = out.read_text()
    assert "LEAK:none" in text  # the submission found every one of those folders empty
    sources = {
        ROOT / "instructor" / "checkout" / "checks" / "auth_down.py": "lab.auth.failing = True",
        ROOT / "solutions" / "checkout" / "checkout.py": "def order_id_for(user_id",
        ROOT / "launchpad" / "grading" / "checkout" / "checks" / "request.py": "BAD_BODIES",
    }
    for path, line in sources.items():
        assert line in path.read_text(), f"{path} changed: pick another line"
        assert line not in text


def test_floods_cost_the_flooder_nothing_else(
    graded: dict[str, tuple[GradeReport, Path]],
) -> None:
    for name in ("memory", "output", "sockets", "response"):
        report, _ = graded[name]
        assert report.result("rejects_bad_body").score == 3, name


@ROOT_ONLY
def test_killing_the_grader_does_not_end_the_batch(tmp_path: Path, drop: Path) -> None:
    """``launchpad grade --batch`` over [honest, killer, honest]: every row, every score."""
    starter = (STARTER / "checkout.py").read_text()
    killer = next(h for h in HOSTILE if h.name == "kill-parent")
    klass = tmp_path / f"{TAG}-class"
    write(klass / "a", starter)
    write(klass / "b", source(starter, killer, TAG, str(drop)))
    write(klass / "c", starter)
    gradebook = tmp_path / "gradebook.csv"
    run = subprocess.run(
        [str(Path(sys.executable).parent / "launchpad"), "grade", "--batch", str(klass),
         "--out", str(gradebook), "--jobs", "1"],
        capture_output=True, text=True, timeout=240, cwd=ROOT,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    rows = {row["submission"]: row["score"] for row in csv.DictReader(gradebook.open())}
    assert rows == {"a": "15", "b": "15", "c": "15"}
    outcome = (drop / f"kill-{TAG}.txt").read_text()
    assert "killed" not in outcome and "PermissionError" in outcome, outcome
    assert tagged() == []


WORKER_FAULTS = {
    "hangs": ("import time as _t\n_t.sleep(600)\n", "the process hung"),
    "exits": ("import os as _o\n_o._exit(4)\n", "the process exited (code"),
}


@pytest.mark.parametrize("fault", sorted(WORKER_FAULTS))
def test_a_worker_that_hangs_or_kills_its_process_costs_only_the_checks_it_spoils(
    fault: str, tmp_path: Path
) -> None:
    """The solution, but its email worker hangs (or exits its interpreter): the three checks
    that run it fail (happy_path, replay_same_order, email_worker_idempotent: 21 points);
    the service is started afresh each time, so every other check still passes."""
    code, said = WORKER_FAULTS[fault]
    source_code = (SOLUTION / "checkout.py").read_text()
    marker = '    done = f"{env.prefix}:emailed:{job.id}"\n'
    assert source_code.count(marker) == 1
    folder = tmp_path / fault
    shutil.copytree(SOLUTION, folder, ignore=shutil.ignore_patterns("__pycache__"))
    body = "".join("    " + line + "\n" for line in code.splitlines())
    (folder / "checkout.py").write_text(source_code.replace(marker, body + marker))
    report = grade_submission(folder, options=GradingOptions())
    assert report.outcome == "complete"
    assert report.failed() == ["happy_path", "replay_same_order", "email_worker_idempotent"]
    assert report.score == 105 - 21
    assert said in report.result("happy_path").message


def test_a_fresh_worker_slow_to_start_costs_no_points(tmp_path: Path) -> None:
    """Forty gradings at once can make a new worker process take seconds to import: that
    wait is bounded by load_timeout, not by the check's time limit (here shortened to 2 s,
    against a worker that takes 3 s to import)."""
    folder = tmp_path / "slow-worker"
    shutil.copytree(SOLUTION, folder, ignore=shutil.ignore_patterns("__pycache__"))
    source_code = (folder / "checkout.py").read_text()
    slow = 'import sys as _s, time as _t\nif _s.argv[1:2] == ["worker"]:\n    _t.sleep(3)\n'
    future = "from __future__ import annotations\n"
    assert source_code.count(future) == 1
    (folder / "checkout.py").write_text(source_code.replace(future, future + slow))
    check = replace(EXERCISE.registry.get("email_worker_idempotent"), time_limit=2.0)
    report = grade_submission(folder, options=GradingOptions(), checks=[check])
    result = report.result("email_worker_idempotent")
    assert result.status == "passed", result.message
    assert result.seconds > 3
