"""The gateway benchmark still runs: its quickest mode, no peers, no wrk, tiny streams."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "gateway_overhead.py"


def _bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(BENCH), *args], capture_output=True, text=True, timeout=90
    )


def test_quickest_bench_writes_its_table(tmp_path: Path) -> None:
    done = _bench(
        "--quick", "--no-peers", "--no-wrk", "--upstream", "python",
        "--seconds", "0.1", "--rounds", "1", "--latency-count", "20", "--stream-mb", "1",
        "--out", str(tmp_path), "--plot", "none",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    table = (tmp_path / "gateway_overhead.md").read_text()
    assert "| direct |" in table
    assert "| ours (event loop) |" in table and "WSGI" not in table
    assert "peers skipped (--no-peers)" in table
    assert "cheroot" not in table and "aiohttp " in table  # versions: aiohttp's, not cheroot's
    results = json.loads((tmp_path / "gateway_overhead.json").read_text())["targets"]
    for name in ("ours (event loop)",):
        ours = results[name]
        assert ours["py_rps_1"] > 0 and ours["py_rps_16"] > 0 and ours["cpu_us"] > 0, name
        assert ours["rss_down_mb"] < 30 and ours["rss_up_mb"] < 30, name


@pytest.mark.parametrize("value", ["cheroot", "wsgi", "wsgi,event-loop", ""])
def test_ours_takes_only_our_fronts(value: str, tmp_path: Path) -> None:
    done = _bench("--ours", value, "--out", str(tmp_path), "--plot", "none")
    assert done.returncode == 2 and "use event-loop" in done.stderr


def test_comparison_holds_the_event_loop_against_the_seed_on_every_figure(
    tmp_path: Path,
) -> None:
    figures = {  # seed's, then ours: ahead on all but requests/s at 16 connections
        "added_wrk_p50": (0.8, 0.5), "added_wrk_p99": (3.3, 1.0), "wrk_rps_1": (875.0, 1200.0),
        "wrk_rps_16": (1100.0, 1080.0), "cpu_us": (900.0, 500.0), "rss_down_mb": (31.0, 0.5),
        "rss_up_mb": (1.3, 0.4),
    }  # fmt: skip
    saved = {
        "meta": {"when": "now", "machine": "here", "load": "0", "versions": "-",
                 "upstream": "-", "quick": True, "stream_mb": 8, "wrk": True, "notes": []},
        "targets": {
            "direct": {},
            "ours (event loop)": {k: ours for k, (_, ours) in figures.items()},
            "seed (express + hpm)": {k: seed for k, (seed, _) in figures.items()},
        },
    }  # fmt: skip
    (tmp_path / "run.json").write_text(json.dumps(saved))
    done = _bench("--from-json", str(tmp_path / "run.json"), "--out", str(tmp_path),
                  "--plot", "none")  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    table = (tmp_path / "gateway_overhead.md").read_text()
    comparison = table.split("## Ours against the seed's gateway, same run")[1]
    rows = [
        line for line in comparison.splitlines() if line.startswith("| ") and "|---" not in line
    ]
    assert rows[0] == "| figure | seed | ours (event loop) |"
    assert [row.split(" | ")[0] for row in rows[1:]] == [
        "| added p50 latency, 1 connection (ms)", "| added p99 latency, 1 connection (ms)",
        "| requests/s at 1 connection", "| requests/s at 16 connections",
        "| CPU per request (µs)", "| RSS growth streaming 8 MB down (MB)",
        "| RSS growth streaming 8 MB up (MB)",
    ]  # fmt: skip
    assert "even (within 5%)" in rows[4]
    assert "is ahead of the seed on 6 of 7 figures; not ahead on: requests/s at 16" in table
