"""Hidden means hidden: no output a student can read carries a hidden check's name, title,
hint, message, or anything the submission saw or said while one ran.

The model test builds runs of any shape (hidden and visible checks in any order, stopped
anywhere) in which the submission quotes everything it saw; the end-to-end tests grade a
hostile submission through the real ``launchpad grade`` / ``launchpad check`` commands and
grep every visible output. The student copy's side (no hidden check in it) is in
``test_release.py``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from launchpad.grading.checkout import CHECKS, EXERCISE
from launchpad.grading.checks import ExtraChecksError, Registry
from launchpad.grading.hidden import (
    INSTRUCTOR_DIR_ENV,
    find_instructor_dir,
    hidden_last,
    student_view,
    with_hidden_checks,
)
from launchpad.grading.results import CheckResult, GradeReport, to_gradescope
from launchpad.grading.scorecard import print_student_view

from .conftest import ROOT, SOLUTION

KIT_HIDDEN = [c for c in EXERCISE.registry if c.visibility == "hidden"]
SECRET = "ZQXSECRET"


def visible_text(report: GradeReport) -> str:
    """Everything a student can read of ``report``: results.json's visible part and the
    student's scorecard."""
    data = to_gradescope(report).model_dump(mode="json")
    parts = [data["output"]]
    for test in data["tests"]:
        if test["visibility"] != "hidden":
            parts += [test["name"], test["output"]]
    console = Console(record=True, width=200, file=open(os.devnull, "w"))  # noqa: SIM115
    print_student_view(report, console)
    parts.append(console.export_text())
    return "\n".join(parts)


# -- the model: a submission that quotes everything it saw -------------------------------


@st.composite
def runs(draw: st.DrawFn) -> GradeReport:
    """A run of visible and hidden checks in any order, stopped at any point or not.

    Each hidden check's name, title, hint and message carry a secret; the submission
    quotes every secret it has seen so far in the messages of later checks and in its
    last words (the note), as a hostile one would.
    """
    kinds = draw(st.lists(st.booleans(), min_size=1, max_size=8))  # True = hidden
    stop = draw(st.one_of(st.none(), st.integers(0, len(kinds) - 1)))
    outcome = "complete" if stop is None else draw(st.sampled_from(["timed_out", "crashed"]))
    seen: list[str] = []
    results = []
    for i, hidden in enumerate(kinds):
        secret = f"{SECRET}{i}" if hidden else ""
        name = f"h{SECRET.lower()}{i}" if hidden else f"visible_{i}"
        if hidden and (stop is None or i <= stop):
            seen.append(secret)  # the submission sees the requests of a check that began
        if stop is not None and i >= stop:
            status, score, message = "not_run", 0.0, "not run: {note}"
        else:
            status = draw(st.sampled_from(["passed", "partial", "failed", "timed_out"]))
            score = 2.0 if status == "passed" else 0.0
            message = "" if status == "passed" else f"got: {' '.join(seen)} {secret}"
        results.append(
            CheckResult(
                name=name,
                title=f"title {secret}",
                points=2.0,
                score=score,
                status=status,  # type: ignore[arg-type]
                message=message,
                hint=f"hint {secret}",
                visibility="hidden" if hidden else "visible",
            )
        )
    note = ""
    if stop is not None:
        note = f"{outcome} (during {results[stop].name}): stderr says {' '.join(seen)}"
        for r in results:
            r.message = r.message.replace("{note}", note)
    return GradeReport("sub", "checkout", results, outcome, note)  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(runs())
def test_no_visible_output_quotes_a_hidden_check(report: GradeReport) -> None:
    text = visible_text(report)
    assert SECRET not in text and SECRET.lower() not in text
    hidden = [r for r in report.results if r.visibility == "hidden"]
    assert text.count("Hidden check") >= len(hidden)


@settings(max_examples=100, deadline=None)
@given(runs())
def test_the_instructor_entries_keep_every_detail(report: GradeReport) -> None:
    tests = to_gradescope(report).tests
    instructor = "\n".join(t.output + t.name for t in tests if t.visibility == "hidden")
    for r in report.results:
        if r.visibility == "hidden":
            assert r.name in instructor and (r.status == "passed" or r.message in instructor)
    assert sum(t.score for t in tests) == report.score
    assert student_view(report).note in (report.note, to_gradescope(report).output)
    if to_gradescope(report).output != report.note:
        assert report.note in instructor


def test_hidden_checks_run_after_every_visible_check() -> None:
    order = [c.visibility for c in hidden_last(EXERCISE.registry)]
    assert order == sorted(order, key=lambda v: v == "hidden")
    assert order[-len(KIT_HIDDEN) :] == ["hidden"] * len(KIT_HIDDEN)


# -- where the hidden checks live ---------------------------------------------------------


def test_the_kit_package_and_student_pages_do_not_carry_the_hidden_checks() -> None:
    assert KIT_HIDDEN, "the instructor's kit has hidden checks"
    assert all(c.visibility == "visible" for c in CHECKS)
    secrets = [s for c in KIT_HIDDEN for s in (c.name, c.title, c.hint)]
    for folder in ("launchpad", "exercises", "docs", "lessons"):
        for path in (ROOT / folder).rglob("*"):
            if path.is_file() and path.suffix in (".py", ".md", ".toml", ".yml", ".html"):
                text = path.read_text(errors="replace")
                leaked = [s for s in secrets if s in text]
                assert not leaked, f"{path.relative_to(ROOT)} names a hidden check: {leaked}"


