"""The engine on its own: checks with a time limit, partial credit, a submission's errors
as one line (no traceback), and an instructor's checks loaded from a folder."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

import launchpad.grading
from launchpad.grading import Check, CheckFailed, GradingOptions, Partial, Registry
from launchpad.grading.checkout.student import StartupClock
from launchpad.grading.checks import ExtraChecksError, load_extra_checks
from launchpad.grading.engine import describe_exception, grade_submission, run_check

from .conftest import EXAMPLES, OPTIONS, SOLUTION


class Context:
    def __init__(self) -> None:
        self.released = 0
        self.startup = StartupClock()

    def before_check(self, check: Check) -> None:
        pass

    def after_check(self, check: Check) -> None:
        self.released += 1

    def startup_seconds(self) -> float:
        return self.startup.seconds()


def starts_a_slow_process(ctx: Context, seconds: float = 0.8) -> None:
    """A check that waits for a process the machine is slow to start."""
    with ctx.startup.waiting():
        time.sleep(seconds)


def make(fn: Any, **options: Any) -> Check:
    return Check("demo", "a demo check", 4, fn, hint="look here", **options)


def test_a_check_that_returns_earns_its_points() -> None:
    result = run_check(make(lambda ctx: None), Context())
    assert (result.status, result.score, result.message) == ("passed", 4, "")


def test_partial_credit_keeps_the_reason() -> None:
    result = run_check(make(lambda ctx: Partial(0.25, "one of four")), Context())
    assert (result.status, result.score, result.message) == ("partial", 1.0, "one of four")


def test_a_failure_says_called_got_expected() -> None:
    def fails(ctx: Any) -> None:
        raise CheckFailed("nope", called="GET /x", got="500", expected="200")

    result = run_check(make(fails), Context())
    assert result.status == "failed" and result.score == 0
    assert result.message.splitlines() == [
        "nope",
        "  called:   GET /x",
        "  got:      500",
        "  expected: 200",
    ]
    assert result.hint == "look here"


def test_a_hung_check_times_out_and_the_context_lets_go() -> None:
    context = Context()
    started = time.monotonic()
    result = run_check(make(lambda ctx: time.sleep(5), time_limit=0.2), context)
    assert time.monotonic() - started < 2
    assert (result.status, result.message) == ("timed_out", "timed out after 0.2 s")
    assert context.released == 1


def test_waiting_for_a_process_to_start_is_not_counted_against_the_check() -> None:
    """A busy machine may take seconds to start a fresh worker (load_timeout bounds
    that): the check's own limit counts only the check's work."""
    result = run_check(make(starts_a_slow_process, time_limit=0.3), Context())
    assert result.status == "passed", result.message


def test_a_check_that_hangs_after_a_slow_start_still_times_out() -> None:
    def slow_then_hung(ctx: Context) -> None:
        starts_a_slow_process(ctx)
        time.sleep(5)

    started = time.monotonic()
    result = run_check(make(slow_then_hung, time_limit=0.3), Context())
    assert time.monotonic() - started < 3
    assert result.status == "timed_out"
    assert result.message == "timed out after 0.3 s (not counting 1 s starting a process)"


def test_the_grading_limit_is_never_extended_by_a_slow_start() -> None:
    started = time.monotonic()
    result = run_check(make(starts_a_slow_process, time_limit=5), Context(), limit=0.3)
    assert time.monotonic() - started < 0.7
    assert result.status == "timed_out"


def test_an_exception_from_the_submission_is_one_line_pointing_at_its_file(
    tmp_path: Path,
) -> None:
    student = tmp_path / "checkout.py"
    student.write_text("def create_app(env):\n    return env['missing']\n")
    namespace: dict[str, Any] = {}
    exec(compile(student.read_text(), str(student), "exec"), namespace)

    result = run_check(make(lambda ctx: namespace["create_app"]({})), Context(), (tmp_path,))
    assert result.message == (
        "the submission raised KeyError: 'missing' (checkout.py, line 2, in create_app)"
    )
    assert "Traceback" not in result.message


def test_describe_exception_without_a_submission_frame() -> None:
    assert describe_exception(ValueError("bad")) == "ValueError: bad"
    assert describe_exception(ValueError()) == "ValueError"


@pytest.mark.parametrize(
    "fields",
    [
        {"name": "Not Snake"},
        {"points": -1},
        {"time_limit": 0},
        {"visibility": "secret"},
    ],
)
def test_a_badly_declared_check_is_refused(fields: dict[str, Any]) -> None:
    values: dict[str, Any] = {"name": "ok", "title": "t", "points": 1, "run": lambda c: None}
    with pytest.raises(ValueError):
        Check(**(values | fields))


def test_partial_outside_zero_one_is_refused() -> None:
    with pytest.raises(ValueError):
        Partial(1.5, "too much")


def test_a_registry_refuses_two_checks_with_one_name() -> None:
    registry = Registry("demo")
    registry.add(make(lambda ctx: None))
    with pytest.raises(ValueError, match="exists already"):
        registry.add(make(lambda ctx: None))


INSTRUCTOR_CHECK = """
from launchpad.grading import CheckFailed, check

@check("no_print", title="the service logs instead of printing", points=2,
       hint="Use the logger from launchpad.logging.")
def no_print(lab):
    if "print(" in lab.submission.source("checkout.py"):
        raise CheckFailed("checkout.py calls print()", expected="log lines")

@check("secret_rule", title="a rule the students do not see", points=1, visibility="hidden")
def secret_rule(lab):
    raise CheckFailed("always fails")
"""


def test_an_instructor_adds_checks_from_a_folder_without_editing_the_kit(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "course-checks"
    folder.mkdir()
    (folder / "style.py").write_text(INSTRUCTOR_CHECK)
    options = GradingOptions(
        call_timeout=OPTIONS.call_timeout,
        only=frozenset({"decisions_modes", "no_print", "secret_rule"}),
    )
    report = grade_submission(SOLUTION, options=options, extra_checks=folder)
    assert [r.name for r in report.results] == ["decisions_modes", "no_print", "secret_rule"]
    assert report.result("no_print").passed
    assert report.result("secret_rule").visibility == "hidden"
    assert report.result("secret_rule").message == "always fails"


def test_a_broken_instructor_file_names_itself(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("import this_module_does_not_exist\n")
    with pytest.raises(ExtraChecksError, match=r"broken\.py: ModuleNotFoundError"):
        load_extra_checks(tmp_path, Registry("demo"))


def test_visible_only_leaves_out_the_hidden_checks() -> None:
    options = GradingOptions(
        visible_only=True, only=frozenset({"decisions_modes", "missing_idempotency_key"})
    )
    report = grade_submission(EXAMPLES / "decisions-only" / "submission", options=options)
    assert [r.name for r in report.results] == ["decisions_modes"]


def test_every_grading_file_fits_in_a_readers_head() -> None:
    package = Path(launchpad.grading.__file__).parent
    for path in package.rglob("*.py"):
        assert len(path.read_text().splitlines()) <= 350, f"{path} is over 350 lines"


def test_the_public_surface_is_what_all_says() -> None:
    for name in launchpad.grading.__all__:
        assert hasattr(launchpad.grading, name), name
