"""The checkout exercise's checks: one per requirement, each with its points and hint.

Each check builds its situation in the lab (a bad token, a payment service that hangs,
the same request twice), sends real requests through the gateway, and reads the lab's
recorders to see what the submission did. A failure says what was sent, what came back
and what was expected; a hint says where to look, never what to write.
"""

from __future__ import annotations

import threading
from typing import Any

from launchpad.grading.checkout.lab import STOCK, USER_EMAIL, CheckoutLab, Reply
from launchpad.grading.checks import CheckFailed, Partial, Registry

__all__ = ["CHECKS", "EXPECTED_MODES"]

CHECKS = Registry("checkout")
check = CHECKS.check

EXPECTED_MODES = {
    "verify_token": "sync",
    "charge_payment": "sync",
    "confirmation_email": "async",
    "inventory_update": "async",
}
MIN_WORDS = 12
POST = "POST /checkout"


def _expect(reply: Reply, wanted: set[int], called: str, expected: str, message: str) -> None:
    if reply.status not in wanted:
        raise CheckFailed(message, called=called, got=reply.describe(), expected=expected)


def _no_charge(lab: CheckoutLab, called: str, why: str) -> None:
    if lab.payment.charges:
        raise CheckFailed(
            f"the payment service charged the customer {why}",
            called=called,
            got=f"{len(lab.payment.charges)} charge(s)",
            expected="no charge",
        )


def _no_jobs(lab: CheckoutLab, called: str, why: str) -> None:
    tried = [e.what for e in lab.timeline.events if e.source.startswith("queue:")]
    if tried:
        raise CheckFailed(
            f"jobs were queued {why}",
            called=called,
            got=f"queue adds: {', '.join(tried)}",
            expected="no job queued",
        )


# -- the decisions file -----------------------------------------------------------------


def _decisions(lab: CheckoutLab) -> dict[str, Any]:
    sub = lab.submission
    if sub.toml is None:
        raise CheckFailed(
            f"could not read the decisions: {sub.toml_error}",
            expected="decisions.toml with one table per interaction",
        )
    return sub.toml


def _table(decisions: dict[str, Any], name: str) -> dict[str, Any]:
    """``[name]`` of the file, or an empty table when it is missing or not a table."""
    table = decisions.get(name)
    return table if isinstance(table, dict) else {}


@check(
    "decisions_modes",
    title="decisions.toml: sync or async for each interaction",
    points=8,
    todo="TODO 1",
    hint="Ask of each step: does the customer's answer depend on its result right now?",
)
def decisions_modes(lab: CheckoutLab) -> Partial:
    decisions = _decisions(lab)
    wrong = []
    for name, mode in EXPECTED_MODES.items():
        given = str(_table(decisions, name).get("mode", "")).strip()
        if given.lower() != mode:
            wrong.append(f"{name} (you wrote {given or 'nothing'!r})")
    right = len(EXPECTED_MODES) - len(wrong)
    return Partial(right / len(EXPECTED_MODES), f"reconsider: {'; '.join(wrong)}")


