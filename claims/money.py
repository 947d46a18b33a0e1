"""Money as integer fen, and exact rates.

Inside the engine every amount is an ``int`` of fen (1 yuan = 100 fen). ``Decimal``
appears only at the edges: to parse what a hospital or a case file sends and to print
what we answer. Rates (40%, 0.5 for the waiting reduction...) are exact fractions, so
``rate x amount`` is exact and the one rounding the plan asks for is done explicitly,
half-up to the fen.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from fractions import Fraction

FEN_PER_YUAN = 100


class AmountError(ValueError):
    """An amount that is not a finite, non-negative decimal with at most two decimals."""


def parse_yuan(value: object) -> int:
    """Parse a yuan amount (string, Decimal or int; never float) into integer fen.

    ``"100.000"`` is 100.00 (the value has two decimals at most, whatever the
    spelling); ``"0.001"``, ``"-1"``, ``"NaN"`` and ``"1e400"``-like overflows are refused.
    """
    if type(value) is str and value.isascii():
        # The common spellings ('1234.56', '1234') without Decimal: they are most of
        # what hospitals send, and parsing is on every claim's path.
        if len(value) > 3 and value[-3] == ".":
            whole, cents = value[:-3], value[-2:]
            if whole.isdigit() and cents.isdigit() and len(whole) <= 15:
                return int(whole) * FEN_PER_YUAN + int(cents)
        elif value.isdigit() and len(value) <= 15:
            return int(value) * FEN_PER_YUAN
    if isinstance(value, bool) or value is None:
        raise AmountError("is not a decimal amount")
    if isinstance(value, int):
        dec = Decimal(value)
    elif isinstance(value, Decimal):
        dec = value
    elif isinstance(value, str):
        text = value.strip()
        # Python's Decimal also reads '1_000'; no settlement system writes amounts so.
        if not text or text != value or not text.isascii() or "_" in text:
            raise AmountError("is not a decimal amount")
        try:
            dec = Decimal(text)
        except InvalidOperation:
            raise AmountError("is not a decimal amount") from None
    else:
        # float is refused on purpose: binary floating point cannot carry fen exactly.
        raise AmountError("is not a decimal amount")
    if not dec.is_finite():
        raise AmountError("is not a finite decimal")
    if dec < 0:
        raise AmountError("is negative")
    if dec.adjusted() > 15:
        raise AmountError("is too large")
    # From the decimal's digits, not ``dec * 100``: Decimal arithmetic rounds to 28
    # digits, so 4000.0000000000000000000000000001 became 4000.00 fen-exact, and
    # 1e-999999999999 zero. Digits past the fen must all be zeros.
    _sign, digits, exponent = dec.as_tuple()
    assert isinstance(exponent, int)  # finite
    past_fen = max(0, -2 - exponent)
    if any(digits[len(digits) - past_fen:] if past_fen else ()):
        raise AmountError("has more than two decimals")
    kept = digits[:len(digits) - past_fen]
    # At most 18 digits are left (adjusted() <= 15, exponent >= -2): int() reads them at once.
    coefficient = int("".join(map(str, kept)) or "0")
    return coefficient * 10 ** (max(exponent, -2) + 2)


def format_fen(fen: int) -> str:
    """Integer fen as a yuan string with exactly two decimals: 123456 -> '1234.56'."""
    sign = "-" if fen < 0 else ""
    whole, part = divmod(abs(fen), FEN_PER_YUAN)
    return f"{sign}{whole}.{part:02d}"


def rate(value: str | Decimal | int | Fraction) -> Fraction:
    """An exact rate from its decimal spelling ('0.40' -> 2/5)."""
    if isinstance(value, Fraction):
        return value
    if isinstance(value, float):
        raise TypeError("rates are exact decimals, never float")
    return Fraction(Decimal(str(value)))


def round_half_up(amount: Fraction) -> int:
    """Round an exact (non-negative) fen amount half-up to a whole fen."""
    if amount < 0:
        return -round_half_up(-amount)
    return int((amount * 2 + 1) // 2)


def apply_rate(fen: int, r: Fraction) -> int:
    """``fen x r`` rounded half-up to the fen: the plan's single rounding step."""
    return round_half_up(fen * r)


def half_up_div(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` (both >= 0) rounded half-up, in integers only."""
    return (2 * numerator + denominator) // (2 * denominator)
