"""Money: yuan amounts parsed into integer fen, printed back, and rounded half-up."""

from decimal import Decimal
from fractions import Fraction

import pytest

from claims.money import AmountError, apply_rate, format_fen, half_up_div, parse_yuan, rate, round_half_up


@pytest.mark.parametrize(
    ("spelling", "fen"),
    [
        ("0", 0),
        ("0.00", 0),
        ("0.01", 1),
        ("12", 1200),
        ("1234.5", 123450),
        ("1234.56", 123456),
        ("100.000", 10000),
        ("100.0100", 10001),
        ("58000.00", 5800000),
        ("999999999999999.99", 99999999999999999),
        ("1.00" + "0" * 40, 100),  # zeros past the fen, however many
        ("0E-1000", 0),
        ("1E+15", 10**17),
    ],
)
def test_a_yuan_string_is_read_as_exact_fen(spelling, fen):
    assert parse_yuan(spelling) == fen


def test_an_integer_is_read_as_whole_yuan():
    assert parse_yuan(0) == 0
    assert parse_yuan(12) == 1200


@pytest.mark.parametrize(
    ("value", "fen"),
    [(Decimal("0.01"), 1), (Decimal("100.000"), 10000), (Decimal("1234.56"), 123456), (Decimal("1E+2"), 10000)],
)
def test_a_decimal_is_read_exactly(value, fen):
    assert parse_yuan(value) == fen


@pytest.mark.parametrize(
    "value",
    [
        "0.001",  # a third decimal that is not zero
        "100.005",
        "-1",
        "-0.01",
        "NaN",
        "Infinity",
        "-Infinity",
        "inf",
        "",
        " 12",
        "12 ",
        "1,000",
        "12.3.4",
        "12a",
        "１２",  # full-width digits
        "١٢",  # Arabic-Indic digits
        "12.٥",
        "1e400",
        # Past Decimal's 28 digits of precision: ``dec * 100`` rounded these to whole fen.
        "4000.0000000000000000000000000001",
        "1.000000000000000000000000000001",
        "1e-999999999999",
        "0." + "0" * 40 + "1",
    ],
)
def test_a_string_that_is_not_a_fen_amount_is_refused(value):
    with pytest.raises(AmountError):
        parse_yuan(value)


@pytest.mark.parametrize("value", [Decimal("0.001"), Decimal("-1"), Decimal("NaN"), Decimal("Infinity"), -1,
                                   Decimal("4000.0000000000000000000000000001"), Decimal("1E-40")])
def test_a_decimal_or_integer_that_is_not_a_fen_amount_is_refused(value):
    with pytest.raises(AmountError):
        parse_yuan(value)


@pytest.mark.parametrize("value", [100.0, 0.1, 1.5, True, False, None, [100], {"yuan": 1}])
def test_floats_booleans_and_other_types_are_refused(value):
    with pytest.raises(AmountError):
        parse_yuan(value)


@pytest.mark.parametrize(
    ("fen", "text"),
    [
        (0, "0.00"), (1, "0.01"), (10, "0.10"), (10000, "100.00"), (123456, "1234.56"), (50000000, "500000.00"),
        (-5, "-0.05"),
    ],
)
def test_fen_print_as_yuan_with_exactly_two_decimals(fen, text):
    assert format_fen(fen) == text


def test_printing_and_parsing_round_trip():
    for fen in (0, 1, 99, 100, 4000001, 99999999999999999):
        assert parse_yuan(format_fen(fen)) == fen


def test_a_rate_is_an_exact_fraction_of_its_decimal_spelling():
    assert rate("0.40") == Fraction(2, 5)
    assert rate(Decimal("0.7")) == Fraction(7, 10)
    assert rate(1) == Fraction(1)
    with pytest.raises(TypeError):
        rate(0.4)


@pytest.mark.parametrize(
    ("amount", "fen"),
    [
        (Fraction(5, 2), 3),  # a half rounds up, not to even
        (Fraction(7, 2), 4),
        (Fraction(249, 100), 2),
        (Fraction(251, 100), 3),
        (Fraction(1, 2), 1),
        (Fraction(0), 0),
        (Fraction(4), 4),
    ],
)
def test_rounding_is_half_up_to_the_fen(amount, fen):
    assert round_half_up(amount) == fen


def test_a_rate_applied_to_fen_is_rounded_half_up_once():
    assert apply_rate(12345, Fraction(1, 2)) == 6173  # 6172.5
    assert apply_rate(100003, rate("0.40")) == 40001  # 40001.2
    assert apply_rate(100005, rate("0.70")) == 70004  # 70003.5
    assert apply_rate(5555556, rate("0.90")) == 5000000  # 5000000.4


@pytest.mark.parametrize(
    ("numerator", "denominator", "quotient"),
    [(5, 2, 3), (7, 2, 4), (1, 3, 0), (2, 3, 1), (10, 5, 2), (0, 7, 0), (40001, 2, 20001), (15, 10, 2), (14, 10, 1)],
)
def test_integer_division_rounds_half_up(numerator, denominator, quotient):
    assert half_up_div(numerator, denominator) == quotient
