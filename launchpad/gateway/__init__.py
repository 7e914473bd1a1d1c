"""The gateway: a fixed route table in front of the services, served on one event loop.

``Gateway`` holds the table, the limits and the decisions; ``serve_gateway`` puts it on a
loopback port (aiohttp, one asyncio loop); ``Route`` is one line of its table:

```python
gw = Gateway([Route("/auth", "http://127.0.0.1:3001"),
              Route("/notifications", "http://127.0.0.1:3002")], upstream_timeout=3.0)
serve_gateway(gw, 3000)
```

One idea per module: ``rules`` (what is refused before routing: version, method,
Host, framing, sizes, limits), ``paths`` (which paths may pass), ``routes``
(which upstream owns a path), ``headers`` (which headers cross, which the gateway
sets), ``proxy`` (the decisions and the error answers), ``upstream`` (the clean
pool, and what an upstream failure is), ``health`` and ``server`` (the front:
the bytes of every connection, on one event loop).
"""

from launchpad.gateway.paths import CheckedPath, PathRejected, check_target
from launchpad.gateway.proxy import Gateway
from launchpad.gateway.routes import Route, RouteTable
from launchpad.gateway.rules import Limits
from launchpad.gateway.server import serve_gateway

__all__ = [
    "CheckedPath",
    "Gateway",
    "Limits",
    "PathRejected",
    "Route",
    "RouteTable",
    "check_target",
    "serve_gateway",
]
