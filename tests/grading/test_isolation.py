"""The boundary: the submission's code runs in a confined process of its own; one that
hangs or kills its interpreter still gets a results file, with the reason in words and
every check accounted for; a class is graded into a gradebook within its time limits.
(Hostile submissions, one per attack, are in ``tests/grading/hostile/``.)"""

from __future__ import annotations

import csv
import json
from concurrent.futures import Future
from pathlib import Path

import pytest

from launchpad.grading.cli import check_main, grade_main
from launchpad.grading.engine import GradingOptions, grade_submission
from launchpad.grading.results import GradeReport, GradescopeResults

from .conftest import (
    BATCH_LIMIT,
    EXAMPLES,
    QUICK,
    SOLUTION,
    STARTER,
    BatchRun,
    materialise,
    write_submission,
)


def test_a_submission_that_exits_its_interpreter_still_earns_its_decisions(
    tmp_path: Path,
) -> None:
    folder = write_submission(tmp_path / "exits", "import os\nos._exit(3)\n")
    report = grade_submission(folder, options=GradingOptions(only=QUICK))
    assert report.outcome == "complete"
    assert report.score == 8  # decisions_modes: the decisions file is read by the grader
    happy = report.result("happy_path")
    assert happy.status == "failed"
    assert "the checkout process exited (code 3) during importing checkout.py" in happy.message


def test_a_checkout_that_hangs_at_import_still_grades_the_decisions_file(
    tmp_path: Path,
) -> None:
    """Issue 15: a hang at import costs the checks that need the service, nothing else."""
    folder = write_submission(tmp_path / "hangs", "import time\ntime.sleep(600)\n")
    options = GradingOptions(load_timeout=2.0)
    report = grade_submission(folder, options=options)
    assert report.outcome == "complete"
    assert report.result("decisions_modes").score == 8
    assert report.result("decisions_justified").score == 4
    assert report.score == 12
    happy = report.result("happy_path")
    assert happy.message.startswith(
        "the checkout service is not running: importing checkout.py did not finish within 2 s"
    )


def test_grade_writes_results_json_even_for_a_syntax_error(tmp_path: Path) -> None:
    folder = materialise("syntax-error", tmp_path / "syntax-error")
    out = tmp_path / "results.json"
    assert (
        grade_main(
            [str(folder), "--json", str(out), "--only", "decisions_modes", "--only", "happy_path"]
        )
        == 0
    )
    results = GradescopeResults.model_validate(json.loads(out.read_text()))
    assert (results.score, results.max_score) == (8, 18)
    assert "syntax error on line 4" in results.tests[1].output


def test_batch_grades_a_class_into_a_gradebook(
    class_batch: Future[BatchRun], graded: dict[str, GradeReport]
) -> None:
    """The issue's batch (see ``run_batch``): four rows, right scores, within its limits."""
    run = class_batch.result(timeout=120)
    assert run.exit_code == 0
    assert run.seconds < BATCH_LIMIT + 15

    rows = {row["submission"]: row for row in csv.DictReader(run.gradebook.open())}
    print(run.gradebook.read_text())  # shown when an assert below fails
    assert sorted(rows) == ["ada", "bob", "cyd", "dan"]
    # dan hangs at import: the decisions file still counts (issue 15)
    assert [rows[n]["score"] for n in ("ada", "bob", "cyd", "dan")] == ["24", "0", "8", "8"]
    assert {rows[n]["outcome"] for n in ("ada", "bob", "cyd")} == {"complete"}
    assert rows["dan"]["outcome"] == "complete"
    assert rows["dan"]["happy_path"] == "0"
    assert rows["ada"]["happy_path"] == "10" and rows["cyd"]["decisions_modes"] == "8"
    for name in rows:
        GradescopeResults.model_validate_json((run.results / name / "results.json").read_text())


def test_check_is_the_students_view(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = materialise("decisions-only", tmp_path / "mine")
    assert check_main([str(folder)]) == 1
    out = capsys.readouterr().out
    assert "missing_idempotency_key" not in out and "Idempotency-Key header" not in out
    assert "hidden check(s) run only when your work is graded" in out
    assert "next: decisions.toml: sync or async for each interaction (see TODO 1)" in out
    assert "2 of 4 choices hold" in out and "reconsider" not in out


def test_grade_refuses_a_folder_that_does_not_exist(tmp_path: Path) -> None:
    assert grade_main([str(tmp_path / "nope")]) == 2


def test_the_examples_folder_holds_no_stray_python_bytecode() -> None:
    assert not list(EXAMPLES.rglob("__pycache__"))


def test_grade_refuses_an_unknown_check_and_broken_extra_checks(tmp_path: Path) -> None:
    assert grade_main([str(SOLUTION), "--only", "no_such_check"]) == 2
    (tmp_path / "bad.py").write_text("raise RuntimeError('typo')\n")
    assert grade_main([str(SOLUTION), "--checks", str(tmp_path)]) == 2


SLEEPER = """
import subprocess, sys
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", "{tag}"],
                 start_new_session=True)
open("{drop}", "w").write("started")
"""


def test_without_root_the_boundary_is_the_process_and_the_output_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run the not-root path (as a student's laptop would): the code still runs in its own
    process, a sleeper in a new session is found by its environment marker and killed, and
    the report says that OS-level isolation needs root."""
    import importlib
    import uuid

    confine_module = importlib.import_module("launchpad.grading.sandbox.confine")
    monkeypatch.setattr(confine_module.os, "geteuid", lambda: 1000)
    tag = f"lp-sleeper-{uuid.uuid4().hex}"
    starter = (STARTER / "checkout.py").read_text()
    drop = tmp_path / "started.txt"
    attack = SLEEPER.replace("{tag}", tag).replace("{drop}", str(drop))
    folder = write_submission(tmp_path / "laptop", starter + attack)
    report = grade_submission(folder, options=GradingOptions(only=QUICK))
    assert "OS-level isolation" in report.isolation and "needs root" in report.isolation
    assert report.score == 8  # decisions_modes; the starter passes none of the others
    assert drop.read_text() == "started"
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                assert tag.encode() not in (entry / "cmdline").read_bytes()
            except OSError:
                continue
