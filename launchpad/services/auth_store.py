"""Auth's own store: users and the outbox, in one SQLite database, written together.

The dual-write problem: "save the user" goes to auth's store, "queue the welcome email" goes
to Redis. Two writes to two systems cannot be one step, so a crash or a Redis outage between
them leaves a user without an email, for ever. The **transactional outbox** makes it one
write: the welcome email is a row in auth's own database, inserted in the same transaction
as the user (``AuthStore.create_user()``). Either both rows exist or neither does. A relay
(``launchpad.services.outbox_relay``) then copies pending rows to the queue, as often as
it takes, and marks each sent only after the queue accepted it.

SQLite (Python's standard library) is the store because a transaction is what the lesson is
about: ``BEGIN; INSERT user; INSERT outbox row; COMMIT``. ``path=":memory:"`` (the default)
keeps everything in this process; a file path keeps it across restarts.

Threat and fault model:

* callers are auth's own request threads and its relay thread, nobody else; the email and
  name were validated by the HTTP layer, and every value reaches SQL as a bound parameter,
  never as SQL text;
* many threads at once: one connection behind one lock, so each method is one atomic step;
* the process is killed (SIGKILL) at any point: SQLite's journal keeps a transaction all or
  nothing, so after a restart on the same file a user exists with its pending email, or
  neither exists. With ``":memory:"``, users and their pending emails vanish together;
* the disk is full or the file is not writable: ``create_user()`` raises
  ``sqlite3.Error`` and nothing was written (the request is a 500, and the user may retry).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["AuthStore", "EmailTaken", "NewMessage", "OutboxEntry", "User"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,  -- lower-cased: one account per address
    name          TEXT NOT NULL,
    salt          BLOB NOT NULL,
    password_hash BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,  -- the relay sends in this order
    job_name       TEXT NOT NULL,
    job_id         TEXT NOT NULL UNIQUE,  -- the queue's job id: the same on every send
    data           TEXT NOT NULL,         -- JSON
    correlation_id TEXT,
    created_at     REAL NOT NULL,
    attempts       INTEGER NOT NULL DEFAULT 0,
    sent_at        REAL                   -- NULL while pending
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (id) WHERE sent_at IS NULL;
"""


@dataclass(frozen=True)
class User:
    id: str
    email: str
    name: str
    salt: bytes
    password_hash: bytes


class EmailTaken(Exception):
    """Someone registered this email (case-insensitively) before."""


@dataclass(frozen=True)
class NewMessage:
    """A message to hand to the queue later: what ``AuthStore.create_user()`` stores."""

    job_name: str
    job_id: str
    data: dict[str, Any]
    correlation_id: str | None = None


@dataclass(frozen=True)
class OutboxEntry:
    """A pending outbox row, as the relay reads it."""

    id: int
    job_name: str
    job_id: str
    data: dict[str, Any]
    correlation_id: str | None
    created_at: float
    attempts: int


class AuthStore:
    """Users and outbox rows in one SQLite database; see the module docstring.

    Args:
        path: a file, or ``":memory:"`` (default) for a store that lives with this process.
        clock: wall-clock seconds, for ``created_at`` / ``sent_at``.
    """

    def __init__(self, path: str | Path = ":memory:", *, clock: Callable[[], float] = time.time):
        self.path = str(path)
        self.clock = clock
        self._lock = threading.Lock()
        self._listeners: list[Callable[[], None]] = []
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        if self.path != ":memory:":
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")  # a committed sign-up survives a crash
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def on_pending(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` after each commit that added outbox rows (wakes the relay)."""
        self._listeners.append(callback)

    # -- users ------------------------------------------------------------------------------

    # --8<-- [start:create_user]
    def create_user(self, user: User, messages: list[NewMessage]) -> None:
        """Insert the user and its outbox rows in ONE transaction: all of them, or none.

        Raises:
            EmailTaken: the email is registered already (nothing was written).
        """
        now = self.clock()
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.execute(
                    "INSERT INTO users (id, email, name, salt, password_hash) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (user.id, user.email, user.name, user.salt, user.password_hash),
                )
                self._db.executemany(
                    "INSERT INTO outbox (job_name, job_id, data, correlation_id, created_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    [
                        (m.job_name, m.job_id, json.dumps(m.data), m.correlation_id, now)
                        for m in messages
                    ],
                )
                self._db.execute("COMMIT")
            except sqlite3.IntegrityError as exc:
                self._db.execute("ROLLBACK")
                if "users.email" in str(exc):
                    raise EmailTaken(user.email) from None
                raise
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
        if messages:
            for callback in self._listeners:
                callback()

    # --8<-- [end:create_user]

    def user_by_email(self, email: str) -> User | None:
        return self._user("SELECT * FROM users WHERE email = ?", email)

    def user_by_id(self, user_id: str) -> User | None:
        return self._user("SELECT * FROM users WHERE id = ?", user_id)

    def _user(self, sql: str, key: str) -> User | None:
        with self._lock:
            row = self._db.execute(sql, (key,)).fetchone()
        return None if row is None else User(*row)

    # -- the outbox -------------------------------------------------------------------------

    def pending(self, limit: int = 100) -> list[OutboxEntry]:
        """The oldest ``limit`` rows not sent yet, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, job_name, job_id, data, correlation_id, created_at, attempts "
                "FROM outbox WHERE sent_at IS NULL ORDER BY id LIMIT ?",
                (limit,),
            ).fetchall()
        return [
            OutboxEntry(i, name, job_id, json.loads(data), cid, created, attempts)
            for i, name, job_id, data, cid, created, attempts in rows
        ]

    def count_attempt(self, entry_id: int) -> None:
        """One more try to hand this row to the queue (shown by the demo, kept for operators)."""
        with self._lock:
            self._db.execute("UPDATE outbox SET attempts = attempts + 1 WHERE id = ?", (entry_id,))

    def mark_sent(self, entry_id: int) -> None:
        """The queue holds this row's job: do not send it again."""
        with self._lock:
            self._db.execute(
                "UPDATE outbox SET sent_at = ? WHERE id = ? AND sent_at IS NULL",
                (self.clock(), entry_id),
            )

    def prune_sent(self, older_than: float) -> int:
        """Delete rows sent more than ``older_than`` seconds ago; returns how many."""
        with self._lock:
            cursor = self._db.execute(
                "DELETE FROM outbox WHERE sent_at IS NOT NULL AND sent_at < ?",
                (self.clock() - older_than,),
            )
        return cursor.rowcount

    def outbox_counts(self) -> dict[str, int]:
        """How many rows are ``pending`` and ``sent`` (sent rows are pruned after a while)."""
        with self._lock:
            pending, sent = self._db.execute(
                "SELECT count(*) - count(sent_at), count(sent_at) FROM outbox"
            ).fetchone()
        return {"pending": int(pending), "sent": int(sent)}
