"""The student's side of the grading boundary: the only grader code that runs there.

The grader starts this file *by path* (``python -I -B child.py MODE``), never as
``launchpad.grading...``, so not one module of the grader is imported into the student's
process: no checks, no recorders, no results. What runs here is the student's
``checkout.py``, the kit's library it imports (``launchpad.http``, ``launchpad.queue``,
...), the kit's own ``provided.py``, and this harness, which gives the student's code
what a real deployment would (``remote.py``, beside it, holds ``env``'s clients):

* ``service``: import ``checkout.py``, call ``create_app(env)``, serve the app on a
  loopback port, then run worker requests (``send_confirmation_email`` /
  ``update_inventory`` on one job) as they come;
* ``worker``: import ``checkout.py`` and run worker requests (a *fresh* worker process:
  what it remembers in memory is gone);
* ``redis``: an embedded Redis server on a loopback port, the student's ``env.redis``.

Threat model: everything in this process is the student's, including this harness (the
submission may patch it, write to its pipe, or exit). So it holds no secret and decides
nothing: the grader reads its messages as *claims* (validated, size-limited, see
``launchpad.grading.sandbox.protocol``) and judges only by what reached its own
services over HTTP. ``env``'s queues, email provider and stock are thin HTTP clients of
the grader's lab service; its auth and payment URLs are the lab's real services.

Protocol: the first line on stdin is the configuration (JSON); then one request per line
on stdin, one message per line on the pipe whose descriptor is the second argument.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import sys
import threading
import traceback
from pathlib import Path
from types import ModuleType
from typing import IO, Any

MAX_TEXT = 2000


# -- talking to the grader ----------------------------------------------------------------


class Channel:
    """One JSON message per line to the grader, whole lines only."""

    def __init__(self, fd: int) -> None:
        self._out: IO[str] = os.fdopen(fd, "w", encoding="utf-8", buffering=1)
        self._lock = threading.Lock()

    def send(self, message: dict[str, Any]) -> None:
        with self._lock:
            self._out.write(json.dumps(message) + "\n")
            self._out.flush()


def describe(exc: BaseException, folder: Path) -> str:
    """``exc`` in one line, pointing at the deepest frame in the submission's folder."""
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    where = None
    root = folder.resolve()
    for frame in traceback.extract_tb(exc.__traceback__):
        path = Path(frame.filename).resolve()
        if path.is_relative_to(root):
            where = f"{path.relative_to(root)}, line {frame.lineno}, in {frame.name}"
    text = f"{text} ({where})" if where else text
    return text[:MAX_TEXT]


# -- loading the submission ---------------------------------------------------------------


