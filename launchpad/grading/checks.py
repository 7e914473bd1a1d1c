"""What a check is: a name, points, a time limit, a hint, and a function that judges.

A check function gets the exercise's context (for the checkout: a running lab) and either
returns (full marks), returns ``Partial`` (some marks, with the reason), or raises
``CheckFailed`` saying what it called, what came back and what it expected. Any other
exception is the submission's fault and is reported the same way, without a traceback.

Checks live in a ``Registry``, in the order they run. The kit's own checks register
with ``@registry.check(...)``; an instructor's checks are plain Python files in a folder
(see ``load_extra_checks()``) that use the module-level ``check()`` decorator, so a
course can add its own checks without editing the kit.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "Check",
    "CheckFailed",
    "ExtraChecksError",
    "Partial",
    "Registry",
    "Visibility",
    "check",
    "load_extra_checks",
]

Visibility = Literal["visible", "hidden"]
"""``visible``: the student sees the check, its message and its hint. ``hidden``: the
student sees that a hidden check passed or failed, never what it tested."""

CheckFunction = Callable[[Any], "Partial | None"]

_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")


class CheckFailed(Exception):
    """A check's verdict: not met. Say what was called, what came back, what was expected.

    Example:

    ```python
    raise CheckFailed(
        "a bad token was accepted",
        called="POST /checkout with Authorization: Bearer not-a-token",
        got="201 Created",
        expected="401, and no call to the payment service",
    )
    ```
    """

    def __init__(
        self,
        message: str,
        *,
        called: str | None = None,
        got: str | None = None,
        expected: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.called = called
        self.got = got
        self.expected = expected

    def explain(self) -> str:
        """The message a learner reads: one line per part that was given."""
        lines = [self.message]
        for label, value in (
            ("called", self.called),
            ("got", self.got),
            ("expected", self.expected),
        ):
            if value:
                lines.append(f"  {label + ':':<9} {value}")
        return "\n".join(lines)


@dataclass(frozen=True)
class Partial:
    """Part of the points: ``fraction`` in [0, 1] and why not all of them."""

    fraction: float
    reason: str

    def __post_init__(self) -> None:
        if not 0.0 <= self.fraction <= 1.0:
            raise ValueError(f"fraction must be within [0, 1], not {self.fraction}")


@dataclass(frozen=True)
class Check:
    """One named, scored requirement.

    Attributes:
        name: a short snake_case id, stable across versions (the gradebook's column).
        title: what it checks, in one line (shown to the student for visible checks).
        points: what it is worth.
        run: the function that judges; see the module docstring.
        hint: where to look when it fails; never the answer.
        visibility: ``visible`` or ``hidden``.
        time_limit: seconds the check may take before it fails as timed out.
        extra_credit: its points add to the score but not to the maximum.
        todo: the starter's TODO that this check covers ("TODO 3"), if any.
        service: it needs the submission's running service; the lab waits for the
            service to start (or fail) before the check's clock starts. ``False`` for
            checks that only read files (the decisions), which run while it starts.
    """

    name: str
    title: str
    points: float
    run: CheckFunction = field(repr=False, compare=False)
    hint: str = ""
    visibility: Visibility = "visible"
    time_limit: float = 5.0
    extra_credit: bool = False
    todo: str | None = None
    service: bool = True

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name):
            raise ValueError(f"check name must be snake_case (a-z, 0-9, _), not {self.name!r}")
        if self.points < 0:
            raise ValueError(f"check {self.name!r}: points must be >= 0")
        if self.time_limit <= 0:
            raise ValueError(f"check {self.name!r}: time_limit must be > 0 seconds")
        if self.visibility not in ("visible", "hidden"):
            raise ValueError(f"check {self.name!r}: visibility must be 'visible' or 'hidden'")


class Registry:
    """An ordered set of checks for one exercise."""

    def __init__(self, exercise: str) -> None:
        self.exercise = exercise
        self._checks: dict[str, Check] = {}

    def add(self, item: Check) -> Check:
        if item.name in self._checks:
            raise ValueError(f"{self.exercise}: a check named {item.name!r} exists already")
        self._checks[item.name] = item
        return item

    def check(
        self,
        name: str,
        *,
        title: str,
        points: float,
        hint: str = "",
        visibility: Visibility = "visible",
        time_limit: float = 5.0,
        extra_credit: bool = False,
        todo: str | None = None,
        service: bool = True,
    ) -> Callable[[CheckFunction], CheckFunction]:
        """Register the decorated function as a check; see ``Check`` for the fields."""

        def register(fn: CheckFunction) -> CheckFunction:
            self.add(
                Check(
                    name,
                    title,
                    points,
                    fn,
                    hint,
                    visibility,
                    time_limit,
                    extra_credit,
                    todo,
                    service,
                )
            )
            return fn

        return register

    def __iter__(self) -> Iterator[Check]:
        return iter(list(self._checks.values()))

    def __len__(self) -> int:
        return len(self._checks)

    def __contains__(self, name: object) -> bool:
        return name in self._checks

    def get(self, name: str) -> Check:
        return self._checks[name]

    def copy(self) -> Registry:
        other = Registry(self.exercise)
        other._checks = dict(self._checks)
        return other

    @property
    def max_score(self) -> float:
        return sum(c.points for c in self if not c.extra_credit)


# -- an instructor's own checks, from a folder ------------------------------------------

_collecting: Registry | None = None
_collecting_lock = threading.Lock()


class ExtraChecksError(Exception):
    """A file of extra checks could not be loaded; the message names the file and why."""


def check(
    name: str,
    *,
    title: str,
    points: float,
    hint: str = "",
    visibility: Visibility = "visible",
    time_limit: float = 5.0,
    extra_credit: bool = False,
    todo: str | None = None,
) -> Callable[[CheckFunction], CheckFunction]:
    """Decorator for an instructor's check file, loaded by ``load_extra_checks()``.

    Example (``my-checks/no_print.py``):

    ```python
    from launchpad.grading import CheckFailed, check

    @check("no_print", title="the service logs instead of printing", points=2)
    def no_print(lab):
        if "print(" in lab.submission.source("checkout.py"):
            raise CheckFailed("checkout.py calls print()", expected="log lines")
    ```
    """

    def register(fn: CheckFunction) -> CheckFunction:
        if _collecting is None:
            raise ExtraChecksError(
                f"@check({name!r}) ran outside load_extra_checks(); "
                "pass the folder with --checks DIR"
            )
        _collecting.add(
            Check(name, title, points, fn, hint, visibility, time_limit, extra_credit, todo)
        )
        return fn

    return register


@contextmanager
def _collect_into(registry: Registry) -> Iterator[None]:
    global _collecting
    with _collecting_lock:
        _collecting = registry
        try:
            yield
        finally:
            _collecting = None


def load_extra_checks(folder: Path, registry: Registry) -> list[str]:
    """Run every ``*.py`` in ``folder`` (name order) so its ``@check``s join ``registry``.

    Returns the names of the checks added. Raises ``ExtraChecksError`` with the file
    and the reason when a file does not load (the grade cannot be trusted without it).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ExtraChecksError(f"checks folder {folder} does not exist")
    before = {c.name for c in registry}
    with _collect_into(registry):
        for path in sorted(folder.glob("*.py")):
            if path.name.startswith("_"):
                continue
            module_name = f"launchpad_extra_checks_{path.stem}_{abs(hash(str(path)))}"
            spec = importlib.util.spec_from_file_location(module_name, path)
            if spec is None or spec.loader is None:
                raise ExtraChecksError(f"{path}: not a Python module")
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module
            try:
                spec.loader.exec_module(module)
            except ExtraChecksError:
                raise
            except Exception as exc:
                raise ExtraChecksError(f"{path}: {type(exc).__name__}: {exc}") from exc
    return [c.name for c in registry if c.name not in before]
