"""``launchpad release``: the student copy carries nothing of the instructor's, and works.

One copy is built per session (from the files git tracks here, as the command does) and
read as a student would: every file is grepped for the hidden checks' names and source
lines and for the reference solution's code; then the copy's own ``launchpad check``
grades its starter, and a few of its tests run in it (the whole suite is what its
``make test`` and its Classroom workflow run).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from launchpad.grading.autograder import build_autograder
from launchpad.grading.checkout import EXERCISE
from launchpad.grading.release import (
    STUDENT_COPY_MARKER,
    Artefact,
    ReleaseError,
    build_student_copy,
    instructor_only,
    kit_files,
    student_text,
    zip_folder,
)

from .conftest import ROOT, SOLUTION

HIDDEN_DIR = ROOT / "instructor" / "checkout" / "checks"


@pytest.fixture(scope="session")
def student_copy(tmp_path_factory: pytest.TempPathFactory) -> Artefact:
    return build_student_copy(ROOT, tmp_path_factory.mktemp("release") / "student")


@pytest.fixture(scope="session")
def student_zip(student_copy: Artefact) -> Artefact:
    """Zipped before any test runs in the copy (a run leaves caches behind)."""
    return zip_folder(student_copy.path, student_copy.path.parent / "student.zip")


def _run_in(copy: Path, *argv: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``python argv`` with the copy's own ``launchpad`` first on the path, in the copy."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LAUNCHPAD_", "REDIS_"))}
    env |= {"PYTHONPATH": str(copy), "COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, *argv],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _code(line: str) -> str:
    """A line without its indent and trailing comment ('' for a comment line)."""
    return line.split("  #")[0].strip() if not line.lstrip().startswith("#") else ""


def _secrets() -> list[str]:
    """Text that only the instructor's kit may hold: the hidden checks' names, and lines of
    their source and of the solution that the library, the lessons and the starter (which
    the copy carries and a solution may share idioms with) do not have."""
    hidden = [c.name for c in EXERCISE.registry if c.visibility == "hidden"]
    assert hidden, "the instructor's kit has hidden checks to look for"
    shared = {
        _code(line)
        for folder in ("launchpad", "lessons", "exercises")
        for path in (ROOT / folder).rglob("*.py")
        for line in path.read_text(encoding="utf-8").splitlines()
    }
    lines = []
    for path in [*HIDDEN_DIR.glob("*.py"), SOLUTION / "checkout.py"]:
        for line in path.read_text(encoding="utf-8").splitlines():
            line = _code(line)
            if len(line) >= 30 and line not in shared:
                lines.append(line)
    assert len(lines) > 50, "enough of the solution to recognise it"
    return hidden + lines


def test_the_copy_leaves_out_the_instructors_files(
    student_copy: Artefact, student_zip: Artefact
) -> None:
    copy = student_copy.path
    shipped = {p.relative_to(copy).as_posix() for p in copy.rglob("*") if p.is_file()}
    expected = {n for n in kit_files(ROOT) if not instructor_only(n)}
    assert shipped == expected | {".github/workflows/classroom.yml", STUDENT_COPY_MARKER}
    for left_out in ("solutions", "instructor", "docs/instructors", "tests/grading", ".venv"):
        assert not (copy / left_out).exists(), left_out
    assert not any(part in {"__pycache__", ".cache"} for n in shipped for part in n.split("/"))
    assert student_copy.files == len(shipped)


def test_no_file_of_the_copy_carries_hidden_checks_or_the_solution(
    student_copy: Artefact,
) -> None:
    secrets = _secrets()
    found = []
    for path in student_copy.path.rglob("*"):
        if path.is_file():
            text = path.read_bytes().decode("utf-8", errors="replace")
            found += [(path.name, s) for s in secrets if s in text]
            assert "instructor-only" + ":" not in text, f"{path}: a marker was left in"
    assert not found, found


def test_marked_lines_are_left_out_of_the_copy(student_copy: Artefact) -> None:
    readme = (student_copy.path / "README.md").read_text(encoding="utf-8")
    assert "solutions/checkout/" not in readme
    assert "solutions/checkout/" in (ROOT / "README.md").read_text(encoding="utf-8")
    mkdocs = (student_copy.path / "mkdocs.yml").read_text(encoding="utf-8")
    nav = yaml.safe_load("nav:" + mkdocs.split("\nnav:")[1])["nav"]  # the tags above: not safe
    assert "instructors" not in str(nav) and "Lesson 06" in str(nav)


def test_the_classroom_workflow_runs_the_visible_checks(student_copy: Artefact) -> None:
    workflow = yaml.safe_load(
        (student_copy.path / ".github" / "workflows" / "classroom.yml").read_text()
    )
    steps = [s.get("run", "") for s in workflow["jobs"]["checks"]["steps"]]
    assert "python -m pip install -e ." in steps
    assert "launchpad check exercises/checkout" in steps


def test_launchpad_check_grades_the_starter_in_the_copy(student_copy: Artefact) -> None:
    copy = student_copy.path
    where = _run_in(copy, "-c", "import launchpad; print(launchpad.__file__)")
    assert where.stdout.strip() == str(copy / "launchpad" / "__init__.py")
    proc = _run_in(copy, "-m", "launchpad.cli", "check", "exercises/checkout")
    assert proc.returncode == 1, proc.stdout + proc.stderr  # the starter fails checks
    assert "3 / 93 points from the visible checks" in proc.stdout, proc.stdout
    assert "hidden" not in proc.stdout.lower(), proc.stdout  # the copy has none to mention


def test_a_subset_of_the_copys_tests_passes_in_it(student_copy: Artefact) -> None:
    """Fast ones here; the instructor-only test in a shared file skips in the copy."""
    proc = _run_in(
        student_copy.path,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "tests/core/test_config.py",
        "tests/core/test_correlation.py",
        "tests/docs/test_docs_examples.py::test_the_instructors_own_checks_grade_as_the_guide_says",
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert " 1 skipped" in proc.stdout, proc.stdout[-1000:]


def test_the_zip_holds_the_copy(student_copy: Artefact, student_zip: Artefact) -> None:
    archive = student_zip
    with zipfile.ZipFile(archive.path) as z:
        names = set(z.namelist())
        assert ".github/workflows/classroom.yml" in names and "launchpad/cli.py" in names
        assert not any(n.startswith(("solutions/", "instructor/")) for n in names)
        assert z.getinfo("Makefile").external_attr >> 16 & 0o777 == 0o644
    assert archive.files == student_copy.files


def test_release_refuses_a_kit_that_is_not_a_git_checkout(tmp_path: Path) -> None:
    (tmp_path / "launchpad").mkdir()
    (tmp_path / "pyproject.toml").write_text("")
    with pytest.raises(ReleaseError, match="not a git checkout"):
        kit_files(tmp_path)


def test_release_will_not_overwrite_without_force(student_copy: Artefact) -> None:
    with pytest.raises(ReleaseError, match="--force"):
        build_student_copy(ROOT, student_copy.path)


lines = st.lists(
    st.sampled_from(["a\n", "b\n", "# instructor-only:line x\n", "<!-- instructor-only:start -->\n",
                     "<!-- instructor-only:end -->\n", "text instructor-only\n"]),
    max_size=12,
)  # fmt: skip


@given(lines)
def test_marked_text_is_dropped_exactly_or_refused(text: list[str]) -> None:
    """A model: a balanced text loses exactly its marked lines; an unbalanced one raises."""
    kept, inside, balanced = [], False, True
    for line in text:
        if "instructor-only:start" in line:
            balanced &= not inside
            inside = True
        elif "instructor-only:end" in line:
            balanced &= inside
            inside = False
        elif not inside and "instructor-only:line" not in line:
            kept.append(line)
    balanced &= not inside
    if balanced:
        assert student_text("".join(text)) == "".join(kept)
    else:
        with pytest.raises(ReleaseError):
            student_text("".join(text))


# ---- the Gradescope autograder -------------------------------------------------------

HOSTILE = """
import pathlib
_seen = []
for _p in pathlib.Path("/").glob("**/instructor/checkout/checks/*.py"):
    try:
        _seen.append(_p.read_text())
    except OSError as exc:
        _seen.append(repr(exc))
