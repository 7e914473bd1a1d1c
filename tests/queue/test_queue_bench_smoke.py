"""The throughput benchmark still runs (tiny N, two systems), so it cannot rot unseen."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.real_redis, pytest.mark.timeout(60)]

BENCH = Path(__file__).resolve().parents[2] / "bench" / "queue_throughput.py"


def test_the_benchmark_writes_its_table_and_plot(real_redis_url: str, tmp_path: Path) -> None:
    out, png = tmp_path / "table.md", tmp_path / "plot.png"
    proc = subprocess.run(
        [
            sys.executable,
            str(BENCH),
            "--jobs",
            "40",
            "--systems",
            "launchpad,raw",
            "--url",
            real_redis_url,
            "--out",
            str(out),
            "--plot",
            str(png),
        ],
        capture_output=True,
        text=True,
        timeout=50,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    table = out.read_text()
    assert "| LaunchPad queue |" in table and "| raw redis-py" in table
    assert "error" not in table
    assert png.stat().st_size > 1000
