"""Header filtering (both directions) and the route table, as properties and known cases."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from launchpad.gateway import Route, RouteTable, check_target
from launchpad.gateway.headers import (
    HOP_BY_HOP,
    end_to_end,
    forwarded_for,
    response_headers,
    upstream_headers,
)

token = st.from_regex(r"[a-z][a-z0-9-]{0,12}", fullmatch=True)
name = st.one_of(
    token,
    st.sampled_from(sorted(HOP_BY_HOP)),
    st.sampled_from(["x-correlation-id", "x-forwarded-by", "x-forwarded-for", "host"]),
    st.sampled_from(["Connection", "TE", "Keep-Alive", "X-Correlation-Id", "Content-Length"]),
)
value = st.text(alphabet=st.characters(min_codepoint=9, max_codepoint=126), max_size=20)
connection_value = st.lists(name, max_size=4).map(lambda names: ", ".join(names))
header_list = st.lists(
    st.one_of(st.tuples(name, value), st.tuples(st.just("connection"), connection_value)),
    max_size=12,
)


def _named_by_connection(headers: list[tuple[str, str]]) -> set[str]:
    return {
        t.strip().lower()
        for n, v in headers
        if n.lower() == "connection"
        for t in v.split(",")
        if t.strip()
    }


@settings(deadline=None)  # the machine is shared: timing is not the point
@given(header_list)
def test_no_hop_by_hop_header_survives(headers: list[tuple[str, str]]) -> None:
    kept = end_to_end(headers)
    named = _named_by_connection(headers)
    for n, _ in kept:
        assert n not in HOP_BY_HOP
        assert n not in named


@settings(deadline=None)  # the machine is shared: timing is not the point
@given(header_list, st.sampled_from(["127.0.0.1", "::1", "10.0.0.7"]))
def test_gateway_headers_are_always_set_once_whatever_the_client_sends(
    headers: list[tuple[str, str]], peer: str
) -> None:
    out = upstream_headers(
        headers, correlation_id="cid-1", peer=peer, scheme="http", host="gw:3000",
        content_length=None,
    )  # fmt: skip
    names = [n for n, _ in out]
    assert [v for n, v in out if n == "x-correlation-id"] == ["cid-1"]
    assert [v for n, v in out if n == "x-forwarded-by"] == ["gateway"]
    assert [v for n, v in out if n == "x-forwarded-host"] == ["gw:3000"]
    (xff,) = [v for n, v in out if n == "x-forwarded-for"]
    assert xff.split(", ")[-1] == peer
    assert "host" not in names and "content-length" not in names
    assert not set(names) & HOP_BY_HOP


@settings(deadline=None)  # the machine is shared: timing is not the point
@given(header_list)
def test_client_sees_one_correlation_id_and_no_hop_by_hop_header(
    headers: list[tuple[str, str]],
) -> None:
    out = response_headers(headers, correlation_id="cid-2")
    assert [v for n, v in out if n == "x-correlation-id"] == ["cid-2"]
    assert not {n for n, _ in out} & HOP_BY_HOP


@settings(deadline=None)
@given(st.lists(st.tuples(st.text(max_size=8), st.text(max_size=20)), max_size=8))
def test_no_cr_or_lf_and_no_bad_name_leaves_the_gateway(headers: list[tuple[str, str]]) -> None:
    """Values folded over lines are joined; names that are not tokens are dropped."""
    for n, v in end_to_end(headers):
        assert "\r" not in v and "\n" not in v
        assert n and all(c.isascii() and (c.isalnum() or c in "!#$%&'*+-.^_`|~") for c in n)


def test_obsolete_line_folding_is_joined_with_a_space() -> None:
    assert end_to_end([("x-long", "one\r\n two")]) == [("x-long", "one two")]


def test_content_length_is_dropped_when_the_upstream_also_chunked() -> None:
    """Then the relayed bytes are the de-chunked body, whose size that number may not be."""
    out = response_headers(
        [("transfer-encoding", "chunked"), ("content-length", "3")], correlation_id="c"
    )
    assert "content-length" not in dict(out) and "transfer-encoding" not in dict(out)


def test_connection_cannot_remove_the_correlation_id() -> None:
    """The trick: name the gateway's own header in Connection. It is stripped, then set."""
    client = [
        ("connection", "x-correlation-id, x-forwarded-by, x-forwarded-for, x-secret"),
        ("x-correlation-id", "client-id"),
        ("x-secret", "drop me"),
        ("authorization", "Bearer abc"),
    ]
    out = dict(upstream_headers(client, correlation_id="gw-id", peer="127.0.0.1",
                                scheme="http", host=None, content_length=12))  # fmt: skip
    assert out["x-correlation-id"] == "gw-id"
    assert out["x-forwarded-by"] == "gateway"
    assert out["x-forwarded-for"] == "127.0.0.1"
    assert out["content-length"] == "12"
    assert "x-secret" not in out and "connection" not in out
    assert out["authorization"] == "Bearer abc"  # end-to-end: the service needs it


def test_forwarded_for_keeps_only_ip_addresses_then_appends_the_peer() -> None:
    assert forwarded_for("1.2.3.4, evil<script>, ::1", "127.0.0.1") == "1.2.3.4, ::1, 127.0.0.1"
    assert forwarded_for(None, "127.0.0.1") == "127.0.0.1"


def test_response_content_length_kept_only_when_plain() -> None:
    assert ("content-length", "5") in response_headers(
        [("content-length", "5")], correlation_id="c"
    )
    bad = response_headers([("content-length", "5"), ("content-length", "6")], correlation_id="c")
    assert "content-length" not in dict(bad)
    assert "content-length" not in dict(
        response_headers([("content-length", "٣")], correlation_id="c")
    )


# -- routes --------------------------------------------------------------------------------


def test_prefix_matches_whole_segments_only() -> None:
    table = RouteTable([Route("/auth", "http://127.0.0.1:3001")])
    assert table.match(check_target("/auth")) is not None
    assert table.match(check_target("/auth/login")) is not None
    assert table.match(check_target("/auth/")) is not None
    assert table.match(check_target("/authx")) is None
    assert table.match(check_target("/authx/login")) is None
    assert table.match(check_target("/")) is None


def test_longest_prefix_wins() -> None:
    table = RouteTable([Route("/api", "http://127.0.0.1:1"),
                        Route("/api/admin", "http://127.0.0.1:2", name="admin")])  # fmt: skip
    route = table.match(check_target("/api/admin/users"))
    assert route is not None and route.name == "admin"
    route = table.match(check_target("/api/administrator"))
    assert route is not None and route.name == "api"


@pytest.mark.parametrize(
    ("prefix", "target", "problem"),
    [
        ("auth", "http://127.0.0.1:1", "not a plain path"),
        ("/a/../b", "http://127.0.0.1:1", "not a plain path"),
        ("/auth", "ftp://127.0.0.1:1", "http"),
        ("/auth", "http://127.0.0.1:1/base", "must not have a path"),
    ],
)
def test_bad_routes_are_refused_when_the_table_is_built(
    prefix: str, target: str, problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        Route(prefix, target)


def test_route_normalizes_and_names_itself() -> None:
    route = Route("/auth/", "http://127.0.0.1:3001/")
    assert (route.prefix, route.target, route.name) == ("/auth", "http://127.0.0.1:3001", "auth")
    with pytest.raises(ValueError, match="listed twice"):
        RouteTable([route, Route("/auth", "http://127.0.0.1:9", name="other")])
