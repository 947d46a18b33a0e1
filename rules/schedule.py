"""Which plan version is in force on a day, written once.

A published version is in force from its ``effective_from`` until a version with a
later ``effective_from`` takes over; before the earliest one nothing is in force.
Two versions from the same day: the one listed later is in force (callers list
versions in the order they were published, so publishing a replacement for the same
day supersedes the older one). Deciding claims (service/plans.py), the simulation's
baseline (rules/simulation.py) and the check that publishing or retiring leaves no
day without a plan all ask this one class.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Iterable
from typing import Generic, TypeVar

T = TypeVar("T")


class Schedule(Generic[T]):
    """Items (plan versions, engines, documents) by the day they take effect."""

    def __init__(self, entries: Iterable[tuple[dt.date, T]]) -> None:
        # A stable sort keeps same-day entries in the order given: the last one wins.
        ordered = sorted(entries, key=lambda entry: entry[0])
        self._days = [day for day, _ in ordered]
        self._items = [item for _, item in ordered]

    def __len__(self) -> int:
        return len(self._items)

    def in_force(self, day: dt.date) -> T | None:
        """The item in force on ``day``, or None when nothing has taken effect by then."""
        i = bisect.bisect_right(self._days, day)
        return self._items[i - 1] if i else None

    def items(self) -> list[T]:
        """Every item that is in force on some day (one superseded on its own first day never is)."""
        return [item for i, item in enumerate(self._items) if i + 1 == len(self._days) or self._days[i + 1] != self._days[i]]

    def uncovered(self, start: dt.date, end: dt.date) -> tuple[dt.date, dt.date] | None:
        """The days from ``start`` to ``end`` (both included) with nothing in force, or None.

        A version stays in force until another replaces it, so only the days before
        the first one can lack a plan: the answer is one range or none.
        """
        if start > end:
            return None
        if not self._days or self._days[0] > end:
            return start, end
        if self._days[0] > start:
            return start, self._days[0] - dt.timedelta(days=1)
        return None


def in_force(entries: Iterable[tuple[dt.date, T]], day: dt.date) -> T | None:
    """The item in force on ``day`` among (effective_from, item) pairs listed in publication order."""
    return Schedule(entries).in_force(day)
