"""The ledger: double entry, integer fen, append-only (``funds.md`` §4).

Every event that moves money posts one journal entry, in the same transaction as the
event, through ``post``: its legs add up to zero or nothing is written. Debits are
positive, credits negative. A mistake is corrected by ``reverse`` (a new entry with
every leg negated), never by an edit.

The account names follow the five roots (``Assets``, ``Liabilities``, ``Equity``,
``Income``, ``Expenses``), so the ledger exports to Beancount as it is.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from claims.dates import china_today
from claims.funding import RELIEF
from service import report_facts
from store import models
from store.repositories import insert_many, is_postgres

# ----------------------------------------------------------------------------- accounts

BANK_MUTUAL_AID = "Assets:Bank:MutualAid"
BANK_RELIEF = "Assets:Bank:Relief"
RECOVERIES = "Assets:Receivable:Recoveries"
PAYABLE_MEMBERS = "Liabilities:Payable:Members"
CONTRIBUTIONS_MEMBERS = "Income:Contributions:Members"
CONTRIBUTIONS_UNION_SUBSIDY = "Income:Contributions:UnionSubsidy"

# Relief sources and their account segment (``funds.md`` §1).
SOURCE_SEGMENTS = {"central": "Central", "region": "Region", "league": "League", "charity": "Charity"}

_SEGMENT = re.compile(r"[A-Z][A-Za-z0-9-]*")
ROOTS = ("Assets", "Liabilities", "Equity", "Income", "Expenses")


def league_segment(league_id: str) -> str:
    """A league's union id as an account segment (Beancount: a capital letter, then letters, digits, '-')."""
    cleaned = re.sub(r"[^A-Za-z0-9-]", "-", league_id)
    return cleaned if cleaned[:1].isupper() else f"L{cleaned}"


def allocation_account(source: str, league_id: str | None = None) -> str:
    """``Income:Allocations:<Source>``; league money per league: ``Income:Allocations:League:<code>``."""
    account = f"Income:Allocations:{SOURCE_SEGMENTS[source]}"
    return f"{account}:{league_segment(league_id)}" if source == "league" and league_id else account


def benefit_expense_account(benefit: str, source: str | None = None) -> str:
    """``Expenses:Benefits:<BENEFIT>``; CIR per source: ``Expenses:Benefits:CIR:<Source>``."""
    account = f"Expenses:Benefits:{league_segment(benefit)}"
    return f"{account}:{SOURCE_SEGMENTS[source]}" if source else account


def bank_account_for(fund: str) -> str:
    """The bank account a fund pays from: relief money from the relief account, mutual aid from its own.

    Which fund pays a benefit is the plan's (``Funding.fund_of``), kept on the line's charges.
    """
    return BANK_RELIEF if fund == RELIEF else BANK_MUTUAL_AID


@functools.lru_cache(maxsize=4096)  # a ledger has few accounts; an import checks them 400,000 times
def valid_account(name: str) -> bool:
    parts = name.split(":")
    return len(parts) >= 2 and parts[0] in ROOTS and all(_SEGMENT.fullmatch(p) for p in parts[1:])


# ----------------------------------------------------------------------------- posting


@dataclass(frozen=True, slots=True)
class Leg:
    """One posting to be made: debit positive, credit negative, with its dimensions."""

    account: str
    amount: int
    fund_source: str | None = None
    fund_year: int | None = None
    league_id: str | None = None
    member_id: str | None = None
    claim_id: int | None = None
    line_id: int | None = None


class UnbalancedEntry(ValueError):
    """A journal entry whose legs do not add up to zero: a bug, never written."""


def post(session: Session, event: str, legs: Sequence[Leg], *, ref: str, memo: str = "",
         booked_on: dt.date | None = None, reverses_id: int | None = None) -> int:
    """Write one balanced journal entry with its postings; its id. Legs of 0.00 are left out."""
    return post_many(session, [Entry(event, legs, ref, memo, booked_on, reverses_id)])[0]


def _checked(event: str, ref: str, legs: Sequence[Leg]) -> list[Leg]:
    """The legs that move money, once each is integer fen on a valid account and they add up to zero."""
    legs = [leg for leg in legs if leg.amount != 0]
    for leg in legs:
        if type(leg.amount) is not int:  # noqa: E721 - bool and float are refused alike
            raise UnbalancedEntry(f"{event}: amount {leg.amount!r} is not integer fen")
        if not valid_account(leg.account):
            raise UnbalancedEntry(f"{event}: account {leg.account!r} is not a ledger account name")
    total = sum(leg.amount for leg in legs)
    if total != 0:
        raise UnbalancedEntry(f"{event} {ref}: postings add up to {total} fen, not 0")
    return legs


def reverse(session: Session, entry_id: int, event: str, *, ref: str, memo: str = "",
            booked_on: dt.date | None = None) -> int:
    """A new entry negating every leg of ``entry_id`` (the correction of an append-only ledger)."""
    legs = [
        Leg(p.account, -p.amount, p.fund_source, p.fund_year, p.league_id, p.member_id, p.claim_id, p.line_id)
        for p in session.scalars(select(models.Posting).where(models.Posting.entry_id == entry_id).order_by(models.Posting.id))
    ]
    return post(session, event, legs, ref=ref, memo=memo, booked_on=booked_on, reverses_id=entry_id)


# Up to this many entries (and legs) are written with INSERT ... RETURNING; more (an
# import, a payment run) by drawing their ids first and copying them in bulk.
_FEW = 50
_FEW_LEGS = 1000  # an imported file's one entry of 200,000 legs goes by COPY too


