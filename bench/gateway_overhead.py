"""What does a gateway cost? The same upstream, reached directly and through each gateway.

One run, one upstream (a small Node server when Node is here, else a stdlib Python one),
the same clients for every target:

- **direct**: the upstream itself, the baseline;
- **ours (event loop)**: ``launchpad.gateway.Gateway``'s decisions served by aiohttp on one asyncio
  event loop (``serve_gateway()`` in ``launchpad.gateway.server``), as ``launchpad up``
  runs it;
- **seed (express + hpm)**: the seed lesson's own gateway, Express + http-proxy-middleware
  with the seed's options (``bench/peers/seed_gateway.js``, installed here with ``npm``);
- **nginx**: when an ``nginx`` binary is installed, with kept-alive upstream connections.

Figures per target: p50/p99 latency at 1 connection and what the gateway adds to the
direct figure, requests/s at 1 and 16 connections, the gateway process's CPU time per
request (during the 16-connection run), and its peak RSS growth while 100 MB stream
through it each way. Load comes from ``wrk`` when installed and always from a Python
keep-alive client (``http.client``, one connection per thread); both are reported.
A last table holds the event-loop front against the seed's gateway on each of those
figures (added p50 and p99, requests/s at 1 and 16 connections, CPU per request, RSS
growth down and up).

Usage::

    python bench/gateway_overhead.py            # full run (a few minutes)
    python bench/gateway_overhead.py --quick    # a fast look
    python bench/gateway_overhead.py --quick --no-peers --no-wrk --out /tmp/x --plot none

Writes ``bench/results/gateway_overhead.md`` and ``.json``, and the plot
``docs/assets/bench/gateway_overhead.png``. The machine is shared and noisy: each
throughput figure is the median of several rounds, with all targets taking turns.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.client
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PEERS = HERE / "peers"
PIECE = b"x" * 65536
MB = 1024 * 1024

# Our gateway's front, by the name --ours takes (it has one: the event loop).
OURS = {"event-loop": "ours (event loop)"}
EVENT_LOOP = OURS["event-loop"]  # what `launchpad up` runs: the one held against the seed
SEED = "seed (express + hpm)"


# -- the targets ---------------------------------------------------------------------------


@dataclass
class Target:
    name: str
    url: str
    process: subprocess.Popen[bytes] | None  # the process whose CPU and memory we measure
    results: dict[str, Any] = field(default_factory=dict)
    start: Callable[[], Target] | None = None  # a fresh process of the same gateway

    def renew(self) -> None:
        """Replace the process with a fresh one (the upstream, *direct*, stays)."""
        if self.start is not None:
            _stop(self.process)
            fresh = self.start()
            self.url, self.process = fresh.url, fresh.process

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid


def _start(cmd: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None,
           ready: str = "listening") -> tuple[subprocess.Popen[bytes], int]:  # fmt: skip
    """Start a server process that prints ``listening PORT``; returns it and the port."""
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE)  # fmt: skip
    assert proc.stdout is not None
    line = proc.stdout.readline().decode().strip()
    if not line.startswith(ready):
        proc.kill()
        raise RuntimeError(f"{cmd[0]} did not start: {line!r}")
    return proc, int(line.split()[-1])


def _stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(OSError):
        if proc.stdin:
            proc.stdin.close()
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_upstream(kind: str) -> tuple[str, subprocess.Popen[bytes]]:
    if kind == "node":
        proc, port = _start(["node", str(PEERS / "upstream.js"), "0"])
    else:
        proc, port = _start([sys.executable, __file__, "--serve-upstream"])
    return f"http://127.0.0.1:{port}", proc


def start_ours(front: str, upstream: str) -> Target:
    cmd = [sys.executable, __file__, "--serve-ours", front, "--upstream-url", upstream]
    proc, port = _start(cmd)
    return Target(OURS[front], f"http://127.0.0.1:{port}", proc)


def npm_install(notes: list[str]) -> bool:
    if (PEERS / "node_modules" / "http-proxy-middleware").is_dir():
        return True
    if shutil.which("npm") is None:
        notes.append("seed gateway skipped: npm is not installed")
        return False
    done = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"],
                          cwd=PEERS, capture_output=True, text=True, timeout=300)  # fmt: skip
    if done.returncode != 0:
        notes.append(f"seed gateway skipped: npm install failed ({done.stderr.strip()[-200:]})")
        return False
    return True


def start_seed(upstream: str) -> Target:
    proc, port = _start(["node", "seed_gateway.js", "0", upstream], cwd=PEERS)
    return Target(SEED, f"http://127.0.0.1:{port}", proc)


NGINX_CONF = """
worker_processes 1;
master_process off;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fcgi; uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;
  upstream services {{ server {upstream}; keepalive 32; }}
  map $http_x_correlation_id $cid {{ default $http_x_correlation_id; "" $request_id; }}
  server {{
    listen 127.0.0.1:{port};
    client_max_body_size 0;
    location / {{
      proxy_pass http://services;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header x-correlation-id $cid;
      proxy_set_header x-forwarded-by gateway;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_request_buffering off;
      proxy_buffering off;
    }}
  }}
}}
"""


def start_nginx(upstream: str, tmp: Path) -> Target:
    port = _free_port()
    conf = tmp / "nginx.conf"
    conf.write_text(NGINX_CONF.format(tmp=tmp, upstream=upstream.split("//")[1], port=port))
    proc = subprocess.Popen(["nginx", "-p", str(tmp), "-c", str(conf), "-e", "stderr"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return Target("nginx", f"http://127.0.0.1:{port}", proc)
        time.sleep(0.05)
    _stop(proc)
    raise RuntimeError("nginx did not start")


# -- the clients -----------------------------------------------------------------------------


class KeepAliveClient:
    """One ``http.client`` connection, reopened when the server closes it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def get(self, path: str) -> int:
        try:
            return self._get(path)
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            self.conn.close()
            return self._get(path)

    def _get(self, path: str) -> int:
        self.conn.request("GET", path)
        response = self.conn.getresponse()
        response.read()
        if response.will_close:
            self.conn.close()
        return response.status

    def close(self) -> None:
        self.conn.close()


