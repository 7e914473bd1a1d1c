"""ServiceClient: how one service calls another over synchronous HTTP.

Three habits from the lesson, built in so a caller cannot forget them:

* a **timeout on every call**, and it is a deadline for the whole call (see
  :mod:`launchpad.http.deadline`): a hung or dripping service fails fast;
* the **correlation id** of the current request is forwarded in ``x-correlation-id``;
* **errors a caller can act on**: every failure is a :class:`ServiceError` carrying the
  service's name, and a timeout, a refused connection and an unexpected status are
  different classes. Callers never need to catch ``httpx`` exceptions.

Exceptions::

    ServiceError
    ├── ServiceTimeout       no answer before the deadline
    ├── ServiceUnavailable   refused, unreachable, or the connection broke
    └── UnexpectedStatus     an answer, but not one the caller said it expects

Retries are off by default and, when asked for, happen only where they are safe: a
refused connection (the request never arrived) for any method; a timeout or a 5xx only
for idempotent methods or a request that carries an ``Idempotency-Key``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Collection, Mapping
from typing import Any

import httpx

from launchpad import correlation
from launchpad.http.deadline import (
    DeadlineHTTPTransport,
    InProcessDeadlineTransport,
    call_deadline,
)
from launchpad.logging import get_logger

__all__ = [
    "IDEMPOTENT_METHODS",
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
    """The service did not answer before the call's deadline."""


class ServiceUnavailable(ServiceError):
    """The service could not be reached (refused, unreachable) or dropped the connection."""


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
        retries: extra attempts where safe (see the module docstring); 0 = none.
        backoff: base delay in seconds between attempts (exponential, full jitter).
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
        wrapped: httpx.BaseTransport = (
            DeadlineHTTPTransport() if transport is None else InProcessDeadlineTransport(transport)
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
                :class:`UnexpectedStatus`. Default: any 2xx.
            timeout: this call's deadline in seconds, instead of the client's.

        Raises:
            ServiceTimeout: no answer before the deadline.
            ServiceUnavailable: refused, unreachable, or the connection broke.
            UnexpectedStatus: a status outside ``expect``.
        """
        method = method.upper()
        sent_headers = dict(headers or {})
        cid = correlation.current_correlation_id()
        if cid and not any(k.lower() == correlation.HEADER for k in sent_headers):
            sent_headers[correlation.HEADER] = cid
        seconds = self.timeout if timeout is None else timeout
        request = self._http.build_request(
            method,
            path,
            headers=sent_headers,
            json=json,
            content=content,
            params=params,
            timeout=httpx.Timeout(seconds),
        )
        url = str(request.url)
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._send_once(request, seconds)
            except ServiceError as exc:
                if attempt <= self.retries and self._may_retry(exc, request):
                    self._sleep_before(attempt, exc)
                    continue
                raise
            ok = (
                (200 <= response.status_code < 300)
                if expect is None
                else (response.status_code in expect)
            )
            if ok:
                return response
            error = UnexpectedStatus(
                f"{self.name} answered {method} {request.url.path} with "
                f"{response.status_code}; expected "
                f"{'2xx' if expect is None else sorted(expect)}",
                service=self.name,
                method=method,
                url=url,
                response=response,
            )
            if (
                attempt <= self.retries
                and response.status_code >= 500
                and self._is_idempotent(request)
            ):
                self._sleep_before(attempt, error)
                continue
            raise error

    # -- one attempt, and the translation of httpx's errors into ours -----------------

    def _send_once(self, request: httpx.Request, seconds: float) -> httpx.Response:
        method, path, url = request.method, request.url.path, str(request.url)
        started = time.monotonic()
        try:
            with call_deadline(seconds):
                response = self._http.send(request, stream=True)
                try:
                    response.read()
                finally:
                    response.close()
        except httpx.TimeoutException as exc:
            raise ServiceTimeout(
                f"{self.name} did not answer {method} {path} within {seconds:g} s",
                service=self.name,
                method=method,
                url=url,
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

    @staticmethod
    def _is_idempotent(request: httpx.Request) -> bool:
        return request.method in IDEMPOTENT_METHODS or "idempotency-key" in request.headers

    def _may_retry(self, exc: ServiceError, request: httpx.Request) -> bool:
        refused = isinstance(exc, ServiceUnavailable) and isinstance(
            exc.__cause__, httpx.ConnectError
        )
        return refused or self._is_idempotent(request)

    def _sleep_before(self, attempt: int, exc: ServiceError) -> None:
        delay = random.uniform(0, self.backoff * 2 ** (attempt - 1))  # full jitter
        log.warning(
            f"retrying {self.name} after {type(exc).__name__}",
            extra={"attempt": attempt + 1, "delay_ms": round(delay * 1000)},
        )
        time.sleep(delay)

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
    down, a 500) is unexpected and raises a :class:`ServiceError`.
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
