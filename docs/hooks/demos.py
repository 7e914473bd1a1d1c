"""MkDocs hook: run each lesson demo at build time and put what it printed on its page.

The demos are the kit's strongest part, and a reader who never clones the repository should
still see what one prints: the timeline, the duplicate email, the 504 after the deadline.
So the build runs every demo that a page shows (``<!-- demo: PATH -->``, see sections.py),
the way a student does (``python PATH`` in the repository, embedded Redis, a fixed terminal
width), records its colours with rich (``Text.from_ansi`` into a ``Console(record=True)``,
exported as HTML with inline styles) and puts it next to the demo's code, where
sections.py left the line ``<!-- demo-output: PATH -->``. A page may write that line itself
to show what an example script prints (``docs/examples/``), recorded the same way.

Nothing is made up or pasted: the output comes from a real run of the code the page shows.
A run is cached by a hash of what can change its output: the demo file, the lesson's helper
files (``_*.py``), the library (``launchpad/``) and this hook's own format. The cache lives in
``.cache/docs-demos/`` at the top of the repository (not in git); a stale or missing entry
is run again, so the site never shows the output of code it no longer holds. The page
carries the hash (``data-source-hash``) and the tests compare it with the sources.

Fault model: a demo is the kit's own code, trusted, but it may fail or hang. A demo that
exits non-zero, or runs longer than ``DEMO_TIMEOUT`` seconds, stops the build with its last
lines of output: a page must not show a broken run as if it were the lesson.
"""

from __future__ import annotations

import hashlib
import html
import io
import json
import os
import platform
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError
from rich.console import Console
from rich.terminal_theme import TerminalTheme
from rich.text import Text

DEMO = re.compile(r"^<!--\s*demo:\s*(?P<path>\S+\.py)\s*-->\s*$")
OUTPUT = re.compile(r"<!--\s*demo-output:\s*(?P<path>\S+\.py)\s*-->")
FORMAT = "2"  # bump when the recorded HTML changes shape: every cached run is redone
WIDTH = 80  # terminal columns the demos print for: a classic terminal, fits the page column
DEMO_TIMEOUT = 180.0
CACHE_ENV = "LAUNCHPAD_DOCS_DEMO_CACHE"
RUNNERS = 3  # demos mostly wait on sockets and deadlines: a few at once keep the build short

# a dark terminal whose dim grey still has 4.5:1 contrast against the background
THEME = TerminalTheme(
    (18, 18, 24),
    (230, 230, 230),
    [
        (18, 18, 24),
        (255, 110, 110),
        (110, 220, 110),
        (240, 200, 90),
        (120, 160, 255),
        (230, 120, 230),
        (90, 210, 220),
        (220, 220, 220),
    ],
    [
        (140, 140, 150),
        (255, 140, 140),
        (140, 240, 140),
        (255, 225, 120),
        (150, 185, 255),
        (245, 150, 245),
        (130, 230, 240),
        (255, 255, 255),
    ],
)

_repo_root = Path(".")


@dataclass(frozen=True)
class Recording:
    """One real run of a demo, as stored in the cache and shown on its page."""

    demo: str
    source_hash: str
    recorded_at: str
    python: str
    seconds: float
    html: str

    def figure(self) -> str:
        name = Path(self.demo).stem
        caption = (
            f"What <code>{html.escape(name)}</code> printed when this site was built "
            f"({html.escape(self.recorded_at)}, Python {html.escape(self.python)}, embedded "
            f"Redis, {self.seconds:.1f} s). Times, ports and ids differ on every run."
        )
        return (
            f'<figure class="demo-output" id="output-{html.escape(name)}" '
            f'data-demo="{html.escape(self.demo)}" data-source-hash="{self.source_hash}">'
            f"<figcaption>{caption}</figcaption>{self.html}</figure>"
        )


def source_hash(demo: str, root: Path | None = None) -> str:
    """The hash of everything whose change can change what ``demo`` prints."""
    root = root or _repo_root
    file = root / demo
    digest = hashlib.sha256(f"format {FORMAT} width {WIDTH}\n".encode())
    inputs = [file, *sorted(file.parent.glob("_*.py"))]
    library = root / "launchpad"
    inputs += sorted(p for p in library.rglob("*") if p.suffix in (".py", ".lua") and p.is_file())
    for path in inputs:
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def cache_dir(root: Path | None = None) -> Path:
    override = os.environ.get(CACHE_ENV)
    return Path(override) if override else (root or _repo_root) / ".cache" / "docs-demos"


