"""TODO 5-7: the idempotent workers, and the saga that undoes a charge (extra credit)."""

from __future__ import annotations

from typing import Any

from launchpad.grading.checkout.checks.base import POST, check, expect_status
from launchpad.grading.checkout.lab import STOCK, USER_EMAIL, CheckoutLab
from launchpad.grading.checks import CheckFailed, Partial

# -- the workers ------------------------------------------------------------------------


def _one_job(lab: CheckoutLab, kind: str) -> Any:
    reply = lab.post_checkout(key=lab.new_key())
    queue = lab.email_queue if kind == "email" else lab.inventory_queue
    jobs = queue.jobs()
    if len(jobs) != 1:
        raise CheckFailed(
            f"a checkout did not queue one {kind} job to test the worker with",
            called=POST,
            got=f"{len(jobs)} {kind} jobs (the checkout answered {reply.describe()})",
            expected="1 (see happy_path)",
        )
    return jobs[0]


@check(
    "email_worker_idempotent",
    title="the email worker sends one email per order, however often and wherever it runs",
    points=5,
    time_limit=25.0,  # a fresh worker process starts on a busy machine too
    todo="TODO 5",
    hint="Queues deliver at least once. What do you record, where, and when? What key do you "
    "give the provider?",
)
def email_worker_idempotent(lab: CheckoutLab) -> None:
    job = _one_job(lab, "email")
    lab.email_provider.fail_next(1)
    first = lab.process("email", job, may_fail=True)  # a failed run: the queue retries it
    lab.process("email", job, fresh=True)  # the retry, in a worker process started afresh
    lab.process("email", job)  # and a duplicate delivery, back in the first process
    sent = lab.email_provider.sent_to(USER_EMAIL)
    if len(sent) != 1:
        raise CheckFailed(
            "the confirmation email was not sent exactly once",
            called=f"send_confirmation_email(job {job.id!r}, env) three times: while the "
            "provider fails once, again in a fresh worker process, and once more",
            got=f"{len(sent)} emails (the first run: {first or 'no error'})",
            expected="1",
        )


@check(
    "inventory_worker_idempotent",
    title="the inventory worker moves stock once per order, however often and wherever it runs",
    points=5,
    time_limit=25.0,
    todo="TODO 6",
    hint="inventory.take() is not idempotent: what can your worker remember between runs, "
    "and where does that memory live?",
)
def inventory_worker_idempotent(lab: CheckoutLab) -> None:
    job = _one_job(lab, "inventory")
    lab.process("inventory", job)
    lab.process("inventory", job, fresh=True)  # a duplicate delivery to another worker process
    lab.process("inventory", job)
    moves = lab.inventory.moves
    if len(moves) != 1:
        raise CheckFailed(
            "the same job moved stock more than once",
            called=f"update_inventory(job {job.id!r}, env) three times, the second in a "
            "fresh worker process",
            got=f"stock moves: {moves}",
            expected="one move",
        )


# -- the stretch goal -------------------------------------------------------------------


@check(
    "saga_compensates",
    title="stretch: stock cannot be queued or reserved after the charge: refund, order failed",
    points=5,
    extra_credit=True,
    todo="TODO 7",
    hint="A saga undoes its finished steps when a later one fails: what undoes a charge?",
)
def saga_compensates(lab: CheckoutLab) -> Partial:
    problems = []
    for scenario in (_saga_when_not_queued, _saga_when_out_of_stock):
        lab.payment.reset()
        try:
            scenario(lab)
        except CheckFailed as failed:
            problems.append(failed.explain())
    return Partial((2 - len(problems)) / 2, "\n".join(problems))


def _money_back(lab: CheckoutLab, called: str) -> None:
    taken = sum(c.amount_cents for c in lab.payment.charges)
    given_back = sum(r.amount_cents for r in lab.payment.refunds)
    if taken != given_back:
        raise CheckFailed(
            "the customer paid for an order that failed",
            called=called,
            got=f"charged {taken}, refunded {given_back} cents",
            expected="every charge refunded",
        )


def _saga_when_not_queued(lab: CheckoutLab) -> None:
    lab.inventory_queue.failing = True
    called = f"{POST} while the inventory queue's Redis is unavailable"
    reply = lab.post_checkout(key=lab.new_key())
    lab.inventory_queue.failing = False
    expect_status(
        reply,
        {503},
        called,
        '503 with "status": "failed"',
        "the checkout did not report the failed order",
    )
    if reply.json.get("status") != "failed":
        raise CheckFailed(
            "the order was not marked failed",
            called=called,
            got=reply.describe(),
            expected='"status": "failed"',
        )
    _money_back(lab, called)
    if lab.email_queue.adds:
        raise CheckFailed(
            "a confirmation email was queued for a failed order",
            called=called,
            got="an email job",
            expected="none",
        )


def _saga_when_out_of_stock(lab: CheckoutLab) -> None:
    wanted = STOCK["poster"] + 2
    body = {"items": [{"sku": "poster", "quantity": wanted}], "amountCents": 1500 * wanted}
    called = f"{POST} for {wanted} posters ({STOCK['poster']} in stock), then the stock worker"
    reply = lab.post_checkout(body, key=lab.new_key())
    expect_status(
        reply,
        {200, 201},
        called,
        "200 or 201: the checkout cannot know the stock yet",
        "the order was not taken",
    )
    for job in lab.inventory_queue.jobs():
        lab.process("inventory", job, may_fail=True)  # failing the job is right here
    _money_back(lab, called)
