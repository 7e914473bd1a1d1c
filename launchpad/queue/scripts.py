"""The Lua scripts that move jobs between states, each named for its transition.

Each script is atomic on Redis: two workers can never both take one job, and a job is
always in exactly one state. A script receives every key of its queue in KEYS (in the
order of ``KEY_PARTS``), so it works unchanged on a Redis
Cluster, where a script may only touch keys it was given.

Before it is sent, each script gets a header: a table ``K`` naming its keys (``K.wait``,
``K.jobs`` ...), then the helpers of ``lua/_common.lua``.

A worker's hot path (finish a job, take the next: at most one script call per job) runs
through a `Lane` (``lane.py``): one connection that all the slots of a worker share.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

from launchpad.queue.keys import KEY_PARTS, QueueKeys
from launchpad.queue.lane import Lane

__all__ = ["SCRIPT_NAMES", "Lane", "Scripts", "script_source"]

SCRIPT_NAMES: tuple[str, ...] = (
    "add_job",
    "move_to_active",
    "move_to_finished",
    "extend_locks",
    "move_stalled_to_wait",
    "promote_delayed",
    "pause",
    "get_job",
    "counts",
    "remove_waiting",
    "obliterate",
)


def _read(name: str) -> str:
    return resources.files("launchpad.queue").joinpath("lua").joinpath(name).read_text("utf-8")


@cache
def script_source(name: str) -> str:
    """The full Lua text sent to Redis for script ``name`` (header + common + body)."""
    if name not in SCRIPT_NAMES:
        raise KeyError(f"no queue script named {name!r}")
    names = ", ".join(f"[{part!r}] = KEYS[{i}]" for i, part in enumerate(KEY_PARTS, 1))
    header = f"local K = {{{names}}}\n"
    return header + _read("_common.lua") + "\n" + _read(f"{name}.lua")


class Scripts:
    """The queue's scripts bound to one connection and one queue's keys."""

    def __init__(self, conn: Any, keys: QueueKeys) -> None:
        self.conn = conn
        self.keys = keys.all()
        self._scripts = {name: conn.register_script(script_source(name)) for name in SCRIPT_NAMES}

    def run(self, name: str, *args: Any, client: Any = None) -> Any:
        """Run script ``name`` with ``args`` (str or int) as ARGV; ``client`` may be a pipeline."""
        script = self._scripts[name]
        return script(keys=self.keys, args=args, client=client or self.conn)

    def lane(self) -> Lane:
        """A pipelined connection for the worker's hot path; ``close()`` it when done."""
        return Lane(self)
