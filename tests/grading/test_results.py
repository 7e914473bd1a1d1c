"""Gradescope's results.json and the gradebook: the format holds for any report, hidden
checks stay hidden, and the CSV reads back what was written."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from launchpad.grading.batch import gradebook_csv
from launchpad.grading.checkout import CHECKS, EXERCISE
from launchpad.grading.hidden import HIDDEN_FAILED, HIDDEN_PASSED
from launchpad.grading.results import (
    ANSWERS_TITLE,
    CheckResult,
    GradeReport,
    GradescopeResults,
    to_gradescope,
    write_results,
)

GRADESCOPE_TEST_FIELDS = {"name", "score", "max_score", "output", "visibility"}

names = st.from_regex(r"[a-z][a-z0-9_]{0,20}", fullmatch=True)
texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=60)


@st.composite
def results(draw: st.DrawFn) -> CheckResult:
    points = draw(st.integers(0, 20))
    status = draw(st.sampled_from(["passed", "partial", "failed", "timed_out", "not_run"]))
    earned = points if status == "passed" else draw(st.integers(0, points))
    return CheckResult(
        name=draw(names),
        title=draw(texts),
        points=points,
        score=earned,
        status=status,
        message=draw(texts),
        hint=draw(texts),
        visibility=draw(st.sampled_from(["visible", "hidden"])),
        extra_credit=draw(st.booleans()),
    )


reports = st.builds(
    GradeReport,
    submission=texts,
    exercise=st.just("checkout"),
    results=st.lists(results(), max_size=8),
    outcome=st.sampled_from(["complete", "timed_out", "crashed"]),
    note=texts,
    seconds=st.floats(0, 100),
)


@settings(max_examples=25, deadline=None)
@given(reports)
def test_any_report_gives_valid_gradescope_json(report: GradeReport) -> None:
    data = json.loads(to_gradescope(report).model_dump_json())
    GradescopeResults.model_validate(data)
    assert data["score"] == report.score and data["max_score"] == report.max_score
    for test in data["tests"]:
        assert set(test) >= GRADESCOPE_TEST_FIELDS
    assert sum(t["score"] for t in data["tests"]) == sum(r.score for r in report.results)


@settings(max_examples=25, deadline=None)
@given(reports)
def test_a_hidden_check_shows_only_that_it_failed(report: GradeReport) -> None:
    tests = to_gradescope(report).tests
    hidden = [r for r in report.results if r.visibility == "hidden"]
    shown = [t for t in tests if t.name.startswith("Hidden check")]
    twins = [t for t in tests if t.name.startswith("[instructor]") and "run ended" not in t.name]
    assert len(shown) == len(twins) == len(hidden)
    for result, test, twin in zip(hidden, shown, twins, strict=True):
        assert test.visibility == "visible" and test.score == result.score
        assert test.output == (HIDDEN_FAILED if result.status != "passed" else HIDDEN_PASSED)
        assert twin.visibility == "hidden" and twin.max_score == 0


@settings(max_examples=25, deadline=None)
@given(st.lists(reports, min_size=1, max_size=4))
def test_the_gradebook_reads_back(batch: list[GradeReport]) -> None:
    rows = list(csv.DictReader(io.StringIO(gradebook_csv(batch))))
    assert [row["submission"] for row in rows] == [r.submission for r in batch]
    for row, report in zip(rows, batch, strict=True):
        assert float(row["score"]) == report.score
        assert row["note"] == report.note
        for result in report.results:
            assert row[result.name] != ""


def test_write_results_makes_the_folder(tmp_path: Path) -> None:
    report = GradeReport("s", "checkout", [CheckResult("a", "t", 2, 2, "passed")])
    path = write_results(report, tmp_path / "out" / "results.json")
    assert json.loads(path.read_text())["tests"][0]["status"] == "passed"


def _guide_rows(path: str) -> dict[str, str]:
    guide = (Path(__file__).resolve().parents[2] / path).read_text()
    return dict(re.findall(r"^\| `([a-z0-9_]+)`[^|]*\| (\d+) \|", guide, re.M))


def test_the_guides_list_every_check_with_its_points() -> None:
    everything = EXERCISE.registry
    hidden = {c.name: str(int(c.points)) for c in everything if c.visibility == "hidden"}
    assert _guide_rows("launchpad/grading/README.md") == {
        c.name: str(int(c.points)) for c in CHECKS
    }
    assert _guide_rows("instructor/README.md") == hidden
    assert hidden and all(c.visibility == "visible" for c in CHECKS)
    assert sum(c.points for c in everything if not c.extra_credit) == 100


@settings(max_examples=40, deadline=None)
@given(st.dictionaries(names, texts, min_size=1, max_size=4))
def test_each_why_is_carried_for_manual_grading(answers: dict[str, str]) -> None:
    report = GradeReport(submission="ada", exercise="checkout", answers=answers)
    data = to_gradescope(report)
    carried = [t for t in data.tests if t.name == ANSWERS_TITLE]
    assert len(carried) == 1 and carried[0].max_score == 0 and carried[0].visibility == "visible"
    for name, why in answers.items():
        assert f"{name} = {why}" in carried[0].output
    row = next(csv.DictReader(io.StringIO(gradebook_csv([report]))))
    assert {k: row[f"why:{k}"] for k in answers} == answers
