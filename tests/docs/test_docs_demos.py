"""Each concept page shows what its demo printed in a real run of the code it shows.

The docs build runs every lesson demo (docs/hooks/demos.py) and embeds its recorded output
next to the demo's code, tagged with a hash of the sources that can change it. These tests
check the built pages (every demo's output is there, from the sources as they are now) and
the hook's promises alone on a tiny lesson: a changed demo or library is run again, a
failing demo stops the build, and the recording is real, escaped HTML.
"""

from __future__ import annotations

import ast
import html
import json
import re
from pathlib import Path

import pytest
from docs_site import REPO, Build, load_hook
from mkdocs.exceptions import PluginError

LESSON = "lessons/06-service-communication"
FIGURE = re.compile(
    r'<figure class="demo-output"[^>]*data-demo="(?P<demo>[^"]+)" '
    r'data-source-hash="(?P<hash>[0-9a-f]{64})">(?P<body>.*?)</figure>',
    re.S,
)


def _demo_pages() -> dict[str, Path]:
    """demo path -> the Markdown page that shows it."""
    pages: dict[str, Path] = {}
    for md in (REPO / "docs").rglob("*.md"):
        for match in re.finditer(r"<!-- demo: (\S+\.py) -->", md.read_text(encoding="utf-8")):
            pages[match.group(1)] = md
    return pages


def _text(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", fragment))


def _built(page: Path, site: Path) -> Path:
    rel = page.relative_to(REPO / "docs").with_suffix("")
    return site / (rel.parent if rel.name == "index" else rel) / "index.html"


def test_every_concept_page_shows_its_demos_current_output(good_site: Build) -> None:
    hook = load_hook("demos")
    demos = json.loads((REPO / LESSON / "lesson.json").read_text(encoding="utf-8"))["demos"]
    pages = _demo_pages()
    for name in demos:
        demo = f"{LESSON}/{name}.py"
        assert demo in pages, f"no page shows {demo}"
        built = _built(pages[demo], good_site.site).read_text(encoding="utf-8")
        figures = {m.group("demo"): m for m in FIGURE.finditer(built)}
        assert demo in figures, f"{pages[demo].name} shows {name}'s code but not its output"
        figure = figures[demo]
        assert figure.group("hash") == hook.source_hash(demo, REPO), (
            f"{name}'s output on {pages[demo].name} was recorded from other sources: stale"
        )
        title = ast.get_docstring(ast.parse((REPO / demo).read_text(encoding="utf-8")))
        assert title is not None
        printed = _text(figure.group("body"))
        # the run's header panel starts with the demo's title (a long one is cut at 80 columns)
        assert title.splitlines()[0].strip()[:40] in printed, f"{name}'s run lacks its title"
        assert re.search(r"done in \d+\.\d s", printed), f"{name}'s run did not finish"
        # the recording is next to the code it came from: between the run box and the code
        run_box = built.index(f"launchpad lesson 06 {name}")
        code = built.index(f"The demo's code: <code>{demo}</code>")
        assert run_box < figure.start() < code


DEMO_SOURCE = '''"""Tiny demo

It prints a colour, a number and some markup.
"""
from rich.console import Console

console = Console(highlight=False)
console.print("[bold red]RED[/] 42 <script>alert(1)</script>")
console.print("done in 0.1 s")
'''


def _tiny_repo(tmp_path: Path) -> tuple[Path, str]:
    (tmp_path / "launchpad").mkdir()
    (tmp_path / "launchpad" / "thing.py").write_text("VALUE = 1\n", encoding="utf-8")
    lesson = tmp_path / "lessons" / "99-tiny"
    lesson.mkdir(parents=True)
    (lesson / "_helper.py").write_text("", encoding="utf-8")
    (lesson / "tiny.py").write_text(DEMO_SOURCE, encoding="utf-8")
    return tmp_path, "lessons/99-tiny/tiny.py"


def test_a_recording_is_cached_until_the_demo_or_library_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hook = load_hook("demos")
    root, demo = _tiny_repo(tmp_path)
    monkeypatch.setenv(hook.CACHE_ENV, str(tmp_path / "cache"))
    assert hook.cached(demo, root) is None
    first = hook.recordings([demo], root)[demo]
    assert hook.cached(demo, root) == first, "a fresh recording is served from the cache"
    assert hook.recordings([demo], root)[demo] == first, "and not run again"

    for changed in ("lessons/99-tiny/tiny.py", "lessons/99-tiny/_helper.py", "launchpad/thing.py"):
        with (root / changed).open("a", encoding="utf-8") as f:
            f.write("\n# changed\n")
        assert hook.cached(demo, root) is None, f"a change to {changed} must make the run stale"
        again = hook.recordings([demo], root)[demo]
        assert again.source_hash == hook.source_hash(demo, root) != first.source_hash


def test_the_recording_keeps_colours_and_escapes_markup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hook = load_hook("demos")
    root, demo = _tiny_repo(tmp_path)
    monkeypatch.setenv(hook.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setenv("NO_COLOR", "1")  # the builder's shell must not take the colours away
    recording = hook.record(demo, root)
    assert "&lt;script&gt;" in recording.html and "<script>" not in recording.html
    red = re.search(r'<span style="([^"]*)">RED</span>', recording.html)
    assert red is not None and "font-weight: bold" in red.group(1)
    assert "color: #" in red.group(1), "the demo's colours are on the page"
    figure = recording.figure()
    assert f'data-source-hash="{hook.source_hash(demo, root)}"' in figure
    assert "RED 42 <script>alert(1)</script>" in _text(figure)


def test_a_failing_demo_stops_the_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hook = load_hook("demos")
    root, demo = _tiny_repo(tmp_path)
    monkeypatch.setenv(hook.CACHE_ENV, str(tmp_path / "cache"))
    (root / demo).write_text("print('half way')\nraise SystemExit('auth never answered')\n")
    with pytest.raises(PluginError, match=r"(?s)exited with 1.*auth never answered"):
        hook.recordings([demo], root)
    assert hook.cached(demo, root) is None, "a failed run is never cached"


def test_a_hanging_demo_stops_the_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hook = load_hook("demos")
    root, demo = _tiny_repo(tmp_path)
    monkeypatch.setenv(hook.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setattr(hook, "DEMO_TIMEOUT", 1.0)
    (root / demo).write_text("import time\ntime.sleep(60)\n")
    with pytest.raises(PluginError, match="ran longer than 1 s"):
        hook.record(demo, root)
