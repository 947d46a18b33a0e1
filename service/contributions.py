"""Contributions: what each member-period brings into the mutual-aid pool (``funds.md`` §1).

One contribution per enrollment, recorded with it, in the same transaction: the
members' part and the regional union's subsidy, as the funding rules of the plan in
force on the period's start say (``claims.funding``), and one journal entry booking
both into ``Assets:Bank:MutualAid``. The entry's legs carry the member, the fund source
(``contributions`` / ``union_subsidy``), the period's year and the member's league, so
the fund statements sum them by those columns.

A contribution is never edited: taking one back (an enrollment removed) is a
reversing entry (``reverse``).
"""

from __future__ import annotations

import dataclasses

import datetime as dt
import threading
from collections.abc import Callable, Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from claims.dates import china_today
from claims.funding import DEFAULT_FUNDING, Funding, funding_of
from rules.document import validate_plan
from rules.schedule import Schedule
from service import funds, ledger
from service.plans import published
from store import models
from store.repositories import insert_many

RECEIVED = "contribution.received"
REVERSED = "contribution.reversed"
SOURCE_MEMBERS = "contributions"
SOURCE_UNION_SUBSIDY = "union_subsidy"

_CONTRIBUTION_COLUMNS = ("member_id", "enrollment_id", "period_start", "members_amount", "union_subsidy_amount",
                         "recorded_on", "entry_id")

# Funding by plan content hash: a document is validated once per process, not per enrollment.
_funding_by_hash: dict[str, Funding] = {}
_funding_lock = threading.Lock()


def funding_by_day(session: Session, days: Iterable[dt.date]) -> dict[dt.date, Funding]:
    """The funding rules of the published plan in force on each day (rules/schedule.py decides which).

    A day before every published version takes ``DEFAULT_FUNDING`` (what ``funds.md``
    says): an enrollment is never refused for want of a plan.
    """
    days = set(days)
    schedule = Schedule((v.effective_from, v) for v in published(
        session, models.PlanVersion.id, models.PlanVersion.content_hash, models.PlanVersion.effective_from))
    found: dict[dt.date, Funding] = {}
    for day in days:
        version = schedule.in_force(day)
        if version is None:
            found[day] = DEFAULT_FUNDING
            continue
        with _funding_lock:
            funding = _funding_by_hash.get(version.content_hash or "")
        if funding is None:
            document = session.scalar(select(models.PlanVersion.document).where(models.PlanVersion.id == version.id))
            funding = funding_of(validate_plan(document))
            if version.content_hash:
                with _funding_lock:
                    _funding_by_hash[version.content_hash] = funding
        found[day] = funding
    return found


def _legs(member_id: str, league_id: str | None, period_start: dt.date, funding: Funding) -> list[ledger.Leg]:
    year = period_start.year
    return [
        ledger.Leg(ledger.BANK_MUTUAL_AID, funding.contribution, SOURCE_MEMBERS, year, league_id, member_id),
        ledger.Leg(ledger.CONTRIBUTIONS_MEMBERS, -funding.contribution, SOURCE_MEMBERS, year, league_id, member_id),
        ledger.Leg(ledger.BANK_MUTUAL_AID, funding.union_subsidy, SOURCE_UNION_SUBSIDY, year, league_id, member_id),
        ledger.Leg(ledger.CONTRIBUTIONS_UNION_SUBSIDY, -funding.union_subsidy, SOURCE_UNION_SUBSIDY, year, league_id,
                   member_id),
    ]


def _memo(member_id: str, period_start: dt.date) -> str:
    return f"member {member_id}, period from {period_start}"


def record(session: Session, enrollment: models.Enrollment) -> models.Contribution:
    """Record the contribution of a new enrollment and book it; set on ``enrollment.contribution``."""
    funding = funding_by_day(session, [enrollment.period_start])[enrollment.period_start]
    today = china_today()
    entry_id = ledger.post(
        session, RECEIVED,
        _legs(enrollment.member_id, funds.leagues_of(session, [enrollment.member_id]).get(enrollment.member_id), enrollment.period_start, funding),
        ref=f"enrollment:{enrollment.id}", memo=_memo(enrollment.member_id, enrollment.period_start), booked_on=today)
    contribution = models.Contribution(
        member_id=enrollment.member_id, enrollment_id=enrollment.id, period_start=enrollment.period_start,
        members_amount=funding.contribution, union_subsidy_amount=funding.union_subsidy, recorded_on=today,
        entry_id=entry_id or None)
    session.add(contribution)
    session.flush()
    set_committed_value(enrollment, "contribution", contribution)
    return contribution