def load_module(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"{path.name} is not a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_checkout(config: dict[str, Any], channel: Channel) -> tuple[ModuleType, Any] | None:
    """Import provided.py (the kit's) and checkout.py; build env. ``None``: it failed."""
    import redis

    folder = Path(config["submission"])
    provided = load_module("provided", Path(config["provided"]))
    remote = load_module("launchpad_lab_env", Path(__file__).with_name("remote.py"))
    lab = remote.LabClient(config["lab_url"], 10.0)
    env = provided.CheckoutEnv(
        auth_url=config["auth_url"],
        payment_url=config["payment_url"],
        timeout=config["timeout"],
        email_queue=remote.RemoteQueue(lab, "email"),
        inventory_queue=remote.RemoteQueue(lab, "inventory"),
        redis=redis.Redis.from_url(config["redis_url"], decode_responses=True),
        prefix=config["prefix"],
        email_provider=remote.RemoteEmailProvider(lab),
        inventory=remote.RemoteInventory(lab, provided.OutOfStock),
    )
    path = folder / "checkout.py"
    if not path.is_file():
        channel.send({"event": "failed", "message": "checkout.py is missing"})
        return None
    sys.path.insert(0, str(folder))
    try:
        module = load_module("checkout", path)
    except SyntaxError as exc:
        channel.send(
            {
                "event": "failed",
                "message": f"checkout.py has a syntax error on line {exc.lineno}: {exc.msg}",
            }
        )
        return None
    except BaseException as exc:
        message = "importing checkout.py failed: " + describe(exc, folder)
        channel.send({"event": "failed", "message": message})
        return None
    channel.send({"event": "imported"})
    return module, env


# -- the modes ----------------------------------------------------------------------------


class InFlight:
    """Counts the requests the app is still answering (the grader waits for them)."""

    def __init__(self, app: Any) -> None:
        self.app, self.active = app, 0
        self._lock = threading.Lock()

    def __call__(self, environ: Any, start_response: Any) -> Any:
        with self._lock:
            self.active += 1
        try:
            return list(self.app(environ, start_response))
        finally:
            with self._lock:
                self.active -= 1


WORKERS = {"email": "send_confirmation_email", "inventory": "update_inventory"}


def run_worker(module: ModuleType, env: Any, request: dict[str, Any], folder: Path) -> str | None:
    """Run one worker function on one job; the error in words, or ``None``."""
    from launchpad import correlation
    from launchpad.queue import Job

    name = WORKERS[request["worker"]]
    fn = getattr(module, name, None)
    if not callable(fn):
        return f"checkout.py has no function {name}(job, env)"
    raw = request["job"]
    job = Job(
        id=raw["id"],
        name=raw["name"],
        data=raw["data"],
        opts=raw.get("opts", {}),
        correlation_id=raw.get("correlationId"),
        attempts_made=raw.get("attemptsMade", 0),
    )
    try:
        with correlation.correlation_scope(job.correlation_id):
            fn(job, env)
    except Exception as exc:
        return f"{name} raised " + describe(exc, folder)
    return None


def serve_requests(
    channel: Channel, module: ModuleType, env: Any, folder: Path, app: InFlight | None
) -> None:
    for line in sys.stdin:
        request = json.loads(line)
        reply: dict[str, Any] = {"id": request["id"], "ok": True}
        if request["op"] == "run":
            error = run_worker(module, env, request, folder)
            if error is not None:
                reply.update(ok=False, error=error)
        elif request["op"] == "idle":
            reply["active"] = app.active if app is not None else 0
        channel.send(reply)


def service(config: dict[str, Any], channel: Channel, worker_only: bool) -> None:
    loaded = load_checkout(config, channel)
    if loaded is None:
        return
    module, env = loaded
    folder = Path(config["submission"])
    app: InFlight | None = None
    if not worker_only:
        create = getattr(module, "create_app", None)
        if not callable(create):
            channel.send({"event": "failed", "message": "checkout.py has no create_app(env)"})
            return
        try:
            made = create(env)
        except BaseException as exc:
            message = "create_app(env) raised " + describe(exc, folder)
            channel.send({"event": "failed", "message": message})
            return
        if not callable(made):
            kind = type(made).__name__
            channel.send({"event": "failed", "message": f"create_app(env) returned {kind}"})
            return
        from launchpad.http.serve import serve

        app = InFlight(made)
        server = serve(app, name="checkout")
        channel.send({"event": "ready", "port": server.port})
    else:
        channel.send({"event": "ready", "port": 0})
    serve_requests(channel, module, env, folder, app)


def redis_server(channel: Channel) -> None:
    """The student's own Redis: an embedded server on a loopback port, in this process."""
    from fakeredis import TcpFakeServer

    server = TcpFakeServer(("127.0.0.1", 0))
    server.daemon_threads = True
    channel.send({"event": "ready", "port": server.server_address[1]})
    threading.Thread(target=server.serve_forever, daemon=True).start()
    for _ in sys.stdin:  # until the grader closes the pipe
        pass


def main() -> None:
    mode = sys.argv[1]
    channel = Channel(int(sys.argv[2]))
    config = json.loads(sys.stdin.readline())
    sys.stdout = sys.stderr  # print() goes to the capped log file, never to the pipe
    # ``-I`` ignores PYTHONPATH: import the kit the grader runs (a student copy on
    # PYTHONPATH, say), not whichever one the interpreter's site-packages points at.
    sys.path.insert(0, config["kit"])
    from launchpad.logging import configure_logging

    configure_logging("off")
    if mode == "redis":
        redis_server(channel)
    else:
        os.chdir(config["submission"])
        service(config, channel, worker_only=mode == "worker")


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt, BrokenPipeError):
        main()
    os._exit(0)  # do not wait for threads the submission started
