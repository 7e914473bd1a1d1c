"""Queue throughput and memory: LaunchPad's queue, BullMQ (Node, Python), RQ, arq, raw redis-py.

    .venv/bin/python bench/queue_throughput.py            # 20,000 no-op jobs each (make bench)
    .venv/bin/python bench/queue_throughput.py --quick    # a few hundred jobs, every peer (CI)

Each system runs in a fresh child process, one after the other, on the real Redis
(REDIS_URL or redis://127.0.0.1:6379/0), with unique key names that are deleted after:
1. enqueue N jobs one by one, then N in bulk (the system's own bulk API);
2. process the bulk-added N jobs with a no-op function (jobs removed on completion): the
   kit and BullMQ for Node at concurrency 1, 5 and 50, the others at 1 and their default;
3. while processing, count the Redis commands the client sends (a counting wrapper around
   redis-py's command packer, the kit's ``Lane._send``, or ioredis's ``sendCommand``:
   commands run inside a Lua script are not sent by the client and do not count), and read
   the worker's RSS;
4. bytes per job: add ``--memory-jobs`` waiting jobs (payload ``{"i": i}``) and sum
   ``MEMORY USAGE key SAMPLES 0`` over every key of the queue.

The kit runs as ``pip install launchpad`` installs it (this venv: redis-py 8). The peers
bring their own pinned versions, installed here on first use: BullMQ for Node with ``npm
ci`` in ``bench/peers`` (``package-lock.json``), and the Python peers in a venv of their own
(``bench/peers/.venv`` from ``bench/peers/requirements.txt``), because BullMQ's Python port
needs redis-py < 6. A peer that cannot be installed (no node, no network) is skipped, and
the table says so.

Writes ``bench/results/queue_throughput.md`` (and ``.json``) and a plot to
``docs/assets/bench/queue_throughput.png``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PLOT = ROOT / "docs" / "assets" / "bench" / "queue_throughput.png"
PEERS = ROOT / "bench" / "peers"
PEER_VENV = PEERS / ".venv"
SYSTEMS = ("launchpad", "bullmq-node", "bullmq", "rq", "arq", "raw")
CONCURRENCY = {
    "launchpad": (1, 5, 50),
    "bullmq-node": (1, 5, 50),
    "bullmq": (1,),
    "rq": (1,),
    "arq": (1, 10),
    "raw": (1,),
}
"""Concurrencies each system runs at: the kit and its reference at the lesson's 1, 5, 50;
the others at 1 and their default (RQ's SimpleWorker and the raw loop run one at a time)."""
PYTHON_PEERS = ("bullmq", "rq", "arq")
MEMORY = {"launchpad": None, "bullmq-node": None, "bullmq": 20_000}
"""Systems whose bytes per job are measured, and a cap on the jobs added for it (the Python
port adds ~200-450 jobs/s: 100,000 would take minutes)."""
LABEL = {
    "launchpad": "LaunchPad queue",
    "bullmq-node": "BullMQ for Node",
    "bullmq": "BullMQ Python port",
    "rq": "RQ SimpleWorker (burst)",
    "arq": "arq (burst)",
    "raw": "raw redis-py (BLMOVE + LREM)",
}

# --- counting the commands a client sends ---------------------------------------------

SENT = [0]


def count_commands() -> None:
    """Wrap redis-py's packers so every command sent to Redis adds one to ``SENT``."""
    import redis.asyncio.connection as aconn
    import redis.connection as sconn

    for cls in (sconn.PythonRespSerializer, sconn.HiredisRespSerializer):
        original = cls.pack

        def pack(self: Any, *args: Any, _original: Callable[..., Any] = original) -> Any:
            SENT[0] += 1
            return _original(self, *args)

        cls.pack = pack  # type: ignore[method-assign]
    original_async = aconn.Connection.pack_command

    def pack_async(self: Any, *args: Any) -> Any:
        SENT[0] += 1
        return original_async(self, *args)

    aconn.Connection.pack_command = pack_async  # type: ignore[method-assign]
    try:  # the kit's lane writes packed commands to its socket itself: count each write
        from launchpad.queue.lane import Lane
    except ImportError:  # a peer's venv, without the kit
        return
    original_send = Lane._send

    def send(self: Any, packed: bytes) -> Any:
        SENT[0] += 1
        return original_send(self, packed)

    Lane._send = send  # type: ignore[method-assign]


def rss_mb() -> float:
    import psutil

    return float(psutil.Process().memory_info().rss) / 2**20


def noop(*_args: Any, **_kwargs: Any) -> None:
    """The job every system runs."""
    return None


async def anoop(*_args: Any, **_kwargs: Any) -> None:
    return None


class Timer:
    def __init__(self) -> None:
        self.t0 = time.perf_counter()

    def rate(self, n: int) -> float:
        return n / (time.perf_counter() - self.t0)


def memory_usage(conn: Any, keys: list[Any]) -> int:
    """Bytes Redis holds for ``keys``, counted exactly (``SAMPLES 0``: every element)."""
    pipe = conn.pipeline(transaction=False)
    for key in keys:
        pipe.execute_command("MEMORY", "USAGE", key, "SAMPLES", "0")
    return sum(int(size or 0) for size in pipe.execute())


# --- one system per child process ------------------------------------------------------


def run_launchpad(url: str, n: int, conc: int, enqueue: bool) -> dict[str, Any]:
    from launchpad.queue import Queue, Worker
    from launchpad.redis import create_redis_connection

    q = Queue(
        f"bench-{uuid.uuid4().hex[:8]}",
        connection=create_redis_connection("bench", url),
        prefix="lpbench",
    )
    out: dict[str, Any] = {}
    try:
        if enqueue:
            t = Timer()
            for i in range(n):
                q.add("noop", {"i": i})
            out["enqueue_single"] = t.rate(n)
            q.obliterate()
        t = Timer()
        q.add_bulk([{"name": "noop", "data": {"i": i}} for i in range(n)])
        out["enqueue_bulk"] = t.rate(n)
        w = Worker(q, noop, concurrency=conc, remove_on_complete=True)
        start = SENT[0]
        t = Timer()
        w.start()
        while w.processed < n:
            time.sleep(0.002)
        out["process"] = t.rate(n)
        out["commands_per_job"] = (SENT[0] - start) / n
        out["rss_mb"] = rss_mb()
        w.close(10)
    finally:
        q.obliterate()
    return out


def memory_launchpad(url: str, n: int) -> dict[str, Any]:
    from launchpad.queue import Queue
    from launchpad.redis import create_redis_connection

    conn = create_redis_connection("bench", url)
    q = Queue(f"bench-{uuid.uuid4().hex[:8]}", connection=conn, prefix="lpbench")
    try:
        before = memory_usage(conn, q.keys())
        for i in range(0, n, 10_000):
            q.add_bulk([{"name": "noop", "data": {"i": j}} for j in range(i, min(i + 10_000, n))])
        return {"bytes_per_job": (memory_usage(conn, q.keys()) - before) / n}
    finally:
        q.obliterate()


def run_rq(url: str, n: int, conc: int, enqueue: bool) -> dict[str, Any]:
    import redis
    from queue_throughput import noop as rq_noop  # RQ refuses functions from __main__
    from rq import Queue, SimpleWorker

    conn = redis.Redis.from_url(url)
    q = Queue(f"bench-{uuid.uuid4().hex[:8]}", connection=conn)
    out: dict[str, Any] = {}
    try:
        if enqueue:
            t = Timer()
            for _ in range(n):
                q.enqueue(rq_noop, result_ttl=0)
            out["enqueue_single"] = t.rate(n)
            q.empty()
        t = Timer()
        for i in range(0, n, 1000):
            batch = [Queue.prepare_data(rq_noop, result_ttl=0) for _ in range(min(1000, n - i))]
            q.enqueue_many(batch)
        out["enqueue_bulk"] = t.rate(n)
        w = SimpleWorker([q], connection=conn)
        start = SENT[0]
        t = Timer()
        w.work(burst=True, logging_level="WARNING")
        out["process"] = t.rate(n)
        out["commands_per_job"] = (SENT[0] - start) / n
        out["rss_mb"] = rss_mb()
    finally:
        q.empty()
        q.delete(delete_jobs=True)
        for key in conn.scan_iter(match=f"rq:*:{q.name}*", count=1000):
            conn.delete(key)
    return out


def run_arq(url: str, n: int, conc: int, enqueue: bool) -> dict[str, Any]:
    from arq import Worker, create_pool
    from arq.connections import RedisSettings

    async def main() -> dict[str, Any]:
        settings = RedisSettings.from_dsn(url)
        pool = await create_pool(settings)
        qname = f"bench-{uuid.uuid4().hex[:8]}"
        tag = uuid.uuid4().hex[:8]
        out: dict[str, Any] = {}
        ids: list[str] = []
        try:
            if enqueue:
                t = Timer()
                for i in range(n):
                    ids.append(f"{tag}-s{i}")
                    await pool.enqueue_job("anoop", _job_id=ids[-1], _queue_name=qname)
                out["enqueue_single"] = t.rate(n)
                await pool.delete(qname, *[f"arq:job:{i}" for i in ids])
            t = Timer()
            for i in range(0, n, 1000):  # arq has no bulk API: concurrent adds instead
                batch = [f"{tag}-b{j}" for j in range(i, min(i + 1000, n))]
                ids += batch
                await asyncio.gather(
                    *(pool.enqueue_job("anoop", _job_id=j, _queue_name=qname) for j in batch)
                )
            out["enqueue_bulk"] = t.rate(n)
            w = Worker(
                functions=[anoop],
                redis_pool=pool,
                queue_name=qname,
                burst=True,
                max_jobs=conc,
                keep_result=0,
                handle_signals=False,
                poll_delay=0.001,
            )  # tuned: the default 0.5 s caps c=1
            start = SENT[0]
            t = Timer()
            await w.async_run()
            out["process"] = t.rate(n)
            out["commands_per_job"] = (SENT[0] - start) / n
            out["rss_mb"] = rss_mb()
            await w.close()
        finally:
            keys = [qname] + [f"arq:{kind}:{i}" for i in ids for kind in ("job", "result")]
            for i in range(0, len(keys), 1000):
                await pool.delete(*keys[i : i + 1000])
            await pool.aclose()
        return out

    import logging

    logging.getLogger("arq").setLevel(logging.WARNING)
    return asyncio.run(main())


def run_bullmq(url: str, n: int, conc: int, enqueue: bool) -> dict[str, Any]:
    from bullmq import Queue, Worker

    async def main() -> dict[str, Any]:
        qname = f"bench-{uuid.uuid4().hex[:8]}"
        opts = {"connection": url, "prefix": "lpbench-bull"}
        q = Queue(qname, opts)
        out: dict[str, Any] = {}
        job_opts: dict[str, Any] = {}  # the port refuses removeOnComplete=True (a bool)
        try:
            if enqueue:
                t = Timer()
                for i in range(n):
                    await q.add("noop", {"i": i}, job_opts)
                out["enqueue_single"] = t.rate(n)
                await q.obliterate()
            t = Timer()
            for i in range(0, n, 1000):
                await q.addBulk(
                    [
                        {"name": "noop", "data": {"i": j}, "opts": job_opts}
                        for j in range(i, min(i + 1000, n))
                    ]
                )
            out["enqueue_bulk"] = t.rate(n)
            done = asyncio.Event()
            count = [0]

            async def process(job: Any, token: str) -> None:
                count[0] += 1
                if count[0] >= n:
                    done.set()

            start = SENT[0]
            t = Timer()
            w = Worker(qname, process, {**opts, "concurrency": conc})
            await done.wait()
            out["process"] = t.rate(n)
            out["commands_per_job"] = (SENT[0] - start) / n
            out["rss_mb"] = rss_mb()
            await w.close()
        finally:
            await q.obliterate()
            await q.close()
            import redis

            conn = redis.Redis.from_url(url)  # obliterate leaves some job hashes behind
            for key in conn.scan_iter(match=f"lpbench-bull:{qname}:*", count=1000):
                conn.delete(key)
            conn.close()
        return out

    return asyncio.run(main())


def memory_bullmq(url: str, n: int) -> dict[str, Any]:
    import redis
    from bullmq import Queue

    async def main() -> dict[str, Any]:
        qname = f"bench-{uuid.uuid4().hex[:8]}"
        q = Queue(qname, {"connection": url, "prefix": "lpbench-bull"})
        conn = redis.Redis.from_url(url)
        try:
            for i in range(0, n, 1000):
                await q.addBulk(
                    [
                        {"name": "noop", "data": {"i": j}, "opts": {}}
                        for j in range(i, min(i + 1000, n))
                    ]
                )
            keys = list(conn.scan_iter(match=f"lpbench-bull:{qname}:*", count=1000))
            return {"bytes_per_job": memory_usage(conn, keys) / n}
        finally:
            await q.obliterate()
            await q.close()
            for key in conn.scan_iter(match=f"lpbench-bull:{qname}:*", count=1000):
                conn.delete(key)
            conn.close()

    return asyncio.run(main())


def run_raw(url: str, n: int, conc: int, enqueue: bool) -> dict[str, Any]:
    import redis

    conn = redis.Redis.from_url(url)
    key = f"lpbench-raw:{uuid.uuid4().hex[:8]}"
    out: dict[str, Any] = {}
    payload = [json.dumps({"id": i, "name": "noop", "data": {"i": i}}) for i in range(n)]
    try:
        if enqueue:
            t = Timer()
            for item in payload:
                conn.lpush(key, item)
            out["enqueue_single"] = t.rate(n)
            conn.delete(key)
        t = Timer()
        for i in range(0, n, 1000):
            pipe = conn.pipeline(transaction=False)
            pipe.lpush(key, *payload[i : i + 1000])
            pipe.execute()
        out["enqueue_bulk"] = t.rate(n)
        start = SENT[0]
        t = Timer()
        for _ in range(n):  # the two-round-trip loop: move to "processing", then ack
            item = conn.blmove(key, key + ":processing", 1, "RIGHT", "LEFT")
            noop(json.loads(item))
            conn.lrem(key + ":processing", 1, item)
        out["process"] = t.rate(n)
        out["commands_per_job"] = (SENT[0] - start) / n
        out["rss_mb"] = rss_mb()
    finally:
        conn.delete(key, key + ":processing")
    return out


RUNNERS: dict[str, Callable[[str, int, int, bool], dict[str, Any]]] = {
    "launchpad": run_launchpad,
    "rq": run_rq,
    "arq": run_arq,
    "bullmq": run_bullmq,
    "raw": run_raw,
}
MEMORY_RUNNERS: dict[str, Callable[[str, int], dict[str, Any]]] = {
    "launchpad": memory_launchpad,
    "bullmq": memory_bullmq,
}


def child(system: str, url: str, n: int, conc: int, enqueue: bool, memory: bool) -> None:
    import logging

    logging.disable(logging.WARNING)  # no log lines per job from any system
    if memory:
        result = MEMORY_RUNNERS[system](url, n)
    else:
        count_commands()
        result = RUNNERS[system](url, n, conc, enqueue)
    print(json.dumps(result))


# --- installing the peers ----------------------------------------------------------------


def install_node_peer(notes: list[str]) -> bool:
    """BullMQ for Node, as ``package-lock.json`` pins it (``npm ci``); False if it cannot be."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        notes.append("BullMQ for Node skipped: node/npm is not installed")
        return False
    lock = PEERS / "package-lock.json"
    stamp = PEERS / "node_modules" / ".lp-lock-sha256"
    digest = hashlib.sha256(lock.read_bytes()).hexdigest()
    if stamp.is_file() and stamp.read_text() == digest:
        return True
    print("installing BullMQ for Node (npm ci in bench/peers) ...", flush=True)
    done = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                          cwd=PEERS, capture_output=True, text=True, timeout=600)  # fmt: skip
    if done.returncode != 0:
        notes.append(f"BullMQ for Node skipped: npm ci failed ({done.stderr.strip()[-200:]})")
        return False
    stamp.write_text(digest)
    return True


def install_python_peers(notes: list[str]) -> Path | None:
    """The Python peers' own venv, made once from ``requirements.txt``; its python, or None."""
    reqs = PEERS / "requirements.txt"
    python = PEER_VENV / "bin" / "python"
    stamp = PEER_VENV / ".lp-requirements-sha256"
    digest = hashlib.sha256(reqs.read_bytes()).hexdigest()
    if python.is_file() and stamp.is_file() and stamp.read_text() == digest:
        return python
    print("installing the Python peers (bench/peers/.venv) ...", flush=True)
    steps = [
        [sys.executable, "-m", "venv", "--clear", str(PEER_VENV)],
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "-r", str(reqs)],
    ]  # fmt: skip
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            tail = done.stderr.strip()[-200:]
            notes.append(f"Python peers (RQ, arq, BullMQ port) skipped: {tail}")
            return None
    stamp.write_text(digest)
    return python


