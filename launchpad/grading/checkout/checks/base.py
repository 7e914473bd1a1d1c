"""What every checkout check shares: the registry, and the sentences failures are made of."""

from __future__ import annotations

from launchpad.grading.checkout.lab import CheckoutLab, Reply
from launchpad.grading.checks import CheckFailed, Registry

__all__ = ["CHECKS", "POST", "check", "expect_status", "no_charge", "no_jobs"]

CHECKS = Registry("checkout")
check = CHECKS.check

POST = "POST /checkout"


def expect_status(reply: Reply, wanted: set[int], called: str, expected: str, message: str) -> None:
    if reply.status not in wanted:
        raise CheckFailed(message, called=called, got=reply.describe(), expected=expected)


def no_charge(lab: CheckoutLab, called: str, why: str) -> None:
    if lab.payment.charges:
        raise CheckFailed(
            f"the payment service charged the customer {why}",
            called=called,
            got=f"{len(lab.payment.charges)} charge(s)",
            expected="no charge",
        )


def no_jobs(lab: CheckoutLab, called: str, why: str) -> None:
    tried = [e.what for e in lab.timeline.events if e.source.startswith("queue:")]
    if tried:
        raise CheckFailed(
            f"jobs were queued {why}",
            called=called,
            got=f"queue adds: {', '.join(tried)}",
            expected="no job queued",
        )
