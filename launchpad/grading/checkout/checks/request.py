"""The request (its body, its Idempotency-Key), the happy path, and TODO 2: the token."""

from __future__ import annotations

from typing import Any

from launchpad.grading.checkout.checks.base import POST, check, expect_status, no_charge, no_jobs
from launchpad.grading.checkout.lab import STOCK, USER_EMAIL, CheckoutLab
from launchpad.grading.checks import CheckFailed

# -- the request ------------------------------------------------------------------------

BAD_BODIES: list[tuple[str, Any]] = [
    ("a body that is not JSON", b"{not json"),
    ("items that are not a list", {"items": "three mugs", "amountCents": 100}),
    ("an empty cart", {"items": [], "amountCents": 100}),
    ("a negative quantity", {"items": [{"sku": "mug", "quantity": -1}], "amountCents": 100}),
    ("a zero amount", {"items": [{"sku": "mug", "quantity": 1}], "amountCents": 0}),
]


@check(
    "rejects_bad_body",
    title="a bad request body is a 4xx, and nothing is charged",
    points=3,
    hint="Look at the request model's field constraints (pydantic Field).",
)
def rejects_bad_body(lab: CheckoutLab) -> None:
    for what, body in BAD_BODIES:
        called = f"{POST} with {what}"
        if isinstance(body, bytes):
            reply = lab.post_checkout(content=body, key=lab.new_key())
        else:
            reply = lab.post_checkout(body, key=lab.new_key())
        if reply.status is None or not 400 <= reply.status < 500:
            raise CheckFailed(
                "a bad body was not refused as the client's error",
                called=called,
                got=reply.describe(),
                expected="400 or 422",
            )
        no_charge(lab, called, "for a bad body")


# -- the happy path ---------------------------------------------------------------------


@check(
    "happy_path",
    title="a valid checkout: 201 with the order, one charge, email and stock",
    points=10,
    todo="TODO 4",
    hint="Follow one order through create_app and both workers; compare with the README.",
)
def happy_path(lab: CheckoutLab) -> None:
    body = lab.order_body(quantity=2)
    called = f"{POST} with a valid token and body {body}"
    reply = lab.post_checkout(body, key=lab.new_key())
    expect_status(
        reply, {201}, called, "201 Created with the order", "the checkout did not create the order"
    )
    order_id = reply.json.get("orderId")
    if not isinstance(order_id, str) or not order_id or reply.json.get("status") != "confirmed":
        raise CheckFailed(
            "the answer does not describe a confirmed order",
            called=called,
            got=reply.describe(),
            expected='a body with "orderId" and "status": "confirmed"',
        )
    charges = lab.payment.charges
    if len(charges) != 1 or charges[0].amount_cents != body["amountCents"]:
        raise CheckFailed(
            "the payment service did not get exactly one charge for the amount",
            called=called,
            got=f"charges: {charges}",
            expected=f"one charge of {body['amountCents']} cents",
        )
    if charges[0].order_id != order_id:
        raise CheckFailed(
            "the charge is not for this order",
            called=called,
            got=f"charge for orderId {charges[0].order_id!r}",
            expected=f"orderId {order_id!r}, as in your answer",
        )
    counts = (len(lab.email_queue.jobs()), len(lab.inventory_queue.jobs()))
    if counts != (1, 1):
        raise CheckFailed(
            "the follow-up work was not queued once each",
            called=called,
            got=f"{counts[0]} email job(s), {counts[1]} inventory job(s)",
            expected="1 job on env.email_queue, 1 on env.inventory_queue",
        )
    lab.run_all_jobs()
    sent = lab.email_provider.sent_to(USER_EMAIL)
    if len(sent) != 1:
        raise CheckFailed(
            "the customer did not get one confirmation email",
            called="your workers on the queued jobs",
            got=f"{len(sent)} email(s) to {USER_EMAIL}",
            expected="1 email to the address auth returned",
        )
    left = lab.inventory.level("mug")
    if left != STOCK["mug"] - 2:
        raise CheckFailed(
            "the stock did not move by the quantity ordered",
            called="your workers on the queued jobs",
            got=f"{left} mugs left",
            expected=f"{STOCK['mug'] - 2}",
        )


# -- step 1: the token ------------------------------------------------------------------


@check(
    "invalid_token_401",
    title="a bad or missing token: 401, no charge, no jobs",
    points=6,
    todo="TODO 2",
    hint="What does verify_token() return for a token auth does not know?",
)
def invalid_token_401(lab: CheckoutLab) -> None:
    for what, token in (
        ("an unknown Bearer token", "not-a-real-token"),
        ("no Authorization header", None),
    ):
        called = f"{POST} with {what}"
        reply = lab.post_checkout(token=token, key=lab.new_key())
        expect_status(reply, {401}, called, "401", "the checkout did not refuse the caller")
        no_charge(lab, called, "for an unauthenticated caller")
        no_jobs(lab, called, "for an unauthenticated caller")


@check(
    "auth_timeout",
    title="auth hangs: a 503/504 within your timeout, no charge",
    points=5,
    time_limit=8.0,
    todo="TODO 2",
    hint="Which timeout does your client for auth use? The env gives you one.",
)
def auth_timeout(lab: CheckoutLab) -> None:
    lab.auth.hang()
    called = f"{POST} while auth does not answer (env.timeout = {lab.call_timeout:g} s)"
    reply = lab.post_checkout(key=lab.new_key())
    lab.auth.release()
    expect_status(
        reply,
        {503, 504},
        called,
        f"503 or 504 within {lab.deadline:.1f} s",
        "the checkout did not give up on a hung auth service",
    )
    no_charge(lab, called, "while the caller was unverified")