@dataclass(frozen=True, slots=True)
class Entry:
    """One journal entry to be written by ``post_many``."""

    event: str
    legs: Sequence[Leg]
    ref: str
    memo: str = ""
    booked_on: dt.date | None = None
    reverses_id: int | None = None


# Built once (a statement built anew is walked anew for SQLAlchemy's cache key).
_INSERT_ENTRIES = (insert(models.JournalEntry.__table__)
                   .returning(models.JournalEntry.__table__.c.id, sort_by_parameter_order=True))
_INSERT_POSTINGS = insert(models.Posting.__table__)


def post_many(session: Session, entries: Sequence[Entry], *, pause: Callable[[int], None] | None = None) -> list[int]:
    """Write many balanced entries in bulk (an import's thousands): their ids, in order; 0 for one with no legs.

    The same checks as ``post``, every entry before anything is written. The ids are
    taken up front (PostgreSQL: from the sequence; SQLite: after the largest, under the
    transaction's write lock), so entries and postings go in as two bulk inserts
    (``store.repositories.insert_many``: COPY on PostgreSQL) instead of a statement
    per entry. ``pause`` goes to the inserts (an import lets the worker's other requests run).
    """
    checked = [(e, _checked(e.event, e.ref, e.legs)) for e in entries]
    wanted = sum(1 for _, legs in checked if legs)
    if not wanted:
        return [0] * len(checked)
    now, today = dt.datetime.now(dt.timezone.utc), china_today()
    if wanted <= _FEW and sum(len(legs) for _, legs in checked) <= _FEW_LEGS:
        # A claim's or an allocation's entry: two plain statements (the entries with their
        # ids returned, then all the postings) cost less than drawing ids and COPY.
        kept = [(e, legs) for e, legs in checked if legs]
        made = iter(session.scalars(_INSERT_ENTRIES, [
            {"event": e.event, "ref": e.ref, "memo": e.memo, "booked_on": e.booked_on or today,
             "reverses_id": e.reverses_id, "created_at": now} for e, _ in kept]).all())
        written = [next(made) if legs else 0 for _, legs in checked]
        # The table's insert, not the ORM's bulk insert: that one splits the rows by which
        # columns are None (a statement for member legs, another for fund legs).
        session.execute(_INSERT_POSTINGS, [
            {"entry_id": entry_id, "account": leg.account, "amount": leg.amount, "fund_source": leg.fund_source,
             "fund_year": leg.fund_year, "league_id": leg.league_id, "member_id": leg.member_id,
             "claim_id": leg.claim_id, "line_id": leg.line_id}
            for entry_id, (_, legs) in zip(written, checked) if entry_id for leg in legs])
        report_facts.record_entries(session, [(entry_id, entry.event, entry.booked_on or today, legs)
                                              for entry_id, (entry, legs) in zip(written, checked) if entry_id])
        return written
    if is_postgres(session):
        ids = iter(session.scalars(text(
            "SELECT nextval(pg_get_serial_sequence('journal_entries', 'id')) FROM generate_series(1, :n)"),
            {"n": wanted}).all())
    else:
        first = (session.scalar(select(func.max(models.JournalEntry.id))) or 0) + 1
        ids = iter(range(first, first + wanted))
    written: list[int] = []
    entry_rows: list[tuple] = []
    posting_rows: list[tuple] = []
    for entry, legs in checked:
        if not legs:
            written.append(0)
            continue
        entry_id = next(ids)
        written.append(entry_id)
        entry_rows.append((entry_id, entry.event, entry.ref, entry.memo, entry.booked_on or today,
                           entry.reverses_id, now))
        posting_rows.extend((entry_id, leg.account, leg.amount, leg.fund_source, leg.fund_year, leg.league_id,
                             leg.member_id, leg.claim_id, leg.line_id) for leg in legs)
    insert_many(session, models.JournalEntry.__table__,
                ("id", "event", "ref", "memo", "booked_on", "reverses_id", "created_at"), entry_rows, pause=pause)
    insert_many(session, models.Posting.__table__,
                ("entry_id", "account", "amount", "fund_source", "fund_year", "league_id", "member_id", "claim_id",
                 "line_id"), posting_rows, pause=pause)
    # The federation report's rows of these entries, in their transaction (service.report_facts).
    report_facts.record_entries(session, [(entry_id, entry.event, entry.booked_on or today, legs)
                                          for entry_id, (entry, legs) in zip(written, checked) if entry_id])
    return written


def reverse_many(session: Session, reversals: Sequence[tuple[int, str, str]], *,
                 booked_on: dt.date | None = None) -> list[int]:
    """``reverse`` for many entries ``(entry id, event, ref)`` at once: each gets its own reversing entry."""
    if not reversals:
        return []
    wanted = [entry_id for entry_id, _e, _r in reversals]
    legs: dict[int, list[Leg]] = {entry_id: [] for entry_id in wanted}
    for p in session.scalars(select(models.Posting).where(models.Posting.entry_id.in_(wanted)).order_by(models.Posting.id)):
        legs[p.entry_id].append(Leg(p.account, -p.amount, p.fund_source, p.fund_year, p.league_id, p.member_id,
                                    p.claim_id, p.line_id))
    return post_many(session, [Entry(event, legs[entry_id], ref, f"reverses entry {entry_id}", booked_on, entry_id)
                               for entry_id, event, ref in reversals])
