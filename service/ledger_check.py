"""The ledger's own rules, for ``claims check`` (``funds.md`` §4).

- every journal entry's postings add up to zero;
- every posting's account is a name under the five roots (``ledger.valid_account``);
- every reversal names an entry that exists and negates it exactly: the same
  accounts and dimensions, each amount the opposite;
- the trial balance totals zero.

The database refuses edits of the ledger's rows, but not inserts: a row written past
the service (a script, a restore gone wrong) is what these find. Each check is one
query or one pass over the postings; problems come back one line each.
"""

from __future__ import annotations

from collections import Counter, defaultdict

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from claims.money import format_fen
from service.ledger import valid_account
from service.ledger_reports import trial_balance
from store import models

_LEG = ("account", "amount", "fund_source", "fund_year", "league_id", "member_id", "claim_id", "line_id")


def check(session: Session) -> list[str]:
    """Problems found in the ledger, one line each; empty when every rule holds."""
    P, J = models.Posting, models.JournalEntry
    problems: list[str] = []
    for entry_id, total in session.execute(
            select(P.entry_id, func.sum(P.amount)).group_by(P.entry_id).having(func.sum(P.amount) != 0)
            .order_by(P.entry_id)):
        problems.append(f"ledger entry {entry_id}: its postings add up to {format_fen(int(total))}, not 0.00")
    for entry_id in session.scalars(
            select(J.id).where(~select(P.id).where(P.entry_id == J.id).exists()).order_by(J.id)):
        problems.append(f"ledger entry {entry_id} has no postings")
    for account, n in session.execute(select(P.account, func.count()).group_by(P.account).order_by(P.account)):
        if not valid_account(account):
            problems.append(f"ledger account {account!r} ({n} posting(s)) is not a name under "
                            "Assets, Liabilities, Equity, Income or Expenses")
    problems += _reversal_problems(session)
    total = trial_balance(session).total
    if total != 0:
        problems.append(f"the trial balance totals {format_fen(total)}, not 0.00")
    return problems


def _reversal_problems(session: Session) -> list[str]:
    P, J = models.Posting, models.JournalEntry
    reversals = dict(session.execute(select(J.id, J.reverses_id).where(J.reverses_id.is_not(None))).all())
    if not reversals:
        return []
    existing = set(session.scalars(select(J.id).where(J.id.in_(set(reversals.values())))))
    legs: dict[int, Counter] = defaultdict(Counter)
    wanted = set(reversals) | existing
    for row in session.execute(select(P.entry_id, *(getattr(P, c) for c in _LEG))
                               .where(P.entry_id.in_(wanted))):
        legs[row.entry_id][tuple(getattr(row, c) for c in _LEG)] += 1
    problems = []
    for entry_id, original in sorted(reversals.items()):
        if original not in existing:
            problems.append(f"ledger entry {entry_id} reverses entry {original}, which does not exist")
            continue
        negated = Counter({(leg[0], -leg[1], *leg[2:]): n for leg, n in legs[original].items()})
        if legs[entry_id] != negated:
            problems.append(f"ledger entry {entry_id} does not negate entry {original} exactly "
                            "(each posting's account, dimensions and opposite amount)")
    return problems
