"""MkDocs hook: put sections of the kit's own Markdown files (READMEs) on site pages.

The lesson, the exercise and the instructor's guide are written once, as READMEs next to
their code, for people who read the repository. The site shows the same text, so it must
never hold a second copy that drifts. A page says which part it wants with one line::

    <!-- include-section: lessons/06-service-communication/README.md#Idempotency -->

and this hook replaces that line, before Markdown runs, with the section of the file whose
heading is, else starts with, else contains "Idempotency" (letters and digits compared,
case-insensitive; exactly one heading must match): the
heading's body down to the next heading of the same or a higher level. The section's own
heading is dropped (the page has its title) and its sub-headings move up to fit the page:
they become H2s, or H3s with ``... README.md#Heading | level=3 -->`` for a part placed under
a heading of the page.
``README.md#_intro`` is the text between the file's title and its first sub-heading, and a
path without ``#`` is the whole file without its title.

Links inside the included text were written relative to the README. They are rewritten so
that they still work on the site: a link to a file or heading that some page shows becomes
a link to that page (and anchor); a link to anything else in the repository becomes the
path in code font, since the site has no page for it. A missing file or heading stops the
build, like ``check_paths`` does for snippets.

A READMEs' Python block that starts with ``# from PATH [SECTION]`` is a copy of a named
snippet section (the lesson's tests check that it is the same); on the site it becomes the
snippet itself, ``--8<-- "PATH:SECTION"``, titled with PATH, so the site shows the file.
Snippet lines (``--8<--``) are left for pymdownx.snippets, which runs after this hook.

A lesson page shows how to run a demo, what it printed when the site was built (the
demos.py hook runs it) and, folded, the demo's code, with one line::

    <!-- demo: lessons/06-service-communication/sync_http.py -->
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from markdown.extensions.toc import slugify
from mkdocs.exceptions import PluginError

DIRECTIVE = re.compile(
    r"^<!--\s*include-section:\s*(?P<path>[^#\s|]+)(?:#(?P<heading>[^|]*?))?"
    r"(?:\s*\|\s*level=(?P<level>[2-6]))?\s*-->\s*$"
)
SNIPPET = re.compile(r"""^\s*-{1,}8<-{1,}\s+["'](?P<path>[^"':]+)(?::[\w-]+)?["']""")
HEADING = re.compile(r"^(?P<hashes>#{1,6})\s+(?P<text>.+?)\s*#*\s*$")
FENCE = re.compile(r"^\s*(?P<fence>`{3,}|~{3,})")
INLINE_LINK = re.compile(
    r"(?P<bang>!?)\[(?P<text>[^\]\n]*)\]\((?P<target>[^)\s]+)(?P<title>\s+\"[^\"]*\")?\)"
)
REF_DEF = re.compile(r"^(?P<lead>\s{0,3}\[[^\]]+\]:\s*)(?P<target>\S+)(?P<rest>.*)$")
INTRO = "_intro"
DEMO = re.compile(r"^<!--\s*demo:\s*(?P<path>\S+\.py)\s*-->\s*$")
FROM_HEADER = re.compile(r"^# from (?P<path>\S+) \[(?P<section>[\w-]+)\]\s*$")
MODULE_DIRECTIVE = re.compile(r"^:::\s+(?P<module>launchpad[\w.]*)\s*$")

_repo_root = Path(".")
# repo-relative source path -> docs page (src_uri) that shows it (whole or first section)
_file_pages: dict[str, str] = {}
# (repo-relative source path, heading text) -> (docs page that shows it, its anchor there);
# the anchor is None for a section's own heading, which the page replaces with its title
_heading_pages: dict[tuple[str, str], tuple[str, str | None]] = {}


@dataclass(frozen=True)
class Heading:
    line: int
    level: int
    text: str


def _normalise(text: str) -> str:
    """Compare headings and anchors by their letters and digits only."""
    text = re.sub(r"[`*_]", "", text)
    return re.sub(r"[^0-9a-z]+", "", text.lower())


def _headings(lines: list[str]) -> list[Heading]:
    """ATX headings outside fenced code blocks (a ``# comment`` in Python is not one)."""
    found: list[Heading] = []
    fence: str | None = None
    for number, line in enumerate(lines):
        match = FENCE.match(line)
        if match:
            marker = match.group("fence")
            if fence is None:
                fence = marker
            elif (
                marker[0] == fence[0]
                and len(marker) >= len(fence)
                and not line.strip()[len(marker) :]
            ):
                fence = None
            continue
        if fence is None:
            heading = HEADING.match(line)
            if heading:
                found.append(Heading(number, len(heading.group("hashes")), heading.group("text")))
    return found


def _read(path: str) -> list[str]:
    file = _repo_root / path
    if not file.is_file():
        raise PluginError(f"include-section: {path} does not exist (relative to {_repo_root})")
    return file.read_text(encoding="utf-8").splitlines()


def _title_level(headings: list[Heading]) -> int:
    return headings[0].level if headings and headings[0].level == 1 else 0


def _matching(headings: list[Heading], wanted: str) -> list[Heading]:
    """Headings matching ``wanted``: the same words, else starting with them, else holding them."""
    key = _normalise(wanted)
    for test in (str.__eq__, str.startswith, str.__contains__):
        found = [h for h in headings if test(_normalise(h.text), key)]
        if found:
            return found
    return []


def _extract(path: str, wanted: str | None) -> tuple[list[str], int, list[Heading]]:
    """Return the lines of the wanted part, the level its headings hang from, and its headings."""
    lines = _read(path)
    headings = _headings(lines)
    top = _title_level(headings)
    body_start = headings[0].line + 1 if top == 1 else 0
    if wanted is None or wanted == "":
        return lines[body_start:], 1, [h for h in headings if h.line >= body_start]
    if wanted == INTRO:
        following = [h for h in headings if h.line >= body_start]
        end = following[0].line if following else len(lines)
        return lines[body_start:end], 1, []
    matches = _matching(headings, wanted)
    if len(matches) != 1:
        names = ", ".join(repr(h.text) for h in headings) or "none"
        how = "no heading" if not matches else f"{len(matches)} headings"
        raise PluginError(f"include-section: {how} in {path} match {wanted!r}; headings: {names}")
    start = matches[0]
    end = next(
        (h.line for h in headings if h.line > start.line and h.level <= start.level), len(lines)
    )
    inner = [h for h in headings if start.line < h.line < end]
    return lines[start.line + 1 : end], start.level, inner


def _shift_headings(lines: list[str], from_level: int, top: int = 2) -> list[str]:
    """Move sub-headings so that the included part's children become the page's H2s
    (or H``top``s, for a part that goes under a heading of the page)."""
    heading_lines = {h.line for h in _headings(lines)}
    shifted = []
    for number, line in enumerate(lines):
        if number in heading_lines:
            match = HEADING.match(line)
            assert match is not None
            level = max(top, len(match.group("hashes")) - from_level + top - 1)
            line = "#" * min(level, 6) + " " + match.group("text")
        shifted.append(line)
    return shifted


def _page_link(from_page: str, to_page: str, anchor: str | None) -> str:
    here = posixpath.dirname(from_page)
    target = posixpath.relpath(to_page, here or ".") if to_page != from_page else ""
    return target + (f"#{anchor}" if anchor else "")


def _rewrite_target(target: str, source: str, page: str) -> str | None:
    """New link target on the site, or None when the site has no page for it."""
    if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # http:, https:, mailto:
        return target
    path, _, anchor = target.partition("#")
    repo_path = (
        posixpath.normpath(posixpath.join(posixpath.dirname(source), path)) if path else source
    )
    if anchor:
        for (file, heading), (shown_on, slug) in _heading_pages.items():
            if file == repo_path and _normalise(heading) == _normalise(anchor):
                return _page_link(page, shown_on, slug)
        if repo_path in _file_pages and not path.endswith(".md"):
            return _page_link(page, _file_pages[repo_path], None) or None
        return None
    if repo_path.endswith("/") or (_repo_root / repo_path).is_dir():
        candidate = posixpath.join(repo_path.rstrip("/"), "README.md")
        repo_path = candidate if candidate in _file_pages else repo_path
    if repo_path in _file_pages:
        # a link to the page the reader is on would be href="": show the path instead
        return _page_link(page, _file_pages[repo_path], None) or None
    return None


def _snippets_for_copies(lines: list[str]) -> list[str]:
    """Replace README blocks that copy a snippet section with the snippet include itself."""
    out: list[str] = []
    number = 0
    while number < len(lines):
        line = lines[number]
        opening = re.match(r"^(?P<indent>\s*)(?P<fence>`{3,})(?:python|py)\s*$", line)
        header = (
            FROM_HEADER.match(lines[number + 1].strip())
            if opening and number + 1 < len(lines)
            else None
        )
        if opening and header:
            fence, indent = opening.group("fence"), opening.group("indent")
            end = next(
                (i for i in range(number + 2, len(lines)) if lines[i].strip() == fence),
                None,
            )
            if end is None:
                raise PluginError(f"include-section: unclosed code block after {line!r}")
            path, section = header.group("path"), header.group("section")
            out += [
                f'{indent}{fence}python title="{path}"',
                f'{indent}--8<-- "{path}:{section}"',
                f"{indent}{fence}",
            ]
            number = end + 1
            continue
        out.append(line)
        number += 1
    return out


def _rewrite_links(lines: list[str], source: str, page: str) -> list[str]:
    """Point the included text's relative links at site pages, or show them as paths."""
    out: list[str] = []
    fence: str | None = None
    for line in lines:
        match = FENCE.match(line)
        if match:
            marker = match.group("fence")
            if fence is None:
                fence = marker
            elif marker[0] == fence[0] and len(marker) >= len(fence):
                fence = None
            out.append(line)
            continue
        if fence is not None:
            out.append(line)
            continue

        def inline(m: re.Match[str]) -> str:
            new = _rewrite_target(m.group("target"), source, page)
            if new is not None:
                return f"{m.group('bang')}[{m.group('text')}]({new}{m.group('title') or ''})"
            if m.group("bang"):
                raise PluginError(
                    f"include-section: image {m.group('target')} in {source} has no page"
                )
            text = m.group("text")
            shown = m.group("target").split("#")[0] or source
            path = posixpath.normpath(posixpath.join(posixpath.dirname(source), shown))
            return text if text.strip("`") == path else f"{text} (`{path}`)"

        # leave links that are only text inside `inline code` alone
        code = [m.span() for m in re.finditer(r"`[^`\n]*`", line)]

        def outside_code(m: re.Match[str], code: list[tuple[int, int]] = code) -> str:
            if any(start < m.start() < end for start, end in code):
                return m.group(0)
            return inline(m)

        line = INLINE_LINK.sub(outside_code, line)
        ref = REF_DEF.match(line)
        if ref:
            new = _rewrite_target(ref.group("target"), source, page)
            line = f"{ref.group('lead')}{new if new is not None else '#'}{ref.group('rest')}"
        out.append(line)
    return out


def _demo_block(path: str) -> list[str]:
    """How to run a lesson's demo, and its code folded underneath, from the file itself."""
    file = _repo_root / path
    if not file.is_file():
        raise PluginError(f"demo: {path} does not exist (relative to {_repo_root})")
    lesson = re.match(r"(\d+)-", file.parent.name)
    if lesson is None:
        raise PluginError(f"demo: {path} is not in a lesson folder like lessons/06-name/")
    name = file.stem
    return [
        f'!!! run "Run it: `{name}`"',
        "",
        "    ```bash",
        f"    launchpad lesson {lesson.group(1)} {name}",
        "    ```",
        "",
        f"    or `python {path}`. Add `--json` to print only what the run measured.",
        "",
        f"<!-- demo-output: {path} -->",  # demos.py puts a real run's output here
        "",
        f'??? example "The demo\'s code: `{path}`"',
        "",
        f'    ```python title="{path}"',
        f'    --8<-- "{path}"',
        "    ```",
        "",
    ]


def _directives(markdown: str) -> list[re.Match[str]]:
    return [m for line in markdown.splitlines() if (m := DIRECTIVE.match(line.strip()))]


def on_config(config: Any) -> Any:
    global _repo_root
    _repo_root = Path(config["config_file_path"]).resolve().parent
    return config


def on_files(files: Any, config: Any) -> Any:
    """Learn which page shows which file and heading, so links can be pointed at pages.

    A file shown on several pages is linked to the most specific one: its API reference
    page, else the page that runs it as a demo, else the page that shows all of it (or its
    introduction), else a page with a snippet or a section of it.
    """
    _file_pages.clear()
    _heading_pages.clear()
    candidates: list[tuple[int, str, str]] = []  # (rank, repo path, page)
    for file in sorted(files.documentation_pages(), key=lambda f: f.src_uri):
        page = file.src_uri
        text = Path(file.abs_src_path).read_text(encoding="utf-8")
        for line in text.splitlines():
            module = MODULE_DIRECTIVE.match(line.strip())
            if module:
                base = module.group("module").replace(".", "/")
                candidates += [
                    (0, path, page) for path in (f"{base}.py", f"{base}/__init__.py", base)
                ]
            demo = DEMO.match(line.strip())
            if demo:
                candidates.append((1, demo.group("path"), page))
            snippet = SNIPPET.match(line)
            if snippet:
                candidates.append((3, snippet.group("path"), page))
        for match in _directives(text):
            path, wanted = match.group("path"), match.group("heading")
            whole = wanted in (None, "", INTRO)
            candidates.append((2 if whole else 4, path, page))
            _, _, inner = _extract(path, wanted)
            if not whole:
                heading = _matching(_headings(_read(path)), wanted)[0]
                _heading_pages.setdefault((path, heading.text), (page, None))
            for h in inner:
                _heading_pages.setdefault((path, h.text), (page, slugify(h.text, "-")))
    for _, path, page in sorted(candidates, key=lambda c: c[0]):
        _file_pages.setdefault(path, page)
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    out: list[str] = []
    for line in markdown.splitlines():
        demo = DEMO.match(line.strip())
        if demo:
            out.extend(_demo_block(demo.group("path")))
            continue
        match = DIRECTIVE.match(line.strip())
        if not match:
            out.append(line)
            continue
        path, wanted = match.group("path"), match.group("heading")
        part, level, _ = _extract(path, wanted)
        part = _shift_headings(part, level, int(match.group("level") or 2))
        part = _snippets_for_copies(part)
        out.extend(_rewrite_links(part, path, page.file.src_uri))
    return "\n".join(out) + "\n"
