"""ServiceClient: how one service calls another over synchronous HTTP.

Habits from the lesson, built in so a caller cannot forget them:

* a **deadline on every call**, for the whole call, retries and backoff included (see
  ``launchpad.http.deadline``): a hung or dripping service fails fast;
* the deadline **shrinks down the chain**: inside a request that came with a budget
  (``x-request-budget-ms``), a call gets ``min(timeout, time left - margin)`` and
  forwards what is left of it, so this service answers before its own caller gives up;
* the **correlation id** of the current request is forwarded in ``x-correlation-id``, and
  its W3C ``traceparent`` beside it (this service's span as the parent);
* **errors a caller can act on**: every failure is a ``ServiceError`` carrying the
  service's name, and a timeout, a refused connection and an unexpected status are
  different classes. Callers never need to catch ``httpx`` exceptions.

The errors, under one base class:

```text
ServiceError
├── ServiceTimeout       no answer before the deadline
├── ServiceUnavailable   refused, unreachable, or the connection broke
│   └── CircuitOpen      not even tried: the service's breaker is open
├── ResponseTooLarge     the body was bigger than max_response_bytes
└── UnexpectedStatus     an answer, but not one the caller said it expects
```

Retries are off by default and, when asked for, happen only where they are safe: a
refused connection (the request never arrived) for any method; a timeout or a 5xx only
for idempotent methods or a request that carries an ``Idempotency-Key``. A retry never
outlives the call's deadline: when the next backoff would end past it, the last error is
raised at once.

With a ``CircuitBreaker`` (``breaker=``), timeouts, refused or
broken connections and 5xx answers count as failures; past its threshold, calls raise
``CircuitOpen`` in microseconds instead of waiting for the deadline.

Threat and fault model: the caller is our own code; the service called may be slow, hung,
down, dripping bytes, or answering with a huge or endless body. The promises: the call
returns or raises within its deadline (plus the time to raise), at most
``max_response_bytes`` of body are held in memory, and every failure is a ServiceError.
"""

from __future__ import annotations

import random
import time
from collections.abc import Collection, Mapping
from typing import Any

import httpx

from launchpad import correlation
from launchpad.http.breaker import CircuitBreaker
from launchpad.http.deadline import (
    BUDGET_HEADER,
    DeadlineHTTPTransport,
    InProcessDeadlineTransport,
    call_deadline,
    format_budget,
    request_time_left,
)
from launchpad.logging import get_logger

__all__ = [
    "IDEMPOTENT_METHODS",
    "CircuitOpen",
    "ResponseTooLarge",
    "ServiceClient",
    "ServiceError",
    "ServiceTimeout",
    "ServiceUnavailable",
    "UnexpectedStatus",
    "verify_token",
]

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})

log = get_logger("client")


class ServiceError(Exception):
    """A call to another service failed. ``service``, ``method`` and ``url`` say which."""

    def __init__(self, message: str, *, service: str, method: str, url: str) -> None:
        super().__init__(message)
        self.service = service
        self.method = method
        self.url = url


class ServiceTimeout(ServiceError):
    """The service did not answer before the call's deadline (``seconds`` long)."""

    def __init__(self, message: str, *, service: str, method: str, url: str, seconds: float):
        super().__init__(message, service=service, method=method, url=url)
        self.seconds = seconds


class ResponseTooLarge(ServiceError):
    """The answer's body was longer than the client's ``max_response_bytes``."""


class ServiceUnavailable(ServiceError):
    """The service could not be reached (refused, unreachable) or dropped the connection."""


class CircuitOpen(ServiceUnavailable):
    """Not sent: the service failed too often lately. ``retry_after``: seconds until a trial."""

    def __init__(self, message: str, *, service: str, method: str, url: str, retry_after: float):
        super().__init__(message, service=service, method=method, url=url)
        self.retry_after = retry_after


class UnexpectedStatus(ServiceError):
    """The service answered with a status the caller did not expect."""

    def __init__(
        self, message: str, *, service: str, method: str, url: str, response: httpx.Response
    ) -> None:
        super().__init__(message, service=service, method=method, url=url)
        self.response = response
        self.status_code = response.status_code


