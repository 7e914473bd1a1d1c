"""The auth service: users, passwords, sessions, and the welcome email it does not send.

``AuthService`` holds the state (shared with no other service): users and their
outbox in its store (``AuthStore``), and sessions by token in memory.
``create_auth_app()`` puts HTTP in front of it:

request | answer
--- | ---
``POST /auth/register`` | ``{email, password, name}`` → 201 ``{userId, email, name}``; 409 if taken
``POST /auth/login`` | ``{email, password}`` → 200 ``{token, expiresIn}``; 401 otherwise
(register, login) | 503 with ``Retry-After`` when too many passwords are being hashed
``GET /auth/verify`` | ``Authorization: Bearer <token>`` → 200 ``{userId, email}``; 401 otherwise
``POST /auth/logout`` | forgets the token; always 200 (idempotent: twice is the same as once)

Habits worth copying:

* passwords are hashed with scrypt (memory-hard) and a salt per user, and compared with
  ``hmac.compare_digest`` (constant time); a login for an unknown email still hashes once,
  so its timing and its answer match a wrong password: a caller cannot probe for accounts;
* every hash runs on a bounded pool (``launchpad.services.hashing``), as many threads
  as CPUs and a short queue: a login flood waits its turn or gets 503 with ``Retry-After``,
  memory stays bounded, and ``/auth/verify`` (which never hashes) stays fast;
* tokens come from ``secrets`` (opaque, unguessable); only their SHA-256 is kept, and they
  are never logged;
* register writes the user and its welcome email (an outbox row) in **one transaction**
  in auth's own store, and never touches Redis: it succeeds when Redis is down, and the
  email is not lost. The outbox relay (``launchpad.services.outbox_relay``) moves the
  row to the queue as a job when Redis can take it; the worker sends it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

from launchpad.correlation import current_correlation_id
from launchpad.http.web import ApiError, CamelModel, Request, WebApp, bearer_token
from launchpad.logging import get_logger
from launchpad.services.auth_store import AuthStore, EmailTaken, NewMessage, User
from launchpad.services.fields import EmailAddress, HeaderText
from launchpad.services.hashing import HashingBusy, HashingPool, shared_pool

__all__ = [
    "AuthService",
    "EmailTaken",
    "ScryptCost",
    "User",
    "create_auth_app",
    "welcome_email",
]

log = get_logger("auth")

INVALID_LOGIN = "invalid email or password"  # one message for both causes, on purpose


@dataclass(frozen=True)
class ScryptCost:
    """scrypt's work factors. The default costs ~16 MiB and tens of ms per hash (OWASP's
    minimum); tests and fuzzing pass a cheaper one so that thousands of logins stay fast."""

    n: int = 2**14
    r: int = 8
    p: int = 1

    def hash(self, password: str, salt: bytes) -> bytes:
        return hashlib.scrypt(
            password.encode(), salt=salt, n=self.n, r=self.r, p=self.p, maxmem=64 * 1024 * 1024
        )


@dataclass(frozen=True)
class _Session:
    user_id: str
    expires_at: float


def welcome_email(user: User) -> NewMessage:
    """The welcome email as an outbox row: its job id is the same however often it is sent."""
    return NewMessage(
        job_name="send-notification",
        job_id=f"welcome-email-{user.id}",  # one user, one welcome job, ever
        data={
            "to": user.email,
            "subject": "Welcome to LaunchPad",
            "body": f"Hi {user.name}, your account has been created.",
            "type": "email",
            "userId": user.id,
        },
        correlation_id=current_correlation_id(),
    )


class AuthService:
    """Users (in its store) and sessions (in memory), safe to call from many request threads.

    Args:
        store: users and the outbox (default: a new in-memory ``AuthStore``).
        session_ttl: seconds a token stays valid after login.
        cost: scrypt work factors (see ``ScryptCost``).
        pool: where hashes run; default: the process's shared pool, sized to its CPUs.
            Registering and logging in raise ``HashingBusy`` when it is full.
        clock: returns the time in seconds; tests pass a fake one to expire sessions.
    """

    def __init__(
        self,
        store: AuthStore | None = None,
        *,
        session_ttl: float = 3600.0,
        cost: ScryptCost | None = None,
        pool: HashingPool | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store or AuthStore()
        self.session_ttl = session_ttl
        self.cost = cost or ScryptCost()
        self.pool = pool or shared_pool()
        self.clock = clock
        self._lock = threading.Lock()
        self._sessions: dict[str, _Session] = {}  # by SHA-256 of the token
        self._dummy_salt = secrets.token_bytes(16)

    # --8<-- [start:register]
    def register(self, email: str, password: str, name: str) -> User:
        """Create a user and its welcome email in one transaction: both, or neither."""
        key = email.strip().lower()
        # Hash before the "taken?" check: a taken email then costs as long as a new one.
        salt = secrets.token_bytes(16)
        user = User(str(uuid.uuid4()), key, name, salt, self._hash(password, salt))
        self.store.create_user(user, [welcome_email(user)])  # raises EmailTaken
        log.info("user registered, welcome email in the outbox", extra={"user_id": user.id})
        return user

    # --8<-- [end:register]

    def login(self, email: str, password: str) -> str | None:
        """A new session token, or ``None`` for a wrong password *or* an unknown email."""
        user = self.store.user_by_email(email.strip().lower())
        if user is None:
            self._hash(password, self._dummy_salt)  # same work, so same timing
            return None
        if not hmac.compare_digest(self._hash(password, user.salt), user.password_hash):
            return None
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._sessions[_digest(token)] = _Session(user.id, self.clock() + self.session_ttl)
        log.info("user logged in", extra={"user_id": user.id})
        return token

    def _hash(self, password: str, salt: bytes) -> bytes:
        return self.pool.run(self.cost.hash, password, salt)  # may raise HashingBusy

    def verify(self, token: str) -> User | None:
        """The user a live token belongs to; ``None`` if unknown, logged out or expired."""
        with self._lock:
            session = self._sessions.get(_digest(token))
            if session is None:
                return None
            if session.expires_at <= self.clock():
                del self._sessions[_digest(token)]
                return None
        return self.store.user_by_id(session.user_id)

    def logout(self, token: str) -> None:
        """Forget the token; forgetting an unknown token is fine (idempotent)."""
        with self._lock:
            self._sessions.pop(_digest(token), None)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# -- the HTTP side ------------------------------------------------------------------------


class RegisterBody(BaseModel):
    email: EmailAddress
    password: str = Field(min_length=8, max_length=128)
    name: HeaderText = Field(min_length=1, max_length=100)


class LoginBody(BaseModel):
    email: str = Field(max_length=254)
    password: str = Field(max_length=128)


class UserBody(CamelModel):
    user_id: str
    email: str
    name: str


class TokenBody(CamelModel):
    token: str
    expires_in: int  # seconds


class VerifiedBody(CamelModel):
    user_id: str
    email: str


class MessageBody(BaseModel):
    message: str


def _busy(exc: HashingBusy) -> ApiError:
    return ApiError(503, str(exc), headers={"Retry-After": str(exc.retry_after)})


BUSY = "too many password checks at once (see Retry-After)"


def create_auth_app(service: AuthService, *, redis: Any = None) -> WebApp:
    """The auth service's HTTP API (a WSGI app); ``redis`` is what ``/health`` pings."""
    app = WebApp("auth", redis=redis, description="Users, passwords and sessions.")

    @app.post(
        "/auth/register",
        body=RegisterBody,
        response=UserBody,
        status=201,
        errors={409: "the email is already registered", 503: BUSY},
    )
    def register(request: Request, body: RegisterBody) -> UserBody:
        """Create an account (its welcome email goes out through the outbox)."""
        try:
            user = service.register(body.email, body.password, body.name)
        except EmailTaken:
            raise ApiError(409, "this email is already registered") from None
        except HashingBusy as exc:
            raise _busy(exc) from None
        return UserBody(user_id=user.id, email=user.email, name=user.name)

    @app.post(
        "/auth/login", body=LoginBody, response=TokenBody, errors={401: INVALID_LOGIN, 503: BUSY}
    )
    def login(request: Request, body: LoginBody) -> TokenBody:
        """Trade an email and password for a session token."""
        try:
            token = service.login(body.email, body.password)
        except HashingBusy as exc:
            raise _busy(exc) from None
        if token is None:
            raise ApiError(401, INVALID_LOGIN)
        return TokenBody(token=token, expires_in=int(service.session_ttl))

    @app.get(
        "/auth/verify",
        response=VerifiedBody,
        bearer=True,
        errors={401: "missing, unknown or expired token"},
    )
    def verify(request: Request) -> VerifiedBody:
        """Who does this Bearer token belong to? (Other services ask this.)"""
        token = bearer_token(request)
        user = service.verify(token) if token else None
        if user is None:
            raise ApiError(401, "invalid or expired token", headers={"WWW-Authenticate": "Bearer"})
        return VerifiedBody(user_id=user.id, email=user.email)

    @app.post("/auth/logout", response=MessageBody)
    def logout(request: Request) -> MessageBody:
        """End the session of the Bearer token, if any; always succeeds."""
        token = bearer_token(request)
        if token:
            service.logout(token)
        return MessageBody(message="logged out")

    return app
