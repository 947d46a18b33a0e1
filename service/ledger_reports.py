"""What the ledger says: the trial balance, fund statements, and the Beancount export.

All of it is sums over ``postings`` (integer fen); nothing here writes. Fund
statements read the postings' fund columns (source, year, league), never the
account names' segments, except to tell money in from charges:

- money in: credits on ``Income:Allocations:*`` (relief) and ``Income:Contributions:*``
  (the mutual-aid pool: members' contributions and the union subsidy);
- charges: debits on ``Expenses:Benefits:*`` (net: a reversal or a recovery, a
  credit there, takes a charge back).

A posting's year is its ``fund_year`` (the admission year of a charge, the period's
year of a contribution, the allocation's year); one without it counts in the year it
was booked.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TextIO

from sqlalchemy import case, extract, func, select
from sqlalchemy.orm import Session

from claims.dates import china_today
from claims.funding import MUTUAL_AID, RELIEF_SOURCES
from claims.money import format_fen
from service import funds
from service.auth import Principal, Role
from service.errors import Invalid
from store import models

# The statement's funds: the mutual-aid pool, then each relief source (funds.md §1).
STATEMENT_SOURCES = (MUTUAL_AID, *RELIEF_SOURCES)
_MONEY_IN = ("Income:Allocations:", "Income:Contributions:")
_CHARGES = "Expenses:Benefits:"
CURRENCY = "CNY"


# ----------------------------------------------------------------------------- trial balance


@dataclass(frozen=True, slots=True)
class TrialBalance:
    """Each account's balance (fen, debit +) and their total, which is 0 in a ledger of balanced entries."""

    as_of: dt.date | None
    balances: list[tuple[str, int]]

    @property
    def total(self) -> int:
        return sum(fen for _, fen in self.balances)


def trial_balance(session: Session, as_of: dt.date | None = None) -> TrialBalance:
    """The balance of every account, from every entry booked on or before ``as_of`` (default: all)."""
    P, J = models.Posting, models.JournalEntry
    query = select(P.account, func.sum(P.amount)).group_by(P.account).order_by(P.account)
    if as_of is not None:
        query = query.join(J, J.id == P.entry_id).where(J.booked_on <= as_of)
    return TrialBalance(as_of, [(account, int(total)) for account, total in session.execute(query)])


# ----------------------------------------------------------------------------- fund statements


@dataclass(frozen=True, slots=True)
class StatementLine:
    """One fund's movement over the period: closing = opening + allocations − charges (fen).

    For the mutual-aid pool ``allocations`` is the money in: contributions and the
    union subsidy. A pool in deficit closes below zero.
    """

    source: str
    year: int
    league_id: str | None
    opening: int
    allocations: int
    charges: int

    @property
    def closing(self) -> int:
        return self.opening + self.allocations - self.charges


def _statement_source(fund_source: str | None) -> str:
    # The relief sources keep their own lines; everything else (contributions, union
    # subsidy, the charges of mutual-aid benefits) is the mutual-aid pool.
    return fund_source if fund_source in RELIEF_SOURCES else MUTUAL_AID


