"""Find the exercise's own files: the kit's ``exercises/checkout/`` and its ``provided.py``.

The grader never uses a submission's copy of ``provided.py`` (the payment service and the
inventory store a student must not change): it loads the kit's copy, once per process,
and hands that same module to the submission as ``provided``.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import threading
from pathlib import Path
from types import ModuleType

__all__ = ["EXERCISES_DIR_ENV", "find_exercise_dir", "provided_module"]

EXERCISES_DIR_ENV = "LAUNCHPAD_EXERCISES_DIR"

_lock = threading.Lock()
_provided: ModuleType | None = None


def find_exercise_dir(name: str = "checkout") -> Path:
    """``$LAUNCHPAD_EXERCISES_DIR/<name>``, else ``exercises/<name>`` next to the package,
    else in the current folder or one of its parents."""
    candidates = []
    if os.environ.get(EXERCISES_DIR_ENV):
        candidates.append(Path(os.environ[EXERCISES_DIR_ENV]) / name)
    here = Path(__file__).resolve()
    candidates += [parent / "exercises" / name for parent in here.parents]
    cwd = Path.cwd().resolve()
    candidates += [parent / "exercises" / name for parent in (cwd, *cwd.parents)]
    for candidate in candidates:
        if (candidate / "provided.py").is_file():
            return candidate
    raise FileNotFoundError(
        f"cannot find exercises/{name}/provided.py; run from the kit's folder or set "
        f"{EXERCISES_DIR_ENV} to the kit's exercises folder"
    )


def provided_module() -> ModuleType:
    """The kit's ``exercises/checkout/provided.py``, loaded once."""
    global _provided
    with _lock:
        if _provided is None:
            path = find_exercise_dir("checkout") / "provided.py"
            name = "launchpad_checkout_provided"
            spec = importlib.util.spec_from_file_location(name, path)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module  # dataclasses look their module up by name
            spec.loader.exec_module(module)
            _provided = module
        return _provided
