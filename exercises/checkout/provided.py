"""The parts of the checkout exercise you do NOT write: read them, do not change them.

* :class:`PaymentService` and :func:`create_payment_app`: a fake payment provider on HTTP.
  It charges by **idempotency key** (the same key twice is one charge, like Stripe), and
  the grader can tell it to decline, fail, or hang, to see what your checkout does then.
* :class:`InventoryStore`: stock per product. ``take()`` is **not** idempotent (like many
  real stock systems): call it twice and the stock moves twice. Your worker must not.
* :class:`CheckoutEnv`: everything your service gets from outside, in one object.

The grader always uses its own copy of this file, so editing yours changes nothing.

The payment service's API (JSON bodies, camelCase names):

``POST /charges``   header ``Idempotency-Key`` (required), body ``{"orderId", "amountCents"}``
    201 ``{"chargeId", "orderId", "amountCents", "status": "succeeded"}`` a new charge;
    200, same body: that key was charged before (nothing new is charged);
    402 ``{"error": ...}`` the card was declined;
    503 ``{"error": ...}`` the provider is down;
    400/422 the key or the body is missing or wrong.
``POST /refunds``   header ``Idempotency-Key``, body ``{"chargeId"}``
    201 ``{"refundId", "chargeId", "amountCents"}`` (200 for a key seen before); 404 unknown charge.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import Field

from launchpad import correlation
from launchpad.http.web import ApiError, CamelModel, Request, WebApp, json_response
from launchpad.queue import Queue
from launchpad.services.email_provider import EmailProvider

__all__ = [
    "Charge",
    "CheckoutEnv",
    "InventoryStore",
    "OutOfStock",
    "PaymentCall",
    "PaymentService",
    "Refund",
    "create_payment_app",
]

PaymentMode = Literal["ok", "decline", "fail", "hang", "slow", "gather"]


# -- the payment provider ---------------------------------------------------------------


@dataclass(frozen=True)
class Charge:
    charge_id: str
    order_id: str
    amount_cents: int
    idempotency_key: str


@dataclass(frozen=True)
class Refund:
    refund_id: str
    charge_id: str
    amount_cents: int


@dataclass(frozen=True)
class PaymentCall:
    """One request the provider received: what the grader reads to see how you called it."""

    path: str
    idempotency_key: str | None
    correlation_id: str | None  # the x-correlation-id header as it arrived (None: absent)
    body: dict[str, Any]
    at: float = field(default_factory=time.monotonic)


class PaymentService:
    """A fake payment provider that keeps every charge, refund and call in memory.

    Modes (the grader sets them; you may too, to try your service by hand):

    * ``ok``: charge; the same idempotency key again returns the first charge;
    * ``decline``: answer 402, charge nothing;
    * ``fail``: answer 503, charge nothing;
    * ``hang``: answer nothing until :meth:`release` (or ``hang_limit`` seconds), then 503;
    * ``slow``: charge at once, but answer only after :meth:`release` (or ``hang_limit``):
      the money moved, and a caller with a short timeout never hears about it;
    * ``gather``: hold each charge until ``gather_count`` calls wait (or ``gather_wait``
      seconds pass), then answer them all: concurrent checkouts, on purpose.
    """

    def __init__(self, *, hang_limit: float = 30.0) -> None:
        self.hang_limit = hang_limit
        self.mode: PaymentMode = "ok"
        self.gather_count = 2
        self.gather_wait = 1.0
        self._lock = threading.Lock()
        self._released = threading.Event()
        self._gathered = threading.Condition(self._lock)
        self._waiting = 0
        self._ids = itertools.count(1)
        self._by_key: dict[str, Charge] = {}
        self._refunds_by_key: dict[str, Refund] = {}
        self.charges: list[Charge] = []
        self.refunds: list[Refund] = []
        self.calls: list[PaymentCall] = []

    def set_mode(self, mode: PaymentMode) -> None:
        with self._lock:
            self.mode = mode
            self._released.clear()

    def release(self) -> None:
        """Let every hung or slow call answer now."""
        self._released.set()

    def reset(self) -> None:
        """Back to ``ok`` with no charges, refunds or calls (hung calls are released)."""
        self.release()
        with self._lock:
            self.mode = "ok"
            self._by_key.clear()
            self._refunds_by_key.clear()
            self.charges = []
            self.refunds = []
            self.calls = []
        self._released = threading.Event()

    def record(self, call: PaymentCall) -> None:
        with self._lock:
            self.calls.append(call)

    def charge(self, key: str, order_id: str, amount_cents: int) -> tuple[Charge, bool]:
        """Charge once per ``key``; returns the charge and whether it was a replay."""
        mode, released = self.mode, self._released
        if mode == "decline":
            raise ApiError(402, "card declined")
        if mode == "fail":
            raise ApiError(503, "the payment provider is unavailable")
        if mode == "hang":
            released.wait(self.hang_limit)
            raise ApiError(503, "the payment provider gave up")
        if mode == "gather":
            with self._gathered:
                self._waiting += 1
                self._gathered.notify_all()
                self._gathered.wait_for(lambda: self._waiting >= self.gather_count,
                                        self.gather_wait)  # fmt: skip
        with self._lock:
            replay = key in self._by_key
            if not replay:
                self._by_key[key] = Charge(
                    f"ch_{next(self._ids):04d}", order_id, amount_cents, key
                )
                self.charges.append(self._by_key[key])
            charge = self._by_key[key]
        if mode == "slow":
            released.wait(self.hang_limit)
        return charge, replay

    def refund(self, key: str, charge_id: str) -> tuple[Refund, bool]:
        with self._lock:
            if key in self._refunds_by_key:
                return self._refunds_by_key[key], True
            charge = next((c for c in self.charges if c.charge_id == charge_id), None)
            if charge is None:
                raise ApiError(404, f"no charge {charge_id!r}")
            refund = Refund(f"re_{next(self._ids):04d}", charge_id, charge.amount_cents)
            self._refunds_by_key[key] = refund
            self.refunds.append(refund)
            return refund, False


class ChargeBody(CamelModel):
    order_id: str = Field(min_length=1, max_length=200)
    amount_cents: int = Field(gt=0, le=10_000_000)


class RefundBody(CamelModel):
    charge_id: str = Field(min_length=1, max_length=200)


def _key(request: Request) -> str:
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key or len(key) > 255:
        raise ApiError(400, "an Idempotency-Key header (1-255 chars) is required")
    return key


def create_payment_app(service: PaymentService) -> WebApp:
    """The payment provider's HTTP API (see the module docstring)."""
    app = WebApp("payment", description="A fake payment provider.")

    def trace(request: Request, body: CamelModel) -> None:
        service.record(PaymentCall(request.path, request.headers.get("Idempotency-Key"),
                                   request.headers.get(correlation.HEADER),
                                   body.model_dump(by_alias=True)))  # fmt: skip

    @app.post("/charges", body=ChargeBody, status=201)
    def charge(request: Request, body: ChargeBody) -> Any:
        """Charge the customer once per idempotency key."""
        trace(request, body)
        made, replay = service.charge(_key(request), body.order_id, body.amount_cents)
        answer = {"chargeId": made.charge_id, "orderId": made.order_id,
                  "amountCents": made.amount_cents, "status": "succeeded"}  # fmt: skip
        return json_response(answer, 200 if replay else 201)

    @app.post("/refunds", body=RefundBody, status=201)
    def refund(request: Request, body: RefundBody) -> Any:
        """Give a charge's money back, once per idempotency key."""
        trace(request, body)
        made, replay = service.refund(_key(request), body.charge_id)
        answer = {"refundId": made.refund_id, "chargeId": made.charge_id,
                  "amountCents": made.amount_cents}  # fmt: skip
        return json_response(answer, 200 if replay else 201)

    return app


