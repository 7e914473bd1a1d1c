"""The path checker: what may pass, what is refused, and that no path escapes its route."""

from __future__ import annotations

import posixpath
from urllib.parse import quote, unquote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from launchpad.gateway import Route, RouteTable
from launchpad.gateway.paths import PathRejected, check_target

# Plain segments: any text but "/", "\\" and "%" (refused by design: a decoded "%" is how
# double decoding starts), and not the dot segments.
plain_segment = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="/\\%"),
    min_size=1,
    max_size=12,
).filter(lambda s: s not in (".", ".."))

dot_segment = st.sampled_from(
    [".", "..", "%2e", "%2E", "%2e%2e", "%2E%2E", ".%2e", "%2e.", "..%00", "%2e%2e%2f"]
)
smuggler = st.sampled_from(["%2f", "%2F", "%25", "%252e", "%5c", "%", "%zz", "%0a", "%00", "a%2fb"])


@settings(deadline=None)  # the machine is shared: timing is not the point
@given(st.lists(plain_segment, max_size=6), st.booleans())
def test_escaped_segments_come_back_unchanged(segments: list[str], slash: bool) -> None:
    tail = "/" if slash and segments else ""
    target = "/" + "/".join(quote(s, safe="") for s in segments) + tail
    checked = check_target(target)
    assert checked.segments == tuple(segments)
    # The rebuilt path means the same thing when checked again: one meaning only.
    assert check_target(checked.path).segments == checked.segments


@settings(deadline=None)  # the machine is shared: timing is not the point
@given(st.text(max_size=60))
def test_any_target_is_refused_or_safe_to_decode_again(target: str) -> None:
    """Whatever a client sends, what passes has no dot segment and survives a second decode."""
    try:
        checked = check_target(target)
    except PathRejected as exc:
        assert exc.reason  # always says why
        return
    for segment in checked.segments:
        assert segment not in (".", "..")
        assert "/" not in segment and "\\" not in segment and "%" not in segment
    once = unquote(checked.path)
    assert unquote(once) == once  # an upstream that decodes twice reads the same path
    assert posixpath.normpath(once) in (once, once.rstrip("/"))


@settings(deadline=None)  # the machine is shared: timing is not the point
@given(
    st.lists(plain_segment, max_size=3),
    st.one_of(dot_segment, smuggler),
    st.lists(plain_segment, max_size=3),
)
def test_dot_segments_and_smuggled_escapes_are_refused(
    before: list[str], bad: str, after: list[str]
) -> None:
    parts = [quote(s, safe="") for s in before] + [bad] + [quote(s, safe="") for s in after]
    with pytest.raises(PathRejected):
        check_target("/auth/" + "/".join(parts))


@settings(deadline=None, max_examples=200)
@given(st.text(max_size=40))
def test_a_path_routed_to_auth_stays_under_auth_upstream(suffix: str) -> None:
    """The upstream path starts with /auth whenever the route table said /auth."""
    table = RouteTable(
        [Route("/auth", "http://127.0.0.1:1"), Route("/admin", "http://127.0.0.1:2")]
    )
    try:
        checked = check_target("/auth/" + suffix)
    except PathRejected:
        return
    route = table.match(checked)
    assert route is not None and route.prefix == "/auth"
    upstream_view = posixpath.normpath(unquote(unquote(checked.path)))
    assert upstream_view == "/auth" or upstream_view.startswith("/auth/")


@pytest.mark.parametrize(
    ("target", "why"),
    [
        ("/auth/../admin", "dot segment"),
        ("/auth/%2e%2e/admin", "dot segment"),
        ("/auth/.%2E/admin", "dot segment"),
        ("/auth/./login", "dot segment"),
        ("/auth/a%2fb", "encoded slash"),
        ("/auth/a%2Fb", "encoded slash"),
        ("/auth/%252e%252e/admin", "encoded percent"),
        ("/auth/a%5cb", "encoded backslash"),
        ("/auth/%zz", "malformed"),
        ("/auth/a%00b", "control character"),
        ("/auth//login", "empty segment"),
        ("//evil.example/auth", "empty segment"),
        ("http://evil.example/auth/login", "absolute-form"),
        ("*", "must be a path"),
        ("/auth/%ff", "UTF-8"),
        ("/auth/login#x", "fragment"),
    ],
)
def test_known_attacks_are_refused_with_a_reason(target: str, why: str) -> None:
    with pytest.raises(PathRejected, match=why):
        check_target(target)


def test_query_trailing_slash_and_escapes_pass_through() -> None:
    checked = check_target("/auth/some%20name/?a=1&b=%2F")
    assert checked.segments == ("auth", "some name")
    assert checked.trailing_slash
    assert checked.target == "/auth/some%20name/?a=1&b=%2F"
    assert check_target("/").segments == ()
