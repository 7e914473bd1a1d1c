"""The checkout exercise, as the grader sees it: its checks and the lab it runs them in."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from launchpad.grading.checkout.checks import CHECKS, EXPECTED_MODES
from launchpad.grading.checkout.kit import find_exercise_dir, provided_module
from launchpad.grading.checkout.lab import CheckoutLab
from launchpad.grading.engine import GradingOptions
from launchpad.grading.submission import load_submission

__all__ = ["CHECKS", "EXERCISE", "EXPECTED_MODES", "CheckoutExercise", "find_exercise_dir"]

MODULE_FILE = "checkout.py"
DECISIONS_FILE = "decisions.toml"


class CheckoutExercise:
    """Loads a submission folder into a :class:`CheckoutLab` for the checks."""

    name = "checkout"
    registry = CHECKS

    @contextmanager
    def open(self, submission: Path, options: GradingOptions) -> Iterator[CheckoutLab]:
        provided = provided_module()
        sub = load_submission(
            submission,
            module_file=MODULE_FILE,
            toml_file=DECISIONS_FILE,
            preload={"provided": provided},
            time_limit=options.load_timeout,
        )
        lab = CheckoutLab(sub, options, provided)
        try:
            yield lab.start()
        finally:
            lab.stop()


EXERCISE = CheckoutExercise()
