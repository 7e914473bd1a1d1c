"""Grade a whole class: every submission folder in a directory, into one gradebook.

Each submission is graded in its own child process with its own time limit (see
:mod:`launchpad.grading.isolation`), a few at a time, so one that hangs or crashes costs
only its own grade. The result is a CSV gradebook (one row per submission, one column
per check), a ``results.json`` per submission if asked, and a summary table.
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

from launchpad.grading.engine import GradingOptions
from launchpad.grading.isolation import DEFAULT_TIME_LIMIT, grade_isolated
from launchpad.grading.results import GradeReport, write_results

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
    time_limit: float = DEFAULT_TIME_LIMIT,
    jobs: int = 2,
    results_dir: Path | None = None,
    console: Console | None = None,
    on_report: Callable[[GradeReport], None] | None = None,
) -> list[GradeReport]:
    """Grade every submission in ``folder``; returns the reports in name order."""
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
            pool.submit(
                grade_isolated,
                sub,
                exercise,
                options=options,
                extra_checks=extra_checks,
                time_limit=time_limit,
            ): sub
            for sub in submissions
        }
        for future in as_completed(futures):
            sub = futures[future]
            report = future.result()
            report.submission = sub.name
            reports[sub] = report
            if results_dir is not None:
                write_results(report, Path(results_dir) / sub.name / "results.json")
            if on_report is not None:
                on_report(report)
            progress.update(task, advance=1, description=f"{sub.name}: {report.score:g}")
    return [reports[s] for s in submissions]


def gradebook_csv(reports: list[GradeReport]) -> str:
    """One row per submission: score, max, outcome, note, then each check's points."""
    names: list[str] = []
    for report in reports:
        names += [r.name for r in report.results if r.name not in names]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["submission", "score", "max_score", "outcome", "note", *names])
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
