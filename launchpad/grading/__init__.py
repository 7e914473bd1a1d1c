"""The exercise grader: named, scored checks run against a submission it never imports.

``launchpad grade PATH`` prints a scorecard and writes Gradescope's ``results.json``;
``launchpad grade --batch DIR`` grades a class into a gradebook; ``launchpad check`` is
the student's view of the visible checks. See ``launchpad/grading/README.md``.

An instructor's own checks use ``check()`` and ``CheckFailed`` (and
``Partial`` for part of the points).
"""

from launchpad.grading.checks import Check, CheckFailed, Partial, Registry, check
from launchpad.grading.engine import GradingOptions, grade_submission
from launchpad.grading.results import CheckResult, GradeReport, to_gradescope, write_results

__all__ = [
    "Check",
    "CheckFailed",
    "CheckResult",
    "GradeReport",
    "GradingOptions",
    "Partial",
    "Registry",
    "check",
    "grade_submission",
    "to_gradescope",
    "write_results",
]
