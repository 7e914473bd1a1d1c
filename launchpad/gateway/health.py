"""The gateway's own ``GET /health``: is each upstream answering right now?

The gateway is only as useful as the services behind it, so its health names each one:
``up`` when the service's own ``/health`` says 200, ``down`` with the reason otherwise
(timed out, unreachable, or the status it gave). The checks run in parallel with a short
timeout, so one hung service cannot make the health check itself hang.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from launchpad.correlation import HEADER as CORRELATION_HEADER
from launchpad.gateway.routes import Route

__all__ = ["check_upstream", "health_report"]


def check_upstream(
    client: httpx.Client, route: Route, timeout: float, correlation_id: str
) -> dict[str, Any]:
    """One upstream's state: ``status`` up/down, plus ``http_status`` or ``error``."""
    started = time.perf_counter()
    check: dict[str, Any] = {
        "name": route.name,
        "prefix": route.prefix,
        "target": "in-process" if route.transport else route.target,
    }
    try:
        response = client.get(
            route.target + "/health",
            headers={CORRELATION_HEADER: correlation_id, "x-forwarded-by": "gateway"},
            timeout=timeout,
        )
        check["status"] = "up" if response.status_code == 200 else "down"
        check["http_status"] = response.status_code
    except httpx.TimeoutException:
        check["status"], check["error"] = "down", f"no answer within {timeout:g} s"
    except httpx.TransportError as exc:
        check["status"], check["error"] = "down", f"unreachable ({type(exc).__name__})"
    except Exception as exc:  # an in-process upstream app raised
        check["status"], check["error"] = "down", f"failed ({type(exc).__name__})"
    check["elapsed_ms"] = round((time.perf_counter() - started) * 1000, 2)
    return check


def health_report(
    name: str,
    routes: Iterable[Route],
    clients: Mapping[str, httpx.Client],
    timeout: float,
    correlation_id: str,
) -> dict[str, Any]:
    """``{"service", "status": "ok"|"degraded", "upstreams": [...]}`` for ``GET /health``."""
    routes = list(routes)
    with ThreadPoolExecutor(max_workers=max(1, len(routes))) as pool:
        checks = list(
            pool.map(lambda r: check_upstream(clients[r.name], r, timeout, correlation_id), routes)
        )
    healthy = all(check["status"] == "up" for check in checks)
    return {"service": name, "status": "ok" if healthy else "degraded", "upstreams": checks}
