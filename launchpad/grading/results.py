"""What grading produces: one result per check, a report per submission, and Gradescope's file.

A ``GradeReport`` is the one record everything else reads: the scorecard prints it,
the gradebook gets a row from it, and ``to_gradescope()`` turns it into the
``results.json`` that Gradescope's autograder reads (``score``, ``max_score`` and
``tests[]`` with ``name``, ``score``, ``max_score``, ``output``, ``visibility``).

Hidden checks: Gradescope hides a test marked ``"visibility": "hidden"`` entirely, but a
student should see *that* a hidden check failed. So each hidden check becomes two tests:
a visible one named "Hidden check N" with its score and no detail, and a hidden twin
worth 0 points that carries the detail for the instructor. Everything visible is made
from ``student_view()``; when that had to withhold the run's
note, the full note is a hidden 0-point test too.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from launchpad.grading.hidden import student_view

__all__ = [
    "ANSWERS_TITLE",
    "CheckResult",
    "GradeReport",
    "GradescopeResults",
    "GradescopeTest",
    "Status",
    "to_gradescope",
    "write_atomic",
    "write_results",
]

Status = Literal["passed", "partial", "failed", "timed_out", "not_run"]


ANSWERS_TITLE = "Your decisions and why, as your instructor reads them"


@dataclass
class CheckResult:
    """How one check went for one submission."""

    name: str
    title: str
    points: float
    score: float
    status: Status
    message: str = ""
    hint: str = ""
    visibility: str = "visible"
    extra_credit: bool = False
    seconds: float = 0.0
    todo: str | None = None

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheckResult:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


@dataclass
class GradeReport:
    """Every check's result for one submission, and how the run as a whole ended.

    ``outcome`` is ``complete`` when every check ran; ``timed_out`` when the grading's
    time limit ended it, and ``crashed`` when the grader itself failed on this submission
    (``note`` says how); the checks that did not run score 0 with that reason.
    """

    submission: str
    exercise: str
    results: list[CheckResult] = field(default_factory=list)
    outcome: Literal["complete", "timed_out", "crashed"] = "complete"
    note: str = ""
    seconds: float = 0.0
    isolation: str = ""  # how the submission's code was confined (see grading.sandbox)
    answers: dict[str, str] = field(default_factory=dict)  # free text, for manual grading

    @property
    def score(self) -> float:
        return round(sum(r.score for r in self.results), 2)

    @property
    def max_score(self) -> float:
        return round(sum(r.points for r in self.results if not r.extra_credit), 2)

    def result(self, name: str) -> CheckResult:
        for r in self.results:
            if r.name == name:
                return r
        raise KeyError(name)

    def failed(self) -> list[str]:
        """Names of the checks that did not earn all their points."""
        return [r.name for r in self.results if r.status != "passed"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "submission": self.submission,
            "exercise": self.exercise,
            "outcome": self.outcome,
            "note": self.note,
            "seconds": self.seconds,
            "isolation": self.isolation,
            "answers": self.answers,
            "results": [r.to_dict() for r in self.results],
        }


# -- Gradescope's autograder format ------------------------------------------------------


class GradescopeTest(BaseModel):
    """One entry of ``tests[]``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    score: float = Field(ge=0)
    max_score: float = Field(ge=0)
    output: str
    visibility: Literal["visible", "hidden", "after_due_date", "after_published"]
    status: Literal["passed", "failed"]
    number: str | None = None


class GradescopeResults(BaseModel):
    """The whole ``results.json``; validating a dict against it is the format test."""

    model_config = ConfigDict(extra="forbid")

    score: float = Field(ge=0)
    max_score: float = Field(ge=0)
    output: str = ""
    visibility: Literal["visible", "hidden", "after_due_date", "after_published"] = "visible"
    stdout_visibility: Literal["visible", "hidden"] = "hidden"
    execution_time: float = Field(ge=0)
    tests: list[GradescopeTest]


def _output(r: CheckResult) -> str:
    if r.status == "passed":
        return "passed"
    text = r.message or r.status
    if r.hint:
        text += f"\nhint: {r.hint}"
    return text


def to_gradescope(report: GradeReport) -> GradescopeResults:
    """The report in Gradescope's format (see the module docstring for hidden checks)."""
    tests: list[GradescopeTest] = []
    shown = student_view(report)
    for number, (r, s) in enumerate(zip(report.results, shown.results, strict=True), start=1):
        earned = round(r.score, 2)
        status: Literal["passed", "failed"] = "passed" if r.status == "passed" else "failed"
        if r.visibility == "hidden":
            tests.append(
                GradescopeTest(
                    name=s.title,
                    score=earned,
                    max_score=r.points,
                    output=s.message,
                    visibility="visible",
                    status=status,
                    number=str(number),
                )
            )
            tests.append(
                GradescopeTest(
                    name=f"[instructor] {_label(r)}",
                    score=0,
                    max_score=0,
                    output=_output(r),
                    visibility="hidden",
                    status=status,
                )
            )
        else:
            tests.append(
                GradescopeTest(
                    name=_label(s),
                    score=earned,
                    max_score=r.points,
                    output=_output(s),
                    visibility="visible",
                    status=status,
                    number=str(number),
                )
            )
    if report.answers:  # the student's own words, for Gradescope's manual grading
        tests.append(
            GradescopeTest(
                name=ANSWERS_TITLE,
                score=0,
                max_score=0,
                output="\n\n".join(f"{k} = {v}" for k, v in report.answers.items()),
                visibility="visible",
                status="passed",
            )
        )
    if shown.note != report.note:
        tests.append(
            GradescopeTest(
                name="[instructor] how the run ended",
                score=0,
                max_score=0,
                output=report.note,
                visibility="hidden",
                status="failed",
            )
        )
    return GradescopeResults(
        score=report.score,
        max_score=report.max_score,
        output=shown.note,
        execution_time=round(report.seconds, 2),
        tests=tests,
    )


def _label(r: CheckResult) -> str:
    return f"{r.name}: {r.title}" + (" (extra credit)" if r.extra_credit else "")


def write_results(report: GradeReport, path: Path) -> Path:
    """Write Gradescope's ``results.json`` for ``report`` to ``path``, atomically.

    The file appears whole or not at all (a temp file in the same folder, then
    ``os.replace``), so nobody ever reads half a file.
    """
    data = to_gradescope(report).model_dump(mode="json", exclude_none=True)
    return write_atomic(Path(path), json.dumps(data, indent=2) + "\n")


def write_atomic(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` so that a reader sees the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    return path
