"""What the docs tests share: where the site's sources are and how it is built."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

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


def load_hook(name: str) -> ModuleType:
    """A hook of the site (``docs/hooks/NAME.py``) as a module, to test its parts alone."""
    spec = importlib.util.spec_from_file_location(
        f"docs_hook_{name}", REPO / "docs" / "hooks" / f"{name}.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def mkdocs_setting(name: str) -> str:
    """A top-level ``name: value`` of mkdocs.yml, read as text: loading the whole config
    (plugins and all) in a test process is slow and not safe from several threads."""
    text = MKDOCS_YML.read_text(encoding="utf-8")
    match = re.search(rf"^{re.escape(name)}:\s*(\S+)", text, re.M)
    assert match is not None, f"mkdocs.yml has no {name}"
    return match.group(1).strip("\"'")
