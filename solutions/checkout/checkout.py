"""The checkout service: the reference solution of the checkout exercise.

``POST /checkout`` (through the gateway) with ``Authorization: Bearer <token>`` and an
``Idempotency-Key`` header, body ``{"items": [{"sku", "quantity"}], "amountCents"}``:

1. verify the token with auth        sync: nothing may happen for an unknown caller
2. charge the payment method          sync: the answer decides what we tell the customer
3. queue the inventory update         async: the customer need not wait for the warehouse
4. queue the confirmation email       async: a slow email provider must not fail a sale

Every call has a timeout (``env.timeout``); the correlation id of the request travels
with each call and each job (the web layer makes it current, the service client and the
queue read it). Everything that can be retried is idempotent: the order id comes from the
user and the Idempotency-Key, the charge's key and the job ids come from the order id.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from pydantic import Field

from launchpad.http.client import ServiceClient, ServiceError, ServiceTimeout, verify_token
from launchpad.http.web import ApiError, CamelModel, Request, WebApp, bearer_token, json_response
from launchpad.logging import get_logger
from launchpad.queue import Job, UnrecoverableError

if TYPE_CHECKING:
    from provided import CheckoutEnv

log = get_logger("checkout")

RETRIES = {"attempts": 5, "backoff": {"type": "exponential", "delay": 1000}}


class Item(CamelModel):
    sku: str = Field(min_length=1, max_length=64)
    quantity: int = Field(gt=0, le=100)


class CheckoutBody(CamelModel):
    items: list[Item] = Field(min_length=1, max_length=50)
    amount_cents: int = Field(gt=0, le=10_000_000)


def order_key(env: CheckoutEnv, order_id: str) -> str:
    """Where a finished (or failed) order is kept, for the retries of its request."""
    return f"{env.prefix}:order:{order_id}"


def order_id_for(user_id: str, idempotency_key: str) -> str:
    """The same user with the same key is the same order, however often it is sent."""
    digest = hashlib.sha256(f"{user_id}\n{idempotency_key}".encode()).hexdigest()
    return f"ord_{digest[:20]}"


def create_app(env: CheckoutEnv) -> WebApp:
    """The checkout service's WSGI app, wired to the services in ``env``."""
    auth = ServiceClient("auth", env.auth_url, timeout=env.timeout)
    payment = ServiceClient("payment", env.payment_url, timeout=env.timeout)
    app = WebApp("checkout", redis=env.redis)

    # --8<-- [start:who_is]
    def who_is(token: str | None) -> dict[str, Any]:
        """Step 1, sync: the caller's user, or a 401/503/504 that stops everything."""
        if token is None:
            raise ApiError(401, "missing Bearer token")
        try:
            user = verify_token(auth, token)
        except ServiceTimeout:
            raise ApiError(504, "the auth service did not answer in time; try again") from None
        except ServiceError:
            raise ApiError(503, "the auth service is unavailable; try again") from None
        if user is None:
            raise ApiError(401, "invalid or expired token")
        return user
    # --8<-- [end:who_is]

    # --8<-- [start:charge]
    def charge(order_id: str, amount_cents: int) -> dict[str, Any]:
        """Step 2, sync: money first; when it fails, nothing else happens."""
        try:
            answer = payment.post(
                "/charges",
                json={"orderId": order_id, "amountCents": amount_cents},
                headers={"Idempotency-Key": f"charge-{order_id}"},
                expect={200, 201, 402},
            )
        except ServiceTimeout:
            # The charge may have happened: the same Idempotency-Key makes a retry safe.
            raise ApiError(504, "the payment service did not answer in time; "
                                "retry with the same Idempotency-Key") from None  # fmt: skip
        except ServiceError:
            raise ApiError(503, "the payment service is unavailable; try again") from None
        if answer.status_code == 402:
            raise ApiError(402, "payment declined")
        result: dict[str, Any] = answer.json()
        return result
    # --8<-- [end:charge]

    # --8<-- [start:checkout]
    @app.post("/checkout", body=CheckoutBody, status=201)
    def checkout(request: Request, body: CheckoutBody) -> Any:
        """Place an order: verify, charge, then queue the email and the stock update."""
        key = request.headers.get("Idempotency-Key", "").strip()
        if not key or len(key) > 200:
            raise ApiError(400, "an Idempotency-Key header (1-200 chars) is required")
        user = who_is(bearer_token(request))
        order_id = order_id_for(user["userId"], key)
        stored = env.redis.get(order_key(env, order_id))
        if stored is not None:  # a retry of an order we finished: the same answer again
            order = json.loads(stored)
            status = 201 if order["status"] == "confirmed" else 503
            return json_response(order, status, {"Idempotent-Replayed": "true"})

        paid = charge(order_id, body.amount_cents)
        order = {
            "orderId": order_id,
            "status": "confirmed",
            "chargeId": paid["chargeId"],
            "amountCents": body.amount_cents,
            "items": [item.model_dump(by_alias=True) for item in body.items],
        }
        # Step 3, async. Job ids come from the order: a retry adds nothing new.
        stock = {"orderId": order_id, "items": order["items"],
                 "chargeId": paid["chargeId"], "amountCents": body.amount_cents}  # fmt: skip
        try:
            env.inventory_queue.add(
                "update-inventory", stock, job_id=f"inventory-{order_id}", **RETRIES
            )
        except Exception as exc:
            # The saga, in the small: the stock update cannot be queued, so undo the charge.
            log.error("inventory update not queued: refunding", extra={"error": str(exc)})
            refund(payment, order)
            order["status"] = "failed"
            env.redis.set(order_key(env, order_id), json.dumps(order))
            return json_response(dict(order, error="could not reserve stock; refunded"), 503)
        # Step 4, async: the email is not the business rule, so a failure here is logged.
        email = {"orderId": order_id, "email": user["email"], "amountCents": body.amount_cents}
        try:
            env.email_queue.add(
                "send-confirmation", email, job_id=f"confirmation-{order_id}", **RETRIES
            )
        except Exception as exc:
            log.error("confirmation email not queued", extra={"error": str(exc)})
        # NX: if the inventory worker already failed this order, its word stands.
        env.redis.set(order_key(env, order_id), json.dumps(order), nx=True)
        return json_response(order, 201)

    # --8<-- [end:checkout]
    return app