# --- the parent: run everything, write the table and the plot -------------------------


def best_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The best figure of each metric over repeated runs (as timeit takes the minimum)."""
    failed = [r for r in runs if "error" in r]
    if failed:
        return failed[0]
    lower_is_better = {"commands_per_job", "rss_mb", "bytes_per_job"}
    return {
        key: (min if key in lower_is_better else max)(r[key] for r in runs if key in r)
        for key in {k for r in runs for k in r}
    }


def run_child(
    system: str,
    url: str,
    n: int,
    conc: int,
    enqueue: bool,
    python: Path | None,
    memory: bool = False,
) -> dict[str, Any]:
    if system == "bullmq-node":
        mode = "memory" if memory else "process"
        cmd = ["node", "bullmq_bench.js", mode, url, str(n), str(conc), str(int(enqueue))]
        cwd: Path | None = PEERS
    else:
        interpreter = python if system in PYTHON_PEERS and python else Path(sys.executable)
        cmd = [str(interpreter), __file__, "--child", system, "--url", url,
               "--jobs", str(n), "--concurrency", str(conc)]  # fmt: skip
        cmd += ["--enqueue"] if enqueue else []
        cmd += ["--memory"] if memory else []
        cwd = None
    env = {**os.environ, "PYTHONPATH": str(ROOT / "bench")}
    if system in ("launchpad", "raw"):
        env["PYTHONPATH"] = f"{ROOT}{os.pathsep}{ROOT / 'bench'}"
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd, timeout=1800)
    except subprocess.TimeoutExpired:
        return {"error": "timed out after 30 minutes"}
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed"}
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    result.pop("version", None)
    return result


def fmt(value: Any, digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def run_info(url: str, n: int, python: Path | None) -> dict[str, Any]:
    """Where and when this run happened, and the versions it compared."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    def v(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "not installed"

    import redis

    try:
        server = str(redis.Redis.from_url(url).info("server")["redis_version"])
    except redis.RedisError:
        server = "?"
    peers = "Python peers not installed"
    if python is not None:
        code = (
            "from importlib.metadata import version as v; print(', '.join(f'{p} {v(p)}' "
            "for p in ('rq', 'arq', 'bullmq', 'redis', 'hiredis')))"
        )
        done = subprocess.run([str(python), "-c", code], capture_output=True, text=True)
        peers = done.stdout.strip() or peers
    node = "BullMQ for Node not installed"
    package = PEERS / "node_modules" / "bullmq" / "package.json"
    if package.is_file():
        node_version = subprocess.run(["node", "--version"], capture_output=True, text=True)
        bull = json.loads(package.read_text())["version"]
        node = f"bullmq {bull} on Node {node_version.stdout.strip()}"
    hiredis = v("hiredis")
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "load": ", ".join(f"{x:.1f}" for x in os.getloadavg()),
        "jobs": n,
        "versions": f"redis-server {server}; the kit: redis-py {v('redis')}"
        f"{'' if hiredis == 'not installed' else f', hiredis {hiredis}'}"
        f"{' (no hiredis)' if hiredis == 'not installed' else ''}; {node}; "
        f"Python peers (own venv): {peers}",
    }