def record_many(session: Session, enrollments: list[tuple[int, str, dt.date]], league_id: str | None, *,
                pause: Callable[[int], None] | None = None) -> int:
    """Record the contributions of new enrollments (id, member id, period start) of one union's members, in bulk.

    For an import of thousands: the funding of each distinct period start is read
    once, and the whole file is booked as ONE journal entry: a credit leg per member and
    source (each with its member, year and league, as ``record`` books them) and the
    bank's debit once per source and year. An entry per enrollment would write 500,000
    ledger rows for 100,000 enrollments, which the database indexes on the same cores
    the readers need (reads during such an import passed 100 ms at p99). ``league_id``
    is the league of the members' union; ``pause`` goes to the bulk inserts. How many
    were recorded.
    """
    if not enrollments:
        return 0
    funding = funding_by_day(session, {start for _, _, start in enrollments})
    today = china_today()
    credits: list[ledger.Leg] = []
    banked: dict[tuple[str, int], int] = {}
    for _enrollment_id, member_id, start in enrollments:
        for leg in _legs(member_id, league_id, start, funding[start]):
            if leg.account == ledger.BANK_MUTUAL_AID:
                key = (leg.fund_source, leg.fund_year)
                banked[key] = banked.get(key, 0) + leg.amount
            else:
                credits.append(leg)
    bank = [ledger.Leg(ledger.BANK_MUTUAL_AID, fen, source, year, league_id)
            for (source, year), fen in sorted(banked.items())]
    first, last = enrollments[0][0], enrollments[-1][0]
    entry_id = ledger.post_many(session, [
        ledger.Entry(RECEIVED, [*bank, *credits], ref=f"enrollments:{first}-{last}",
                     memo=f"{len(enrollments)} enrollments imported", booked_on=today)], pause=pause)[0]
    insert_many(session, models.Contribution.__table__, _CONTRIBUTION_COLUMNS, [
        (member_id, enrollment_id, start, funding[start].contribution, funding[start].union_subsidy, today,
         entry_id or None)
        for enrollment_id, member_id, start in enrollments
    ], pause=pause)
    return len(enrollments)


def reverse(session: Session, enrollment_id: int, *, reason: str) -> int | None:
    """Take back the contribution of an enrollment being removed: a reversing entry; its id (None: nothing booked).

    The contribution's row goes (so the enrollment can go too); the ledger keeps both
    entries, the booking and its reversal, which is the record of what happened.
    """
    contribution = session.scalar(select(models.Contribution).where(models.Contribution.enrollment_id == enrollment_id))
    if contribution is None:
        return None
    reversal = None
    if contribution.entry_id is not None and session.scalar(
            select(models.JournalEntry.ref).where(models.JournalEntry.id == contribution.entry_id)) \
            == f"enrollment:{enrollment_id}":
        # Booked on its own (``record``): the entry reversed as it stands.
        reversal = ledger.reverse(session, contribution.entry_id, REVERSED, ref=f"enrollment:{enrollment_id}",
                                  memo=reason)
    elif contribution.entry_id is not None:
        # Booked with an imported file (one entry for many members): this contribution's own
        # legs negated, from what the row says was booked.
        league_id = funds.leagues_of(session, [contribution.member_id]).get(contribution.member_id)
        booked = Funding(contribution=contribution.members_amount, union_subsidy=contribution.union_subsidy_amount)
        reversal = ledger.post(session, REVERSED, [
            dataclasses.replace(leg, amount=-leg.amount)
            for leg in _legs(contribution.member_id, league_id, contribution.period_start, booked)],
            ref=f"enrollment:{enrollment_id}", memo=reason) or None
    session.delete(contribution)
    session.flush()
    return reversal
