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
from store.repositories import insert_rows, next_ids

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
    legs = [leg for leg in legs if leg.amount != 0]
    for leg in legs:
        if type(leg.amount) is not int:  # noqa: E721 - bool and float are refused alike
            raise UnbalancedEntry(f"{event}: amount {leg.amount!r} is not integer fen")
        if not valid_account(leg.account):
            raise UnbalancedEntry(f"{event}: account {leg.account!r} is not a ledger account name")
    if not legs:
        return 0
    if sum(leg.amount for leg in legs) != 0:
        raise UnbalancedEntry(f"{event} {ref}: postings add up to {sum(leg.amount for leg in legs)} fen, not 0")
    entry_id = session.execute(
        insert(models.JournalEntry).values(
            event=event, ref=ref, memo=memo, booked_on=booked_on or china_today(), reverses_id=reverses_id,
            created_at=dt.datetime.now(dt.timezone.utc),
        ).returning(models.JournalEntry.id)
    ).scalar_one()
    session.execute(insert(models.Posting), [
        {"entry_id": entry_id, "account": leg.account, "amount": leg.amount, "fund_source": leg.fund_source,
         "fund_year": leg.fund_year, "league_id": leg.league_id, "member_id": leg.member_id,
         "claim_id": leg.claim_id, "line_id": leg.line_id}
        for leg in legs
    ])
    return entry_id


def reverse(session: Session, entry_id: int, event: str, *, ref: str, memo: str = "",
            booked_on: dt.date | None = None) -> int:
    """A new entry negating every leg of ``entry_id`` (the correction of an append-only ledger)."""
    legs = [
        Leg(p.account, -p.amount, p.fund_source, p.fund_year, p.league_id, p.member_id, p.claim_id, p.line_id)
        for p in session.scalars(select(models.Posting).where(models.Posting.entry_id == entry_id).order_by(models.Posting.id))
    ]
    return post(session, event, legs, ref=ref, memo=memo, booked_on=booked_on, reverses_id=entry_id)


def post_many(session: Session, entries: Sequence[tuple[str, Sequence[Leg], str, str]], *,
              booked_on: dt.date | None = None, reverses: Sequence[int | None] | None = None) -> list[int]:
    """Write many balanced entries ``(event, legs, ref, memo)`` in two statements; their ids, in order.

    For events that come by the thousand (a bank's return file settles a whole payment
    run): one insert of the entries and one of all their postings, instead of two
    statements an entry. Each entry is checked as ``post`` checks one; an entry whose legs
    are all 0.00 gets no row and the id 0. ``reverses``: the entry each one reverses, if any.
    """
    kept: list[tuple[int, str, list[Leg], str, str]] = []
    for i, (event, legs, ref, memo) in enumerate(entries):
        legs = [leg for leg in legs if leg.amount != 0]
        for leg in legs:
            if type(leg.amount) is not int:  # noqa: E721
                raise UnbalancedEntry(f"{event}: amount {leg.amount!r} is not integer fen")
            if not valid_account(leg.account):
                raise UnbalancedEntry(f"{event}: account {leg.account!r} is not a ledger account name")
        if sum(leg.amount for leg in legs) != 0:
            raise UnbalancedEntry(f"{event} {ref}: postings add up to {sum(leg.amount for leg in legs)} fen, not 0")
        if legs:
            kept.append((i, event, legs, ref, memo))
    ids = [0] * len(entries)
    if not kept:
        return ids
    now = dt.datetime.now(dt.timezone.utc)
    day = booked_on or china_today()
    entry_rows = [{"event": event, "ref": ref, "memo": memo, "booked_on": day, "created_at": now,
                   "reverses_id": reverses[i] if reverses is not None else None}
                  for i, event, _legs, ref, memo in kept]
    made = next_ids(session, models.JournalEntry.__table__, len(entry_rows))
    if made is None:
        made = session.scalars(insert(models.JournalEntry).returning(models.JournalEntry.id, sort_by_parameter_order=True),
                               entry_rows).all()
    else:
        insert_rows(session, models.JournalEntry.__table__, [{"id": i, **row} for i, row in zip(made, entry_rows)])
    postings = []
    for entry_id, (i, _event, legs, _ref, _memo) in zip(made, kept):
        ids[i] = entry_id
        postings.extend({"entry_id": entry_id, "account": leg.account, "amount": leg.amount,
                         "fund_source": leg.fund_source, "fund_year": leg.fund_year, "league_id": leg.league_id,
                         "member_id": leg.member_id, "claim_id": leg.claim_id, "line_id": leg.line_id}
                        for leg in legs)
    insert_rows(session, models.Posting.__table__, postings)
    return ids


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
    ids = post_many(session, [(event, legs[entry_id], ref, f"reverses entry {entry_id}")
                              for entry_id, event, ref in reversals], booked_on=booked_on, reverses=wanted)
    return ids