def _process(results: dict[str, dict[str, Any]], system: str, conc: int) -> float | None:
    value = results[system].get(f"c{conc}", {}).get("process")
    return float(value) if value else None


def _targets(results: dict[str, dict[str, Any]]) -> list[str]:
    """The goals of issue 14, checked against this run."""
    lines = ["", "Goals, measured in this run:", ""]
    for conc in CONCURRENCY["launchpad"]:
        ours, node = _process(results, "launchpad", conc), _process(results, "bullmq-node", conc)
        if ours and node:
            verdict = "ahead" if ours > node else "BEHIND"
            lines.append(
                f"- c={conc}: LaunchPad {fmt(ours)} jobs/s, BullMQ for Node {fmt(node)}: "
                f"{ours / node:.2f}x ({verdict})"
            )
    per_job = {
        conc: results["launchpad"].get(f"c{conc}", {}).get("commands_per_job")
        for conc in CONCURRENCY["launchpad"]
    }
    if all(value is not None for value in per_job.values()):
        worst = max(v for v in per_job.values() if v is not None)
        verdict = "kept" if worst <= 1.01 else "BROKEN"  # the first fetches, a stall check
        counts = ", ".join(f"{value:.2f} at c={conc}" for conc, value in per_job.items())
        lines.append(f"- client round trips per processed job at most 1 ({verdict}): {counts}")
    ours_mem = results["launchpad"].get("memory", {}).get("bytes_per_job")
    port_mem = results["bullmq"].get("memory", {}).get("bytes_per_job")
    if ours_mem and port_mem:
        verdict = "at or below" if ours_mem <= port_mem else "ABOVE"
        lines.append(
            f"- Redis bytes per waiting job: LaunchPad {ours_mem:.0f}, BullMQ Python port "
            f"{port_mem:.0f} ({verdict})"
        )
    return lines if len(lines) > 3 else []


