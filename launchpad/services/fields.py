"""Field types for what users send that ends up in an email: addresses and header text.

An email's ``To`` and ``Subject`` are *header* fields: a CR/LF inside one ends the header
and starts another, so ``"Hi\\r\\nBcc: everyone@example.com"`` as a subject would add a
recipient (header injection). A NUL or another control character confuses the next
program in line in its own way. So the rule for every field that can reach a header is
simple: **no control characters at all** (Unicode category Cc: C0 and C1, DEL, plus the
Unicode line and paragraph separators U+2028/U+2029). A body may hold line breaks and tabs,
and nothing else from that set.

Addresses are checked by `email-validator` (through pydantic's ``EmailStr``), a well-kept
library that knows the RFCs better than a regex: dot-less and reserved domains
(``a@localhost``, ``x@y.test``), IP literals and quoted local parts are refused. Its
deliverability check (a DNS lookup) stays **off**: validation must not wait on the
network or tell a caller which domains have mail servers. Only a bare address is taken;
the ``Name <address>`` form that ``EmailStr`` would also parse is refused, so what the
user wrote is exactly what is stored.

Every refusal is a pydantic validation error, so the web layer answers 422 and names the
field (``to``, ``subject``, ...); the message never repeats the input.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, EmailStr

__all__ = [
    "BodyText",
    "EmailAddress",
    "HeaderText",
    "control_characters",
]

_LINE_SEPARATORS = frozenset("\u2028\u2029")
_BODY_ALLOWED = frozenset("\t\n\r")


def control_characters(text: str, *, allowed: frozenset[str] = frozenset()) -> list[str]:
    """The control characters in ``text`` (as ``U+XXXX``), except those in ``allowed``."""
    return [
        f"U+{ord(ch):04X}"
        for ch in text
        if ch not in allowed and (unicodedata.category(ch) == "Cc" or ch in _LINE_SEPARATORS)
    ]


def _header_safe(value: str) -> str:
    found = control_characters(value)
    if found:
        raise ValueError(
            f"must not contain control characters (found {', '.join(sorted(set(found)))}); "
            "CR and LF in an email header would start a new header"
        )
    return value


def _body_safe(value: str) -> str:
    found = control_characters(value, allowed=_BODY_ALLOWED)
    if found:
        raise ValueError(
            f"must not contain control characters other than tab and line breaks "
            f"(found {', '.join(sorted(set(found)))})"
        )
    return value


def _bare_address(value: object) -> object:
    if isinstance(value, str):
        _header_safe(value)
        if "<" in value or ">" in value:
            raise ValueError("must be a bare address like ada@example.com, without a name")
    return value


HeaderText = Annotated[str, AfterValidator(_header_safe)]
"""Text that may go into an email header (a subject, a person's name): no control chars."""

BodyText = Annotated[str, AfterValidator(_body_safe)]
"""The text of a message: tabs and line breaks allowed, other control characters not."""

EmailAddress = Annotated[EmailStr, BeforeValidator(_bare_address)]
"""One bare email address, checked by email-validator without DNS (see the module doc)."""
