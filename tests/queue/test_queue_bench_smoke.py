"""The throughput benchmark still runs (quick mode, the kit and the raw loop), so it cannot
rot unseen; and its peers are pinned, so ``make bench`` resolves at once on a fresh machine."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench" / "queue_throughput.py"
PEERS = ROOT / "bench" / "peers"


@pytest.mark.slow
@pytest.mark.real_redis
@pytest.mark.timeout(60)
def test_the_benchmark_writes_its_table_and_plot(real_redis_url: str, tmp_path: Path) -> None:
    out, png = tmp_path / "table.md", tmp_path / "plot.png"
    proc = subprocess.run(
        [
            sys.executable,
            str(BENCH),
            "--quick",
            "--jobs",
            "60",
            "--memory-jobs",
            "200",
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
    assert re.search(r"\| LaunchPad queue \|.*\| \d[\d,]* \(200 jobs\) \|", table), table
    saved = json.loads(out.with_suffix(".json").read_text())["results"]["launchpad"]
    assert {"c1", "c5", "c50", "memory"} <= saved.keys()
    assert png.stat().st_size > 1000


def test_python_peers_are_pinned_in_a_venv_of_their_own() -> None:
    """BullMQ's Python port needs redis-py < 6, the kit gets 8: one venv cannot hold both
    without pip backtracking for minutes, so the peers live in bench/peers/.venv, pinned."""
    lines = [
        line.split("#")[0].strip()
        for line in (PEERS / "requirements.txt").read_text().splitlines()
        if line.split("#")[0].strip()
    ]
    assert lines and all(re.fullmatch(r"[\w.\[\]-]+==[\w.]+", line) for line in lines), lines
    names = {re.split(r"[\[=]", line)[0].lower() for line in lines}
    assert {"rq", "arq", "bullmq", "redis"} <= names
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    bench = {re.split(r"[<>=\[; ]", dep)[0].lower() for dep in extras["bench"]}
    assert not bench & {"rq", "arq", "bullmq"}, "peers in the kit's own bench extra"


def test_bullmq_for_node_is_pinned_by_the_lock_file() -> None:
    package = json.loads((PEERS / "package.json").read_text())
    lock = json.loads((PEERS / "package-lock.json").read_text())
    for name in ("bullmq", "ioredis"):
        wanted = package["dependencies"][name]
        assert re.fullmatch(r"\d+\.\d+\.\d+", wanted), f"{name} is not pinned: {wanted}"
        assert lock["packages"][f"node_modules/{name}"]["version"] == wanted
