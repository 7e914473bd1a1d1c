"""Every command the site shows is run here, or checked here and run by the test named.

The commands are read from the *built* site (shell code blocks, and inline code that starts
with ``launchpad``, ``make`` or ``python``), so text that pages take in from the READMEs is
covered too. Each command must match one rule below; a command that matches none fails the
test with the page it is on, so a new example cannot slip onto the site unchecked.

- quick, harmless commands (``launchpad --help``, ``launchpad lessons``) are run;
- commands that start servers or run for long (``launchpad up``, ``launchpad lesson 06``)
  are checked against the real thing (the demo exists, the flags are in ``--help``, the
  Make target exists) and the rule names the test that runs them for real;
- set-up lines (``python3 -m venv .venv``) are what ``make`` runs for you.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from html.parser import HTMLParser
from pathlib import Path

import pytest
from docs_site import REPO, Build, mkdocs_setting

SHELL_LANGUAGES = {
    "language-bash",
    "language-sh",
    "language-shell",
    "language-console",
    "language-powershell",
}
INLINE_COMMAND = re.compile(
    r"^(?:(?:launchpad|make|python3?|py) [a-z.-]|[A-Z_]+=\S+ |\.venv\\Scripts\\\w)"
)
WINDOWS_VENV = re.compile(r"^\.venv\\Scripts\\(?P<tool>\w+)(?P<rest>.*)$")
PLACEHOLDER = re.compile(r"\b[A-Z]{3,}\b(?!=)|<[^>]+>|\.\.\.")
LAUNCHPAD = [sys.executable, "-m", "launchpad.cli"]
# A student copy (`launchpad release`) has no tests/grading: those tests are the instructor's.
STUDENT_COPY = (REPO / ".launchpad-student-copy").is_file()


class _Commands(HTMLParser):
    """Shell lines from code blocks, and command-like inline code, of one page."""

    def __init__(self) -> None:
        super().__init__()
        self.commands: list[str] = []
        self._shell_depth = 0  # >0 inside a shell code block's <div>
        self._div_stack: list[bool] = []
        self._in_pre = 0
        self._code: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = set((dict(attrs).get("class") or "").split())
        if tag == "div":
            shell = bool(classes & SHELL_LANGUAGES)
            self._div_stack.append(shell)
            self._shell_depth += shell
        elif tag == "pre":
            self._in_pre += 1
        elif tag == "code":
            self._code = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "div" and self._div_stack:
            self._shell_depth -= self._div_stack.pop()
        elif tag == "pre":
            self._in_pre -= 1
        elif tag == "code" and self._code is not None:
            text = "".join(self._code)
            self._code = None
            if self._shell_depth and self._in_pre:
                self.commands += _shell_lines(text)
            elif not self._in_pre and INLINE_COMMAND.match(text):
                self.commands.append(text.strip())

    def handle_data(self, data: str) -> None:
        if self._code is not None:
            self._code.append(data)


def _shell_lines(block: str) -> list[str]:
    lines = []
    for raw in re.sub(r"\\\n\s*", " ", block).splitlines():  # join `\` continuations
        line = raw.strip().removeprefix("$ ")
        line = " ".join(re.sub(r"\s+#.*$", "", line).split())  # no trailing comment
        if line and not line.startswith("#"):
            lines.append(line)
    return lines


def site_commands(site: Path) -> dict[str, list[str]]:
    """Command -> the pages that show it."""
    found: dict[str, list[str]] = {}
    for html in Build(site, 0, "").pages():
        parser = _Commands()
        parser.feed(html.read_text(encoding="utf-8"))
        for command in parser.commands:
            found.setdefault(command, []).append(html.relative_to(site).as_posix())
    return found


def _run(argv: list[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    env.pop("REDIS_URL", None)
    return subprocess.run(
        argv, cwd=REPO, capture_output=True, text=True, timeout=timeout, env=env, check=False
    )


@cache
def _help(command: str) -> str:
    proc = _run([*LAUNCHPAD, command, "--help"])
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _flags_known(command: str, words: list[str]) -> str | None:
    """None when every ``--flag`` in ``words`` is one ``launchpad COMMAND --help`` lists."""
    unknown = [
        w.split("=")[0]
        for w in words
        if w.startswith("-") and w.split("=")[0] not in _help(command)
    ]
    return f"launchpad {command} has no option {', '.join(unknown)}" if unknown else None


def _paths_exist(words: list[str]) -> str | None:
    missing = [w for w in words if "/" in w and not w.startswith("-") and not (REPO / w).exists()]
    return f"no such path: {', '.join(missing)}" if missing else None


# ---- the rules -------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    pattern: str
    check: Callable[[re.Match[str]], str | None]
    guarded_by: str  # what runs it for real ("here" = this test)

    def match(self, command: str) -> re.Match[str] | None:
        return re.fullmatch(self.pattern, command)


def run_it(m: re.Match[str]) -> str | None:
    proc = _run([*LAUNCHPAD, *shlex.split(m.group(0))[1:]])
    return None if proc.returncode == 0 else f"exit {proc.returncode}: {proc.stderr[-500:]}"


def lesson_demo(m: re.Match[str]) -> str | None:
    folders = sorted((REPO / "lessons").glob(f"{m.group('n')}-*/lesson.json"))
    if not folders:
        return f"no lesson {m.group('n')}"
    demos = json.loads(folders[0].read_text(encoding="utf-8"))["demos"]
    demo = m.group("demo")
    if demo and demo not in demos:
        return f"lesson {m.group('n')} has no demo {demo} (it has {', '.join(demos)})"
    return None


def demo_script(m: re.Match[str]) -> str | None:
    path = REPO / m.group("path")
    if not path.is_file():
        return f"no such file {m.group('path')}"
    if "__main__" not in path.read_text(encoding="utf-8"):
        return f"{m.group('path')} cannot be run as a script"
    return lesson_demo_by_path(path)


def lesson_demo_by_path(path: Path) -> str | None:
    demos = json.loads((path.parent / "lesson.json").read_text(encoding="utf-8"))["demos"]
    return None if path.stem in demos else f"{path.name} is not one of the lesson's demos"


def service_command(m: re.Match[str]) -> str | None:
    words = shlex.split(m.group(0))[1:]
    command, rest = words[0], words[1:]
    positional = [w for w in rest if not w.startswith("-")]
    if command == "serve" and positional and positional[0] not in _help("serve"):
        return f"launchpad serve does not know {positional[0]}"
    return _flags_known(command, rest)


def grading_command(m: re.Match[str]) -> str | None:
    """Options must exist; the kit's own folders too (a student's folder is an example)."""
    words = shlex.split(m.group(0))[1:]
    kit_paths = [w for w in words[1:] if w.startswith(("exercises/", "solutions/"))]
    return _flags_known(words[0], words[1:]) or _paths_exist(kit_paths)


def release_command(m: re.Match[str]) -> str | None:
    """The instructor's one command for the student copy and the autograder: it must exist."""
    proc = _run([*LAUNCHPAD, "release", "--help"])
    if proc.returncode != 0:
        return "`launchpad release` is not a command of the kit (yet): the page promises it"
    return _flags_known("release", shlex.split(m.group(0))[2:])


