"""The public surface, the size of each teaching file, and the scripts' key discipline."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

import launchpad.queue as queue_pkg
from launchpad.queue import Queue, Worker
from launchpad.queue.keys import KEY_PARTS
from launchpad.queue.scripts import SCRIPT_NAMES, script_source

PACKAGE = Path(queue_pkg.__file__).parent


def test_the_public_names_are_exactly_these() -> None:
    assert sorted(queue_pkg.__all__) == [
        "Backoff",
        "InvalidJobId",
        "Job",
        "JobState",
        "Queue",
        "QueueError",
        "QueueUnavailable",
        "UnrecoverableError",
        "Worker",
    ]
    for name in queue_pkg.__all__:
        assert getattr(queue_pkg, name).__doc__, f"{name} has no docstring"


@pytest.mark.parametrize(
    "path", sorted(PACKAGE.glob("*.py")) + sorted(PACKAGE.glob("lua/*.lua")), ids=lambda p: p.name
)
def test_each_file_fits_in_one_sitting(path: Path) -> None:
    assert len(path.read_text().splitlines()) <= 400


@pytest.mark.parametrize("name", SCRIPT_NAMES)
def test_scripts_touch_only_keys_given_in_KEYS(name: str) -> None:
    body = (PACKAGE / "lua" / f"{name}.lua").read_text() + (
        PACKAGE / "lua" / "_common.lua"
    ).read_text()
    assert "KEYS[" not in body.replace("unpack(KEYS)", ""), "use the K table, not KEYS[i]"
    for command, first_arg in re.findall(r"redis\.call\('(\w+)',\s*([^,)]+)", body):
        assert first_arg.startswith(
            ("K.", "K[", "set", "list", "target", "waiting_list(", "unpack(KEYS")
        ), f"{name}: {command} on {first_arg}: a key not taken from KEYS"
    assert "K = {" in script_source(name) and f"KEYS[{len(KEY_PARTS)}]" in script_source(name)


def test_bad_names_and_options_are_refused(embedded_redis: Any) -> None:
    with pytest.raises(ValueError, match="queue name"):
        Queue("has space", connection=embedded_redis)
    with pytest.raises(ValueError, match="queue name"):
        Queue("{tag}", connection=embedded_redis)
    with pytest.raises(ValueError, match="unknown keys"):
        Queue("q", connection=embedded_redis, default_job_options={"retries": 3})
    q = Queue("q", connection=embedded_redis)
    with pytest.raises(ValueError, match="concurrency"):
        Worker(q, print, concurrency=0)
    with pytest.raises(ValueError, match="remove_on_complete"):
        Worker(q, print, remove_on_complete=-1)


class Welcome(BaseModel):
    user_id: int
    email: str


def test_a_pydantic_model_is_stored_as_json(embedded_redis: Any) -> None:
    q = Queue("models", connection=embedded_redis)
    job = q.add("welcome", Welcome(user_id=1, email="ada@example.com"))
    assert job.data == {"user_id": 1, "email": "ada@example.com"}
    assert q.get_job(job.id).data == job.data  # type: ignore[union-attr]


def test_default_job_options_apply(embedded_redis: Any) -> None:
    q = Queue(
        "defaults",
        connection=embedded_redis,
        default_job_options={"attempts": 3, "backoff": {"type": "exponential", "delay": 1000}},
    )
    job = q.add("n", {})
    assert job.opts == {
        "attempts": 3,
        "backoff": {"type": "exponential", "delay": 1000},
        "delay": 0,
    }
    assert q.add("n", {}, attempts=1).opts["attempts"] == 1