def _cache_file(demo: str, root: Path | None = None) -> Path:
    return cache_dir(root) / (demo.replace("/", "__") + ".json")


def cached(demo: str, root: Path | None = None) -> Recording | None:
    """The stored run of ``demo`` if it was made from the sources as they are now."""
    file = _cache_file(demo, root)
    try:
        recording = Recording(**json.loads(file.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None
    return recording if recording.source_hash == source_hash(demo, root) else None


def to_html(ansi: str) -> str:
    """Terminal output with ANSI colours as a ``<pre>`` with inline styles, via rich."""
    console = Console(
        record=True, width=WIDTH, file=io.StringIO(), force_terminal=True, color_system="truecolor"
    )
    console.print(Text.from_ansi(ansi.rstrip("\n")), soft_wrap=True)
    return console.export_html(
        theme=THEME,
        inline_styles=True,
        code_format=(
            # tabindex: a keyboard user can scroll the block sideways on a narrow screen
            '<pre class="demo-output__terminal" tabindex="0" '
            f'style="background-color: {THEME.background_color.hex}; '
            f'color: {THEME.foreground_color.hex}"><code>{{code}}</code></pre>'
        ),
    )


def record(demo: str, root: Path | None = None) -> Recording:
    """Run ``demo`` as a student does and record what it printed; raise if it fails."""
    root = root or _repo_root
    expected_hash = source_hash(demo, root)
    env = {**os.environ, "COLUMNS": str(WIDTH), "LINES": "50", "FORCE_COLOR": "1"}
    for name in ("REDIS_URL", "NO_COLOR", "TERM"):
        env.pop(name, None)  # the embedded Redis and colours, whatever the builder's shell has
    started = time.monotonic()
    try:
        proc = subprocess.run(
            [sys.executable, demo],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            timeout=DEMO_TIMEOUT,
        )
    except subprocess.TimeoutExpired as exc:
        raise PluginError(f"demo: {demo} ran longer than {DEMO_TIMEOUT:g} s") from exc
    seconds = time.monotonic() - started
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-20:])
        raise PluginError(f"demo: {demo} exited with {proc.returncode}:\n{tail}")
    recording = Recording(
        demo=demo,
        source_hash=expected_hash,
        recorded_at=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        python=platform.python_version(),
        seconds=round(seconds, 1),
        html=to_html(proc.stdout),
    )
    file = _cache_file(demo, root)
    file.parent.mkdir(parents=True, exist_ok=True)
    temporary = file.with_suffix(f".{os.getpid()}.tmp")
    temporary.write_text(json.dumps(recording.__dict__), encoding="utf-8")
    temporary.replace(file)  # whole or not at all, even with two builds at once
    return recording


def recordings(demos: list[str], root: Path | None = None) -> dict[str, Recording]:
    """A current recording of each demo: from the cache, else from a new run."""
    found = {demo: run for demo in demos if (run := cached(demo, root)) is not None}
    stale = [demo for demo in demos if demo not in found]
    if stale:
        with ThreadPoolExecutor(max_workers=RUNNERS) as pool:
            found.update(zip(stale, pool.map(lambda d: record(d, root), stale), strict=True))
    return found


_recordings: dict[str, Recording] = {}


def on_config(config: Any) -> Any:
    global _repo_root
    _repo_root = Path(config["config_file_path"]).resolve().parent
    return config


def on_files(files: Any, config: Any) -> Any:
    """Run (or take from the cache) every demo some page shows, before any page is built."""
    demos: list[str] = []
    for file in files.documentation_pages():
        for line in Path(file.abs_src_path).read_text(encoding="utf-8").splitlines():
            match = DEMO.match(line.strip()) or OUTPUT.fullmatch(line.strip())
            if match and match.group("path") not in demos:
                demos.append(match.group("path"))
    _recordings.clear()
    _recordings.update(recordings(demos))
    return files


def on_page_content(content: str, page: Any, config: Any, files: Any) -> str:
    def figure(match: re.Match[str]) -> str:
        demo = match.group("path")
        if demo not in _recordings:
            raise PluginError(f"demo-output: {demo} on {page.file.src_uri} was not run")
        return _recordings[demo].figure()

    return OUTPUT.sub(figure, content)
