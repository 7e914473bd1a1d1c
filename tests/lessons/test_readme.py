"""The lesson's README shows only code that exists: every Python block is a snippet section.

A block starts with ``# from PATH [SECTION]``; the rest must equal the lines between
``# --8<-- [start:SECTION]`` and ``# --8<-- [end:SECTION]`` in PATH, dedented (the docs
include the same sections the same way), so the README cannot drift from the code. Links to
files must resolve.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LESSON = ROOT / "lessons" / "06-service-communication"
README = LESSON / "README.md"

BLOCK = re.compile(r"```python\n(.*?)```", re.S)
HEADER = re.compile(r"# from (\S+) \[(\w+)\]")


def section(path: Path, name: str) -> str:
    text = path.read_text(encoding="utf-8")
    start = text.index(f"# --8<-- [start:{name}]\n") + len(f"# --8<-- [start:{name}]\n")
    end = text.index(f"# --8<-- [end:{name}]", start)
    return textwrap.dedent(text[start:end]).rstrip() + "\n"


def test_every_python_block_is_a_real_snippet_section() -> None:
    blocks = BLOCK.findall(README.read_text(encoding="utf-8"))
    assert blocks, "the lesson shows some real code"
    for block in blocks:
        first, _, code = block.partition("\n")
        match = HEADER.fullmatch(first.strip())
        assert match, f"a python block must start with '# from PATH [SECTION]': {first!r}"
        path = ROOT / match.group(1)
        assert section(path, match.group(2)) == code.rstrip() + "\n", (
            f"README block {match.group(1)} [{match.group(2)}] differs from the file"
        )


def test_relative_links_resolve() -> None:
    text = README.read_text(encoding="utf-8")
    targets = [
        t
        for t in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
        if not t.startswith(("http://", "https://"))
    ]
    assert targets
    missing = [t for t in targets if not (LESSON / t).exists()]
    assert missing == [], f"README links to missing {missing}"


def test_readme_covers_every_section_of_the_seed_and_every_demo() -> None:
    text = README.read_text(encoding="utf-8")
    headings = re.findall(r"^## (.+)$", text, re.M)
    for wanted in (
        "What you'll learn",
        "Synchronous HTTP between services",
        "How the gateway proxies HTTP",
        "Asynchronous communication through Redis and the queue",
        "Eventual consistency",
        "Idempotency",
        "Redis as the communication backbone",
        "The decision matrix",
        "Step by step",
        "Exercise",
        "Summary",
    ):
        assert wanted in headings
    assert text.count("launchpad lesson 06") >= 8  # the first command, and one per demo
    for demo in LESSON.glob("[a-z]*.py"):
        assert f"launchpad lesson 06 {demo.stem}" in text, f"README never points at {demo.stem}"
