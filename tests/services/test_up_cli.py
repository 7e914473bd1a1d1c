"""``launchpad up`` and ``launchpad serve`` as a user runs them: a real process on real
ports (any free ones here: tests never take 3000-3002), curl-like calls, then Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from typing import IO

import httpx
from services_helpers import PASSWORD

NOTE = {"to": "ada@example.com", "subject": "Hi", "body": "Hello Bob", "type": "email"}


def start(*args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    return subprocess.Popen(
        [sys.executable, "-m", "launchpad.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env | {"COLUMNS": "200"},
    )


def read_until(stream: IO[str], pattern: str, timeout: float = 20.0) -> tuple[str, re.Match[str]]:
    """Lines of output until one matches ``pattern`` (the process prints as it starts)."""
    seen = ""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            break
        seen += line
        match = re.search(pattern, line)
        if match:
            return seen, match
    raise AssertionError(f"no line matching {pattern!r} in:\n{seen}")


def stop(process: subprocess.Popen[str]) -> tuple[int, str]:
    process.send_signal(signal.SIGINT)  # what Ctrl-C sends
    try:
        rest, _ = process.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        rest, _ = process.communicate()
        raise AssertionError("did not stop within 15 s of Ctrl-C:\n" + rest) from None
    return process.returncode, rest


def test_launchpad_up_runs_the_system_and_stops_on_ctrl_c() -> None:
    ports = ["--gateway-port", "0", "--auth-port", "0", "--notifications-port", "0"]
    process = start("up", *ports, "--log", "off", "--delivery-delay", "0.01")
    try:
        assert process.stdout is not None
        table, match = read_until(process.stdout, r"curl -s (http://127\.0\.0\.1:\d+)/health")
        gateway = match.group(1)
        assert "LaunchPad is up" in table and "auth" in table and "worker" in table
        with httpx.Client(base_url=gateway, timeout=10) as client:
            body = {"email": "ada@example.com", "password": PASSWORD, "name": "Ada"}
            assert client.post("/auth/register", json=body).status_code == 201
            login = client.post("/auth/login", json={"email": body["email"], "password": PASSWORD})
            bearer = {"Authorization": f"Bearer {login.json()['token']}"}
            accepted = client.post("/notifications", json=NOTE, headers=bearer)
            assert accepted.status_code == 202
            job_url = f"/notifications/{accepted.json()['jobId']}"
            deadline = time.monotonic() + 10
            while client.get(job_url, headers=bearer).json()["state"] != "completed":
                assert time.monotonic() < deadline, client.get(job_url, headers=bearer).json()
                time.sleep(0.05)
    finally:
        code, rest = stop(process)
    assert code == 0, rest
    assert "stopped cleanly" in rest


def test_launchpad_serve_runs_one_service() -> None:
    process = start("serve", "auth", "--port", "0", "--log", "off")
    try:
        assert process.stdout is not None
        out, match = read_until(process.stdout, r"auth listening on (http://127\.0\.0\.1:\d+)")
        assert "REDIS_URL is unset" in out  # it says why a lone process cannot share a queue
        with httpx.Client(base_url=match.group(1), timeout=10) as client:
            body = {"email": "ada@example.com", "password": PASSWORD, "name": "Ada"}
            assert client.post("/auth/register", json=body).status_code == 201
            assert client.get("/health").json()["redis"] == "up"
    finally:
        code, rest = stop(process)
    assert code == 0, rest
    assert "auth stopped cleanly" in rest