raise RuntimeError("LEAK " + " ".join(_seen)[:4000])
"""


@pytest.fixture(scope="session")
def autograder(tmp_path_factory: pytest.TempPathFactory) -> Artefact:
    return build_autograder(ROOT, tmp_path_factory.mktemp("gradescope") / "autograder.zip")


def _gradescope_run(archive: Path, root: Path, files: dict[str, str]) -> dict[str, Any]:
    """Unpack into a fake ``/autograder``, put ``files`` in the submission, run it."""
    with zipfile.ZipFile(archive) as z:
        z.extractall(root / "source")
    for name, text in files.items():
        (root / "submission" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "submission" / name).write_text(text, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LAUNCHPAD_", "REDIS_"))}
    env |= {"LAUNCHPAD_AUTOGRADER_ROOT": str(root), "LAUNCHPAD_PYTHON": sys.executable}
    proc = subprocess.run(
        ["bash", str(root / "source" / "run_autograder")],
        env=env, cwd=root, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    results: dict[str, Any] = json.loads((root / "results" / "results.json").read_text())
    return results


def test_the_autograder_zip_holds_what_gradescope_needs(autograder: Artefact) -> None:
    with zipfile.ZipFile(autograder.path) as z:
        names = set(z.namelist())
        setup = z.read("setup.sh").decode()
        assert z.getinfo("run_autograder").external_attr >> 16 & 0o111
    wheel = [n for n in names if n.endswith(".whl")]
    assert len(wheel) == 1 and f"./{wheel[0]}" in setup and "--no-deps" not in setup
    assert {"run_autograder", "exercises/checkout/provided.py"} <= names
    assert {f"instructor/checkout/checks/{p.name}" for p in HIDDEN_DIR.glob("*.py")} <= names
    assert not any(n.startswith("solutions/") for n in names)


@pytest.mark.slow
def test_run_autograder_grades_the_solution_starter_and_a_hostile_submission(
    autograder: Artefact, tmp_path: Path
) -> None:
    solution = {
        f"my-repo/exercises/checkout/{n}": (SOLUTION / n).read_text()
        for n in ("checkout.py", "decisions.toml")
    }  # a whole-repo submission, as GitHub Classroom hands it in
    starter = {
        n: (ROOT / "exercises/checkout" / n).read_text() for n in ("checkout.py", "decisions.toml")
    }
    hostile = {**starter, "checkout.py": HOSTILE + starter["checkout.py"]}
    runs = {"solution": solution, "starter": starter, "hostile": hostile}
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = {
            k: pool.submit(_gradescope_run, autograder.path, tmp_path / k, v)
            for k, v in runs.items()
        }
        results = {k: f.result() for k, f in futures.items()}
    assert (results["solution"]["score"], results["solution"]["max_score"]) == (105, 100)
    assert results["starter"]["score"] == 3
    assert results["hostile"]["score"] <= 3
    secrets = _secrets()
    for name, result in results.items():
        visible = [t for t in result["tests"] if t.get("visibility") != "hidden"]
        text = json.dumps(visible) + result.get("output", "")
        assert not [s for s in secrets if s in text], name
        assert any(t["name"] == "Hidden check 1" for t in visible), name
