"""Correlation ids: what the gateway keeps, what it replaces, and how ids are scoped."""

from __future__ import annotations

import string
import threading

from hypothesis import given
from hypothesis import strategies as st

from launchpad import correlation
from launchpad.correlation import (
    accept,
    correlation_scope,
    current_correlation_id,
    is_safe,
    new_correlation_id,
    rejection_reason,
)

SAFE_ALPHABET = string.ascii_letters + string.digits + "._:-"
safe_ids = st.text(alphabet=SAFE_ALPHABET, min_size=1, max_size=128)


def _oracle_safe(value: str) -> bool:
    """The rule written out plainly, independent of the regex in the module."""
    return 1 <= len(value) <= 128 and all(ch in SAFE_ALPHABET for ch in value)


@given(st.text(max_size=300))
def test_accept_keeps_a_value_if_and_only_if_it_is_safe(value: str) -> None:
    result = accept(value)
    if _oracle_safe(value):
        assert result == value
    else:
        assert result != value
        assert is_safe(result)
        assert len(result) == 36  # a fresh uuid4


@given(st.text(max_size=300) | safe_ids | st.none())
def test_accepted_ids_never_carry_cr_lf_or_control_characters(value: str | None) -> None:
    result = accept(value)
    assert "\r" not in result and "\n" not in result
    assert all(32 < ord(ch) < 127 for ch in result)
    assert is_safe(result)


@given(safe_ids)
def test_every_safe_id_survives_unchanged(value: str) -> None:
    assert accept(value) == value
    assert rejection_reason(value) is None


@given(st.text(min_size=1, max_size=200).filter(lambda v: not _oracle_safe(v)))
def test_every_rejection_has_a_reason_that_does_not_echo_the_value(value: str) -> None:
    reason = rejection_reason(value)
    assert reason is not None
    if len(value) > 3:
        assert value not in reason


def test_the_classic_attacks_are_replaced() -> None:
    for bad in ["", "a" * 129, "abc\r\nx-admin: true", "id\x00", "ünïcode", "a b", "a/b"]:
        assert accept(bad) != bad
    assert accept(None) != ""
    assert correlation.HEADER == "x-correlation-id"


def test_new_ids_are_unique_and_safe() -> None:
    ids = {new_correlation_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(is_safe(i) for i in ids)


def test_scope_sets_and_restores_the_current_id() -> None:
    assert current_correlation_id() is None
    with correlation_scope("outer") as outer:
        assert outer == "outer" and current_correlation_id() == "outer"
        with correlation_scope() as inner:
            assert current_correlation_id() == inner != "outer"
        assert current_correlation_id() == "outer"
    assert current_correlation_id() is None


def test_each_thread_sees_only_its_own_request() -> None:
    seen: dict[str, str | None] = {}
    barrier = threading.Barrier(8)

    def handle(name: str) -> None:
        with correlation_scope(name):
            barrier.wait()  # all eight requests in flight at once
            seen[name] = current_correlation_id()

    threads = [threading.Thread(target=handle, args=(f"req-{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {f"req-{i}": f"req-{i}" for i in range(8)}
