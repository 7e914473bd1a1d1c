"""The Gradescope side of the autograder that ``launchpad release`` builds.

Gradescope unpacks the autograder zip into ``/autograder/source``, runs ``setup.sh`` once
(the kit from the wheel in the zip, its dependencies from PyPI), and for each submission
runs ``run_autograder``, which runs ``python3 -m launchpad.grading.gradescope``. This
module finds the student's work in ``/autograder/submission``, grades it with the hidden
checks (``source/instructor``) and any course checks (``source/course-checks``), and
writes ``/autograder/results/results.json``. ``LAUNCHPAD_AUTOGRADER_ROOT`` moves the root
(the tests use a fake one under a temp folder).

Threat model: the submission is hostile (see ``launchpad/grading/README.md``): it is only
ever *found* here, by walking its folders without following links; the grading itself
runs it in confined processes. Where it puts its files is its choice: a flat upload, a
folder, or a whole copy of the kit with ``exercises/checkout/``. When no ``checkout.py``
is found, the submission's top folder is graded, so the results say what is missing.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

__all__ = ["ROOT_ENV", "find_submission", "main"]

ROOT_ENV = "LAUNCHPAD_AUTOGRADER_ROOT"
MAX_DEPTH = 6


def find_submission(folder: Path) -> Path:
    """The folder of the submission's ``checkout.py``: the shallowest one, preferring one with
    ``decisions.toml`` beside it and then ``exercises/checkout/``; ``folder`` if none."""
    found: list[tuple[bool, bool, int, str, Path]] = []
    for root, dirs, files in os.walk(folder, followlinks=False):
        here = Path(root)
        depth = len(here.relative_to(folder).parts)
        dirs[:] = sorted(
            d for d in dirs if not d.startswith(".") and d != "__pycache__" and depth < MAX_DEPTH
        )
        if "checkout.py" in files and not (here / "checkout.py").is_symlink():
            rel = here.relative_to(folder).as_posix()
            found.append(
                (
                    "decisions.toml" not in files,
                    not rel.endswith("exercises/checkout"),
                    depth,
                    rel,
                    here,
                )
            )
    return min(found)[-1] if found else folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m launchpad.grading.gradescope")
    parser.add_argument("--time-limit", type=float, default=300.0)
    args = parser.parse_args(argv)
    root = Path(os.environ.get(ROOT_ENV) or "/autograder")
    source = root / "source"
    os.environ.setdefault("LAUNCHPAD_INSTRUCTOR_DIR", str(source / "instructor"))
    os.environ.setdefault("LAUNCHPAD_EXERCISES_DIR", str(source / "exercises"))

    from launchpad.grading.engine import GradingOptions, grade_submission
    from launchpad.grading.results import write_results
    from launchpad.logging import configure_logging

    configure_logging("off")
    folder = find_submission(root / "submission")
    course = source / "course-checks"
    print(f"grading {folder}", file=sys.stderr)
    report = grade_submission(
        folder,
        "checkout",
        options=GradingOptions(time_limit=args.time_limit),
        extra_checks=course if course.is_dir() else None,
    )
    (root / "results").mkdir(parents=True, exist_ok=True)
    write_results(report, root / "results" / "results.json")
    return 0


if __name__ == "__main__":  # pragma: no cover - run by run_autograder
    sys.exit(main())
