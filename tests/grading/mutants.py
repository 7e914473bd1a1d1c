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
    tag: str = ""  # tells apart two mutants of one check

    @property
    def key(self) -> str:
        return f"{self.check}:{self.tag}" if self.tag else self.check

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

# The blind spots of issue 11: each of these once scored full marks.
MUTANTS += [
    Mutant(
        "decisions_justified",
        "one justification copied from another, with new line breaks and capitals",
        '[inventory_update]\nmode = "async"\nwhy = """',
        '[inventory_update]\nmode = "async"\nwhy = """\nTHE EMAIL is a side effect, not the '
        "business rule:\nthe order is valid whether or not the email provider is slow or down "
        "right now. A job with retries and backoff delivers it later; and a delivery log, "
        'plus the provider\'s idempotency key, keep it to one email!\n"""\nwhy_draft = """',
        file="decisions.toml",
        tag="copied",
    ),
    Mutant(
        "auth_timeout",
        "the auth client left at the library's default timeout (env.timeout ignored)",
        'ServiceClient("auth", env.auth_url, timeout=env.timeout)',
        'ServiceClient("auth", env.auth_url)',
        tag="default-timeout",
    ),
    Mutant(
        "payment_timeout_504",
        "the payment client left at the library's default timeout (env.timeout ignored)",
        'payment = ServiceClient("payment", env.payment_url, timeout=env.timeout)',
        'payment = ServiceClient("payment", env.payment_url)',
        tag="default-timeout",
    ),
    Mutant(
        "replay_same_order",
        "the charge's key is the client's Idempotency-Key alone: a second customer with the "
        "same key gets the first one's charge",
        'headers={"Idempotency-Key": f"charge-{order_id}"}',
        'headers={"Idempotency-Key": f"charge-{key}"}',
        tag="charge-key",
    ),
    Mutant(
        "replay_same_order",
        "job ids from the client's Idempotency-Key alone: a second customer with the same key "
        "gets no email",
        'job_id=f"confirmation-{order_id}"',
        'job_id=f"confirmation-{key}"',
        tag="job-ids",
    ),
    Mutant(
        "email_worker_idempotent",
        "the delivery log is held in process memory (and no provider key)",
        "    if env.redis.get(done) is not None:\n",
        "    if done in SENT:\n",
        tag="memory-log",
    ),
    Mutant(
        "email_worker_idempotent",
        "the delivery log is written before sending: an email is lost when the provider fails once",
        "    data = job.data\n    receipt = env.email_provider.send(",
        '    env.redis.set(done, "sending")\n    data = job.data\n'
        "    receipt = env.email_provider.send(",
        tag="log-before-send",
    ),
    Mutant(
        "inventory_worker_idempotent",
        "the delivery log is held in process memory",
        "    if not env.redis.set(claim, job.id, nx=True):\n",
        "    if claim in MOVED or MOVED.add(claim):\n",
        tag="memory-log",
    ),
]

# Some mutants need more than one edit: these are applied after the main one.
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
    "replay_same_order:charge-key": [
        (
            "    def charge(order_id: str, amount_cents: int)",
            "    def charge(order_id: str, amount_cents: int, key: str)",
        ),
        (
            "paid = charge(order_id, body.amount_cents)",
            "paid = charge(order_id, body.amount_cents, key)",
        ),
    ],
    "replay_same_order:job-ids": [
        ('job_id=f"inventory-{order_id}"', 'job_id=f"inventory-{key}"'),
    ],
    "email_worker_idempotent:memory-log": [
        ("    env.redis.set(done, receipt.message_id)\n", "    SENT.add(done)\n"),
        ("        idempotency_key=f\"order-confirmation-{data['orderId']}\",\n", ""),
        ("RETRIES = {", "SENT: set[str] = set()\nRETRIES = {"),
    ],
    "inventory_worker_idempotent:memory-log": [
        ("RETRIES = {", "MOVED: set[str] = set()\nRETRIES = {"),
    ],
}


def write_mutant(mutant: Mutant, into: Path) -> Path:
    """The solution with ``mutant`` (and its extra edits) applied, in ``into``."""
    mutant.write(into)
    for old, new in EXTRA_EDITS.get(mutant.key, []):
        path = into / "checkout.py"
        text = path.read_text()
        if text.count(old) != 1:
            raise AssertionError(f"mutant {mutant.key}: extra edit {old!r} does not apply")
        path.write_text(text.replace(old, new))
    return into
