"""100 MB each way through a gateway process: its memory must not grow with the body.

The gateway runs in a separate process and we read that process's peak RSS (Linux keeps
it as ``VmHWM``; we reset it before each transfer). Measuring in the test process instead
would mix the gateway with the test client, the upstream and pytest itself, whose buffers
and allocator would blur a 30 MB bound. Where ``VmHWM`` is missing (macOS), psutil samples
the RSS every few milliseconds instead, which can only miss a peak, never invent one.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest
from gateway_upstream import PIECE

from launchpad.http.serve import RunningServer

SIZE = 100 * 1024 * 1024
LIMIT = 30 * 1024 * 1024
HERE = Path(__file__).parent


class PeakRss:
    """Peak RSS of process ``pid`` during a ``with`` block, and its growth over the start."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.pid = pid
        self.peak = 0
        self._stop = threading.Event()

    def _hwm(self) -> int | None:
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
        except OSError:
            return None
        return None

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def __enter__(self) -> PeakRss:
        with contextlib.suppress(OSError):  # reset VmHWM to the current RSS (Linux)
            Path(f"/proc/{self.pid}/clear_refs").write_text("5")
        self.start = self.process.memory_info().rss
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._hwm() or 0)

    @property
    def growth(self) -> int:
        return self.peak - self.start


@pytest.fixture
def gateway_process(upstream_server: RunningServer, front: str) -> Iterator[tuple[str, int]]:
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "gateway_process.py"), front, upstream_server.url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), "gateway process did not start"
        yield url, proc.pid
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _pieces() -> Iterator[bytes]:
    for _ in range(SIZE // len(PIECE)):
        yield PIECE


def test_100_mb_each_way_keeps_the_gateway_small(gateway_process: tuple[str, int]) -> None:
    url, pid = gateway_process
    with httpx.Client(base_url=url, timeout=30) as client:
        # Warm up: first requests import and allocate what every later request reuses.
        client.post("/auth/upload", content=PIECE)
        client.get("/auth/download", params={"size": len(PIECE) * 4})

        started = time.monotonic()
        with (
            PeakRss(pid) as down,
            client.stream("GET", "/auth/download", params={"size": SIZE}) as r,
        ):
            received = sum(len(piece) for piece in r.iter_raw())
        down_s = time.monotonic() - started
        assert received == SIZE

        started = time.monotonic()
        with PeakRss(pid) as up:
            r = client.post(
                "/auth/upload", content=_pieces(), headers={"content-length": str(SIZE)}
            )
        up_s = time.monotonic() - started
        assert r.json() == {"received": SIZE}

    report = (
        f"download grew {down.growth / 2**20:.1f} MB in {down_s:.1f} s, "
        f"upload grew {up.growth / 2**20:.1f} MB in {up_s:.1f} s"
    )
    print(report)
    assert down.growth < LIMIT, report
    assert up.growth < LIMIT, report
