"""The docs site builds with ``--strict``, and strict really catches broken docs.

`mkdocs build --strict` only fails on warnings, so these tests also prove that the settings
that turn broken links, anchors and snippet paths into warnings are in force: a tiny site
that inherits ``mkdocs.yml`` and has one mistake must fail to build.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
from pathlib import Path

import pytest
from docs_site import MKDOCS_BUILD, MKDOCS_YML, REPO, Build, load_hook, mkdocs_setting

DOCS = REPO / "docs"
SNIPPET_LINE = re.compile(r"""^\s*-+8<-+\s+["'](?P<spec>[^"']+)["']\s*$""")


def test_site_builds_strictly_without_warnings(built_site: Build) -> None:
    """`launchpad docs build` (mkdocs build --strict, found from a sub-folder) succeeds."""
    assert built_site.returncode == 0, built_site.output[-4000:]
    warnings = [line for line in built_site.output.splitlines() if "WARNING" in line]
    assert warnings == []
    assert (built_site.site / "index.html").is_file()
    assert (built_site.site / "search" / "search_index.json").is_file()


def test_every_markdown_page_is_built(good_site: Build) -> None:
    """validation.omitted_files=warn makes a page outside the nav fail the build; check the rest."""
    for md in DOCS.rglob("*.md"):
        rel = md.relative_to(DOCS)
        if rel.parts[0] == "hooks":
            continue
        html = (
            rel.with_suffix("") / "index.html" if rel.stem != "index" else rel.with_suffix(".html")
        )
        assert (good_site.site / html).is_file(), f"{rel} was not built"


def test_validation_and_snippet_settings_are_strict() -> None:
    from mkdocs.config import load_config

    config = load_config(str(MKDOCS_YML))
    validation = config["validation"]
    import logging

    assert validation["nav"]["omitted_files"] == logging.WARNING
    assert validation["links"]["absolute_links"] == logging.WARNING
    assert validation["links"]["unrecognized_links"] == logging.WARNING
    assert validation["links"]["anchors"] == logging.WARNING
    snippets = config["mdx_configs"]["pymdownx.snippets"]
    assert snippets["check_paths"] is True
    assert Path(snippets["base_path"]).resolve() == REPO
    assert config["theme"]["font"] is False, "web fonts would be fetched from a CDN"


@pytest.mark.parametrize(
    ("mistake", "page", "expected"),
    [
        ("a link to a missing page", "[lost](nowhere.md)\n", "nowhere.md"),
        ("a link to a missing anchor", "# Title\n\n[lost](#no-such-heading)\n", "no-such-heading"),
        (
            "a snippet section that does not exist",
            '```python\n--8<-- "launchpad/correlation.py:no-such-section"\n```\n',
            "no-such-section",
        ),
        (
            "a snippet file that does not exist",
            '--8<-- "launchpad/no_such_file.py"\n',
            "no_such_file",
        ),
    ],
)
def test_strict_build_fails_on(mistake: str, page: str, expected: str, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.md").write_text(page, encoding="utf-8")
    config = tmp_path / "mkdocs.yml"
    # inherit every setting of the real site; keep only this page and no API pages
    config.write_text(
        f"INHERIT: {MKDOCS_YML}\ndocs_dir: {docs}\nnav: [index.md]\nplugins: [search]\n"
        f"hooks: [{DOCS / 'hooks' / 'sections.py'}]\n"
        f"theme:\n  custom_dir: {DOCS / 'overrides'}\nwatch: []\n"
        # `!relative $config_dir` resolves against this file: point it back at the repository
        "markdown_extensions:\n  - pymdownx.snippets:\n"
        f"      base_path: {REPO}\n      check_paths: true\n",
        encoding="utf-8",
    )
    proc = subprocess.run(
        [*MKDOCS_BUILD, "-f", str(config), "--site-dir", str(tmp_path / "site")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0, f"{mistake} did not fail the build"
    assert expected in proc.stdout + proc.stderr


def test_kit_code_is_included_by_named_section_never_pasted() -> None:
    """Code on the site comes from real files: snippets by name, no hand-pasted Python."""
    for md in DOCS.rglob("*.md"):
        text = md.read_text(encoding="utf-8")
        for line in text.splitlines():
            match = SNIPPET_LINE.match(line)
            if match:
                spec = match.group("spec")
                path, _, section = spec.partition(":")
                assert (REPO / path).is_file(), f"{md.name}: {path} does not exist"
                assert not re.fullmatch(r"[\d:,-]*", section) or not section, (
                    f"{md.name}: {spec} includes by line numbers; name a section instead"
                )
        for block in re.findall(r"^```(?:python|py)\b[^\n]*\n(.*?)^```", text, re.M | re.S):
            code = [ln for ln in block.splitlines() if ln.strip()]
            assert all(SNIPPET_LINE.match(ln) for ln in code), (
                f"{md.relative_to(DOCS)} has Python pasted by hand:\n{block}"
            )


def test_settings_table_matches_the_config_module() -> None:
    """getting-started.md lists every environment variable with its real default."""
    from launchpad.config import ENV_NAMES, Settings

    page = (DOCS / "getting-started.md").read_text(encoding="utf-8")
    for field, variable in ENV_NAMES.items():
        assert f"`{variable}`" in page, f"getting-started.md does not mention {variable}"
        default = Settings.model_fields[field].default
        if default is not None:
            assert f"`{default}`" in page, f"{variable}'s default {default!r} not on the page"


REFERENCE_MODULES = [
    "launchpad.correlation",
    "launchpad.logging",
    "launchpad.redis",
    "launchpad.config",
    "launchpad.http.client",
    "launchpad.http.web",
    "launchpad.http.serve",
    "launchpad.gateway",
    "launchpad.queue",
    "launchpad.services",
    "launchpad.grading",
]


def test_reference_has_a_page_for_each_public_module() -> None:
    """Once a module of the public API exists, the reference must document it."""
    directives = "\n".join(p.read_text(encoding="utf-8") for p in (DOCS / "reference").glob("*.md"))
    for module in REFERENCE_MODULES:
        if importlib.util.find_spec(module) is None:
            continue
        assert re.search(rf"^::: {re.escape(module)}\s*$", directives, re.M), (
            f"{module} exists but docs/reference has no '::: {module}' page"
        )


def test_section_hook_cuts_sections_at_headings_outside_code(tmp_path: Path) -> None:
    hook = load_hook("sections")
    hook._repo_root = tmp_path
    (tmp_path / "lesson").mkdir()
    (tmp_path / "lesson" / "README.md").write_text(
        "# Lesson\n\nIntro text.\n\n## Sync calls\n\nSee [the demo](demo.py) and "
        "[async](#async-jobs).\n\n```python\n# not a heading\n```\n\n### Timeouts\n\nThree "
        "seconds.\n\n## Async jobs\n\nLater.\n",
        encoding="utf-8",
    )
    lines, level, inner = hook._extract("lesson/README.md", "sync")
    assert level == 2
    assert [h.text for h in inner] == ["Timeouts"]
    assert "# not a heading" in lines and "Later." not in lines
    assert "## Timeouts" in hook._shift_headings(lines, level)
    assert "### Timeouts" in hook._shift_headings(lines, level, 3)  # `| level=3`
    directive = hook.DIRECTIVE.match("<!-- include-section: a/README.md#Sync calls | level=3 -->")
    assert directive is not None
    assert (directive["path"], directive["heading"], directive["level"]) == (
        "a/README.md",
        "Sync calls",
        "3",
    )
    intro, _, _ = hook._extract("lesson/README.md", "_intro")
    assert [ln for ln in intro if ln] == ["Intro text."]
    with pytest.raises(Exception, match="no heading"):
        hook._extract("lesson/README.md", "gateway")

    hook._file_pages.clear()
    hook._heading_pages.clear()
    hook._heading_pages[("lesson/README.md", "Async jobs")] = ("lesson/async.md", None)
    out = "\n".join(hook._rewrite_links(lines, "lesson/README.md", "lesson/sync.md"))
    assert "[async](async.md)" in out
    assert "the demo (`lesson/demo.py`)" in out, "a file with no page is shown as its path"


LESSON = "lessons/06-service-communication"


def _site_markdown() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in DOCS.rglob("*.md"))


def test_every_demo_of_the_lesson_has_its_run_box_on_a_page() -> None:
    """A demo that exists is shown with its command and code on the site."""
    import json

    demos = json.loads((REPO / LESSON / "lesson.json").read_text(encoding="utf-8"))["demos"]
    pages = _site_markdown()
    for demo in demos:
        if (REPO / LESSON / f"{demo}.py").is_file():
            assert f"<!-- demo: {LESSON}/{demo}.py -->" in pages, f"no page runs {demo}"


def test_every_section_of_the_lesson_readme_is_on_the_site() -> None:
    """A section added to the lesson's README must get a place on the site."""
    hook = load_hook("sections")
    readme = f"{LESSON}/README.md"
    lines = (REPO / readme).read_text(encoding="utf-8").splitlines()
    sections = [h for h in hook._headings(lines) if h.level == 2]
    wanted = re.findall(rf"<!-- include-section: {re.escape(readme)}#(.+?) -->", _site_markdown())
    for section in sections:
        shown = any(section in hook._matching([section], w) for w in wanted)
        assert shown, f"the lesson's section {section.text!r} is on no page of the site"