def test_the_instructor_folder_is_found_by_variable_or_beside_the_kit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(INSTRUCTOR_DIR_ENV, raising=False)
    assert find_instructor_dir() == ROOT / "instructor"
    monkeypatch.setenv(INSTRUCTOR_DIR_ENV, str(tmp_path))
    assert find_instructor_dir() == tmp_path
    assert len(with_hidden_checks(CHECKS)) == len(CHECKS)  # no checkout/checks in it
    monkeypatch.setenv(INSTRUCTOR_DIR_ENV, str(tmp_path / "missing"))
    with pytest.raises(ExtraChecksError, match="is not a folder"):
        find_instructor_dir()


def test_the_instructor_folder_holds_hidden_checks_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "checkout" / "checks"
    folder.mkdir(parents=True)
    (folder / "shown.py").write_text(
        "from launchpad.grading import check\n\n"
        '@check("shown_rule", title="t", points=1)\n'
        "def shown_rule(lab):\n    pass\n"
    )
    monkeypatch.setenv(INSTRUCTOR_DIR_ENV, str(tmp_path))
    with pytest.raises(ExtraChecksError, match="'shown_rule' is visible"):
        with_hidden_checks(Registry("checkout"))


# -- end to end: a hostile submission and the real commands -------------------------------

PROBE_CHECKS = f"""
from launchpad.grading import CheckFailed, check


@check("echo_visible", title="a visible check that quotes the reply", points=1)
def echo_visible(lab):
    reply = lab.post_checkout(key=lab.new_key())
    raise CheckFailed("quoting the reply", got=reply.describe())


@check("probe_{SECRET.lower()}", title="probe title {SECRET}", points=2,
       visibility="hidden", hint="probe hint {SECRET}")
def probe(lab):
    reply = lab.post_checkout(key=lab.new_key(), headers={{"X-Probe": "header {SECRET}"}})
    raise CheckFailed("probe message {SECRET}", got=reply.describe())
"""

# The solution, plus a wrapper that remembers every header it is sent, puts them in every
# answer, and dies quoting them the moment it sees the probe's header.
HOSTILE_TAIL = """

import os as _os
import sys as _sys

_seen = []
_solution_create_app = create_app


def create_app(env):
    app = _solution_create_app(env)

    def hostile(environ, start_response):
        _seen.extend(f"{k}={v}" for k, v in environ.items() if k.startswith("HTTP_"))
        if "HTTP_X_PROBE" in environ:
            _sys.stderr.write("I saw: " + " ".join(_seen) + "\\n")
            _sys.stderr.flush()
            _os._exit(3)
        start_response("500 Internal Server Error", [("Content-Type", "text/plain")])
        return [" ".join(_seen).encode()]

    return hostile
"""


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "launchpad"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
        env=dict(os.environ, COLUMNS="200"),
    )


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hostile") / "submission"
    shutil.copytree(SOLUTION, folder, ignore=shutil.ignore_patterns("__pycache__"))
    with open(folder / "checkout.py", "a", encoding="utf-8") as out:
        out.write(HOSTILE_TAIL)
    return folder


def test_grade_keeps_hidden_checks_out_of_every_visible_output(
    hostile: Path, tmp_path: Path
) -> None:
    checks = tmp_path / "course-checks"
    checks.mkdir()
    (checks / "probe.py").write_text(PROBE_CHECKS)
    out = tmp_path / "results.json"
    names = ["echo_visible", f"probe_{SECRET.lower()}", *(c.name for c in KIT_HIDDEN)]
    only = [arg for name in names for arg in ("--only", name)]
    run = run_cli(
        "grade", str(hostile), "--checks", str(checks), "--json", str(out), *only, cwd=ROOT
    )
    assert run.returncode == 0, run.stderr
    data = json.loads(out.read_text())
    shown = [t for t in data["tests"] if t["visibility"] != "hidden"]
    instructor = [t for t in data["tests"] if t["visibility"] == "hidden"]
    visible = json.dumps([data["output"], shown])
    secrets = [SECRET, SECRET.lower()] + [s for c in KIT_HIDDEN for s in (c.name, c.title, c.hint)]
    assert [s for s in secrets if s in visible] == []
    assert "Hidden check 1" in visible and "echo_visible" in visible
    # the probe ran and the submission's process died quoting it; the grader, which runs
    # in a process of its own, finished the run, and only the instructor reads the quote
    assert data["output"] == ""
    assert SECRET in json.dumps(instructor)
    assert data["score"] == 0


def test_check_shows_no_hidden_check(hostile: Path) -> None:
    run = run_cli("check", str(hostile), cwd=ROOT)
    text = run.stdout + run.stderr
    assert run.returncode == 1
    leaked = [s for c in KIT_HIDDEN for s in (c.name, c.title, c.hint) if s in text]
    assert leaked == []
    assert "hidden check(s) run only when your work is graded" in text