@check(
    "decisions_justified",
    title="decisions.toml: each choice justified in your own words",
    points=4,
    todo="TODO 1",
    hint=f"Give each interaction a 'why' of at least {MIN_WORDS} words: what breaks "
    "for the customer if this step is slow or down?",
)
def decisions_justified(lab: CheckoutLab) -> Partial:
    decisions = _decisions(lab)
    short, seen = [], set()
    for name in EXPECTED_MODES:
        why = str(_table(decisions, name).get("why", "")).strip()
        words = why.split()
        if len(words) < MIN_WORDS or "TODO" in why or why.lower() in seen:
            short.append(f"{name} ({len(words)} word{'' if len(words) == 1 else 's'})")
        seen.add(why.lower())
    good = len(EXPECTED_MODES) - len(short)
    return Partial(
        good / len(EXPECTED_MODES), f"too short, a TODO or a copy of another: {'; '.join(short)}"
    )


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
        _no_charge(lab, called, "for a bad body")


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
    _expect(
        reply,
        {400, 422},
        called,
        "400 naming the missing header",
        "a checkout without an Idempotency-Key was not refused",
    )
    _no_charge(lab, called, "without an Idempotency-Key")


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
    _expect(
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
    sent = lab.outbox.sent_to(USER_EMAIL)
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
        _expect(reply, {401}, called, "401", "the checkout did not refuse the caller")
        _no_charge(lab, called, "for an unauthenticated caller")
        _no_jobs(lab, called, "for an unauthenticated caller")


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
    _expect(
        reply,
        {503, 504},
        called,
        f"503 or 504 within {lab.deadline:.1f} s",
        "the checkout did not give up on a hung auth service",
    )
    _no_charge(lab, called, "while the caller was unverified")


@check(
    "auth_down_503",
    title="auth is down: 503, no charge",
    points=4,
    visibility="hidden",
    todo="TODO 2",
    hint="Which errors can the service client raise? Catch what you mean.",
)
def auth_down_503(lab: CheckoutLab) -> None:
    called = f"{POST} while the auth service refuses connections"
    with lab.server_down("auth"):
        reply = lab.post_checkout(key=lab.new_key())
    _expect(
        reply,
        {502, 503},
        called,
        "503 Service Unavailable",
        "a refused connection to auth was not answered as unavailable",
    )
    _no_charge(lab, called, "while the caller was unverified")


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
    _expect(
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
    _expect(
        reply,
        {504},
        called,
        f"504 within {lab.deadline:.1f} s",
        "the checkout did not give up on a hung payment service",
    )


@check(
    "payment_unavailable_503",
    title="payment fails or is down: 503",
    points=5,
    todo="TODO 3",
    hint="A 5xx answer and a refused connection are different errors of the client.",
)
def payment_unavailable_503(lab: CheckoutLab) -> None:
    lab.payment.set_mode("fail")
    called = f"{POST} while the payment service answers 503"
    reply = lab.post_checkout(key=lab.new_key())
    _expect(reply, {502, 503}, called, "503", "a failing payment service was not reported")
    lab.payment.set_mode("ok")
    called = f"{POST} while the payment service refuses connections"
    with lab.server_down("payment"):
        reply = lab.post_checkout(key=lab.new_key())
    _expect(reply, {502, 503}, called, "503", "an unreachable payment service was not reported")


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
        _no_jobs(lab, called, "although the charge failed")


@check(
    "charge_retry_safe",
    title="a retry after a payment timeout charges once",
    points=6,
    time_limit=10.0,
    todo="TODO 3",
    hint="What idempotency key do you send to payment, and is it the same on a retry?",
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
    _expect(
        second,
        {200, 201},
        called + f" (first answer: {first.describe()})",
        "2xx for the retry",
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


# -- steps 3 and 4: the queue -----------------------------------------------------------


@check(
    "replay_same_order",
    title="the same Idempotency-Key twice: the same order, one charge, one email",
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
        _expect(
            reply,
            {200, 201},
            called,
            "2xx both times, with the same order",
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
    lab.run_all_jobs()
    sent = lab.outbox.sent_to(USER_EMAIL)
    if len(sent) != 1:
        raise CheckFailed(
            "the retry sent another email",
            called=called + ", then the workers",
            got=f"{len(sent)} emails",
            expected="1",
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
        _expect(replies[0], {200, 201}, called, "2xx", "no concurrent retry went through")
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


# -- the workers ------------------------------------------------------------------------


def _one_job(lab: CheckoutLab, kind: str) -> Any:
    lab.post_checkout(key=lab.new_key())
    queue = lab.email_queue if kind == "email" else lab.inventory_queue
    jobs = queue.jobs()
    if len(jobs) != 1:
        raise CheckFailed(
            f"a checkout did not queue one {kind} job to test the worker with",
            called=POST,
            got=f"{len(jobs)} {kind} jobs",
            expected="1 (see happy_path)",
        )
    return jobs[0]


@check(
    "email_worker_idempotent",
    title="the email worker run twice on one job sends one email",
    points=5,
    todo="TODO 5",
    hint="Queues deliver at least once. What do you record, and what key do you give the provider?",
)
def email_worker_idempotent(lab: CheckoutLab) -> None:
    job = _one_job(lab, "email")
    lab.process("email", job)
    lab.process("email", job)
    sent = lab.outbox.sent_to(USER_EMAIL)
    if len(sent) != 1:
        raise CheckFailed(
            "the same job sent more than one email",
            called=f"send_confirmation_email(job {job.id!r}, env) twice",
            got=f"{len(sent)} emails",
            expected="1",
        )


@check(
    "inventory_worker_idempotent",
    title="the inventory worker run twice moves stock once",
    points=5,
    todo="TODO 6",
    hint="inventory.take() is not idempotent: what can your worker remember between runs?",
)
def inventory_worker_idempotent(lab: CheckoutLab) -> None:
    job = _one_job(lab, "inventory")
    lab.process("inventory", job)
    lab.process("inventory", job)
    moves = lab.inventory.moves
    if len(moves) != 1:
        raise CheckFailed(
            "the same job moved stock more than once",
            called=f"update_inventory(job {job.id!r}, env) twice",
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
    _expect(
        reply,
        {409, 500, 502, 503},
        called,
        'an error with "status": "failed"',
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
    _expect(
        reply,
        {200, 201},
        called,
        "2xx: the checkout cannot know the stock yet",
        "the order was not taken",
    )
    for job in lab.inventory_queue.jobs():
        lab.process("inventory", job, may_fail=True)  # failing the job is right here
    _money_back(lab, called)
