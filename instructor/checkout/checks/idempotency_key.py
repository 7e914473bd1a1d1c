"""Hidden check: a checkout without an Idempotency-Key is refused before anything happens.

Instructor-only: this folder is left out of the student copy (``launchpad release``) and
shipped only in the Gradescope autograder. The grader finds it through
``LAUNCHPAD_INSTRUCTOR_DIR`` or the kit's ``instructor/`` folder.
"""

from __future__ import annotations

from launchpad.grading import check
from launchpad.grading.checkout.checks.base import POST, expect_status, no_charge
from launchpad.grading.checkout.lab import CheckoutLab


@check(
    "missing_idempotency_key",
    title="no Idempotency-Key header: 400, nothing charged",
    points=3,
    visibility="hidden",
    todo="TODO 4",
    hint="What should happen when a request cannot be retried safely?",
)
def missing_idempotency_key(lab: CheckoutLab) -> None:
    called = f"{POST} without an Idempotency-Key header"
    reply = lab.post_checkout(key=None)
    expect_status(
        reply,
        {400, 422},
        called,
        "400 naming the missing header",
        "a checkout without an Idempotency-Key was not refused",
    )
    no_charge(lab, called, "without an Idempotency-Key")
