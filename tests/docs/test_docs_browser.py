"""The built site in a real browser: every page loads, renders and links correctly.

Headless Chromium (Debian's ``chromium`` package, driven by Playwright; never a browser that
Playwright downloads) opens every page of the strictly built site, served on loopback, and
checks what a reader would notice: the page answers 200, nothing in the console is an error,
nothing is fetched from outside the machine (the site must work offline), each mermaid
diagram became an SVG, each link inside the site and each image resolves (anchors included),
and the search box finds "idempotency". A screenshot of a lesson page is saved under the
test's temporary folder for a human to look at.

A second pass reads the pages as a phone does (390 px wide) and as a screen reader does:
no page scrolls sideways, every table fits its column (they turn into cards), every diagram
has a text alternative (an SVG title and description, from accTitle/accDescr), and every
diagram's labels are at least 12 px on screen, on the page or on its full-size page.

Without Chromium the test skips and says why, except under ``CI`` or
``LAUNCHPAD_REQUIRE_BROWSER=1``, where a missing browser is a failure.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urldefrag, urljoin, urlsplit

import pytest
from docs_site import Build

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("LAUNCHPAD_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
REQUIRE_BROWSER = bool(os.environ.get("CI")) or os.environ.get("LAUNCHPAD_REQUIRE_BROWSER") == "1"
SCREENSHOT_PAGE = "lesson-06/idempotency/"

# Material renders each diagram into a *closed* shadow root; open it so the test can look in.
OPEN_SHADOW_ROOTS = """
const attach = Element.prototype.attachShadow;
Element.prototype.attachShadow = function (init) {
  return attach.call(this, Object.assign({}, init, { mode: "open" }));
};
"""

# Wait until Material has replaced every <pre class="mermaid"> with a rendered diagram.
DIAGRAMS_SETTLED = "() => document.querySelectorAll('pre.mermaid').length === 0"

DIAGRAMS = """
() => Array.from(document.querySelectorAll('div.mermaid')).map((div) => {
  const svg = div.shadowRoot && div.shadowRoot.querySelector('svg');
  if (!svg) return { svg: false };
  const box = svg.getBoundingClientRect();
  return {
    svg: true,
    width: box.width,
    height: box.height,
    error: !!svg.querySelector('.error-icon, .error-text'),
  };
})
"""

LINKS = """
() => ({
  links: Array.from(document.querySelectorAll('a[href]')).map((a) => a.href),
  images: Array.from(document.images).map((img) => ({
    src: img.currentSrc || img.src, loaded: img.complete && img.naturalWidth > 0,
  })),
})
"""


@pytest.fixture(scope="session")
def sync_playwright() -> Any:
    """Playwright's sync API and a Chromium to drive, or a skip (a failure in CI) saying why.

    Asked for before the site is built, so a missing browser skips at once.
    """
    problem = None
    try:
        from playwright.sync_api import sync_playwright as api
    except ImportError:
        problem = "Playwright is not installed (pip install -e '.[docs]')"
    if problem is None and not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        problem = (
            f"no Chromium at {CHROMIUM}; install Debian's: "
            "apt-get update && apt-get install -y chromium"
        )
    if problem is not None:
        if REQUIRE_BROWSER:
            pytest.fail(f"{problem} (required: CI or LAUNCHPAD_REQUIRE_BROWSER=1)", pytrace=False)
        pytest.skip(problem)
    return api


ID_ATTRIBUTE = re.compile(r"""\s(?:id|name)=["']?([^"'\s>]+)""")


@dataclass
class Findings:
    pages: int = 0
    links: int = 0
    images: int = 0
    diagrams: int = 0
    problems: list[str] = field(default_factory=list)


def _page_url(site: Path, base: str, html: Path) -> str:
    rel = html.relative_to(site).as_posix()
    return urljoin(base, rel[: -len("index.html")] if rel.endswith("index.html") else rel)


def _local_file(site: Path, base: str, url: str) -> Path | None:
    """The file of the built site that ``url`` serves, or None when there is none."""
    path = unquote(urlsplit(url).path)[len(urlsplit(base).path) :]
    target = site / path
    if target.is_dir():
        target = target / "index.html"
    return target if target.is_file() else None


def _check_link(site: Path, base: str, url: str, ids: dict[Path, set[str]]) -> str | None:
    """Why ``url`` (inside the site) does not resolve, or None when it does."""
    address, fragment = urldefrag(url)
    target = _local_file(site, base, address)
    if target is None:
        return "no such file"
    if fragment and target.suffix == ".html":
        if target not in ids:
            ids[target] = set(ID_ATTRIBUTE.findall(target.read_text(encoding="utf-8")))
        if unquote(fragment) not in ids[target]:
            return f"no #{fragment} in {target.relative_to(site)}"
    return None


def _visit_every_page(page: Any, site: Path, base: str, found: Findings) -> None:
    seen_links: set[str] = set()
    ids: dict[Path, set[str]] = {}
    errors: list[str] = []
    outside: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
    page.on(
        "request",
        lambda req: (
            outside.append(req.url)
            if urlsplit(req.url).hostname not in ("127.0.0.1", None) and req.url.startswith("http")
            else None
        ),
    )
    failed: list[str] = []
    # net::ERR_ABORTED is a request cut short by the next navigation (the search worker); a
    # missing file shows up as a 404 response instead
    page.on(
        "requestfailed",
        lambda req: (
            failed.append(f"{req.url} ({req.failure})")
            if "ERR_ABORTED" not in (req.failure or "")
            else None
        ),
    )
    page.on(
        "response",
        lambda res: (
            failed.append(f"{res.url} answered {res.status}") if res.status >= 400 else None
        ),
    )

    for html in Build(site, 0, "").pages():
        url = _page_url(site, base, html)
        name = html.relative_to(site).as_posix()
        errors.clear()
        outside.clear()
        failed.clear()
        expected_diagrams = html.read_text(encoding="utf-8").count('<pre class="mermaid">')
        response = page.goto(url, wait_until="load")
        status = response.status if response is not None else None
        if status != 200:
            found.problems.append(f"{name}: HTTP {status}")
            continue
        found.pages += 1
        if expected_diagrams:
            page.wait_for_function(DIAGRAMS_SETTLED, timeout=15_000)
            diagrams = page.evaluate(DIAGRAMS)
            if len(diagrams) != expected_diagrams:
                found.problems.append(
                    f"{name}: {expected_diagrams} mermaid blocks, {len(diagrams)} rendered"
                )
            for number, diagram in enumerate(diagrams, 1):
                if not diagram["svg"] or diagram["error"] or diagram["height"] < 20:
                    found.problems.append(f"{name}: diagram {number} did not render: {diagram}")
            found.diagrams += len(diagrams)
        elements = page.evaluate(LINKS)
        for image in elements["images"]:
            found.images += 1
            if not image["loaded"]:
                found.problems.append(f"{name}: image {image['src']} did not load")
        for link in elements["links"]:
            if not link.startswith(base):
                continue  # external links (e.g. an RFC) are the reader's to follow
            found.links += 1
            if link in seen_links:
                continue
            seen_links.add(link)
            why = _check_link(site, base, link, ids)
            if why:
                found.problems.append(f"{name}: link {link[len(base) :]}: {why}")
        page.wait_for_timeout(20)  # let late console messages arrive
        found.problems += [f"{name}: console error: {e}" for e in errors]
        found.problems += [f"{name}: fetched from outside the machine: {u}" for u in outside]
        found.problems += [f"{name}: request failed: {f}" for f in failed]


def _search(page: Any, base: str, query: str) -> list[str]:
    """Type ``query`` into the site's search box; the titles of the results."""
    page.goto(base, wait_until="load")
    box = page.locator("input.md-search__input")
    box.click()  # on a wide screen the box sits in the header; a click opens it
    box.press_sequentially(query, delay=20)  # keystrokes, as a reader types
    results = page.locator(".md-search-result__item")
    results.first.wait_for(state="visible", timeout=15_000)
    titles: list[str] = page.locator(
        ".md-search-result__item h1, .md-search-result__item h2"
    ).all_inner_texts()
    return titles


def test_every_page_in_headless_chromium(
    sync_playwright: Any, good_site: Build, site_url: str, tmp_path: Path
) -> None:
    started = time.monotonic()
    found = Findings()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            context.add_init_script(OPEN_SHADOW_ROOTS)
            page = context.new_page()
            page.set_default_timeout(20_000)
            _visit_every_page(page, good_site.site, site_url, found)

            titles = _search(page, site_url, "idempotency")
            shot = tmp_path / "lesson-06-idempotency.png"
            page.goto(urljoin(site_url, SCREENSHOT_PAGE), wait_until="load")
            page.wait_for_function(DIAGRAMS_SETTLED, timeout=15_000)
            page.screenshot(path=str(shot), full_page=False)
        finally:
            browser.close()

    seconds = time.monotonic() - started
    print(
        f"\nbrowser check: {found.pages} pages, {found.links} internal links, "
        f"{found.images} images, {found.diagrams} mermaid diagrams, search: {len(titles)} "
        f"results for 'idempotency', {seconds:.1f} s; screenshot: {shot}"
    )
    assert found.problems == []
    assert found.pages == len(good_site.pages())
    assert found.diagrams >= 3, "the sync call, the gateway and the welcome email are drawn"
    assert any("dempotency" in title for title in titles), titles
    assert shot.stat().st_size > 10_000


PHONE_WIDTH = 390
LEGIBLE_PX = 12.0

# what a phone reader and a screen reader get from one page
PHONE_VIEW = """
() => {
  const legible = (svg) => {
    let smallest = Infinity;
    for (const t of svg.querySelectorAll('text, foreignObject div, foreignObject span')) {
      if (!t.textContent.trim() || !t.getBoundingClientRect().height) continue;
      const size = parseFloat(getComputedStyle(t).fontSize) * svg.getScreenCTM().a;
      smallest = Math.min(smallest, size);
    }
    return smallest;
  };
  const named = (svg, attribute) => {
    const ids = (svg.getAttribute(attribute) || '').split(' ').filter(Boolean);
    return ids.map((id) => (svg.querySelector('#' + CSS.escape(id)) || {}).textContent || '')
      .join(' ').trim();
  };
  const diagrams = Array.from(document.querySelectorAll('div.mermaid')).map((div) => {
    const svg = div.shadowRoot && div.shadowRoot.querySelector('svg');
    const figure = div.closest('figure');
    const full = figure && figure.querySelector('a.diagram__full');
    return svg ? {
      title: named(svg, 'aria-labelledby'), description: named(svg, 'aria-describedby'),
      smallest: legible(svg), full: full ? full.href : null,
    } : null;
  });
  const tables = Array.from(document.querySelectorAll('article table')).map((table) => ({
    width: table.scrollWidth, room: table.parentElement.clientWidth,
  }));
  const svg = document.querySelector('#diagram svg');  // a full-size diagram page
  return {
    page: document.documentElement.scrollWidth, diagrams, tables,
    full: svg ? {smallest: legible(svg), text: document.body.innerText} : null,
  };
}
"""


def _phone_problems(page: Any, url: str, name: str) -> list[str]:
    page.goto(url, wait_until="load")
    page.wait_for_function(DIAGRAMS_SETTLED, timeout=15_000)
    seen = page.evaluate(PHONE_VIEW)
    problems = []
    if seen["page"] > PHONE_WIDTH + 1:
        problems.append(f"{name}: the page is {seen['page']} px wide on a {PHONE_WIDTH} px phone")
    for number, table in enumerate(seen["tables"], 1):
        if table["width"] > table["room"] + 1:
            problems.append(f"{name}: table {number} is {table['width']} px in {table['room']} px")
    for number, diagram in enumerate(seen["diagrams"], 1):
        where = f"{name}: diagram {number}"
        if diagram is None:
            problems.append(f"{where} did not render")
            continue
        if not diagram["title"] or not diagram["description"]:
            problems.append(f"{where} has no text alternative (accTitle/accDescr): {diagram}")
        if diagram["smallest"] >= LEGIBLE_PX:
            continue
        if diagram["full"] is None:
            problems.append(f"{where}: labels of {diagram['smallest']:.1f} px and no full size")
            continue
        page.goto(diagram["full"], wait_until="load")
        page.wait_for_function("() => document.querySelector('#diagram svg')", timeout=15_000)
        full = page.evaluate(PHONE_VIEW)["full"]
        if full["smallest"] < LEGIBLE_PX:
            problems.append(f"{where}: full size has labels of {full['smallest']:.1f} px")
        if diagram["title"] not in full["text"]:
            problems.append(f"{where}: the full-size page does not say what it shows")
    return problems


def test_pages_on_a_phone_and_for_a_screen_reader(
    sync_playwright: Any, good_site: Build, site_url: str, tmp_path: Path
) -> None:
    """390 px wide: nothing scrolls sideways, tables fit, diagrams are legible and named."""
    wanted = [
        html
        for html in good_site.pages()
        if re.search(r'<table|<pre class="mermaid"', html.read_text(encoding="utf-8"))
    ]
    problems: list[str] = []
    diagrams = 0
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            context = browser.new_context(
                viewport={"width": PHONE_WIDTH, "height": 844}, is_mobile=True, has_touch=True
            )
            context.add_init_script(OPEN_SHADOW_ROOTS)
            page = context.new_page()
            page.set_default_timeout(20_000)
            for html in wanted:
                name = html.relative_to(good_site.site).as_posix()
                diagrams += html.read_text(encoding="utf-8").count('<pre class="mermaid">')
                problems += _phone_problems(page, _page_url(good_site.site, site_url, html), name)
            page.goto(urljoin(site_url, "exercise/grading/"), wait_until="load")
            page.screenshot(path=str(tmp_path / "grading-on-a-phone.png"), full_page=False)
        finally:
            browser.close()
    print(f"\nphone check: {len(wanted)} pages with tables or diagrams, {diagrams} diagrams")
    assert problems == []
    assert diagrams >= 4, "the lesson's diagrams were checked"
