"""MkDocs hook: facts about the kit that pages share, written once in ``mkdocs.yml``.

Where to get the kit is said on several pages (the home page, Getting started, the
Gradescope recipe), and a fork or a move must not leave one of them pointing at the old
place. So the pages write ``{{ repo_url }}`` (the repository's web address, ``repo_url`` in
mkdocs.yml), ``{{ clone_url }}`` (what ``git clone`` takes) and ``{{ repo_folder }}`` (the
folder the clone makes), and this hook fills them in before Markdown runs, in the pages'
own text and in the README sections that sections.py put there. A page that asks for one
while ``repo_url`` is unset stops the build.
"""

from __future__ import annotations

import re
from typing import Any

from mkdocs.exceptions import PluginError

VARIABLE = re.compile(r"\{\{\s*(?P<name>repo_url|clone_url|repo_folder)\s*\}\}")


def values(repo_url: str) -> dict[str, str]:
    """The shared facts, from the repository's web address."""
    url = repo_url.rstrip("/")
    return {
        "repo_url": url,
        "clone_url": url if url.endswith(".git") else url + ".git",
        "repo_folder": url.rsplit("/", 1)[-1].removesuffix(".git"),
    }


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    if not VARIABLE.search(markdown):
        return markdown
    if not config.get("repo_url"):
        raise PluginError(f"{page.file.src_uri} uses {{{{ repo_url }}}} but mkdocs.yml has none")
    known = values(config["repo_url"])
    return VARIABLE.sub(lambda m: known[m.group("name")], markdown)