def refund(payment: ServiceClient, order: dict[str, Any]) -> None:
    """The saga's compensating step: give the money back (idempotent, like the charge)."""
    try:
        payment.post(
            "/refunds",
            json={"chargeId": order["chargeId"]},
            headers={"Idempotency-Key": f"refund-{order['orderId']}"},
            expect={200, 201},
        )
    except ServiceError:
        log.error("refund failed: needs a person", extra={"order_id": order["orderId"]})


# --8<-- [start:email_worker]
def send_confirmation_email(job: Job, env: CheckoutEnv) -> dict[str, Any]:
    """Worker for ``send-confirmation`` jobs: at most one email per order.

    A delivery log says "done" for a job that already ran; the provider's idempotency
    key covers the window between sending and writing the log (a crash right there).
    """
    done = f"{env.prefix}:emailed:{job.id}"
    if env.redis.get(done) is not None:
        return {"skipped": "already sent"}
    data = job.data
    receipt = env.email_provider.send(
        data["email"],
        f"Your order {data['orderId']} is confirmed",
        f"Thank you! We charged {data['amountCents'] / 100:.2f} for order {data['orderId']}.",
        type="order-confirmation",
        idempotency_key=f"order-confirmation-{data['orderId']}",
    )
    env.redis.set(done, receipt.message_id)
    return {"messageId": receipt.message_id, "duplicate": receipt.duplicate}
# --8<-- [end:email_worker]


# --8<-- [start:inventory_worker]
def update_inventory(job: Job, env: CheckoutEnv) -> dict[str, Any]:
    """Worker for ``update-inventory`` jobs: stock moves *at most* once per order.

    The store has no idempotency key, so the delivery log is claimed *before* the move
    (SET NX): a second run sees the claim and skips. If the move raises, the claim is
    dropped so that a retry can try again. But a worker that dies after the claim and
    before the move is done leaves the claim behind: the retry skips, and that order's
    stock is never moved (or only some items). Claiming after the move would be
    at-least-once instead: a death in between moves the stock twice. Not enough stock is
    final: the saga's compensation runs (refund, order failed) and the job fails without
    retries.
    """
    data = job.data
    claim = f"{env.prefix}:stock-moved:{data['orderId']}"
    if not env.redis.set(claim, job.id, nx=True):
        return {"skipped": "stock already moved for this order"}
    # Look before taking, so a short item does not leave the others half taken. (Two
    # workers could still race between the look and the take; a real store would
    # reserve all items in one transaction.)
    short = [i["sku"] for i in data["items"] if env.inventory.level(i["sku"]) < i["quantity"]]
    if short:
        cancel_order(data, env)
        raise UnrecoverableError(f"out of stock: {', '.join(short)}; order refunded")
    try:
        for item in data["items"]:
            env.inventory.take(item["sku"], item["quantity"])
    except Exception:
        env.redis.delete(claim)
        raise
    return {"moved": len(data["items"])}
# --8<-- [end:inventory_worker]


def cancel_order(data: dict[str, Any], env: CheckoutEnv) -> None:
    """The saga's compensation, from a worker: refund the charge, mark the order failed.

    The charge id comes with the job; a job added before it was known (an older version
    of this service) finds it in the stored order instead.
    """
    key = order_key(env, data["orderId"])
    stored = env.redis.get(key)
    order = dict(json.loads(stored) if stored else {}, **data)
    if "chargeId" not in order:
        raise RuntimeError(f"order {data['orderId']} is not stored yet: retry later")
    with ServiceClient("payment", env.payment_url, timeout=env.timeout) as payment:
        refund(payment, order)
    env.redis.set(key, json.dumps(dict(order, status="failed")))
