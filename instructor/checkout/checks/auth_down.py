"""Hidden check: auth answering 503 is a failure of the call, answered as unavailable.

Instructor-only: this folder is left out of the student copy (``launchpad release``) and
shipped only in the Gradescope autograder. The grader finds it through
``LAUNCHPAD_INSTRUCTOR_DIR`` or the kit's ``instructor/`` folder.
"""

from __future__ import annotations

from launchpad.grading import check
from launchpad.grading.checkout.checks.base import POST, expect_status, no_charge
from launchpad.grading.checkout.lab import CheckoutLab


@check(
    "auth_down_503",
    title="auth is down: 503 or 504, no charge",
    points=4,
    visibility="hidden",
    todo="TODO 2",
    hint="Which errors can the service client raise? Catch what you mean.",
)
def auth_down_503(lab: CheckoutLab) -> None:
    called = f"{POST} while the auth service is down (it answers 503)"
    lab.auth.failing = True
    reply = lab.post_checkout(key=lab.new_key())
    lab.auth.failing = False
    expect_status(
        reply,
        {503, 504},
        called,
        "503 or 504",
        "auth being down was not answered as unavailable",
    )
    no_charge(lab, called, "while the caller was unverified")
