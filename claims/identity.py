"""Who a bill belongs to: the resident identity number, and identifiers that look alike.

A member is known by their resident identity number (居民身份证号码, ``certno``): 17
digits and a check digit (GB 11643-1999, ISO 7064 MOD 11-2, ``X`` standing for 10).
Identifiers are compared after Unicode NFKC normalisation, so a full-width ``ＺＷ－１``
typed on a Chinese keyboard is the same id as ``ZW-1``, and then hold only ASCII
letters, digits, '.', '_' and '-'; control characters and characters that show
nothing (U+200B zero-width space, U+200E left-to-right mark, U+034F, U+3164 Hangul
filler, variation selectors, a lone surrogate...) are refused in any text, since two
ids that look the same must be the same id and a note must say what it shows.
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


# Categories no text of ours needs: controls, format characters (zero-width space,
# bidi marks...), surrogates (a lone one cannot even be stored), private use, and
# line or paragraph separators. (Unassigned code points stay allowed: a rare
# character of a name may be newer than this Python's Unicode tables.)
_HIDDEN_CATEGORIES = frozenset(("Cc", "Cf", "Cs", "Co", "Zl", "Zp"))
# Characters of other categories that show nothing: Unicode's default-ignorable code
# points (combining grapheme joiner, Hangul fillers, variation selectors, Khmer vowel
# inherents, musical-symbol formatting...) and the blank braille pattern.
_INVISIBLE_RANGES = (
    (0x034F, 0x034F), (0x115F, 0x1160), (0x17B4, 0x17B5), (0x180B, 0x180F), (0x2800, 0x2800),
    (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFFA0, 0xFFA0), (0x1D173, 0x1D17A), (0xE0000, 0xE0FFF),
)
_ALLOWED_CONTROLS = frozenset("\n\t")  # a note may run over lines


def hidden_character(text: str, *, multiline: bool = False) -> str | None:
    """The first character of ``text`` that is a control or shows nothing, as U+XXXX.

    ``multiline``: a newline or tab is text (a note), not an attack.
    """
    for c in text:
        if unicodedata.category(c) in _HIDDEN_CATEGORIES:
            if multiline and c in _ALLOWED_CONTROLS:
                continue
            return f"U+{ord(c):04X}"
        code = ord(c)
        if code >= 0x034F and any(lo <= code <= hi for lo, hi in _INVISIBLE_RANGES):
            return f"U+{code:04X}"
    return None


_ID_CHARACTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")


def identifier_problem(text: str) -> str | None:
    """Why a normalised identifier is not one, or None.

    National codes and ids are ASCII letters and digits with '.', '_' or '-': allowing
    nothing else leaves no look-alike of another id to register as a second bill.
    """
    if not text:
        return "is empty"
    if not text[0].isascii() or not text[0].isalnum():
        return "must start with a letter or digit"
    odd = next((c for c in text if c not in _ID_CHARACTERS), None)
    if odd is not None:
        return f"may hold only letters, digits, '.', '_' and '-' (not U+{ord(odd):04X})"
    return None
