"""MkDocs hook: the grader's list of checks, as a table made from the grader itself.

A page asks for it with one line::

    <!-- checks: launchpad.grading.checkout.checks:CHECKS -->

and gets one row per check, in the order they run, with the points, the TODO of the starter
it covers and its time limit, plus the total. The numbers come from the same ``Registry``
the grader scores with, so the page cannot promise points the grader does not give. A hidden
check shows its name and points, not what it tests: that is what hidden means.
"""

from __future__ import annotations

import importlib
import re
from typing import Any

from mkdocs.exceptions import PluginError

DIRECTIVE = re.compile(r"^<!--\s*checks:\s*(?P<module>[\w.]+):(?P<name>\w+)\s*-->\s*$")


def _points(value: float) -> str:
    return f"{value:g}"


def _table(module: str, name: str) -> list[str]:
    try:
        registry = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise PluginError(f"checks: cannot load {module}:{name}: {exc}") from exc
    rows = [
        "| check | what it checks | points | covers | time limit |",
        "| --- | --- | ---: | --- | ---: |",
    ]
    total = extra = 0.0
    for check in registry:
        if check.visibility == "hidden":
            title = "*hidden: you see whether it passed, not what it tests*"
        else:
            title = check.title.replace("|", "\\|")
        points = _points(check.points)
        if check.extra_credit:
            points += " extra"
            extra += check.points
        else:
            total += check.points
        rows.append(
            f"| `{check.name}` | {title} | {points} | {check.todo or ''} "
            f"| {_points(check.time_limit)} s |"
        )
    rows += [
        "",
        f"Full marks: **{_points(total)} points** over {len(registry)} checks"
        + (f", plus {_points(extra)} points of extra credit." if extra else "."),
    ]
    return rows


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    out: list[str] = []
    for line in markdown.splitlines():
        match = DIRECTIVE.match(line.strip())
        out.extend(_table(match.group("module"), match.group("name")) if match else [line])
    return "\n".join(out) + "\n"