def latency_runs(targets: list[Target], count: int) -> None:
    """``count`` rounds of one request to each target in turn, each on its own connection.

    Taking turns means a busy moment of the shared machine hits every target alike, and
    pairs each request with a direct one made just before it: *added* latency is then
    measured per pair (the target's time minus the direct time), and its p50/p99 are the
    percentiles of those differences.
    """
    clients = [KeepAliveClient(t.port) for t in targets]
    samples: list[list[float]] = [[] for _ in targets]
    for _ in range(min(50, count)):
        for client in clients:
            client.get("/auth/bench")
    for _ in range(count):
        for client, out in zip(clients, samples, strict=True):
            started = time.perf_counter()
            status = client.get("/auth/bench")
            out.append((time.perf_counter() - started) * 1000)
            if status != 200:
                raise RuntimeError(f"status {status} from port {client.port}")
    for client in clients:
        client.close()
    for target, out in zip(targets, samples, strict=True):
        target.results["py_p50"] = statistics.median(out)
        target.results["py_p99"] = statistics.quantiles(out, n=100)[98]
        if target is not targets[0]:
            diffs = [a - b for a, b in zip(out, samples[0], strict=True)]
            target.results["added_py_p50"] = statistics.median(diffs)
            target.results["added_py_p99"] = statistics.quantiles(diffs, n=100)[98]


def throughput_run(port: int, connections: int, seconds: float) -> int:
    """Requests completed by ``connections`` threads in ``seconds`` (Python client)."""
    stop_at = time.monotonic() + seconds
    counts = [0] * connections

    def worker(i: int) -> None:
        client = KeepAliveClient(port)
        while time.monotonic() < stop_at:
            if client.get("/auth/bench") == 200:
                counts[i] += 1
        client.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 30)
    return sum(counts)