def test_docs_cli_outside_the_repository_says_where_to_run_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from launchpad.docs_cli import docs_main, find_mkdocs_yml

    assert find_mkdocs_yml(DOCS / "lesson-06") == MKDOCS_YML
    monkeypatch.chdir(tmp_path)
    assert docs_main(["build"]) == 2
    assert "no mkdocs.yml here or above" in capsys.readouterr().err


def test_the_grading_page_lists_every_check_the_grader_scores(good_site: Build) -> None:
    from launchpad.grading.checkout.checks import CHECKS

    page = (good_site.site / "exercise" / "grading" / "index.html").read_text(encoding="utf-8")
    for check in CHECKS:
        assert f"<code>{check.name}</code>" in page
        if check.visibility == "hidden":
            assert check.title not in page, f"the hidden check {check.name} is described"
    full = sum(c.points for c in CHECKS if not c.extra_credit)
    assert f"Full marks: <strong>{full:g} points</strong>" in page


def _page_text(site: Path, page: str) -> str:
    import html

    raw = (site / page).read_text(encoding="utf-8")
    return html.unescape(re.sub(r"<[^>]+>", "", raw))


def test_home_and_getting_started_say_how_to_get_the_kit(good_site: Build) -> None:
    """A reader without a clone learns where the kit is, what it needs and whom it is for."""
    repo_url = mkdocs_setting("repo_url").rstrip("/")
    folder = repo_url.rsplit("/", 1)[-1]
    home = _page_text(good_site.site, "index.html")
    start = _page_text(good_site.site, "getting-started/index.html")
    for page, text in (("home", home), ("getting started", start)):
        assert f"git clone {repo_url}.git" in text, f"{page}: no clone command"
        assert f"cd {folder}" in text, f"{page}: no cd into the clone"
        assert "make demo" in text and "make test" in text, f"{page}: not the two commands"
        assert "Python 3.10" in text, f"{page}: no Python version"
    for needed in ("Who it is for", "Time:", "For instructors", "Gradescope", "student copy"):
        assert needed in home, f"the home page does not say {needed!r}"
    for windows in (
        "py -m venv .venv",
        r".venv\Scripts\pip install -e .",
        r".venv\Scripts\launchpad lesson 06",
        "no part of the kit has been run on Windows",
    ):
        assert windows in start, f"getting started lacks the Windows step {windows!r}"


