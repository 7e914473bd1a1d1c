"""A student's folder as the grader sees it: a copy for the student's process, and data.

The grader never imports the submission: its code runs only in the student's confined
process (``launchpad.grading.sandbox``). What the grader reads itself is data, read
with limits: the decisions file (TOML, parsed, never executed) and the text of a file
for an instructor's check. A missing file or bad TOML becomes one clear sentence.

The student's process gets a *copy* of the folder (regular files and folders only, at
most ``MAX_BYTES``), so nothing it does can change what the grader read, and the
grader's copy of the exercise's ``provided.py`` is what it imports as ``provided``.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["MAX_BYTES", "Submission", "copy_submission", "read_submission"]

MAX_BYTES = 20 * 2**20
MAX_TOML = 256 * 1024


@dataclass
class Submission:
    """A student's folder: where it is, and its decisions (or why they could not be read)."""

    folder: Path
    toml: dict[str, Any] | None = None
    toml_error: str | None = None
    files: dict[str, str] = field(default_factory=dict)

    def source(self, filename: str) -> str:
        """The text of one of the submission's files ('' if it is missing)."""
        if filename not in self.files:
            path = self.folder / filename
            try:
                if path.is_symlink() or not path.is_file():
                    raise OSError(filename)
                with open(path, "rb") as handle:
                    self.files[filename] = handle.read(MAX_TOML * 4).decode(errors="replace")
            except OSError:
                self.files[filename] = ""
        return self.files[filename]


def _load_toml(folder: Path, filename: str) -> tuple[dict[str, Any] | None, str | None]:
    path = folder / filename
    if path.is_symlink() or not path.is_file():
        return None, f"{filename} is missing from {folder}"
    if path.stat().st_size > MAX_TOML:
        return None, f"{filename} is larger than {MAX_TOML // 1024} KiB"
    try:
        return tomllib.loads(path.read_text(encoding="utf-8")), None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        return None, f"{filename} is not valid TOML: {exc}"


def read_submission(folder: Path, *, toml_file: str) -> Submission:
    """Read what the grader needs from ``folder``; never raises for the submission's faults."""
    folder = Path(folder)
    sub = Submission(folder=folder)
    if not folder.is_dir():
        sub.toml_error = f"{folder} is not a folder"
        return sub
    sub.toml, sub.toml_error = _load_toml(folder, toml_file)
    return sub


def copy_submission(folder: Path, into: Path) -> Path:
    """Copy ``folder`` to ``into`` for the student's process: readable, not writable.

    Symlinks, devices and pipes are left out (a link to a file the student could not read
    must not become a copy they can), as is anything past ``MAX_BYTES`` in all.
    """
    into.mkdir(mode=0o755)
    budget = MAX_BYTES
    if not Path(folder).is_dir():
        return into
    for root, dirs, files in os.walk(folder, followlinks=False):
        here = Path(root)
        target = into / here.relative_to(folder)
        dirs[:] = [d for d in dirs if not (here / d).is_symlink() and d != "__pycache__"]
        for name in dirs:
            (target / name).mkdir(mode=0o755)
        for name in files:
            path = here / name
            if path.is_symlink() or not path.is_file():
                continue
            size = path.stat().st_size
            if size > budget:
                continue
            budget -= size
            shutil.copyfile(path, target / name)
            os.chmod(target / name, 0o644)
    return into
