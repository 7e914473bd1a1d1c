"""Run a gateway in its own process, so a test can measure that process's memory alone.

Usage: ``python gateway_process.py event-loop UPSTREAM_URL [TIMEOUT]`` (the one front,
:func:`serve_gateway`, as ``launchpad up`` runs it). Prints the gateway's URL on one line,
then serves until its standard input closes.
"""

from __future__ import annotations

import sys

from launchpad.gateway import Gateway, Route
from launchpad.gateway.server import serve_gateway
from launchpad.logging import configure_logging


def main() -> None:
    front, upstream = sys.argv[1], sys.argv[2]
    timeout = float(sys.argv[3]) if len(sys.argv) > 3 else 3.0
    configure_logging("off")
    gateway = Gateway(
        [Route("/auth", upstream), Route("/notifications", upstream)], upstream_timeout=timeout
    )
    assert front == "event-loop", front
    running = serve_gateway(gateway)
    with running as server:
        print(server.url, flush=True)
        sys.stdin.read()  # returns when the parent closes our stdin
    gateway.close()


if __name__ == "__main__":
    main()
