"""The Lua scripts that move jobs between states, each named for its transition.

Each script is atomic on Redis: two workers can never both take one job, and a job is
always in exactly one state. A script receives every key of its queue in KEYS (in the
order of ``KEY_PARTS``), so it works unchanged on a Redis
Cluster, where a script may only touch keys it was given.

Before it is sent, each script gets a header: a table ``K`` naming its keys (``K.wait``,
``K.jobs`` ...), then the helpers of ``lua/_common.lua``.

A worker's hot path (finish jobs, take the next: at most one script call per job) runs
through a `Lane`: on a Redis server, one connection used by one slot at a time (the
recorder lends it), spoken to directly. A redis-py client call costs ~100 µs of Python
around the ~20 µs of sending and reading (connection pool, retry wrapper, argument
checks, response callbacks); the profile of a worker at concurrency 5 spent 60% of its
time there. On a Redis Cluster and on embedded Redis a lane is the client call (the
cluster client routes each call).
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import redis
from redis.exceptions import NoScriptError

from launchpad.queue.keys import KEY_PARTS, QueueKeys
from launchpad.redis import is_embedded

__all__ = ["SCRIPT_NAMES", "Lane", "Scripts", "script_source"]

SCRIPT_NAMES: tuple[str, ...] = (
    "add_job",
    "move_to_active",
    "move_to_finished",
    "extend_locks",
    "move_stalled_to_wait",
    "promote_delayed",
    "pause",
    "get_job",
    "counts",
    "remove_waiting",
    "obliterate",
)


def _read(name: str) -> str:
    return resources.files("launchpad.queue").joinpath("lua").joinpath(name).read_text("utf-8")


@cache
def script_source(name: str) -> str:
    """The full Lua text sent to Redis for script ``name`` (header + common + body)."""
    if name not in SCRIPT_NAMES:
        raise KeyError(f"no queue script named {name!r}")
    names = ", ".join(f"[{part!r}] = KEYS[{i}]" for i, part in enumerate(KEY_PARTS, 1))
    header = f"local K = {{{names}}}\n"
    return header + _read("_common.lua") + "\n" + _read(f"{name}.lua")


class Scripts:
    """The queue's scripts bound to one connection and one queue's keys."""

    def __init__(self, conn: Any, keys: QueueKeys) -> None:
        self.conn = conn
        self.keys = keys.all()
        self._scripts = {name: conn.register_script(script_source(name)) for name in SCRIPT_NAMES}

    def run(self, name: str, *args: Any, client: Any = None) -> Any:
        """Run script ``name`` with ``args`` (str or int) as ARGV; ``client`` may be a pipeline."""
        script = self._scripts[name]
        return script(keys=self.keys, args=args, client=client or self.conn)

    def lane(self) -> Lane:
        """A connection of its own for the hot path (``recorder.py``); ``close()`` it when done."""
        return Lane(self)


class Lane:
    """Runs scripts over one connection of its own, without the client layer.

    Not thread-safe: one thread at a time (the recorder lends a lane to one slot at a time).
    A failed call drops the connection (the next call opens a new one) and raises what
    redis-py raises, as a client call would. Unlike a client call it does not retry after a
    connection error: the worker reports it, and the job's lock decides what happens to the
    job.
    """

    def __init__(self, scripts: Scripts) -> None:
        self._scripts = scripts
        conn = scripts.conn
        direct = type(conn) is redis.Redis and not is_embedded(conn)
        self._pool: Any = conn.connection_pool if direct else None
        self._connection: Any = None
        self._head = [len(scripts.keys), *scripts.keys]

    def run(self, name: str, *args: Any) -> Any:
        """Run script ``name`` with ``args`` as ARGV, like `Scripts.run`."""
        script = self._scripts._scripts[name]
        if self._pool is None:
            return script(keys=self._scripts.keys, args=args, client=self._scripts.conn)
        if self._connection is None:
            self._connection = self._pool.get_connection()
        connection = self._connection
        try:
            connection.send_command("EVALSHA", script.sha, *self._head, *args)
            try:
                return connection.read_response()
            except NoScriptError:  # the server forgot it (restart, SCRIPT FLUSH): load it again
                connection.send_command("SCRIPT", "LOAD", script.script)
                connection.read_response()
                connection.send_command("EVALSHA", script.sha, *self._head, *args)
                return connection.read_response()
        except BaseException:
            connection.disconnect()  # mid-reply or not, never reuse it: reconnect next time
            raise

    def close(self) -> None:
        if self._connection is not None:
            self._pool.release(self._connection)
            self._connection = None
