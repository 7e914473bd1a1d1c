"""The gateway: a fixed route table in front of the services, and a streaming reverse proxy.

``Gateway`` makes the decisions and is a WSGI app; ``Route`` is one line of its table::

    gw = Gateway([Route("/auth", "http://127.0.0.1:3001"),
                  Route("/notifications", "http://127.0.0.1:3002")], upstream_timeout=3.0)
    serve_gateway(gw, 3000)   # on a port: one event loop (launchpad.gateway.server)
    httpx.Client(transport=httpx.WSGITransport(app=gw))   # in-process, no socket

One idea per module: :mod:`.paths` (which paths may pass), :mod:`.routes` (which upstream
owns a path), :mod:`.headers` (which headers cross, which the gateway sets), :mod:`.bodies`
(streaming both ways), :mod:`.upstream` (kept-alive connections, what a failure is),
:mod:`.proxy` (the request from start to end: 400, 404, 502, 504 or the upstream's answer)
and :mod:`.server` (the same decisions served on one asyncio event loop, for a real port).
"""

from launchpad.gateway.paths import CheckedPath, PathRejected, check_target
from launchpad.gateway.proxy import Gateway
from launchpad.gateway.routes import Route, RouteTable

__all__ = ["CheckedPath", "Gateway", "PathRejected", "Route", "RouteTable", "check_target"]
