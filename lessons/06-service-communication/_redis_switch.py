"""A Redis you can switch off and on, for demos of what a service does while Redis is down.

:class:`RedisSwitch` gives a connection (for the part of the system that should see the
outage) and ``off()`` / ``on()``:

* on the embedded Redis, ``off()`` disconnects the in-process server (every command on it
  raises ``ConnectionError``) and ``on()`` reconnects it, data intact;
* on a real server, the connection goes through a small TCP proxy on a loopback port:
  ``off()`` closes the proxy's port and every connection through it (new ones are refused),
  ``on()`` listens on the same port again. The real server never stops, and nobody else
  sharing it notices.

Fault model: the proxy forwards bytes both ways and nothing more; it only ever connects to
the Redis the demo was given, and listens on 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Any
from urllib.parse import quote

from launchpad.redis import create_redis_connection, is_embedded

__all__ = ["RedisSwitch"]


class RedisSwitch:
    """Redis that can be cut off: ``connection`` goes down with ``off()`` and back with ``on()``."""

    def __init__(self, name: str = "auth") -> None:
        real = create_redis_connection(name)
        self._proxy: _Proxy | None = None
        if is_embedded(real):
            self.connection: Any = real
            self._server = real.connection_pool.connection_kwargs["server"]  # fakeredis's
            return
        kwargs = real.connection_pool.connection_kwargs
        if "host" not in kwargs:
            raise RuntimeError("the Redis switch needs a TCP Redis (redis://host:port)")
        self._proxy = _Proxy(kwargs["host"], int(kwargs.get("port", 6379)))
        real.close()
        auth = ""
        if kwargs.get("password") is not None:
            auth = f"{quote(kwargs.get('username') or '')}:{quote(kwargs['password'])}@"
        url = f"redis://{auth}127.0.0.1:{self._proxy.port}/{kwargs.get('db', 0)}"
        self.connection = create_redis_connection(name, url)  # the kit's settings, via the proxy

    def off(self) -> None:
        if self._proxy is None:
            self._server.connected = False
        else:
            self._proxy.stop()

    def on(self) -> None:
        if self._proxy is None:
            self._server.connected = True
        else:
            self._proxy.start()

    def close(self) -> None:
        self.on()  # never leave the embedded Redis cut off for the next demo
        self.connection.close()
        if self._proxy is not None:
            self._proxy.stop()


class _Proxy:
    """Forwards 127.0.0.1:<port> to the real Redis while started; refuses while stopped."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self.start()

    def start(self) -> None:
        with self._lock:
            if self._listener is not None:
                return
            listener = socket.create_server(("127.0.0.1", self.port))  # SO_REUSEADDR: same port
            listener.settimeout(0.05)
            self.port = listener.getsockname()[1]
            self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            sockets, self._sockets = self._sockets, set()
        if listener is not None:
            listener.close()
        for s in sockets:
            _close(s)

    def _accept(self, listener: socket.socket) -> None:
        while True:
            with self._lock:
                if self._listener is not listener:
                    return
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=2)
            except OSError:
                _close(client)
                continue
            client.settimeout(None)
            upstream.settimeout(None)
            with self._lock:
                if self._listener is not listener:  # switched off meanwhile
                    _close(client)
                    _close(upstream)
                    return
                self._sockets |= {client, upstream}
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(a, b), daemon=True).start()


def _pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    _close(src)
    _close(dst)


def _close(s: socket.socket) -> None:
    with contextlib.suppress(OSError):
        s.shutdown(socket.SHUT_RDWR)
    s.close()