def make_target(m: re.Match[str]) -> str | None:
    proc = _run(["make", "-n", m.group("target")], timeout=30)
    return None if proc.returncode == 0 else f"make -n {m.group('target')}: {proc.stderr.strip()}"


def setup_step(m: re.Match[str]) -> str | None:
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    needed = {"venv": "-m venv", "pip": "pip install", "activate": "$(VENV)"}
    for word, text in needed.items():
        if word in m.group(0) and text not in makefile:
            return f"the Makefile no longer does '{text}', so this step is not tested"
    return None


def windows_step(m: re.Match[str]) -> str | None:
    """A Windows line is the Linux line with ``.venv\\Scripts\\``: check that line instead."""
    tool, rest = m.group("tool"), m.group("rest")
    posix = ". .venv/bin/activate" if tool == "activate" else f"{tool}{rest}"
    problems = _problems_of(posix)
    return "; ".join(problems) or None


def _repo_url() -> str:
    return mkdocs_setting("repo_url").rstrip("/")


def clone_step(m: re.Match[str]) -> str | None:
    """The clone command and folder are the ones mkdocs.yml's repo_url gives."""
    url = _repo_url()
    if m.group("url") and m.group("url") != url + ".git":
        return f"clones {m.group('url')}, but mkdocs.yml's repo_url is {url}"
    if m.group("folder") and m.group("folder") != url.rsplit("/", 1)[-1]:
        return f"cd {m.group('folder')}: the clone of {url} makes another folder"
    return None


def settings_env(m: re.Match[str]) -> str | None:
    from launchpad.config import ConfigError, load_settings

    try:
        load_settings({m.group("var"): m.group("value")})
    except ConfigError as exc:
        return str(exc)
    return None


