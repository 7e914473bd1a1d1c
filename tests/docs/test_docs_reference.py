"""The reference pages read well: no raw reST markup, models list their fields.

The kit's docstrings are Google style with Markdown inline code (``Name``), which
mkdocstrings renders. A reST role (``:class:`X```), a literal block (``Example::``) or a
simple table (``====  ====``) shows up on the page as raw text, so these tests read the
built HTML for all three, and the sources for the same mistakes in modules that no page
renders yet. A pydantic model (``Settings``, the request bodies) must list its fields:
griffe-pydantic does it, and the tests check the pages.
"""

from __future__ import annotations

import ast
import html
import importlib
import re
from pathlib import Path

import pytest
from docs_site import REPO, Build
from pydantic import BaseModel

ROLE = re.compile(r":(?:py:)?(?:mod|class|func|meth|attr|data|exc|obj|const|ref|term):`")
# a paragraph that ends in "::" is an reST literal block that Markdown did not understand
LITERAL_BLOCK = re.compile(r"\S::\s*$", re.M)
# the rule lines of an reST simple table ("=====  =====")
TABLE_RULE = re.compile(r"^[ \t]*={3,}(?:[ \t]+={3,})+[ \t]*$", re.M)
MODEL_HEADING = re.compile(
    r'<h(?P<level>\d) id="(?P<path>launchpad\.[\w.]+)" class="doc doc-heading">'
    r"(?:(?!</h\d>).)*?doc-label-pydantic-model",
    re.S,
)


def _prose(page: str) -> str:
    """The page's text a reader sees as prose: tags gone, code blocks and spans dropped."""
    page = re.sub(r"<(pre|code|script|style)\b.*?</\1>", " ", page, flags=re.S)
    page = re.sub(r"</p>|<br\s*/?>|</li>|</h\d>", "\n", page)
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def _raw_markup(text: str) -> list[str]:
    found = []
    for pattern in (ROLE, LITERAL_BLOCK, TABLE_RULE):
        for match in pattern.finditer(text):
            found.append(text[max(0, match.start() - 60) : match.end() + 20].strip())
    return found


def test_no_page_shows_raw_rest_markup(good_site: Build) -> None:
    """No ``:class:`` roles, ``Example::`` blocks or reST tables as text, on any page."""
    problems = {}
    for page in good_site.pages():
        found = _raw_markup(_prose(page.read_text(encoding="utf-8")))
        if found:
            problems[page.relative_to(good_site.site).as_posix()] = found
    assert problems == {}


def test_the_prose_reader_sees_raw_markup() -> None:
    """The check above is not blind: it finds both mistakes in a page, and not in code."""
    page = (
        "<p>Use :class:`Queue` here.</p><p>Example::</p><pre><code>x = 1</code></pre>"
        "<p><code>:mod:`kept`</code> and <code>a::</code> in code are fine.</p>"
        "<p>=====  =====\nGET /a   one\n=====  =====</p>"
    )
    found = _raw_markup(_prose(page))
    assert len(found) == 4, found
    assert "Queue" in found[0] and "Example::" in found[1] and "GET /a" in found[2]


def _docstrings(tree: ast.Module) -> list[tuple[int, str]]:
    """Every docstring of a module: module, classes, functions and attributes."""
    found = []
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if not isinstance(body, list):
            continue
        for stmt in body:
            if (
                isinstance(stmt, ast.Expr)
                and isinstance(stmt.value, ast.Constant)
                and isinstance(stmt.value.value, str)
            ):
                found.append((stmt.lineno, stmt.value.value))
    return found


def test_no_docstring_of_the_library_uses_rest_markup() -> None:
    """The same rule for every module, rendered on a page or not (yet)."""
    problems = []
    for path in sorted((REPO / "launchpad").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for line, doc in _docstrings(tree):
            for snippet in _raw_markup(doc):
                problems.append(f"{path.relative_to(REPO)}:{line}: {snippet}")
    assert problems == [], "use Markdown: ``Name`` for code, a ``` fence, a | table"


def _models_on(page: Path) -> list[str]:
    return [m["path"] for m in MODEL_HEADING.finditer(page.read_text(encoding="utf-8"))]


def _import(path: str) -> object:
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def test_every_pydantic_model_on_the_reference_lists_its_fields(good_site: Build) -> None:
    reference = sorted((good_site.site / "reference").rglob("index.html"))
    models = {path: page for page in reference for path in _models_on(page)}
    assert "launchpad.config.Settings" in models, "Settings is not shown as a pydantic model"
    for path, page in models.items():
        model = _import(path)
        assert isinstance(model, type) and issubclass(model, BaseModel), path
        text = page.read_text(encoding="utf-8")
        for field in model.model_fields:
            assert re.search(rf'(?:title|href)="#?{re.escape(path)}\.{field}"', text), (
                f"{page.relative_to(good_site.site)}: {path} does not list its field {field}"
            )


@pytest.mark.parametrize("field", sorted(importlib.import_module("launchpad.config").ENV_NAMES))
def test_the_settings_page_documents_each_field(good_site: Build, field: str) -> None:
    """Each setting: its own entry, its environment variable, its default."""
    from launchpad.config import ENV_NAMES, Settings

    page = (good_site.site / "reference" / "config" / "index.html").read_text(encoding="utf-8")
    anchor = f'id="launchpad.config.Settings.{field}"'
    assert anchor in page, f"Settings.{field} has no entry of its own"
    entry = page[page.index(anchor) :]
    following = re.search(r'<h\d id="[^"]+" class="doc doc-heading"', entry[len(anchor) :])
    if following is not None:
        entry = entry[: len(anchor) + following.start()]
    text = html.unescape(re.sub(r"<[^>]+>", "", entry))
    assert ENV_NAMES[field] in text, f"Settings.{field} does not name {ENV_NAMES[field]}"
    shown = re.search(rf"{field}: [^\n=]+ = (?P<default>[^\n]+)", text)
    assert shown is not None, f"{field}'s default is not shown"
    # the page shows the source's expression (``32 * 1024``): it must have the real value
    value = eval(shown["default"], {"__builtins__": {}}, {})  # our own site's text
    assert value == Settings.model_fields[field].default, f"{field}: {shown['default']}"


SIGNATURE = re.compile(
    r'<div class="language-python doc-signature highlight"><pre>(.*?)</pre>', re.S
)
SIGNATURE_COLUMNS = 72  # mkdocstrings formats to 60; a long name or annotation may run over


def test_signatures_are_formatted_to_fit_their_box(good_site: Build) -> None:
    """A formatter (black, in the docs extra) breaks long signatures one parameter a line."""
    signatures = 0
    too_long = []
    for page in sorted((good_site.site / "reference").rglob("index.html")):
        for match in SIGNATURE.finditer(page.read_text(encoding="utf-8")):
            signatures += 1
            for line in html.unescape(re.sub(r"<[^>]+>", "", match.group(1))).splitlines():
                if len(line) > SIGNATURE_COLUMNS:
                    too_long.append(f"{page.parent.name}: {line}")
    assert signatures > 50, "the reference shows (almost) no signatures"
    assert too_long == []
