"""The checkout exercise, as the grader sees it: its checks and the lab it runs them in.

``CHECKS`` are the kit's own checks, all visible; the instructor's hidden checks join them
in ``CheckoutExercise.registry`` when this kit has them (see
``launchpad.grading.hidden``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import launchpad
from launchpad.grading.checkout.checks import CHECKS, EXPECTED_MODES
from launchpad.grading.checkout.kit import find_exercise_dir, provided_module
from launchpad.grading.checkout.lab import CheckoutLab
from launchpad.grading.checks import Registry
from launchpad.grading.engine import GradingOptions
from launchpad.grading.hidden import find_instructor_dir, with_hidden_checks
from launchpad.grading.sandbox import confine
from launchpad.grading.submission import copy_submission, read_submission

__all__ = ["CHECKS", "EXERCISE", "EXPECTED_MODES", "CheckoutExercise", "find_exercise_dir"]

MODULE_FILE = "checkout.py"
DECISIONS_FILE = "decisions.toml"


class CheckoutExercise:
    """Loads a submission folder into a ``CheckoutLab`` for the checks."""

    name = "checkout"

    @property
    def registry(self) -> Registry:
        """The kit's checks, then the instructor's hidden checks when they are found."""
        return with_hidden_checks(CHECKS)

    @contextmanager
    def open(self, submission: Path, options: GradingOptions) -> Iterator[CheckoutLab]:
        provided = provided_module()
        sub = read_submission(submission, toml_file=DECISIONS_FILE)
        package = Path(launchpad.__file__).resolve().parent
        exercise = find_exercise_dir("checkout")
        instructor = find_instructor_dir()
        hidden = [package / "grading", *_existing(exercise.parents[1] / "solutions")]
        hidden += [*(_existing(instructor) if instructor else []), *options.private]
        confinement = confine(readonly=[package, exercise], hidden=hidden)
        lab: CheckoutLab | None = None
        try:
            code = copy_submission(Path(submission), confinement.workdir / "submission")
            lab = CheckoutLab(sub, options, provided, confinement, code=code)
            if not (code / MODULE_FILE).is_file():
                lab.app_error = f"{MODULE_FILE} is missing from {submission}"
            yield lab.start()
        finally:
            pids = []
            if lab is not None:
                pids = lab.pids()
                lab.stop()
            confinement.close(pids)


def _existing(path: Path) -> list[Path]:
    return [path.resolve()] if path.is_dir() else []


EXERCISE = CheckoutExercise()
