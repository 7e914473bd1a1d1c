"""One connection for all the slots of a worker, with their calls pipelined on it.

A slot that finishes a job calls a script and waits for the reply. If each slot has a
connection of its own, every call is a thread waiting on its own socket, and with a few
slots the threads spend more time waking each other than running jobs. A `Lane` works
like Node's ioredis (what BullMQ runs on): every slot writes its call to one shared
socket at once, without waiting for the calls before it. Redis answers in the order it got
the calls, so one thread at a time reads: the slot whose call is the oldest unanswered
one. It hands each reply it reads to the slot that waits for it, and once its own is in,
passes the reading on to the next slot still waiting. Under load one ``recv`` brings the
replies of several slots; with one slot, a call is a plain send and receive, with no
thread in between.

Who calls it: the worker's slots and nobody else (it is not the public API); the replies
come from the Redis server the queue's URL names, the kit's own scripts.

Fault model: a call waits at most the connection's socket timeout (5 s when none is set,
redis-py 8's default) and then raises ``redis.TimeoutError``; the connection is dropped,
because a late reply would be taken for the next call's, and the calls sent after it on
that connection fail with the same error. A connection that breaks (Redis restarted or
killed, the socket reset) fails every call waiting on it with ``redis.ConnectionError``;
the next call opens a new connection. Nothing is retried here:
the worker reports the failure and the job's lock decides what happens to the job. A
server that forgot the scripts (restart, ``SCRIPT FLUSH``) gets them loaded again.
"""

from __future__ import annotations

import collections
import contextlib
import socket
import threading
import time
from typing import TYPE_CHECKING, Any

import hiredis
import redis
from redis.exceptions import NoScriptError, ResponseError

from launchpad.redis import is_embedded

if TYPE_CHECKING:
    from launchpad.queue.scripts import Scripts

__all__ = ["Lane"]

_PUSH = getattr(hiredis, "PushNotification", ())  # hiredis < 3.2 has no RESP3 pushes

DEFAULT_TIMEOUT_S = 5.0
"""How long a call waits for its reply when the connection sets no socket timeout."""


def _error(reply: ResponseError) -> ResponseError:
    message = str(reply)
    return NoScriptError(message) if message.startswith("NOSCRIPT") else ResponseError(message)


def _packed_head(*args: Any) -> tuple[int, bytes]:
    """The first ``args`` of a command, packed once (a script's name and 20-odd keys never
    change: packing them for every call was 1.5 of a call's 2.8 µs of packing)."""
    packed = hiredis.pack_command(args)
    return len(args), packed[packed.index(b"\r\n") + 2 :]


def _pack(head: tuple[int, bytes], args: tuple[Any, ...]) -> bytes:
    """A command of ``head`` then ``args`` in the Redis protocol: ``*<count>`` then each."""
    count, packed_head = head
    tail = hiredis.pack_command(args) if args else b"*0\r\n"
    return b"*%d\r\n" % (count + len(args)) + packed_head + tail[tail.index(b"\r\n") + 2 :]


class _Call:
    """One call on its way; its slot sleeps on ``woken`` until its reply is in or it must
    read the socket itself (``reads``)."""

    __slots__ = ("error", "finished", "reads", "reply", "woken")

    def __init__(self) -> None:
        self.reply: Any = None
        self.error: BaseException | None = None
        self.finished = False  # reply or error is in
        self.reads = False  # this call's slot is the one reading the socket
        self.woken = threading.Lock()  # held until the slot may go on: the cheapest wait
        self.woken.acquire()

    def settle(self, reply: Any = None, error: BaseException | None = None) -> None:
        self.reply, self.error, self.finished = reply, error, True


class _Link:
    """One open connection, the calls waiting on it (in the order sent), and its parser."""

    def __init__(self, lane: Lane) -> None:
        self.connection: Any = lane._pool.make_connection()
        self.connection.connect()  # redis-py does the handshake: AUTH, SELECT, TLS, HELLO
        self.sock: socket.socket = self.connection._sock
        self.parser = hiredis.Reader(replyError=ResponseError, encoding=lane._encoding)
        self.waiting: collections.deque[_Call] = collections.deque()
        self.reading = False  # a slot is reading (the oldest waiting call's)
        self.broken: BaseException | None = None  # why it was dropped, once it is


