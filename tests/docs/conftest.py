"""Fixtures for the docs site: one strict build per test session, served on loopback.

The site is built once into a temporary folder with ``launchpad docs build`` (which runs
``mkdocs build --strict``) and shared by every docs test.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest
from docs_site import Build, build_site, mkdocs_setting


@pytest.fixture(scope="session")
def built_site(tmp_path_factory: pytest.TempPathFactory) -> Build:
    """The site, built strictly once for the whole session, by ``launchpad docs build``."""
    site = tmp_path_factory.mktemp("site")
    proc = build_site(site)
    return Build(site=site, returncode=proc.returncode, output=proc.stdout + proc.stderr)


@pytest.fixture(scope="session")
def good_site(built_site: Build) -> Build:
    """The built site, for tests that need it to exist (the build test reports why not)."""
    if built_site.returncode != 0:
        pytest.fail("mkdocs build --strict failed; see test_docs_build", pytrace=False)
    return built_site


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="session")
def site_url(good_site: Build, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The built site served over HTTP on 127.0.0.1, on a free port, under the path of
    mkdocs.yml's ``site_url`` (``/launchpad/``), as its real host serves it: the 404 page's
    links are absolute to that path."""
    prefix = urlsplit(mkdocs_setting("site_url")).path.strip("/")
    root = tmp_path_factory.mktemp("served")
    if prefix:
        (root / prefix).parent.mkdir(parents=True, exist_ok=True)
        (root / prefix).symlink_to(good_site.site, target_is_directory=True)
    else:
        root = good_site.site
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="docs-site", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/" + (f"{prefix}/" if prefix else "")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
