"""A fake email provider that remembers everything it sent.

Real email is the side effect that a retried job must not repeat: a customer who gets
the same welcome email twice sees the duplicate, and nothing can take it back. The
this fake stands in for the provider so that a demo or a test can *count* deliveries:

* every delivery is recorded (``EmailProvider.deliveries``), thread-safe, so a worker with
  five threads can use one email provider;
* like real providers (SES, Postmark, SendGrid), it accepts an **idempotency key**: a
  second send with a key it has seen is not delivered again, and the receipt says so;
* it can be told to **fail** (the next N sends, or every send) or to **hang** (each send
  blocks for a while), so the retry and timeout paths can be shown on purpose.

Example:

```python
email_provider = EmailProvider()
email_provider.send("ada@example.com", "Welcome", "Hi Ada", idempotency_key="welcome-1")
again = email_provider.send("ada@example.com", "Welcome", "Hi Ada", idempotency_key="welcome-1")
again.duplicate
# True: one email, not two
email_provider.fail_next(2)   # the next two sends raise EmailProviderError
```
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass

__all__ = ["Delivery", "EmailProvider", "EmailProviderError", "Receipt"]


class EmailProviderError(Exception):
    """The provider refused or failed a send (on purpose: see ``EmailProvider.fail_next()``)."""


@dataclass(frozen=True)
class Delivery:
    """One email that really went out."""

    message_id: str
    to: str
    subject: str
    body: str
    type: str
    idempotency_key: str | None
    sent_at: float  # time.time()


@dataclass(frozen=True)
class Receipt:
    """What a send returns; ``duplicate`` means the key was seen and nothing was sent."""

    message_id: str
    duplicate: bool = False


class EmailProvider:
    """An in-memory email provider; see the module docstring."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._deliveries: list[Delivery] = []
        self._by_key: dict[str, str] = {}  # idempotency key -> message id
        self._ids = itertools.count(1)
        self._fail_remaining = 0
        self._fail_always = False
        self._hang_seconds = 0.0
        self._released = threading.Event()  # set by heal(): hung sends return at once
        self.calls = 0  # every send() call, delivered or not

    # -- the provider's one operation ---------------------------------------------------

    def send(
        self,
        to: str,
        subject: str,
        body: str,
        *,
        type: str = "email",
        idempotency_key: str | None = None,
    ) -> Receipt:
        """Deliver one message, unless its idempotency key was already delivered.

        Raises:
            EmailProviderError: when told to fail.
        """
        with self._lock:
            self.calls += 1
            hang = self._hang_seconds
            if self._fail_always or self._fail_remaining > 0:
                self._fail_remaining = max(0, self._fail_remaining - 1)
                raise EmailProviderError("the email provider is unavailable (simulated failure)")
        if hang > 0:
            self._released.wait(hang)  # a slow provider; heal() lets it go early
        with self._lock:
            if idempotency_key is not None and idempotency_key in self._by_key:
                return Receipt(self._by_key[idempotency_key], duplicate=True)
            message_id = f"msg-{next(self._ids)}"
            self._deliveries.append(
                Delivery(message_id, to, subject, body, type, idempotency_key, time.time())
            )
            if idempotency_key is not None:
                self._by_key[idempotency_key] = message_id
            return Receipt(message_id)

    # -- faults, on purpose -------------------------------------------------------------

    def fail_next(self, times: int = 1) -> None:
        """The next ``times`` sends raise ``EmailProviderError``."""
        with self._lock:
            self._fail_remaining = times

    def fail_always(self) -> None:
        """Every send raises until ``heal()``."""
        with self._lock:
            self._fail_always = True

    def hang(self, seconds: float) -> None:
        """Every send blocks ``seconds`` before it delivers, until ``heal()``."""
        with self._lock:
            self._hang_seconds = seconds
            self._released.clear()

    def heal(self) -> None:
        """Back to normal: no failures, no hanging (hung sends return now)."""
        with self._lock:
            self._fail_remaining = 0
            self._fail_always = False
            self._hang_seconds = 0.0
            self._released.set()

    # -- what happened ------------------------------------------------------------------

    @property
    def deliveries(self) -> list[Delivery]:
        """A copy of every delivery so far, oldest first."""
        with self._lock:
            return list(self._deliveries)

    def sent_to(self, address: str) -> list[Delivery]:
        """The deliveries to ``address`` (compared case-insensitively)."""
        wanted = address.lower()
        return [d for d in self.deliveries if d.to.lower() == wanted]

    def clear(self) -> None:
        """Forget every delivery and key (a fresh provider)."""
        with self._lock:
            self._deliveries.clear()
            self._by_key.clear()
            self.calls = 0
