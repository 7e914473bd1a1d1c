"""Run an exercise's checks against one submission, each within its own time limit.

The checks run here, in the grader's process; the submission's code never does: the
exercise starts it in a confined process of its own (``launchpad.grading.sandbox``)
and reaches it over HTTP and a narrow pipe. So a submission that hangs, crashes or
floods costs the checks it spoiled, never the grader, and the results are the grader's.

Each check runs in a thread of its own. When it overruns its ``time_limit`` the engine
stops waiting, records "timed out after N s", asks the exercise to release whatever it
was holding (a hung mock service lets go), and goes on with the next check. Time a check
spends waiting for one of the submission's processes to start does not count against its
limit: ``load_timeout`` bounds that wait, and a busy machine must not cost points. The
whole grading has a time limit too (``GradingOptions.time_limit``): the checks it leaves score
0 with that reason.
"""

from __future__ import annotations

import importlib
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from launchpad.grading.checks import Check, CheckFailed, Partial, Registry, load_extra_checks
from launchpad.grading.hidden import hidden_last
from launchpad.grading.results import CheckResult, GradeReport

__all__ = [
    "EXERCISES",
    "Exercise",
    "GradingOptions",
    "describe_exception",
    "grade_submission",
    "load_exercise",
    "not_run",
    "run_check",
]

EXERCISES = {"checkout": "launchpad.grading.checkout:EXERCISE"}
"""Exercise name -> ``module:attribute`` of its ``Exercise``."""


@dataclass(frozen=True)
class GradingOptions:
    """Knobs of one grading run.

    Attributes:
        call_timeout: seconds the submission is told to allow each service call; the
            grader's fault checks expect an answer soon after it.
        load_timeout: seconds that importing the submission and ``create_app`` may take.
        redis_url: ``None`` = embedded Redis (the default: hermetic and fast).
        visible_only: run only the visible checks (``launchpad check``).
        only: run only these check names (debugging a single check).
        time_limit: seconds for the whole grading; the checks past it are not run.
        private: folders the submission's process must not see (an instructor's checks).
    """

    call_timeout: float = 1.0
    load_timeout: float = 10.0
    time_limit: float = 60.0
    private: tuple[Path, ...] = ()
    redis_url: str | None = None
    visible_only: bool = False
    only: frozenset[str] = field(default_factory=frozenset)


class CheckContext(Protocol):
    """What an exercise gives its checks; the engine needs the hooks and the clock."""

    def before_check(self, check: Check) -> None: ...

    def after_check(self, check: Check) -> None: ...

    def startup_seconds(self) -> float:
        """Seconds spent so far waiting for the submission's processes to start."""
        ...

    @property
    def isolation(self) -> str: ...

    @property
    def answers(self) -> dict[str, str]: ...


class Exercise(Protocol):
    """An exercise the grader knows: its checks, and how to set up a submission."""

    name: str

    @property
    def registry(self) -> Registry: ...

    def open(
        self, submission: Path, options: GradingOptions
    ) -> AbstractContextManager[CheckContext]: ...


def load_exercise(name: str) -> Exercise:
    if name not in EXERCISES:
        raise KeyError(f"unknown exercise {name!r}; known: {', '.join(EXERCISES)}")
    module_name, attr = EXERCISES[name].split(":")
    exercise: Exercise = getattr(importlib.import_module(module_name), attr)
    return exercise


def describe_exception(exc: BaseException, roots: tuple[Path, ...] = ()) -> str:
    """``exc`` in one line, pointing at the deepest frame inside ``roots`` (the submission).

    A learner gets "KeyError: 'email' (checkout.py, line 42, in create_app)", not a
    grader's traceback.
    """
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    where = None
    resolved = [r.resolve() for r in roots]
    for frame in traceback.extract_tb(exc.__traceback__):
        path = Path(frame.filename).resolve()
        for root in resolved:
            if path.is_relative_to(root):
                where = f"{path.relative_to(root)}, line {frame.lineno}, in {frame.name}"
    return f"{text} ({where})" if where else text


