"""Grade a submission in a child process with a time limit, and always get a report back.

Student code can hang forever, exit the interpreter, or crash it. So the grader never
runs it in its own process: it starts ``python -m launchpad.grading.isolation`` for each
submission, which grades and writes one JSON line per event to a file:

    {"event": "plan", "checks": [...]}      every check it will run, before any runs
    {"event": "begin", "name": "..."}       a check starts
    {"event": "result", "result": {...}}    a check ended
    {"event": "done", "seconds": 1.9}       all checks ran

The parent waits up to ``time_limit`` seconds, then kills the child's whole process group.
Whatever the child wrote still counts; every check it did not finish scores 0 with the
reason: "timed out after 10 s (during payment_timeout_504)" or "crashed (exit code -9)".
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from launchpad.grading.checks import Check
from launchpad.grading.engine import GradingOptions, grade_submission, planned_checks
from launchpad.grading.results import CheckResult, GradeReport

__all__ = ["child_main", "grade_isolated"]

DEFAULT_TIME_LIMIT = 60.0


def _child_command(
    submission: Path,
    events: Path,
    exercise: str,
    options: GradingOptions,
    extra_checks: Path | None,
) -> list[str]:
    cmd = [
        sys.executable,
        "-m",
        "launchpad.grading.isolation",
        str(submission),
        "--events",
        str(events),
        "--exercise",
        exercise,
        "--call-timeout",
        str(options.call_timeout),
        "--load-timeout",
        str(options.load_timeout),
    ]
    if options.redis_url:
        cmd += ["--redis-url", options.redis_url]
    if options.visible_only:
        cmd.append("--visible-only")
    for name in sorted(options.only):
        cmd += ["--only", name]
    if extra_checks is not None:
        cmd += ["--checks", str(extra_checks)]
    return cmd


def _read_events(path: Path) -> list[dict[str, Any]]:
    events = []
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return []
    for line in text.splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            break  # a line cut short when the child was killed
    return events


def _not_run(item: Check, reason: str) -> CheckResult:
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


def _last_line(path: Path) -> str:
    try:
        lines = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return lines[-1][:300] if lines else ""


def grade_isolated(
    submission: Path,
    exercise: str = "checkout",
    *,
    options: GradingOptions | None = None,
    extra_checks: Path | None = None,
    time_limit: float = DEFAULT_TIME_LIMIT,
) -> GradeReport:
    """Grade ``submission`` in a child process; see the module docstring."""
    options = options or GradingOptions()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="launchpad-grade-") as tmp:
        events_path, stderr_path = Path(tmp) / "events.jsonl", Path(tmp) / "stderr.txt"
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", PYTHONUNBUFFERED="1")
        with open(stderr_path, "wb") as stderr:
            proc = subprocess.Popen(
                _child_command(Path(submission), events_path, exercise, options, extra_checks),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                env=env,
                start_new_session=True,  # its own process group: we can stop all it started
            )
            timed_out = False
            try:
                proc.wait(timeout=time_limit)
            except subprocess.TimeoutExpired:
                timed_out = True
            finally:
                _stop_group(proc)
        events = _read_events(events_path)
        report = _report_from_events(
            submission,
            exercise,
            events,
            options,
            extra_checks,
            proc.returncode,
            timed_out,
            time_limit,
            _last_line(stderr_path),
        )
    report.seconds = round(time.monotonic() - started, 2)
    return report


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    """Kill whatever is left of the child's process group (the child and its children)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)


def _report_from_events(
    submission: Path,
    exercise: str,
    events: list[dict[str, Any]],
    options: GradingOptions,
    extra_checks: Path | None,
    returncode: int | None,
    timed_out: bool,
    time_limit: float,
    stderr_tail: str,
) -> GradeReport:
    report = GradeReport(submission=str(submission), exercise=exercise)
    plan: list[Check] | None = None
    done = False
    running: str | None = None
    finished: dict[str, CheckResult] = {}
    for event in events:
        kind = event.get("event")
        if kind == "plan":
            plan = [_check_from_dict(d) for d in event["checks"]]
        elif kind == "begin":
            running = event["name"]
        elif kind == "result":
            result = CheckResult.from_dict(event["result"])
            finished[result.name] = result
            running = None
        elif kind == "done":
            done = True
    if plan is None:  # the child died before it said what it would run
        plan = planned_checks(exercise, options, extra_checks)
    during = f" (during {running})" if running else ""
    if timed_out:
        report.outcome = "timed_out"
        report.note = f"timed out after {time_limit:g} s{during}"
    elif not done:
        report.outcome = "crashed"
        report.note = f"the grading process stopped early (exit code {returncode}){during}"
        if stderr_tail:
            report.note += f": {stderr_tail}"
    for item in plan:
        report.results.append(finished.get(item.name) or _not_run(item, f"not run: {report.note}"))
    return report


def _check_from_dict(data: dict[str, Any]) -> Check:
    def never(context: Any) -> None:  # pragma: no cover - only the child runs checks
        raise RuntimeError("a check rebuilt from the plan cannot run")

    return Check(
        name=data["name"],
        title=data["title"],
        points=data["points"],
        run=never,
        hint=data.get("hint", ""),
        visibility=data.get("visibility", "visible"),
        time_limit=data.get("time_limit", 5.0),
        extra_credit=data.get("extra_credit", False),
        todo=data.get("todo"),
    )


def _plan_dict(item: Check) -> dict[str, Any]:
    return {
        "name": item.name,
        "title": item.title,
        "points": item.points,
        "hint": item.hint,
        "visibility": item.visibility,
        "time_limit": item.time_limit,
        "extra_credit": item.extra_credit,
        "todo": item.todo,
    }


def child_main(argv: Sequence[str] | None = None) -> int:
    """The child's entry point: grade one submission and write events (see the docstring)."""
    parser = argparse.ArgumentParser(prog="python -m launchpad.grading.isolation")
    parser.add_argument("submission", type=Path)
    parser.add_argument("--events", type=Path, required=True)
    parser.add_argument("--exercise", default="checkout")
    parser.add_argument("--call-timeout", type=float, default=GradingOptions.call_timeout)
    parser.add_argument("--load-timeout", type=float, default=GradingOptions.load_timeout)
    parser.add_argument("--redis-url", default=None)
    parser.add_argument("--visible-only", action="store_true")
    parser.add_argument("--only", action="append", default=[])
    parser.add_argument("--checks", type=Path, default=None)
    args = parser.parse_args(argv)
    options = GradingOptions(
        call_timeout=args.call_timeout,
        load_timeout=args.load_timeout,
        redis_url=args.redis_url,
        visible_only=args.visible_only,
        only=frozenset(args.only),
    )
    from launchpad.logging import configure_logging

    configure_logging("off")  # the services' JSON logs would only fill the stderr file
    with open(args.events, "a", encoding="utf-8") as out:

        def emit(event: dict[str, Any]) -> None:
            out.write(json.dumps(event) + "\n")
            out.flush()

        checks = planned_checks(args.exercise, options, args.checks)
        emit({"event": "plan", "checks": [_plan_dict(c) for c in checks]})
        report = grade_submission(
            args.submission,
            args.exercise,
            options=options,
            checks=checks,
            on_begin=lambda c: emit({"event": "begin", "name": c.name}),
            on_result=lambda r: emit({"event": "result", "result": r.to_dict()}),
        )
        emit({"event": "done", "seconds": report.seconds})
    return 0


if __name__ == "__main__":
    code = child_main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # do not wait for check threads a hung submission still holds