class Lane:
    """Runs the queue's scripts for many threads over one pipelined connection.

    On embedded Redis and on a Redis Cluster a lane is a plain client call (thread-safe
    as it is; the cluster client routes each call to its node).
    """

    def __init__(self, scripts: Scripts) -> None:
        self._scripts = scripts
        conn = scripts.conn
        direct = type(conn) is redis.Redis and not is_embedded(conn)
        self._pool: Any = conn.connection_pool if direct else None
        kwargs: dict[str, Any] = conn.connection_pool.connection_kwargs if direct else {}
        self._timeout = kwargs.get("socket_timeout") or DEFAULT_TIMEOUT_S
        self._encoding = "utf-8" if kwargs.get("decode_responses") else None
        self._keys = [len(scripts.keys), *scripts.keys]
        self._heads: dict[str, tuple[int, bytes]] = {}  # script name -> its packed EVALSHA head
        self._lock = threading.Lock()  # one writer at a time: the wire order is the reply order
        self._link: _Link | None = None
        self._closed = False

    def run(self, name: str, *args: Any) -> Any:
        """Run script ``name`` with ``args`` as ARGV, like `Scripts.run`; thread-safe."""
        script = self._scripts._scripts[name]
        if self._pool is None:
            return script(keys=self._scripts.keys, args=args, client=self._scripts.conn)
        head = self._heads.get(name)
        if head is None:
            head = self._heads[name] = _packed_head("EVALSHA", script.sha, *self._keys)
        try:
            return self._send(_pack(head, args))
        except NoScriptError:  # the server forgot it (restart, SCRIPT FLUSH): load it again
            self._call("SCRIPT", "LOAD", script.script)
            return self._send(_pack(head, args))

    def _call(self, *command: Any) -> Any:
        """Send one command and wait for its reply."""
        return self._send(hiredis.pack_command(command))

    def _send(self, packed: bytes) -> Any:
        call = _Call()
        deadline = time.monotonic() + self._timeout
        with self._lock:
            if self._closed:
                raise redis.ConnectionError("the lane is closed")
            link = self._link
            if link is None:
                link = self._link = _Link(self)  # raises redis.ConnectionError if refused
            link.waiting.append(call)  # before sending: its reply may be read at once
            try:
                link.sock.sendall(packed)
            except OSError as exc:  # the slot that reads sees the broken socket
                error = redis.ConnectionError(f"could not send to Redis: {exc}")
                self._drop(link, error)
                if not link.reading:
                    link.waiting.clear()
                raise error from exc
            if not link.reading:  # nobody reads: this slot does
                link.reading = call.reads = True
        while not call.finished:
            if call.reads:
                self._read(link, call, deadline)
            elif not call.woken.acquire(timeout=max(deadline - time.monotonic(), 0)):
                self._time_out(link, call)
        if call.error is not None:
            raise call.error
        return call.reply

    def _read(self, link: _Link, mine: _Call, deadline: float) -> None:
        """Read replies and hand them out until ``mine`` is in; then pass the reading on."""
        try:
            while not mine.finished:
                link.sock.settimeout(max(deadline - time.monotonic(), 0.001))
                data = link.sock.recv(65536)
                if not data:
                    raise ConnectionError("connection closed")
                link.parser.feed(data)
                while (reply := link.parser.gets()) is not False:
                    if isinstance(reply, _PUSH):
                        continue  # RESP3 out-of-band message, not a reply to any call
                    call = link.waiting.popleft()
                    if isinstance(reply, ResponseError):
                        call.settle(error=_error(reply))
                    else:
                        call.settle(reply)
                    if call is not mine:
                        call.woken.release()
        except TimeoutError:
            self._break(link, self._timed_out())
            return
        except (OSError, hiredis.ProtocolError) as exc:  # or dropped: say why it was
            self._break(link, link.broken or redis.ConnectionError(f"Redis connection lost: {exc}"))
            return
        with self._lock:
            mine.reads = False
            successor = link.waiting[0] if link.waiting and not link.broken else None
            if successor is None:
                link.reading = False
            else:
                successor.reads = True
        if successor is not None:
            successor.woken.release()
        elif link.broken:  # dropped meanwhile (a timeout, close): fail what still waits
            self._break(link, link.broken)

    def _time_out(self, link: _Link, call: _Call) -> None:
        """``call`` waited its time: drop the connection (its reply may still come, and must
        never be read as another call's), and fail what waits on it."""
        with self._lock:
            if call.finished or call.reads:  # answered, or handed the reading, just in time
                return
            call.settle(error=self._timed_out())
            self._drop(link, self._timed_out())  # the slot that reads fails every call left

    def _timed_out(self) -> redis.TimeoutError:
        return redis.TimeoutError(f"no reply from Redis within {self._timeout:g} s")

    def _break(self, link: _Link, error: BaseException) -> None:
        """The reading slot's socket failed: every call still waiting on it fails."""
        with self._lock:
            self._drop(link, error)
            link.reading = False
            waiting, link.waiting = list(link.waiting), collections.deque()
        link.connection.disconnect()
        for call in waiting:
            reads = call.reads
            if not call.finished:
                call.settle(error=error)
            if not reads:  # the reading slot is running already: it needs no waking
                call.woken.release()

    def _drop(self, link: _Link, why: BaseException) -> None:
        """Stop using ``link`` (call with the lock held); the slot reading it sees the close
        and fails every call left on it with ``why``."""
        if self._link is link:
            self._link = None
        link.broken = link.broken or why
        with contextlib.suppress(OSError):  # already shut
            link.sock.shutdown(socket.SHUT_RDWR)  # wakes the reading slot's recv

    def close(self) -> None:
        """Close the connection; calls still waiting fail with ``redis.ConnectionError``."""
        with self._lock:
            self._closed = True
            link = self._link
            if link is None:
                return
            self._drop(link, redis.ConnectionError("the lane is closed"))
            idle = not link.reading
        if idle:
            link.connection.disconnect()