_WRK_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk_run(url: str, connections: int, seconds: float) -> dict[str, float]:
    threads = 1 if connections == 1 else 2
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s",
         "--latency", url + "/auth/bench"],
        capture_output=True, text=True, timeout=seconds + 60,
    ).stdout  # fmt: skip
    result: dict[str, float] = {}
    for key, pct in (("p50", "50%"), ("p99", "99%")):
        m = re.search(rf"^\s+{pct}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if m:
            result[key] = float(m.group(1)) * _WRK_UNITS[m.group(2)]
    m = re.search(r"^\s*(\d+) requests in", out, re.M)
    result["requests"] = float(m.group(1)) if m else 0.0
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    result["rps"] = float(m.group(1)) if m else 0.0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    result["errors"] = float(m.group(1)) if m else 0.0
    return result


# -- process measurements ------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_bytes(pid: int, key: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    return 0


@contextlib.contextmanager
def peak_rss_growth(pid: int, out: dict[str, float], key: str) -> Iterator[None]:
    """Peak RSS minus RSS at the start (Linux ``VmHWM``, reset first through clear_refs)."""
    with contextlib.suppress(OSError):
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    start = rss_bytes(pid)
    peak = start
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.wait(0.005):
            with contextlib.suppress(OSError):
                peak = max(peak, rss_bytes(pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield
    finally:
        stop.set()
        sampler.join()
        peak = max(peak, rss_bytes(pid, "VmHWM"))
        out[key] = (peak - start) / MB


def stream(target: Target, direction: str, size: int) -> None:
    """``size`` bytes down or up through the target: its memory growth and speed."""
    r = target.results
    conn = http.client.HTTPConnection("127.0.0.1", target.port, timeout=60)
    conn.request("GET", "/auth/download?size=65536")  # warm up first
    conn.getresponse().read()
    conn.close()
    conn = http.client.HTTPConnection("127.0.0.1", target.port, timeout=60)
    started = time.perf_counter()
    if direction == "down":
        with peak_rss_growth(target.pid, r, "rss_down_mb"):
            conn.request("GET", f"/auth/download?size={size}")
            response = conn.getresponse()
            got = 0
            while data := response.read(65536):
                got += len(data)
        r["down_mb_s"] = size / MB / (time.perf_counter() - started)
        conn.close()
        if got != size:
            raise RuntimeError(f"{target.name}: downloaded {got} of {size} bytes")
        return

    def pieces() -> Iterator[bytes]:
        for _ in range(size // len(PIECE)):
            yield PIECE

    with peak_rss_growth(target.pid, r, "rss_up_mb"):
        conn.request("POST", "/auth/upload", body=pieces(),
                     headers={"content-length": str(size // len(PIECE) * len(PIECE))})  # fmt: skip
        answer = json.loads(conn.getresponse().read())
    r["up_mb_s"] = size / MB / (time.perf_counter() - started)
    conn.close()
    if answer.get("received") != size // len(PIECE) * len(PIECE):
        raise RuntimeError(f"{target.name}: upstream received {answer}")


# -- the run ---------------------------------------------------------------------------------


def measure(
    targets: list[Target], *, rounds: int, seconds: float, latency_count: int, use_wrk: bool,
    stream_mb: int,
) -> None:  # fmt: skip
    latency_runs(targets, latency_count)
    for _ in range(rounds):  # all targets take turns, so a busy moment hits them alike
        for target in targets:
            r = target.results
            for conns in (1, 16):
                r.setdefault(f"py_rps_{conns}", []).append(
                    throughput_run(target.port, conns, seconds) / seconds
                )
            if use_wrk:
                w1 = wrk_run(target.url, 1, seconds)
                r.setdefault("wrk_p50", []).append(w1.get("p50", float("nan")))
                r.setdefault("wrk_p99", []).append(w1.get("p99", float("nan")))
                r.setdefault("wrk_rps_1", []).append(w1["rps"])
            cpu_before = cpu_seconds(target.pid)
            if use_wrk:
                w16 = wrk_run(target.url, 16, seconds)
                requests = w16["requests"]
                r.setdefault("wrk_rps_16", []).append(w16["rps"])
                r["errors"] = r.get("errors", 0) + w16["errors"]
            else:
                requests = throughput_run(target.port, 16, seconds)
            cpu = cpu_seconds(target.pid) - cpu_before
            r.setdefault("cpu_us", []).append(cpu / max(1, requests) * 1e6)
    for target in targets:
        for key, value in list(target.results.items()):
            if isinstance(value, list):
                target.results[key] = statistics.median(value)
        for direction in ("down", "up") if stream_mb else ():
            # Each transfer on a fresh process: a runtime that kept the memory it grew on
            # the last transfer (a garbage-collected heap) would hide this one's growth.
            target.renew()
            stream(target, direction, stream_mb * MB)


def added(targets: list[Target]) -> None:
    """wrk cannot pair requests: its *added* figures are differences of percentiles."""
    direct = targets[0].results
    for target in targets[1:]:
        r = target.results
        for key in ("wrk_p50", "wrk_p99"):
            if key in r and key in direct:
                r["added_" + key] = r[key] - direct[key]


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


TARGET_NOTES = {
    "direct": "the upstream itself, no gateway: the baseline",
    EVENT_LOOP: "the same Gateway decisions served by aiohttp on one asyncio event loop "
    "(serve_gateway() in launchpad.gateway.server): client keep-alive, a pool of kept-alive "
    "upstream connections, no thread per request; this is what `launchpad up` runs",
    SEED: "the seed lesson's gateway: Express + http-proxy-middleware with the "
    "seed's options (bench/peers/seed_gateway.js)",
    "nginx": "nginx, one worker, kept-alive upstream connections, request and response "
    "buffering off",
}


def _compare(value: float, base: float, lower: bool) -> tuple[str, bool]:
    """``value`` against ``base`` in words, and whether it is ahead (more than 5% better)."""
    better = value < base if lower else value > base
    if abs(base) <= 1e-9:
        return ("better" if better else "worse"), better
    change = abs(value - base) / abs(base)
    if change < 0.05:
        return "even (within 5%)", False
    return f"{'better' if better else 'worse'} by {change:.0%}", better


def verdict(targets: list[Target], use_wrk: bool, mb: int) -> list[str]:
    """Ours against the seed's gateway on every figure the issue names, in this run.

    The event-loop front is what ``launchpad up`` runs. The line under the table counts
    the figures on which it is ahead of the seed (by more than 5%).
    """
    by_name = {t.name: t.results for t in targets}
    seed = by_name.get(SEED)
    ours = sorted((n for n in by_name if n.startswith("ours")), key=lambda n: n != EVENT_LOOP)
    if seed is None or not ours:
        return []
    tool = "wrk" if use_wrk else "py"
    figures = [  # key, label, lower is better
        (f"added_{tool}_p50", "added p50 latency, 1 connection (ms)", True),
        (f"added_{tool}_p99", "added p99 latency, 1 connection (ms)", True),
        (f"{tool}_rps_1", "requests/s at 1 connection", False),
        (f"{tool}_rps_16", "requests/s at 16 connections", False),
        ("cpu_us", "CPU per request (µs)", True),
        ("rss_down_mb", f"RSS growth streaming {mb} MB down (MB)", True),
        ("rss_up_mb", f"RSS growth streaming {mb} MB up (MB)", True),
    ]
    source = "wrk" if use_wrk else "the Python client"
    lines = ["", "## Ours against the seed's gateway, same run", "",
             f"Latency and requests/s from {source}.", "",
             "| figure | seed | " + " | ".join(ours) + " |",
             "|---|---:|" + "---:|" * len(ours)]  # fmt: skip
    ahead: list[str] = []
    behind: list[str] = []
    for key, label, lower in figures:
        if key not in seed:
            continue
        base = float(seed[key])
        cells = []
        for name in ours:
            value = by_name[name].get(key)
            if value is None:
                cells.append("-")
                continue
            word, is_ahead = _compare(float(value), base, lower)
            cells.append(f"{_fmt(float(value), 2)} ({word})")
            if name == EVENT_LOOP:
                (ahead if is_ahead else behind).append(label)
        lines.append(f"| {label} | {_fmt(base, 2)} | " + " | ".join(cells) + " |")
    if EVENT_LOOP in by_name and (ahead or behind):
        lines += ["", f"**{EVENT_LOOP}** is ahead of the seed on {len(ahead)} of "
                  f"{len(ahead) + len(behind)} figures"
                  + (f"; not ahead on: {', '.join(behind)}." if behind else ".")]  # fmt: skip
    return lines


def write_markdown(path: Path, targets: list[Target], meta: dict[str, Any]) -> str:
    use_wrk = meta["wrk"]
    mb = meta["stream_mb"]
    lines = [
        "# Gateway overhead",
        "",
        f"Run {meta['when']} on {meta['machine']} (load average at start {meta['load']}). "
        f"Versions: {meta['versions']}. "
        f"Upstream: {meta['upstream']}. Mode: {'quick' if meta['quick'] else 'full'}; "
        f"streaming {meta['stream_mb']} MB each way. Our gateway logs are off "
        "(JSON lines cost it about 0.1 ms of CPU per request more).",
        "",
    ]
    lines += [f"- **{t.name}**: {TARGET_NOTES[t.name]}" for t in targets if t.name in TARGET_NOTES]
    lines.append("")
    if use_wrk:
        lines += [
            "## wrk (latency at 1 connection; throughput at 1 and 16 connections)",
            "",
            "| target | p50 ms | p99 ms | added p50 ms | added p99 ms | req/s @1 | req/s @16 "
            f"| CPU µs/req | RSS growth ↓{mb} MB | RSS growth ↑{mb} MB |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for t in targets:
            r = t.results
            lines.append(
                f"| {t.name} | {_fmt(r.get('wrk_p50'), 3)} | {_fmt(r.get('wrk_p99'), 3)} "
                f"| {_fmt(r.get('added_wrk_p50'), 3)} | {_fmt(r.get('added_wrk_p99'), 3)} "
                f"| {_fmt(r.get('wrk_rps_1'), 0)} | {_fmt(r.get('wrk_rps_16'), 0)} "
                f"| {_fmt(r.get('cpu_us'), 0)} | {_fmt(r.get('rss_down_mb'), 1)} MB "
                f"| {_fmt(r.get('rss_up_mb'), 1)} MB |"
            )
        lines.append("")
    lines += [
        "## Python keep-alive client (http.client, one connection per thread)",
        "",
        "| target | p50 ms | p99 ms | added p50 ms | added p99 ms | req/s @1 | req/s @16 "
        "| ↓ MB/s | ↑ MB/s |" + ("" if use_wrk else " CPU µs/req | RSS growth ↓ | RSS growth ↑ |"),
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|" + ("" if use_wrk else "---:|---:|---:|"),
    ]
    for t in targets:
        r = t.results
        row = (
            f"| {t.name} | {_fmt(r.get('py_p50'), 3)} | {_fmt(r.get('py_p99'), 3)} "
            f"| {_fmt(r.get('added_py_p50'), 3)} | {_fmt(r.get('added_py_p99'), 3)} "
            f"| {_fmt(r.get('py_rps_1'), 0)} | {_fmt(r.get('py_rps_16'), 0)} "
            f"| {_fmt(r.get('down_mb_s'), 0)} | {_fmt(r.get('up_mb_s'), 0)} |"
        )
        if not use_wrk:
            row += (
                f" {_fmt(r.get('cpu_us'), 0)} | {_fmt(r.get('rss_down_mb'), 1)} MB "
                f"| {_fmt(r.get('rss_up_mb'), 1)} MB |"
            )
        lines.append(row)
    lines += verdict(targets, use_wrk, mb)
    lines += ["", "## Notes", ""]
    lines += [f"- {note}" for note in meta["notes"]] or ["- nothing was skipped"]
    lines += [
        "- Our gateway runs in a "
        "process of its own (this file, --serve-ours), with logs off; CPU and RSS figures "
        "are that process's alone.",
        "- *added* (Python client): requests to all targets take turns, and each request's "
        "time is paired with the direct request just before it; p50/p99 of those differences. "
        "*added* (wrk): the target's percentile minus the direct one (wrk cannot pair).",
        "- CPU µs/req: user+system time of the gateway process alone during the "
        "16-connection run, divided by the requests served (for *direct*: the upstream's).",
        "- RSS growth: each transfer on a freshly started gateway process (after one small "
        "warm-up request); peak resident memory (Linux VmHWM, reset before the transfer) minus "
        "the resident memory at the start of the transfer.",
        "- Ours against the seed: *even* means within 5% of the seed's figure; *ahead* "
        "counts only the figures where the event-loop front is better by more than that.",
        "- The machine is shared (2 cores): figures vary from run to run; each throughput "
        "figure is the median of the rounds, with every target taking turns.",
        "",
    ]
    text = "\n".join(lines)
    path.write_text(text)
    return text


def plot(path: Path, targets: list[Target], use_wrk: bool) -> str | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "plot skipped: matplotlib is not installed (pip install matplotlib)"
    prefix = "wrk" if use_wrk else "py"
    names = [t.name for t in targets]
    panels = [
        (f"{prefix}_p50", "p50 latency at 1 connection (ms, lower is better)"),
        (f"{prefix}_rps_16", "requests/s at 16 connections (higher is better)"),
        ("cpu_us", "CPU per request (µs, lower is better)"),
        ("rss_down_mb", "RSS growth while streaming down (MB, lower is better)"),
    ]
    fig, axes = plt.subplots(len(panels), 1, figsize=(8, 2.2 * len(panels)))
    colors = ["#9e9e9e", "#1565c0", "#42a5f5", "#e65100", "#2e7d32"]
    for ax, (key, title) in zip(axes, panels, strict=True):
        values = [float(t.results.get(key, 0.0) or 0.0) for t in targets]
        ax.barh(names, values, color=colors[: len(names)])
        ax.set_title(title, fontsize=9, loc="left")
        ax.invert_yaxis()
        ax.tick_params(labelsize=8)
        for i, v in enumerate(values):
            ax.text(v, i, f" {v:,.2f}" if v < 10 else f" {v:,.0f}", va="center", fontsize=7)
    fig.suptitle("Gateway overhead: same upstream, same clients, one run", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return None


def versions(targets: list[Target]) -> str:
    """What exactly ran: the version of each server and library in the table."""
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for dist in ("werkzeug", "aiohttp"):
        with contextlib.suppress(PackageNotFoundError):
            found.append(f"{dist} {version(dist)}")
    names = {t.name for t in targets}
    if SEED in names or shutil.which("node"):
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout
            found.append(f"node {node.strip()}")
        for package in ("express", "http-proxy-middleware"):
            manifest = PEERS / "node_modules" / package / "package.json"
            if manifest.is_file():
                found.append(f"{package} {json.loads(manifest.read_text())['version']}")
    if "nginx" in names:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr
            found.append(out.strip().replace("nginx version: ", ""))
    if shutil.which("wrk"):
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True)
            found.append("wrk " + (wrk.stdout or wrk.stderr).split()[1])
    return ", ".join(found)


def render(args: argparse.Namespace) -> int:
    """Write the table and the plot again from a run's JSON, without measuring anything."""
    saved = json.loads(Path(args.from_json).read_text())
    targets = [Target(name, "", None, results) for name, results in saved["targets"].items()]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.plot != "none":
        plot(Path(args.plot), targets, saved["meta"]["wrk"])
    print(write_markdown(out / "gateway_overhead.md", targets, saved["meta"]))
    return 0


def run(args: argparse.Namespace) -> int:
    notes: list[str] = []
    use_wrk = not args.no_wrk and shutil.which("wrk") is not None
    if not args.no_wrk and not use_wrk:
        notes.append("wrk not installed: figures come from the Python client only")
    has_node = shutil.which("node") is not None
    upstream_kind = args.upstream
    if upstream_kind == "auto":
        upstream_kind = "node" if has_node else "python"
    stream_mb = 0 if args.no_stream else (args.stream_mb or (8 if args.quick else 100))
    if args.no_stream:
        notes.append("streaming skipped (--no-stream)")
    upstream_url, upstream_proc = start_upstream(upstream_kind)
    targets = [Target("direct", upstream_url, upstream_proc)]
    tmp = Path(tempfile.mkdtemp(prefix="gw-bench-"))
    try:
        for front in OURS:  # always in the same order, whatever the order given
            if front in args.ours:
                targets.append(start_ours(front, upstream_url))
                targets[-1].start = functools.partial(start_ours, front, upstream_url)
        if args.no_peers:
            notes.append("peers skipped (--no-peers): no seed gateway, no nginx")
        else:
            if not has_node:
                notes.append("seed gateway skipped: node is not installed")
            elif npm_install(notes):
                targets.append(start_seed(upstream_url))
                targets[-1].start = functools.partial(start_seed, upstream_url)
            if shutil.which("nginx"):
                targets.append(start_nginx(upstream_url, tmp))
                targets[-1].start = functools.partial(start_nginx, upstream_url, tmp)
            else:
                notes.append("nginx skipped: not installed")
        measure(
            targets,
            rounds=args.rounds or (1 if args.quick else 3),
            seconds=args.seconds or (1.0 if args.quick else 4.0),
            latency_count=args.latency_count or (200 if args.quick else 3000),
            use_wrk=use_wrk,
            stream_mb=stream_mb,
        )
        added(targets)
    finally:
        for target in reversed(targets):
            _stop(target.process)
        shutil.rmtree(tmp, ignore_errors=True)
    meta = {
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "load": ", ".join(f"{x:.1f}" for x in os.getloadavg()),
        "upstream": "Node http server (bench/peers/upstream.js)" if upstream_kind == "node"
        else "Python http.server (this file, --serve-upstream)",
        "versions": versions(targets),
        "quick": args.quick,
        "stream_mb": stream_mb,
        "wrk": use_wrk,
        "notes": notes,
    }  # fmt: skip
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.plot != "none":
        problem = plot(Path(args.plot), targets, use_wrk)
        if problem:
            notes.append(problem)
    text = write_markdown(out / "gateway_overhead.md", targets, meta)
    (out / "gateway_overhead.json").write_text(
        json.dumps({"meta": meta, "targets": {t.name: t.results for t in targets}}, indent=2)
    )
    print(text)
    return 0


# -- the servers this file runs in a subprocess -------------------------------------------


class _UpstreamHandler(BaseHTTPRequestHandler):
    """The Python upstream (when Node is missing): same endpoints as peers/upstream.js."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def _answer(self, body: bytes, ctype: str = "application/json") -> None:
        self.send_response(200)
        self.send_header("content-type", ctype)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if "/download" in self.path:
            size = int(self.path.rsplit("size=", 1)[1])
            self.send_response(200)
            self.send_header("content-type", "application/octet-stream")
            self.send_header("content-length", str(size))
            self.end_headers()
            while size > 0:
                piece = PIECE[: min(size, len(PIECE))]
                self.wfile.write(piece)
                size -= len(piece)
            return
        self._answer(b'{"ok": true, "service": "bench-upstream"}')

    def do_POST(self) -> None:
        left = int(self.headers.get("content-length") or 0)
        received = 0
        while left > 0:
            data = self.rfile.read(min(left, 65536))
            if not data:
                break
            received += len(data)
            left -= len(data)
        self._answer(json.dumps({"received": received}).encode())

    def log_message(self, *args: Any) -> None:
        pass


def serve_upstream() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _UpstreamHandler)
    server.daemon_threads = True
    print(f"listening {server.server_address[1]}", flush=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdin.read()


def serve_ours(front: str, upstream: str) -> None:
    """Our gateway on its event-loop front, logs off; prints ``listening PORT``."""
    sys.path.insert(0, str(ROOT))
    from launchpad.gateway import Gateway, Route
    from launchpad.logging import configure_logging

    configure_logging("off")
    gateway = Gateway([Route("/auth", upstream), Route("/notifications", upstream)])
    from launchpad.gateway.server import serve_gateway

    assert front == "event-loop", front
    running = serve_gateway(gateway)  # as `launchpad up` runs it
    print(f"listening {running.port}", flush=True)
    sys.stdin.read()
    running.stop()
    gateway.close()


def _fronts(text: str) -> list[str]:
    """``--ours``: a comma-separated list of our fronts (keys of ``OURS``)."""
    fronts = [f.strip() for f in text.split(",") if f.strip()]
    unknown = [f for f in fronts if f not in OURS]
    if unknown or not fronts:
        raise argparse.ArgumentTypeError(
            f"unknown front(s) {', '.join(unknown) or repr(text)}: use {', '.join(OURS)}"
        )
    return fronts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="short runs, 8 MB streams")
    parser.add_argument("--no-peers", action="store_true", help="skip the seed gateway, nginx")
    parser.add_argument("--no-wrk", action="store_true", help="use the Python client only")
    parser.add_argument("--no-stream", action="store_true", help="skip the 100 MB streams")
    parser.add_argument("--stream-mb", type=int, help="MB to stream each way (default 100)")
    parser.add_argument("--upstream", choices=["auto", "node", "python"], default="auto")
    parser.add_argument("--ours", type=_fronts, default=list(OURS),
                        help="our gateway's fronts to measure, comma-separated: "
                        "event-loop (the only one; default)")  # fmt: skip
    parser.add_argument("--seconds", type=float, help="length of each load run")
    parser.add_argument("--rounds", type=int, help="rounds of load runs (median is kept)")
    parser.add_argument("--latency-count", type=int, help="requests per target for latency")
    parser.add_argument("--out", default=str(HERE / "results"))
    parser.add_argument("--plot", default=str(ROOT / "docs/assets/bench/gateway_overhead.png"),
                        help="where the PNG goes, or 'none'")  # fmt: skip
    parser.add_argument("--from-json", help="re-render the table and plot from a run's JSON")
    parser.add_argument("--serve-upstream", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--serve-ours", choices=list(OURS), help=argparse.SUPPRESS)
    parser.add_argument("--upstream-url", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_upstream:
        serve_upstream()
        return 0
    if args.serve_ours:
        serve_ours(args.serve_ours, args.upstream_url)
        return 0
    return render(args) if args.from_json else run(args)


if __name__ == "__main__":
    sys.exit(main())
