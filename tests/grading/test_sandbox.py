"""The grader's end of the pipe reads claims, never trusts them: any bytes the student's
process writes either validate as one of the known messages or are dropped, and nothing it
writes can raise in the grader or grow its memory without bound."""

from __future__ import annotations

import json
import queue
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from launchpad.grading.sandbox import (
    Confinement,
    Failed,
    Imported,
    Limits,
    Ready,
    Reply,
    StudentProcess,
)
from launchpad.grading.sandbox.process import MAX_BACKLOG, MAX_LINE


def reader() -> StudentProcess:
    proc = object.__new__(StudentProcess)
    proc.messages = queue.Queue(MAX_BACKLOG)
    return proc


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_are_a_known_message_or_dropped(line: bytes) -> None:
    proc = reader()
    proc._accept(line)
    while not proc.messages.empty():
        message = proc.messages.get_nowait()
        assert isinstance(message, (Imported, Ready, Failed, Reply))


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["event", "id", "ok", "port", "message", "error", "active"]),
        st.one_of(st.integers(-(2**70), 2**70), st.text(max_size=20), st.booleans(), st.none()),
    )
)
def test_json_objects_of_any_shape_validate_strictly(data: dict[str, object]) -> None:
    proc = reader()
    proc._accept(json.dumps(data).encode())
    if proc.messages.empty():
        return
    message = proc.messages.get_nowait()
    if isinstance(message, Ready):
        assert 0 <= message.port <= 65535
    if isinstance(message, Reply):
        assert message.id >= 1 and message.active >= 0


def test_an_over_long_line_and_a_flood_are_dropped() -> None:
    proc = reader()
    proc._accept(json.dumps({"event": "failed", "message": "x" * MAX_LINE}).encode())
    assert proc.messages.empty()
    for i in range(MAX_BACKLOG * 3):
        proc._accept(json.dumps({"id": i + 1, "ok": True}).encode())
    assert proc.messages.qsize() == MAX_BACKLOG


def test_without_root_the_output_says_os_isolation_needs_root(tmp_path: Path) -> None:
    confinement = Confinement(tmp_path, None, "marker", Limits())
    assert "OS-level isolation" in confinement.description
    assert "needs root" in confinement.description
    command = confinement.command(["python", "child.py"])
    assert "unshare" not in command and "setpriv" not in command
