"""The grader's side of the boundary: start a student process and hear it only through a pipe.

Threat model: the process is the student's (see ``launchpad.grading.sandbox.child``).
It may write anything to its end of the pipe, or nothing, at any time; it may exit, hang
or flood. So every message is read by a thread of ours with a size limit per line and a
bounded backlog, checked against ``Message`` (pydantic), and dropped when it does
not fit; a caller waits for a message with a deadline and gets ``None`` when none came.
A message is a claim: "ready on port N", "that job ran". The grader gives it no more
weight than that: what counts is what reached the lab's own services.

Fault model: when the process dies, ``StudentProcess.exit_code`` says how; whoever
waits for it stops waiting at once.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from launchpad.grading.sandbox.confine import Confinement, kit_root

__all__ = ["Failed", "Imported", "Message", "Ready", "Reply", "StudentProcess"]

MAX_LINE = 64 * 1024
MAX_BACKLOG = 256
Text = Annotated[str, Field(max_length=4000)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Imported(_Strict):
    event: Literal["imported"]


class Ready(_Strict):
    event: Literal["ready"]
    port: int = Field(ge=0, le=65535)


class Failed(_Strict):
    event: Literal["failed"]
    message: Text


class Reply(_Strict):
    id: int = Field(ge=1)
    ok: bool
    error: Text | None = None
    active: int = Field(default=0, ge=0)


Message = Imported | Ready | Failed | Reply
_MESSAGE: TypeAdapter[Message] = TypeAdapter(Message)


class StudentProcess:
    """One confined process running ``child.py MODE`` (see its docstring)."""

    def __init__(self, mode: str, config: dict[str, Any], confinement: Confinement) -> None:
        self.mode = mode
        self.confinement = confinement
        self.messages: queue.Queue[Message] = queue.Queue(MAX_BACKLOG)
        self.log = confinement.workdir / f"{mode}-{time.monotonic_ns()}.log"
        self._ids = 0
        self._lock = threading.Lock()
        read_end, write_end = os.pipe()
        argv = [sys.executable, "-I", "-B", "-u", str(confinement.child), mode, str(write_end)]
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                confinement.command(argv),
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=log,
                env=confinement.env(),
                pass_fds=(write_end,),
                start_new_session=True,
                cwd=confinement.tmp,
            )
        os.close(write_end)
        self._reader = threading.Thread(
            target=self._read, args=(read_end,), name=f"student-{mode}", daemon=True
        )
        self._reader.start()
        self.send({**config, "kit": str(kit_root())})  # the kit the grader runs, not another

    # -- the pipe -------------------------------------------------------------------------

    def send(self, message: dict[str, Any]) -> bool:
        """One line to the student's stdin; ``False`` when it no longer listens."""
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write((json.dumps(message) + "\n").encode())
            self.proc.stdin.flush()
        except (OSError, ValueError):
            return False
        return True

    def _read(self, fd: int) -> None:
        buffer = b""
        with open(fd, "rb", buffering=0) as pipe:
            while chunk := pipe.read(65536):
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                if len(buffer) > MAX_LINE:
                    buffer = b""  # a line too long to be ours: drop it
                for line in lines:
                    self._accept(line)

    def _accept(self, line: bytes) -> None:
        if len(line) > MAX_LINE:
            return
        try:
            message = _MESSAGE.validate_json(line)
        except ValidationError:
            return
        with contextlib.suppress(queue.Full):
            self.messages.put_nowait(message)

    def wait(self, kinds: tuple[type[BaseModel], ...], timeout: float) -> Message | None:
        """The next message of one of ``kinds`` within ``timeout`` (others are dropped)."""
        until = time.monotonic() + timeout
        while (left := until - time.monotonic()) > 0:
            try:
                message = self.messages.get(timeout=min(left, 0.05))
            except queue.Empty:
                if not self.alive and self.messages.empty() and not self._reader.is_alive():
                    return None
                continue
            if isinstance(message, kinds):
                return message
        return None

    def request(self, op: str, timeout: float, **fields: Any) -> Reply | None:
        """Ask for one thing; its reply, or ``None`` if none came within ``timeout``."""
        with self._lock:
            self._ids += 1
            wanted = self._ids
            if not self.send({"id": wanted, "op": op, **fields}):
                return None
            until = time.monotonic() + timeout
            while (left := until - time.monotonic()) > 0:
                reply = self.wait((Reply,), left)
                if reply is None:
                    return None
                if isinstance(reply, Reply) and reply.id == wanted:
                    return reply
            return None

    # -- its life -------------------------------------------------------------------------

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    @property
    def exit_code(self) -> int | None:
        return self.proc.poll()

    def log_tail(self, limit: int = 300) -> str:
        """The last line the process wrote to its log (for a crash's reason)."""
        try:
            with open(self.log, "rb") as log:
                log.seek(max(0, os.path.getsize(self.log) - 4096))
                lines = [ln for ln in log.read().decode(errors="replace").splitlines() if ln]
        except OSError:
            return ""
        return lines[-1][:limit] if lines else ""

    def stop(self) -> None:
        """Close its stdin and kill it and its process group; only this process: the
        grading's other student processes live on, and whatever escaped the group goes
        with the confinement's sweep at the end (``Confinement.close()``)."""
        with contextlib.suppress(OSError, ValueError):
            assert self.proc.stdin is not None
            self.proc.stdin.close()
        for kill in (os.killpg, os.kill):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                kill(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
