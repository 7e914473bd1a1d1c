"""The gateway's rules, seen from outside: ``python docs/examples/gateway_rules.py``.

The gateway's page on the docs site shows the part between the snippet markers; the docs
tests run this file and check that it prints what the page says it prints. Everything
listens on loopback ports of this one process, picked free (port 0).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import httpx

from launchpad.gateway import Gateway, Route, serve_gateway
from launchpad.http.serve import serve


# --8<-- [start:example]
def auth(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    """A stand-in for the auth service: it answers with what the gateway sent it."""
    sent = {"path": environ["PATH_INFO"]}
    sent |= {k[5:].lower().replace("_", "-"): v for k, v in environ.items() if k[:7] == "HTTP_X_"}
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(sent, indent=2).encode()]


with serve(auth, name="auth") as auth_server:
    gateway = Gateway(
        [
            Route("/auth", auth_server.url),
            Route("/notifications", "http://127.0.0.1:9"),  # nothing listens on port 9
        ],
        upstream_timeout=1.0,
    )
    with serve_gateway(gateway) as front, httpx.Client(base_url=front.url) as client:
        print(client.get("/auth/verify").text)  # the same path, plus the gateway's headers
        print(client.get("/authx/verify").status_code)  # 404: /auth does not own /authx
        print(client.get("/auth/%2e%2e/admin").status_code)  # 400: no way out of /auth
        print(client.get("/notifications/1").status_code)  # 502: the service is down
        print(client.request("TRACE", "/auth/x").status_code)  # 405: never forwarded
# --8<-- [end:example]
