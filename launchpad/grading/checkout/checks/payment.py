"""TODO 3: the charge. Declined, hung or failing, and a retry after a timeout."""

from __future__ import annotations

from launchpad.grading.checkout.checks.base import POST, check, expect_status, no_jobs
from launchpad.grading.checkout.lab import CheckoutLab
from launchpad.grading.checks import CheckFailed

# -- step 2: the charge -----------------------------------------------------------------


@check(
    "payment_declined_402",
    title="the card is declined: 402 with a clear error",
    points=5,
    todo="TODO 3",
    hint="The payment service answers 402 for a decline: which statuses do you expect?",
)
def payment_declined_402(lab: CheckoutLab) -> None:
    lab.payment.set_mode("decline")
    called = f"{POST} while the payment service declines the card"
    reply = lab.post_checkout(key=lab.new_key())
    expect_status(
        reply,
        {402},
        called,
        '402 with an "error" message',
        "a declined card was not reported as 402",
    )


@check(
    "payment_timeout_504",
    title="payment hangs: 504 within your timeout",
    points=6,
    time_limit=8.0,
    todo="TODO 3",
    hint="Does your client for payment have a timeout, and which status means 'too slow'?",
)
def payment_timeout_504(lab: CheckoutLab) -> None:
    lab.payment.set_mode("hang")
    called = f"{POST} while payment does not answer (env.timeout = {lab.call_timeout:g} s)"
    reply = lab.post_checkout(key=lab.new_key())
    lab.payment.release()
    expect_status(
        reply,
        {504},
        called,
        f"504 within {lab.deadline:.1f} s",
        "the checkout did not give up on a hung payment service",
    )


@check(
    "payment_unavailable_503",
    title="payment is down (it answers 503): 503",
    points=5,
    todo="TODO 3",
    hint="Which error does the service client raise for an answer you did not expect?",
)
def payment_unavailable_503(lab: CheckoutLab) -> None:
    lab.payment.set_mode("fail")
    called = f"{POST} while the payment service answers 503"
    reply = lab.post_checkout(key=lab.new_key())
    expect_status(reply, {503}, called, "503", "a failing payment service was not reported")


@check(
    "no_jobs_when_charge_fails",
    title="no email or stock job when the charge fails",
    points=6,
    time_limit=10.0,
    todo="TODO 3",
    hint="In what order do your steps run? What happens after the charge raises?",
)
def no_jobs_when_charge_fails(lab: CheckoutLab) -> None:
    for mode, what in (("decline", "declines"), ("fail", "answers 503"), ("hang", "hangs")):
        lab.payment.set_mode(mode)
        called = f"{POST} while the payment service {what}"
        with lab.release_payment_after(lab.call_timeout * 1.5):  # a hang ends in a 503
            reply = lab.post_checkout(key=lab.new_key())
        if not any(c.path == "/charges" for c in lab.payment.calls):
            raise CheckFailed(
                "the payment service was never called, so no charge failed",
                called=called,
                got=reply.describe(),
                expected="a charge attempt, then no job queued",
            )
        no_jobs(lab, called, "although the charge failed")


@check(
    "charge_retry_safe",
    title="a retry after a payment timeout charges once",
    points=6,
    time_limit=10.0,
    todo="TODO 3",
    hint="What idempotency key do you send to payment? The same on a retry, another for "
    "another order?",
)
def charge_retry_safe(lab: CheckoutLab) -> None:
    key = lab.new_key()
    lab.payment.set_mode("slow")  # charges, but answers too late
    with lab.release_payment_after(lab.call_timeout * 1.5):
        first = lab.post_checkout(key=key)
    lab.after_check_wait()
    lab.payment.set_mode("ok")
    second = lab.post_checkout(key=key)
    called = (
        f"{POST} twice with Idempotency-Key {key!r}; the first charge succeeded but "
        "its answer came too late"
    )
    expect_status(
        second,
        {200, 201},
        called + f" (first answer: {first.describe()})",
        "200 or 201 for the retry",
        "the retry did not succeed",
    )
    keys = [c.idempotency_key for c in lab.payment.calls if c.path == "/charges"]
    if len(lab.payment.charges) != 1:
        raise CheckFailed(
            "the customer was charged more than once",
            called=called,
            got=f"{len(lab.payment.charges)} charges; keys sent: {keys}",
            expected="1 charge: the same Idempotency-Key to payment on both attempts",
        )
    other = lab.post_checkout(key=lab.new_key())
    if len(lab.payment.charges) != 2:
        keys = [c.idempotency_key for c in lab.payment.calls if c.path == "/charges"]
        raise CheckFailed(
            "another order was not charged: its charge reused the first order's key",
            called=f"then {POST} with another Idempotency-Key (a different order)",
            got=f"{other.describe()}; keys sent to payment: {keys}",
            expected="a second charge, with a key of its own",
        )
