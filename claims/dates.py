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
