"""Members, their mutual-aid enrollments and their hardship registrations."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache


class Gender(StrEnum):
    FEMALE = "F"
    MALE = "M"


class HardshipCategory(StrEnum):
    DIBAO = "dibao"  # 低保户
    DIBAO_UNENROLLED = "dibao_unenrolled"  # 应保未保户
    NEAR_DIBAO = "near_dibao"  # 低保边缘户
    ACCIDENT = "accident"  # 意外致困户


@dataclass(frozen=True, slots=True)
class Member:
    id: str
    gender: Gender | None = None
    birth_date: dt.date | None = None


@lru_cache(maxsize=4096)
def _period_key(start: dt.date, end: dt.date) -> str:
    # One string per distinct period, shared by every member and accumulator that names it.
    return f"{start.isoformat()}..{end.isoformat()}"


@dataclass(frozen=True, slots=True)
class Enrollment:
    """One period of mutual-aid membership (a calendar year by default)."""

    period_start: dt.date
    period_end: dt.date
    enrolled_on: dt.date

    def covers(self, day: dt.date) -> bool:
        return self.period_start <= day <= self.period_end

    @property
    def period_key(self) -> str:
        """Names the period in accumulators: '2026-01-01..2026-12-31'."""
        return _period_key(self.period_start, self.period_end)


@dataclass(frozen=True, slots=True)
class HardshipRegistration:
    """An entry of the union's hardship register (困难职工档案)."""

    category: HardshipCategory
    verified: bool
    registered_on: dt.date
    revoked_on: dt.date | None = None

    def active_on(self, day: dt.date) -> bool:
        return self.registered_on <= day and (self.revoked_on is None or self.revoked_on > day)


def hardship_on(registrations: Iterable["HardshipRegistration"], day: dt.date) -> HardshipRegistration | None:
    """The registration that decides a claim admitted on ``day``: the active one.

    Should several be active (a register that grew two entries), the latest registered
    wins, and of two registered the same day the one entered last (later in
    ``registrations``, which callers give in the order they were entered).
    """
    found: HardshipRegistration | None = None
    for r in registrations:
        if r.active_on(day) and (found is None or r.registered_on >= found.registered_on):
            found = r
    return found


@dataclass(frozen=True, slots=True)
class Membership:
    """What a member's enrollments say about one admission date."""

    enrollment: Enrollment
    renewing: bool
    membership_year: int

    @property
    def coverage_start(self) -> dt.date:
        """A renewing member is covered from the period start; anyone else from enrolling."""
        if self.renewing:
            return self.enrollment.period_start
        return max(self.enrollment.period_start, self.enrollment.enrolled_on)


def overlapping(enrollments: list[Enrollment]) -> tuple[Enrollment, Enrollment] | None:
    """The first two enrollments whose periods overlap (invalid input), if any."""
    ordered = sorted(enrollments, key=lambda e: e.period_start)
    for earlier, later in zip(ordered, ordered[1:]):
        if later.period_start <= earlier.period_end:
            return earlier, later
    return None


def membership_on(enrollments: list[Enrollment], day: dt.date) -> Membership | None:
    """The enrollment whose period contains ``day``, with renewal and membership year.

    Consecutive periods (one ending the day before the next starts) count as one
    unbroken membership; a gap restarts the membership year at 1.
    """
    current = next((e for e in enrollments if e.covers(day)), None)
    if current is None:
        return None
    by_end = {e.period_end: e for e in enrollments}
    year = 1
    cursor = current
    while (previous := by_end.get(cursor.period_start - dt.timedelta(days=1))) is not None:
        year += 1
        cursor = previous
    return Membership(enrollment=current, renewing=year > 1, membership_year=year)