class ServiceClient:
    """A client for one named service at ``base_url``.

    Args:
        name: the service's name, used in errors and logs ("auth").
        base_url: where it listens ("http://127.0.0.1:3001").
        timeout: seconds; the deadline for each whole call (connect, send, wait, read).
        transport: an ``httpx`` transport; pass ``httpx.WSGITransport(app=...)`` to call
            an app in-process. Default: pooled keep-alive sockets.
        retries: extra attempts where safe (see the module docstring); 0 = none. All
            attempts and the waits between them share the one deadline.
        backoff: base delay in seconds between attempts (exponential, full jitter).
        margin: seconds kept back from the request's budget, for this service to send its
            own answer after the call fails.
        max_response_bytes: a longer body raises ``ResponseTooLarge``.
        breaker: a circuit breaker for this service; ``None``: every call is tried.
    """

    def __init__(
        self,
        name: str,
        base_url: str,
        timeout: float = 3.0,
        transport: httpx.BaseTransport | None = None,
        *,
        retries: int = 0,
        backoff: float = 0.1,
        margin: float = 0.1,
        max_response_bytes: int = 8 * 1024 * 1024,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be > 0 seconds: every call needs a deadline")
        if retries < 0 or retries > 10:
            raise ValueError("retries must be between 0 and 10")
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.margin = margin
        self.max_response_bytes = max_response_bytes
        self.breaker = breaker
        wrapped: httpx.BaseTransport = (
            DeadlineHTTPTransport()
            if transport is None
            else InProcessDeadlineTransport(transport, max_response_bytes)
        )
        self._http = httpx.Client(
            base_url=self.base_url,
            transport=wrapped,
            timeout=httpx.Timeout(timeout),  # connect, read, write and pool: each explicit
            follow_redirects=False,
            trust_env=False,  # an HTTP_PROXY variable must not reroute calls between services
        )

    # -- the familiar verbs -------------------------------------------------------------

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", path, **kwargs)

    def request(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        content: bytes | None = None,
        params: Mapping[str, str] | None = None,
        expect: Collection[int] | None = None,
        timeout: float | None = None,
    ) -> httpx.Response:
        """Send one request and return the response, whose body is already read.

        Args:
            expect: the statuses the caller handles; any other raises
                ``UnexpectedStatus``. Default: any 2xx.
            timeout: this call's deadline in seconds, instead of the client's.

        Raises:
            ServiceTimeout: no answer before the deadline.
            ServiceUnavailable: refused, unreachable, or the connection broke.
            CircuitOpen: not sent, the breaker is open (a ServiceUnavailable).
            ResponseTooLarge: the body was longer than ``max_response_bytes``.
            UnexpectedStatus: a status outside ``expect``.
        """
        method = method.upper()
        sent_headers = dict(headers or {})
        cid = correlation.current_correlation_id()
        if cid and not any(k.lower() == correlation.HEADER for k in sent_headers):
            sent_headers[correlation.HEADER] = cid
        trace = correlation.current_trace()
        if trace and not any(k.lower() == correlation.TRACEPARENT for k in sent_headers):
            sent_headers[correlation.TRACEPARENT] = trace.traceparent()
        request = self._http.build_request(
            method,
            path,
            headers=sent_headers,
            json=json,
            content=content,
            params=params,
            timeout=httpx.Timeout(self.timeout if timeout is None else timeout),
        )
        at, seconds = self._deadline(request, timeout)
        attempt = 0
        while True:
            attempt += 1
            # what is left of this call travels on: the service called can plan with it
            request.headers[BUDGET_HEADER] = format_budget(at - time.monotonic())
            try:
                response = self._guarded(request, at, seconds)
            except ServiceError as exc:
                if self._may_retry(exc, request) and self._wait_before(attempt, exc, at):
                    continue
                raise
            if (
                (200 <= response.status_code < 300)
                if expect is None
                else (response.status_code in expect)
            ):
                return response
            error = UnexpectedStatus(
                f"{self.name} answered {method} {request.url.path} with "
                f"{response.status_code}; expected "
                f"{'2xx' if expect is None else sorted(expect)}",
                service=self.name,
                method=method,
                url=str(request.url),
                response=response,
            )
            if (
                response.status_code >= 500
                and self._is_idempotent(request)
                and self._wait_before(attempt, error, at)
            ):
                continue
            raise error

    # --8<-- [start:deadline]
    def _deadline(self, request: httpx.Request, timeout: float | None) -> tuple[float, float]:
        """When this whole call must be over (a ``time.monotonic()``), and its length.

        The client's own timeout, shortened to the request's budget minus the margin.
        """
        own = self.timeout if timeout is None else timeout
        left = request_time_left()
        seconds = own if left is None else min(own, left - self.margin)
        if seconds <= 0:
            raise ServiceTimeout(
                f"no time left to call {self.name} {request.method} {request.url.path}: "
                f"the request's budget has {max(0.0, left or 0.0) * 1000:.0f} ms left, "
                f"less than the {self.margin * 1000:.0f} ms margin",
                service=self.name,
                method=request.method,
                url=str(request.url),
                seconds=0.0,
            )
        return time.monotonic() + seconds, seconds

    # --8<-- [end:deadline]

    # -- one attempt, and the translation of httpx's errors into ours -----------------

    def _guarded(self, request: httpx.Request, at: float, seconds: float) -> httpx.Response:
        """One attempt through the breaker: refused at once when it is open."""
        breaker = self.breaker
        if breaker is None:
            return self._send_once(request, at, seconds)
        if not breaker.allow():
            wait = breaker.retry_after()
            raise CircuitOpen(
                f"{self.name} failed {breaker.failure_threshold} times in a row; not calling "
                f"{request.method} {request.url.path} (circuit open, next try in {wait:.1f} s)",
                service=self.name,
                method=request.method,
                url=str(request.url),
                retry_after=wait,
            )
        failed = True
        try:
            response = self._send_once(request, at, seconds)
            failed = response.status_code >= 500
            return response
        except ResponseTooLarge:
            failed = False  # it answered; the answer was the problem
            raise
        finally:
            if failed:
                breaker.record_failure()
            else:
                breaker.record_success()

    def _send_once(self, request: httpx.Request, at: float, seconds: float) -> httpx.Response:
        method, path, url = request.method, request.url.path, str(request.url)
        started = time.monotonic()
        try:
            with call_deadline(at):
                streamed = self._http.send(request, stream=True)
                try:
                    response = self._read_capped(streamed, request)
                finally:
                    streamed.close()
        except httpx.TimeoutException as exc:
            raise ServiceTimeout(
                f"{self.name} did not answer {method} {path} within {seconds:.3g} s",
                service=self.name,
                method=method,
                url=url,
                seconds=seconds,
            ) from exc
        except (
            httpx.ConnectError,
            httpx.ReadError,
            httpx.WriteError,
            httpx.RemoteProtocolError,
        ) as exc:
            raise ServiceUnavailable(
                f"{self.name} is unavailable at {self.base_url} ({type(exc).__name__}: "
                f"{exc or 'connection failed'})",
                service=self.name,
                method=method,
                url=url,
            ) from exc
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(
                f"{self.name} call {method} {path} failed: {type(exc).__name__}: {exc}",
                service=self.name,
                method=method,
                url=url,
            ) from exc
        log.info(
            f"{self.name} {method} {path} -> {response.status_code}",
            extra={
                "target": self.name,
                "method": method,
                "path": path,
                "status": response.status_code,
                "elapsed_ms": round((time.monotonic() - started) * 1000, 1),
            },
        )
        return response

    def _read_capped(self, streamed: httpx.Response, request: httpx.Request) -> httpx.Response:
        """The body, read chunk by chunk and counted: too long raises before memory fills.

        Counted after decoding (``Content-Encoding``), so a small gzip bomb counts as big
        as it unpacks. A declared ``Content-Length`` over the cap fails before any read.
        """
        cap = self.max_response_bytes
        declared = streamed.headers.get("content-length", "")
        too_large = ResponseTooLarge(
            f"{self.name} answered {request.method} {request.url.path} with a body over "
            f"{cap} bytes; refused",
            service=self.name,
            method=request.method,
            url=str(request.url),
        )
        if declared.isdigit() and int(declared) > cap:
            raise too_large
        chunks: list[bytes] = []
        size = 0
        for chunk in streamed.iter_bytes():
            size += len(chunk)
            if size > cap:
                raise too_large
            chunks.append(chunk)
        headers = streamed.headers
        if "content-encoding" in headers:  # the body below is decoded already
            headers = httpx.Headers(
                [
                    (k, v)
                    for k, v in headers.multi_items()
                    if k.lower() not in ("content-encoding", "content-length")
                ]
            )
        return httpx.Response(
            streamed.status_code,
            headers=headers,
            content=b"".join(chunks),
            request=request,
            extensions=streamed.extensions,
        )

    @staticmethod
    def _is_idempotent(request: httpx.Request) -> bool:
        return request.method in IDEMPOTENT_METHODS or "idempotency-key" in request.headers

    def _may_retry(self, exc: ServiceError, request: httpx.Request) -> bool:
        if isinstance(exc, (ResponseTooLarge, CircuitOpen)):
            return False  # asking again gets the same huge answer, or the same refusal
        refused = isinstance(exc, ServiceUnavailable) and isinstance(
            exc.__cause__, httpx.ConnectError
        )
        return refused or self._is_idempotent(request)

    def _wait_before(self, attempt: int, exc: ServiceError, at: float) -> bool:
        """Sleep the backoff before attempt ``attempt + 1``; False if there is none to make.

        There is none when the retries are used up, or when the wait would end past the
        call's deadline: then the caller gets the last error now instead of later.
        """
        if attempt > self.retries:
            return False
        delay = random.uniform(0, self.backoff * 2 ** (attempt - 1))  # full jitter
        if time.monotonic() + delay >= at:
            log.warning(
                f"not retrying {self.name}: no time left before the deadline",
                extra={"attempt": attempt, "error": type(exc).__name__},
            )
            return False
        log.warning(
            f"retrying {self.name} after {type(exc).__name__}",
            extra={"attempt": attempt + 1, "delay_ms": round(delay * 1000)},
        )
        time.sleep(delay)
        return True

    # -- lifecycle ------------------------------------------------------------------------

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ServiceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --8<-- [start:verify_token]
def verify_token(client: ServiceClient, token: str) -> dict[str, Any] | None:
    """Ask the auth service who ``token`` belongs to.

    Returns the user (``{"userId": ..., "email": ...}``) on 200 and ``None`` on 401: an
    invalid token is an expected answer, so it is a value. Anything else (a timeout, auth
    down, a 500) is unexpected and raises a ``ServiceError``.
    """
    response = client.get(
        "/auth/verify",
        headers={"Authorization": f"Bearer {token}"},
        expect={200, 401},
    )
    if response.status_code == 401:
        return None
    user: dict[str, Any] = response.json()
    return user


# --8<-- [end:verify_token]
