"""The gateway's own ``GET /health``: is each upstream answering right now?

The gateway is only as useful as the services behind it, so its health names each one:
``up`` when the service's own ``/health`` says 200, ``down`` with the reason otherwise
(no answer in time, unreachable, or the status it gave). The checks run in parallel with
a short timeout, so one hung service cannot make the health check itself hang.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from launchpad.correlation import HEADER as CORRELATION_HEADER
from launchpad.gateway.routes import Route
from launchpad.gateway.upstream import Upstream, UpstreamTimeout, UpstreamUnreachable

__all__ = ["check_upstream", "health_report"]


def check_upstream(
    upstream: Upstream, route: Route, timeout: float, correlation_id: str
) -> dict[str, Any]:
    """One upstream's state: ``status`` up/down, plus ``http_status`` or ``error``."""
    started = time.perf_counter()
    check: dict[str, Any] = {
        "name": route.name,
        "prefix": route.prefix,
        "target": "in-process" if route.transport else route.target,
    }
    headers = [("host", route.netloc), (CORRELATION_HEADER, correlation_id),
               ("x-forwarded-by", "gateway")]  # fmt: skip
    try:
        response = upstream.send("GET", "/health", headers, None, timeout=timeout)
        try:
            for _ in response.iter_raw():
                pass
        finally:
            response.close()
        check["status"] = "up" if response.status == 200 else "down"
        check["http_status"] = response.status
    except UpstreamTimeout:
        check["status"], check["error"] = "down", f"no answer within {timeout:g} s"
    except UpstreamUnreachable as exc:
        check["status"], check["error"] = "down", f"unreachable ({exc})"
    except Exception as exc:  # an in-process upstream app raised
        check["status"], check["error"] = "down", f"failed ({type(exc).__name__})"
    check["elapsed_ms"] = round((time.perf_counter() - started) * 1000, 2)
    return check


def health_report(
    name: str,
    routes: Iterable[Route],
    upstreams: Mapping[str, Upstream],
    timeout: float,
    correlation_id: str,
) -> dict[str, Any]:
    """``{"service", "status": "ok"|"degraded", "upstreams": [...]}`` for ``GET /health``."""
    routes = list(routes)

    def check(route: Route) -> dict[str, Any]:
        return check_upstream(upstreams[route.name], route, timeout, correlation_id)

    with ThreadPoolExecutor(max_workers=max(1, len(routes))) as pool:
        checks = list(pool.map(check, routes))
    healthy = all(c["status"] == "up" for c in checks)
    return {"service": name, "status": "ok" if healthy else "degraded", "upstreams": checks}
