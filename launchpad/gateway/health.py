"""The gateway's own ``GET /health``: is each upstream answering right now?

The gateway is only as useful as the services behind it, so its health names each one:
``up`` when the service's own ``/health`` says 200, ``down`` with the reason otherwise
(no answer in time, unreachable, or the status it gave). The checks run at once on the
gateway's event loop with a short timeout, so one hung service cannot make the health
check itself hang.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import Any

import aiohttp

from launchpad.correlation import HEADER as CORRELATION_HEADER
from launchpad.gateway.routes import Route
from launchpad.gateway.upstream import UpstreamTimeout, upstream_error

__all__ = ["check_upstream", "health_report"]


async def check_upstream(
    session: aiohttp.ClientSession, route: Route, timeout: float, correlation_id: str
) -> dict[str, Any]:
    """One upstream's state: ``status`` up/down, plus ``http_status`` or ``error``."""
    started = time.perf_counter()
    check: dict[str, Any] = {"name": route.name, "prefix": route.prefix, "target": route.target}
    headers = {"host": route.netloc, CORRELATION_HEADER: correlation_id,
               "x-forwarded-by": "gateway"}  # fmt: skip
    try:
        async with session.get(
            route.target + "/health", headers=headers, allow_redirects=False,
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as response:  # fmt: skip
            await response.content.read(64 * 1024)  # enough for a health body; never more
        check["status"] = "up" if response.status == 200 else "down"
        check["http_status"] = response.status
    except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
        error = upstream_error(exc)
        check["status"] = "down"
        if isinstance(error, UpstreamTimeout):
            check["error"] = f"no answer within {timeout:g} s"
        else:
            check["error"] = f"unreachable ({error})"
    check["elapsed_ms"] = round((time.perf_counter() - started) * 1000, 2)
    return check


async def health_report(
    name: str,
    routes: Iterable[Route],
    session: aiohttp.ClientSession,
    timeout: float,
    correlation_id: str,
) -> dict[str, Any]:
    """``{"service", "status": "ok"|"degraded", "upstreams": [...]}`` for ``GET /health``."""
    checks = await asyncio.gather(
        *(check_upstream(session, route, timeout, correlation_id) for route in routes)
    )
    healthy = all(c["status"] == "up" for c in checks)
    return {"service": name, "status": "ok" if healthy else "degraded", "upstreams": checks}
