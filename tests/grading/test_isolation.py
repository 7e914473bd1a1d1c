"""Grading in a child process: a submission that hangs or kills its interpreter still gets
a results file, with the reason in words and every check accounted for; a class is
graded into a gradebook within its time limits."""

from __future__ import annotations

import csv
import json
from concurrent.futures import Future
from pathlib import Path

import pytest

from launchpad.grading.cli import check_main, grade_main
from launchpad.grading.engine import GradingOptions
from launchpad.grading.isolation import grade_isolated
from launchpad.grading.results import GradeReport, GradescopeResults

from .conftest import (
    BATCH_LIMIT,
    EXAMPLES,
    QUICK,
    SOLUTION,
    BatchRun,
    materialise,
    write_submission,
)


def test_a_submission_that_exits_the_interpreter_is_reported_as_crashed(
    tmp_path: Path,
) -> None:
    folder = write_submission(tmp_path / "exits", "import os\nos._exit(3)\n")
    report = grade_isolated(folder, options=GradingOptions(only=QUICK), time_limit=30)
    assert report.outcome == "crashed"
    assert report.note.startswith("the grading process stopped early (exit code 3)")
    assert [r.status for r in report.results] == ["not_run"] * 3
    assert all(r.message == f"not run: {report.note}" for r in report.results)


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
    assert [rows[n]["score"] for n in ("ada", "bob", "cyd", "dan")] == ["24", "0", "8", "0"]
    assert {rows[n]["outcome"] for n in ("ada", "bob", "cyd")} == {"complete"}
    assert rows["dan"]["outcome"] == "timed_out"
    assert rows["dan"]["note"] == f"timed out after {BATCH_LIMIT} s"
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
    assert "reconsider: charge_payment" in out


def test_grade_refuses_a_folder_that_does_not_exist(tmp_path: Path) -> None:
    assert grade_main([str(tmp_path / "nope")]) == 2


def test_the_examples_folder_holds_no_stray_python_bytecode() -> None:
    assert not list(EXAMPLES.rglob("__pycache__"))


def test_grade_refuses_an_unknown_check_and_broken_extra_checks(tmp_path: Path) -> None:
    assert grade_main([str(SOLUTION), "--only", "no_such_check"]) == 2
    (tmp_path / "bad.py").write_text("raise RuntimeError('typo')\n")
    assert grade_main([str(SOLUTION), "--checks", str(tmp_path)]) == 2
