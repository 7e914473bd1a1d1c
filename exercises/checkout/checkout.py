"""The checkout service: YOUR code. Work through the TODOs in order (see README.md).

``POST /checkout`` (through the gateway) with ``Authorization: Bearer <token>`` and an
``Idempotency-Key`` header, body ``{"items": [{"sku", "quantity"}], "amountCents"}``.

Check your work after every step:   launchpad check exercises/checkout
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field

# What you will need is imported already.
from launchpad.http.web import ApiError, CamelModel, Request, WebApp, bearer_token
from launchpad.logging import get_logger
from launchpad.queue import Job

if TYPE_CHECKING:
    from provided import CheckoutEnv  # read provided.py: what env gives you

log = get_logger("checkout")


class Item(CamelModel):
    sku: str = Field(min_length=1, max_length=64)
    quantity: int = Field(gt=0, le=100)


class CheckoutBody(CamelModel):
    """The request body, validated for you: a bad body is answered 422 before your code runs."""

    items: list[Item] = Field(min_length=1, max_length=50)
    amount_cents: int = Field(gt=0, le=10_000_000)


def create_app(env: CheckoutEnv) -> WebApp:
    """The checkout service's WSGI app, wired to the services in ``env``."""
    app = WebApp("checkout", redis=env.redis)

    # TODO 2: make a client for the auth service (env.auth_url) with a timeout
    #         (env.timeout). In the handler, verify the Bearer token with it:
    #         an invalid or missing token is a 401; auth slow or down is a 503/504.
    #         Nothing else may happen for a caller you could not verify.

    # TODO 3: make a client for the payment service (env.payment_url, env.timeout) and
    #         charge the order: POST /charges with {"orderId", "amountCents"} and an
    #         Idempotency-Key derived from the order (a retry must send the same key).
    #         Declined -> 402, too slow -> 504, down or failing -> 503, and then no jobs.

    @app.post("/checkout", body=CheckoutBody, status=201)
    def checkout(request: Request, body: CheckoutBody) -> Any:
        """Place an order: verify, charge, then queue the email and the stock update."""
        token = bearer_token(request)  # None when there is no "Authorization: Bearer ..."
        key = request.headers.get("Idempotency-Key")

        # TODO 4: the order. Refuse a request without an Idempotency-Key (400). Derive the
        #         order id from the user and the key, so the same request twice is the same
        #         order. After the charge, queue the inventory update (env.inventory_queue)
        #         and the confirmation email (env.email_queue), with job ids derived from
        #         the order id. Answer 201 with {"orderId", "status": "confirmed",
        #         "chargeId", "amountCents", "items"}; a retry gets the same order back.

        # TODO 7 (stretch): if the inventory update cannot be queued after the charge,
        #         refund the charge (POST /refunds) and answer 503 with "status": "failed".
        #         And in update_inventory: when the stock is short, refund and mark the
        #         order failed, so that a retry of the request shows "status": "failed".

        log.info("checkout called", extra={"has_token": token is not None, "has_key": bool(key)})
        raise ApiError(501, "checkout is not implemented yet: see the TODOs in checkout.py")

    return app


def send_confirmation_email(job: Job, env: CheckoutEnv) -> Any:
    """Worker for the confirmation email jobs: one email per order, however often it runs."""
    # TODO 5: send the email with env.email_provider.send(to, subject, body, idempotency_key=...).
    #         The queue may deliver this job twice: make the second run send nothing.
    return None


def update_inventory(job: Job, env: CheckoutEnv) -> Any:
    """Worker for the inventory update jobs: stock moves once per order."""
    # TODO 6: take each item's quantity with env.inventory.take(sku, quantity).
    #         take() is not idempotent: remember what you did (env.redis, keys starting
    #         with env.prefix) so that a second run of the same job moves nothing.
    return None