def statements(session: Session, who: Principal, *, year: int, source: str | None = None, league: str | None = None,
               from_: dt.date | None = None, to: dt.date | None = None) -> list[StatementLine]:
    """Each fund's statement for ``year`` (fund year) between ``from_`` (default 1 January) and ``to`` (default: all).

    One line per source, and for ``league`` one per league. Administrators and the
    region's finance officers see every line; a league's finance officer sees the
    ``league`` lines of the leagues in their subtree (their own), and no region-wide
    fund. The filters only ever narrow that.
    """
    who.require(Role.ADMIN, Role.FINANCE)
    if source is not None and source not in STATEMENT_SOURCES:
        raise Invalid.at("source", f"one of {', '.join(STATEMENT_SOURCES)}")
    start = from_ or dt.date(year, 1, 1)
    if to is not None and to < start:
        raise Invalid.at("to", f"is before the statement's start {start}")
    P, J = models.Posting, models.JournalEntry
    posting_year = func.coalesce(P.fund_year, extract("year", J.booked_on))
    kind = case((P.account.startswith(_MONEY_IN[0]) | P.account.startswith(_MONEY_IN[1]), "in"),
                (P.account.startswith(_CHARGES), "charge"), else_="other")
    before = J.booked_on < start
    query = (select(P.fund_source, P.league_id, kind.label("kind"), before.label("before"), func.sum(P.amount))
             .join(J, J.id == P.entry_id)
             .where(posting_year == year, kind != "other")
             .group_by(P.fund_source, P.league_id, kind, before))
    if to is not None:
        query = query.where(J.booked_on <= to)
    every = funds.sees_every_fund(session, who)
    sums: dict[tuple[str, str | None], list[int]] = defaultdict(lambda: [0, 0, 0])  # opening, in, charges
    for fund_source, league_id, what, is_before, fen in session.execute(query):
        fund = _statement_source(fund_source)
        line_league = league_id if fund == "league" else None
        if fund == "league" and line_league is None:
            continue  # league money always names its league; nothing to attribute otherwise
        if not every and (fund != "league" or not who.sees_union(line_league)):
            continue
        if (source is not None and fund != source) or (league is not None and line_league != league):
            continue
        moved = -int(fen) if what == "in" else int(fen)  # money in is credited, charges debited
        line = sums[(fund, line_league)]
        if is_before:
            line[0] += moved if what == "in" else -moved
        else:
            line[1 if what == "in" else 2] += moved
    order = {s: i for i, s in enumerate(STATEMENT_SOURCES)}
    return [StatementLine(fund, year, league_id, *sums[(fund, league_id)])
            for fund, league_id in sorted(sums, key=lambda k: (order[k[0]], k[1] or ""))]


# ----------------------------------------------------------------------------- Beancount


def _quoted(text: str) -> str:
    """A Beancount string: backslashes and quotes escaped, on one line."""
    flat = " ".join(text.split())
    return '"' + flat.replace("\\", "\\\\").replace('"', '\\"') + '"'


_DIMENSIONS = ("fund_source", "fund_year", "league_id", "member_id", "claim_id", "line_id")


def beancount_lines(session: Session, *, batch: int = 5000) -> Iterator[str]:
    """The ledger as a Beancount file, line by line (``claims ledger export --format beancount``).

    The operating currency, an ``open`` for every account on the day of its first
    entry, then each journal entry as a transaction on its booking date: the narration
    is the event and what it was about, its metadata the entry's id (and the entry it
    reverses), each posting in yuan with its fund and member columns as metadata.
    Entries and postings are read in batches, so a ledger of millions streams.
    """
    P, J = models.Posting, models.JournalEntry
    yield 'option "title" "Union medical mutual aid and critical-illness relief ledger"'
    yield f'option "operating_currency" "{CURRENCY}"'
    yield ""
    opened = session.execute(select(P.account, func.min(J.booked_on)).join(J, J.id == P.entry_id)
                             .group_by(P.account).order_by(func.min(J.booked_on), P.account))
    for account, first in opened:
        yield f"{first.isoformat()} open {account} {CURRENCY}"
    rows = session.execute(
        select(J.id, J.booked_on, J.event, J.ref, J.memo, J.reverses_id, P.account, P.amount,
               *(getattr(P, d) for d in _DIMENSIONS))
        .join(P, P.entry_id == J.id).order_by(J.id, P.id).execution_options(yield_per=batch))
    current = None
    for row in rows:
        if row.id != current:
            current = row.id
            yield ""
            yield f"{row.booked_on.isoformat()} * {_quoted(f'{row.event} {row.ref}')}"
            yield f"  entry_id: {row.id}"
            if row.reverses_id is not None:
                yield f"  reverses: {row.reverses_id}"
            if row.memo:
                yield f"  memo: {_quoted(row.memo)}"
        yield f"  {row.account}  {format_fen(row.amount)} {CURRENCY}"
        for name in _DIMENSIONS:
            value = getattr(row, name)
            if value is not None:
                yield f"    {name}: {value if isinstance(value, int) else _quoted(str(value))}"


def export_beancount(session: Session, out: TextIO) -> None:
    for line in beancount_lines(session):
        out.write(line)
        out.write("\n")


def this_year() -> int:
    return china_today().year
