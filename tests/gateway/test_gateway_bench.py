"""The gateway benchmark still runs: its quickest mode, no peers, no wrk, tiny streams."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "gateway_overhead.py"


def test_quickest_bench_writes_its_table(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--no-peers", "--no-wrk", "--upstream", "python",
         "--ours", "werkzeug",
         "--seconds", "0.1", "--rounds", "1", "--latency-count", "20", "--stream-mb", "1",
         "--out", str(tmp_path), "--plot", "none"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    table = (tmp_path / "gateway_overhead.md").read_text()
    assert "| direct |" in table and "| ours (werkzeug) |" in table
    assert "peers skipped (--no-peers)" in table
    results = json.loads((tmp_path / "gateway_overhead.json").read_text())["targets"]
    ours = results["ours (werkzeug)"]
    assert ours["py_rps_16"] > 0 and ours["cpu_us"] > 0
    assert ours["rss_down_mb"] < 30 and ours["rss_up_mb"] < 30
