"""The mutant suite: for each check, the reference solution with exactly that requirement broken.

A mutant is a text edit of one file of ``solutions/checkout``: ``old`` must occur exactly
once (so a mutant cannot silently stop applying when the solution changes), and is
replaced by ``new``. ``test_mutants.py`` grades each mutant and expects the grader to
fail that check, and only that check.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

SOLUTION = Path(__file__).resolve().parents[2] / "solutions" / "checkout"


@dataclass(frozen=True)
class Mutant:
    check: str  # the one check it must fail
    what: str  # the bug, in words
    old: str
    new: str
    file: str = "checkout.py"

    def write(self, into: Path) -> Path:
        """A copy of the solution with this mutation, in ``into``."""
        shutil.copytree(SOLUTION, into, ignore=shutil.ignore_patterns("__pycache__"))
        path = into / self.file
        text = path.read_text()
        count = text.count(self.old)
        if count != 1:
            raise AssertionError(f"mutant {self.check}: {self.old!r} occurs {count} times")
        path.write_text(text.replace(self.old, self.new))
        return into


MUTANTS = [
    Mutant(
        "decisions_modes",
        "the confirmation email is declared sync",
        '[confirmation_email]\nmode = "async"',
        '[confirmation_email]\nmode = "sync"',
        file="decisions.toml",
    ),
    Mutant(
        "decisions_justified",
        "the inventory update is justified with two words",
        '[inventory_update]\nmode = "async"\nwhy = """',
        '[inventory_update]\nmode = "async"\nwhy = "it scales"\nwhy_draft = """',
        file="decisions.toml",
    ),
    Mutant(
        "rejects_bad_body",
        "no constraints on the body: an empty cart or a negative quantity is charged",
        "    items: list[Item] = Field(min_length=1, max_length=50)\n"
        "    amount_cents: int = Field(gt=0, le=10_000_000)",
        "    items: list[Item]\n    amount_cents: int",
    ),
    Mutant(
        "missing_idempotency_key",
        "a request without an Idempotency-Key gets a random one",
        'key = request.headers.get("Idempotency-Key", "").strip()',
        'key = request.headers.get("Idempotency-Key", "").strip() or uuid.uuid4().hex',
    ),
    Mutant(
        "happy_path",
        "a new order is answered 200 OK instead of 201 Created",
        "        return json_response(order, 201)",
        "        return json_response(order, 200)",
    ),
    Mutant(
        "invalid_token_401",
        "an unknown token is answered 403",
        'raise ApiError(401, "invalid or expired token")',
        'raise ApiError(403, "invalid or expired token")',
    ),
    Mutant(
        "auth_timeout",
        "no real timeout on the call to auth",
        'ServiceClient("auth", env.auth_url, timeout=env.timeout)',
        'ServiceClient("auth", env.auth_url, timeout=60.0)',
    ),
    Mutant(
        "auth_down_503",
        "only a timeout of auth is handled; a refused connection is a 500",
        "        except ServiceError:\n"
        '            raise ApiError(503, "the auth service is unavailable; try again") from None',
        "        except ServiceTimeout:\n"
        '            raise ApiError(503, "the auth service is unavailable; try again") from None',
    ),
    Mutant(
        "payment_declined_402",
        "a decline is reported as a server error",
        'raise ApiError(402, "payment declined")',
        'raise ApiError(503, "payment declined")',
    ),
    Mutant(
        "payment_timeout_504",
        "no real timeout on the call to payment",
        'payment = ServiceClient("payment", env.payment_url, timeout=env.timeout)',
        'payment = ServiceClient("payment", env.payment_url, timeout=60.0)',
    ),
    Mutant(
        "payment_unavailable_503",
        "only a timeout or a refused connection to payment is handled; a 503 answer is a 500",
        "        except ServiceError:\n"
        '            raise ApiError(503, "the payment service is unavailable; try again")',
        "        except ServiceUnavailable:\n"
        '            raise ApiError(503, "the payment service is unavailable; try again")',
    ),
    Mutant(
        "no_jobs_when_charge_fails",
        "the jobs are queued before the charge",
        "        paid = charge(order_id, body.amount_cents)\n",
        "        try:  # 'queue early, it is only a queue'\n"
        "            items = [item.model_dump(by_alias=True) for item in body.items]\n"
        "            env.inventory_queue.add('update-inventory', {'orderId': order_id,\n"
        "                'items': items}, job_id=f'inventory-{order_id}', **RETRIES)\n"
        "            env.email_queue.add('send-confirmation', {'orderId': order_id,\n"
        "                'email': user['email'], 'amountCents': body.amount_cents},\n"
        "                job_id=f'confirmation-{order_id}', **RETRIES)\n"
        "        except Exception:\n"
        "            pass\n"
        "        paid = charge(order_id, body.amount_cents)\n",
    ),
    Mutant(
        "charge_retry_safe",
        "a random idempotency key for each charge attempt",
        'headers={"Idempotency-Key": f"charge-{order_id}"}',
        'headers={"Idempotency-Key": f"charge-{uuid.uuid4()}"}',
    ),
    Mutant(
        "replay_same_order",
        "a retry of a finished order is refused as a duplicate",
        '            return json_response(order, status, {"Idempotent-Replayed": "true"})',
        '            raise ApiError(409, "duplicate request")',
    ),
    Mutant(
        "job_ids_from_order",
        "random job ids",
        'job_id=f"inventory-{order_id}"',
        'job_id=f"inventory-{uuid.uuid4()}"',
    ),
    Mutant(
        "correlation_forwarded",
        "each request makes a fresh correlation id instead of keeping the gateway's",
        'then queue the email and the stock update."""\n',
        'then queue the email and the stock update."""\n'
        "        with correlation_scope():\n"
        "            return place_order(request, body)\n\n"
        "    def place_order(request: Request, body: CheckoutBody) -> Any:\n",
    ),
    Mutant(
        "email_worker_idempotent",
        "no delivery log and no idempotency key for the email",
        "    if env.redis.get(done) is not None:\n",
        "    if False:\n",
    ),
    Mutant(
        "inventory_worker_idempotent",
        "no delivery log for the stock move",
        "    if not env.redis.set(claim, job.id, nx=True):\n",
        "    if False:\n",
    ),
    Mutant(
        "saga_compensates",
        "no compensation: the charge is kept when the stock cannot be queued or reserved",
        "            refund(payment, order)\n",
        "",
    ),
]

