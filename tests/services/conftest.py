"""Fixtures for the service tests: logs, a cheap password hash, and whole systems."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from services_helpers import CHEAP

from launchpad.services.system import System


@pytest.fixture
def make_system(unique_name: str) -> Iterator[Callable[..., System]]:
    """``make_system(**options)``: a started :class:`System` on a unique queue, fast
    settings (cheap hash, 20 ms deliveries, 50 ms backoff), stopped and cleaned up after."""
    systems: list[System] = []

    def make(**options: Any) -> System:
        options.setdefault("queue_name", unique_name)
        options.setdefault("scrypt", CHEAP)
        options.setdefault("delivery_delay", 0.02)
        options.setdefault("backoff_ms", 50)
        options.setdefault("cleanup", True)
        # an idle worker looks at delayed (backed-off) jobs every 100 ms, not every second
        options["worker_options"] = {"drain_delay": 100} | options.get("worker_options", {})
        system = System(**options)
        systems.append(system)
        return system

    yield make
    for system in systems:
        system.stop()
