"""Tiny submissions with the results.json the grader must write for them, kept side by side
(``examples/<name>/submission/`` and ``examples/<name>/results.json``).

The submission is copied to a temporary folder first (``*.py.txt`` becomes ``*.py``: a
file with a syntax error cannot live in the test tree as ``.py``, where linters read it).
Run ids, key names and timings vary from run to run and are normalised before comparing.
To write the expected files again after a deliberate change:
``LAUNCHPAD_REGEN_EXPECTED=1 pytest tests/grading/test_examples.py``.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from launchpad.grading.engine import grade_submission
from launchpad.grading.results import GradescopeResults, to_gradescope

from .conftest import EXAMPLES, OPTIONS, materialise

NAMES = sorted(p.name for p in EXAMPLES.iterdir() if (p / "submission").is_dir())
VARYING = [
    (re.compile(r"key-[0-9a-f]{10}-\d+"), "key-<run>-<n>"),
    (re.compile(r"grader-[0-9a-f]{10}-trace"), "grader-<run>-trace"),
]


def normalised(results: GradescopeResults, folder: Path) -> dict[str, Any]:
    data = results.model_dump(mode="json", exclude_none=True)
    data.pop("execution_time")
    text = json.dumps(data, indent=2, sort_keys=True).replace(str(folder), "<submission>")
    for pattern, replacement in VARYING:
        text = pattern.sub(replacement, text)
    normal: dict[str, Any] = json.loads(text)
    return normal


@pytest.mark.parametrize("name", NAMES)
def test_the_grader_writes_the_expected_results(name: str, tmp_path: Path) -> None:
    folder = materialise(name, tmp_path / name)
    got = normalised(to_gradescope(grade_submission(folder, options=OPTIONS)), folder)
    expected_file = EXAMPLES / name / "results.json"
    if os.environ.get("LAUNCHPAD_REGEN_EXPECTED") == "1":
        expected_file.write_text(json.dumps(got, indent=2, sort_keys=True) + "\n")
    expected = json.loads(expected_file.read_text())
    assert got == expected


def test_there_are_examples_of_each_kind_of_broken_submission() -> None:
    assert {"syntax-error", "import-error", "decisions-only", "always-401"} <= set(NAMES)