# Two mutants need more than one edit: these are applied after the main one.
EXTRA_EDITS: dict[str, list[tuple[str, str]]] = {
    "saga_compensates": [
        ("        refund(payment, order)\n    env.redis", "        pass\n    env.redis")
    ],
    "missing_idempotency_key": [("import hashlib\n", "import hashlib\nimport uuid\n")],
    "charge_retry_safe": [("import hashlib\n", "import hashlib\nimport uuid\n")],
    "job_ids_from_order": [
        ("import hashlib\n", "import hashlib\nimport uuid\n"),
        ('job_id=f"confirmation-{order_id}"', 'job_id=f"confirmation-{uuid.uuid4()}"'),
    ],
    "payment_unavailable_503": [
        (
            "from launchpad.http.client import ServiceClient, ServiceError, ServiceTimeout, "
            "verify_token",
            "from launchpad.http.client import (ServiceClient, ServiceError, ServiceTimeout,\n"
            "    ServiceUnavailable, verify_token)",
        )
    ],
    "correlation_forwarded": [
        (
            "import hashlib\n",
            "import hashlib\n\nfrom launchpad.correlation import correlation_scope\n",
        ),
    ],
    "email_worker_idempotent": [
        ("        idempotency_key=f\"order-confirmation-{data['orderId']}\",\n", ""),
    ],
}


def write_mutant(mutant: Mutant, into: Path) -> Path:
    """The solution with ``mutant`` (and its extra edits) applied, in ``into``."""
    mutant.write(into)
    for old, new in EXTRA_EDITS.get(mutant.check, []):
        path = into / "checkout.py"
        text = path.read_text()
        if text.count(old) != 1:
            raise AssertionError(f"mutant {mutant.check}: extra edit {old!r} does not apply")
        path.write_text(text.replace(old, new))
    return into
