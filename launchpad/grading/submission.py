"""Load a student's folder without trusting it: a missing file, a syntax error, an import
that fails or hangs each become one clear sentence, never a traceback from the grader.

The module is loaded by path under a name of its own (two submissions graded in one
process never share a module), with its folder on ``sys.path`` only while it loads, and
with ``preload`` modules put in place first and left there: the grader's trusted copies
of the files a student must not change (the exercise's ``provided.py``), which the
submission may also import later, inside a worker function.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from launchpad.grading.engine import describe_exception

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["Submission", "load_submission"]

_load_lock = threading.Lock()


@dataclass
class Submission:
    """A student's folder, with its module loaded (or the reason it could not be)."""

    folder: Path
    module: ModuleType | None = None
    load_error: str | None = None
    toml: dict[str, Any] | None = None
    toml_error: str | None = None
    files: dict[str, str] = field(default_factory=dict)

    def source(self, filename: str) -> str:
        """The text of one of the submission's files ('' if it is missing)."""
        if filename not in self.files:
            try:
                self.files[filename] = (self.folder / filename).read_text(errors="replace")
            except OSError:
                self.files[filename] = ""
        return self.files[filename]


def _load_module(
    folder: Path, filename: str, preload: dict[str, ModuleType], time_limit: float
) -> tuple[ModuleType | None, str | None]:
    path = folder / filename
    if not path.is_file():
        return None, f"{filename} is missing from {folder}"
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
    name = f"submission_{digest}_{path.stem}"
    box: dict[str, Any] = {}

    def load() -> None:
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            box["error"] = f"{filename} is not a Python module"
            return
        module = importlib.util.module_from_spec(spec)
        before = set(sys.modules)
        sys.modules.update(preload)  # stays: a worker may import it when it runs
        sys.modules[name] = module
        sys.path.insert(0, str(folder))
        try:
            spec.loader.exec_module(module)
            box["module"] = module
        except SyntaxError as exc:
            box["error"] = f"{filename} has a syntax error on line {exc.lineno}: {exc.msg}"
        except BaseException as exc:
            box["error"] = f"importing {filename} failed: " + describe_exception(exc, (folder,))
        finally:
            with contextlib.suppress(ValueError):  # the submission may have removed it
                sys.path.remove(str(folder))
            for key in set(sys.modules) - before - {name}:  # the student's own helpers
                file = getattr(sys.modules[key], "__file__", None) or ""
                if file and Path(file).resolve().is_relative_to(folder.resolve()):
                    del sys.modules[key]

    with _load_lock:  # sys.path and sys.modules are process-wide
        thread = threading.Thread(target=load, name=f"load-{filename}", daemon=True)
        thread.start()
        thread.join(time_limit)
    if thread.is_alive():
        return None, f"importing {filename} did not finish within {time_limit:g} s"
    return box.get("module"), box.get("error")


def _load_toml(folder: Path, filename: str) -> tuple[dict[str, Any] | None, str | None]:
    path = folder / filename
    if not path.is_file():
        return None, f"{filename} is missing from {folder}"
    try:
        return tomllib.loads(path.read_text(encoding="utf-8")), None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        return None, f"{filename} is not valid TOML: {exc}"


def load_submission(
    folder: Path,
    *,
    module_file: str,
    toml_file: str | None = None,
    preload: dict[str, ModuleType] | None = None,
    time_limit: float = 10.0,
) -> Submission:
    """Load ``folder/module_file`` (and parse ``folder/toml_file``); never raises for the
    submission's faults: they end up in ``load_error`` / ``toml_error``."""
    folder = Path(folder)
    sub = Submission(folder=folder)
    if not folder.is_dir():
        sub.load_error = sub.toml_error = f"{folder} is not a folder"
        return sub
    sub.module, sub.load_error = _load_module(folder, module_file, preload or {}, time_limit)
    if toml_file is not None:
        sub.toml, sub.toml_error = _load_toml(folder, toml_file)
    return sub