def run_check(
    item: Check, context: CheckContext, roots: tuple[Path, ...] = (), limit: float | None = None
) -> CheckResult:
    """Run one check within its time limit (or ``limit``, if shorter) and judge the outcome."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["outcome"] = item.run(context)
        except BaseException as exc:  # judged below, in the engine's thread
            box["error"] = exc

    result = CheckResult(
        name=item.name,
        title=item.title,
        points=item.points,
        score=0.0,
        status="failed",
        hint=item.hint,
        visibility=item.visibility,
        extra_credit=item.extra_credit,
        todo=item.todo,
    )
    started = time.monotonic()
    context.before_check(item)
    thread = threading.Thread(target=target, name=f"check-{item.name}", daemon=True)
    began, waited = time.monotonic(), context.startup_seconds()
    thread.start()
    allowed = item.time_limit if limit is None else max(0.0, min(limit, item.time_limit))
    excluded = 0.0  # seconds this check waited for a process to start
    while True:
        excluded = context.startup_seconds() - waited
        until = began + allowed + excluded
        if limit is not None:
            until = min(until, began + limit)  # the grading's own limit is never extended
        left = until - time.monotonic()
        if left <= 0 or not thread.is_alive():
            break
        thread.join(left)
    result.seconds = round(time.monotonic() - started, 3)
    try:
        context.after_check(item)
    except Exception as exc:  # a cleanup problem must not cost the next checks
        box.setdefault("error", exc)
    if thread.is_alive():
        result.status = "timed_out"
        result.message = f"timed out after {allowed:g} s"
        if excluded >= 0.5:
            result.message += f" (not counting {excluded:.0f} s starting a process)"
        return result
    if "error" in box:
        error: BaseException = box["error"]
        if isinstance(error, CheckFailed):
            result.message = error.explain()
        elif isinstance(error, AssertionError) and str(error):
            result.message = str(error)
        else:
            result.message = "the submission raised " + describe_exception(error, roots)
        return result
    outcome = box.get("outcome")
    if isinstance(outcome, Partial):
        result.score = round(item.points * outcome.fraction, 2)
        result.status = "passed" if outcome.fraction >= 1.0 else "partial"
        result.message = "" if outcome.fraction >= 1.0 else outcome.reason
        if outcome.fraction == 0.0:
            result.status = "failed"
        return result
    result.score = item.points
    result.status = "passed"
    return result


def _selected(registry: Registry, options: GradingOptions) -> Iterator[Check]:
    for item in registry:
        if options.visible_only and item.visibility != "visible":
            continue
        if options.only and item.name not in options.only:
            continue
        yield item


def grade_submission(
    submission: Path,
    exercise: str = "checkout",
    *,
    options: GradingOptions | None = None,
    extra_checks: Path | None = None,
    on_begin: Callable[[Check], None] | None = None,
    on_result: Callable[[CheckResult], None] | None = None,
    checks: list[Check] | None = None,
) -> GradeReport:
    """Grade one submission folder and return its report (see the module docstring).

    ``checks`` (from ``planned_checks()``) saves loading the registry twice.
    """
    options = options or GradingOptions()
    started = time.monotonic()
    until = started + options.time_limit
    kind = load_exercise(exercise)
    if checks is None:
        checks = planned_checks(exercise, options, extra_checks)
    if extra_checks is not None:
        options = replace(options, private=(*options.private, Path(extra_checks).resolve()))
    report = GradeReport(submission=str(submission), exercise=exercise)
    roots = (Path(submission),)
    with kind.open(Path(submission), options) as context:
        report.isolation = context.isolation
        report.answers = dict(context.answers)
        for item in checks:
            left = until - time.monotonic()
            if left <= 0:
                report.outcome = "timed_out"
                report.note = f"timed out after {options.time_limit:g} s"
                report.results.append(not_run(item, f"not run: {report.note}"))
                continue
            if on_begin is not None:
                on_begin(item)
            result = run_check(item, context, roots, limit=left)
            report.results.append(result)
            if on_result is not None:
                on_result(result)
    report.seconds = round(time.monotonic() - started, 2)
    return report


def not_run(item: Check, reason: str) -> CheckResult:
    return CheckResult(
        name=item.name,
        title=item.title,
        points=item.points,
        score=0.0,
        status="not_run",
        message=reason,
        hint=item.hint,
        visibility=item.visibility,
        extra_credit=item.extra_credit,
        todo=item.todo,
    )


def planned_checks(
    exercise: str, options: GradingOptions, extra_checks: Path | None = None
) -> list[Check]:
    """The checks ``grade_submission()`` would run, in order.

    Hidden checks run last, so what a submission sees during one cannot reach a visible
    check's message (see ``launchpad.grading.hidden``).
    """
    registry = load_exercise(exercise).registry.copy()
    if extra_checks is not None:
        load_extra_checks(extra_checks, registry)
    return hidden_last(_selected(registry, options))
