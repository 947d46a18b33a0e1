"""Dates as the unions live them: "today" is the date in China, not in UTC.

China keeps one time zone, UTC+8, with no daylight saving, so a fixed offset is exact
and needs no time-zone database on the server.
"""

from __future__ import annotations

import datetime as dt

CHINA = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")


def china_today(now: dt.datetime | None = None) -> dt.date:
    """The date in China now (or at ``now``, an aware datetime)."""
    return (now or dt.datetime.now(dt.timezone.utc)).astimezone(CHINA).date()


# No plan, bill, allocation or payment of the service is older than 2000, and fund years
# end in 2100: a day outside is a typo or an attack (year 1 or 9999 has no midnight on
# the other side of UTC+8, and a report would count it).
FIRST_DAY = dt.date(2000, 1, 1)
LAST_DAY = dt.date(2100, 12, 31)


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
