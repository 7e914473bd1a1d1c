"""Run a gateway in its own process, so a test can measure that process's memory alone.

Usage: ``python gateway_process.py UPSTREAM_URL [TIMEOUT]``. Prints the gateway's URL on
one line, then serves until its standard input closes (the test ends, the process ends).
"""

from __future__ import annotations

import sys

from launchpad.gateway import Gateway, Route
from launchpad.http.serve import serve
from launchpad.logging import configure_logging


def main() -> None:
    upstream = sys.argv[1]
    timeout = float(sys.argv[2]) if len(sys.argv) > 2 else 3.0
    configure_logging("off")
    gateway = Gateway(
        [Route("/auth", upstream), Route("/notifications", upstream)], upstream_timeout=timeout
    )
    with serve(gateway, name="gateway") as server:
        print(server.url, flush=True)
        sys.stdin.read()  # returns when the parent closes our stdin
    gateway.close()


if __name__ == "__main__":
    main()
