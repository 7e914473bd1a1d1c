"""The grading boundary: the student's code runs in confined processes of its own.

* ``confine``: the OS side (a uid of its own, private
  mounts, rlimits, a cgroup) and the sweep that kills every process it started;
* ``process``: the grader's end of the pipe, whose
  messages it validates and treats as claims;
* ``child.py``: the student's end, run by path so that nothing of the grader is imported
  into the student's process.
"""

from launchpad.grading.sandbox.confine import Confinement, Limits, confine
from launchpad.grading.sandbox.process import (
    Failed,
    Imported,
    Message,
    Ready,
    Reply,
    StudentProcess,
)

__all__ = [
    "Confinement",
    "Failed",
    "Imported",
    "Limits",
    "Message",
    "Ready",
    "Reply",
    "StudentProcess",
    "confine",
]
