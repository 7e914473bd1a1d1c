"""The gateway: a fixed route table in front of the services, and a streaming reverse proxy.

``Gateway`` is a WSGI app; ``Route`` is one line of its table::

    gw = Gateway([Route("/auth", "http://127.0.0.1:3001"),
                  Route("/notifications", "http://127.0.0.1:3002")], upstream_timeout=3.0)
    serve(gw, 3000)   # or httpx.Client(transport=httpx.WSGITransport(app=gw))

One idea per module: :mod:`.paths` (which paths may pass), :mod:`.routes` (which upstream
owns a path), :mod:`.headers` (which headers cross, which the gateway sets), :mod:`.bodies`
(streaming both ways), :mod:`.upstream` (kept-alive connections, what a failure is), and
:mod:`.proxy` (the request from start to end: 400, 404, 502, 504 or the upstream's answer).
"""

from launchpad.gateway.paths import CheckedPath, PathRejected, check_target
from launchpad.gateway.proxy import Gateway
from launchpad.gateway.routes import Route, RouteTable

__all__ = ["CheckedPath", "Gateway", "PathRejected", "Route", "RouteTable", "check_target"]
