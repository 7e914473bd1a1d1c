"""The gateway's two fronts on a socket, for tests that must hold on both.

``event-loop``: aiohttp on one asyncio loop (``serve_gateway``, what ``launchpad up`` runs);
``wsgi``: the ``Gateway`` WSGI app on werkzeug's threaded server.
"""

from __future__ import annotations

from launchpad.gateway import Gateway
from launchpad.gateway.server import serve_gateway
from launchpad.http.serve import RunningServer, serve

FRONTS = ["event-loop", "wsgi"]
"""Both must keep every rule the gateway promises."""


def serve_front(front: str, gateway: Gateway) -> RunningServer:
    if front == "event-loop":
        return serve_gateway(gateway)
    return serve(gateway, name="gateway")
