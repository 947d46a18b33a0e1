"""CSV files people exchange with spreadsheets and banks: reading what they upload, writing cells they open.

One place for both rules, so every upload (registry import, the bank's return file,
the console's lists) is read alike and every download (bank file, reports) is safe
to open in Excel.
"""

from __future__ import annotations

from decimal import Decimal

from service.errors import Invalid

# A cell starting with one of these is taken for a formula by Excel, LibreOffice or WPS (CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def decode_csv(data: bytes | str) -> str:
    """The text of an uploaded CSV file: UTF-8 (with or without the BOM Excel writes), else GB18030.

    Excel saves "CSV UTF-8" with a BOM and plain "CSV" in the Windows code page, which in
    a Chinese locale is GBK, a subset of GB18030. Valid UTF-8 is taken as UTF-8 (GBK text
    of Chinese names is almost never valid UTF-8); anything else is decoded as GB18030.
    """
    if isinstance(data, str):
        text = data
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            try:
                text = data.decode("gb18030")
            except UnicodeDecodeError as err:
                raise Invalid.at("body", f"not text in UTF-8 or GB18030/GBK (byte {err.start} cannot be read)") from None
    text = text.removeprefix("\ufeff")
    if "\x00" in text:
        raise Invalid.at("body", "contains a NUL character: not a CSV text file")
    return text


def formula_safe(text: str) -> str:
    """A CSV cell no spreadsheet takes for a formula: text starting = + - @ tab CR gets a leading apostrophe.

    A plain number (``-12.50``) is left as it is, so amounts stay numbers.
    """
    if text.startswith(FORMULA_START) and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        Decimal(text)
    except ArithmeticError:
        return False
    return text.strip() == text and text.lower() not in ("nan", "-nan", "inf", "-inf", "infinity", "-infinity")