# -- the stock --------------------------------------------------------------------------


class OutOfStock(Exception):
    """Not enough of a product left to take."""


class InventoryStore:
    """Stock per SKU, in memory and thread-safe. ``take`` is deliberately not idempotent."""

    def __init__(self, stock: dict[str, int] | None = None) -> None:
        self._lock = threading.Lock()
        self._initial = dict(stock or {})
        self._stock = dict(self._initial)
        self.moves: list[tuple[str, int]] = []  # every (sku, quantity) taken, in order

    def take(self, sku: str, quantity: int) -> int:
        """Remove ``quantity`` of ``sku``; returns what is left. Raises :class:`OutOfStock`."""
        with self._lock:
            left = self._stock.get(sku, 0)
            if quantity > left:
                raise OutOfStock(f"{sku}: {left} left, {quantity} wanted")
            self._stock[sku] = left - quantity
            self.moves.append((sku, quantity))
            return self._stock[sku]

    def level(self, sku: str) -> int:
        with self._lock:
            return self._stock.get(sku, 0)

    def reset(self) -> None:
        with self._lock:
            self._stock = dict(self._initial)
            self.moves = []


# -- what your service is given ---------------------------------------------------------


@dataclass
class CheckoutEnv:
    """Everything your checkout service and its workers get from outside.

    Attributes:
        auth_url: the auth service (``GET /auth/verify`` with the Bearer token).
        payment_url: the payment service (see the module docstring).
        timeout: seconds: the timeout for every call you make to another service.
        email_queue: queue the confirmation email here.
        inventory_queue: queue the inventory update here.
        redis: a Redis connection for your own keys (an order store, delivery logs).
        prefix: start every Redis key you make with this (so runs never collide).
        email_provider: the email provider your email worker sends with (``email_provider.send``).
        inventory: the stock your inventory worker moves (``inventory.take``).
    """

    auth_url: str
    payment_url: str
    timeout: float
    email_queue: Queue
    inventory_queue: Queue
    redis: Any
    prefix: str
    email_provider: EmailProvider
    inventory: InventoryStore
