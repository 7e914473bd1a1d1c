"""The examples the site shows from ``docs/examples/`` run, and do what the pages say.

A code sample on the site lives in a real file (included by a named snippet section); the
ones in ``docs/examples/`` belong to no other test folder, so they are run here: the
gateway's in-process example prints the statuses its comments promise, and the
instructor's own checks grade the reference solution and a submission that breaks them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from docs_site import REPO, Build

EXAMPLES = REPO / "docs" / "examples"


def _run(*argv: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    env.pop("REDIS_URL", None)
    return subprocess.run(
        [sys.executable, *argv], cwd=cwd, capture_output=True, text=True, timeout=120, env=env
    )


def test_every_example_is_shown_on_a_page(good_site: Build) -> None:
    pages = "\n".join(p.read_text(encoding="utf-8") for p in (REPO / "docs").rglob("*.md"))
    for readme in set(re.findall(r"<!-- include-section: (\S+\.md)", pages)):
        pages += (REPO / readme).read_text(encoding="utf-8")  # README text the site shows
    for example in EXAMPLES.rglob("*.py"):
        rel = example.relative_to(REPO).as_posix()
        assert rel in pages, f"{rel} is on no page: show it or delete it"


def test_the_gateway_example_prints_what_its_comments_say(good_site: Build) -> None:
    proc = _run("docs/examples/gateway_rules.py")
    assert proc.returncode == 0, proc.stderr
    echoed, _, statuses = proc.stdout.rpartition("}\n")
    sent = json.loads(echoed + "}")
    assert sent["path"] == "/auth/verify"
    assert sent["x-forwarded-by"] == "gateway"
    assert re.fullmatch(r"[0-9a-f-]{36}", sent["x-correlation-id"])
    assert {"x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"} <= set(sent)
    assert statuses.split() == ["404", "400", "502", "405"]
    # and the page shows that run's output next to the code
    page = (good_site.site / "lesson-06" / "gateway" / "index.html").read_text(encoding="utf-8")
    assert 'data-demo="docs/examples/gateway_rules.py"' in page


@pytest.mark.instructor_kit  # grades the reference solution
def test_the_instructors_own_checks_grade_as_the_guide_says(tmp_path: Path) -> None:
    checks = "docs/examples/course-checks"
    only = ["--only", "no_print", "--only", "declined_body"]
    good = tmp_path / "good.json"
    proc = _run(
        "-m", "launchpad.cli", "grade", "solutions/checkout", "--checks", checks, *only,
        "--json", str(good),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(good.read_text(encoding="utf-8"))["score"] == 3

    noisy = tmp_path / "noisy"
    shutil.copytree(REPO / "solutions" / "checkout", noisy)
    source = noisy / "checkout.py"
    source.write_text(source.read_text(encoding="utf-8") + "\nprint('hello')\n", encoding="utf-8")
    bad = tmp_path / "bad.json"
    _run(
        "-m", "launchpad.cli", "grade", str(noisy), "--checks", checks, *only,
        "--json", str(bad),
    )  # fmt: skip
    results = json.loads(bad.read_text(encoding="utf-8"))
    assert results["score"] == 1, results
    failed = [t for t in results["tests"] if t["score"] < t["max_score"]]
    assert any("print()" in t["output"] for t in failed), failed


def test_python_in_the_readmes_the_site_shows_is_real_code() -> None:
    """A README the site takes text from shows Python only as a copy of a snippet section
    (``# from PATH [SECTION]``), which the site replaces with the file itself."""
    import textwrap

    pages = "\n".join(p.read_text(encoding="utf-8") for p in (REPO / "docs").rglob("*.md"))
    readmes = set(re.findall(r"<!-- include-section: (\S+\.md)", pages))
    assert readmes
    for readme in sorted(readmes):
        text = (REPO / readme).read_text(encoding="utf-8")
        for block in re.findall(r"^```python\n(.*?)^```", text, re.S | re.M):
            first, _, code = block.partition("\n")
            header = re.fullmatch(r"# from (\S+) \[([\w-]+)\]", first.strip())
            assert header, f"{readme}: a Python block that is not a snippet copy: {first!r}"
            source = (REPO / header.group(1)).read_text(encoding="utf-8")
            start = f"# --8<-- [start:{header.group(2)}]\n"
            section = source[source.index(start) + len(start) :]
            section = section[: section.index(f"# --8<-- [end:{header.group(2)}]")]
            assert textwrap.dedent(section).rstrip() == code.rstrip(), (
                f"{readme}: the copy of {header.group(1)} [{header.group(2)}] differs from it"
            )


def test_the_queue_example_sends_its_job_and_stops_on_ctrl_c() -> None:
    import signal
    import time

    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("REDIS_URL", None)  # as a reader runs it first: the embedded Redis
    proc = subprocess.Popen(
        [sys.executable, "docs/examples/queue_start.py"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # blocks until the worker has run the job
        assert line.strip() == "sending {'to': 'ada@example.com'}", line
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0, proc.stderr.read() if proc.stderr else ""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
