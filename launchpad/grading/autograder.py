"""Gradescope's autograder zip, as ``launchpad release --gradescope`` writes it.

The zip holds ``setup.sh`` (run once when Gradescope builds its image: installs the kit
from the wheel in the zip), ``run_autograder`` (run for each submission: grades it with
``python3 -m launchpad.grading.gradescope``), the kit's wheel built from its *student*
copy, the exercise's starter files, the hidden checks and any course checks.

Threat model: the zip is read by Gradescope and its staff, never by students; its wheel
is still built from the student copy, so a submission that reads the installed kit finds
no solution there. Fault model: ``run_autograder`` always leaves a ``results.json``, even
when the grader itself fails (a zero with a message that says to ask the instructor).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from launchpad.grading.release import (
    Artefact,
    ReleaseError,
    build_student_copy,
    check_free,
    zip_folder,
)

__all__ = ["RUN_AUTOGRADER", "SETUP_SH", "build_autograder", "build_wheel"]


SETUP_SH = """\
#!/usr/bin/env bash
# Gradescope runs this once when it builds the autograder image: the kit from the wheel in
# this zip, its dependencies from PyPI. Written by `launchpad release`.
set -euo pipefail
cd "$(dirname "$0")"
apt-get update -qq && apt-get install -y -qq python3 python3-pip python3-venv >/dev/null || true
python3 -m pip install --quiet --break-system-packages ./{wheel} \\
  || python3 -m pip install --quiet ./{wheel}
"""

RUN_AUTOGRADER = """\
#!/usr/bin/env bash
# Gradescope runs this for each submission. Written by `launchpad release`.
# LAUNCHPAD_AUTOGRADER_ROOT (default /autograder) and LAUNCHPAD_PYTHON (default python3)
# let a test run it under a fake root.
set -uo pipefail
root="${{LAUNCHPAD_AUTOGRADER_ROOT:-/autograder}}"
export LAUNCHPAD_AUTOGRADER_ROOT="$root"
export LAUNCHPAD_INSTRUCTOR_DIR="$root/source/instructor"
export LAUNCHPAD_EXERCISES_DIR="$root/source/exercises"
mkdir -p "$root/results"
"${{LAUNCHPAD_PYTHON:-python3}}" -m launchpad.grading.gradescope --time-limit {time_limit}
status=$?
if [ ! -s "$root/results/results.json" ]; then  # the grader promises a file; keep it if not
  printf '{{"score": 0, "output": "The autograder failed (exit %s); ask your instructor."}}\\n' \\
    "$status" > "$root/results/results.json"
fi
"""


def build_wheel(source: Path, into: Path) -> Path:
    """The kit's wheel, built by pip from ``source`` (a student copy: no instructor files)."""
    into.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(into), "."],
        cwd=source,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    wheels = sorted(into.glob("launchpad-*.whl"))
    if proc.returncode != 0 or not wheels:
        raise ReleaseError(f"pip wheel failed: {proc.stderr[-2000:]}")
    return wheels[0]


def build_autograder(
    kit: Path,
    archive: Path,
    *,
    course_checks: Path | None = None,
    time_limit: float = 300.0,
    force: bool = False,
) -> Artefact:
    """Write Gradescope's autograder zip: ``setup.sh``, ``run_autograder``, the kit's wheel
    (built from its student copy), ``exercises/checkout/``, the hidden checks
    (``instructor/checkout/checks/``) and ``course-checks/`` when given."""
    started = time.perf_counter()
    check_free(archive, force=force)
    hidden = kit / "instructor" / "checkout" / "checks"
    if course_checks is not None and not course_checks.is_dir():
        raise ReleaseError(f"--course-checks {course_checks} is not a folder")
    with tempfile.TemporaryDirectory(prefix="launchpad-autograder-") as tmp:
        work = Path(tmp)
        copy = build_student_copy(kit, work / "kit").path
        stage = work / "source"
        wheel = build_wheel(copy, stage)
        shutil.copytree(copy / "exercises" / "checkout", stage / "exercises" / "checkout")
        if hidden.is_dir():
            shutil.copytree(hidden, stage / "instructor" / "checkout" / "checks", ignore=_pycache)
        if course_checks is not None:
            shutil.copytree(course_checks, stage / "course-checks", ignore=_pycache)
        for name, text in (
            ("setup.sh", SETUP_SH.format(wheel=wheel.name)),
            ("run_autograder", RUN_AUTOGRADER.format(time_limit=f"{time_limit:g}")),
        ):
            (stage / name).write_text(text, encoding="utf-8")
            (stage / name).chmod(0o755)
        archive.parent.mkdir(parents=True, exist_ok=True)
        built = zip_folder(stage, archive)
    return Artefact(archive, built.files, built.size, time.perf_counter() - started)


def _pycache(folder: str, names: list[str]) -> set[str]:
    return {n for n in names if n == "__pycache__" or n.endswith(".pyc")}
