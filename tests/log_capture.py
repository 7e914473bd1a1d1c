"""Capture what the kit logs during a test, as dicts (shared by the conftest files)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from launchpad.logging import CollectingHandler


@contextmanager
def collected_logs(logger_name: str = "launchpad",
                   level: int = logging.INFO) -> Iterator[CollectingHandler]:
    """Every record of ``logger_name`` (and below) logged inside the block."""
    logger = logging.getLogger(logger_name)
    handler = CollectingHandler()
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(level)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
