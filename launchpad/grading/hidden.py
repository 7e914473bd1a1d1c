"""Hidden checks: where they live, and what a student may see of them.

A hidden check tells the instructor whether a submission does something the visible checks
do not show; it is only worth that while the student does not know what it tests.

Threat model. The student may read everything in the student copy, run every command of
the kit on it, read every output the grader gives them (the student's scorecard, the
visible part of ``results.json``, ``launchpad check``), and write a submission that
records every request it receives and echoes it back, or raises, or crashes with any
text on its stderr. What this module promises against that:

- *Where hidden checks live.* Their source is in the instructor's kit only
  (``instructor/<exercise>/checks/*.py``), found through ``LAUNCHPAD_INSTRUCTOR_DIR`` or the
  kit's own ``instructor/`` folder; ``launchpad release`` leaves it out of the student copy
  and ships it only in the Gradescope autograder. A check found there must be hidden.
- *What a student sees.* Every student-facing output is made from ``student_view()``: a
  hidden check keeps its points and whether it passed, and loses its name, title, hint and
  message (the message may quote what the submission did or raised while it ran).
- *What the submission could carry out.* Hidden checks run after every visible check
  (``hidden_last()``), so nothing the submission saw during a hidden check can come back
  in a visible check's message; should a visible check still run after a hidden one, its
  message is withheld. When a run stops once a hidden check has begun, the visible note
  only says so: the note may quote the submission's last words, which may quote the check.

Only the instructor's outputs carry the detail: the full scorecard of ``launchpad grade``,
the gradebook, and the 0-point hidden entries of ``results.json``. The same holds for the
hidden checks of a ``--checks`` folder.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from launchpad.grading.checks import Check, ExtraChecksError, Registry, load_extra_checks

if TYPE_CHECKING:  # results imports this module: only the types, to keep the cycle out
    from launchpad.grading.results import CheckResult, GradeReport

__all__ = [
    "HIDDEN_FAILED",
    "HIDDEN_PASSED",
    "INSTRUCTOR_DIR_ENV",
    "WITHHELD",
    "find_instructor_dir",
    "hidden_checks_dir",
    "hidden_last",
    "student_view",
    "with_hidden_checks",
]

INSTRUCTOR_DIR_ENV = "LAUNCHPAD_INSTRUCTOR_DIR"

HIDDEN_FAILED = "This hidden check failed. It tests something the visible checks do not show."
HIDDEN_PASSED = "This hidden check passed."
WITHHELD = "This check ran after a hidden check, so its detail is for your instructor only."
STOPPED_IN_HIDDEN = {
    "timed_out": "timed out while the hidden checks ran",
    "crashed": "the grading process stopped early while the hidden checks ran",
}

_KIT_ROOT = Path(__file__).resolve().parents[2]
_lock = threading.Lock()
_loaded: dict[tuple[int, str], Registry] = {}


def find_instructor_dir() -> Path | None:
    """The instructor's folder: ``$LAUNCHPAD_INSTRUCTOR_DIR``, else the kit's ``instructor/``.

    The kit's folder is looked for only beside this package's own source (an editable
    install of the instructor's kit), never in the current folder: a submission cannot
    bring hidden checks of its own. Returns ``None`` in a student copy.

    Raises:
        ExtraChecksError: the variable names a folder that does not exist (grading without
            the hidden checks would not be the grade the instructor meant).
    """
    named = os.environ.get(INSTRUCTOR_DIR_ENV)
    if named:
        if not Path(named).is_dir():
            raise ExtraChecksError(f"{INSTRUCTOR_DIR_ENV}={named} is not a folder")
        return Path(named)
    kit = _KIT_ROOT / "instructor"
    if (_KIT_ROOT / "pyproject.toml").is_file() and kit.is_dir():
        return kit
    return None


def hidden_checks_dir(exercise: str) -> Path | None:
    """``<instructor>/<exercise>/checks`` when it exists, else ``None``."""
    root = find_instructor_dir()
    folder = root / exercise / "checks" if root is not None else None
    return folder if folder is not None and folder.is_dir() else None


def with_hidden_checks(registry: Registry) -> Registry:
    """``registry`` plus the instructor's hidden checks for its exercise, loaded once.

    Raises:
        ExtraChecksError: a file does not load, or registers a check that is not hidden.
    """
    folder = hidden_checks_dir(registry.exercise)
    if folder is None:
        return registry
    key = (id(registry), str(folder.resolve()))
    with _lock:
        if key not in _loaded:
            full = registry.copy()
            for name in load_extra_checks(folder, full):
                if full.get(name).visibility != "hidden":
                    raise ExtraChecksError(
                        f"{folder}: check {name!r} is visible; the instructor's folder holds "
                        "hidden checks only (put visible ones in the kit or a --checks folder)"
                    )
            _loaded[key] = full
        return _loaded[key]


def hidden_last(checks: Iterable[Check]) -> list[Check]:
    """``checks`` in their order, except that every hidden check comes after the visible."""
    return sorted(checks, key=lambda c: c.visibility == "hidden")


def student_view(report: GradeReport) -> GradeReport:
    """A copy of ``report`` that is safe to show the student (see the module docstring).

    Hidden check N becomes ``hidden_N`` / "Hidden check N" with its points and status
    (passed, partial or failed) and a fixed sentence; the note and the messages of
    checks that ran after a hidden check began are replaced when they could quote it.
    """
    shown: list[CheckResult] = []
    number = 0
    after_hidden = False
    for r in report.results:
        if r.visibility == "hidden":
            number += 1
            passed = r.status == "passed"
            shown.append(
                replace(
                    r,
                    name=f"hidden_{number}",
                    title=f"Hidden check {number}",
                    status=r.status if r.status in ("passed", "partial") else "failed",
                    message=HIDDEN_PASSED if passed else HIDDEN_FAILED,
                    hint="",
                    todo=None,
                    seconds=0.0,
                )
            )
            after_hidden = True
        elif after_hidden and r.status != "passed":
            shown.append(replace(r, message=WITHHELD))
        else:
            shown.append(r)
    return replace(report, results=shown, note=_student_note(report))


def _student_note(report: GradeReport) -> str:
    """The run's note, unless it stopped after a hidden check began (see the docstring)."""
    if report.outcome == "complete":
        return report.note
    results = report.results
    stop = next((i for i, r in enumerate(results) if r.status == "not_run"), len(results))
    if any(r.visibility == "hidden" for r in results[: stop + 1]):
        return STOPPED_IN_HIDDEN.get(report.outcome, STOPPED_IN_HIDDEN["crashed"])
    return report.note
