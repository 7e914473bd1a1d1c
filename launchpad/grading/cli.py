"""``launchpad grade`` (the instructor's) and ``launchpad check`` (the student's).

    launchpad grade SUBMISSION [--json results.json] [--checks DIR]
    launchpad grade --batch DIR [--out gradebook.csv] [--results-dir DIR] [--jobs N]
    launchpad check [FOLDER]           (default: exercises/checkout)

Both run the submission's code in a confined process of its own (see
``launchpad.grading.sandbox``) within a time limit, so a submission that hangs, crashes
or floods still gets a scorecard and a results file.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from launchpad.grading.batch import grade_batch, print_summary
from launchpad.grading.checks import ExtraChecksError
from launchpad.grading.engine import (
    GradingOptions,
    grade_submission,
    load_exercise,
    planned_checks,
)
from launchpad.grading.results import write_results
from launchpad.grading.scorecard import print_scorecard, print_student_view
from launchpad.logging import configure_logging

__all__ = ["check_main", "grade_main"]


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--time-limit",
        type=float,
        default=GradingOptions.time_limit,
        help="seconds for one submission in all (default %(default)g)",
    )
    parser.add_argument(
        "--call-timeout",
        type=float,
        default=GradingOptions.call_timeout,
        help="the timeout the submission is given for its calls "
        "(env.timeout, default %(default)g s)",
    )
    parser.add_argument(
        "--redis-url", default=None, help="grade on this Redis instead of the embedded one"
    )
    parser.add_argument("--exercise", default="checkout")


def _options(args: argparse.Namespace, **extra: object) -> GradingOptions:
    return GradingOptions(
        call_timeout=args.call_timeout,
        redis_url=args.redis_url,
        time_limit=args.time_limit,
        **extra,  # type: ignore[arg-type]
    )


def grade_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="launchpad grade",
        description="Grade one submission folder, or every folder in --batch DIR.",
    )
    parser.add_argument("submission", nargs="?", type=Path, help="a submission folder")
    parser.add_argument(
        "--batch", type=Path, metavar="DIR", help="grade every submission folder in DIR"
    )
    parser.add_argument(
        "--json", type=Path, metavar="FILE", help="write Gradescope's results.json here"
    )
    parser.add_argument(
        "--checks", type=Path, metavar="DIR", help="a folder of your own checks (*.py using @check)"
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="CHECK",
        help="run only this check (repeatable)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("gradebook.csv"),
        help="--batch: the CSV gradebook (default %(default)s)",
    )
    parser.add_argument(
        "--results-dir",
        type=Path,
        default=None,
        help="--batch: write DIR/<submission>/results.json for each",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=4,
        help="--batch: submissions graded at once (default %(default)s; grading mostly "
        "waits on purpose, so more than the number of cores is fine)",
    )
    _common(parser)
    args = parser.parse_args(argv)
    configure_logging("off")  # the lab's services would log every request the checks send
    console, errors = Console(), Console(stderr=True)
    if (args.submission is None) == (args.batch is None):
        parser.error("give one SUBMISSION folder, or --batch DIR")
    folder = args.batch or args.submission
    if not folder.is_dir():
        errors.print(f"[red]{folder} is not a folder[/]")
        return 2
    if args.checks is not None and not args.checks.is_dir():
        errors.print(f"[red]--checks {args.checks} is not a folder[/]")
        return 2
    options = _options(args, only=frozenset(args.only))
    try:
        if not planned_checks(args.exercise, options, args.checks):
            errors.print(f"[red]no check is selected (--only {' '.join(args.only)})[/]")
            return 2
        if args.batch is not None:
            return _batch(args, options, console)
        report = grade_submission(
            args.submission, args.exercise, options=options, extra_checks=args.checks
        )
    except ExtraChecksError as exc:
        errors.print(f"[red]your extra checks did not load: {exc}[/]")
        return 2
    print_scorecard(report, console)
    if args.json is not None:
        write_results(report, args.json)
        console.print(f"wrote {args.json}")
    return 0


def _batch(args: argparse.Namespace, options: GradingOptions, console: Console) -> int:
    reports = grade_batch(
        args.batch,
        exercise=args.exercise,
        options=options,
        extra_checks=args.checks,
        jobs=args.jobs,
        results_dir=args.results_dir,
        gradebook=args.out,
    )
    print_summary(reports, console)
    console.print(f"wrote {args.out} ({len(reports)} submissions)")
    return 0


def check_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="launchpad check",
        description="Run the exercise's visible checks on your work, with hints.",
    )
    parser.add_argument(
        "folder",
        nargs="?",
        type=Path,
        default=Path("exercises/checkout"),
        help="your exercise folder (default %(default)s)",
    )
    _common(parser)
    parser.set_defaults(time_limit=30.0)
    args = parser.parse_args(argv)
    configure_logging("off")
    if not args.folder.is_dir():
        Console(stderr=True).print(f"[red]{args.folder} is not a folder[/]")
        return 2
    options = _options(args, visible_only=True)
    report = grade_submission(args.folder, args.exercise, options=options)
    registry = load_exercise(args.exercise).registry
    print_student_view(report, hidden=sum(1 for c in registry if c.visibility == "hidden"))
    visible = [r for r in report.results if not r.extra_credit]
    return 0 if all(r.status == "passed" for r in visible) else 1


def main(argv: Sequence[str] | None = None) -> int:  # pragma: no cover - for python -m
    import sys

    return grade_main(list(sys.argv[1:] if argv is None else argv))
