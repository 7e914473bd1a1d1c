"""``launchpad docs``: build or preview the docs site.

The site is plain MkDocs (``mkdocs.yml`` at the top of the repository), so this command only
finds that file and runs MkDocs on it, always in strict mode: a broken link, a missing snippet
file or a page left out of the navigation is an error, not a warning a reader pays for later.
It needs the ``docs`` extra (``pip install -e '.[docs]'``).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

__all__ = ["docs_main", "find_mkdocs_yml"]


def find_mkdocs_yml(start: Path | None = None) -> Path | None:
    """The ``mkdocs.yml`` in ``start`` (default: the current folder) or the nearest parent."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "mkdocs.yml"
        if candidate.is_file():
            return candidate
    return None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="launchpad docs",
        description="Build the docs site strictly, or preview it while you edit.",
    )
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    build = sub.add_parser("build", help="mkdocs build --strict (fails on any warning)")
    build.add_argument("-d", "--site-dir", help="where to write the site (default: site/)")
    serve = sub.add_parser("serve", help="preview on http://127.0.0.1:8000, rebuilt on save")
    serve.add_argument(
        "-a", "--dev-addr", default="127.0.0.1:8000", help="IP:PORT (default 127.0.0.1:8000)"
    )
    return parser


def docs_main(argv: list[str]) -> int:
    """Run ``mkdocs build --strict`` or ``mkdocs serve --strict`` on the kit's site."""
    args = _parser().parse_args(argv)
    config = find_mkdocs_yml()
    if config is None:
        print(
            "launchpad docs: no mkdocs.yml here or above; run it from the LaunchPad repository",
            file=sys.stderr,
        )
        return 2
    try:
        import mkdocs  # noqa: F401
    except ImportError:
        print(
            "launchpad docs: MkDocs is not installed; run: pip install -e '.[docs]'",
            file=sys.stderr,
        )
        return 2
    command = [sys.executable, "-m", "mkdocs", args.action, "--strict", "-f", str(config)]
    if args.action == "build" and args.site_dir:
        command += ["--site-dir", str(Path(args.site_dir).resolve())]
    if args.action == "serve":
        command += ["--dev-addr", args.dev_addr]
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    try:
        # the hooks and snippets resolve paths from the repository's top folder
        return subprocess.call(command, cwd=config.parent, env=env)
    except KeyboardInterrupt:
        return 130
