"""How a row's id is written wherever people or files name one: one rule for all.

Row ids are the tables' integer keys. The API's paths, the console's pages and the
bank's return file (whose reference is the payment item's id as we wrote it) read them
by these functions, so ``07`` is never row 7 in one place and unknown in another.
"""

from __future__ import annotations

import re

# Row ids are 32-bit integer keys (``Integer`` is int4 on PostgreSQL); a larger id in a
# path is refused as invalid input instead of reaching the driver (SQLite overflows).
MAX_ROW_ID = 2**31 - 1


# How a row id is written in a path: ASCII digits without a leading zero. Left to
# pydantic's lax integers, ``1.0``, `` 1``, ``+1``, ``1_0`` (which is 10) and ``01``
# named rows too: one row under many paths, in logs, idempotency records and a
# hospital's own links. The API, the console and the bank's return file read ids by this one rule.
_ROW_ID_SPELLING = re.compile(r"0|[1-9][0-9]*")


def row_id_spelled(value: str) -> bool:
    """Whether ``value`` is written as a row id is: digits 0-9, no leading zero."""
    return _ROW_ID_SPELLING.fullmatch(value) is not None


def is_row_id(value: str) -> bool:
    """Whether ``value`` is written as a row id is and names a number a row can have.

    The length is checked before ``int()``: Python refuses to read more than 4300
    digits (a ValueError, a 500 if it escaped), and no row id has more than 10.
    """
    return (row_id_spelled(value) and len(value) <= len(str(MAX_ROW_ID))
            and 1 <= int(value) <= MAX_ROW_ID)
