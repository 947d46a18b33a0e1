"""Dates as the unions live them: "today" is the date in China, not in UTC.

China keeps one time zone, UTC+8, with no daylight saving, so a fixed offset is exact
and needs no time-zone database on the server.
"""

from __future__ import annotations

import datetime as dt
import re

CHINA = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")


def china_today(now: dt.datetime | None = None) -> dt.date:
    """The date in China now (or at ``now``, an aware datetime)."""
    return (now or dt.datetime.now(dt.timezone.utc)).astimezone(CHINA).date()


# No plan, bill, allocation or payment of the service is older than 2000, and fund years
# end in 2100: a day outside is a typo or an attack (year 1 or 9999 has no midnight on
# the other side of UTC+8, and a report would count it).
FIRST_DAY = dt.date(2000, 1, 1)
LAST_DAY = dt.date(2100, 12, 31)


DAY_FORM = "YYYY-MM-DD"
_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def read_day(text: str) -> dt.date:
    """A day as a form, a query or a JSON body writes one here: ``YYYY-MM-DD``, nothing else.

    ``date.fromisoformat`` alone also reads ``20250710`` and ``2025-W27-1`` (and pydantic
    reads ``1767225600`` and ``"0"``): one day under many spellings, in an audit entry
    or a receipt date. ValueError names what is wrong.
    """
    if not _ISO_DAY.fullmatch(text):
        raise ValueError(f"is not a date ({DAY_FORM})")
    try:
        return dt.date.fromisoformat(text)
    except ValueError as err:  # 2026-02-30
        raise ValueError(f"is not a date: {err}") from None


def check_service_day(day: dt.date) -> dt.date:
    """A day the service can hold (``FIRST_DAY``..``LAST_DAY``); ValueError otherwise."""
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(f"must be a day from {FIRST_DAY.isoformat()} to {LAST_DAY.isoformat()}")
    return day


def happened(day: dt.date, now: dt.datetime | None = None) -> bool:
    """A day something can have happened on: from ``FIRST_DAY`` to tomorrow in China (a clock a little ahead)."""
    return FIRST_DAY <= day <= china_today(now) + dt.timedelta(days=1)


def china_midnight(day: dt.date) -> dt.datetime:
    """When ``day`` starts in China, as a UTC instant: where a day's window or a date-only expiry begins."""
    return dt.datetime.combine(day, dt.time(), CHINA).astimezone(dt.timezone.utc)


def as_utc(moment: dt.datetime) -> dt.datetime:
    """A stored time as an aware UTC instant, the same on both databases.

    SQLite gives a DateTime(timezone=True) column back without its zone (it was stored
    in UTC); PostgreSQL gives it in the server's zone.
    """
    return moment.replace(tzinfo=dt.timezone.utc) if moment.tzinfo is None else moment.astimezone(dt.timezone.utc)
