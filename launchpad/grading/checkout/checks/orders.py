"""TODO 4: the order. Retries of one request, job ids, and the correlation id on every hop."""

from __future__ import annotations

import threading

from launchpad.grading.checkout.checks.base import POST, check, expect_status
from launchpad.grading.checkout.lab import OTHER_EMAIL, USER_EMAIL, CheckoutLab, Reply
from launchpad.grading.checks import CheckFailed

# -- steps 3 and 4: the queue -----------------------------------------------------------


@check(
    "replay_same_order",
    title="the same Idempotency-Key twice: the same order, one charge, one email; "
    "another customer's order with that key is their own",
    points=6,
    todo="TODO 4",
    hint="What should a client that retries a finished checkout get back?",
)
def replay_same_order(lab: CheckoutLab) -> None:
    key = lab.new_key()
    called = f"{POST} twice with Idempotency-Key {key!r}"
    first = lab.post_checkout(key=key)
    second = lab.post_checkout(key=key)
    for reply in (first, second):
        expect_status(
            reply,
            {200, 201},
            called,
            "200 or 201 both times, with the same order",
            "a retried checkout was not answered like the first",
        )
    if first.json.get("orderId") != second.json.get("orderId"):
        raise CheckFailed(
            "the retry created a different order",
            called=called,
            got=f"{first.json.get('orderId')!r} then {second.json.get('orderId')!r}",
            expected="the same orderId",
        )
    if len(lab.payment.charges) != 1:
        raise CheckFailed(
            "the retry charged again",
            called=called,
            got=f"{len(lab.payment.charges)} charges",
            expected="1",
        )
    seen: set[str] = set()
    lab.run_new_jobs(seen)
    sent = lab.email_provider.sent_to(USER_EMAIL)
    if len(sent) != 1:
        raise CheckFailed(
            "the retry sent another email",
            called=called + ", then the workers",
            got=f"{len(sent)} emails",
            expected="1",
        )
    _another_customer(lab, key, first.json.get("orderId"), seen)


def _another_customer(lab: CheckoutLab, key: str, first_order: object, seen: set[str]) -> None:
    """A second customer who happens to send the same key: an order, charge, email of their own."""
    called = f"then {POST} with Idempotency-Key {key!r} as another customer"
    other = lab.post_checkout(key=key, token=lab.other_token)
    order_id = other.json.get("orderId")
    if other.status not in (200, 201) or order_id == first_order:
        raise CheckFailed(
            "another customer who picked the same Idempotency-Key did not get an order of "
            "their own",
            called=called,
            got=other.describe(),
            expected="200 or 201 with another orderId: a key is unique per customer, not worldwide",
        )
    charged = [c for c in lab.payment.charges if c.order_id == order_id]
    if len(lab.payment.charges) != 2 or not charged:
        keys = [c.idempotency_key for c in lab.payment.calls if c.path == "/charges"]
        raise CheckFailed(
            "the other customer's order was not charged",
            called=called,
            got=f"{len(lab.payment.charges)} charges in all; keys sent to payment: {keys}",
            expected=f"a second charge, for order {order_id!r}",
        )
    lab.run_new_jobs(seen)
    emails = lab.email_provider.sent_to(OTHER_EMAIL)
    if len(emails) != 1:
        adds = [f"{a.name} job_id={a.requested_id!r} duplicate={a.duplicate}"
                for a in lab.jobs_added()]  # fmt: skip
        raise CheckFailed(
            "the other customer did not get their confirmation email",
            called=called + ", then the workers",
            got=f"{len(emails)} emails to {OTHER_EMAIL}; queue adds: {adds}",
            expected="1: jobs of their own order",
        )


@check(
    "job_ids_from_order",
    title="two concurrent retries queue each job once",
    points=5,
    todo="TODO 4",
    hint="What job_id do you give each add? Would a retry of this order choose the same?",
)
def job_ids_from_order(lab: CheckoutLab) -> None:
    key = lab.new_key()
    called = f"two concurrent {POST} with Idempotency-Key {key!r}"
    lab.payment.gather_count, lab.payment.gather_wait = 2, lab.call_timeout * 0.6
    lab.require_app()
    lab.payment.set_mode("gather")  # both requests pass the charge together
    replies: list[Reply] = []

    def send() -> None:
        replies.append(lab.post_checkout(key=key))

    threads = [threading.Thread(target=send, daemon=True) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(lab.deadline + 1)
    lab.payment.set_mode("ok")
    if len(replies) != 2:
        raise CheckFailed(
            "a concurrent request got no answer",
            called=called,
            got=f"{len(replies)} answers",
            expected="2 answers",
        )
    # One of the two may time out while it waits for the other (a slow machine): the
    # check is about the jobs, and it needs one order to have gone through.
    if not any(reply.status in (200, 201) for reply in replies):
        expect_status(
            replies[0], {200, 201}, called, "200 or 201", "no concurrent retry went through"
        )
    adds = [f"{a.name} job_id={a.requested_id!r}" for a in lab.jobs_added()]
    counts = (len(lab.email_queue.jobs()), len(lab.inventory_queue.jobs()))
    if counts != (1, 1):
        raise CheckFailed(
            "a retried order queued its work twice",
            called=called,
            got=f"{counts[0]} email jobs, {counts[1]} inventory jobs; adds: {adds}",
            expected="1 of each: the second add finds the job id taken",
        )
    lab.post_checkout(key=lab.new_key())
    counts = (len(lab.email_queue.jobs()), len(lab.inventory_queue.jobs()))
    if counts != (2, 2):
        raise CheckFailed(
            "a different order did not get jobs of its own",
            called=f"then {POST} with another Idempotency-Key",
            got=f"{counts[0]} email jobs, {counts[1]} inventory jobs in all",
            expected="2 of each: one per order",
        )


@check(
    "correlation_forwarded",
    title="the correlation id reaches auth, payment and the jobs",
    points=8,
    todo="TODO 4",
    hint="Where does the service client get the id it forwards? Keep the request's own.",
)
def correlation_forwarded(lab: CheckoutLab) -> None:
    cid = f"grader-{lab.run_id}-trace"
    called = f"{POST} through the gateway with x-correlation-id: {cid}"
    reply = lab.post_checkout(key=lab.new_key(), headers={"x-correlation-id": cid})
    hops = {
        "auth": [c.correlation_id for c in lab.auth.calls],
        "payment": [c.correlation_id for c in lab.payment.calls],
        "queued jobs": [a.correlation_id for a in lab.jobs_added()],
    }
    for hop, seen in hops.items():
        if not seen:
            raise CheckFailed(
                f"nothing reached {hop}",
                called=called,
                got=reply.describe(),
                expected=f"a call to {hop} carrying {cid}",
            )
        if any(s != cid for s in seen):
            raise CheckFailed(
                f"{hop} did not get the request's correlation id",
                called=called,
                got=f"{hop} saw {seen}",
                expected=f"{cid!r} on each",
            )
    echoed = reply.headers.get("x-correlation-id")
    if echoed != cid:
        raise CheckFailed(
            "the answer does not carry the correlation id",
            called=called,
            got=f"x-correlation-id: {echoed}",
            expected=cid,
        )
