"""What the docs tests share: where the site's sources are and how it is built."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MKDOCS_YML = REPO / "mkdocs.yml"
MKDOCS_BUILD = [sys.executable, "-m", "mkdocs", "build", "--strict"]


@dataclass(frozen=True)
class Build:
    site: Path
    returncode: int
    output: str

    def pages(self) -> list[Path]:
        """Every HTML page of the site (404.html included: a reader can land there too)."""
        return sorted(p for p in self.site.rglob("*.html") if "assets" not in p.parts)


def build_site(site_dir: Path) -> subprocess.CompletedProcess[str]:
    """Build the site as a user does, with ``launchpad docs build`` (mkdocs build --strict)."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    env.pop("REDIS_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "launchpad.cli", "docs", "build", "--site-dir", str(site_dir)],
        cwd=REPO / "docs",  # from a sub-folder: the command finds mkdocs.yml itself
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )
