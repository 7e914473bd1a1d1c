"""The field rules for what reaches an email (``launchpad.services.fields``), as properties:
a control character anywhere in a header field is refused, whatever surrounds it; every
address that is accepted is one bare, clean address; nothing a client sends is a 500."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from launchpad.services.fields import BodyText, EmailAddress, HeaderText, control_characters


class Fields(BaseModel):
    to: EmailAddress
    subject: HeaderText
    body: BodyText


GOOD = {"to": "ada@example.com", "subject": "Hi", "body": "Hello\r\n\tAda"}

CONTROLS = st.one_of(
    st.characters(categories=["Cc"]),  # C0, DEL, C1: NUL, CR, LF, ESC, NEL...
    st.sampled_from("\u2028\u2029"),
)


def refused_fields(data: dict[str, str]) -> set[str]:
    try:
        Fields.model_validate(data)
    except ValidationError as exc:
        return {str(e["loc"][0]) for e in exc.errors()}
    return set()


@given(field=st.sampled_from(["to", "subject"]), cut=st.integers(0, 20), bad=CONTROLS)
def test_a_control_character_anywhere_in_a_header_field_is_refused_by_name(
    field: str, cut: int, bad: str
) -> None:
    value = GOOD[field]
    cut = min(cut, len(value))
    data = GOOD | {field: value[:cut] + bad + value[cut:]}
    assert refused_fields(data) == {field}


@given(bad=CONTROLS.filter(lambda ch: ch not in "\t\n\r"), cut=st.integers(0, 12))
def test_a_body_allows_line_breaks_and_tabs_but_no_other_control(bad: str, cut: int) -> None:
    body = GOOD["body"]
    assert refused_fields(GOOD | {"body": body[:cut] + bad + body[cut:]}) == {"body"}


@given(text=st.text(max_size=40))
def test_a_subject_is_accepted_exactly_when_it_has_no_control_character(text: str) -> None:
    clean = not any(unicodedata.category(ch) == "Cc" or ch in "\u2028\u2029" for ch in text)
    assert (refused_fields(GOOD | {"subject": text}) == set()) == clean
    assert (control_characters(text) == []) == clean


@given(address=st.one_of(st.emails(), st.text(max_size=60)))
def test_an_accepted_address_is_one_bare_clean_address_and_stable(address: str) -> None:
    try:
        accepted = Fields.model_validate(GOOD | {"to": address}).to
    except ValidationError:
        return  # refused with 422 (never another exception: that would be a 500)
    local, _, domain = accepted.rpartition("@")
    assert local and "." in domain
    assert not control_characters(accepted)
    assert not any(ch.isspace() or ch in "<>," for ch in accepted)
    assert Fields.model_validate(GOOD | {"to": accepted}).to == accepted  # normalised once


@pytest.mark.parametrize(
    "address",
    [
        "ada",
        "ada@",
        "@example.com",
        "ada@localhost",  # no dot in the domain
        "ada@example.test",  # reserved for testing
        "ada@[127.0.0.1]",  # an IP literal
        "Ada <ada@example.com>",  # a display name: only bare addresses
        "ada@example.com, eve@example.com",  # two recipients
        "ada@example.com\r\nBcc: eve@example.com",
        "a" * 250 + "@example.com",  # too long
    ],
)
def test_invalid_addresses_are_refused(address: str) -> None:
    assert refused_fields(GOOD | {"to": address}) == {"to"}


def test_an_address_is_checked_without_dns() -> None:
    # a domain that cannot exist on the network is still a well-formed address
    fine = "ada@no-such-domain-for-launchpad.example"
    assert Fields.model_validate(GOOD | {"to": fine}).to == fine
