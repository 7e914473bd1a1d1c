"""The decisions checks read any decisions.toml a student may write, and score it fairly."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from launchpad.grading.checkout.checks.decisions import (
    EXPECTED_MODES,
    MIN_WORDS,
    decisions_justified,
    decisions_modes,
    normalised,
)
from launchpad.grading.checks import CheckFailed, Partial

modes = st.sampled_from(["sync", "async", "SYNC", " async ", "", "TODO", "maybe"])
whys = st.one_of(
    st.text(max_size=80),
    st.lists(st.sampled_from(["wait", "queue", "money"]), max_size=20).map(" ".join),
)


def lab_with(toml: Any) -> Any:
    return SimpleNamespace(submission=SimpleNamespace(toml=toml, toml_error=None))


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(list(EXPECTED_MODES)), st.fixed_dictionaries({"mode": modes, "why": whys})
    )
)
def test_each_right_mode_earns_a_quarter(decisions: dict[str, Any]) -> None:
    outcome = decisions_modes(lab_with(decisions))
    right = sum(
        1
        for name, mode in EXPECTED_MODES.items()
        if str(decisions.get(name, {}).get("mode", "")).strip().lower() == mode
    )
    assert isinstance(outcome, Partial) and outcome.fraction == right / 4


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(list(EXPECTED_MODES)), st.fixed_dictionaries({"mode": modes, "why": whys})
    )
)
def test_a_why_counts_only_when_long_enough_and_its_own(decisions: dict[str, Any]) -> None:
    outcome = decisions_justified(lab_with(decisions))
    assert 0 <= outcome.fraction <= 1
    for name in EXPECTED_MODES:
        why = str(decisions.get(name, {}).get("why", ""))
        if len(why.split()) < MIN_WORDS or "TODO" in why:
            assert name in outcome.reason


@pytest.mark.parametrize("toml", [{}, {"verify_token": "sync"}, {"verify_token": {"mode": 3}}])
def test_odd_shapes_score_zero_without_crashing(toml: Any) -> None:
    try:
        outcome = decisions_modes(lab_with(toml))
    except AttributeError as exc:  # a table that is a string
        pytest.fail(f"decisions_modes crashed on {toml!r}: {exc}")
    assert outcome.fraction == 0


def test_an_unreadable_file_is_a_failure_that_says_why() -> None:
    lab = SimpleNamespace(
        submission=SimpleNamespace(toml=None, toml_error="decisions.toml is not valid TOML: line 3")
    )
    with pytest.raises(CheckFailed, match="not valid TOML: line 3"):
        decisions_modes(lab)


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(list(EXPECTED_MODES)), st.fixed_dictionaries({"mode": modes, "why": whys})
    )
)
def test_the_modes_check_says_how_many_hold_never_which(decisions: dict[str, Any]) -> None:
    outcome = decisions_modes(lab_with(decisions))
    right = round(outcome.fraction * 4)
    assert outcome.reason.startswith(f"{right} of 4 choices hold")
    assert not [name for name in EXPECTED_MODES if name in outcome.reason]
    assert "sync" not in outcome.reason


WHY = "The email is a side effect, not the business rule: the order stands without it."


@pytest.mark.parametrize(
    "copy",
    [
        WHY.upper(),
        WHY.replace(" ", "\n"),
        WHY.replace(":", ";").replace(",", "") + "!",
        "  " + WHY.replace("side effect", "side-effect") + "  ",
    ],
)
def test_a_copied_why_is_a_copy_whatever_its_layout(copy: str) -> None:
    decisions = {name: {"mode": mode, "why": f"{name}: " + WHY * 2}
                 for name, mode in EXPECTED_MODES.items()}  # fmt: skip
    decisions["confirmation_email"]["why"] = WHY
    decisions["inventory_update"]["why"] = copy
    outcome = decisions_justified(lab_with(decisions))
    assert outcome.fraction == 0.75
    assert "inventory_update" in outcome.reason
    assert normalised(copy) == normalised(WHY)
