"""Grade a whole class: every submission folder in a directory, into one gradebook.

Each submission is graded with its own time limit, its code in confined processes of
its own (see ``launchpad.grading.sandbox``), a few at a time, so one that hangs,
crashes or floods costs only its own grade; even a failure of the grader on one
submission becomes that submission's row. The CSV gradebook (one row per submission,
one column per check) is rewritten, atomically, as each row completes, and so is each
``results.json`` if asked; a summary table ends the run.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from launchpad.grading.engine import GradingOptions, grade_submission, not_run, planned_checks
from launchpad.grading.results import GradeReport, write_atomic, write_results

__all__ = ["find_submissions", "grade_batch", "gradebook_csv", "print_summary"]


def find_submissions(folder: Path) -> list[Path]:
    """The submission folders in ``folder``: every sub-folder not starting with ``.``/``_``."""
    return sorted(
        p for p in Path(folder).iterdir() if p.is_dir() and not p.name.startswith((".", "_"))
    )


def grade_batch(
    folder: Path,
    *,
    exercise: str = "checkout",
    options: GradingOptions | None = None,
    extra_checks: Path | None = None,
    jobs: int = 2,
    results_dir: Path | None = None,
    gradebook: Path | None = None,
    console: Console | None = None,
    on_report: Callable[[GradeReport], None] | None = None,
) -> list[GradeReport]:
    """Grade every submission in ``folder``; returns the reports in name order.

    ``gradebook`` is rewritten after every submission, with the rows so far.
    """
    submissions = find_submissions(folder)
    console = console or Console(stderr=True)
    reports: dict[Path, GradeReport] = {}
    columns = (
        TextColumn("[bold]grading"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
    )
    with (
        Progress(*columns, console=console, transient=False) as progress,
        ThreadPoolExecutor(max_workers=max(1, jobs)) as pool,
    ):
        task = progress.add_task("", total=len(submissions))
        futures = {
            pool.submit(_grade_one, sub, exercise, options, extra_checks): sub
            for sub in submissions
        }
        for future in as_completed(futures):
            sub = futures[future]
            report = future.result()
            report.submission = sub.name
            reports[sub] = report
            if gradebook is not None:
                write_atomic(gradebook, gradebook_csv([reports[s] for s in sorted(reports)]))
            if results_dir is not None:
                write_results(report, Path(results_dir) / sub.name / "results.json")
            if on_report is not None:
                on_report(report)
            progress.update(task, advance=1, description=f"{sub.name}: {report.score:g}")
    return [reports[s] for s in submissions]


def _grade_one(
    sub: Path, exercise: str, options: GradingOptions | None, extra_checks: Path | None
) -> GradeReport:
    """One row, whatever happens: a failure of the grader itself is that row's note."""
    try:
        return grade_submission(sub, exercise, options=options, extra_checks=extra_checks)
    except Exception as exc:
        report = GradeReport(submission=str(sub), exercise=exercise, outcome="crashed")
        report.note = f"the grader failed on this submission: {type(exc).__name__}: {exc}"
        for item in planned_checks(exercise, options or GradingOptions(), extra_checks):
            report.results.append(not_run(item, f"not run: {report.note}"))
        return report


def gradebook_csv(reports: list[GradeReport]) -> str:
    """One row per submission: score, max, outcome, note, then each check's points."""
    names: list[str] = []
    for report in reports:
        names += [r.name for r in report.results if r.name not in names]
    out = io.StringIO()
    writer = csv.writer(out)
    asked: list[str] = []
    for report in reports:
        asked += [k for k in report.answers if k not in asked]
    whys = [f"why:{k}" for k in asked]
    writer.writerow(["submission", "score", "max_score", "outcome", "note", *names, *whys])
    for report in reports:
        scores = {r.name: r.score for r in report.results}
        writer.writerow(
            [
                report.submission,
                f"{report.score:g}",
                f"{report.max_score:g}",
                report.outcome,
                report.note,
                *(f"{scores[n]:g}" if n in scores else "" for n in names),
                *(report.answers.get(k, "") for k in asked),
            ]
        )
    return out.getvalue()


def print_summary(reports: list[GradeReport], console: Console | None = None) -> None:
    """A table of submissions with their scores, and how often each check passed."""
    console = console or Console()
    table = Table(title="gradebook", header_style="bold")
    table.add_column("submission")
    table.add_column("score", justify="right")
    table.add_column("outcome")
    table.add_column("checks not passed", overflow="fold")
    for report in reports:
        style = "" if report.outcome == "complete" else "red"
        failed = report.failed()
        table.add_row(
            report.submission,
            f"{report.score:g}/{report.max_score:g}",
            f"[{style}]{report.outcome}[/]" if style else report.outcome,
            ", ".join(failed) if len(failed) <= 6 else f"{len(failed)} checks",
        )
    console.print(table)
    if not reports:
        return
    checks = Table(title="checks", header_style="bold")
    checks.add_column("check")
    checks.add_column("passed", justify="right")
    for result in reports[0].results:
        passed = sum(
            1
            for rep in reports
            for r in rep.results
            if r.name == result.name and r.status == "passed"
        )
        checks.add_row(result.name, f"{passed}/{len(reports)}")
    console.print(checks)
