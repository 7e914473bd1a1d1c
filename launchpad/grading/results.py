"""What grading produces: one result per check, a report per submission, and Gradescope's file.

A :class:`GradeReport` is the one record everything else reads: the scorecard prints it,
the gradebook gets a row from it, and :func:`to_gradescope` turns it into the
``results.json`` that Gradescope's autograder reads (``score``, ``max_score`` and
``tests[]`` with ``name``, ``score``, ``max_score``, ``output``, ``visibility``).

Hidden checks: Gradescope hides a test marked ``"visibility": "hidden"`` entirely, but a
student should see *that* a hidden check failed. So each hidden check becomes two tests:
a visible one named "Hidden check N" with its score and no detail, and a hidden twin
worth 0 points that carries the detail for the instructor.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "CheckResult",
    "GradeReport",
    "GradescopeResults",
    "GradescopeTest",
    "Status",
    "to_gradescope",
    "write_results",
]

Status = Literal["passed", "partial", "failed", "timed_out", "not_run"]

HIDDEN_FAILED = "This hidden check failed. It tests something the visible checks do not show."
HIDDEN_PASSED = "This hidden check passed."


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

    ``outcome`` is ``complete`` when every check ran; ``timed_out`` or ``crashed`` when
    the submission's process had to be stopped or died (``note`` says how), in which case
    the checks that did not run score 0 with that reason.
    """

    submission: str
    exercise: str
    results: list[CheckResult] = field(default_factory=list)
    outcome: Literal["complete", "timed_out", "crashed"] = "complete"
    note: str = ""
    seconds: float = 0.0

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
    hidden_number = 0
    for number, r in enumerate(report.results, start=1):
        earned = round(r.score, 2)
        status: Literal["passed", "failed"] = "passed" if r.status == "passed" else "failed"
        label = f"{r.name}: {r.title}" + (" (extra credit)" if r.extra_credit else "")
        if r.visibility == "hidden":
            hidden_number += 1
            shown = HIDDEN_PASSED if r.status == "passed" else HIDDEN_FAILED
            tests.append(
                GradescopeTest(
                    name=f"Hidden check {hidden_number}",
                    score=earned,
                    max_score=r.points,
                    output=shown,
                    visibility="visible",
                    status=status,
                    number=str(number),
                )
            )
            tests.append(
                GradescopeTest(
                    name=f"[instructor] {label}",
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
                    name=label,
                    score=earned,
                    max_score=r.points,
                    output=_output(r),
                    visibility="visible",
                    status=status,
                    number=str(number),
                )
            )
    return GradescopeResults(
        score=report.score,
        max_score=report.max_score,
        output=report.note,
        execution_time=round(report.seconds, 2),
        tests=tests,
    )


def write_results(report: GradeReport, path: Path) -> Path:
    """Write Gradescope's ``results.json`` for ``report`` to ``path``."""
    data = to_gradescope(report).model_dump(mode="json", exclude_none=True)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return path
