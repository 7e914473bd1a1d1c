"""MkDocs hook: diagrams and tables that a phone and a screen reader can use.

Diagrams. Every mermaid diagram must carry a text alternative, written in the diagram
itself (``accTitle:`` and ``accDescr:``, which mermaid turns into the SVG's ``<title>`` and
``<desc>``); a diagram without them stops the build. On the page a diagram is shrunk to fit
the column, which on a phone makes a wide sequence diagram's labels too small to read; so
each one also gets a link to a page of its own (``assets/diagrams/``), where it is drawn at
its natural size with its title and description as text, to scroll and zoom.

Tables. On a narrow screen a table with several columns cannot fit, and a sideways-scrolling
table hides its last columns (the grading table's points). So each cell of a plain Markdown
table gets ``data-label`` (its column's heading), and the CSS turns each row into a small
card of "heading: value" lines below 30em. Tables that mkdocstrings makes are left alone.
"""

from __future__ import annotations

import html
import json
import posixpath
import re
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError

MERMAID = re.compile(r'<pre class="mermaid"><code>(?P<source>.*?)</code></pre>', re.S)
ACC_TITLE = re.compile(r"^\s*accTitle\s*:\s*(?P<text>.+?)\s*$", re.M)
ACC_DESCR = re.compile(r"^\s*accDescr\s*(?::\s*\S|\{)", re.M)
TABLE = re.compile(r"<table>(?P<body>.*?)</table>", re.S)
HEAD_CELL = re.compile(r"<th\b[^>]*>(?P<text>.*?)</th>", re.S)
ROW = re.compile(r"<tr>(?P<cells>.*?)</tr>", re.S)
CELL = re.compile(r"<td(?P<attrs>[^>]*)>")
FULL_SIZE_DIR = "assets/diagrams"

# full-size page (site-relative path) -> (diagram source, title, page it belongs to)
_full_size: dict[str, tuple[str, str, str]] = {}

FULL_SIZE_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} - LaunchPad</title>
<link rel="icon" href="../favicon.svg">
<style>
  body {{ font-family: system-ui, sans-serif; margin: 1rem; line-height: 1.5; }}
  main {{ max-width: 48rem; }}
  #diagram {{ overflow-x: auto; margin: 1rem 0; }}
  #diagram svg {{ max-width: none !important; }}
</style>
</head>
<body>
<main>
<p><a href="{back}">Back to the page</a></p>
<h1>{title}</h1>
<p>{description}</p>
</main>
<div id="diagram" role="img" aria-label="{title}"></div>
<script src="../javascripts/vendor/mermaid.min.js"></script>
<script>
  // drawn at its natural size: no useMaxWidth, so nothing is shrunk to fit the screen
  const source = {source};
  mermaid.initialize({{startOnLoad: false, securityLevel: "strict",
    flowchart: {{useMaxWidth: false}}, sequence: {{useMaxWidth: false}},
    state: {{useMaxWidth: false}}}});
  mermaid.render("full-size", source).then(({{svg}}) => {{
    document.getElementById("diagram").innerHTML = svg;
  }});
</script>
</body>
</html>
"""


def _diagram(match: re.Match[str], page: Any, number: int) -> str:
    source = html.unescape(match.group("source"))
    title = ACC_TITLE.search(source)
    if title is None or not ACC_DESCR.search(source):
        first = source.strip().splitlines()[0] if source.strip() else "?"
        raise PluginError(
            f"{page.file.src_uri}: the mermaid diagram '{first} ...' needs accTitle: and "
            "accDescr: (its text alternative for screen readers)"
        )
    slug = re.sub(r"[^a-z0-9]+", "-", page.url.lower()).strip("-") or "home"
    full = f"{FULL_SIZE_DIR}/{slug}-{number}.html"
    _full_size[full] = (source, title.group("text"), page.url)
    href = posixpath.relpath(full, page.url.rstrip("/") or ".")
    label = html.escape(title.group("text"), quote=True)
    return (
        f'<figure class="diagram">{match.group(0)}'
        f'<figcaption><a class="diagram__full" href="{href}">Open the diagram full size'
        f'<span class="md-visually-hidden">: {label}</span></a></figcaption></figure>'
    )


def _description(source: str) -> str:
    """The accDescr text: one line (``accDescr: ...``) or a block (``accDescr { ... }``)."""
    line = re.search(r"^\s*accDescr\s*:\s*(?P<text>.+?)\s*$", source, re.M)
    if line:
        return line.group("text")
    block = re.search(r"^\s*accDescr\s*\{(?P<text>.*?)\}", source, re.M | re.S)
    return " ".join(block.group("text").split()) if block else ""


def _labelled(table: re.Match[str]) -> str:
    body = table.group("body")
    headings = [
        html.escape(re.sub(r"<[^>]+>", "", h.group("text")).strip(), quote=True)
        for h in HEAD_CELL.finditer(body)
    ]
    if not headings:
        return table.group(0)

    def row(match: re.Match[str]) -> str:
        column = iter(headings)
        cells = CELL.sub(
            lambda c: f'<td data-label="{next(column, "")}"{c.group("attrs")}>',
            match.group("cells"),
        )
        return f"<tr>{cells}</tr>"

    return f'<table class="cards">{ROW.sub(row, body)}</table>'


def on_pre_build(config: Any) -> None:
    _full_size.clear()


def on_page_content(content: str, page: Any, config: Any, files: Any) -> str:
    numbers = iter(range(1, 1000))
    content = MERMAID.sub(lambda m: _diagram(m, page, next(numbers)), content)
    return TABLE.sub(_labelled, content)


def on_post_build(config: Any) -> None:
    """Write each diagram's full-size page."""
    for path, (source, title, page_url) in _full_size.items():
        target = Path(config["site_dir"]) / path
        target.parent.mkdir(parents=True, exist_ok=True)
        back = posixpath.relpath(page_url or ".", posixpath.dirname(path))
        target.write_text(
            FULL_SIZE_PAGE.format(
                title=html.escape(title),
                description=html.escape(_description(source)),
                back=html.escape(back.rstrip("/") + "/" if back != "." else "./", quote=True),
                source=json.dumps(source).replace("</", "<\\/"),
            ),
            encoding="utf-8",
        )
