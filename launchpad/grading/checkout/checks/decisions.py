"""TODO 1: the decisions file, sync or async for each interaction, and why."""

from __future__ import annotations

import re
from typing import Any

from launchpad.grading.checkout.checks.base import check
from launchpad.grading.checkout.lab import CheckoutLab
from launchpad.grading.checks import CheckFailed, Partial

EXPECTED_MODES = {
    "verify_token": "sync",
    "charge_payment": "sync",
    "confirmation_email": "async",
    "inventory_update": "async",
}
MIN_WORDS = 12


# -- the decisions file -----------------------------------------------------------------


def _decisions(lab: CheckoutLab) -> dict[str, Any]:
    sub = lab.submission
    if sub.toml is None:
        raise CheckFailed(
            f"could not read the decisions: {sub.toml_error}",
            expected="decisions.toml with one table per interaction",
        )
    return sub.toml


def _table(decisions: dict[str, Any], name: str) -> dict[str, Any]:
    """``[name]`` of the file, or an empty table when it is missing or not a table."""
    table = decisions.get(name)
    return table if isinstance(table, dict) else {}


@check(
    "decisions_modes",
    title="decisions.toml: sync or async for each interaction",
    points=8,
    todo="TODO 1",
    service=False,
    hint="Ask of each step: does the customer's answer depend on its result right now?",
)
def decisions_modes(lab: CheckoutLab) -> Partial:
    decisions = _decisions(lab)
    right = sum(
        1
        for name, mode in EXPECTED_MODES.items()
        if str(_table(decisions, name).get("mode", "")).strip().lower() == mode
    )
    total = len(EXPECTED_MODES)
    # How many hold, never which: with two choices per item, naming it gives the answer.
    return Partial(
        right / total,
        f"{right} of {total} choices hold: re-read the question for each interaction",
    )


def normalised(why: str) -> str:
    """``why`` without case, punctuation or layout: a copy with new line breaks is a copy."""
    return " ".join(re.sub(r"[\W_]+", " ", why.casefold()).split())


@check(
    "decisions_justified",
    title="decisions.toml: each choice justified in your own words",
    points=4,
    todo="TODO 1",
    service=False,
    hint=f"Give each interaction a 'why' of at least {MIN_WORDS} words: what breaks "
    "for the customer if this step is slow or down?",
)
def decisions_justified(lab: CheckoutLab) -> Partial:
    decisions = _decisions(lab)
    short, seen = [], set()
    for name in EXPECTED_MODES:
        why = str(_table(decisions, name).get("why", "")).strip()
        words = why.split()
        same = normalised(why)
        if len(words) < MIN_WORDS or "TODO" in why or same in seen:
            short.append(f"{name} ({len(words)} word{'' if len(words) == 1 else 's'})")
        seen.add(same)
    good = len(EXPECTED_MODES) - len(short)
    return Partial(
        good / len(EXPECTED_MODES), f"too short, a TODO or a copy of another: {'; '.join(short)}"
    )


def answers(toml: dict[str, Any] | None) -> dict[str, str]:
    """Each interaction's mode and ``why`` as written, for the instructor to read."""
    found = {}
    for name in EXPECTED_MODES:
        table = _table(toml or {}, name)
        mode = str(table.get("mode", "")).strip()[:20] or "no mode"
        why = " ".join(str(table.get("why", "")).split())[:2000]
        found[name] = f"{mode}: {why}" if why else f"{mode}: (no why)"
    return found
