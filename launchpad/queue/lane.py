"""One connection for all the slots of a worker, with their calls pipelined on it.

A slot that finishes a job calls a script and waits for the reply. If each slot has a
connection of its own, every call is a thread waiting on its own socket, and with a few
slots the threads spend more time waking each other than running jobs. A `Lane` works
like Node's ioredis (what BullMQ runs on): every slot writes its call to one shared
socket at once, without waiting for the calls before it, and one reader thread reads the
replies, which Redis sends back in the order it got the calls, and hands each to the slot
that waits for it. Under load one ``recv`` brings the replies of several slots.

Who calls it: the worker's slots and nobody else (it is not the public API); the replies
come from the Redis server the queue's URL names, the kit's own scripts.

Fault model: a call waits at most the connection's socket timeout (redis-py's default,
5 s, when none is set) and then raises ``redis.TimeoutError``; the connection is dropped,
because a late reply would be taken for the next call's. A connection that breaks (Redis
restarted or killed, the socket reset) fails every call waiting on it with
``redis.ConnectionError``; the next call opens a new connection. Nothing is retried here:
the worker reports the failure and the job's lock decides what happens to the job. A
server that forgot the scripts (restart, ``SCRIPT FLUSH``) gets them loaded again.
"""

from __future__ import annotations

import collections
import contextlib
import socket
import threading
from typing import TYPE_CHECKING, Any

import hiredis
import redis
from redis.exceptions import NoScriptError, ResponseError

from launchpad.redis import is_embedded

if TYPE_CHECKING:
    from launchpad.queue.scripts import Scripts

__all__ = ["Lane"]

DEFAULT_TIMEOUT_S = 5.0
"""How long a call waits for its reply when the connection sets no socket timeout."""


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
    """One call on its way: the slot waits on ``done``; the reader fills in the reply."""

    __slots__ = ("done", "error", "reply")

    def __init__(self) -> None:
        self.reply: Any = None
        self.error: BaseException | None = None
        self.done = threading.Lock()  # held until the reply is in: the cheapest wait
        self.done.acquire()


class _Link:
    """One open connection, the calls waiting on it (in the order sent), and its reader."""

    def __init__(self, lane: Lane) -> None:
        self.connection: Any = lane._pool.make_connection()
        self.connection.connect()  # redis-py does the handshake: AUTH, SELECT, TLS, HELLO
        self.sock: socket.socket = self.connection._sock
        self.sock.settimeout(None)  # the reader waits for replies; calls time out themselves
        self.waiting: collections.deque[_Call] = collections.deque()
        self.reader = threading.Thread(target=lane._read, args=(self,), daemon=True,
                                       name="lane-reader")  # fmt: skip
        self.reader.start()


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
        with self._lock:
            if self._closed:
                raise redis.ConnectionError("the lane is closed")
            link = self._link
            if link is None:
                link = self._link = _Link(self)  # raises redis.ConnectionError if refused
            link.waiting.append(call)
            try:
                link.sock.sendall(packed)
            except OSError as exc:  # the reader sees the broken socket and fails every call
                self._drop(link)
                raise redis.ConnectionError(f"could not send to Redis: {exc}") from exc
        if not call.done.acquire(timeout=self._timeout):
            with self._lock:
                self._drop(link)  # its reply may still come: never read it as another's
            raise redis.TimeoutError(f"no reply from Redis within {self._timeout:g} s")
        if call.error is not None:
            raise call.error
        return call.reply

    def _drop(self, link: _Link) -> None:
        """Stop using ``link`` (call with the lock held); its reader fails what waits on it."""
        if self._link is link:
            self._link = None
        with contextlib.suppress(OSError):  # already shut
            link.sock.shutdown(socket.SHUT_RDWR)  # wakes the reader's recv

    def _read(self, link: _Link) -> None:
        """The reader thread of ``link``: hand each reply to the call that waits for it."""
        reader = hiredis.Reader(replyError=ResponseError, encoding=self._encoding)
        push = getattr(hiredis, "PushNotification", ())
        error: BaseException = redis.ConnectionError("connection closed by the server")
        try:
            while data := link.sock.recv(65536):
                reader.feed(data)
                while (reply := reader.gets()) is not False:
                    if isinstance(reply, push):
                        continue  # RESP3 out-of-band message, not a reply to any call
                    call = link.waiting.popleft()
                    if isinstance(reply, ResponseError):
                        message = str(reply)
                        kind = NoScriptError if message.startswith("NOSCRIPT") else ResponseError
                        call.error = kind(message)
                    else:
                        call.reply = reply
                    call.done.release()
        except (OSError, hiredis.ProtocolError) as exc:
            error = redis.ConnectionError(f"connection to Redis lost: {exc}")
        with self._lock:  # no call joins this link from now on
            self._drop(link)
            waiting, link.waiting = list(link.waiting), collections.deque()
        link.connection.disconnect()
        for call in waiting:
            call.error = error
            call.done.release()

    def close(self) -> None:
        """Close the connection; calls still waiting fail with ``redis.ConnectionError``."""
        with self._lock:
            self._closed = True
            link, self._link = self._link, None
            if link is not None:
                self._drop(link)
        if link is not None:
            link.reader.join(5)
