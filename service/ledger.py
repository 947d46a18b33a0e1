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
import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from claims.dates import china_today
from store import models

# ----------------------------------------------------------------------------- accounts

BANK_MUTUAL_AID = "Assets:Bank:MutualAid"
BANK_RELIEF = "Assets:Bank:Relief"
RECOVERIES = "Assets:Receivable:Recoveries"
PAYABLE_MEMBERS = "Liabilities:Payable:Members"
CONTRIBUTIONS_MEMBERS = "Income:Contributions:Members"
CONTRIBUTIONS_UNION_SUBSIDY = "Income:Contributions:UnionSubsidy"

# Relief sources and their account segment (``funds.md`` §1).
SOURCE_SEGMENTS = {"central": "Central", "region": "Region", "league": "League", "charity": "Charity"}
RELIEF_BENEFITS = frozenset({"CIR"})  # paid from the relief bank account; the rest from mutual aid

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


def bank_account_for(benefit: str) -> str:
    """The bank account a benefit is paid from: relief for CIR, mutual aid otherwise."""
    return BANK_RELIEF if benefit in RELIEF_BENEFITS else BANK_MUTUAL_AID


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


@dataclass(frozen=True, slots=True)
class Entry:
    """A journal entry to be written by ``post_many``."""

    event: str
    legs: Sequence[Leg]
    ref: str
    memo: str = ""
    booked_on: dt.date | None = None
    reverses_id: int | None = None


def post_many(session: Session, entries: Sequence[Entry]) -> list[int]:
    """Write balanced entries in two statements (entries, then all their postings); their ids.

    Each entry is checked as ``post`` checks it; one that does not balance refuses
    them all. An entry whose legs are all 0.00 is not written (its id is 0).
    """
    kept: list[tuple[Entry, list[Leg]]] = []
    for e in entries:
        legs = [leg for leg in e.legs if leg.amount != 0]
        for leg in legs:
            if type(leg.amount) is not int:  # noqa: E721 - bool and float are refused alike
                raise UnbalancedEntry(f"{e.event}: amount {leg.amount!r} is not integer fen")
            if not valid_account(leg.account):
                raise UnbalancedEntry(f"{e.event}: account {leg.account!r} is not a ledger account name")
        if legs and sum(leg.amount for leg in legs) != 0:
            raise UnbalancedEntry(f"{e.event} {e.ref}: postings add up to {sum(leg.amount for leg in legs)} fen, not 0")
        kept.append((e, legs))
    written = [(e, legs) for e, legs in kept if legs]
    if not written:
        return [0] * len(entries)
    now, today = dt.datetime.now(dt.timezone.utc), china_today()
    ids = session.scalars(
        insert(models.JournalEntry).returning(models.JournalEntry.id, sort_by_parameter_order=True),
        [{"event": e.event, "ref": e.ref, "memo": e.memo, "booked_on": e.booked_on or today,
          "reverses_id": e.reverses_id, "created_at": now} for e, _ in written],
    ).all()
    # The table's insert, not the ORM's bulk insert: that one splits the rows by which
    # columns are None (a statement for member legs, another for fund legs).
    session.execute(models.Posting.__table__.insert(), [
        {"entry_id": entry_id, "account": leg.account, "amount": leg.amount, "fund_source": leg.fund_source,
         "fund_year": leg.fund_year, "league_id": leg.league_id, "member_id": leg.member_id,
         "claim_id": leg.claim_id, "line_id": leg.line_id}
        for entry_id, (_, legs) in zip(ids, written) for leg in legs
    ])
    by_entry = iter(ids)
    return [next(by_entry) if legs else 0 for _, legs in kept]


def reverse(session: Session, entry_id: int, event: str, *, ref: str, memo: str = "",
            booked_on: dt.date | None = None) -> int:
    """A new entry negating every leg of ``entry_id`` (the correction of an append-only ledger)."""
    legs = [
        Leg(p.account, -p.amount, p.fund_source, p.fund_year, p.league_id, p.member_id, p.claim_id, p.line_id)
        for p in session.scalars(select(models.Posting).where(models.Posting.entry_id == entry_id).order_by(models.Posting.id))
    ]
    return post(session, event, legs, ref=ref, memo=memo, booked_on=booked_on, reverses_id=entry_id)