@pytest.mark.instructor_kit  # a student copy has no instructor pages to link to
def test_the_home_page_links_to_the_instructors_guide(good_site: Build) -> None:
    assert 'href="instructors/"' in (good_site.site / "index.html").read_text(encoding="utf-8")


def test_the_repository_address_is_written_once(good_site: Build) -> None:
    """mkdocs.yml's repo_url is the one place; pages use {{ repo_url }} and friends."""
    host_path = mkdocs_setting("repo_url").split("://", 1)[1].rstrip("/")
    sources = [*DOCS.rglob("*.md"), *REPO.glob("*/**/README.md"), REPO / "README.md"]
    for source in sources:
        if ".venv" in source.parts or "node_modules" in source.parts:
            continue
        assert host_path not in source.read_text(encoding="utf-8"), (
            f"{source.relative_to(REPO)} writes the repository address; use {{{{ repo_url }}}}"
        )
    leftover = [p for p in good_site.pages() if "{{ " in p.read_text(encoding="utf-8")]
    assert not leftover, f"unfilled {{{{ ... }}}} on {leftover}"


def test_the_sitemap_lists_every_page(good_site: Build) -> None:
    site_url = mkdocs_setting("site_url")
    sitemap = (good_site.site / "sitemap.xml").read_text(encoding="utf-8")
    listed = set(re.findall(r"<loc>([^<]+)</loc>", sitemap))
    for page in good_site.pages():
        rel = page.relative_to(good_site.site).as_posix()
        if rel == "404.html":
            continue
        url = site_url + rel.removesuffix("index.html")
        assert url in listed, f"sitemap.xml does not list {url}"


def test_a11y_hook_wants_a_text_alternative_and_labels_table_cells() -> None:
    from types import SimpleNamespace

    from mkdocs.exceptions import PluginError

    hook = load_hook("a11y")
    page = SimpleNamespace(url="lesson-06/gateway/", file=SimpleNamespace(src_uri="x.md"))
    bare = '<pre class="mermaid"><code>flowchart LR\n  a --&gt; b\n</code></pre>'
    with pytest.raises(PluginError, match="accTitle"):
        hook.on_page_content(bare, page=page, config={}, files=None)
    named = bare.replace("LR\n", "LR\n  accTitle: A to B\n  accDescr: a calls b\n")
    out = hook.on_page_content(named, page=page, config={}, files=None)
    assert 'href="../../assets/diagrams/lesson-06-gateway-1.html"' in out
    assert hook._description(hook._full_size["assets/diagrams/lesson-06-gateway-1.html"][0]) == (
        "a calls b"
    )
    table = "<table><thead><tr><th>check</th><th>points</th></tr></thead><tbody><tr><td>a</td>"
    table += '<td style="text-align: right;">8</td></tr></tbody></table>'
    out = hook.on_page_content(table, page=page, config={}, files=None)
    assert '<td data-label="check">a</td>' in out
    assert '<td data-label="points" style="text-align: right;">8</td>' in out