def table(results: dict[str, dict[str, Any]], info: dict[str, Any]) -> str:
    node = results["bullmq-node"]
    lines = [
        "# Queue throughput",
        "",
        f"Run {info['date']} on {info['machine']} (load average at start {info['load']}). "
        f"{info['jobs']:,} no-op jobs per system and concurrency, each in a fresh process, "
        f"one after the other, on one Redis server. LaunchPad, BullMQ for Node and raw "
        f"redis-py ran {info.get('rounds', 1)} times, alternating (best figure of each "
        f"kept); the other peers once. Versions: {info['versions']}.",
        "",
        "| system | enqueue jobs/s (single) | enqueue jobs/s (bulk) | process jobs/s (c=1) "
        "| (c=5) | (c=50) | other c | commands/job (c=1) | worker RSS MB (c=1) "
        "| Redis bytes/job | c=1 vs BullMQ-Node |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for system in SYSTEMS:
        res = results[system]
        c1 = res.get("c1", {})
        if not c1:
            continue  # not in this run
        if "error" in c1:
            lines.append(f"| {LABEL[system]} | error: {c1['error'][:80]} | | | | | | | | | |")
            continue
        cells = [fmt(res.get(f"c{c}", {}).get("process")) for c in (1, 5, 50)]
        others = [c for c in CONCURRENCY[system] if c not in (1, 5, 50)]
        other = ", ".join(f"{fmt(res.get(f'c{c}', {}).get('process'))} (c={c})" for c in others)
        mem = res.get("memory", {})
        memory = "-"
        if "bytes_per_job" in mem:
            memory = f"{mem['bytes_per_job']:,.0f} ({mem['jobs']:,} jobs)"
        elif "error" in mem:
            memory = f"error: {mem['error'][:60]}"
        node_c1 = node.get("c1", {}).get("process")
        vs_node = c1["process"] / node_c1 if node_c1 and c1.get("process") else None
        lines.append(
            f"| {LABEL[system]} | {fmt(c1.get('enqueue_single'))} "
            f"| {fmt(c1.get('enqueue_bulk'))} | {' | '.join(cells)} | {other or '-'} "
            f"| {fmt(c1.get('commands_per_job'), 2)} | {fmt(c1.get('rss_mb'), 0)} "
            f"| {memory} | {ratio(vs_node)} |"
        )
    lines += [
        "",
        "- **commands/job**: commands the client sent to Redis while processing, divided by "
        "the jobs, counted in the worker's process by wrapping redis-py's command packer "
        "(sync and asyncio) or ioredis's `sendCommand`. Pipelined commands count one by one; "
        "commands a Lua script runs inside Redis do not count. Polls count, so a polling "
        "worker pays for its idle loops.",
        "- **Redis bytes/job**: `MEMORY USAGE key SAMPLES 0` summed over every key of the "
        'queue after adding that many waiting jobs with the payload `{"i": i}`, divided by '
        "the jobs (the kit: less what its keys held before).",
        "- **other c**: arq's default `max_jobs` is 10; RQ's SimpleWorker and the raw loop "
        "run one job at a time; BullMQ's Python port runs at 1.",
        "- **arq** is tuned: `poll_delay=0.001` (its default of 0.5 s caps one-at-a-time "
        "processing at 2 jobs/s). It has no bulk add: its bulk figure is 1,000 concurrent "
        "`enqueue_job` calls at a time.",
        "- **BullMQ's Python port** keeps completed jobs (its `removeOnComplete` option is "
        "refused); the others delete them (BullMQ for Node `removeOnComplete: true`, RQ "
        "`result_ttl=0`, arq `keep_result=0`, LaunchPad `remove_on_complete=True`).",
        "- **raw** is the floor of a list-based queue: `BLMOVE` to a processing list, then "
        "`LREM` to acknowledge: two round trips per job, no retries, no locks.",
        *(f"- {note}" for note in info.get("notes", [])),
        *_targets(results),
    ]
    return "\n".join(lines) + "\n"


def plot(results: dict[str, dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [s for s in SYSTEMS if "process" in results[s].get("c1", {})]
    fig, ax = plt.subplots(figsize=(8, 4))
    xs = range(len(names))
    for k, conc in enumerate((1, 5, 50)):
        values = [results[s].get(f"c{conc}", {}).get("process", 0) for s in names]
        ax.bar([x + (k - 1) * 0.27 for x in xs], values, width=0.27, label=f"concurrency {conc}")
    ax.set_xticks(list(xs), [LABEL[s].split(" (")[0] for s in names], rotation=15)
    ax.set_ylabel("jobs processed per second")
    ax.set_title("No-op jobs through each queue (higher is better)")
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--jobs", type=int, default=None, help="jobs per run (default 20,000)")
    p.add_argument("--memory-jobs", type=int, default=None, help="default 100,000")
    p.add_argument("--quick", action="store_true", help="300 jobs, 1,000 for memory, 1 round")
    p.add_argument("--url", default=os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0")
    p.add_argument("--systems", default=",".join(SYSTEMS))
    p.add_argument("--out", type=Path, default=RESULTS / "queue_throughput.md")
    p.add_argument("--plot", type=Path, default=PLOT)
    p.add_argument("--rounds", type=int, default=None, help="runs of the repeated (default 3)")
    p.add_argument("--render", type=Path, help="only redraw table and plot from a saved .json")
    p.add_argument("--child", choices=[s for s in SYSTEMS if s != "bullmq-node"],
                   help=argparse.SUPPRESS)  # fmt: skip
    p.add_argument("--concurrency", type=int, default=1, help=argparse.SUPPRESS)
    p.add_argument("--enqueue", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--memory", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    n = args.jobs or (300 if args.quick else 20_000)
    if args.child:
        child(args.child, args.url, n, args.concurrency, args.enqueue, args.memory)
        return 0
    if args.render:  # re-draw the table and plot of an earlier run
        saved = json.loads(args.render.read_text())
        return write(saved["results"], saved["run"], args.out, args.plot)
    memory_jobs = args.memory_jobs or (1000 if args.quick else 100_000)
    rounds = args.rounds or (1 if args.quick else 3)
    chosen = [s for s in SYSTEMS if s in args.systems.split(",")]
    notes: list[str] = []
    python = None
    if any(s in PYTHON_PEERS for s in chosen):
        python = install_python_peers(notes)
        if python is None:
            chosen = [s for s in chosen if s not in PYTHON_PEERS]
    if "bullmq-node" in chosen and not install_node_peer(notes):
        chosen.remove("bullmq-node")
    info = run_info(args.url, n, python)
    info["rounds"], info["notes"] = rounds, notes
    repeat = {s: rounds if s in REPEATED else 1 for s in chosen}
    runs: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for round_ in range(max(repeat.values(), default=0)):  # the repeated ones alternate
        for system in chosen:
            if round_ >= repeat[system]:
                continue
            for conc in CONCURRENCY[system]:
                print(f"{system}: c={conc} (round {round_ + 1}) ...", flush=True)
                result = run_child(system, args.url, n, conc, conc == 1, python)
                runs.setdefault((system, f"c{conc}"), []).append(result)
                print(f"  {result}", flush=True)
    results: dict[str, dict[str, Any]] = {s: {} for s in SYSTEMS}
    for (system, label), done in runs.items():
        results[system][label] = best_of(done)
    for system in (s for s in chosen if s in MEMORY):
        jobs = min(memory_jobs, MEMORY[system] or memory_jobs)
        print(f"{system}: bytes per job over {jobs:,} jobs ...", flush=True)
        result = run_child(system, args.url, jobs, 1, False, python, memory=True)
        results[system]["memory"] = {**result, "jobs": jobs}
        print(f"  {result}", flush=True)
    return write(results, info, args.out, args.plot)


REPEATED = ("launchpad", "bullmq-node", "raw")
"""Run ``--rounds`` times, alternating: the kit against its reference and the floor; the
other peers take minutes and run once."""


def write(results: dict[str, dict[str, Any]], info: dict[str, Any], out: Path, png: Path) -> int:
    text = table(results, info)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    saved = {"run": info, "results": results}
    out.with_suffix(".json").write_text(json.dumps(saved, indent=2) + "\n")
    plot(results, png)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
