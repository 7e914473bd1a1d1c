"""Correlation ids: what the gateway keeps, what it replaces, and how ids are scoped."""

from __future__ import annotations

import string
import threading

from hypothesis import given
from hypothesis import strategies as st

from launchpad import correlation
from launchpad.correlation import (
    TraceContext,
    accept,
    accept_context,
    correlation_scope,
    current_correlation_id,
    current_trace,
    is_safe,
    new_correlation_id,
    parse_traceparent,
    rejection_reason,
    trace_id_for,
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


# -- W3C Trace Context: the parser, and the one-to-one map with correlation ids ---------------


HEX = "0123456789abcdef"
trace_ids = st.text(alphabet=HEX, min_size=32, max_size=32).filter(lambda t: t != "0" * 32)
span_ids = st.text(alphabet=HEX, min_size=16, max_size=16).filter(lambda s: s != "0" * 16)
flag_values = st.text(alphabet=HEX, min_size=2, max_size=2)


def _oracle_valid(value: str) -> bool:
    """The spec's rules for a traceparent, written out field by field."""
    parts = value.strip(" \t").split("-")
    if len(parts) < 4 or not all(set(p) <= set(HEX) for p in parts[:4]):
        return False
    version, trace, parent, flags = parts[:4]
    if [len(version), len(trace), len(parent), len(flags)] != [2, 32, 16, 2]:
        return False
    if version == "ff" or trace == "0" * 32 or parent == "0" * 16:
        return False
    return len(parts) == 4 or version != "00"


@given(st.one_of(st.text(max_size=80), st.from_regex(r"[0-9a-fA-F-]{50,60}", fullmatch=True)))
def test_parse_traceparent_agrees_with_the_spec_rules(value: str) -> None:
    parsed = parse_traceparent(value)
    assert (parsed is not None) == _oracle_valid(value)


@given(trace_ids, span_ids, flag_values)
def test_a_valid_traceparent_parses_to_its_fields(trace: str, span: str, flags: str) -> None:
    parsed = parse_traceparent(f"00-{trace}-{span}-{flags}")
    assert parsed is not None
    assert (parsed.version, parsed.trace_id, parsed.parent_id, parsed.flags) == (
        "00",
        trace,
        span,
        flags,
    )
    assert parse_traceparent(f"00-{trace.upper()}-{span}-{flags}") is None or trace.isdigit()
    assert parse_traceparent(f"ff-{trace}-{span}-{flags}") is None
    assert parse_traceparent(f"00-{trace}-{span}-{flags}-extra") is None
    assert parse_traceparent(f"01-{trace}-{span}-{flags}-extra") is not None  # a later version
    assert parse_traceparent(f"00-{'0' * 32}-{span}-{flags}") is None
    assert parse_traceparent(f"00-{trace}-{'0' * 16}-{flags}") is None


@given(trace_ids, span_ids, flag_values)
def test_a_traceparent_alone_maps_to_a_correlation_id_and_back(
    trace: str, span: str, flags: str
) -> None:
    cid, ctx = accept_context(None, f"00-{trace}-{span}-{flags}")
    assert is_safe(cid) and trace_id_for(cid) == trace  # one to one
    assert ctx.trace_id == trace and ctx.flags == flags
    assert ctx.span_id != span and len(ctx.span_id) == 16  # this hop is a new span
    assert parse_traceparent(ctx.traceparent()) is not None


def test_a_kit_correlation_id_is_its_trace_id() -> None:
    cid = new_correlation_id()
    got, ctx = accept_context(cid, None)
    assert got == cid and ctx.trace_id == cid.replace("-", "")
    assert accept_context(cid.upper(), None)[1].trace_id == cid.replace("-", "")


@given(safe_ids)
def test_any_safe_id_gives_one_stable_valid_trace_id(cid: str) -> None:
    trace = trace_id_for(cid)
    assert trace == trace_id_for(cid)  # every hop derives the same one
    assert len(trace) == 32 and set(trace) <= set(HEX) and trace != "0" * 32


def test_both_headers_are_kept_as_sent_and_bad_ones_ignored() -> None:
    tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    cid, ctx = accept_context("order-42", tp)
    assert cid == "order-42" and ctx.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    cid, ctx = accept_context("order-42", "00-garbage\r\nx: y")
    assert cid == "order-42" and ctx.trace_id == trace_id_for("order-42")
    cid, ctx = accept_context(None, None)
    assert ctx.trace_id == cid.replace("-", "") and ctx.flags == "01"


def test_a_scope_has_a_trace_derived_from_its_id() -> None:
    assert current_trace() is None
    with correlation_scope("job-7") as cid:
        trace = current_trace()
        assert trace is not None and trace.trace_id == trace_id_for(cid)
    given_ctx = TraceContext("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", "00")
    with correlation_scope("x", given_ctx):
        assert current_trace() == given_ctx
    assert current_trace() is None


def test_a_derived_trace_keeps_one_span_for_its_whole_scope() -> None:
    """The derived trace is made when first asked for (a job run that never logs pays
    nothing for it), and every later line of the scope, in any thread that copied the
    context, sees that same span; a new scope for the same id is a new span."""
    import contextvars

    with correlation_scope("job-8"):
        seen: list[TraceContext | None] = []

        def ask(context: contextvars.Context) -> None:
            seen.append(context.run(current_trace))

        threads = [threading.Thread(target=ask, args=(contextvars.copy_context(),))
                   for _ in range(8)]  # fmt: skip
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        first = current_trace()
        assert first is not None and set(seen) == {first}
        assert first.trace_id == trace_id_for("job-8")
    with correlation_scope("job-8"):
        again = current_trace()
        assert again is not None and again.trace_id == first.trace_id
        assert again.span_id != first.span_id
