"""The checkout exercise's checks: one per requirement, each with its points and hint.

Each check builds its situation in the lab (a bad token, a payment service that hangs,
the same request twice), sends real requests through the gateway, and reads the lab's
recorders to see what the submission did. A failure says what was sent, what came back
and what was expected; a hint says where to look, never what to write.

The checks register in the order they run: one module per part of the exercise.
"""

from __future__ import annotations

import importlib

from launchpad.grading.checkout.checks.base import CHECKS
from launchpad.grading.checkout.checks.decisions import EXPECTED_MODES

__all__ = ["CHECKS", "EXPECTED_MODES", "PARTS"]

PARTS = ("decisions", "request", "payment", "orders", "workers")
"""The modules of checks, in the order their checks run (importing one registers them)."""

for _part in PARTS:
    importlib.import_module(f"{__name__}.{_part}")
