"""The gateway's front on a socket, for the tests: the event loop, as ``launchpad up`` runs it.

The gateway has one front (``serve_gateway``); the fixture keeps a ``front`` name so a
test's log and id say which one it ran on.
"""

from __future__ import annotations

from launchpad.gateway import Gateway
from launchpad.gateway.server import serve_gateway
from launchpad.http.serve import RunningServer

FRONTS = ["event-loop"]


def serve_front(front: str, gateway: Gateway) -> RunningServer:
    assert front == "event-loop"
    return serve_gateway(gateway)