RULES: list[Rule] = [
    Rule(r"launchpad(?: (?:--help|-h|--version|-V|lessons)| [a-z]+ --help)", run_it, "here"),
    # a demo that takes about a second: run it, as the page says
    Rule(r"launchpad lesson 06 decision_matrix(?: --json)?", run_it, "here"),
    Rule(
        r"launchpad lesson (?P<n>\d+)(?: (?P<demo>[a-z_]+))?(?: --json)?",
        lesson_demo,
        "tests/lessons (every demo runs to completion)",
    ),
    Rule(
        r"python3? (?P<path>lessons/[\w./-]+\.py)(?: --json)?",
        demo_script,
        "tests/lessons (every demo runs to completion)",
    ),
    Rule(
        r"launchpad (?:up|serve(?: [a-z]+)?)(?: --?[a-z-]+(?:[ =]\S+)?)*",
        service_command,
        "tests/services",
    ),
    Rule(r"launchpad (?:check|grade)(?: \S+)*", grading_command, "tests/grading"),
    Rule(r"launchpad release(?: \S+)*", release_command, "tests/grading"),
    Rule(
        r"launchpad worker(?: [\w.]+:\w+)?(?: --?[a-z-]+(?:[ =]\S+)?)*",
        lambda m: _flags_known("worker", shlex.split(m.group(0))[2:]),
        "tests/queue/test_queue_cli.py",
    ),
    Rule(
        r"launchpad jobs(?: [\w.-]+)?(?: --?[a-z-]+(?: [\w.-]+)*)*",
        lambda m: _flags_known("jobs", shlex.split(m.group(0))[2:]),
        "tests/core/test_jobs_cli.py",
    ),
    Rule(
        r"launchpad docs (?:build|serve)(?: \S+)*", lambda m: None, "tests/docs/test_docs_build.py"
    ),
    Rule(
        r"make (?P<target>demo|test|docs|lint|bench)(?: PYTHON=python3(?:\.\d+)?)?",
        make_target,
        ".ci/run (make test) and here (make -n)",
    ),
    Rule(
        r"(?:python3?|py) -m venv \.venv|\. \.venv/bin/activate"
        r"|pip install -e (?:\.|'\.\[\w+\]'|\"\.\[\w+\]\")",
        setup_step,
        "the Makefile, which make demo / make test run",
    ),
    Rule(r"python3? -m pytest", lambda m: None, ".ci/run (make test runs pytest)"),
    Rule(WINDOWS_VENV.pattern.strip("^$"), windows_step, "here (as its Linux line)"),
    Rule(
        r"git clone (?P<url>\S+)|cd (?P<folder>[\w.-]+)",
        clone_step,
        "here (the address is mkdocs.yml's repo_url)",
    ),
    Rule(r"(?:export )?(?P<var>[A-Z_]+)=(?P<value>\S+)", settings_env, "here (the value is valid)"),
    Rule(r"(?:python3|py) --version", lambda m: None, "an outside tool: nothing to run"),
    Rule(r"redis-server(?: --port \d+)?(?: &)?", lambda m: None, "an outside tool: nothing to run"),
    # a line of a script meant for another machine (Gradescope's run_autograder)
    Rule(r"cd /autograder/\S+", lambda m: None, "an outside tool: nothing to run"),
]


def _split_env(command: str) -> tuple[list[str], str]:
    """``A=1 B=2 cmd`` -> (["A=1", "B=2"], "cmd")."""
    env = []
    rest = command
    while match := re.match(r"(?P<assign>[A-Z_]+=\S+)\s+(?P<rest>\S.*)", rest):
        env.append(match.group("assign"))
        rest = match.group("rest")
    return env, rest


def _problems_of(command: str) -> list[str]:
    env, rest = _split_env(command)
    parts = [*env, rest]
    problems = []
    for part in parts:
        rule = next((r for r in RULES if r.match(part)), None)
        if rule is None:
            problems.append(f"no rule covers `{part}`: add one to tests/docs/test_docs_commands.py")
            continue
        match = rule.match(part)
        assert match is not None
        if rule.guarded_by != "here" and not rule.guarded_by.startswith(
            ("here", "an outside", "the Makefile")
        ):
            guard = rule.guarded_by.split()[0]
            if not (REPO / guard).exists() and not (STUDENT_COPY and guard == "tests/grading"):
                problems.append(f"`{part}` is said to be run by {guard}, which does not exist")
        why = rule.check(match)
        if why:
            problems.append(f"`{part}`: {why}")
    return problems


def test_every_command_on_the_site_is_run_or_checked(good_site: Build) -> None:
    commands = site_commands(good_site.site)
    assert "launchpad lesson 06" in commands, "the home page path to the first demo is gone"
    checkable = {c: pages for c, pages in commands.items() if not PLACEHOLDER.search(c)}
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = dict(zip(checkable, pool.map(_problems_of, checkable), strict=True))
    report = [
        f"{', '.join(sorted(set(commands[c])))}: {problem}"
        for c, problems in results.items()
        for problem in problems
    ]
    print(
        f"\n{len(checkable)} commands on the site checked, "
        f"{len(commands) - len(checkable)} templates (with a PLACEHOLDER) skipped"
    )
    assert not report, "\n".join(report)


@pytest.mark.parametrize(
    "command",
    [
        "launchpad lesson 06 no_such_demo",
        "python lessons/06-service-communication/nope.py",
        "rm -rf /",
        "git clone https://example.org/other/kit.git",
        "cd kit",
        r".venv\Scripts\launchpad lesson 06 no_such_demo",
    ],
)
def test_a_wrong_or_unknown_command_is_caught(command: str) -> None:
    assert _problems_of(command) != []
