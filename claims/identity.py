"""Who a bill belongs to: the resident identity number, and identifiers that look alike.

A member is known by their resident identity number (居民身份证号码, ``certno``): 17
digits and a check digit (GB 11643-1999, ISO 7064 MOD 11-2, ``X`` standing for 10).
Identifiers are compared after Unicode NFKC normalisation, so a full-width ``ＺＷ－１``
typed on a Chinese keyboard is the same id as ``ZW-1``; control characters and
invisible format characters (Unicode categories Cc and Cf: NUL, a newline, U+200B
zero-width space, U+200E left-to-right mark, U+FEFF...) are refused, since two ids
that look the same must be the same id.
"""

from __future__ import annotations

import unicodedata

from claims.errors import ClaimsError

CERTNO_PATTERN = r"^[0-9]{17}[0-9Xx]$"  # what the OpenAPI schemas state; the check digit is checked here
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)  # 2**(17-i) mod 11
_CHECK_CODES = "10X98765432"  # indexed by the weighted sum mod 11
_DIGITS = frozenset("0123456789")


class InvalidIdentity(ClaimsError):
    """A resident identity number that is not one (wrong length, characters or check digit)."""


def check_digit(body: str) -> str:
    """The check character of the first 17 digits of a resident identity number."""
    return _CHECK_CODES[sum(int(c) * w for c, w in zip(body, _WEIGHTS, strict=True)) % 11]


def with_check_digit(body: str) -> str:
    """A full resident identity number from its first 17 digits (for demo and test data)."""
    if len(body) != 17 or not set(body) <= _DIGITS:
        raise ValueError(f"the body of a resident identity number is 17 digits, not {body!r}")
    return body + check_digit(body)


def parse_certno(text: object, field: str = "certno") -> str:
    """The resident identity number in ``text``, NFKC-normalised, with an upper-case ``X``.

    Raises ``InvalidIdentity`` naming ``field`` when it is not 18 characters of 17
    digits and a correct check digit.
    """
    if not isinstance(text, str) or not text.strip():
        raise InvalidIdentity(field, "a resident identity number (18 characters) is required")
    hidden = hidden_character(text)
    if hidden:
        raise InvalidIdentity(field, f"contains the invisible or control character {hidden}")
    value = normalise_id(text).upper()
    if len(value) != 18:
        raise InvalidIdentity(field, f"a resident identity number has 18 characters, not {len(value)}")
    body, last = value[:17], value[17]
    if not set(body) <= _DIGITS:
        raise InvalidIdentity(field, "the first 17 characters of a resident identity number are digits")
    if last not in _DIGITS and last != "X":
        raise InvalidIdentity(field, "the last character of a resident identity number is a digit or X")
    expected = check_digit(body)
    if last != expected:
        raise InvalidIdentity(field, f"the check digit is wrong (GB 11643: {expected} for these 17 digits, not {last})")
    return value


def normalise_id(text: str) -> str:
    """An identifier as it is compared and stored: NFKC, surrounding spaces trimmed."""
    return unicodedata.normalize("NFKC", text).strip()


def hidden_character(text: str) -> str | None:
    """The first control or invisible format character (category Cc or Cf) in ``text``, as U+XXXX."""
    for c in text:
        if unicodedata.category(c) in ("Cc", "Cf"):
            return f"U+{ord(c):04X}"
    return None
