"""The auth service: users, passwords, sessions, and the welcome email it does not send.

:class:`AuthService` holds the state (shared with no other service): users by email, and
sessions by token. :func:`create_auth_app` puts HTTP in front of it:

====================  ============================================================
POST /auth/register   ``{email, password, name}`` → 201 ``{userId, email, name}``; 409 if taken
POST /auth/login      ``{email, password}`` → 200 ``{token, expiresIn}``; 401 otherwise
GET  /auth/verify     ``Authorization: Bearer <token>`` → 200 ``{userId, email}``; 401 otherwise
POST /auth/logout     forgets the token; always 200 (idempotent: twice is the same as once)
====================  ============================================================

Habits worth copying:

* passwords are hashed with scrypt (memory-hard) and a salt per user, and compared with
  ``hmac.compare_digest`` (constant time); a login for an unknown email still hashes once,
  so its timing and its answer match a wrong password: a caller cannot probe for accounts;
* tokens come from ``secrets`` (opaque, unguessable); only their SHA-256 is kept, and they
  are never logged;
* after register, the welcome email is a **job on the queue**, not an HTTP call: the
  registration does not wait for email, and it succeeds even when Redis is down, because
  "a user exists" does not depend on "the user got an email" (the log says what was lost).
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
from typing import Any, Protocol

from pydantic import BaseModel, Field

from launchpad.http.web import ApiError, CamelModel, Request, WebApp, bearer_token
from launchpad.logging import get_logger

__all__ = [
    "AuthService",
    "EmailTaken",
    "JobQueue",
    "ScryptCost",
    "User",
    "create_auth_app",
]

log = get_logger("auth")

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
INVALID_LOGIN = "invalid email or password"  # one message for both causes, on purpose


class JobQueue(Protocol):
    """What auth needs from a queue: add a job (``launchpad.queue.Queue`` is one)."""

    def add(self, name: str, data: Any, *, job_id: str | None = None) -> Any: ...


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
class User:
    id: str
    email: str
    name: str
    salt: bytes
    password_hash: bytes


@dataclass(frozen=True)
class _Session:
    user_id: str
    expires_at: float


class EmailTaken(Exception):
    """Someone registered this email (case-insensitively) before."""


class AuthService:
    """Users and sessions, in memory, safe to call from many request threads.

    Args:
        queue: where the welcome-email job goes; ``None`` sends no welcome email.
        session_ttl: seconds a token stays valid after login.
        cost: scrypt work factors (see :class:`ScryptCost`).
        clock: returns the time in seconds; tests pass a fake one to expire sessions.
    """

    def __init__(
        self,
        queue: JobQueue | None = None,
        *,
        session_ttl: float = 3600.0,
        cost: ScryptCost | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.queue = queue
        self.session_ttl = session_ttl
        self.cost = cost or ScryptCost()
        self.clock = clock
        self._lock = threading.Lock()
        self._users: dict[str, User] = {}  # by lower-cased email
        self._users_by_id: dict[str, User] = {}
        self._sessions: dict[str, _Session] = {}  # by SHA-256 of the token
        self._dummy_salt = secrets.token_bytes(16)

    # --8<-- [start:register]
    def register(self, email: str, password: str, name: str) -> User:
        """Create a user, then queue the welcome email (which may fail without harm)."""
        key = email.strip().lower()
        # Hash before the "taken?" check: a taken email then costs as long as a new one.
        salt = secrets.token_bytes(16)
        user = User(str(uuid.uuid4()), key, name, salt, self.cost.hash(password, salt))
        with self._lock:
            if key in self._users:
                raise EmailTaken(key)
            self._users[key] = user
            self._users_by_id[user.id] = user
        log.info("user registered", extra={"user_id": user.id})
        self._queue_welcome_email(user)
        return user

    def _queue_welcome_email(self, user: User) -> None:
        if self.queue is None:
            return
        try:
            self.queue.add(
                "send-notification",
                {
                    "to": user.email,
                    "subject": "Welcome to LaunchPad",
                    "body": f"Hi {user.name}, your account has been created.",
                    "type": "email",
                    "userId": user.id,
                },
                job_id=f"welcome-email-{user.id}",  # one user, one welcome job, ever
            )
        except Exception as exc:  # Redis down: the user exists anyway; say what was lost
            log.error(
                "could not queue the welcome email; the registration stands",
                extra={"user_id": user.id, "error": f"{type(exc).__name__}: {exc}"},
            )

    # --8<-- [end:register]

    def login(self, email: str, password: str) -> str | None:
        """A new session token, or ``None`` for a wrong password *or* an unknown email."""
        with self._lock:
            user = self._users.get(email.strip().lower())
        if user is None:
            self.cost.hash(password, self._dummy_salt)  # same work, so same timing
            return None
        if not hmac.compare_digest(self.cost.hash(password, user.salt), user.password_hash):
            return None
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._sessions[_digest(token)] = _Session(user.id, self.clock() + self.session_ttl)
        log.info("user logged in", extra={"user_id": user.id})
        return token

    def verify(self, token: str) -> User | None:
        """The user a live token belongs to; ``None`` if unknown, logged out or expired."""
        with self._lock:
            session = self._sessions.get(_digest(token))
            if session is None:
                return None
            if session.expires_at <= self.clock():
                del self._sessions[_digest(token)]
                return None
            return self._users_by_id.get(session.user_id)

    def logout(self, token: str) -> None:
        """Forget the token; forgetting an unknown token is fine (idempotent)."""
        with self._lock:
            self._sessions.pop(_digest(token), None)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# -- the HTTP side ------------------------------------------------------------------------


class RegisterBody(BaseModel):
    email: str = Field(pattern=EMAIL_PATTERN, max_length=254)
    password: str = Field(min_length=8, max_length=128)
    name: str = Field(min_length=1, max_length=100)


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


def create_auth_app(service: AuthService, *, redis: Any = None) -> WebApp:
    """The auth service's HTTP API (a WSGI app); ``redis`` is what ``/health`` pings."""
    app = WebApp("auth", redis=redis, description="Users, passwords and sessions.")

    @app.post(
        "/auth/register",
        body=RegisterBody,
        response=UserBody,
        status=201,
        errors={409: "the email is already registered"},
    )
    def register(request: Request, body: RegisterBody) -> UserBody:
        """Create an account (and queue its welcome email)."""
        try:
            user = service.register(body.email, body.password, body.name)
        except EmailTaken:
            raise ApiError(409, "this email is already registered") from None
        return UserBody(user_id=user.id, email=user.email, name=user.name)

    @app.post("/auth/login", body=LoginBody, response=TokenBody, errors={401: INVALID_LOGIN})
    def login(request: Request, body: LoginBody) -> TokenBody:
        """Trade an email and password for a session token."""
        token = service.login(body.email, body.password)
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
