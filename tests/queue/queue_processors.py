"""Processors for tests that start workers in other processes (``launchpad worker``)."""

from __future__ import annotations

import time

from launchpad.queue import Job


def echo(job: Job) -> object:
    return job.data


def slow(job: Job) -> str:
    time.sleep(float(job.data.get("seconds", 1.0)))
    return "finished"


not_a_function = 42
