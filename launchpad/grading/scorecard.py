"""Print a report as a rich scorecard: the instructor's full view or the student's view.

The instructor (``launchpad grade``) sees every check, hidden ones marked as such, with
the message and the hint of each failure. The student (``launchpad check``) sees the
visible checks only and, like rustlings, one clear next step: the first check that
failed, what happened, and where to look. The student's view is printed from
``student_view()``, so it cannot quote a hidden check.
"""

from __future__ import annotations

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from launchpad.grading.hidden import student_view
from launchpad.grading.results import CheckResult, GradeReport

__all__ = ["print_scorecard", "print_student_view"]

MARKS = {
    "passed": ("✔", "green"),
    "partial": ("◐", "yellow"),
    "failed": ("✘", "red"),
    "timed_out": ("⏱", "red"),
    "not_run": ("-", "dim"),
}


def _points(r: CheckResult) -> str:
    return f"{r.score:g}/{r.points:g}" + ("+" if r.extra_credit else "")


def _headline(report: GradeReport) -> Text:
    extra = sum(r.score for r in report.results if r.extra_credit)
    text = Text.assemble(
        ("score ", "bold"),
        (f"{report.score:g} / {report.max_score:g}", "bold cyan"),
        (f"  (incl. {extra:g} extra credit)" if extra else "", "cyan"),
        (f"   {report.seconds:.1f} s", "dim"),
    )
    if report.outcome != "complete":
        text.append(f"\n{report.outcome.replace('_', ' ')}: {report.note}", style="bold red")
    if report.isolation:
        text.append(f"\nisolation: {report.isolation}", style="dim")
    return text


def print_scorecard(report: GradeReport, console: Console | None = None) -> None:
    """The instructor's view: every check, its points, and why it failed."""
    console = console or Console()
    table = Table(show_lines=False, header_style="bold", expand=False)
    table.add_column("", width=1)
    table.add_column("check")
    table.add_column("points", justify="right")
    table.add_column("what happened, and where to look", overflow="fold")
    for r in report.results:
        mark, style = MARKS[r.status]
        name = Text(r.name, style="bold" if r.status != "passed" else "")
        if r.visibility == "hidden":
            name.append(" (hidden)", style="magenta")
        if r.extra_credit:
            name.append(" (extra)", style="cyan")
        detail = Text(r.title, style="dim")
        if r.status != "passed":
            detail = Text(r.message or r.status)
            if r.hint:
                detail.append(f"\nhint: {r.hint}", style="yellow")
        table.add_row(Text(mark, style=style), name, _points(r), detail)
    title = f"[bold]{report.exercise}[/]: {report.submission}"
    console.print(Panel(Group(_headline(report), table), title=title, expand=False))


def print_student_view(
    report: GradeReport, console: Console | None = None, *, hidden: int | None = None
) -> None:
    """The student's view: visible checks, and what to do next.

    ``hidden``: how many hidden checks the grade will add (when the report has none).
    """
    console = console or Console()
    report = student_view(report)
    shown = [r for r in report.results if r.visibility == "visible"]
    table = Table(box=None, show_header=False, pad_edge=False)
    table.add_column(width=1)
    table.add_column()
    table.add_column(justify="right", style="dim")
    for r in shown:
        mark, style = MARKS[r.status]
        table.add_row(Text(mark, style=style), r.title, _points(r))
    console.print(table)
    earned = sum(r.score for r in shown if not r.extra_credit)
    extra = sum(r.score for r in shown if r.extra_credit)
    possible = sum(r.points for r in shown if not r.extra_credit)
    bonus = f" + {extra:g} extra credit" if extra else ""
    console.print(
        f"\n[bold]{earned:g} / {possible:g}[/]{bonus} points from the visible checks "
        f"({report.seconds:.1f} s)"
    )
    if report.outcome != "complete":
        console.print(f"[bold red]{report.note}[/]")
    hidden = len(report.results) - len(shown) if hidden is None else hidden
    if hidden:
        console.print(f"[dim]{hidden} hidden check(s) run only when your work is graded.[/]")
    todo = next((r for r in shown if r.status != "passed" and not r.extra_credit), None)
    todo = todo or next((r for r in shown if r.status != "passed"), None)
    if todo is None:
        console.print(Panel("Every visible check passes. Well done!", style="green", expand=False))
        return
    body = Text(todo.message or todo.status)
    if todo.hint:
        body.append(f"\n\nhint: {todo.hint}", style="yellow")
    where = f" (see {todo.todo})" if todo.todo else ""
    console.print(
        Panel(
            body,
            title=f"next: {todo.title}{where}",
            title_align="left",
            border_style="yellow",
            expand=False,
        )
    )
